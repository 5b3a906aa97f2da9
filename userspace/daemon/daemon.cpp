// SPDX-License-Identifier: Apache-2.0
#include "daemon/daemon.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "ask/broker.h"
#include "k8s/pods.h"
#include "net/background.h"
#include "net/host_name.h"
#include "guards/net_guard.h"
#include "bpf_abi.h"
#include "control/protocol.h"
#include "engine/event_fields.h"
#include "exporters/audit/audit_factory.h"
#include "exporters/audit/audit_log.h"
#include "exporters/grpc/grpc_factory.h"
#include "exporters/grpc/grpc_server.h"
#include "factory.h"
#include "hub.h"
#include "metrics/registry.h"
#include "metrics/server.h"
#include "doctor/doctor.h"
#include "error.h"
#include "events/event.h"
#include "guards/file_guard.h"
#include "guards/loader.h"
#include "guards/map_keys.h"
#include "policy.h"
#include "session/sessions.h"
#include "session/tool_calls.h"
#include "hooks/tools.h"
#include "vm/vm_host.h"
#include "daemon/service_notify.h"
#include "vmguard/apply.h"

namespace bulkhead::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kRecentEvents = 10000;
// A subscriber that stops reading is cut off past this much queued output,
// so one slow client can never stall the daemon or the other clients.
constexpr size_t kMaxClientBacklog = 8u << 20;

struct Client {
    Fd fd;
    control::Peer peer;
    std::string in;
    std::string out;
    bool subscribed = false;
    std::optional<uint64_t> session_filter;
    bool hook = false;  // came in on the hook socket: tool-call reports only
    uint64_t serial = 0;  // tells a reused fd from the connection a deferred reply is for
};

// The session table as gRPC threads read it: a locked copy the daemon's
// loop refreshes, so the table itself stays single-threaded.
class SessionSnapshot final : public exporters::rpc::SessionSource {
public:
    // `level`: the daemon's, for sessions that have none of their own.
    void update(const session::Table& table, const std::map<uint64_t, uint32_t>& pending_asks,
                const std::string& level) {
        std::map<uint64_t, exporters::rpc::SessionInfo> next;
        for (const auto& [id, s] : table.all()) {
            exporters::rpc::SessionInfo i;
            i.id = s.id;
            i.agent = s.agent;
            i.uid = s.uid;
            i.workspace = s.workspace;
            i.start_unix_ns = s.start_unix_ns;
            i.state = s.state;
            i.leader_pid = s.leader_pid;
            i.cgroup_id = s.cgroup_id;
            i.cgroup = s.cgroup;
            i.risk = static_cast<int>(s.risk);
            i.origin = s.origin;
            i.denied = s.denied;
            i.audited = s.audited;
            i.level = s.level.empty() ? level : s.level;
            i.taint = s.taint;
            i.vm = s.vm;
            if (auto p = pending_asks.find(id); p != pending_asks.end())
                i.pending_asks = p->second;
            next.emplace(id, std::move(i));
        }
        std::lock_guard lock(mu_);
        sessions_ = std::move(next);
    }
    std::vector<exporters::rpc::SessionInfo> list() override {
        std::lock_guard lock(mu_);
        std::vector<exporters::rpc::SessionInfo> out;
        for (const auto& [id, s] : sessions_)
            out.push_back(s);
        return out;
    }
    std::optional<exporters::rpc::SessionInfo> get(uint64_t id) override {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(id);
        if (it == sessions_.end())
            return std::nullopt;
        return it->second;
    }

private:
    std::mutex mu_;
    std::map<uint64_t, exporters::rpc::SessionInfo> sessions_;
};

class Daemon {
public:
    explicit Daemon(const Options& o) : opts_(o) {}
    int run();

private:
    void load_guards();
    void setup_agents();
    void restore_sessions();
    void save_sessions(bool replanned = false);
    bool refresh_workspaces();
    guards::PlanInputs plan_inputs();
    bool reload(std::string* error);
    void rescan();            // workspaces, agents, then replan_if_moved()
    void replan_if_moved();   // a new file plan when the fingerprint moved
    void report_drops();
    void start_exporters();
    void export_stats();

    static int on_ring_event(void* ctx, void* data, size_t size);
    void handle_event(const void* data, size_t size);
    // Enriches, emits and returns the event as the sinks saw it.
    events::Event publish(events::Event e);
    void apply_rule(events::Event& e, const std::string& name);
    void taint_session(const events::Event& alert, const std::string& rule);
    void evaluate(const events::Event& e);
    void act(const events::Event& alert);

    void accept_clients(int listen_fd, bool hook);
    void on_client(int fd, uint32_t events);
    void handle_request(Client& c, const std::string& line);
    void send(Client& c, const json& msg);
    void flush(Client& c);
    void drop_client(int fd);
    bool peer_in_session(const control::Peer& p);
    bool is_launcher_of(const control::Peer& p, const json& req);

    json status();
    json start_session(const Client& c, const json& req);
    json end_session(const json& req);
    json session_show(const json& req);
    json thaw(const Client& c, const json& req);

    // microVMs (userspace/vm/, vmguard/): promotion and review of what a
    // promoted session changed.
    void start_vms();
    std::string promote(session::Session& s, const std::string& why);
    void on_vm();
    void confine_qemu(const session::Session& s, pid_t qemu, std::string* detail);
    void expire_vms();
    bool vm_expired(const session::Session& s) const;
    void vm_request(Client& c, const std::string& op, const json& req);
    std::optional<json> routed_to_vm(const session::Session& s, hooks::ToolKind kind, const json& input,
                                     std::string* reason);

    // Agents' hooks (userspace/hooks/): tool calls judged before they run,
    // kernel events tagged with the call that caused them.
    json tool_call(const Client& c, const json& req);
    std::vector<std::pair<const rules::Rule*, std::string>> judge_tool_call(const events::Event& call,
                                                                           hooks::ToolKind kind);
    // Risk thresholds (config risk_thresholds): act once per crossing.
    void check_risk(session::Session& s, const events::Event& cause);
    std::string freeze(session::Session& s, bool frozen);
    std::string kill_session(session::Session* s, uint32_t tgid);

    // ask (userspace/ask/): fanotify holds the opens and execs of the files
    // `ask` rules name until a human answers over the control socket.
    void start_asks();
    void start_pods();
    void watch_asks(const guards::FilePlan& plan);
    void arm_ask_timer();
    std::optional<ask::SessionInfo> session_of_pid(pid_t pid);
    events::Event ask_event(const ask::PendingAsk& a);
    void on_ask_pending(const ask::PendingAsk& a);
    void on_ask_decided(const ask::PendingAsk& a, const ask::Outcome& o);
    json pending_json();
    json decide(const Client& c, const json& req);

    Options opts_;
    std::unique_ptr<guards::Loader> loader_;
    std::optional<LoadedPolicy> policy_;
    session::Table sessions_;
    session::Workspaces workspaces_;  // the live sessions', as the file guard knows them
    std::string cgroup_root_;
    ring_buffer* ring_ = nullptr;
    Fd epoll_, listen_, hook_listen_, signal_fd_, timer_;
    session::ToolCalls tool_calls_;
    std::map<int, Client> clients_;
    std::deque<json> recent_;
    std::ofstream events_log_;
    std::string hostname_;
    // bpf-lsm when the LSM guards loaded; else observe (tracepoints, the net
    // guard); sessions from `bulkhead run` carry their own level.
    std::string level_ = "bpf-lsm";
    std::set<std::string> agent_exes_;  // "path=ino" already announced
    uint64_t drops_reported_ = 0;
    uint64_t decode_errors_ = 0;
    bool stop_ = false;
    // Host names of egress rules, resolved off the loop (userspace/net/).
    void start_dns();
    void on_dns();
    std::unique_ptr<net::BackgroundResolver> dns_;
    std::string dns_unavailable_;
    std::map<std::string, std::vector<std::string>> resolved_;  // rule's name → CIDRs
    std::map<std::string, std::string> address_names_;         // "192.0.2.1" → name, for fd.sip.name
    // cgroup id → container id: a cgroup stays in its container, and reading
    // /proc/PID/cgroup for every event was most of the daemon's own work.
    std::unordered_map<uint64_t, std::string> container_by_cgroup_;
    std::unique_ptr<k8s::PodDirectory> pods_;  // null: no CRI runtime on this node
    std::string container_of(const events::Event& e);
    std::unique_ptr<ask::AskBroker> asks_;
    std::string asks_unavailable_;  // why there is no broker
    Fd ask_timer_;
    // SIEM sinks and the Prometheus endpoint (exporters/).
    std::unique_ptr<exporters::Hub> hub_;
    exporters::MetricsRegistry metrics_;
    std::unique_ptr<exporters::MetricsServer> metrics_server_;
    std::shared_ptr<SessionSnapshot> session_snapshot_ = std::make_shared<SessionSnapshot>();
    std::unique_ptr<vm::VmHost> vm_;
    std::string vm_unavailable_;  // why there are no microVMs
    std::map<uint64_t, std::string> vm_exec_sockets_;  // promoted session → its VM's exec socket
    std::string self_exe_;  // this binary: supervises QEMU, and runs a promoted session's shell calls
    uint64_t client_serial_ = 0;
};

int64_t now_unix_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The signals the loop reads from its signalfd.
sigset_t loop_signals() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    return mask;
}

// An event of the microVM life cycle (promotion, apply, discard).
events::Event vm_event(uint64_t session, const std::string& rule, const std::string& op) {
    events::Event note;
    note.kind = "vm";
    note.time_unix_ns = now_unix_ns();
    note.session = session;
    note.rule = rule;
    note.priority = "Notice";
    note.tags = {"bulkhead", "vmguard"};
    note.verdict = "audit";
    note.op = op;
    return note;
}

uint64_t sum_stat(int fd, __u32 idx) {
    int ncpu = libbpf_num_possible_cpus();
    std::vector<__u64> vals(ncpu > 0 ? ncpu : 1);
    if (bpf_map_lookup_elem(fd, &idx, vals.data()) != 0)
        return 0;
    uint64_t s = 0;
    for (auto v : vals)
        s += v;
    return s;
}

std::string state_file() { return "/run/bulkhead/sessions.json"; }

void Daemon::load_guards() {
    guards::LoadOptions lo;
    lo.pin_root = opts_.config.pin_root;
    lo.replace = opts_.replace;
    auto host = doctor::probe();
    lo.lsm = host.bpf_lsm;
    lo.cgroup_root = cgroup_root_;
    if (!lo.lsm) {
        level_ = "observe";
        spdlog::warn("daemon: BPF LSM is not active ({}); loading the observer, session tracking and the "
                     "net guard only. Files are enforced per session by `bulkhead run` (Landlock + seccomp)",
                     host.bpf_lsm_why);
    }
    if (cgroup_root_.empty())
        spdlog::warn("net-guard: no cgroup v2 hierarchy; session egress is not enforced");
    loader_ = guards::Loader::load(lo);
    // The daemon is off limits to every session: signals and ptrace.
    int fd = loader_->maps().protected_tgids;
    __u32 one = 1;
    for (auto k : guards::map_keys<__u32>(fd))
        bpf_map_delete_elem(fd, &k);
    __u32 self = static_cast<__u32>(getpid());
    if (bpf_map_update_elem(fd, &self, &one, BPF_ANY) != 0)
        throw FatalError(errno_message("self-guard: cannot protect the daemon's pid", errno));
}

guards::PlanInputs Daemon::plan_inputs() {
    guards::PlanInputs in;
    in.homes = guards::host_homes();
    in.agent_kinds = sessions_.agent_kinds();
    in.taint_allow = opts_.config.taint_allow;
    in.resolved = resolved_;
    for (const auto& [ws, ids] : workspaces_)
        in.workspaces.push_back(ws);
    return in;
}

