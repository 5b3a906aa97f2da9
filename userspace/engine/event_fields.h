// SPDX-License-Identifier: Apache-2.0
// A daemon event seen through Falco's field names, for the rule evaluator.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "events/event.h"
#include "rules/fields.h"

namespace bulkhead::engine {

class EventFields final : public rules::FieldSource {
public:
    explicit EventFields(const events::Event& e);
    bool get(const rules::FieldRef& field, rules::FieldValue* out) const override;

private:
    bool str(std::string_view s, rules::FieldValue* out) const;
    bool num(__int128 n, rules::FieldValue* out) const;

    const events::Event& e_;
    bool file_ = false;  // kind and open-ness decided once, not per field read
    bool net_ = false;
    bool ip_socket_ = false;
    bool open_ = false;
    // Derived strings, one member per field: the evaluator keeps the views
    // it was handed for the whole event.
    mutable std::string res_;
    mutable std::string args_;
    mutable std::map<std::string, std::string, std::less<>> tool_input_;  // non-string values, dumped
    // Read from /proc only when a rule asks (best effort: the process may be
    // gone by the time its event is evaluated; then the field is absent).
    // Copies, so the views handed out outlive the per-thread /proc cache.
    const std::vector<std::pair<uint32_t, std::string>>& ancestors() const;  // [0] = parent
    mutable std::optional<std::vector<std::pair<uint32_t, std::string>>> ancestors_;
    mutable bool parent_read_ = false;
    mutable std::string pexe_, pexepath_, pcmdline_, sname_;
};

}  // namespace bulkhead::engine
