// SPDX-License-Identifier: Apache-2.0
#include "engine/event_fields.h"

#include <pwd.h>
#include <grp.h>

#include <chrono>
#include <filesystem>
#include <unordered_map>

#include "session/sessions.h"

namespace bulkhead::engine {

namespace {

using rules::FieldId;

bool is_ip_socket(const events::Event& e) {
    return e.kind == "net" && (e.fd_type == "ipv4" || e.fd_type == "ipv6");
}

bool ip(std::string_view s, rules::FieldValue* out) {
    if (s.empty()) return false;
    out->type = rules::FieldType::kIp;
    out->str = s;
    return true;
}

// NSS lookups read /etc/passwd each time; names are cached per thread for
// a minute so a renamed account shows up without a restart.
template <typename Lookup>
const std::string& cached_name(uint32_t id, Lookup lookup) {
    struct Entry {
        std::string name;
        std::chrono::steady_clock::time_point at;
    };
    thread_local std::unordered_map<uint32_t, Entry> cache;
    auto now = std::chrono::steady_clock::now();
    auto it = cache.find(id);
    if (it == cache.end() || now - it->second.at > std::chrono::minutes(1)) {
        if (cache.size() > 4096) cache.clear();
        it = cache.insert_or_assign(id, Entry{lookup(id), now}).first;
    }
    return it->second.name;
}

std::string lookup_user(uint32_t uid) {
    struct passwd pw, *res = nullptr;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res) return std::to_string(uid);
    return pw.pw_name;
}

std::string lookup_group(uint32_t gid) {
    struct group gr, *res = nullptr;
    char buf[1024];
    if (getgrgid_r(gid, &gr, buf, sizeof buf, &res) != 0 || !res) return std::to_string(gid);
    return gr.gr_name;
}

// Deeper than any real process tree; bounds the walk on a malformed /proc.
constexpr int kMaxAncestors = 64;

// What /proc says about a process, cached per thread for a second: events
// come in bursts from the same processes, and Falco's rules ask for the same
// parents and ancestors on each of them. (A pid reused within that second
// shows the old process's fields until the entry expires.) A process that is
// gone is cached as absent too.
struct ProcInfo {
    bool present = false;
    uint32_t ppid = 0, sid = 0;
    int64_t tty = 0;
    std::string comm;
    std::optional<std::string> cmdline, argv0, exepath;  // read on first use
    std::optional<int64_t> loginuid;
    std::chrono::steady_clock::time_point at;
};

constexpr auto kProcTtl = std::chrono::seconds(1);

ProcInfo read_stat(uint32_t pid) {
    // "pid (comm) state ppid pgrp session tty_nr ...": comm may hold spaces
    // and parentheses, so the fields are counted after its last ')'.
    ProcInfo info;
    std::string raw = session::read_proc("/proc/" + std::to_string(pid) + "/stat", 1024);
    size_t open = raw.find('('), close = raw.rfind(')');
    unsigned long ppid = 0, pgrp = 0, sid = 0;
    long tty = 0;
    char state = 0;
    if (open == std::string::npos || close == std::string::npos || close < open ||
        std::sscanf(raw.c_str() + close + 1, " %c %lu %lu %lu %ld", &state, &ppid, &pgrp, &sid, &tty) != 5)
        return info;
    info.present = true;
    info.comm = raw.substr(open + 1, close - open - 1);
    info.ppid = static_cast<uint32_t>(ppid);
    info.sid = static_cast<uint32_t>(sid);
    info.tty = tty;
    return info;
}

ProcInfo& proc_info(uint32_t pid) {
    thread_local std::unordered_map<uint32_t, ProcInfo> cache;
    auto now = std::chrono::steady_clock::now();
    auto it = cache.find(pid);
    if (it != cache.end() && now - it->second.at < kProcTtl) return it->second;
    if (it == cache.end() && cache.size() > 8192) cache.clear();  // callers copy what they keep
    ProcInfo info = read_stat(pid);
    info.at = now;
    return cache.insert_or_assign(pid, std::move(info)).first->second;
}

// argv[0] and Falco's proc.cmdline of a process, once per cache entry.
void read_cmdline(uint32_t pid, ProcInfo& info) {
    auto cmdline = session::cmdline_of(pid, info.comm);
    info.argv0 = cmdline ? cmdline->argv0 : "";
    info.cmdline = cmdline ? cmdline->falco : "";
}

}  // namespace