void Daemon::setup_agents() {
    int fd = loader_->maps().agent_exes;
    auto homes = guards::host_homes();
    std::map<bh_inode_key, bh_agent_exe, guards::InodeKeyLess> want;
    std::set<std::string> seen;
    for (const auto& a : opts_.config.agents) {
        uint32_t kind = sessions_.agent_kind(a.name);
        for (const auto& exe : a.executables) {
            std::vector<std::string> paths;
            if (exe.rfind("~/", 0) == 0)
                for (const auto& h : homes)
                    paths.push_back(h + exe.substr(1));
            else
                paths.push_back(exe);
            for (const auto& p : paths) {
                struct stat st{};
                if (::stat(p.c_str(), &st) != 0)
                    continue;
                bh_inode_key k{kernel_dev(st.st_dev), st.st_ino};
                want[k] = bh_agent_exe{kind, 0};
                if (!agent_exes_.count(p + "=" + std::to_string(k.ino)))
                    spdlog::info("sessions: exec of {} starts a '{}' session", p, a.name);
                seen.insert(p + "=" + std::to_string(k.ino));
            }
        }
    }
    auto before = guards::map_keys<bh_inode_key>(fd);
    for (const auto& [k, v] : want)
        bpf_map_update_elem(fd, &k, &v, BPF_ANY);
    for (const auto& k : before)
        if (!want.count(k))
            bpf_map_delete_elem(fd, &k);
    agent_exes_ = std::move(seen);
}

// Sessions outlive a daemon restart: the kernel still has them in
// session_by_cg, and their names are in the state file.
void Daemon::restore_sessions() {
    std::ifstream in(state_file());
    if (in) {
        auto j = json::parse(in, nullptr, false);
        if (j.is_array()) {
            for (const auto& s : j) try {
                session::Session x;
                x.id = std::stoull(s.value("id", "0"));
                x.agent = s.value("agent", "");
                x.agent_kind = sessions_.agent_kind(x.agent);
                x.workspace = s.value("workspace", "");
                x.cgroup = s.value("cgroup", "");
                x.risk = s.value("risk", int64_t{0});
                for (const auto& t : opts_.config.risk_thresholds)  // acted on before the restart
                    x.thresholds_crossed += x.risk >= t.at;
                x.cgroup_id = s.value("cgroup_id", 0ull);
                x.start_unix_ns = s.value("start_unix_ns", 0ll);
                x.leader_pid = s.value("leader_pid", 0u);
                x.uid = s.value("uid", 0u);
                x.origin = s.value("origin", "run");
                x.level = s.value("level", "");
                x.taint = s.value("taint", "");
                x.state = s.value("state", "active");
                if (x.id)
                    sessions_.add(std::move(x));
            } catch (const std::exception& e) {
                spdlog::warn("sessions: skipped a malformed entry in {}: {}", state_file(), e.what());
            }
        }
    }
    // Anything in the kernel map the file does not know stays enforced and
    // is listed, with what the kernel knows.
    int fd = loader_->maps().session_by_cg;
    for (auto cg : guards::map_keys<__u64>(fd)) {
        bh_session s{};
        if (bpf_map_lookup_elem(fd, &cg, &s) == 0 && !sessions_.find(s.id)) {
            session::Session x;
            x.id = s.id;
            x.agent_kind = s.agent_kind;
            x.agent = sessions_.agent_name(s.agent_kind).value_or("unknown");
            x.cgroup_id = s.cgroup_id;
            x.origin = "run";
            sessions_.add(std::move(x));
        }
    }
    refresh_workspaces();  // before the first plan, which reads them
}

// The live sessions' workspaces, for rules on fd.in_other_workspace: each
// session's own goes to the kernel (session_state), so the file guard can
// tell it from the others'. True when the set moved and the file guard
// needs a new plan. Run at every change of the session table and every
// rescan tick (a session whose leader exited releases its workspace).
bool Daemon::refresh_workspaces() {
    auto now = sessions_.workspaces(guards::host_homes());
    if (now == workspaces_)
        return false;
    for (const auto& [ws, ids] : now) {
        bh_inode_key key{};
        if (!guards::inode_key_of(ws, &key))
            continue;
        for (uint64_t id : ids) {
            bh_session_state st{};
            bpf_map_lookup_elem(loader_->maps().session_state, &id, &st);
            if (st.workspace_dev == key.dev && st.workspace_ino == key.ino)
                continue;
            st.workspace_dev = key.dev;
            st.workspace_ino = key.ino;
            if (bpf_map_update_elem(loader_->maps().session_state, &id, &st, BPF_ANY) != 0)
                spdlog::error("{}", errno_message("sessions: cannot record the workspace of session " +
                                                      std::to_string(id), errno));
        }
    }
    workspaces_ = std::move(now);
    return true;
}

// Writes the session table for a restarted daemon. A changed set of
// workspaces is a new plan (fd.in_other_workspace); the caller that already
// replanned says so, and the workspaces are not listed twice.
void Daemon::save_sessions(bool replanned) {
    if (!replanned && refresh_workspaces())
        replan_if_moved();
    json arr = json::array();
    for (const auto& [id, s] : sessions_.all()) {
        json j = session::to_json(s);
        j["cgroup_id"] = s.cgroup_id;
        j["start_unix_ns"] = s.start_unix_ns;
        arr.push_back(j);
    }
    std::string tmp = state_file() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << arr.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    }
    ::rename(tmp.c_str(), state_file().c_str());
}

bool Daemon::reload(std::string* error) {
    auto loaded = load_policy(opts_.config.rules, plan_inputs(), {state_protection(opts_.config)});
    if (!loaded) {
        *error = loaded.error().to_string();
        return false;
    }
    if (!asks_)
        for (const auto& p : loaded->compiled.policy.files)
            if (p.verdict == rules::KernelVerdict::kAsk) {
                *error = p.file + ":" + std::to_string(p.line) + ": rule '" + p.rule +
                         "': action 'ask' needs fanotify permission events, which this daemon cannot use: " +
                         asks_unavailable_ + " (use 'block' instead)";
                return false;
            }
    if (!loaded->net_plan.hosts.empty()) {
        auto names = dns_ ? dns_->set_names(loaded->net_plan.hosts)
                          : rules::Result<void>(rules::Error{{}, "dns: " + dns_unavailable_});
        if (!names) {
            *error = "net-guard: egress rules name hosts the daemon cannot resolve: " + names.error().message;
            return false;
        }
    } else if (dns_) {
        (void)dns_->set_names({});
    }
    std::string err = guards::apply_file_plan(loaded->plan, loader_->maps());
    if (err.empty())
        err = guards::apply_net_plan(loaded->net_plan, loader_->maps());
    if (!err.empty()) {
        // All or nothing: a half-written policy would be neither the old
        // nor the new one, so the running one goes back into the maps.
        if (policy_) {
            std::string back = guards::apply_file_plan(policy_->plan, loader_->maps());
            if (back.empty())
                back = guards::apply_net_plan(policy_->net_plan, loader_->maps());
            if (dns_)
                (void)dns_->set_names(policy_->net_plan.hosts);
            err += back.empty() ? "; the running policy was put back" : "; putting the running policy back failed too: " + back;
        }
        *error = err;
        return false;
    }
    watch_asks(loaded->plan);
    for (const auto& w : loaded->net_plan.warnings)
        spdlog::warn("{}", w);
    for (const auto& w : loaded->rules.warnings)
        spdlog::warn("rules: {}", w.to_string());
    for (const auto& w : rules_that_never_fire(loaded->rules, loaded->compiled))
        spdlog::warn("rules: {}", w);
    for (const auto& p : loaded->plan.pending)
        spdlog::info("file-guard: {} does not exist yet; protected by name, re-resolved when it appears", p);
    size_t kernel = 0;
    for (const auto& r : loaded->compiled.report)
        kernel += r.placement == rules::Placement::kKernel;
    spdlog::info("rules: {} rules loaded from {} file(s), {} enforced in the kernel; "
                 "{} protected inodes, {} directory patterns, {} name patterns, {} egress rules, "
                 "{} files held for ask",
                 loaded->rules.rules.size(), opts_.config.rules.size(), kernel,
                 loaded->plan.inodes.size(), loaded->plan.dirs.size(), loaded->plan.names.size(),
                 loaded->net_plan.rules.size(), loaded->plan.asks.size());
    policy_ = std::move(*loaded);
    return true;
}

// Protected paths that were created, replaced or renamed since the last
// plan get their new inodes; the fingerprint tells whether anything moved.
void Daemon::rescan() {
    if (!policy_)
        return;
    refresh_workspaces();
    setup_agents();  // agents get installed and upgraded while we run
    replan_if_moved();
}

void Daemon::replan_if_moved() {
    if (!policy_)
        return;
    auto plan = replan(*policy_, plan_inputs());
    if (plan.fingerprint == policy_->plan.fingerprint || !plan.errors.empty())
        return;
    std::string err = guards::apply_file_plan(plan, loader_->maps());
    if (!err.empty()) {
        spdlog::error("{}", err);
        return;
    }
    watch_asks(plan);
    for (const auto& w : plan.warnings)
        spdlog::warn("{}", w);
    spdlog::info("file-guard: protected paths or session workspaces changed; re-resolved ({} inodes, {} files held for ask)",
                 plan.inodes.size(), plan.asks.size());
    policy_->plan = std::move(plan);
}

void Daemon::report_drops() {
    uint64_t drops = sum_stat(loader_->maps().stats, BH_STAT_DROPS);
    exporters::record_kernel_drops(metrics_, drops);
    if (drops <= drops_reported_)
        return;
    events::Event e;
    e.kind = "drops";
    e.rule = "Kernel events dropped";
    e.priority = "Warning";
    e.verdict = "allow";
    e.count = drops - drops_reported_;
    e.time_unix_ns = now_unix_ns();
    drops_reported_ = drops;
    publish(std::move(e));
}

// One event must never take the daemon (and the next events) down with it:
// whatever it throws is logged and counted, and the loop goes on.
int Daemon::on_ring_event(void* ctx, void* data, size_t size) {
    auto* d = static_cast<Daemon*>(ctx);
    try {
        d->handle_event(data, size);
    } catch (const std::exception& e) {
        if (d->decode_errors_++ < 10)
            spdlog::error("events: an event could not be processed: {}", e.what());
    }
    return 0;
}

void enrich_from_proc(events::Event& e);

void Daemon::handle_event(const void* data, size_t size) {
    std::string why;
    auto e = events::decode(data, size, &why);
    if (!e) {
        if (decode_errors_++ < 10)
            spdlog::error("events: dropped a malformed kernel record: {}", why);
        return;
    }
    if (e->kind == "session") {
        session::Session s;
        s.id = e->session;
        s.agent_kind = e->agent_kind;
        s.agent = sessions_.agent_name(e->agent_kind).value_or("unknown");
        s.start_unix_ns = e->time_unix_ns;
        s.leader_pid = e->tgid;
        s.uid = e->uid;
        s.origin = "discovered";
        std::error_code ec;  // the process may be gone already
        s.workspace = fs::read_symlink("/proc/" + std::to_string(e->tgid) + "/cwd", ec).string();
        sessions_.add(std::move(s));
        save_sessions();
    }
    enrich_from_proc(*e);
    evaluate(publish(std::move(*e)));
}

// Best effort: the process may be gone by the time its event is read.
void enrich_from_proc(events::Event& e) {
    const std::string dir = "/proc/" + std::to_string(e.tgid);
    std::error_code ec;
    if (e.exe.empty())
        e.exe = fs::read_symlink(dir + "/exe", ec).string();
    if (e.exe.empty())
        e.exe = "?";
    if (e.cwd.empty())
        e.cwd = fs::read_symlink(dir + "/cwd", ec).string();
    if (e.cmdline.empty()) {
        auto cmdline = session::cmdline_of(e.tgid, e.comm);
        e.cmdline = cmdline ? cmdline->falco : events::escape_path(e.comm);
    }
    if (e.pname.empty() && e.ppid)
        e.pname = session::comm_of(e.ppid);
}

// Inode hooks see no vfsmount, so their paths stop at the filesystem's
// root; the mount table says where that filesystem is mounted.
std::string mount_prefixed(uint64_t kdev, const std::string& fs_path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line, want = std::to_string(kdev >> 20) + ":" + std::to_string(kdev & 0xfffff);
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, devno, root, mnt;
        f >> id >> parent >> devno >> root >> mnt;
        if (devno != want)
            continue;
        if (root == "/")
            return (mnt == "/" ? "" : mnt) + fs_path;
        if (fs_path.rfind(root + "/", 0) == 0)
            return mnt + fs_path.substr(root.size());
    }
    return fs_path;
}

