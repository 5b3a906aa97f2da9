// SPDX-License-Identifier: Apache-2.0
// RFC 5424 messages (ecosystem.md §3.1):
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID rule="…" …] BOM MSG
//
// PRI = facility * 8 + severity, the severity being the Falco priority (the
// two scales are the same). MSGID is the event kind; the structured data
// carries the rule, priority, session, agent, verdict and the other fields
// a SIEM filters on; MSG is the alert's output line, UTF-8 with a BOM.
//
// The local socket (/dev/log) gets what syslog(3) writes instead, because
// that is the only form journald and a stock rsyslog imuxsock parse:
//
//   <PRI>Mmm dd hh:mm:ss APP-NAME[PROCID]: [SD-ID rule="…" …] MSG
//
// (local time, no host name, the structured data at the start of MSG).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "events/event.h"

namespace bulkhead::exporters {

struct SyslogFormat {
    int facility = 1;                   // user, as Falco's syslog_output
    std::string hostname = "-";
    std::string app_name = "bulkhead";
    std::string procid = "-";           // the daemon's pid
    // A private SD-ID needs an IANA enterprise number; 32473 is the one
    // reserved for documentation until bulkhead has its own.
    std::string sd_id = "bulkhead@32473";
    bool bom = true;
    size_t max_size = 8192;             // the whole message, in octets; MSG is cut to fit
    bool local = false;                 // format_local(), for /dev/log
};

std::string format_rfc5424(const events::Event& e, const SyslogFormat& f);
std::string format_local(const events::Event& e, const SyslogFormat& f);

// "user", "auth", "local0".., or a number 0..23.
std::optional<int> parse_facility(std::string_view name);
// PARAM-VALUE escaping: '"', '\' and ']' get a backslash; invalid UTF-8
// becomes U+FFFD (PARAM-VALUE is UTF-8).
std::string sd_escape(std::string_view value);
// A header field: PRINTUSASCII only (others become '_'), at most `max`
// octets, NILVALUE for an empty value.
std::string header_field(std::string_view value, size_t max);
// RFC 3339 as RFC 5424 allows it: UTC, microseconds, upper-case T and Z.
std::string syslog_timestamp(int64_t unix_ns);

}  // namespace bulkhead::exporters
