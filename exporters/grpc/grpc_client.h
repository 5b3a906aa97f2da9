// SPDX-License-Identifier: Apache-2.0
// The client side of bulkhead.v1.Bulkhead, for `bulkhead events -f --grpc
// ADDR` and `bulkhead sessions --grpc ADDR`. Returns exit codes and writes
// errors that name the address and the gRPC status.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "exporters/result.h"

namespace bulkhead::exporters::rpc {

struct ClientOptions {
    // "unix:/run/bulkhead/grpc.sock" or "host:port".
    std::string address = "unix:/run/bulkhead/grpc.sock";
    // TLS when `ca` is set (the CA that signed the server's certificate);
    // mTLS when `cert` and `key` are set too.
    std::string ca;
    std::string cert;
    std::string key;
    std::string server_name;  // TLS name to check instead of the address's host
    std::chrono::milliseconds connect_timeout{5000};
};

// Filters as the command line spells them.
struct ClientFilter {
    std::string min_priority;           // Falco name ("Warning"); "" = every priority
    std::vector<std::string> rules;
    std::vector<uint64_t> sessions;
    std::vector<std::string> verdicts;  // deny, audit, allow, ask
    bool alerts_only = false;
};

// Streams events and prints one per line: Falco JSON (the JSONL sink's
// shape) when `json`, else the daemon's text line. Lost-event notices go to
// `err`. Stops after `max_events` events (0: until the server ends the
// stream). Returns 0 when the stream ended cleanly, 2 for a bad filter,
// 1 for an RPC error.
int subscribe_and_print(const ClientOptions& options, const ClientFilter& filter, bool json,
                        std::ostream& out, std::ostream& err, uint64_t max_events = 0);

// Prints the sessions (one JSON object per line when `json`, else a table).
int list_sessions_and_print(const ClientOptions& options, bool include_ended, bool json,
                            std::ostream& out, std::ostream& err);
// Prints one session; 1 with "session N not found" when there is none.
int get_session_and_print(const ClientOptions& options, uint64_t id, bool json,
                          std::ostream& out, std::ostream& err);

}  // namespace bulkhead::exporters::rpc
