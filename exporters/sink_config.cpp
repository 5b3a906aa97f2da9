// SPDX-License-Identifier: Apache-2.0
#include "sink_config.h"

#include <array>
#include <strings.h>

namespace bulkhead::exporters {

namespace {
constexpr std::array<const char*, 8> kPriorityNames = {
    "Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"};
}

std::optional<int> parse_priority(std::string_view name) {
    std::string s(name);
    if (strcasecmp(s.c_str(), "info") == 0)
        return 6;
    for (size_t i = 0; i < kPriorityNames.size(); ++i)
        if (strcasecmp(s.c_str(), kPriorityNames[i]) == 0)
            return static_cast<int>(i);
    return std::nullopt;
}

const char* priority_name(int priority) {
    if (priority < 0 || priority >= static_cast<int>(kPriorityNames.size()))
        return "Notice";
    return kPriorityNames[priority];
}

int event_priority(const events::Event& e) {
    return parse_priority(e.priority).value_or(5);
}

bool SinkFilter::accepts(const events::Event& e) const {
    if (event_priority(e) > min_priority)
        return false;
    if (!rules.empty() && !rules.count(e.rule))
        return false;
    if (!sessions.empty() && !sessions.count(e.session))
        return false;
    if (!verdicts.empty() && !verdicts.count(e.verdict))
        return false;
    return true;
}

}  // namespace bulkhead::exporters