// The path under which `tgid` holds the object (kdev, ino) open, or "".
// The observer taints at the open's exit, so the reader still holds it
// then; stat(2) of /proc/PID/fd/N names the object without opening it.
std::string open_path_of(uint32_t tgid, uint64_t kdev, uint64_t ino) {
    std::error_code ec;
    const std::string dir = "/proc/" + std::to_string(tgid) + "/fd";
    size_t seen = 0;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator() && seen++ < 4096;
         it.increment(ec)) {
        struct stat st{};
        if (::stat(it->path().c_str(), &st) != 0 || st.st_ino != ino || kernel_dev(st.st_dev) != kdev)
            continue;
        auto target = fs::read_symlink(it->path(), ec);
        return ec ? "" : events::escape_path(target.string());
    }
    return "";
}

// Names, priority, tags, output, action and risk of a kernel rule's event.
void Daemon::apply_rule(events::Event& e, const std::string& name) {
    e.rule = name;
    auto t = policy_->tags.find(name);
    if (t != policy_->tags.end())
        e.tags = t->second;
    const auto* rule = policy_->rules.find_rule(name);
    if (!rule) {
        e.priority = "Warning";
        return;
    }
    e.priority = std::string(rules::to_string(rule->priority));
    auto out = policy_->evaluator->render(rule - policy_->rules.rules.data(), engine::EventFields(e));
    e.output = std::move(out.text);
    e.output_fields = std::move(out.fields);
    e.action = std::string(rules::to_string(rule->action));
    e.risk = rule->risk;
}

std::string Daemon::container_of(const events::Event& e) {
    if (e.cgroup_id)
        if (auto it = container_by_cgroup_.find(e.cgroup_id); it != container_by_cgroup_.end())
            return it->second;
    auto id = session::container_id_of(e.tgid);
    if (!id)
        return "";  // gone: not cached, the next event of the cgroup asks again
    if (e.cgroup_id) {
        if (container_by_cgroup_.size() >= 16384)
            container_by_cgroup_.clear();  // bounded; refilled as events come
        container_by_cgroup_.emplace(e.cgroup_id, *id);
    }
    return *id;
}

events::Event Daemon::publish(events::Event e) {
    e.level = level_;
    if (e.kind == "file" && e.path_fs_relative && e.dev)
        e.path = mount_prefixed(e.dev, e.path);
    if (e.container_id.empty() && e.tgid)
        e.container_id = container_of(e);
    if (pods_ && !e.container_id.empty())
        if (auto pod = pods_->lookup(e.container_id)) {
            e.k8s_pod_name = pod->name;
            e.k8s_ns_name = pod->ns;
        }
    // Session context first: a rule's output may name agent.* fields.
    auto* session = sessions_.find(e.session);
    if (session) {
        if (session->agent.empty() || session->agent == "unknown")
            if (auto n = sessions_.agent_name(session->agent_kind))
                session->agent = *n;
        e.agent = session->agent;
        e.agent_pid = session->leader_pid;
        if (e.workspace.empty())
            e.workspace = session->workspace;
        if (e.kind == "file")
            e.in_other_workspace = session::in_other_workspace(workspaces_, e.path, session->id);
    }
    if (session && !session->level.empty())
        e.level = session->level;
    // The tool call that was running, as the agent's hooks reported it (one
    // lookup per event: it tags the event and, below, counts its verdict).
    session::ToolCall* call = session && e.kind != "tool" ? tool_calls_.active_at(session->id, e.time_unix_ns) : nullptr;
    if (call && e.tool_use_id.empty()) {
        e.tool_use_id = call->id;
        e.tool_name = call->name;
    } else if (call && call->id != e.tool_use_id) {
        call = nullptr;  // the event names another call (an alert copied from it)
    }
    if (policy_ && (e.kind == "taint" || e.taint_rule_id)) {
        uint32_t id = e.kind == "taint" ? e.rule_id : e.taint_rule_id;
        const auto& rules = policy_->plan.rules;
        std::string rule = id >= 1 && id <= rules.size() ? rules[id - 1].name : "rule #" + std::to_string(id);
        if (e.kind == "taint" && e.path.empty())
            e.path = open_path_of(e.tgid, e.dev, e.ino);
        e.taint = (e.kind == "taint" && !e.path.empty() ? "read of " + e.path
                                                        : "read of inode " + std::to_string(e.kind == "taint" ? e.ino : e.taint_ino)) +
                  " under rule '" + rule + "'";
        if (session && session->taint.empty())
            session->taint = e.taint;
        if (session && e.kind == "net")
            e.taint = session->taint;  // with the path, once the file event named it
        if (e.kind == "taint") {
            e.rule = rule;
            e.priority = "Notice";
            e.tags = {"bulkhead", "taint"};
        }
    }
    if (e.kind == "net" && e.sip_name.empty() && !e.rip.empty())
        if (auto it = address_names_.find(e.rip); it != address_names_.end())
            e.sip_name = it->second;
    if (e.kind == "net" && e.rule_id && policy_) {
        const auto& rules = policy_->net_plan.rules;
        if (e.rule_id == BH_NET_RULE_TAINT) {
            e.rule = "Egress of a tainted session";
            e.priority = "Critical";
            e.tags = {"bulkhead", "taint", "network", "mitre_exfiltration"};
            e.action = "block";
        } else if (e.rule_id <= rules.size()) {
            apply_rule(e, rules[e.rule_id - 1].name);
        } else {
            e.rule = "egress rule #" + std::to_string(e.rule_id);
        }
    }
    if (e.kind == "file" && policy_) {
        const auto& rules = policy_->plan.rules;
        if (e.rule_id >= 1 && e.rule_id <= rules.size()) {
            const auto& info = rules[e.rule_id - 1];
            apply_rule(e, info.name);
            if (!policy_->rules.find_rule(info.name)) {  // a built-in protection
                e.priority = info.priority;
                e.risk = info.risk;
                e.action = info.verdict == "deny" ? "block" : "audit";
                e.tags = {"bulkhead", "self_guard", "mitre_defense_evasion"};
            }
            // The read that tainted the session, now with its path.
            const auto* rule = policy_->rules.find_rule(e.rule);
            if (session && rule && !rule->taint.empty() && e.verdict == "audit" &&
                (session->taint.empty() || session->taint.find("read of inode " + std::to_string(e.ino) + " ") == 0))
                session->taint = "read of " + e.path + " under rule '" + e.rule + "'";
        } else if (e.depth_exceeded) {
            e.rule = "Path deeper than the kernel walk limit";
            e.priority = "Warning";
        } else {
            e.rule = "rule #" + std::to_string(e.rule_id);
        }
    }
    if (session) {
        session->risk += e.risk;
        e.session_risk = session->risk;
        if (e.verdict == "deny")
            ++session->denied;
        else if (e.verdict == "audit")
            ++session->audited;
        // What the kernel did during a tool call is its hook's feedback.
        if (call && e.verdict == "deny") {
            ++call->denied;
            if (call->denials.size() < session::ToolCalls::kMaxDenials)
                call->denials.push_back(e.op + (e.path.empty() ? "" : " of " + e.path) +
                                        (e.err ? " (" + events::errno_name(e.err) + ")" : "") +
                                        (e.rule.empty() ? "" : " by rule '" + e.rule + "'"));
        } else if (call && e.verdict == "audit") {
            ++call->audited;
        }
    }
    if (hub_)
        hub_->publish(e);
    exporters::record_event(metrics_, e);
    json j = events::to_json(e, hostname_);
    if (!opts_.quiet)
        std::cout << events::to_text(e) << std::endl;
    if (events_log_.is_open())
        events_log_ << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
    recent_.push_back(j);
    if (recent_.size() > kRecentEvents)
        recent_.pop_front();
    for (auto& [fd, c] : clients_) {
        if (!c.subscribed)
            continue;
        if (c.session_filter && *c.session_filter != e.session)
            continue;
        send(c, j);
    }
    if (session && e.risk > 0)
        check_risk(*session, e);
    return e;
}

void Daemon::start_exporters() {
    exporters::Options o;
    o.hostname = hostname_;
    o.spool_root = opts_.config.spool_root;
    o.version = BULKHEAD_VERSION;
    auto registry = exporters::builtin_factories();
    registry.add("audit", exporters::audit::make_audit_exporter);
    registry.add("grpc", exporters::rpc::grpc_factory(session_snapshot_));
    auto sinks = exporters::make_exporters(opts_.config.exporters, o, registry);
    if (!sinks)
        throw FatalError(sinks.error(), 2);
    for (const auto& sink : *sinks)
        spdlog::info("exporters: sink '{}' ready", sink->name());
    hub_ = std::make_unique<exporters::Hub>(std::move(*sinks));
    exporters::record_enforcement_level(metrics_, level_);
    if (!opts_.config.metrics.empty()) {
        auto server = exporters::MetricsServer::start(opts_.config.metrics, metrics_);
        if (!server)
            throw FatalError("metrics: " + server.error(), 2);
        metrics_server_ = std::move(*server);
        spdlog::info("metrics: Prometheus text on {}", opts_.config.metrics);
    }
}

// Every rescan tick: sink counters, sessions by state, and a synthetic event
// when a sink lost events (never silently).
void Daemon::export_stats() {
    if (!hub_)
        return;
    for (const auto& [name, stats] : hub_->stats())
        exporters::record_sink_stats(metrics_, name, stats);
    std::map<std::string, uint64_t> by_state;
    for (const auto& [id, s] : sessions_.all())
        ++by_state[s.state];
    exporters::record_sessions(metrics_, by_state);
    std::map<uint64_t, uint32_t> pending;
    if (asks_)
        for (const auto& a : asks_->pending())
            ++pending[a.session_id];
    session_snapshot_->update(sessions_, pending, level_);
    // The audit log's head goes to the other sinks, so a cut tail shows.
    for (const auto& sink : hub_->sinks())
        if (auto* audit = dynamic_cast<exporters::audit::AuditLog*>(sink.get()))
            if (auto checkpoint = audit->checkpoint_due())
                publish(std::move(*checkpoint));
    if (auto drops = hub_->take_drop_report(now_unix_ns())) {
        spdlog::error("exporters: {}", drops->output);
        publish(std::move(*drops));
    }
}

// The userspace rules: every event is evaluated once; each rule that fires
// becomes an alert of its own (alerts are not evaluated again).
void Daemon::evaluate(const events::Event& e) {
    if (!policy_ || !policy_->evaluator)
        return;
    engine::EventFields fields(e);
    std::vector<size_t> fired;
    policy_->evaluator->evaluate(fields, &fired);
    for (size_t index : fired) {
        const rules::Rule& rule = policy_->rules.rules[index];
        events::Event alert = e;
        auto out = policy_->evaluator->render(index, fields);
        alert.rule = rule.name;
        alert.priority = std::string(rules::to_string(rule.priority));
        alert.tags = rule.tags;
        alert.output = std::move(out.text);
        alert.output_fields = std::move(out.fields);
        alert.action = std::string(rules::to_string(rule.action));
        alert.risk = rule.risk;
        // The kernel let the operation through; the rule detected it.
        if (alert.verdict.empty() || alert.verdict == "allow")
            alert.verdict = "audit";
        publish(alert);
        if (!rule.taint.empty())
            taint_session(alert, rule.name);
        act(alert);
    }
}

// A userspace rule with `taint` fired: the kernel narrows the session's
// egress from now on (later than a kernel rule would, which taints before
// the read returns; the event says which).
void Daemon::taint_session(const events::Event& alert, const std::string& rule) {
    auto* s = sessions_.find(alert.session);
    if (!s || !s->taint.empty())
        return;
    bh_session_state st{};
    bpf_map_lookup_elem(loader_->maps().session_state, &s->id, &st);
    st.flags |= BH_SESSION_TAINTED;
    st.taint_dev = alert.dev;
    st.taint_ino = alert.ino;
    if (bpf_map_update_elem(loader_->maps().session_state, &s->id, &st, BPF_ANY) != 0) {
        spdlog::error("{}", errno_message("taint: cannot mark session " + std::to_string(s->id), errno));
        return;
    }
    s->taint = "rule '" + rule + "' (userspace) on " + (alert.path.empty() ? alert.evt_type : alert.path);
    events::Event note = alert;
    note.kind = "taint";
    note.rule = rule;
    note.taint = s->taint;
    note.verdict = "audit";
    note.output.clear();
    note.risk = 0;
    publish(note);
}

