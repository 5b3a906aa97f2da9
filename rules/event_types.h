// SPDX-License-Identifier: Apache-2.0
// Pass: event-type extraction (internal).
//
// The evt.type values an event must have for a condition to be true, so the
// evaluator only runs a rule on the events it can match (Falco's ruleset
// indexing). Over-approximates: `not`, `!=` and anything not naming evt.type
// mean "any type".
#pragma once

#include <optional>
#include <set>
#include <string>

#include "rules/ast.h"

namespace bulkhead::rules {

// nullopt: any event type.
std::optional<std::set<std::string>> event_types(const Expr& expr);

}  // namespace bulkhead::rules
