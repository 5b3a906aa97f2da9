// SPDX-License-Identifier: Apache-2.0
// The daemon's table of agent sessions and the cgroup v2 leaves that hold
// sessions started with `bulkhead run`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bulkhead::session {

struct Session {
    uint64_t id = 0;
    std::string agent;
    uint32_t agent_kind = 0;
    uint32_t uid = 0;
    std::string workspace;
    int64_t start_unix_ns = 0;
    std::string cgroup;        // path of the leaf, "" for discovered sessions
    uint64_t cgroup_id = 0;
    uint32_t leader_pid = 0;
    std::string state = "active";  // active, frozen, promoting, promoted, killed, ended
    std::string origin;        // "run" or "discovered"
    std::string level;         // enforcement level of the session ("" = the daemon's)
    std::string taint;         // what tainted it ("" = not tainted)
    uint64_t denied = 0;
    uint64_t audited = 0;
    int64_t risk = 0;          // sum of the `risk` of the rules that fired
    size_t thresholds_crossed = 0;  // config risk_thresholds already acted on
    std::string vm;            // the microVM the session was promoted into ("" = none)
    // Its host processes were killed at promotion and its launcher starts
    // the command again in the VM (vm.without_hooks: relaunch).
    bool relaunch = false;
    int64_t vm_deadline_unix_ns = 0;  // the VM's wall time runs out (0 = never)
};

nlohmann::json to_json(const Session& s);

// Finds the cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
// hybrid hosts). Returns "" when there is none.
std::string cgroup2_root();

// The cgroup v2 path of a process, relative to the cgroup2 root ("/a/b").
std::optional<std::string> cgroup_of(uint32_t pid);

// A /proc file's bytes, at most `limit`; "" when the process is gone.
// Plain read(2): libstdc++'s istreambuf_iterator throws when a process exits
// mid-read (ESRCH), which once ended the daemon.
std::string read_proc(const std::string& path, size_t limit);

// A process's comm, without the newline; "" when it is gone.
std::string comm_of(uint32_t pid);

// A process's argv[0], and Falco's proc.cmdline of it: `comm`, then
// argv[1..] joined by spaces, escaped (events::escape_path). Reads at most
// 4096 bytes, Falco's bound on proc.args; nullopt when the process is gone.
struct Cmdline {
    std::string argv0;
    std::string falco;
};
std::optional<Cmdline> cmdline_of(uint32_t pid, const std::string& comm);

// The container id (the first 12 of its 64 hex digits) from a process's
// cgroup path, "" outside a container; nullopt when the process is gone.
std::optional<std::string> container_id_of(uint32_t pid);

// The live sessions' workspaces, path → the sessions working there. Only
// project directories count: "/", the homes, /tmp and /var/tmp hold
// everything, so a session started there claims nothing, and neither does a
// session whose leader process is gone.
using Workspaces = std::map<std::string, std::vector<uint64_t>, std::less<>>;

// Whether `path` lies in another session's workspace: the nearest workspace
// enclosing it is not one `session` works in (fd.in_other_workspace).
bool in_other_workspace(const Workspaces& w, const std::string& path, uint64_t session);

class Table {
public:
    // Allocates ids unique across daemon restarts: start time << 20 | counter.
    uint64_t next_id();
    uint32_t agent_kind(const std::string& name);  // assigns ids to new names
    std::optional<std::string> agent_name(uint32_t kind) const;
    const std::map<std::string, uint32_t>& agent_kinds() const { return kinds_; }

    Session& add(Session s);
    Session* find(uint64_t id);
    Session* find_by_cgroup(uint64_t cgroup_id);
    const std::map<uint64_t, Session>& all() const { return sessions_; }
    Workspaces workspaces(const std::vector<std::string>& homes) const;

private:
    std::map<uint64_t, Session> sessions_;
    std::map<std::string, uint32_t> kinds_;
    uint64_t counter_ = 0;
    uint64_t epoch_ = 0;
};

}  // namespace bulkhead::session
