// SPDX-License-Identifier: Apache-2.0
#include "rules/rule_set.h"

#include <cctype>

namespace bulkhead::rules {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::optional<Priority> parse_priority(std::string_view text) {
    static const std::pair<std::string_view, Priority> kNames[] = {
        {"emergency", Priority::kEmergency}, {"alert", Priority::kAlert},
        {"critical", Priority::kCritical},   {"error", Priority::kError},
        {"warning", Priority::kWarning},     {"notice", Priority::kNotice},
        {"informational", Priority::kInformational}, {"info", Priority::kInformational},
        {"debug", Priority::kDebug},
    };
    std::string key = lower(text);
    for (const auto& [name, priority] : kNames) {
        if (key == name) return priority;
    }
    return std::nullopt;
}

std::string_view to_string(Priority priority) {
    switch (priority) {
        case Priority::kEmergency: return "Emergency";
        case Priority::kAlert: return "Alert";
        case Priority::kCritical: return "Critical";
        case Priority::kError: return "Error";
        case Priority::kWarning: return "Warning";
        case Priority::kNotice: return "Notice";
        case Priority::kInformational: return "Informational";
        case Priority::kDebug: return "Debug";
    }
    return "?";
}

std::optional<Action> parse_action(std::string_view text) {
    if (text == "audit") return Action::kAudit;
    if (text == "block") return Action::kBlock;
    if (text == "ask") return Action::kAsk;
    if (text == "kill") return Action::kKill;
    if (text == "promote") return Action::kPromote;
    return std::nullopt;
}

std::string_view to_string(Action action) {
    switch (action) {
        case Action::kAudit: return "audit";
        case Action::kBlock: return "block";
        case Action::kAsk: return "ask";
        case Action::kKill: return "kill";
        case Action::kPromote: return "promote";
    }
    return "?";
}

const Rule* RuleSet::find_rule(std::string_view name) const {
    for (const auto& rule : rules) {
        if (rule.name == name) return &rule;
    }
    return nullptr;
}

}  // namespace bulkhead::rules