const std::vector<std::pair<uint32_t, std::string>>& EventFields::ancestors() const {
    if (!ancestors_) {
        ancestors_.emplace();
        uint32_t pid = e_.ppid;
        for (int i = 0; pid > 0 && i < kMaxAncestors; i++) {
            const ProcInfo& info = proc_info(pid);
            if (!info.present) {
                if (i == 0 && !e_.pname.empty()) ancestors_->emplace_back(pid, e_.pname);  // the kernel's word
                break;
            }
            ancestors_->emplace_back(pid, i == 0 && !e_.pname.empty() ? e_.pname : info.comm);
            if (info.ppid == pid) break;
            pid = info.ppid;
        }
    }
    return *ancestors_;
}

EventFields::EventFields(const events::Event& e)
    : e_(e),
      file_(e.kind == "file"),
      net_(e.kind == "net"),
      ip_socket_(is_ip_socket(e)),
      open_(e.evt_type == "open" || e.evt_type == "openat") {}

bool EventFields::str(std::string_view s, rules::FieldValue* out) const {
    out->type = rules::FieldType::kString;
    out->str = s;
    return true;
}

bool EventFields::num(__int128 n, rules::FieldValue* out) const {
    out->type = rules::FieldType::kNumber;
    out->num = n;
    return true;
}