// Actions userspace carries out; block and ask are the kernel's.
void Daemon::act(const events::Event& alert) {
    if (alert.action != "kill" && alert.action != "promote")
        return;
    events::Event note;
    note.kind = "action";
    note.time_unix_ns = alert.time_unix_ns;
    note.session = alert.session;
    note.tgid = alert.tgid;
    note.comm = alert.comm;
    note.rule = alert.rule;
    note.priority = alert.priority;
    note.verdict = "audit";
    auto* s = sessions_.find(alert.session);
    if (alert.action == "promote") {
        note.op = "promote";
        note.detail = s ? promote(*s, "rule '" + alert.rule + "'")
                        : "promote requested by rule '" + alert.rule + "', but the event has no session";
    } else {
        note.detail = kill_session(s, alert.tgid);
    }
    publish(note);
}

// Every process of the session (its cgroup), or the one process when the
// session has no cgroup of its own (a discovered agent).
std::string Daemon::kill_session(session::Session* s, uint32_t tgid) {
    if (s && !s->cgroup.empty()) {
        std::ofstream kill_file(s->cgroup + "/cgroup.kill");
        kill_file << "1" << std::flush;
        if (!kill_file)
            return "could not write " + s->cgroup + "/cgroup.kill";
        s->state = "killed";
        return "killed every process of session " + std::to_string(s->id);
    }
    if (!tgid)
        return "nothing to kill: the session has no cgroup and the event no process";
    return ::kill(static_cast<pid_t>(tgid), SIGKILL) == 0 ? "killed pid " + std::to_string(tgid)
                                                          : "kill " + std::to_string(tgid) + ": " + std::strerror(errno);
}

// cgroup v2's freezer stops every process of the session where it stands;
// thawing resumes them. A session without a cgroup cannot be frozen.
std::string Daemon::freeze(session::Session& s, bool frozen) {
    if (s.cgroup.empty())
        return "session " + std::to_string(s.id) + " has no cgroup of its own (a discovered agent), so it cannot be " +
               (frozen ? "frozen" : "thawed");
    std::ofstream f(s.cgroup + "/cgroup.freeze");
    f << (frozen ? "1" : "0") << std::flush;
    if (!f)
        return errno_message("could not write " + s.cgroup + "/cgroup.freeze", errno);
    s.state = frozen ? "frozen" : "active";
    return std::string(frozen ? "froze" : "thawed") + " every process of session " + std::to_string(s.id);
}

void Daemon::check_risk(session::Session& s, const events::Event& cause) {
    const auto& thresholds = opts_.config.risk_thresholds;
    while (s.thresholds_crossed < thresholds.size() && s.risk >= thresholds[s.thresholds_crossed].at) {
        const auto& t = thresholds[s.thresholds_crossed++];
        events::Event note;
        note.kind = "risk";
        note.time_unix_ns = now_unix_ns();
        note.session = s.id;
        note.tgid = cause.tgid;
        note.comm = cause.comm;
        note.exe = cause.exe;
        note.rule = "Session risk threshold";
        note.priority = t.action == "notify" ? "Warning" : "Critical";
        note.tags = {"bulkhead", "risk"};
        note.verdict = "audit";
        note.action = t.action;
        note.op = t.action;
        note.tool_use_id = cause.tool_use_id;
        note.tool_name = cause.tool_name;
        note.detail = "Session risk " + std::to_string(s.risk) + " reached the threshold " + std::to_string(t.at) +
                      " (rule '" + cause.rule + "' added " + std::to_string(cause.risk) + "): ";
        if (t.action == "notify") {
            note.detail += "notify";
        } else if (t.action == "freeze") {
            note.detail += freeze(s, /* frozen = */ true);
        } else if (t.action == "kill") {
            note.detail += kill_session(&s, cause.tgid);
        } else {
            note.detail += promote(s, "risk threshold " + std::to_string(t.at));
        }
        spdlog::warn("sessions: {}", note.detail);
        publish(std::move(note));
        save_sessions();
    }
}

void Daemon::start_dns() {
    net::ResolverOptions o;
    o.nameservers = opts_.config.nameservers;
    auto dns = net::BackgroundResolver::start(o);
    if (!dns) {
        dns_unavailable_ = dns.error().message;
        spdlog::warn("{}; egress rules that name hosts cannot load", dns_unavailable_);
        return;
    }
    dns_ = std::move(*dns);
}

// New addresses for the egress rules' host names: re-plan the address sets
// (new entries first, stale ones last, as every net plan is applied).
void Daemon::on_dns() {
    auto snap = dns_->take();
    std::map<std::string, std::vector<std::string>> resolved;
    address_names_.clear();
    for (const auto& [name, cidrs] : snap.addresses)
        for (const auto& c : cidrs)
            address_names_[c.substr(0, c.find('/'))] = name;
    for (const auto& [name, why] : snap.errors)
        spdlog::warn("dns: {}: {}", net::quote_host_name(name), why);
    if (!policy_)
        return;
    for (const auto& h : policy_->net_plan.hosts)
        if (auto it = snap.addresses.find(net::normalize_host_name(h)); it != snap.addresses.end())
            resolved[h] = it->second;
    if (resolved == resolved_)
        return;
    for (const auto& [name, cidrs] : resolved)
        if (resolved_[name] != cidrs)
            spdlog::info("dns: {} -> {}", name, fmt::join(cidrs, ", "));
    resolved_ = std::move(resolved);
    auto plan = guards::plan_net_policy(policy_->compiled.policy, plan_inputs());
    if (!plan.errors.empty())
        return spdlog::error("{}", plan.errors[0]);
    if (auto err = guards::apply_net_plan(plan, loader_->maps()); !err.empty())
        return spdlog::error("{}", err);
    policy_->net_plan = std::move(plan);
}

// A configured socket is used as given (a runtime that starts later is
// asked then); otherwise the first default socket that exists.
void Daemon::start_pods() {
    std::string socket = opts_.config.cri_socket;
    if (socket == "none")
        return spdlog::info("cri: pod lookup off (cri_socket: none)");
    if (socket.empty()) {
        for (const auto& s : k8s::default_cri_sockets())
            if (struct stat st{}; ::stat(s.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
                socket = s;
                break;
            }
        if (socket.empty())
            return spdlog::info("cri: no container runtime socket; events carry no pod names");
    }
    pods_ = std::make_unique<k8s::PodDirectory>(socket);
    spdlog::info("cri: pod names and namespaces from {}", socket);
}

// The broker exists whenever the kernel and our privileges allow it, so a
// reload that adds the first ask rule needs no restart.
void Daemon::start_asks() {
    if (auto ok = ask::AskBroker::probe(); !ok) {
        asks_unavailable_ = ok.error().message;
        spdlog::warn("{}; rules with action 'ask' cannot load", asks_unavailable_);
        return;
    }
    // Every held request keeps an event fd open here.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ask::Options o;
    o.timeout = std::chrono::seconds(opts_.config.ask_timeout_seconds);
    ask::Callbacks cb;
    cb.session_of = [this](pid_t pid) { return session_of_pid(pid); };
    cb.on_pending = [this](const ask::PendingAsk& a) { on_ask_pending(a); };
    cb.on_decided = [this](const ask::PendingAsk& a, const ask::Outcome& out) { on_ask_decided(a, out); };
    asks_ = std::make_unique<ask::AskBroker>(o, cb);
    ask_timer_ = Fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
}

void Daemon::watch_asks(const guards::FilePlan& plan) {
    if (!asks_)
        return;
    std::vector<ask::AskBroker::Target> targets;
    for (const auto& a : plan.asks)
        targets.push_back({a.path, a.rule, a.label});
    // A file replaced between planning and marking is marked at the next rescan.
    for (const auto& e : asks_->replace_watches(targets))
        spdlog::warn("{}", e);
}

void Daemon::arm_ask_timer() {
    if (!asks_)
        return;
    itimerspec its{};  // all zero: disarmed
    if (auto deadline = asks_->next_deadline()) {
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - ask::AskBroker::Clock::now());
        int64_t ns = std::max<int64_t>(left.count(), 1);
        its.it_value.tv_sec = ns / 1000000000;
        its.it_value.tv_nsec = ns % 1000000000;
    }
    timerfd_settime(ask_timer_.get(), 0, &its, nullptr);
}

// The session of a process: the tgid map the fork tracepoint keeps, then the
// session cgroup (a process that has not forked since the session began).
std::optional<ask::SessionInfo> Daemon::session_of_pid(pid_t pid) {
    __u32 tgid = static_cast<__u32>(pid);
    bh_session s{};
    if (bpf_map_lookup_elem(loader_->maps().session_by_tgid, &tgid, &s) == 0 && s.id)
        return ask::SessionInfo{s.id};
    auto cg = session::cgroup_of(tgid);
    struct stat st{};
    if (cg && !cgroup_root_.empty() && ::stat((cgroup_root_ + *cg).c_str(), &st) == 0) {
        __u64 cg_id = st.st_ino;
        if (bpf_map_lookup_elem(loader_->maps().session_by_cg, &cg_id, &s) == 0 && s.id)
            return ask::SessionInfo{s.id};
    }
    return std::nullopt;
}

// Never stats or opens the held object: the kernel would hold the daemon too.
events::Event Daemon::ask_event(const ask::PendingAsk& a) {
    events::Event e;
    e.kind = "ask";
    e.time_unix_ns = now_unix_ns();
    e.session = a.session_id;
    e.pid = e.tgid = static_cast<uint32_t>(a.pid);
    e.comm = a.comm;
    e.exe = a.exe;
    e.path = events::escape_path(a.path);
    e.dev = kernel_dev(a.dev);
    e.ino = a.ino;
    e.op = ask::to_string(a.op);
    e.evt_type = a.op == ask::Op::kExec ? "execve" : "open";
    e.ask_id = a.id;
    e.rule = a.rule;
    e.action = "ask";
    e.tags = {"bulkhead", "ask"};
    if (const auto* rule = policy_ ? policy_->rules.find_rule(a.rule) : nullptr) {
        e.priority = std::string(rules::to_string(rule->priority));
        e.tags = rule->tags;
    }
    enrich_from_proc(e);
    return e;
}

void Daemon::on_ask_pending(const ask::PendingAsk& a) {
    auto e = ask_event(a);
    e.verdict = "ask";
    const auto* rule = policy_ ? policy_->rules.find_rule(a.rule) : nullptr;
    e.risk = rule ? rule->risk : 0;
    e.detail = "denied after " + std::to_string(asks_->options().timeout.count()) + " s without an answer";
    publish(std::move(e));
}

void Daemon::on_ask_decided(const ask::PendingAsk& a, const ask::Outcome& o) {
    auto e = ask_event(a);
    e.verdict = ask::to_string(o.decision);
    e.err = o.decision == ask::Decision::kDeny ? EPERM : 0;
    e.detail = o.reason;
    if (o.decided_by)
        e.decided_by = o.decided_by->name + " (uid " + std::to_string(o.decided_by->uid) + ", pid " +
                       std::to_string(o.decided_by->pid) + ")";
    publish(std::move(e));
}

json Daemon::pending_json() {
    json arr = json::array();
    if (!asks_)
        return arr;
    auto now = ask::AskBroker::Clock::now();
    for (const auto& a : asks_->pending())
        arr.push_back({{"id", a.id},
                       {"session", std::to_string(a.session_id)},
                       {"pid", a.pid},
                       {"comm", a.comm},
                       {"exe", a.exe},
                       {"op", ask::to_string(a.op)},
                       {"path", events::escape_path(a.path)},
                       {"rule", a.rule},
                       {"since", events::rfc3339_ns(a.created_unix_ns)},
                       {"expires_in_s",
                        std::chrono::duration_cast<std::chrono::seconds>(a.deadline - now).count()}});
    return arr;
}

