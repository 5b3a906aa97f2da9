// SPDX-License-Identifier: Apache-2.0
#include "rules/fields.h"

#include <array>
#include <charconv>
#include <unordered_map>

namespace bulkhead::rules {

namespace {

using T = FieldType;
using A = FieldArg;
using F = FieldId;

// In FieldId order (checked at startup by field_index()).
constexpr std::array kFields = {
    FieldInfo{"evt.type", F::kEvtType, T::kString, A::kNone, "syscall or operation name (open, execve, connect, ...)"},
    FieldInfo{"evt.res", F::kEvtRes, T::kString, A::kNone, "SUCCESS or the errno name (EPERM, ...)"},
    FieldInfo{"evt.rawres", F::kEvtRawres, T::kNumber, A::kNone, "return value: 0 or -errno"},
    FieldInfo{"evt.num", F::kEvtNum, T::kNumber, A::kNone, "event sequence number"},
    FieldInfo{"evt.is_open_read", F::kEvtIsOpenRead, T::kBool, A::kNone, "an open for reading"},
    FieldInfo{"evt.is_open_write", F::kEvtIsOpenWrite, T::kBool, A::kNone, "an open for writing"},
    FieldInfo{"evt.arg", F::kEvtArg, T::kString, A::kName, "a syscall argument by name (evt.arg.flags)"},
    FieldInfo{"evt.args", F::kEvtArgs, T::kString, A::kNone, "all arguments as text"},
    FieldInfo{"evt.dir", F::kEvtDir, T::kString, A::kNone, "always '<' (Falco 0.42+ has exit events only)"},
    FieldInfo{"evt.hostname", F::kEvtHostname, T::kString, A::kNone, "the host's name"},
    FieldInfo{"proc.name", F::kProcName, T::kString, A::kNone, "process name (comm)"},
    FieldInfo{"proc.exe", F::kProcExe, T::kString, A::kNone, "argv[0] as executed"},
    FieldInfo{"proc.exepath", F::kProcExepath, T::kString, A::kNone, "full path of the executable"},
    FieldInfo{"proc.cmdline", F::kProcCmdline, T::kString, A::kNone, "name and arguments"},
    FieldInfo{"proc.args", F::kProcArgs, T::kString, A::kNone, "arguments, space separated"},
    FieldInfo{"proc.pid", F::kProcPid, T::kNumber, A::kNone, "process id"},
    FieldInfo{"proc.ppid", F::kProcPpid, T::kNumber, A::kNone, "parent's process id"},
    FieldInfo{"proc.pname", F::kProcPname, T::kString, A::kNone, "parent's name"},
    FieldInfo{"proc.pexe", F::kProcPexe, T::kString, A::kNone, "parent's argv[0]"},
    FieldInfo{"proc.pexepath", F::kProcPexepath, T::kString, A::kNone, "parent's executable path"},
    FieldInfo{"proc.pcmdline", F::kProcPcmdline, T::kString, A::kNone, "parent's command line"},
    FieldInfo{"proc.aname", F::kProcAname, T::kString, A::kIndex, "ancestor's name; [0] is the process, no index: any"},
    FieldInfo{"proc.apid", F::kProcApid, T::kNumber, A::kIndex, "ancestor's pid"},
    FieldInfo{"proc.aexepath", F::kProcAexepath, T::kString, A::kIndex, "ancestor's executable path"},
    FieldInfo{"proc.cwd", F::kProcCwd, T::kString, A::kNone, "working directory"},
    FieldInfo{"proc.tty", F::kProcTty, T::kNumber, A::kNone, "controlling terminal, 0 if none"},
    FieldInfo{"proc.sname", F::kProcSname, T::kString, A::kNone, "session leader's name"},
    FieldInfo{"proc.is_exe_from_memfd", F::kProcIsExeFromMemfd, T::kBool, A::kNone, "executable is a memfd"},
    FieldInfo{"proc.exe_ino", F::kProcExeIno, T::kNumber, A::kNone, "inode of the executable"},
    FieldInfo{"fd.name", F::kFdName, T::kString, A::kNone, "file path or connection tuple"},
    FieldInfo{"fd.directory", F::kFdDirectory, T::kString, A::kNone, "directory of fd.name"},
    FieldInfo{"fd.filename", F::kFdFilename, T::kString, A::kNone, "last component of fd.name"},
    FieldInfo{"fd.nameraw", F::kFdNameraw, T::kString, A::kNone, "fd.name as the caller wrote it"},
    FieldInfo{"fd.typechar", F::kFdTypechar, T::kString, A::kNone, "f file, 4 ipv4, 6 ipv6, u unix, ..."},
    FieldInfo{"fd.type", F::kFdType, T::kString, A::kNone, "file, directory, ipv4, ipv6, unix, ..."},
    FieldInfo{"fd.num", F::kFdNum, T::kNumber, A::kNone, "descriptor number"},
    FieldInfo{"fd.sip", F::kFdSip, T::kIp, A::kNone, "server address"},
    FieldInfo{"fd.rip", F::kFdRip, T::kIp, A::kNone, "remote address"},
    FieldInfo{"fd.ip", F::kFdIp, T::kIp, A::kNone, "either address"},
    FieldInfo{"fd.net", F::kFdNet, T::kIp, A::kNone, "either address, matched against a network"},
    FieldInfo{"fd.snet", F::kFdSnet, T::kIp, A::kNone, "server address, matched against a network"},
    FieldInfo{"fd.lport", F::kFdLport, T::kNumber, A::kNone, "local port"},
    FieldInfo{"fd.rport", F::kFdRport, T::kNumber, A::kNone, "remote port"},
    FieldInfo{"fd.sport", F::kFdSport, T::kNumber, A::kNone, "server port"},
    FieldInfo{"fd.l4proto", F::kFdL4proto, T::kString, A::kNone, "tcp, udp, icmp, raw"},
    FieldInfo{"fd.ino", F::kFdIno, T::kNumber, A::kNone, "inode of the object"},
    FieldInfo{"fd.dev", F::kFdDev, T::kNumber, A::kNone, "device of the object"},
    FieldInfo{"fd.sip.name", F::kFdSipName, T::kString, A::kNone, "host name the daemon resolved to the server address"},
    FieldInfo{"fd.in_other_workspace", F::kFdInOtherWorkspace, T::kBool, A::kNone,
              "the file lies in the workspace of another live agent session (the nearest enclosing one)"},
    FieldInfo{"user.name", F::kUserName, T::kString, A::kNone, "user name"},
    FieldInfo{"user.uid", F::kUserUid, T::kNumber, A::kNone, "user id"},
    FieldInfo{"user.loginuid", F::kUserLoginuid, T::kNumber, A::kNone, "audit login uid, -1 if unset"},
    FieldInfo{"user.loginname", F::kUserLoginname, T::kString, A::kNone, "name of the login uid"},
    FieldInfo{"group.gid", F::kGroupGid, T::kNumber, A::kNone, "group id"},
    FieldInfo{"group.name", F::kGroupName, T::kString, A::kNone, "group name"},
    FieldInfo{"container.id", F::kContainerId, T::kString, A::kNone, "container id, 'host' outside containers"},
    FieldInfo{"container.image.repository", F::kContainerImageRepository, T::kString, A::kNone, "container image, absent on the host"},
    FieldInfo{"container.privileged", F::kContainerPrivileged, T::kBool, A::kNone, "container runs privileged"},
    FieldInfo{"k8s.ns.name", F::kK8sNsName, T::kString, A::kNone, "pod namespace"},
    FieldInfo{"k8s.pod.name", F::kK8sPodName, T::kString, A::kNone, "pod name"},
    FieldInfo{"agent.session", F::kAgentSession, T::kNumber, A::kNone, "agent session id; absent outside sessions"},
    FieldInfo{"agent.name", F::kAgentName, T::kString, A::kNone, "agent kind (claude-code, codex, ...)"},
    FieldInfo{"agent.pid", F::kAgentPid, T::kNumber, A::kNone, "pid of the session's root process"},
    FieldInfo{"agent.workspace", F::kAgentWorkspace, T::kString, A::kNone, "the session's workspace"},
    FieldInfo{"agent.risk", F::kAgentRisk, T::kNumber, A::kNone, "the session's risk score"},
    FieldInfo{"agent.tool_use_id", F::kAgentToolUseId, T::kString, A::kNone, "tool call that caused the event"},
    FieldInfo{"agent.tool_name", F::kAgentToolName, T::kString, A::kNone, "tool of that call (Bash, Write, ...)"},
    FieldInfo{"agent.verdict", F::kAgentVerdict, T::kString, A::kNone, "the kernel's verdict: deny, audit, allow"},
    FieldInfo{"agent.level", F::kAgentLevel, T::kString, A::kNone, "enforcement level in force"},
    FieldInfo{"agent.tainted", F::kAgentTainted, T::kBool, A::kNone, "the session read a secret (a rule with taint fired)"},
    FieldInfo{"tool.input", F::kToolInput, T::kString, A::kName, "a tool call's input by key (tool.input.command), source tool_call"},
};
static_assert(kFields.size() == static_cast<size_t>(FieldId::kCount));

constexpr bool fields_in_id_order() {
    for (size_t i = 0; i < kFields.size(); ++i)
        if (static_cast<size_t>(kFields[i].id) != i) return false;
    return true;
}
static_assert(fields_in_id_order(), "kFields must be in FieldId order");

const std::unordered_map<std::string_view, const FieldInfo*>& field_index() {
    static const auto* index = [] {
        auto* m = new std::unordered_map<std::string_view, const FieldInfo*>();
        for (const auto& f : kFields) m->emplace(f.name, &f);
        return m;
    }();
    return *index;
}

// Falco syscall fields bulkhead does not provide (libsinsp's field tables):
// a rule naming one is unsupported, with this name in the reason. Any other
// unknown name is an error, so a typo never silently disables a rule.
constexpr std::array<std::string_view, 61> kFalcoOnlyFields = {
    "evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.rawtime", "evt.latency", "evt.cpu",
    "evt.category", "evt.buffer", "evt.buflen", "evt.info", "evt.is_io", "evt.is_io_read",
    "evt.is_io_write", "evt.is_syslog", "evt.failed", "evt.count", "evt.source", "evt.abspath",
    "evt.rawarg", "evt.is_wait", "proc.duration", "proc.ppid.duration", "proc.vpid", "proc.pvpid",
    "proc.vpgid", "proc.vpgid.name", "proc.vpgid.exe", "proc.is_vpgid_leader", "proc.is_exe_upper_layer",
    "proc.is_exe_writable", "proc.exe_ino.mtime", "proc.exe_ino.ctime",
    "proc.exe_ino.ctime_duration_proc_start", "proc.env", "proc.loginshellid", "proc.is_container_healthcheck",
    "proc.stdin.name", "proc.stdout.name", "thread.tid", "thread.vtid", "thread.cap_effective",
    "thread.cap_permitted", "thread.cap_inheritable", "fd.types", "fd.rip.name",
    "fd.cip", "fd.cport", "fd.lip", "fd.name_changed", "fd.connected", "fd.is_server", "fd.cnet",
    "fd.rnet", "fd.lnet", "user.homedir", "user.shell", "fs.path.name", "fs.path.source",
    "fs.path.target", "syscall.type",
};

// Metadata classes filled by Falco's plugins (container, k8s): every name
// under them is a real Falco field bulkhead may not carry.
constexpr std::array<std::string_view, 2> kPluginClasses = {"container.", "k8s."};

}  // namespace

const FieldInfo* find_field(std::string_view name) {
    auto it = field_index().find(name);
    return it == field_index().end() ? nullptr : it->second;
}

const FieldInfo* all_fields(size_t* count) {
    *count = kFields.size();
    return kFields.data();
}

std::string unsupported_field_reason(std::string_view name) {
    bool known = false;
    for (auto field : kFalcoOnlyFields) known = known || name == field;
    for (auto cls : kPluginClasses) known = known || name.substr(0, cls.size()) == cls;
    if (!known) return "";
    return "field '" + std::string(name) + "' is a Falco field bulkhead's events do not carry";
}

bool resolve_field(std::string_view name, std::string_view arg, bool has_arg, FieldRef* out,
                   std::string* error) {
    // `evt.arg.flags` is the dotted spelling of `evt.arg[flags]`, and
    // `tool.input.command` of `tool.input[command]`.
    for (std::string_view prefix : {std::string_view("evt.arg."), std::string_view("tool.input.")}) {
        if (!has_arg && name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix) {
            arg = name.substr(prefix.size());
            name = name.substr(0, prefix.size() - 1);
            has_arg = true;
        }
    }
    const FieldInfo* info = find_field(name);
    if (!info) {
        *error = "unknown field '" + std::string(name) + "'";
        return false;
    }
    out->info = info;
    out->arg.clear();
    out->index = -1;
    switch (info->arg) {
    case FieldArg::kNone:
        if (has_arg) {
            *error = "field '" + std::string(name) + "' takes no argument";
            return false;
        }
        return true;
    case FieldArg::kName:
        if (!has_arg || arg.empty()) {
            *error = "field '" + std::string(name) + "' needs an argument name (evt.arg.flags)";
            return false;
        }
        out->arg = std::string(arg);
        return true;
    case FieldArg::kIndex:
        if (!has_arg) return true;
        int index = 0;
        auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), index);
        if (ec != std::errc() || end != arg.data() + arg.size() || index < 0 || index > 64) {
            *error = "field '" + std::string(name) + "' takes an index from 0 to 64, not '" + std::string(arg) + "'";
            return false;
        }
        out->arg = std::string(arg);
        out->index = index;
        return true;
    }
    return true;
}

std::string_view to_string(FieldType type) {
    switch (type) {
    case FieldType::kString: return "string";
    case FieldType::kNumber: return "number";
    case FieldType::kBool: return "bool";
    case FieldType::kIp: return "ip";
    }
    return "?";
}

}  // namespace bulkhead::rules
