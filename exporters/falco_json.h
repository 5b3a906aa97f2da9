// SPDX-License-Identifier: Apache-2.0
// The Falco alert shape (ecosystem.md §2.1) that the HTTP and JSONL sinks
// send: events::to_json plus the bulkhead fields it leaves out, all under
// agent.* keys of output_fields, so falcosidekick takes it unchanged.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "events/event.h"

namespace bulkhead::exporters {

nlohmann::json falco_json(const events::Event& e, const std::string& hostname);
// Compact, one line; invalid UTF-8 becomes U+FFFD as in Falco.
std::string dump_json(const nlohmann::json& j);
// Replaces invalid UTF-8 sequences with U+FFFD.
std::string sanitize_utf8(const std::string& s);
// The longest prefix of `s` of at most `max` bytes that does not cut a
// UTF-8 sequence.
std::string utf8_prefix(const std::string& s, size_t max);

}  // namespace bulkhead::exporters
