// SPDX-License-Identifier: Apache-2.0
// An event given as field names and values: the cases of `bulkhead rules
// test`, recorded events (the `output_fields` of `bulkhead events --json`),
// the fuzzer and the benchmark (public API).
//
//   {"evt.type": "openat", "fd.name": "/root/.ssh/id_rsa", "proc.aname[2]": "sshd",
//    "agent.session": 7, "evt.is_open_read": true}
//
// `proc.aname[0]` falls back to proc.name and `proc.aname[1]` to proc.pname,
// as in Falco; `evt.arg.x` and `evt.arg[x]` are the same key.
#pragma once

#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "rules/fields.h"
#include "rules/result.h"

namespace bulkhead::rules {

class FieldMap final : public FieldSource {
public:
    // Fails on a key that is not a field bulkhead knows (unless
    // `skip_unknown`, for recorded events that carry extra keys), or a value
    // whose JSON type cannot be the field's type ("proc.pid": "abc").
    static Result<FieldMap> from_json(const nlohmann::json& object, bool skip_unknown = false);

    bool get(const FieldRef& field, FieldValue* out) const override;

private:
    struct Entry {
        FieldValue value;
        std::string text;
    };
    static std::string key_of(const FieldRef& field);

    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace bulkhead::rules
