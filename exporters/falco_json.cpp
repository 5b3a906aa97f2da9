// SPDX-License-Identifier: Apache-2.0
#include "falco_json.h"

namespace bulkhead::exporters {

nlohmann::json falco_json(const events::Event& e, const std::string& hostname) {
    nlohmann::json j = events::to_json(e, hostname);
    auto& f = j["output_fields"];
    // Fields to_json leaves out; a rule's own output fields still win.
    auto add = [&](const char* key, const nlohmann::json& v) {
        if (!f.contains(key))
            f[key] = v;
    };
    add("agent.kind", e.kind);
    if (!e.action.empty())
        add("agent.action", e.action);
    if (e.rule_id)
        add("agent.rule_id", e.rule_id);
    if (e.err)
        add("agent.errno", e.err);
    if (e.count && e.kind != "drops")
        add("agent.count", e.count);
    return j;
}

std::string dump_json(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string sanitize_utf8(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && len > 1) {
            // Reject overlong forms, surrogates and code points past U+10FFFF.
            uint32_t cp = c & (0x7F >> len);
            for (size_t k = 1; k < len; ++k)
                cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
            static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= min_cp[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

std::string utf8_prefix(const std::string& s, size_t max) {
    if (s.size() <= max)
        return s;
    size_t end = max;
    // Step back over continuation bytes to the start of the cut sequence.
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
        --end;
    return s.substr(0, end);
}

}  // namespace bulkhead::exporters
