// SPDX-License-Identifier: Apache-2.0
// Events as OCSF 1.8.0 (ecosystem.md §4). Which class:
//   - an alert (a rule fired: rule set and verdict deny, audit or ask), when
//     alerts_as_findings: Detection Finding 2004 (activity 1 Create), the
//     event's objects in `evidences`;
//   - kind "file": File System Activity 1001, activity from the operation;
//   - kind "session" (an agent's exec), "exec" and "self-guard": Process
//     Activity 1007;
//   - kind "net" (or "network"): Network Activity 4001, endpoints from the
//     fd.* fields of events::to_json (fd.lip/fd.rip, else fd.cip/fd.sip);
//   - anything else (drop reports): Detection Finding 2004.
// Every class carries the security-control outcome:
//   verdict          action_id          disposition_id
//   allow            1 Allowed          1 Allowed
//   deny             2 Denied           2 Blocked
//   audit            3 Observed         15 Detected (is_alert)
//   ask (pending)    99 Other "Asked"   14 Delayed (the syscall is held)
//   ask → allow      1 Allowed          8 Approved   (action "ask", verdict allow)
//   ask → deny       2 Denied           25 Rejected  (action "ask", verdict deny)
// type_uid = class_uid * 100 + activity_id; time is in milliseconds.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "events/event.h"

namespace bulkhead::exporters {

inline constexpr const char* kOcsfVersion = "1.8.0";

struct OcsfOptions {
    std::string hostname;
    std::string product_version;
    bool alerts_as_findings = true;
};

struct OcsfOutcome {
    int action_id;
    const char* action;
    int disposition_id;
    const char* disposition;
};

OcsfOutcome ocsf_outcome(const events::Event& e);
// Falco priority (0..7) → OCSF severity_id (ecosystem.md §4.2 table).
int ocsf_severity_id(int priority);
nlohmann::json to_ocsf(const events::Event& e, const OcsfOptions& options);

}  // namespace bulkhead::exporters
