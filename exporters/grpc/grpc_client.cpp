// SPDX-License-Identifier: Apache-2.0
#include "exporters/grpc/grpc_client.h"

#include <cstdio>

#include <grpcpp/grpcpp.h>

#include "bulkhead.grpc.pb.h"
#include "exporters/falco_json.h"
#include "exporters/grpc/convert.h"
#include "exporters/grpc/tls_files.h"
#include "exporters/sink_config.h"

namespace bulkhead::exporters::rpc {

namespace {

Result<std::unique_ptr<v1::Bulkhead::Stub>> connect(const ClientOptions& o) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (o.ca.empty() && o.cert.empty() && o.key.empty()) {
        creds = grpc::InsecureChannelCredentials();
    } else {
        auto c = client_tls_credentials(o.ca, o.cert, o.key);
        if (!c)
            return Error{c.error()};
        creds = *c;
    }
    grpc::ChannelArguments args;
    if (!o.server_name.empty())
        args.SetSslTargetNameOverride(o.server_name);
    auto channel = grpc::CreateCustomChannel(o.address, creds, args);
    // A dead address fails here with a clear message instead of a vague
    // UNAVAILABLE from the first call.
    auto deadline = std::chrono::system_clock::now() + o.connect_timeout;
    if (!channel->WaitForConnected(deadline))
        return Error{"grpc: cannot connect to " + o.address + " within " +
                     std::to_string(o.connect_timeout.count()) +
                     " ms (is the daemon serving gRPC there? for TLS: right CA, certificate and name?)"};
    return v1::Bulkhead::NewStub(channel);
}

std::string status_text(const ClientOptions& o, const char* call, const grpc::Status& s) {
    static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                   "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                   "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                   "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                                   "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    int code = s.error_code();
    std::string name = code >= 0 && code <= 16 ? kNames[code] : std::to_string(code);
    return "grpc: " + std::string(call) + " on " + o.address + " failed: " + name + ": " +
           s.error_message() + "\n";
}

Result<v1::SubscribeRequest> make_request(const ClientFilter& f) {
    v1::SubscribeRequest req;
    if (!f.min_priority.empty()) {
        auto p = priority_to_proto(f.min_priority);
        if (p == v1::PRIORITY_UNSPECIFIED)
            return Error{"grpc: unknown priority '" + f.min_priority +
                         "' (Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)"};
        req.set_min_priority(p);
    }
    for (const auto& r : f.rules)
        req.add_rules(r);
    for (auto s : f.sessions)
        req.add_session_ids(s);
    for (const auto& v : f.verdicts) {
        auto pv = verdict_to_proto(v);
        if (pv == v1::VERDICT_UNSPECIFIED)
            return Error{"grpc: unknown verdict '" + v + "' (deny, audit, allow, ask)"};
        req.add_verdicts(pv);
    }
    req.set_alerts_only(f.alerts_only);
    // The server's limits, checked here for a clearer message.
    if (auto ok = parse_request(req); !ok)
        return Error{ok.error()};
    return req;
}

void print_session(const v1::Session& s, bool json, std::ostream& out) {
    if (json) {
        out << dump_json(to_json(s)) << '\n';
        return;
    }
    char line[160];
    std::snprintf(line, sizeof line, "%-20llu %-12s %-9s %5d %8u %6u  ",
                  static_cast<unsigned long long>(s.id()), s.agent().c_str(),
                  state_name(s.state()).c_str(), s.risk(), s.leader_pid(), s.uid());
    out << line << s.workspace() << '\n';
}

}  // namespace

int subscribe_and_print(const ClientOptions& options, const ClientFilter& filter, bool json,
                        std::ostream& out, std::ostream& err, uint64_t max_events) {
    auto req = make_request(filter);
    if (!req) {
        err << req.error() << '\n';
        return 2;
    }
    auto stub = connect(options);
    if (!stub) {
        err << stub.error() << '\n';
        return 1;
    }
    grpc::ClientContext ctx;
    auto reader = (*stub)->Subscribe(&ctx, *req);
    v1::SubscribeResponse resp;
    uint64_t n = 0;
    bool enough = false;
    while (!enough && reader->Read(&resp)) {
        if (resp.has_lost()) {
            err << "grpc: " << resp.lost().count()
                << " events lost: this client read too slowly\n";
            continue;
        }
        if (!resp.has_event())
            continue;  // a newer server's item this client does not know
        std::string hostname;
        events::Event e = from_proto(resp.event(), &hostname);
        if (json)
            out << dump_json(falco_json(e, hostname)) << '\n';
        else
            out << events::to_text(e) << '\n';
        out.flush();
        enough = max_events && ++n >= max_events;
    }
    if (enough)
        ctx.TryCancel();
    grpc::Status status = reader->Finish();
    if (enough)
        return 0;
    if (!status.ok()) {
        err << status_text(options, "Subscribe", status);
        return 1;
    }
    return 0;
}

namespace {

// Connects and makes one unary call (bounded by connect_timeout). Prints
// the error and returns false when either fails, except NOT_FOUND, which
// the caller words itself.
template <typename Request, typename Response, typename Call>
bool unary(const ClientOptions& options, const char* name, Call call, const Request& req,
           Response* resp, std::ostream& err, grpc::Status* status) {
    auto stub = connect(options);
    if (!stub) {
        err << stub.error() << '\n';
        return false;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options.connect_timeout);
    *status = ((**stub).*call)(&ctx, req, resp);
    if (!status->ok() && status->error_code() != grpc::StatusCode::NOT_FOUND) {
        err << status_text(options, name, *status);
        return false;
    }
    return true;
}

}  // namespace

int list_sessions_and_print(const ClientOptions& options, bool include_ended, bool json,
                            std::ostream& out, std::ostream& err) {
    v1::ListSessionsRequest req;
    req.set_include_ended(include_ended);
    v1::ListSessionsResponse resp;
    grpc::Status status;
    if (!unary(options, "ListSessions", &v1::Bulkhead::Stub::ListSessions, req, &resp, err, &status))
        return 1;
    if (!json)
        out << "ID                   AGENT        STATE      RISK      PID    UID  WORKSPACE\n";
    for (const auto& s : resp.sessions())
        print_session(s, json, out);
    return 0;
}

int get_session_and_print(const ClientOptions& options, uint64_t id, bool json, std::ostream& out,
                          std::ostream& err) {
    v1::GetSessionRequest req;
    req.set_id(id);
    v1::Session resp;
    grpc::Status status;
    if (!unary(options, "GetSession", &v1::Bulkhead::Stub::GetSession, req, &resp, err, &status))
        return 1;
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        err << "session " << id << " not found\n";
        return 1;
    }
    print_session(resp, json, out);
    return 0;
}

}  // namespace bulkhead::exporters::rpc
