// SPDX-License-Identifier: Apache-2.0
// What every sink shares: its name and type, which events it takes (minimum
// priority and filters), and the limits of its queue, spool and retries.
// The YAML schema is documented in factory.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "events/event.h"

namespace bulkhead::exporters {

// Falco priorities are syslog severities: 0 Emergency .. 7 Debug, so a
// smaller number is more severe. Case-insensitive; "info" is accepted as
// falcosidekick does. nullopt for anything else.
std::optional<int> parse_priority(std::string_view name);
// "Emergency" .. "Debug" (Falco's long spelling); "Notice" when out of range.
const char* priority_name(int priority);
// An event's priority as a number; an unknown spelling counts as Notice,
// the Event default, so it is neither dropped first nor escalated.
int event_priority(const events::Event& e);

struct SinkFilter {
    int min_priority = 7;               // Debug: every event
    std::set<std::string> rules;        // empty = every rule
    std::set<uint64_t> sessions;        // empty = every session
    std::set<std::string> verdicts;     // empty = every verdict

    bool accepts(const events::Event& e) const;
};

struct SinkConfig {
    std::string name;
    std::string type;
    SinkFilter filter;
    size_t queue_max_events = 10000;    // in memory, between publish() and the worker
    std::string spool_dir;              // "" = no spool: outages are bridged by the queue only
    uint64_t spool_max_bytes = 64ull << 20;
    std::chrono::milliseconds retry_min{250};
    std::chrono::milliseconds retry_max{30000};
    std::chrono::milliseconds close_timeout{5000};  // close() delivers for at most this long
};

}  // namespace bulkhead::exporters
