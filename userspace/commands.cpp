// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <iostream>

#include "control/protocol.h"
#include "exporters/audit/verify.h"
#include "exporters/grpc/grpc_client.h"
#include "error.h"
#include "guards/loader.h"
#include "hooks/hook.h"
#include "hooks/install.h"

namespace bulkhead::commands {

using nlohmann::json;

namespace {

std::string short_time(const std::string& rfc3339) {
    return rfc3339.size() >= 23 ? rfc3339.substr(11, 12) : rfc3339;
}

// The human form of one Falco-shaped event.
std::string text_of(const json& e) {
    const auto& f = e.value("output_fields", json::object());
    std::string verdict = f.value("agent.verdict", "");
    std::string tag = verdict == "deny" ? "DENY " : verdict == "audit" ? "AUDIT" : verdict == "ask" ? "ASK  " : "INFO ";
    std::string line = short_time(e.value("time", "")) + " " + tag + " " + e.value("rule", "") +
                       " | " + f.value("agent.op", "") + " " +
                       (f.contains("fd.name") ? f.value("fd.name", "") : f.value("agent.detail", "")) +
                       " | session=" + f.value("agent.session", "") + " agent=" +
                       f.value("agent.name", "") + " proc=" + f.value("proc.name", "") +
                       "(" + std::to_string(f.value("proc.pid", 0)) + ")";
    std::string res = f.value("evt.res", "");
    if (!res.empty() && res != "SUCCESS")
        line += " -> " + res;
    return line;
}

}  // namespace

int status(const std::string& socket, bool as_json) {
    json st;
    try {
        st = control::Client::connect(socket).request({{"op", "status"}});
    } catch (const FatalError& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    if (as_json) {
        std::cout << st.dump(2) << "\n";
        return 0;
    }
    std::cout << "daemon: running pid=" << st.value("pid", 0) << " level=" << st.value("level", "")
              << " state=" << st.value("state", "") << "\n"
              << "programs: " << st["programs"].size() << ", rules: " << st.value("rules", 0)
              << ", protected inodes: " << st.value("protected_inodes", 0)
              << ", active sessions: " << st.value("sessions_active", 0) << "\n"
              << "kernel: " << st.value("denied", 0) << " denied, " << st.value("audited", 0)
              << " audited, " << st.value("events", 0) << " events, " << st.value("drops", 0)
              << " dropped\n";
    const json& vm = st["vm"];
    if (vm.value("available", true))
        std::cout << "microVMs: accel " << vm.value("accel", "") << " (" << vm.value("accel_why", "") << "), pool "
                  << vm.value("pool_ready", 0) << "/" << vm.value("pool_size", 0) << " ready\n";
    else
        std::cout << "microVMs: unavailable: " << vm.value("why", "") << "\n";
    return 0;
}

int events(const std::string& socket, bool follow, bool as_json,
           const std::optional<std::string>& session) {
    auto c = control::Client::connect(socket);
    json req = {{"op", "events"}, {"follow", follow}};
    if (session)
        req["session"] = *session;
    auto head = c.request(req);
    if (!head.value("ok", false))
        throw FatalError(head.value("error", "events: refused"));
    while (auto e = c.next()) {
        if (e->contains("end"))
            break;
        std::cout << (as_json ? e->dump() : text_of(*e)) << std::endl;
    }
    return 0;
}

int sessions(const std::string& socket, bool as_json) {
    auto r = control::Client::connect(socket).request({{"op", "sessions"}});
    if (!r.value("ok", false))
        throw FatalError(r.value("error", "sessions: refused"));
    if (as_json) {
        std::cout << r["sessions"].dump(2) << "\n";
        return 0;
    }
    std::printf("%-20s %-12s %-6s %-19s %-16s %-7s %5s %6s %6s  %s\n", "SESSION", "AGENT", "UID", "START",
                "LEVEL", "STATE", "RISK", "DENIED", "AUDIT", "WORKSPACE");
    for (const auto& s : r["sessions"])
        std::printf("%-20s %-12s %-6u %-19s %-16s %-7s %5lld %6llu %6llu  %s\n", s.value("id", "").c_str(),
                    s.value("agent", "").c_str(), s.value("uid", 0u), s.value("start", "").substr(0, 19).c_str(),
                    s.value("level", "").empty() ? "(daemon's)" : s.value("level", "").c_str(),
                    s.value("state", "").c_str(), static_cast<long long>(s.value("risk", 0ll)),
                    s.value("denied", 0ull), s.value("audited", 0ull), s.value("workspace", "").c_str());
    const auto& pending = r.value("pending", json::array());
    if (!pending.empty()) {
        std::printf("\nWAITING FOR YOU (bulkhead approve ID | bulkhead deny ID, add --session for the rest of it):\n");
        std::printf("%-6s %-22s %-8s %-5s %-6s  %s\n", "ID", "SESSION", "PID", "OP", "LEFT", "OBJECT (RULE)");
        for (const auto& a : pending)
            std::printf("%-6s %-22s %-8d %-5s %4llds  %s ('%s' by %s)\n", a.value("id", "").c_str(),
                        a.value("session", "").c_str(), a.value("pid", 0), a.value("op", "").c_str(),
                        static_cast<long long>(a.value("expires_in_s", 0ll)), a.value("path", "").c_str(),
                        a.value("rule", "").c_str(), a.value("comm", "").c_str());
    }
    return 0;
}

namespace {

// One event of a session's timeline: time, verdict, rule, what, and how it
// moved the session's risk.
void print_timeline_event(const json& e, const char* indent) {
    const auto& f = e.value("output_fields", json::object());
    std::string line = indent + text_of(e);
    int64_t risk = f.value("agent.risk", int64_t{0});
    if (risk)
        line += "   [risk +" + std::to_string(risk) + " -> " + std::to_string(f.value("agent.session_risk", int64_t{0})) + "]";
    std::printf("%s\n", line.c_str());
}

}  // namespace

int session_show(const std::string& socket, const std::string& id, bool as_json) {
    auto r = control::Client::connect(socket).request({{"op", "session"}, {"session", id}});
    if (!r.value("ok", false))
        throw FatalError(r.value("error", "sessions: refused"));
    if (as_json) {
        std::cout << r.dump(2) << "\n";
        return 0;
    }
    const auto& s = r["session"];
    std::printf("Session %s: agent %s, uid %u, %s, state %s, risk %lld (%llu denied, %llu audited)\n",
                s.value("id", "").c_str(), s.value("agent", "").c_str(), s.value("uid", 0u),
                s.value("level", "").empty() ? "the daemon's level" : ("level " + s.value("level", "")).c_str(),
                s.value("state", "").c_str(), static_cast<long long>(s.value("risk", 0ll)), s.value("denied", 0ull),
                s.value("audited", 0ull));
    std::printf("  started %s in %s\n", s.value("start", "").c_str(), s.value("workspace", "").c_str());
    if (s.value("tainted", false))
        std::printf("  tainted: %s\n", s.value("taint", "").c_str());
    const auto& events = r["events"];
    auto tool_of = [](const json& e) { return e["output_fields"].value("agent.tool_use_id", ""); };
    auto is_call = [](const json& e) { return e["output_fields"].value("evt.type", "") == "tool_call"; };
    const auto& calls = r["tool_calls"];
    if (!calls.empty())
        std::printf("\nTOOL CALLS (what the agent asked for, and what the kernel did under each)\n");
    for (const auto& c : calls) {
        std::string hook = c.value("decision", "");
        if (!c.value("rule", "").empty())
            hook += " by rule '" + c.value("rule", "") + "'";
        std::printf("%s  %s %s  [%s]  hook: %s%s\n", short_time(c.value("start", "")).c_str(),
                    c.value("tool_name", "").c_str(), c.value("summary", "").c_str(), c.value("tool_use_id", "").c_str(),
                    hook.c_str(), c.value("end", "").empty() ? "  (running)" : "");
        for (const auto& e : events)
            if (tool_of(e) == c.value("tool_use_id", "") && (!is_call(e) || e.value("rule", "") != ""))
                print_timeline_event(e, "      ");
    }
    bool header = false;
    for (const auto& e : events) {
        if (!tool_of(e).empty())
            continue;
        if (!header)
            std::printf("\nOUTSIDE TOOL CALLS\n");
        header = true;
        print_timeline_event(e, "  ");
    }
    return 0;
}

int session_thaw(const std::string& socket, const std::string& id) {
    auto r = control::Client::connect(socket).request({{"op", "thaw"}, {"session", id}});
    if (!r.value("ok", false))
        throw FatalError(r.value("error", "sessions: refused"));
    std::cout << r.value("detail", "thawed") << "\n";
    return 0;
}

int hook(const std::string& agent_name, const std::string& socket, const std::string& unreachable) {
    auto agent = hooks::agent_from_name(agent_name);
    if (!agent)
        throw FatalError("hook: unknown agent '" + agent_name + "' (claude-code, codex or gemini)", 2);
    auto policy = hooks::unreachable_from_name(unreachable);
    if (!policy)
        throw FatalError("hook: --unreachable takes deny-writes, deny or allow, not '" + unreachable + "'", 2);
    auto reply = hooks::run_hook({*agent, socket, *policy}, std::cin);
    std::cout << reply.out << std::flush;
    std::cerr << reply.err << std::flush;
    return reply.exit_code;
}

int install_hooks(const InstallHooksOptions& o) {
    hooks::InstallOptions io;
    auto agent = hooks::agent_from_name(o.agent);
    if (!agent)
        throw FatalError("install-hooks: unknown agent '" + o.agent + "' (claude-code, codex or gemini)", 2);
    auto scope = hooks::scope_from_name(o.scope);
    if (!scope)
        throw FatalError("install-hooks: --scope takes user, project or managed, not '" + o.scope + "'", 2);
    if (!hooks::unreachable_from_name(o.unreachable))
        throw FatalError("install-hooks: --unreachable takes deny-writes, deny or allow, not '" + o.unreachable + "'", 2);
    io.agent = *agent;
    io.scope = *scope;
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        throw FatalError(errno_message("install-hooks: cannot find bulkhead's own path", errno));
    std::string exe(self, static_cast<size_t>(n));
    if (exe.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-") != std::string::npos)
        throw FatalError("install-hooks: bulkhead's path '" + exe + "' has characters an agent's shell would "
                         "interpret; install bulkhead under a plain path such as /usr/sbin");
    io.command = exe + " hook " + o.agent;
    if (o.hook_socket != "/run/bulkhead/hook.sock")
        io.command += " --hook-socket " + o.hook_socket;
    if (o.unreachable != "deny-writes")
        io.command += " --unreachable " + o.unreachable;
    io.project_dir = o.project_dir;
    if (io.project_dir.empty()) {
        char cwd[4096];
        if (::getcwd(cwd, sizeof cwd))
            io.project_dir = cwd;
    }
    const char* home = std::getenv("HOME");
    io.home = home ? home : "";
    for (const char* var : {"CLAUDE_CONFIG_DIR", "CODEX_HOME"})
        if (const char* v = std::getenv(var))
            io.env[var] = v;
    auto out = o.uninstall ? hooks::uninstall_hooks(io) : hooks::install_hooks(io);
    if (!out.ok())
        throw FatalError(out.error);
    std::cout << out.result->message << "\n";
    return 0;
}

int decide(const std::string& socket, const std::string& id, bool allow, bool for_session) {
    auto r = control::Client::connect(socket).request(
        {{"op", "decide"}, {"id", id}, {"decision", allow ? "allow" : "deny"}, {"scope", for_session ? "session" : "once"}});
    if (!r.value("ok", false))
        throw FatalError(r.value("error", "ask: refused"));
    std::cout << (allow ? "approved " : "denied ") << id
              << (for_session ? " and everything like it for the rest of session " + r.value("session", "") : "")
              << "\n";
    return 0;
}

int unload(const std::string& pin_root) {
    int n = guards::unload(pin_root);
    std::cout << (n ? "unload: removed " + std::to_string(n) + " pinned objects from " + pin_root +
                          "; enforcement stopped"
                    : "unload: nothing was loaded at " + pin_root)
              << "\n";
    return 0;
}

int reload(const std::string& socket) {
    auto r = control::Client::connect(socket).request({{"op", "reload"}});
    if (!r.value("ok", false))
        throw FatalError(r.value("error", "reload: refused"));
    std::cout << "rules reloaded\n";
    return 0;
}

int audit_verify(const std::string& log, const std::string& public_key, const std::string& checkpoint, bool json) {
    namespace audit = exporters::audit;
    audit::VerifyOptions options;
    if (!checkpoint.empty()) {
        auto parsed = audit::parse_checkpoint(checkpoint);
        if (!parsed) {
            std::cerr << "audit verify: --checkpoint: " << parsed.error() << "\n";
            return 2;
        }
        options.expect = *parsed;
    }
    if (::access(log.c_str(), R_OK) != 0) {
        std::cerr << "audit verify: cannot read " << log << ": " << std::strerror(errno) << "\n";
        return 2;
    }
    auto report = audit::verify(log, public_key.empty() ? audit::default_public_key_path(log) : public_key, options);
    if (!report) {
        std::cerr << "audit verify: " << report.error() << "\n";
        return 2;
    }
    if (json)
        std::cout << report->to_json().dump(2) << "\n";
    else
        std::cout << report->to_text() << "\n";
    return report->ok ? 0 : 1;
}

int events_grpc(const GrpcEventsOptions& o, bool json) {
    exporters::rpc::ClientOptions client;
    client.address = o.address;
    client.ca = o.ca;
    client.cert = o.cert;
    client.key = o.key;
    client.server_name = o.server_name;
    exporters::rpc::ClientFilter filter{o.min_priority, o.rules, o.sessions, o.verdicts, o.alerts_only};
    return exporters::rpc::subscribe_and_print(client, filter, json, std::cout, std::cerr);
}

}  // namespace bulkhead::commands