bool EventFields::get(const rules::FieldRef& field, rules::FieldValue* out) const {
    const bool file = file_;
    const bool net = net_;
    switch (field.info->id) {
    case FieldId::kEvtArg: {
        const std::string* v = e_.evt_arg(field.arg);
        return v && str(*v, out);
    }
    case FieldId::kToolInput: {
        if (!e_.tool_input.is_object()) return false;
        auto it = e_.tool_input.find(field.arg);
        if (it == e_.tool_input.end() || it->is_null()) return false;
        if (it->is_string()) return str(it->get_ref<const std::string&>(), out);
        auto cached = tool_input_.find(field.arg);
        if (cached == tool_input_.end())
            cached = tool_input_.emplace(field.arg, it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).first;
        return str(cached->second, out);
    }
    case FieldId::kEvtArgs: {
        if (e_.evt_args.empty()) return false;
        args_.clear();
        for (const auto& [k, v] : e_.evt_args) args_ += (args_.empty() ? "" : " ") + k + "=" + v;
        return str(args_, out);
    }
    case FieldId::kProcIsExeFromMemfd:
        if (e_.kind != "exec") return false;
        out->type = rules::FieldType::kBool;
        out->boolean = e_.exe_from_memfd;
        return true;
    case FieldId::kProcExeIno: return e_.exe_ino && num(e_.exe_ino, out);
    case FieldId::kFdRip:
    case FieldId::kFdSip:
    case FieldId::kFdIp:
    case FieldId::kFdNet:
    case FieldId::kFdSnet: return ip_socket_ && ip(e_.rip, out);  // a connect's peer is the server
    case FieldId::kFdRport:
    case FieldId::kFdSport: return ip_socket_ && num(e_.rport, out);
    case FieldId::kFdLport: return ip_socket_ && e_.lport && num(e_.lport, out);
    case FieldId::kFdL4proto: return ip_socket_ && !e_.l4proto.empty() && str(e_.l4proto, out);
    case FieldId::kEvtType: return !e_.evt_type.empty() && str(e_.evt_type, out);
    case FieldId::kEvtRes:
        res_ = e_.err ? events::errno_name(e_.err) : "SUCCESS";
        return str(res_, out);
    case FieldId::kEvtRawres: return num(-e_.err, out);
    case FieldId::kEvtIsOpenRead:
    case FieldId::kEvtIsOpenWrite: {
        if (!open_) return false;
        out->type = rules::FieldType::kBool;
        const char* want = field.info->id == FieldId::kEvtIsOpenRead ? "read" : "write";
        out->boolean = e_.op.find(want) != std::string::npos;
        return true;
    }
    case FieldId::kEvtHostname: return false;
    case FieldId::kProcName: return str(e_.comm, out);
    case FieldId::kProcExe: return !e_.exe.empty() && e_.exe != "?" && str(e_.exe, out);
    case FieldId::kProcExepath:
        if (events::is_file_exec(e_))
            return !e_.path.empty() && str(e_.path, out);
        return !e_.exe.empty() && e_.exe != "?" && str(e_.exe, out);
    case FieldId::kProcCmdline: return !e_.cmdline.empty() && str(e_.cmdline, out);
    case FieldId::kProcArgs: {
        if (e_.args) return str(*e_.args, out);  // the kernel's argv, at exec
        if (e_.cmdline.empty()) return false;
        size_t space = e_.cmdline.find(' ');
        return str(space == std::string::npos ? std::string_view() : std::string_view(e_.cmdline).substr(space + 1), out);
    }
    case FieldId::kProcPid: return e_.tgid && num(e_.tgid, out);
    case FieldId::kProcPpid: return e_.ppid && num(e_.ppid, out);
    case FieldId::kProcPname: return !e_.pname.empty() && str(e_.pname, out);
    case FieldId::kProcAname:
        if (field.index == 0) return str(e_.comm, out);
        if (field.index == 1 && !e_.pname.empty()) return str(e_.pname, out);
        if (field.index > 0 && static_cast<size_t>(field.index) <= ancestors().size())
            return !ancestors()[field.index - 1].second.empty() && str(ancestors()[field.index - 1].second, out);
        return false;
    case FieldId::kProcApid:
        if (field.index == 0) return num(e_.tgid, out);
        if (field.index == 1) return e_.ppid && num(e_.ppid, out);
        if (field.index > 0 && static_cast<size_t>(field.index) <= ancestors().size())
            return num(ancestors()[field.index - 1].first, out);
        return false;
    case FieldId::kProcPexe:
    case FieldId::kProcPcmdline: {
        if (!e_.ppid) return false;
        if (!parent_read_) {
            ProcInfo& info = proc_info(e_.ppid);
            if (info.present && !info.cmdline) read_cmdline(e_.ppid, info);
            if (info.present) pcmdline_ = *info.cmdline, pexe_ = *info.argv0;
            parent_read_ = true;
        }
        return field.info->id == FieldId::kProcPexe ? !pexe_.empty() && str(pexe_, out)
                                                     : !pcmdline_.empty() && str(pcmdline_, out);
    }
    case FieldId::kProcPexepath: {
        if (!e_.ppid) return false;
        ProcInfo& info = proc_info(e_.ppid);
        if (!info.present) return false;
        if (!info.exepath) {
            std::error_code ec;
            info.exepath = std::filesystem::read_symlink("/proc/" + std::to_string(e_.ppid) + "/exe", ec).string();
        }
        pexepath_ = *info.exepath;
        return !pexepath_.empty() && str(pexepath_, out);
    }
    case FieldId::kProcTty:
    case FieldId::kProcSname: {
        if (!e_.tgid) return false;
        const ProcInfo& info = proc_info(e_.tgid);
        if (!info.present) return false;
        if (field.info->id == FieldId::kProcTty) return num(info.tty, out);
        if (!info.sid) return false;
        uint32_t sid = info.sid;
        sname_ = sid == e_.tgid ? info.comm : proc_info(sid).comm;
        return !sname_.empty() && str(sname_, out);
    }
    case FieldId::kUserLoginuid: {
        if (!e_.tgid) return false;
        ProcInfo& info = proc_info(e_.tgid);
        if (!info.present) return false;
        if (!info.loginuid) {
            std::string raw = session::read_proc("/proc/" + std::to_string(e_.tgid) + "/loginuid", 32);
            long long v = raw.empty() ? -1 : std::atoll(raw.c_str());
            info.loginuid = v == 4294967295LL ? -1 : v;  // (uid_t)-1: never logged in, as Falco prints it
        }
        return num(*info.loginuid, out);
    }
    case FieldId::kAgentPid: return e_.session && e_.agent_pid && num(e_.agent_pid, out);
    case FieldId::kAgentRisk: return e_.session && num(e_.session_risk, out);
    case FieldId::kProcCwd: return !e_.cwd.empty() && str(e_.cwd, out);
    case FieldId::kFdName:
    case FieldId::kFdNameraw:  // a file, a socket, or the module file of finit_module
        return (file || net || (e_.kind == "syscall" && !e_.path.empty())) && str(e_.path, out);
    case FieldId::kFdDirectory:
    case FieldId::kFdFilename: {
        if (!file) return false;
        size_t slash = e_.path.rfind('/');
        if (slash == std::string::npos) return false;
        if (field.info->id == FieldId::kFdFilename) return str(std::string_view(e_.path).substr(slash + 1), out);
        return str(slash == 0 ? std::string_view("/") : std::string_view(e_.path).substr(0, slash), out);
    }
    case FieldId::kFdTypechar:
        if (net) return str(e_.fd_type == "ipv4" ? "4" : e_.fd_type == "ipv6" ? "6" : "u", out);
        return file && str(e_.fd_type == "unix" ? "u" : "f", out);  // unix: a connect the file guard judged
    case FieldId::kFdType:
        if (net) return str(e_.fd_type, out);
        return file && str(e_.fd_type == "unix" ? "unix" : "file", out);
    case FieldId::kFdNum:
        if (net || (file && e_.fd >= 0)) return num(e_.fd, out);  // file: a tool call's open, judged before it runs
        return file && e_.err && num(-1, out);  // a denied open has no descriptor
    case FieldId::kFdIno: return file && num(e_.ino, out);
    case FieldId::kFdDev: return file && num(e_.dev, out);
    case FieldId::kUserUid: return num(e_.uid, out);
    case FieldId::kUserName: return str(cached_name(e_.uid, lookup_user), out);
    case FieldId::kGroupGid: return num(e_.gid, out);
    case FieldId::kGroupName: return str(cached_name(e_.gid, lookup_group), out);
    case FieldId::kContainerId:  // views, never a temporary std::string: out keeps a string_view
        return str(e_.container_id.empty() ? std::string_view("host") : std::string_view(e_.container_id), out);
    case FieldId::kK8sPodName: return !e_.k8s_pod_name.empty() && str(e_.k8s_pod_name, out);
    case FieldId::kK8sNsName: return !e_.k8s_ns_name.empty() && str(e_.k8s_ns_name, out);
    case FieldId::kAgentSession: return e_.session && num(e_.session, out);
    case FieldId::kAgentName: return e_.session && !e_.agent.empty() && str(e_.agent, out);
    case FieldId::kAgentWorkspace: return !e_.workspace.empty() && str(e_.workspace, out);
    case FieldId::kAgentToolUseId: return !e_.tool_use_id.empty() && str(e_.tool_use_id, out);
    case FieldId::kAgentToolName: return !e_.tool_name.empty() && str(e_.tool_name, out);
    case FieldId::kAgentVerdict: return !e_.verdict.empty() && str(e_.verdict, out);
    case FieldId::kAgentLevel: return !e_.level.empty() && str(e_.level, out);
    case FieldId::kFdSipName: return ip_socket_ && !e_.sip_name.empty() && str(e_.sip_name, out);
    case FieldId::kFdInOtherWorkspace:
        if (!file || !e_.session)
            return false;
        out->type = rules::FieldType::kBool;
        out->boolean = e_.in_other_workspace;
        return true;
    case FieldId::kAgentTainted:
        if (!e_.session)
            return false;
        out->type = rules::FieldType::kBool;
        out->boolean = !e_.taint.empty();
        return true;
    default: return false;  // fields this kind of event does not carry
    }
}

}  // namespace bulkhead::engine
