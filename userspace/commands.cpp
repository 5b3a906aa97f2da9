// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

#include <cstdio>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <iostream>

#include "control/protocol.h"
#include "exporters/audit/verify.h"
#include "exporters/grpc/grpc_client.h"
#include "error.h"
#include "guards/loader.h"

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
                       " | " + f.value("agent.op", "") + " " + f.value("fd.name", "") +
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
    std::printf("%-22s %-12s %-8s %-10s %6s %6s  %s\n", "SESSION", "AGENT", "ORIGIN", "STATE",
                "DENIED", "AUDIT", "WORKSPACE");
    for (const auto& s : r["sessions"])
        std::printf("%-22s %-12s %-8s %-10s %6llu %6llu  %s\n", s.value("id", "").c_str(),
                    s.value("agent", "").c_str(), s.value("origin", "").c_str(),
                    s.value("state", "").c_str(), s.value("denied", 0ull), s.value("audited", 0ull),
                    s.value("workspace", "").c_str());
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
