// SPDX-License-Identifier: Apache-2.0
// Between the daemon's types and bulkhead.v1 messages. Internal to the gRPC
// server and client; events round-trip (to_proto then from_proto gives the
// same Falco JSON).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "bulkhead.pb.h"
#include "events/event.h"
#include "exporters/grpc/grpc_server.h"
#include "exporters/result.h"

namespace bulkhead::exporters::rpc {

v1::Event to_proto(const events::Event& e, const std::string& hostname);
events::Event from_proto(const v1::Event& pe, std::string* hostname);

v1::Session to_proto(const SessionInfo& s);
nlohmann::json to_json(const v1::Session& s);

// Falco priority name <-> enum ("Warning" <-> PRIORITY_WARNING).
v1::Priority priority_to_proto(const std::string& falco_name);
std::string priority_from_proto(v1::Priority p);
v1::Verdict verdict_to_proto(const std::string& verdict);
// "deny", "audit", "allow", "ask"; "" for unspecified or unknown values.
std::string verdict_name(int verdict);
v1::SessionState state_to_proto(const std::string& state);
std::string state_name(v1::SessionState s);

// What one subscriber asked for.
struct SubscriberFilter {
    SinkFilter filter;
    bool alerts_only = false;
    bool accepts(const events::Event& e) const {
        return filter.accepts(e) && (!alerts_only || !e.rule.empty());
    }
};
inline constexpr int kMaxFilterRules = 256;
inline constexpr int kMaxFilterSessions = 1024;
inline constexpr size_t kMaxRuleName = 1024;
// Checks a request's enums and sizes; the error names the field.
Result<SubscriberFilter> parse_request(const v1::SubscribeRequest& req);

}  // namespace bulkhead::exporters::rpc
