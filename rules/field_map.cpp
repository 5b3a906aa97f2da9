// SPDX-License-Identifier: Apache-2.0
#include "rules/field_map.h"

#include "rules/values.h"

namespace bulkhead::rules {

std::string FieldMap::key_of(const FieldRef& field) {
    std::string key(field.info->name);
    if (field.info->arg == FieldArg::kName) return key + "[" + field.arg + "]";
    if (field.index >= 0) return key + "[" + std::to_string(field.index) + "]";
    return key;
}

Result<FieldMap> FieldMap::from_json(const nlohmann::json& object, bool skip_unknown) {
    if (!object.is_object()) return Error{{}, "an event must be a map of field names to values"};
    FieldMap map;
    for (auto it = object.begin(); it != object.end(); ++it) {
        const std::string& key = it.key();
        std::string name = key, arg;
        bool has_arg = false;
        if (size_t open = key.find('['); open != std::string::npos && key.back() == ']') {
            name = key.substr(0, open);
            arg = key.substr(open + 1, key.size() - open - 2);
            has_arg = true;
        }
        FieldRef ref;
        std::string why;
        if (!resolve_field(name, arg, has_arg, &ref, &why)) {
            if (skip_unknown) continue;
            return Error{{}, "event: " + why};
        }
        const nlohmann::json& v = it.value();
        if (v.is_null()) continue;  // recorded events write absent fields as null
        Entry entry;
        entry.value.type = ref.info->type;
        const std::string where = "event: field '" + key + "' ";
        switch (ref.info->type) {
        case FieldType::kString:
        case FieldType::kIp:
            if (v.is_string()) entry.text = v.get<std::string>();
            else if (v.is_number() || v.is_boolean()) entry.text = v.dump();
            else return Error{{}, where + "needs a string"};
            if (ref.info->type == FieldType::kIp && !parse_ip_network(entry.text, nullptr))
                return Error{{}, where + "needs an IP address, not '" + entry.text + "'"};
            break;
        case FieldType::kNumber:
            if (v.is_number_integer()) {
                entry.value.num = v.is_number_unsigned() ? static_cast<__int128>(v.get<uint64_t>())
                                                         : static_cast<__int128>(v.get<int64_t>());
            } else if (!v.is_string() || !parse_number(v.get<std::string>(), &entry.value.num)) {
                return Error{{}, where + "needs an integer"};
            }
            break;
        case FieldType::kBool:
            if (v.is_boolean()) entry.value.boolean = v.get<bool>();
            else if (v == "true" || v == "false") entry.value.boolean = v == "true";
            else return Error{{}, where + "needs true or false"};
            break;
        }
        map.entries_[key_of(ref)] = std::move(entry);
    }
    return map;
}

bool FieldMap::get(const FieldRef& field, FieldValue* out) const {
    auto it = entries_.find(key_of(field));
    if (it == entries_.end() && field.info->id == FieldId::kProcAname && (field.index == 0 || field.index == 1))
        it = entries_.find(field.index == 0 ? "proc.name" : "proc.pname");
    if (it == entries_.end() && field.info->id == FieldId::kProcApid && (field.index == 0 || field.index == 1))
        it = entries_.find(field.index == 0 ? "proc.pid" : "proc.ppid");
    if (it == entries_.end()) return false;
    *out = it->second.value;
    out->str = it->second.text;
    return true;
}

}  // namespace bulkhead::rules
