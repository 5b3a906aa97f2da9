// SPDX-License-Identifier: Apache-2.0
// Events as userspace sees them: decoded from the ring buffer, enriched with
// what the kernel does not carry (rule names, executable paths, containers),
// and rendered as Falco-shaped JSON or one line of text.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace bulkhead::events {

struct Event {
    std::string kind;        // "file", "session", "self-guard", "drops",
                             // observer: "exec", "net", "syscall";
                             // "ask": an operation held for a human, or its answer;
                             // "tool": an agent's tool call, judged by its hook;
                             // "risk": a session's risk crossed a threshold
    uint64_t ts_boot_ns = 0; // kernel boot-time clock
    int64_t time_unix_ns = 0;
    uint64_t session = 0;
    std::string agent;
    uint32_t agent_kind = 0; // the kernel's number for `agent`
    uint64_t cgroup_id = 0;
    uint32_t pid = 0, tgid = 0, ppid = 0, uid = 0, gid = 0;
    std::string comm;
    std::string exe;
    std::string cmdline;     // proc.cmdline: name and arguments (from /proc, best effort)
    std::string pname;       // parent's comm
    std::string cwd;
    std::string container_id;
    std::string k8s_pod_name;  // from the node's CRI runtime, when it answers
    std::string k8s_ns_name;

    uint32_t rule_id = 0;    // kernel rule id, resolved to `rule` by the daemon
    std::string rule;        // rule name ("" when none)
    std::string priority = "Notice";
    std::vector<std::string> tags;
    std::string verdict;     // "deny", "audit", "allow"
    std::string op;          // "read", "write", "create", ...
    std::string evt_type;    // Falco's evt.type for the op ("open", "rename", ...)
    int err = 0;             // positive errno returned to the caller, 0 if allowed
    std::string path;        // escaped for humans, see escape_path
    bool path_truncated = false;
    bool path_fs_relative = false;
    bool depth_exceeded = false;
    uint64_t dev = 0, ino = 0;
    uint64_t count = 0;      // drops: how many were lost
    std::string level;       // enforcement level in force
    std::string detail;      // extra words for humans

    // Filled by the userspace rule engine when a rule fires on the event.
    std::string output;      // the rule's output, %fields substituted ("" = default line)
    nlohmann::json output_fields = nlohmann::json::object();  // typed, by Falco field name
    int risk = 0;            // risk the rule added to the session
    int64_t session_risk = 0;  // the session's risk after this event
    uint32_t agent_pid = 0;    // the session's root process (agent.pid)
    std::string action;      // the rule's action: audit, block, ask, kill, promote
    // Session context (daemon's session table, agent hooks).
    std::string workspace;
    bool in_other_workspace = false;  // a file event's object lies in another live session's workspace
    std::string tool_use_id;
    std::string tool_name;
    nlohmann::json tool_input;  // a tool call's input as the agent sent it (kind "tool")

    // The task's executable (file and exec events; session events use dev/ino).
    uint64_t exe_dev = 0, exe_ino = 0;
    // Observer events: what a session's task did, seen by tracepoints.
    std::optional<std::string> args;  // proc.args from the argv the kernel saw at exec
                                      // (escaped, NULs as spaces); nullopt: not known
    bool args_truncated = false;      // argv was longer than the kernel copies
    bool exe_from_memfd = false;      // proc.is_exe_from_memfd (exec events)
    std::string fd_type;              // fd.type of a socket: "ipv4", "ipv6", "unix"
    std::string l4proto;              // fd.l4proto: "tcp", "udp", "icmp", "raw", "" unknown
    std::string lip, rip;             // local and remote address ("" unknown)
    uint16_t lport = 0, rport = 0;
    int64_t fd = -1;                  // fd.num of the socket (net events)
    std::string sip_name;             // fd.sip.name: the host name the daemon resolved
    // Taint: on a net guard event of a tainted session (and on the taint
    // event itself), the read that tainted it. taint_rule_id is a file rule.
    uint32_t taint_rule_id = 0;
    uint64_t taint_dev = 0, taint_ino = 0;
    std::string taint;                // "rule 'X' read PATH", filled by the daemon
    // Ask: the held request's id ("a7") and, once answered, who answered.
    std::string ask_id;
    std::string decided_by;
    // evt.arg.NAME of the syscall, named as Falco names them ("request",
    // "pid", "name", "flags", ...), values as Falco prints them.
    std::vector<std::pair<std::string, std::string>> evt_args;
    // The evt.arg value named `name`, or nullptr.
    const std::string* evt_arg(std::string_view name) const;
};

// Decodes one ring-buffer record. Returns nullopt (and fills *why) when the
// record is malformed: short, unknown kind, or offsets out of range.
std::optional<Event> decode(const void* data, size_t size, std::string* why);

// Operation bits as the words events use ("read|write").
// A file-guard event about an exec: its path is the program the process
// tried to run, which proc.exepath names (proc.exe stays the process that
// tried).
inline bool is_file_exec(const Event& e) {
    return e.kind == "file" && e.evt_type == "execve";
}

std::string op_name(uint32_t ops);
// Falco's evt.type for an operation.
std::string evt_type_for(uint32_t op);

// Every evt.type the daemon's events carry (the guards', the observer's, the
// ask broker's and the hooks'): a userspace rule on no other type can fire.
const std::set<std::string>& produced_evt_types();

// Paths are bytes: invalid UTF-8, control characters and '\\' are escaped
// as \xNN so nothing is lost and nothing corrupts a terminal or a parser.
std::string escape_path(std::string_view raw);

std::string errno_name(int err);

// Falco's fd.name for a socket tuple: "lip:lport->rip:rport".
std::string socket_tuple(const Event& e);
// Falco's name for a ptrace request ("PTRACE_ATTACH"), or the number.
std::string ptrace_request_name(uint64_t request);

nlohmann::json to_json(const Event& e, const std::string& hostname);
std::string to_text(const Event& e);
std::string output_line(const Event& e);

// Boot-time ns → wall-clock ns, from the offset between the two clocks now.
int64_t boot_to_unix_ns(uint64_t boot_ns);
std::string rfc3339_ns(int64_t unix_ns);

}  // namespace bulkhead::events