// Root or the session's owner answers, from outside every session (the
// caller checked that); a process can never answer its own question.
json Daemon::decide(const Client& c, const json& req) {
    if (!asks_)
        return {{"ok", false}, {"error", "ask: this daemon holds nothing: " + asks_unavailable_}};
    std::string id = req.value("id", ""), decision = req.value("decision", ""), scope = req.value("scope", "once");
    if (decision != "allow" && decision != "deny")
        return {{"ok", false}, {"error", "ask: decision must be 'allow' or 'deny', not '" + decision + "'"}};
    if (scope != "once" && scope != "session")
        return {{"ok", false}, {"error", "ask: scope must be 'once' or 'session', not '" + scope + "'"}};
    std::optional<ask::PendingAsk> held;
    for (auto& a : asks_->pending())
        if (a.id == id)
            held = a;
    if (!held)
        return {{"ok", false},
                {"error", "ask: no request '" + id + "' is waiting (answered or timed out already? "
                          "`bulkhead sessions` lists what is pending)"}};
    const auto* s = sessions_.find(held->session_id);
    if (c.peer.uid != 0 && (!s || s->uid != c.peer.uid))
        return {{"ok", false},
                {"error", "ask: only root or the owner of session " + std::to_string(held->session_id) +
                              " can answer " + id}};
    ask::DecidedBy by{c.peer.uid, c.peer.pid, session::comm_of(static_cast<uint32_t>(c.peer.pid))};
    auto r = asks_->decide(id, decision == "allow" ? ask::Decision::kAllow : ask::Decision::kDeny,
                           scope == "session" ? ask::Scope::kSession : ask::Scope::kOnce, by);
    arm_ask_timer();
    if (!r)
        return {{"ok", false}, {"error", r.error().message}};
    return {{"ok", true}, {"id", id}, {"decision", decision}, {"scope", scope}, {"session", std::to_string(held->session_id)}};
}

void Daemon::send(Client& c, const json& msg) {
    c.out += msg.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    flush(c);
}

void Daemon::flush(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c.out.clear();
        c.subscribed = false;  // peer gone; the next read sees EOF
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    ev.data.fd = c.fd.get();
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    if (c.out.size() > kMaxClientBacklog) {
        spdlog::warn("control: client pid {} stopped reading; disconnected", c.peer.pid);
        c.out.clear();
        c.subscribed = false;
        ::shutdown(c.fd.get(), SHUT_RDWR);
    }
}

void Daemon::accept_clients(int listen_fd, bool hook) {
    for (;;) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        auto peer = control::peer_of(fd);
        if (!peer) {
            ::close(fd);
            continue;
        }
        Client c;
        c.fd = Fd(fd);
        c.peer = *peer;
        c.hook = hook;
        c.serial = ++client_serial_;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = fd;
        epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
        clients_.emplace(fd, std::move(c));
    }
}

void Daemon::drop_client(int fd) {
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    clients_.erase(fd);
}

void Daemon::on_client(int fd, uint32_t events) {
    auto it = clients_.find(fd);
    if (it == clients_.end())
        return;
    Client& c = it->second;
    if (events & EPOLLOUT)
        flush(c);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char buf[8192];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof(buf));
            if (n > 0) {
                c.in.append(buf, static_cast<size_t>(n));
                if (c.in.size() > control::kMaxRequestBytes && c.in.find('\n') == std::string::npos) {
                    send(c, {{"ok", false}, {"error", "control: request longer than 64 KiB"}});
                    return drop_client(fd);
                }
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            return drop_client(fd);  // EOF or error
        }
        size_t nl;
        while ((nl = c.in.find('\n')) != std::string::npos) {
            std::string line = c.in.substr(0, nl);
            c.in.erase(0, nl + 1);
            handle_request(c, line);
        }
    }
}

// A process inside a session never gets to start, end or steer sessions.
// `bulkhead run` is tracked as its session's (its child inherits the session
// from it), and it alone may end the session: nothing the session runs has
// the launcher's pid, so an agent cannot end its own session to shed a taint.
bool Daemon::is_launcher_of(const control::Peer& p, const json& req) {
    const json& id = req.contains("session") ? req["session"] : json();
    uint64_t sid = 0;
    if (!id.is_string())
        return false;
    const std::string& text = id.get_ref<const std::string&>();
    if (std::from_chars(text.data(), text.data() + text.size(), sid).ec != std::errc())
        return false;
    const auto* s = sessions_.find(sid);
    return s && s->origin == "run" && s->leader_pid == static_cast<uint32_t>(p.pid);
}

bool Daemon::peer_in_session(const control::Peer& p) {
    auto cg = session::cgroup_of(static_cast<uint32_t>(p.pid));
    return !cg || cg->find("/bulkhead/") != std::string::npos || session_of_pid(p.pid).has_value();
}

json Daemon::status() {
    const auto& m = loader_->maps();
    size_t active = 0;
    for (const auto& [id, s] : sessions_.all())
        active += s.state == "active";
    return {
        {"ok", true},
        {"pid", getpid()},
        {"level", level_},
        {"state", loader_->state() == guards::LoadState::kAdopted ? "adopted" : "fresh"},
        {"programs", loader_->programs()},
        {"rules", policy_ ? policy_->rules.rules.size() : 0},
        {"protected_inodes", policy_ ? policy_->plan.inodes.size() : 0},
        {"sessions_active", active},
        {"events", sum_stat(m.stats, BH_STAT_EVENTS)},
        {"drops", sum_stat(m.stats, BH_STAT_DROPS)},
        {"denied", sum_stat(m.stats, BH_STAT_DENIED)},
        {"audited", sum_stat(m.stats, BH_STAT_AUDITED)},
        {"depth_exceeded", sum_stat(m.stats, BH_STAT_DEPTH_EXCEEDED)},
        {"storage_failed", sum_stat(m.stats, BH_STAT_STORAGE_FAILED)},
        {"observed", sum_stat(m.stats, BH_STAT_OBS_EVENTS)},
        {"observer_drops", sum_stat(m.stats, BH_STAT_OBS_DROPS)},
        {"pending_paths", policy_ ? policy_->plan.pending.size() : 0},
        {"ask", asks_ ? json{{"available", true},
                             {"watched", asks_->watched_count()},
                             {"pending", asks_->pending().size()},
                             {"timeout_s", asks_->options().timeout.count()}}
                      : json{{"available", false}, {"why", asks_unavailable_}}},
        {"vm", vm_ ? vm_->status() : json{{"available", false}, {"why", vm_unavailable_}}},
    };
}

json Daemon::start_session(const Client& c, const json& req) {
    if (c.peer.uid != 0)
        return {{"ok", false}, {"error", "sessions: only root can start sessions in this build"}};
    if (cgroup_root_.empty())
        return {{"ok", false}, {"error", "sessions: no cgroup v2 hierarchy is mounted"}};
    std::string agent = req.value("agent", "");
    if (agent.empty() || agent.size() > 64 ||
        agent.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
        return {{"ok", false},
                {"error", "sessions: agent name must be 1-64 characters of [a-z0-9-_.]"}};
    session::Session s;
    s.id = sessions_.next_id();
    s.agent = agent;
    s.agent_kind = sessions_.agent_kind(agent);
    s.uid = c.peer.uid;
    std::error_code wec;  // as the kernel names paths: no symlinks, no '..'
    s.workspace = req.value("workspace", "");
    if (auto canonical = fs::weakly_canonical(s.workspace, wec); !s.workspace.empty() && !wec)
        s.workspace = canonical.string();
    s.leader_pid = static_cast<uint32_t>(c.peer.pid);
    s.origin = "run";
    s.level = req.value("level", "");
    s.start_unix_ns = now_unix_ns();
    fs::path parent = fs::path(cgroup_root_) / "bulkhead";
    s.cgroup = (parent / ("s-" + std::to_string(s.id))).string();
    std::error_code ec;
    fs::create_directories(s.cgroup, ec);
    struct stat st{};
    if (ec || ::stat(s.cgroup.c_str(), &st) != 0)
        return {{"ok", false}, {"error", "sessions: cannot create cgroup " + s.cgroup + ": " +
                                             (ec ? ec.message() : std::strerror(errno))}};
    s.cgroup_id = st.st_ino;  // a cgroup v2 directory's inode is its cgroup id
    bh_session ks{s.id, s.agent_kind, 0, s.cgroup_id};
    if (bpf_map_update_elem(loader_->maps().session_by_cg, &s.cgroup_id, &ks, BPF_ANY) != 0)
        return {{"ok", false}, {"error", errno_message("sessions: cannot register cgroup", errno)}};
    // The leader itself (it moves into the cgroup next); its children are
    // tracked by the fork tracepoint.
    __u32 leader = s.leader_pid;
    if (bpf_map_update_elem(loader_->maps().session_by_tgid, &leader, &ks, BPF_ANY) != 0)
        return {{"ok", false}, {"error", errno_message("sessions: cannot register the session's process", errno)}};
    spdlog::info("sessions: started session {} (agent {}, cgroup {})", s.id, agent, s.cgroup);
    // `ask`: whether this daemon holds the rule's files; a level-2 launcher
    // then leaves them to the broker instead of denying them in Landlock.
    json reply = {{"ok", true}, {"session", std::to_string(s.id)}, {"cgroup", s.cgroup}, {"ask", asks_ != nullptr}};
    // Level 2: the launcher's Landlock ruleset keeps the session out of
    // these (all but its own and those enclosing it).
    json others = json::array();
    for (const auto& [ws, ids] : workspaces_)
        if (s.workspace != ws && s.workspace.rfind(ws + "/", 0) != 0)
            others.push_back(ws);
    reply["other_workspaces"] = others;
    if (req.value("isolate", "") == "vm") {
        // `bulkhead run --isolate vm`: the session lives in a VM from its start.
        if (!vm_)
            return {{"ok", false}, {"error", "run: no microVMs: " + vm_unavailable_}};
        s.origin = "vm";
        s.level = "vm";
        bpf_map_delete_elem(loader_->maps().session_by_tgid, &leader);  // the launcher stays a host process
        auto& added = sessions_.add(std::move(s));
        auto note = vm_event(added.id, "Session promotion requested", "promote");
        note.detail = promote(added, "bulkhead run --isolate vm");
        publish(note);
        if (added.state != "promoting")
            return {{"ok", false}, {"error", note.detail}};
        return reply;
    }
    sessions_.add(std::move(s));
    // Re-resolve before the session's first process runs: what appeared
    // since the last tick (a user's /run/user/UID after a login) is
    // protected from its first syscall.
    rescan();
    save_sessions(/* replanned = */ true);
    return reply;
}

json Daemon::end_session(const json& req) {
    uint64_t id = std::stoull(req.value("session", "0"));
    auto* s = sessions_.find(id);
    if (!s)
        return {{"ok", false}, {"error", "sessions: no session " + std::to_string(id)}};
    s->state = "ended";
    if (asks_) {
        asks_->forget_session(s->id);
        arm_ask_timer();
    }
    // The kernel's state (the taint, the cgroup's session) goes with the last
    // process: a descendant that outlived the command keeps both.
    bool empty = !s->cgroup_id || ::rmdir(s->cgroup.c_str()) == 0 || errno == ENOENT;
    if (empty) {
        bpf_map_delete_elem(loader_->maps().session_state, &s->id);
        if (s->cgroup_id)
            bpf_map_delete_elem(loader_->maps().session_by_cg, &s->cgroup_id);
        spdlog::info("sessions: session {} ended (exit {})", id, req.value("exit_code", -1));
    } else {
        spdlog::warn("sessions: session {} ended (exit {}) with processes left in {}; they keep its taint and rules",
                     id, req.value("exit_code", -1), s->cgroup);
    }
    save_sessions();
    return {{"ok", true}};
}

namespace {

// Strings of a tool input longer than this are cut in events (a Write's
// whole file content does not belong in every SIEM record).
constexpr size_t kToolInputStringBytes = 1024;

json trimmed_input(const json& input, int depth = 0) {
    if (depth > 8)
        return "...";
    if (input.is_string()) {
        const auto& str = input.get_ref<const std::string&>();
        return hooks::shortened(str, kToolInputStringBytes);
    }
    if (input.is_object() || input.is_array()) {
        json out = input.is_object() ? json::object() : json::array();
        for (auto it = input.begin(); it != input.end(); ++it) {
            if (input.is_object())
                out[it.key()] = trimmed_input(it.value(), depth + 1);
            else
                out.push_back(trimmed_input(it.value(), depth + 1));
        }
        return out;
    }
    return input;
}

bool printable_id(const std::string& s, size_t max) {
    if (s.empty() || s.size() > max)
        return false;
    for (unsigned char ch : s)
        if (ch < 0x21 || ch > 0x7e)
            return false;
    return true;
}

}  // namespace

// The rules that fire on a tool call: the tool_call rules on the call
// itself, and the kernel's block and ask rules on each file it names, as
// the agent wrote it, as it resolves, and in the `~/` form rules use.
std::vector<std::pair<const rules::Rule*, std::string>> Daemon::judge_tool_call(const events::Event& call,
                                                                               hooks::ToolKind kind) {
    std::vector<std::pair<const rules::Rule*, std::string>> out;
    if (!policy_ || !policy_->hook_evaluator)
        return out;
    const auto& ev = *policy_->hook_evaluator;
    std::set<size_t> seen;
    auto run = [&](const events::Event& e, const std::string& what) {
        std::vector<size_t> fired;
        ev.evaluate(engine::EventFields(e), &fired);
        for (size_t i : fired)
            if (seen.insert(i).second)
                out.emplace_back(&policy_->rules.rules[i], what);
    };
    run(call, "");
    if (kind != hooks::ToolKind::kRead && kind != hooks::ToolKind::kWrite)
        return out;
    auto homes = guards::host_homes();
    for (const auto& given : hooks::tool_paths(call.tool_input)) {
        std::set<std::string> names{given};
        fs::path p(given);
        if (p.is_relative() && !call.cwd.empty())
            p = fs::path(call.cwd) / p;
        names.insert(p.lexically_normal().string());
        std::error_code ec;
        auto real = fs::weakly_canonical(p, ec);
        if (!ec)
            names.insert(real.string());
        for (const auto& n : std::set<std::string>(names))
            for (const auto& home : homes)
                if (n.size() > home.size() + 1 && n.compare(0, home.size(), home) == 0 && n[home.size()] == '/')
                    names.insert("~" + n.substr(home.size()));
        for (const auto& n : names) {
            events::Event open = call;
            open.kind = "file";
            open.evt_type = "openat";
            open.op = kind == hooks::ToolKind::kWrite ? "write" : "read";
            open.path = n;
            open.fd = 0;  // the open has not happened; any descriptor stands for success
            open.in_other_workspace = open.session && session::in_other_workspace(workspaces_, n, open.session);
            run(open, open.op + " of " + given);
        }
    }
    return out;
}

// `bulkhead hook AGENT` reports a tool call before it runs ("pre") and
// after ("post"). The session is the kernel's view of the caller's process,
// never a field of the request, so a hook speaks only for its own session.
json Daemon::tool_call(const Client& c, const json& req) {
    std::string phase = req.value("phase", "");
    std::string id = req.value("tool_use_id", "");
    std::string name = req.value("tool_name", "");
    if (phase != "pre" && phase != "post")
        return {{"ok", false}, {"error", "hooks: phase must be \"pre\" or \"post\""}};
    if (!printable_id(id, 256))
        return {{"ok", false}, {"error", "hooks: tool_use_id must be 1-256 printable ASCII characters"}};
    if (!printable_id(name, 256))
        return {{"ok", false}, {"error", "hooks: tool_name must be 1-256 printable ASCII characters"}};
    json input = req.contains("tool_input") ? req["tool_input"] : json::object();
    auto sid = session_of_pid(c.peer.pid);
    auto* session = sid ? sessions_.find(sid->id) : nullptr;
    int64_t now_ns = now_unix_ns();

    if (phase == "post") {
        // Events the kernel queued during the call are the feedback: take them first.
        ring_buffer__consume(ring_);
        json reply = {{"ok", true}, {"session", session ? std::to_string(session->id) : ""}, {"denied", json::array()}};
        if (!session)
            return reply;
        auto call = tool_calls_.end(session->id, id, now_ns);
        if (!call)
            return reply;
        reply["denied_count"] = call->denied;
        for (const auto& d : call->denials)
            reply["denied"].push_back(d);
        return reply;
    }

    events::Event e;
    e.kind = "tool";
    e.evt_type = "tool_call";
    e.time_unix_ns = now_ns;
    e.session = session ? session->id : 0;
    e.tgid = e.pid = static_cast<uint32_t>(c.peer.pid);
    e.uid = c.peer.uid;
    e.gid = c.peer.gid;
    e.comm = session::comm_of(e.tgid);
    e.cwd = req.value("cwd", "");
    e.tool_use_id = id;
    e.tool_name = name;
    e.tool_input = input;
    auto kind = hooks::classify_tool(name);
    auto fired = judge_tool_call(e, kind);
    // deny > ask > allow, as the agents rank their hooks' answers.
    std::string decision = "allow", reason, rule_name;
    int risk = 0;
    const rules::Rule* decisive = nullptr;
    for (const auto& [rule, what] : fired) {
        risk += rule->risk;
        bool block = rule->action == rules::Action::kBlock || rule->action == rules::Action::kKill;
        if (block && decision != "deny") {
            decision = "deny";
            decisive = rule;
            reason = what;
        } else if (rule->action == rules::Action::kAsk && decision == "allow") {
            decision = "ask";
            decisive = rule;
            reason = what;
        }
    }
    json updated_input;
    if (session && decision == "allow" && session->state == "promoted")
        if (auto routed = routed_to_vm(*session, kind, input, &reason)) {
            if (routed->is_null())
                decision = "deny";
            else
                updated_input = *routed;
        }
    if (decisive) {
        rule_name = decisive->name;
        reason = "bulkhead " + std::string(decision == "deny" ? "blocked" : "asks a human about") + " " + name +
                 (reason.empty() ? " call" : " (" + reason + ")") + " by rule '" + rule_name + "'" +
                 (decisive->desc.empty() ? "" : ": " + decisive->desc);
    }
    session::ToolCall call;
    call.id = id;
    call.name = name;
    call.summary = hooks::tool_summary(input);
    call.start_ns = now_ns;
    call.decision = decision;
    call.rule = rule_name;
    if (decision == "deny")
        call.end_ns = now_ns;  // it never runs: no PostToolUse will come
    if (session)
        tool_calls_.begin(session->id, std::move(call));

    e.tool_input = trimmed_input(input);
    e.verdict = decision == "allow" ? (fired.empty() ? "allow" : "audit") : decision;
    e.detail = hooks::tool_summary(input) + " -> " + decision + (rule_name.empty() ? "" : " by rule '" + rule_name + "'");
    if (!session)
        e.detail += " (the hook's process is in no bulkhead session)";
    if (!fired.empty()) {
        const rules::Rule* shown = decisive ? decisive : fired.front().first;
        e.rule = shown->name;
        e.priority = std::string(rules::to_string(shown->priority));
        e.tags = shown->tags;
        e.action = std::string(rules::to_string(shown->action));
    } else {
        e.priority = "Informational";
        e.tags = {"bulkhead", "tool_call"};
    }
    e.risk = risk;
    if (!updated_input.is_null())
        e.detail += " (runs in the session's microVM)";
    publish(std::move(e));
    json reply = {{"ok", true},
                  {"decision", decision},
                  {"reason", reason},
                  {"rule", rule_name},
                  {"session", session ? std::to_string(session->id) : ""}};
    if (!updated_input.is_null())
        reply["updated_input"] = updated_input;
    return reply;
}

// `bulkhead sessions show ID`: the session, its tool calls and the events
// still in memory (the events log keeps everything).
json Daemon::session_show(const json& req) {
    uint64_t id = std::stoull(req.value("session", "0"));
    auto* s = sessions_.find(id);
    if (!s)
        return {{"ok", false}, {"error", "sessions: no session " + std::to_string(id)}};
    json calls = json::array();
    if (const auto* list = tool_calls_.of(id))
        for (const auto& c : *list)
            calls.push_back({{"tool_use_id", c.id},
                             {"tool_name", c.name},
                             {"summary", c.summary},
                             {"start", events::rfc3339_ns(c.start_ns)},
                             {"end", c.end_ns ? events::rfc3339_ns(c.end_ns) : ""},
                             {"decision", c.decision},
                             {"rule", c.rule},
                             {"denied", c.denied},
                             {"audited", c.audited}});
    json evs = json::array();
    for (const auto& j : recent_)
        if (j["output_fields"].value("agent.session", "") == std::to_string(id))
            evs.push_back(j);
    return {{"ok", true}, {"session", session::to_json(*s)}, {"tool_calls", calls}, {"events", evs}};
}

// Resumes a frozen session: root, or the user who owns it.
json Daemon::thaw(const Client& c, const json& req) {
    uint64_t id = std::stoull(req.value("session", "0"));
    auto* s = sessions_.find(id);
    if (!s)
        return {{"ok", false}, {"error", "sessions: no session " + std::to_string(id)}};
    if (c.peer.uid != 0 && c.peer.uid != s->uid)
        return {{"ok", false}, {"error", "sessions: only root or the session's owner may thaw it"}};
    if (s->state != "frozen")
        return {{"ok", false}, {"error", "sessions: session " + std::to_string(id) + " is " + s->state + ", not frozen"}};
    std::string what = freeze(*s, /* frozen = */ false);
    if (s->state != "active")
        return {{"ok", false}, {"error", "sessions: " + what}};
    spdlog::info("sessions: {} (uid {})", what, c.peer.uid);
    save_sessions();
    return {{"ok", true}, {"detail", what}};
}

// ---------------------------------------------------------------------------
// microVMs

void Daemon::start_vms() {
    if (!opts_.config.vm.enabled) {
        vm_unavailable_ = "microVMs are disabled (vm.enabled: false)";
        return;
    }
    char exe[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    std::string err;
    if (n > 0) {
        self_exe_.assign(exe, static_cast<size_t>(n));
        vm_ = vm::VmHost::start(opts_.config.vm, self_exe_, &err);
    }
    if (!vm_) {
        vm_unavailable_ = err.empty() ? "cannot find the bulkhead binary" : err;
        spdlog::warn("vm: {}; promotion will freeze sessions instead", vm_unavailable_);
    }
}

// Freezes the session where it stands and hands it to vmguard; the rest
// happens in on_vm() when the VM is attached. Returns what was done.
std::string Daemon::promote(session::Session& s, const std::string& why) {
    if (s.state == "promoting" || s.state == "promoted")
        return "session " + std::to_string(s.id) + " is already " + s.state;
    std::string frozen = freeze(s, /* frozen = */ true);
    if (!vm_)
        return "promote requested by " + why + ", but no microVM is available (" + vm_unavailable_ + "); " + frozen +
               " pending a human decision (bulkhead sessions thaw " + std::to_string(s.id) + ")";
    std::string ws = s.workspace.empty() ? "" : fs::weakly_canonical(s.workspace).string();
    if (ws.empty() || ws == "/")
        return "promote requested by " + why + ", but session " + std::to_string(s.id) +
               " has no workspace to move into a microVM; " + frozen + " pending a human decision";
    struct stat st {};
    gid_t gid = ::stat(ws.c_str(), &st) == 0 ? st.st_gid : 0;
    s.state = "promoting";
    vm_->promote({s.id, ws, vm::secrets_below(ws), s.uid, gid});
    save_sessions();
    return "promoting session " + std::to_string(s.id) + " into a microVM (" + why + "): " + frozen +
           " until its workspace " + ws + " is attached";
}

void Daemon::on_vm() {
    for (auto& c : vm_->take()) {
        if (c.kind == "promote") {
            auto* s = sessions_.find(c.session);
            events::Event note = vm_event(c.session, "Session promoted to a microVM", "promote");
            note.priority = "Warning";
            if (!c.result.value("ok", false)) {
                note.priority = "Error";
                note.detail = "promotion of session " + std::to_string(c.session) +
                              " failed: " + c.result.value("error", "?") + "; the session stays frozen";
                if (s)
                    s->state = "frozen";
            } else if (s) {
                s->vm = c.result.value("vm", "");
                vm_exec_sockets_[s->id] = c.result.value("exec_socket", "");
                note.detail = "session " + std::to_string(s->id) + " promoted into microVM " + s->vm + " (accel " +
                              c.result.value("accel", "") + ", from " + c.result.value("source", "") + " in " +
                              std::to_string(c.result.value("ms", 0)) + " ms); workspace " + s->workspace +
                              " is read-only to it and its changes wait for review (bulkhead vm diff " +
                              std::to_string(s->id) + ")";
                confine_qemu(*s, c.result.value("qemu_pid", 0), &note.detail);
                if (c.result.contains("egress") && !c.result["egress"].empty())
                    note.detail += "; it reaches only " + c.result["egress"].dump() + " through bulkhead's egress proxy";
                else
                    note.detail += "; it has no network";
                bool hooks = tool_calls_.of(s->id) && !tool_calls_.of(s->id)->empty();
                const std::string& without = opts_.config.vm.without_hooks;
                std::string state = "frozen";
                if (s->origin == "vm") {
                    state = "promoted";  // nothing on the host to hold: the launcher runs its command in the VM
                    note.detail += "; the session runs in the VM from its start";
                } else if (hooks) {
                    freeze(*s, /* frozen = */ false);
                    state = "promoted";
                    note.detail += "; its agent has bulkhead's hooks: shell commands now run in the VM, host "
                                   "file writes are denied, and the agent is thawed";
                } else if (without == "relaunch" && s->origin == "run") {
                    // Marked before the kill: the launcher asks as soon as its child dies.
                    s->relaunch = true;
                    state = "promoted";
                    note.detail += "; no hooks route its commands, so its host processes are killed (" +
                                   kill_session(s, 0) + ") and bulkhead run starts its command again in the VM";
                } else if (without == "kill") {
                    note.detail += "; no hooks route its commands, so its host processes are killed: " +
                                   kill_session(s, 0);
                    state = s->state;
                } else {
                    note.detail += std::string("; no hooks route its commands") +
                                   (without == "relaunch" ? " and it has no launcher to start it again in the VM" : "") +
                                   ", so it stays frozen for a human (bulkhead sessions thaw " + std::to_string(s->id) +
                                   " resumes it on the host)";
                }
                s->state = state;
                if (int wall = opts_.config.vm.wall_time_seconds; wall > 0) {
                    s->vm_deadline_unix_ns = now_unix_ns() + int64_t{wall} * 1'000'000'000;
                    note.detail += "; the VM's wall time ends at " + events::rfc3339_ns(s->vm_deadline_unix_ns);
                }
            }
            spdlog::warn("vm: {}", note.detail);
            publish(std::move(note));
            save_sessions();
            continue;
        }
        if (c.kind == "egress") {
            // A connection the VM asked bulkhead's proxy for (vm.egress).
            bool allowed = c.result.value("allowed", false);
            events::Event note = vm_event(c.session, allowed ? "microVM egress allowed" : "microVM egress denied",
                                          "connect");
            note.priority = allowed ? "Notice" : "Warning";
            note.verdict = allowed ? "allow" : "deny";
            note.rip = c.result.value("address", "");
            note.rport = static_cast<uint16_t>(c.result.value("port", 0));
            note.sip_name = c.result.value("host", "");
            std::string target = c.result.value("host", "") + ":" + std::to_string(note.rport);
            note.detail = c.result.value("method", "") + " " + target +
                          (note.rip.empty() || note.rip == note.sip_name ? "" : " (" + note.rip + ")") + ": " +
                          c.result.value("reason", "");
            if (!c.result.value("error", "").empty())
                note.detail += "; " + c.result.value("error", "");
            publish(std::move(note));
            continue;
        }
        if (c.kind == "discard" && c.result.value("ok", false)) {
            vm_exec_sockets_.erase(c.session);
            std::string vcg = cgroup_root_ + "/bulkhead/vm-" + std::to_string(c.session);
            struct stat st {};
            if (::stat(vcg.c_str(), &st) == 0) {
                uint64_t ino = st.st_ino;
                bpf_map_delete_elem(loader_->maps().session_by_cg, &ino);
                ::rmdir(vcg.c_str());
            }
            if (auto* s = sessions_.find(c.session)) {
                s->vm.clear();
                if (s->state == "promoted")
                    s->state = "frozen";
                save_sessions();
            }
        }
        auto it = clients_.find(c.client_fd);
        bool connected = it != clients_.end() && it->second.serial == c.client_serial;
        if (c.result.contains("applied")) {
            events::Event note = vm_event(c.session, "microVM changes applied", "apply");
            note.uid = connected ? it->second.peer.uid : 0;
            note.priority = c.result["refused"].empty() ? "Notice" : "Warning";
            note.detail = std::to_string(c.result["applied"].size()) + " changes of session " +
                          std::to_string(c.session) + " applied to the host, " +
                          std::to_string(c.result["refused"].size()) + " refused for review, " +
                          std::to_string(c.result["failed"].size()) + " failed";
            for (const auto& r : c.result["refused"])
                note.detail += "; refused " + r.value("path", "") + " (" + r.value("why", "") + ")";
            publish(std::move(note));
        }
        if (connected)
            send(it->second, c.result);
    }
}

// QEMU moves into a cgroup of its own that the kernel attributes to the
// session: its file and network access meets the session's policy, so a VMM
// escape still does. (Not the session's own cgroup: freezing the session
// must not freeze its VM.)
void Daemon::confine_qemu(const session::Session& s, pid_t qemu, std::string* detail) {
    if (cgroup_root_.empty() || qemu <= 0)
        return;
    std::string vcg = cgroup_root_ + "/bulkhead/vm-" + std::to_string(s.id);
    struct stat st {};
    std::ofstream procs;
    if (::mkdir(vcg.c_str(), 0755) == 0 || errno == EEXIST) {
        procs.open(vcg + "/cgroup.procs");
        procs << qemu << std::flush;
    }
    if (!procs || ::stat(vcg.c_str(), &st) != 0) {
        *detail += "; QEMU could not be moved into " + vcg + " (" + std::strerror(errno) + ")";
        return;
    }
    uint64_t ino = st.st_ino;
    bh_session ks{s.id, s.agent_kind, 0, ino};
    if (bpf_map_update_elem(loader_->maps().session_by_cg, &ino, &ks, BPF_ANY) != 0) {
        *detail += "; " + errno_message("cannot register QEMU's cgroup " + vcg, errno);
        return;
    }
    *detail += "; QEMU (pid " + std::to_string(qemu) + ") runs in " + vcg + " under the session's policy";
}

bool Daemon::vm_expired(const session::Session& s) const {
    return !s.vm.empty() && s.vm_deadline_unix_ns && now_unix_ns() >= s.vm_deadline_unix_ns;
}

// A VM past its wall time (vm.wall_time_seconds) runs nothing more: its exec
// socket goes back to root, its commands are killed (the guest's command
// cgroup), the session is frozen on the host and a human decides. Its changes
// stay for vm diff / apply / discard. Checked every rescan tick.
void Daemon::expire_vms() {
    if (!vm_)
        return;
    for (auto [id, sock] : std::map(vm_exec_sockets_)) {
        auto* found = sessions_.find(id);
        if (!found || !vm_expired(*found))
            continue;
        auto& s = *found;
        vm_exec_sockets_.erase(id);
        std::string revoked = ::chown(sock.c_str(), 0, 0) == 0 && ::chmod(sock.c_str(), 0600) == 0
                                  ? "new commands are refused"
                                  : errno_message("could not take back " + sock, errno);
        vm_->job(id, -1, 0, [](vmguard::Vm& vm) {
            vmguard::ExecRequest kill;
            kill.argv = {"/bin/sh", "-c", "echo 1 > /sys/fs/cgroup/commands/cgroup.kill"};
            kill.timeout = std::chrono::seconds(10);
            auto r = vm.exec(kill, [](const std::string&) {}, [](const std::string&) {});
            return json{{"ok", r.error.empty()}, {"error", r.error}};
        });
        events::Event note = vm_event(id, "microVM wall time ran out", "expire");
        note.priority = "Warning";
        note.detail = "the microVM " + s.vm + " of session " + std::to_string(id) + " reached its wall time of " +
                      std::to_string(opts_.config.vm.wall_time_seconds) + " s: its commands are killed, " + revoked;
        if (s.state == "promoted" && s.origin == "run" && !s.relaunch)
            note.detail += ", " + freeze(s, /* frozen = */ true) + " on the host";
        note.detail += "; its changes wait for review (bulkhead vm diff " + std::to_string(id) + ")";
        spdlog::warn("vm: {}", note.detail);
        publish(std::move(note));
        save_sessions();
    }
}

// Shell calls of a promoted session run in its VM; host file writes are
// denied (nullopt: not a call this changes; null json: deny, with *reason).
std::optional<json> Daemon::routed_to_vm(const session::Session& s, hooks::ToolKind kind, const json& input,
                                         std::string* reason) {
    if (vm_expired(s) && (kind == hooks::ToolKind::kShell || hooks::write_like(kind))) {
        *reason = "bulkhead: session " + std::to_string(s.id) +
                  " was promoted into a microVM whose wall time ran out; nothing more runs there or writes on the "
                  "host until a human reviews its changes";
        return json(nullptr);
    }
    auto sock = vm_exec_sockets_.find(s.id);
    if (sock == vm_exec_sockets_.end())
        return std::nullopt;
    if (kind == hooks::ToolKind::kShell && input.is_object() && input.contains("command") &&
        input["command"].is_string()) {
        std::string cmd = input["command"];
        std::string quoted = "'";
        for (char ch : cmd)
            quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
        quoted += "'";
        json updated = input;
        updated["command"] = self_exe_ + " --socket " +
                             opts_.config.socket + " vm exec --session " + std::to_string(s.id) + " -- /bin/sh -c " +
                             quoted;
        *reason = "bulkhead: session " + std::to_string(s.id) + " was promoted into a microVM; this command runs there";
        return updated;
    }
    if (hooks::write_like(kind)) {
        *reason = "bulkhead: session " + std::to_string(s.id) +
                  " was promoted into a microVM, so files on the host are read-only to it. Make the change with a "
                  "shell command instead: shell commands run in the VM's copy of the workspace, and a human "
                  "reviews and applies the result.";
        return json(nullptr);
    }
    return std::nullopt;
}

void Daemon::vm_request(Client& c, const std::string& op, const json& req) {
    uint64_t id = std::stoull(req.value("session", "0"));
    auto* s = sessions_.find(id);
    if (!s)
        return send(c, {{"ok", false}, {"error", "vm: no session " + std::to_string(id)}});
    auto in_session = session_of_pid(c.peer.pid);
    if (op == "vm_exec_socket") {
        // The session itself runs commands in its VM (that is the point);
        // outside it, root or the session's owner.
        bool own = in_session && in_session->id == id;
        if (!own && (in_session || (c.peer.uid != 0 && c.peer.uid != s->uid)))
            return send(c, {{"ok", false}, {"error", "vm: only session " + std::to_string(id) +
                                                         ", its owner or root may run commands in its VM"}});
        if (vm_expired(*s))
            return send(c, {{"ok", false}, {"error", "vm: the microVM of session " + std::to_string(id) +
                                                         " reached its wall time (vm.wall_time_seconds); review its "
                                                         "changes with bulkhead vm diff " + std::to_string(id)}});
        auto it = vm_exec_sockets_.find(id);
        if (it == vm_exec_sockets_.end())
            return send(c, {{"ok", false}, {"error", "vm: session " + std::to_string(id) + " has no microVM (state " +
                                                         s->state + ")"}});
        return send(c, {{"ok", true}, {"exec_socket", it->second}, {"timeout_s", opts_.config.vm.exec_timeout_seconds}});
    }
    // Review and promotion are for humans: never from inside a session.
    if (in_session || peer_in_session(c.peer))
        return send(c, {{"ok", false}, {"error", "vm: refused: the caller runs inside an agent session"}});
    if (c.peer.uid != 0 && c.peer.uid != s->uid)
        return send(c, {{"ok", false}, {"error", "vm: only root or the session's owner may do this"}});
    if (op == "promote") {
        events::Event note = vm_event(id, "Session promotion requested", "promote");
        note.detail = promote(*s, "uid " + std::to_string(c.peer.uid) + " (bulkhead sessions promote)");
        bool ok = s->state == "promoting";
        publish(note);
        return send(c, {{"ok", ok}, {"detail", note.detail}, {"error", ok ? "" : note.detail}});
    }
    if (!vm_)
        return send(c, {{"ok", false}, {"error", "vm: no microVMs: " + vm_unavailable_}});
    if (op == "vm_discard") {
        events::Event note = vm_event(id, "microVM discarded", "discard");
        note.detail = "uid " + std::to_string(c.peer.uid) + " discarded the microVM of session " + std::to_string(id) +
                      " and every change in it";
        publish(note);
        return vm_->discard(id, c.fd.get(), c.serial);
    }
    if (op == "vm_diff")
        return vm_->job(id, c.fd.get(), c.serial, [](vmguard::Vm& vm) {
            std::vector<vmguard::Change> changes;
            if (auto e = vm.diff(&changes); !e.empty())
                return json{{"ok", false}, {"error", e}};
            json arr = json::array();
            for (const auto& ch : changes)
                arr.push_back({{"op", std::string(1, ch.op)},
                               {"type", std::string(1, ch.type)},
                               {"path", ch.path},
                               {"size", ch.size},
                               {"mode", ch.mode},
                               {"target", ch.target},
                               {"review", vmguard::review_required(ch.path)}});
            return json{{"ok", true}, {"workspace", vm.workspace()}, {"changes", arr}};
        });
    if (op == "vm_apply") {
        vmguard::ApplyOptions o;
        if (req.contains("paths") && req["paths"].is_array())
            for (const auto& p : req["paths"])
                if (p.is_string())
                    o.paths.push_back(p);
        o.allow_protected = req.value("allow_protected", false);
        // on_vm publishes what was applied and refused when the job is done.
        return vm_->job(id, c.fd.get(), c.serial, [o](vmguard::Vm& vm) {
            std::vector<vmguard::Change> changes;
            if (auto e = vm.diff(&changes); !e.empty())
                return json{{"ok", false}, {"error", e}};
            auto r = vmguard::apply(vm, changes, vm.workspace(), o);
            json refused = json::array(), failed = json::array();
            for (const auto& [p, why] : r.refused)
                refused.push_back({{"path", p}, {"why", why}});
            for (const auto& [p, why] : r.failed)
                failed.push_back({{"path", p}, {"why", why}});
            return json{{"ok", r.failed.empty()},
                        {"applied", r.applied},
                        {"refused", refused},
                        {"failed", failed},
                        {"error", r.failed.empty() ? "" : "vm: some changes could not be applied"}};
        });
    }
    send(c, {{"ok", false}, {"error", "vm: unknown op '" + op + "'"}});
}

void Daemon::handle_request(Client& c, const std::string& line) {
    json req = json::parse(line, nullptr, false);
    if (req.is_discarded() || !req.is_object() || !req.contains("op") || !req["op"].is_string())
        return send(c, {{"ok", false}, {"error", "control: malformed request (want a JSON object with \"op\")"}});
    std::string op = req["op"];
    try {
        if (op == "tool_call")
            return send(c, tool_call(c, req));
        if (c.hook)
            return send(c, {{"ok", false}, {"error", "hooks: the hook socket serves only tool_call"}});
        if (op == "session")
            return send(c, session_show(req));
        if (op == "status")
            return send(c, status());
        if (op == "sessions") {
            json pending = pending_json(), arr = json::array();
            for (const auto& [id, s] : sessions_.all()) {
                json j = session::to_json(s);
                j["pending"] = json::array();
                for (const auto& a : pending)
                    if (a["session"] == j["id"])
                        j["pending"].push_back(a);
                if (!j["pending"].empty() && s.state == "active")
                    j["state"] = "asking";
                arr.push_back(std::move(j));
            }
            return send(c, {{"ok", true}, {"sessions", arr}, {"pending", pending}});
        }
        if (op == "events") {
            std::optional<uint64_t> filter;
            if (req.contains("session") && req["session"].is_string())
                filter = std::stoull(req["session"].get<std::string>());
            send(c, {{"ok", true}});
            for (const auto& j : recent_) {
                if (filter && j["output_fields"].value("agent.session", "") != std::to_string(*filter))
                    continue;
                send(c, j);
            }
            if (req.value("follow", false)) {
                c.subscribed = true;
                c.session_filter = filter;
            } else {
                send(c, {{"end", true}});
            }
            return;
        }
        if (op.starts_with("vm_") || op == "promote")
            return vm_request(c, op, req);
        if (op == "start_session" || op == "end_session" || op == "reload" || op == "decide" || op == "thaw") {
            if (peer_in_session(c.peer) && !(op == "end_session" && is_launcher_of(c.peer, req)))
                return send(c, {{"ok", false},
                                {"error", "control: refused: the caller runs inside an agent session"}});
            if (op == "start_session")
                return send(c, start_session(c, req));
            if (op == "end_session")
                return send(c, end_session(req));
            if (op == "decide")
                return send(c, decide(c, req));
            if (op == "thaw")
                return send(c, thaw(c, req));
            std::string err;
            if (!reload(&err))
                return send(c, {{"ok", false}, {"error", err}});
            return send(c, {{"ok", true}});
        }
        send(c, {{"ok", false}, {"error", "control: unknown op '" + op + "'"}});
    } catch (const std::exception& e) {
        send(c, {{"ok", false}, {"error", std::string("control: bad request: ") + e.what()}});
    }
}

int Daemon::run() {
    if (geteuid() != 0)
        throw FatalError("daemon: must run as root (it loads BPF programs)");
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    hostname_ = host;
    cgroup_root_ = session::cgroup2_root();
    if (cgroup_root_.empty())
        spdlog::warn("sessions: no cgroup v2 mount found; `bulkhead run` will fail");

    start_exporters();  // a bad sink config fails before anything is loaded
    load_guards();
    for (const auto& a : opts_.config.agents)
        sessions_.agent_kind(a.name);
    restore_sessions();
    setup_agents();
    start_asks();
    start_pods();
    start_dns();
    std::string err;
    if (!reload(&err))
        throw FatalError(err);

    if (!opts_.config.events_log.empty()) {
        std::error_code ec;
        fs::create_directories(fs::path(opts_.config.events_log).parent_path(), ec);
        events_log_.open(opts_.config.events_log, std::ios::app);
        if (!events_log_)
            throw FatalError(errno_message("daemon: cannot open events log " + opts_.config.events_log, errno));
    }

    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    ring_ = ring_buffer__new(loader_->maps().events, &Daemon::on_ring_event, this, nullptr);
    if (!ring_)
        throw FatalError(errno_message("events: cannot open the ring buffer", errno));
    listen_ = control::listen_unix(opts_.config.socket);
    if (!opts_.config.hook_socket.empty())
        hook_listen_ = control::listen_unix(opts_.config.hook_socket, /* mode = */ 0666);

    sigset_t mask = loop_signals();
    signal(SIGPIPE, SIG_IGN);
    signal_fd_ = Fd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    timer_ = Fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    itimerspec its{};
    its.it_interval.tv_sec = opts_.config.rescan_seconds;
    its.it_value.tv_sec = opts_.config.rescan_seconds;
    timerfd_settime(timer_.get(), 0, &its, nullptr);

    auto add = [&](int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
    };
    int ring_fd = ring_buffer__epoll_fd(ring_);
    add(ring_fd);
    add(listen_.get());
    if (hook_listen_.valid())
        add(hook_listen_.get());
    add(signal_fd_.get());
    add(timer_.get());
    if (dns_)
        add(dns_->fd());
    if (asks_) {
        add(asks_->fd());
        add(ask_timer_.get());
    }
    start_vms();
    if (vm_)
        add(vm_->fd());

    // Events the kernel queued while no daemon was running come first.
    ring_buffer__consume(ring_);
    const char* load_state = loader_->state() == guards::LoadState::kAdopted ? "adopted" : "fresh";
    spdlog::info("daemon: ready: level={} state={} socket={}", level_, load_state, opts_.config.socket);
    const std::string status = "STATUS=enforcing at " + level_ + " (" + load_state + ")";
    auto tell_manager = [](const std::string& state) {
        std::string e;
        if (!notify_service_manager(state, &e))
            spdlog::warn("daemon: {}", e);
    };
    auto heartbeat = [&] {
        exporters::record_heartbeat(metrics_, static_cast<double>(now_unix_ns()) / 1e9, opts_.config.rescan_seconds);
    };
    heartbeat();
    exporters::record_ready(metrics_, true);
    tell_manager("READY=1\n" + status);

    epoll_event evs[64];
    while (!stop_) {
        int n = epoll_wait(epoll_.get(), evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; ++i) {
            int fd = evs[i].data.fd;
            if (fd == ring_fd) {
                ring_buffer__consume(ring_);
            } else if (fd == listen_.get()) {
                accept_clients(listen_.get(), /* hook = */ false);
            } else if (hook_listen_.valid() && fd == hook_listen_.get()) {
                accept_clients(hook_listen_.get(), /* hook = */ true);
            } else if (fd == signal_fd_.get()) {
                signalfd_siginfo si{};
                while (::read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        tell_manager("RELOADING=1\nSTATUS=reloading the rules");
                        std::string e;
                        if (reload(&e))
                            spdlog::info("daemon: rules reloaded on SIGHUP");
                        else
                            spdlog::error("daemon: reload failed, the running policy stays: {}", e);
                        tell_manager("READY=1\n" + status);
                    } else {
                        stop_ = true;
                    }
                }
            } else if (dns_ && fd == dns_->fd()) {
                on_dns();
            } else if (vm_ && fd == vm_->fd()) {
                on_vm();
            } else if (asks_ && fd == asks_->fd()) {
                asks_->on_readable();
                arm_ask_timer();
            } else if (asks_ && fd == ask_timer_.get()) {
                uint64_t ticks;
                while (::read(ask_timer_.get(), &ticks, sizeof(ticks)) > 0) {
                }
                asks_->expire();
                arm_ask_timer();
            } else if (fd == timer_.get()) {
                uint64_t ticks;
                while (::read(timer_.get(), &ticks, sizeof(ticks)) > 0) {
                }
                heartbeat();
                rescan();
                expire_vms();
                report_drops();
                export_stats();
            } else {
                on_client(fd, evs[i].events);
            }
        }
    }
    exporters::record_ready(metrics_, false);
    tell_manager("STOPPING=1\nSTATUS=stopping; the pinned programs keep enforcing");
    if (asks_)
        asks_->deny_all("the daemon is stopping");  // answered, never left to the kernel's ALLOW
    ring_buffer__consume(ring_);
    ring_buffer__free(ring_);
    vm_.reset();  // every microVM stops; their supervisors remove what they left
    if (hub_)
        hub_->close();  // bounded; what is left stays in the spools for the next start
    ::unlink(opts_.config.socket.c_str());
    if (hook_listen_.valid())
        ::unlink(opts_.config.hook_socket.c_str());
    spdlog::info("daemon: stopping; the pinned programs keep enforcing (`bulkhead unload` removes them)");
    return 0;
}

// A daemon that dies must say why in its log: the signal and the stack,
// written with async-signal-safe calls only, then the default action (core).
void on_fatal_signal(int sig) {
    char line[64];
    int n = snprintf(line, sizeof(line), "bulkhead daemon: fatal signal %d (%s); stack:\n", sig,
                     sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    if (n > 0)
        (void)!::write(STDERR_FILENO, line, static_cast<size_t>(n));
    void* frames[64];
    backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
    ::raise(sig);  // SA_RESETHAND restored the default action
}

void report_fatal_signals() {
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc now, not inside the handler
    struct sigaction sa{};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT})
        sigaction(sig, &sa, nullptr);
}

}  // namespace

int run(const Options& opts) {
    report_fatal_signals();
    // Blocked before any thread starts (sinks, DNS, microVMs), so every
    // thread inherits the mask: a SIGHUP must reach the loop's signalfd, not
    // a worker thread whose default action would end the daemon.
    sigset_t mask = loop_signals();
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    Daemon d(opts);
    return d.run();
}

}  // namespace bulkhead::daemon
