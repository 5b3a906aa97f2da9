// SPDX-License-Identifier: Apache-2.0
// Loader: Falco rule YAML -> RuleSet. Collects items across files (with
// override/append), then parses conditions and runs the passes. yaml-cpp
// throws; every exception is caught here and turned into an Error.
#include "rules/loader.h"

#include <yaml-cpp/yaml.h>
#include <yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include <re2/re2.h>

#include "rules/kernel_compiler.h"
#include "rules/type_check.h"
#include "rules/lexer.h"
#include "rules/list_expansion.h"
#include "rules/macro_expansion.h"
#include "rules/parser.h"

namespace bulkhead::rules {

namespace {

// Falco's whole default set is 60 KiB; anything near this bound is not a
// rules file.
constexpr size_t kMaxRulesFileBytes = 64u << 20;

enum class OverrideMode { kAppend, kReplace };

struct ExceptionValue {
    std::vector<std::string> items;  // one entry for a scalar
    bool is_list = false;
};

struct ExceptionDef {
    std::string name;
    std::vector<std::string> fields;
    std::vector<std::string> comps;
    bool single_field = false;
    std::vector<std::vector<ExceptionValue>> rows;  // tuple form: one row per value tuple
    SourceLocation location;
};

// Where each piece of an appended condition came from, so a parse error in
// an append points at the file that appended it.
struct ConditionPart {
    size_t start = 0;  // byte offset in the condition text
    SourceLocation location;
};

struct RuleInfo {
    Rule rule;
    std::string condition;  // before exceptions
    std::vector<ConditionPart> parts;
    std::vector<ExceptionDef> exceptions;
};

struct MacroInfo {
    MacroDef def;
    std::vector<ConditionPart> parts;
};

bool is_list_comp(std::string_view comp) { return comp == "in" || comp == "intersects" || comp == "pmatch"; }

class Loader {
public:
    explicit Loader(bool require_kernel) : require_kernel_(require_kernel) {}
    Result<RuleSet> load(const std::vector<RuleSource>& sources) {
        for (const auto& source : sources) {
            if (auto ok = load_source(source); !ok) return ok.error();
        }
        return finish();
    }

private:
    // ---- diagnostics ----------------------------------------------------

    SourceLocation where(const YAML::Node& node) const {
        const YAML::Mark mark = node.Mark();
        if (mark.line < 0) return {file_, 0, 0};
        return {file_, mark.line + 1, mark.column + 1};
    }

    static Error error(SourceLocation location, std::string message) {
        return Error{std::move(location), "rules: " + std::move(message)};
    }

    void warn(SourceLocation location, std::string message) {
        out_.warnings.push_back({std::move(location), std::move(message)});
    }

    // ---- YAML helpers (no throwing) -------------------------------------

    Result<std::string> scalar(const YAML::Node& node, const std::string& what) const {
        if (!node.IsScalar()) return error(where(node), what + " must be a string");
        return node.Scalar();
    }

    Result<bool> boolean(const YAML::Node& node, const std::string& what) const {
        bool value = false;
        if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
            return error(where(node), what + " must be true or false");
        }
        return value;
    }

    Result<std::vector<std::string>> string_list(const YAML::Node& node, const std::string& what) const {
        std::vector<std::string> out;
        if (node.IsNull()) return out;
        if (!node.IsSequence()) return error(where(node), what + " must be a list");
        for (const auto& item : node) {
            if (!item.IsScalar()) return error(where(item), what + " must hold only strings");
            out.push_back(item.Scalar());
        }
        return out;
    }

    // ---- files and items ------------------------------------------------

    // yaml-cpp 0.7 loops allocating nodes on some malformed input (a scalar
    // followed by `,` and an indented scalar, found by the fuzzer), which
    // would let a bad file exhaust the daemon's memory on reload. libyaml's
    // parser checks the syntax first, in bounded time, and names the place.
    Result<void> check_yaml_syntax(const std::string& content) {
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser)) return error({file_, 0, 0}, "cannot start the YAML parser");
        yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(content.data()),
                                     content.size());
        Result<void> out;
        for (bool done = false; !done;) {
            yaml_event_t event;
            if (!yaml_parser_parse(&parser, &event)) {
                std::string what = parser.problem ? parser.problem : "syntax error";
                if (parser.context) what = std::string(parser.context) + ": " + what;
                size_t line = parser.problem_mark.line, column = parser.problem_mark.column;
                if (parser.error == YAML_READER_ERROR) {
                    // Encoding errors carry a byte offset, not a mark.
                    size_t offset = std::min(parser.problem_offset, content.size());
                    line = std::count(content.begin(), content.begin() + offset, '\n');
                    size_t start = content.rfind('\n', offset ? offset - 1 : 0);
                    column = start == std::string::npos ? offset : offset - start - 1;
                }
                out = error({file_, static_cast<int>(line) + 1, static_cast<int>(column) + 1}, "invalid YAML: " + what);
                break;
            }
            done = event.type == YAML_STREAM_END_EVENT;
            yaml_event_delete(&event);
        }
        yaml_parser_delete(&parser);
        return out;
    }

    Result<void> load_source(const RuleSource& source) {
        file_ = source.name;
        if (source.content.size() > kMaxRulesFileBytes)
            return error({file_, 0, 0}, "rules file is larger than 64 MiB");
        if (auto ok = check_yaml_syntax(source.content); !ok) return ok;
        std::vector<YAML::Node> documents;
        try {
            documents = YAML::LoadAll(source.content);
        } catch (const YAML::Exception& e) {
            return error({file_, e.mark.line + 1, e.mark.column + 1}, "invalid YAML: " + e.msg);
        }
        for (const auto& document : documents) {
            if (document.IsNull()) continue;
            if (!document.IsSequence()) {
                return error(where(document), "a rules file must be a sequence of items (- rule:, - macro:, - list:)");
            }
            for (const auto& item : document) {
                try {
                    if (auto ok = load_item(item); !ok) return ok;
                } catch (const YAML::Exception& e) {
                    return error(where(item), "invalid item: " + e.msg);
                }
            }
        }
        return {};
    }

    Result<void> load_item(const YAML::Node& item) {
        if (!item.IsMap()) return error(where(item), "an item must be a map with a 'rule', 'macro' or 'list' key");
        if (item["rule"]) return load_rule(item);
        if (item["macro"]) return load_macro(item);
        if (item["list"]) return load_list(item);
        if (const YAML::Node version = item["required_engine_version"]) {
            auto text = scalar(version, "required_engine_version");
            if (!text) return text.error();
            out_.required_engine_version = *text;
            return {};
        }
        if (const YAML::Node plugins = item["required_plugin_versions"]) return load_plugins(plugins);
        std::string key = item.begin() != item.end() && item.begin()->first.IsScalar() ? item.begin()->first.Scalar() : "?";
        warn(where(item), "unknown top-level item '" + key + "' ignored");
        return {};
    }

    Result<PluginRequirement> load_plugin(const YAML::Node& node) {
        if (!node.IsMap()) return error(where(node), "required_plugin_versions: each entry must be a map");
        PluginRequirement plugin;
        for (const char* key : {"name", "version"}) {
            const YAML::Node value = node[key];
            if (!value) return error(where(node), std::string("required_plugin_versions: entry has no '") + key + "'");
            auto text = scalar(value, std::string("required_plugin_versions: '") + key + "'");
            if (!text) return text.error();
            (std::string(key) == "name" ? plugin.name : plugin.version) = *text;
        }
        if (const YAML::Node alternatives = node["alternatives"]) {
            if (!alternatives.IsSequence()) return error(where(alternatives), "required_plugin_versions: 'alternatives' must be a list");
            for (const auto& alt : alternatives) {
                auto parsed = load_plugin(alt);
                if (!parsed) return parsed.error();
                plugin.alternatives.push_back(std::move(*parsed));
            }
        }
        return plugin;
    }

    Result<void> load_plugins(const YAML::Node& plugins) {
        if (!plugins.IsSequence()) return error(where(plugins), "required_plugin_versions must be a list");
        for (const auto& node : plugins) {
            auto plugin = load_plugin(node);
            if (!plugin) return plugin.error();
            out_.required_plugins.push_back(std::move(*plugin));
        }
        return {};
    }

    // Reads `override:` and `append:`; fills `modes`, returns whether the
    // item modifies an earlier one.
    Result<bool> read_override(const YAML::Node& item, const std::string& object,
                               const std::set<std::string>& appendable, const std::set<std::string>& replaceable,
                               std::map<std::string, OverrideMode>& modes, bool& legacy_append) {
        const YAML::Node over = item["override"];
        const YAML::Node append = item["append"];
        legacy_append = false;
        if (over && append) return error(where(append), object + ": 'append' and 'override' cannot be combined");
        if (append) {
            auto value = boolean(append, object + ": 'append'");
            if (!value) return value.error();
            if (*value) warn(where(append), object + ": 'append: true' is deprecated; use 'override: {<key>: append}'");
            legacy_append = *value;
            return legacy_append;
        }
        if (!over) return false;
        if (!over.IsMap()) return error(where(over), object + ": 'override' must be a map of key: append|replace");
        for (const auto& entry : over) {
            std::string key = entry.first.Scalar();
            auto mode = scalar(entry.second, object + ": override of '" + key + "'");
            if (!mode) return mode.error();
            if (*mode == "append") {
                if (!appendable.count(key)) return error(where(entry.second), object + ": key '" + key + "' cannot be appended");
                modes[key] = OverrideMode::kAppend;
            } else if (*mode == "replace") {
                if (!replaceable.count(key)) return error(where(entry.second), object + ": key '" + key + "' cannot be replaced");
                modes[key] = OverrideMode::kReplace;
            } else {
                return error(where(entry.second), object + ": override of '" + key + "' must be 'append' or 'replace', not '" + *mode + "'");
            }
            if (!item[key]) return error(where(entry.first), object + ": override of '" + key + "' but the item has no '" + key + "'");
        }
        return true;
    }

    // With `override:`, every other key of the item must be listed there.
    Result<void> check_override_keys(const YAML::Node& item, const std::string& object, const std::string& name_key,
                                     const std::map<std::string, OverrideMode>& modes) {
        for (const auto& entry : item) {
            std::string key = entry.first.Scalar();
            if (key == name_key || key == "override") continue;
            if (!modes.count(key)) {
                return error(where(entry.first), object + ": unexpected key '" + key + "': no corresponding entry under 'override'");
            }
        }
        return {};
    }

    // ---- lists ----------------------------------------------------------

    Result<std::vector<std::string>> list_items(const YAML::Node& node, const std::string& object) {
        std::vector<std::string> items;
        if (node.IsNull()) return items;
        if (!node.IsSequence()) return error(where(node), object + ": 'items' must be a list");
        for (const auto& item : node) {
            if (!item.IsScalar()) return error(where(item), object + ": list items must be strings or numbers");
            std::string text = item.Scalar();
            // Falco lets items carry condition quotes ('"(systemd)"'); the
            // parsed value is what is between them.
            if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) {
                text = text.substr(1, text.size() - 2);
            }
            items.push_back(std::move(text));
        }
        return items;
    }

    Result<void> load_list(const YAML::Node& item) {
        auto name = scalar(item["list"], "list name");
        if (!name) return name.error();
        const std::string object = "list '" + *name + "'";
        if (!is_identifier(*name)) warn(where(item["list"]), object + ": name is not a valid identifier");
        for (const auto& entry : item) {
            std::string key = entry.first.Scalar();
            if (key != "list" && key != "items" && key != "override" && key != "append") {
                warn(where(entry.first), object + ": unknown key '" + key + "' ignored");
            }
        }
        std::map<std::string, OverrideMode> modes;
        bool legacy = false;
        auto modifies = read_override(item, object, {"items"}, {"items"}, modes, legacy);
        if (!modifies) return modifies.error();
        const YAML::Node items_node = item["items"];
        if (!items_node) return error(where(item), object + ": missing required key 'items'");
        auto items = list_items(items_node, object);
        if (!items) return items.error();
        auto existing = list_index_.find(*name);
        if (*modifies) {
            if (!legacy) {
                if (auto ok = check_override_keys(item, object, "list", modes); !ok) return ok;
            }
            if (existing == list_index_.end()) {
                return error(where(item), object + ": " + (legacy ? "'append'" : "'override'") +
                                              " given but no list by that name was defined earlier");
            }
            auto& target = out_.lists[existing->second].items;
            if (legacy || modes["items"] == OverrideMode::kAppend) {
                target.insert(target.end(), items->begin(), items->end());
            } else {
                target = std::move(*items);
            }
            return {};
        }
        ListDef def{*name, std::move(*items), where(item)};
        if (existing != list_index_.end()) {
            out_.lists[existing->second] = std::move(def);
        } else {
            list_index_[*name] = out_.lists.size();
            out_.lists.push_back(std::move(def));
        }
        return {};
    }

    // ---- macros ---------------------------------------------------------

    Result<void> load_macro(const YAML::Node& item) {
        auto name = scalar(item["macro"], "macro name");
        if (!name) return name.error();
        const std::string object = "macro '" + *name + "'";
        if (!is_identifier(*name)) {
            return error(where(item["macro"]), object + ": name must match [a-zA-Z][a-zA-Z0-9_]* to be referenced");
        }
        for (const auto& entry : item) {
            std::string key = entry.first.Scalar();
            if (key != "macro" && key != "condition" && key != "override" && key != "append") {
                warn(where(entry.first), object + ": unknown key '" + key + "' ignored");
            }
        }
        std::map<std::string, OverrideMode> modes;
        bool legacy = false;
        auto modifies = read_override(item, object, {"condition"}, {"condition"}, modes, legacy);
        if (!modifies) return modifies.error();
        const YAML::Node cond_node = item["condition"];
        if (!cond_node) return error(where(item), object + ": missing required key 'condition'");
        auto condition = scalar(cond_node, object + ": 'condition'");
        if (!condition) return condition.error();
        auto existing = macro_index_.find(*name);
        if (*modifies) {
            if (!legacy) {
                if (auto ok = check_override_keys(item, object, "macro", modes); !ok) return ok;
            }
            if (existing == macro_index_.end()) {
                return error(where(item), object + ": " + (legacy ? "'append'" : "'override'") +
                                              " given but no macro by that name was defined earlier");
            }
            MacroInfo& target = macros_[existing->second];
            if (legacy || modes["condition"] == OverrideMode::kAppend) {
                target.def.condition += " ";
                target.parts.push_back({target.def.condition.size(), where(cond_node)});
                target.def.condition += *condition;
            } else {
                target.def.condition = *condition;
                target.parts = {{0, where(cond_node)}};
            }
            return {};
        }
        MacroInfo info{{*name, *condition, where(item)}, {{0, where(cond_node)}}};
        if (existing != macro_index_.end()) {
            macros_[existing->second] = std::move(info);
        } else {
            macro_index_[*name] = macros_.size();
            macros_.push_back(std::move(info));
        }
        return {};
    }

    // ---- rules ----------------------------------------------------------

    // Single-field form: `values: [a, b]`; tuple form: one list per tuple,
    // whose entries are strings or lists of strings.
    Result<void> load_exception_values(const YAML::Node& values, const std::string& what, ExceptionDef& ex) {
        if (!values.IsSequence()) return error(where(values), what + ": 'values' must be a list");
        for (const auto& v : values) {
            if (ex.single_field) {
                if (!v.IsScalar()) return error(where(v), what + ": with a single field, values must be strings");
                ex.rows.push_back({ExceptionValue{{v.Scalar()}, false}});
                continue;
            }
            if (!v.IsSequence() || v.size() != ex.fields.size()) {
                return error(where(v), what + ": each value must be a list of " + std::to_string(ex.fields.size()) +
                                           " entries, one per field");
            }
            std::vector<ExceptionValue> row;
            for (const auto& item : v) {
                if (item.IsScalar()) {
                    row.push_back({{item.Scalar()}, false});
                    continue;
                }
                auto items = string_list(item, what + ": a value");
                if (!items) return items.error();
                row.push_back({std::move(*items), true});
            }
            ex.rows.push_back(std::move(row));
        }
        return {};
    }

    // `base`: when appending, the rule's current exceptions; an entry naming
    // one of them may give only `values` (Falco: append adds values).
    Result<std::vector<ExceptionDef>> load_exceptions(const YAML::Node& node, const std::string& object,
                                                      const std::vector<ExceptionDef>* base) {
        std::vector<ExceptionDef> out;
        if (node.IsNull()) return out;
        if (!node.IsSequence()) return error(where(node), object + ": 'exceptions' must be a list");
        std::set<std::string> names;
        for (const auto& entry : node) {
            if (!entry.IsMap()) return error(where(entry), object + ": each exception must be a map");
            ExceptionDef ex;
            ex.location = where(entry);
            const YAML::Node name = entry["name"];
            if (!name) return error(where(entry), object + ": exception has no 'name'");
            auto text = scalar(name, object + ": exception 'name'");
            if (!text) return text.error();
            ex.name = *text;
            const std::string what = object + ": exception '" + ex.name + "'";
            if (!names.insert(ex.name).second) return error(where(name), what + ": name used twice");
            for (const auto& key_value : entry) {
                std::string key = key_value.first.Scalar();
                if (key != "name" && key != "fields" && key != "comps" && key != "values") {
                    warn(where(key_value.first), what + ": unknown key '" + key + "' ignored");
                }
            }
            const YAML::Node fields = entry["fields"];
            const YAML::Node comps = entry["comps"];
            const YAML::Node values = entry["values"];
            const ExceptionDef* existing = nullptr;
            if (base) {
                for (const auto& e : *base) {
                    if (e.name == ex.name) existing = &e;
                }
            }
            if (!fields && !existing) return error(where(entry), what + ": missing 'fields'");
            if (!fields) {
                if (comps) return error(where(comps), what + ": appending values cannot change 'comps'");
                ex.fields = existing->fields;
                ex.comps = existing->comps;
                ex.single_field = existing->single_field;
            } else if (fields.IsScalar()) {
                ex.single_field = true;
                ex.fields = {fields.Scalar()};
                std::string comp = "in";
                if (comps) {
                    auto c = scalar(comps, what + ": with a single field, 'comps'");
                    if (!c) return c.error();
                    comp = *c;
                }
                ex.comps = {comp};
            } else {
                auto list = string_list(fields, what + ": 'fields'");
                if (!list) return list.error();
                ex.fields = std::move(*list);
                if (ex.fields.empty()) return error(where(fields), what + ": 'fields' is empty");
                if (comps) {
                    auto c = string_list(comps, what + ": 'comps'");
                    if (!c) return c.error();
                    if (c->size() != ex.fields.size()) {
                        return error(where(comps), what + ": 'comps' has " + std::to_string(c->size()) +
                                                       " entries but 'fields' has " + std::to_string(ex.fields.size()));
                    }
                    ex.comps = std::move(*c);
                } else {
                    ex.comps.assign(ex.fields.size(), "=");
                }
            }
            if (values) {
                if (auto ok = load_exception_values(values, what, ex); !ok) return ok.error();
            }
            for (const auto& comp : ex.comps) {
                Token first = Lexer(comp).next(LexMode::kExpr);
                static const std::set<std::string> kOps = {
                    "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith",
                    "bstartswith", "endswith", "glob", "iglob", "regex", "in", "intersects", "pmatch"};
                if (!kOps.count(first.text)) return error(where(comps ? comps : entry), what + ": unknown comparison '" + comp + "'");
            }
            out.push_back(std::move(ex));
        }
        return out;
    }

    static void merge_exceptions(std::vector<ExceptionDef>& into, std::vector<ExceptionDef> more) {
        for (auto& ex : more) {
            auto it = std::find_if(into.begin(), into.end(), [&](const ExceptionDef& e) { return e.name == ex.name; });
            if (it == into.end()) {
                into.push_back(std::move(ex));
            } else {
                it->rows.insert(it->rows.end(), ex.rows.begin(), ex.rows.end());
            }
        }
    }

    Result<void> set_rule_key(RuleInfo& info, const std::string& key, const YAML::Node& value, OverrideMode mode,
                              const std::string& object) {
        Rule& rule = info.rule;
        const bool append = mode == OverrideMode::kAppend;
        auto text_key = [&](std::string& field) -> Result<void> {
            auto text = scalar(value, object + ": '" + key + "'");
            if (!text) return text.error();
            field = append && !field.empty() ? field + " " + *text : *text;
            return {};
        };
        if (key == "condition") {
            if (!append || info.condition.empty()) {
                info.parts = {{0, where(value)}};
            } else {
                info.parts.push_back({info.condition.size() + 1, where(value)});
            }
            return text_key(info.condition);
        }
        if (key == "output") return text_key(rule.output);
        if (key == "desc") return text_key(rule.desc);
        if (key == "source") return text_key(rule.source);
        if (key == "priority") {
            auto text = scalar(value, object + ": 'priority'");
            if (!text) return text.error();
            auto priority = parse_priority(*text);
            if (!priority) {
                return error(where(value), object + ": invalid priority '" + *text +
                                               "' (expected emergency, alert, critical, error, warning, notice, "
                                               "informational or debug)");
            }
            rule.priority = *priority;
            return {};
        }
        if (key == "enabled") {
            auto enabled = boolean(value, object + ": 'enabled'");
            if (!enabled) return enabled.error();
            rule.enabled = *enabled;
            return {};
        }
        if (key == "tags") {
            auto tags = string_list(value, object + ": 'tags'");
            if (!tags) return tags.error();
            if (!append) rule.tags.clear();
            for (auto& tag : *tags) {
                if (std::find(rule.tags.begin(), rule.tags.end(), tag) == rule.tags.end()) rule.tags.push_back(tag);
            }
            return {};
        }
        if (key == "exceptions") {
            auto exceptions = load_exceptions(value, object, append ? &info.exceptions : nullptr);
            if (!exceptions) return exceptions.error();
            if (append) {
                merge_exceptions(info.exceptions, std::move(*exceptions));
            } else {
                info.exceptions = std::move(*exceptions);
            }
            return {};
        }
        if (key == "action") {
            auto text = scalar(value, object + ": 'action'");
            if (!text) return text.error();
            auto action = parse_action(*text);
            if (!action) {
                return error(where(value), object + ": invalid action '" + *text +
                                               "' (expected audit, block, ask, kill or promote)");
            }
            rule.action = *action;
            rule.action_location = where(value);
            return {};
        }
        if (key == "risk") {
            int risk = -1;
            if (!value.IsScalar() || !YAML::convert<int>::decode(value, risk) || risk < 0 || risk > 100) {
                return error(where(value), object + ": 'risk' must be an integer from 0 to 100");
            }
            rule.risk = risk;
            return {};
        }
        if (key == "taint") {
            auto text = scalar(value, object + ": 'taint'");
            if (!text) return text.error();
            if (text->empty() || text->size() > 32 ||
                text->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos) {
                return error(where(value), object + ": 'taint' must name a class of secret in 1-32 "
                                                    "characters of [a-z0-9_-] (e.g. secrets)");
            }
            rule.taint = *text;
            return {};
        }
        // Falco keys bulkhead accepts and does not use yet.
        return {};
    }

    Result<void> load_rule(const YAML::Node& item) {
        auto name = scalar(item["rule"], "rule name");
        if (!name) return name.error();
        const std::string object = "rule '" + *name + "'";
        static const std::set<std::string> kKnown = {
            "rule", "condition", "output", "desc", "priority", "enabled", "tags", "exceptions", "source", "capture",
            "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "override", "append", "action", "risk", "taint"};
        static const std::set<std::string> kAppendable = {"condition", "output", "desc", "tags", "exceptions"};
        static const std::set<std::string> kReplaceable = {
            "condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "capture",
            "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "action", "risk", "taint"};
        std::vector<std::string> keys;
        for (const auto& entry : item) {
            std::string key = entry.first.Scalar();
            if (!kKnown.count(key)) {
                warn(where(entry.first), object + ": unknown key '" + key + "' ignored");
                continue;
            }
            keys.push_back(key);
        }
        std::map<std::string, OverrideMode> modes;
        bool legacy = false;
        auto modifies = read_override(item, object, kAppendable, kReplaceable, modes, legacy);
        if (!modifies) return modifies.error();
        auto existing = rule_index_.find(*name);

        if (*modifies) {
            if (existing == rule_index_.end()) {
                return error(where(item), object + ": " + (legacy ? "'append'" : "'override'") +
                                              " given but no rule by that name was defined earlier");
            }
            RuleInfo& info = rules_[existing->second];
            if (legacy) {
                for (const auto& key : keys) {
                    if (key == "rule" || key == "append") continue;
                    if (key != "condition" && key != "exceptions") {
                        return error(where(item), object + ": 'append: true' can only append 'condition' and "
                                                           "'exceptions', not '" + key + "'; use 'override'");
                    }
                    if (auto ok = set_rule_key(info, key, item[key], OverrideMode::kAppend, object); !ok) return ok;
                }
                return {};
            }
            if (auto ok = check_override_keys(item, object, "rule", modes); !ok) return ok;
            for (const auto& [key, mode] : modes) {
                if (auto ok = set_rule_key(info, key, item[key], mode, object); !ok) return ok;
            }
            return {};
        }

        // Legacy enable/disable: only `rule` and `enabled`.
        if (existing != rule_index_.end() && item.size() == 2 && item["enabled"]) {
            warn(where(item), object + ": an item with only 'rule' and 'enabled' is deprecated; use "
                                       "'override: {enabled: replace}'");
            return set_rule_key(rules_[existing->second], "enabled", item["enabled"], OverrideMode::kReplace, object);
        }

        for (const char* required : {"condition", "output", "desc", "priority"}) {
            if (!item[required]) return error(where(item), object + ": missing required key '" + required + "'");
        }
        RuleInfo info;
        info.rule.name = *name;
        info.rule.location = where(item);
        for (const auto& key : keys) {
            if (key == "rule") continue;
            if (auto ok = set_rule_key(info, key, item[key], OverrideMode::kReplace, object); !ok) return ok;
        }
        if (existing != rule_index_.end()) {
            rules_[existing->second] = std::move(info);
        } else {
            rule_index_[*name] = rules_.size();
            rules_.push_back(std::move(info));
        }
        return {};
    }

    // ---- after every file -----------------------------------------------

    // Falco: `(<condition>) and not ((f1 c1 v1 and ...) or (...))`.
    static std::string fold_exceptions(const RuleInfo& info) {
        std::vector<std::string> terms;
        for (const auto& ex : info.exceptions) {
            for (const auto& row : ex.rows) {
                if (ex.single_field) continue;
                std::string term;
                for (size_t i = 0; i < ex.fields.size(); ++i) {
                    const ExceptionValue& v = row[i];
                    std::string rhs;
                    if (v.is_list || is_list_comp(ex.comps[i])) {
                        rhs = "(";
                        for (size_t j = 0; j < v.items.size(); ++j) rhs += (j ? ", " : "") + quote_if_needed(v.items[j]);
                        rhs += ")";
                    } else {
                        rhs = quote_if_needed(v.items[0]);
                    }
                    term += (i ? " and " : "") + ex.fields[i] + " " + ex.comps[i] + " " + rhs;
                }
                terms.push_back("(" + term + ")");
            }
            if (ex.single_field && !ex.rows.empty()) {
                std::string rhs = "(";
                for (size_t j = 0; j < ex.rows.size(); ++j) rhs += (j ? ", " : "") + quote_if_needed(ex.rows[j][0].items[0]);
                terms.push_back("(" + ex.fields[0] + " " + ex.comps[0] + " " + rhs + "))");
            }
        }
        if (terms.empty()) return info.condition;
        std::string joined;
        for (size_t i = 0; i < terms.size(); ++i) joined += (i ? " or " : "") + terms[i];
        return "(" + info.condition + ") and not (" + joined + ")";
    }

    // Maps a parse error in `text` (the condition, shifted by `shift` bytes
    // when exceptions were folded around it) to the part it falls in.
    static Error condition_error(const std::string& object, const std::string& text, size_t shift,
                                 const std::string& condition, const std::vector<ConditionPart>& parts,
                                 const SourceLocation& fallback, const Error& parse) {
        size_t offset = 0;
        for (int line = 1; line < parse.location.line && offset < text.size(); ++offset) {
            if (text[offset] == '\n') ++line;
        }
        offset += static_cast<size_t>(parse.location.column - 1);
        if (offset < shift || offset - shift > condition.size() || parts.empty()) {
            return error(fallback, object + ": condition: " + parse.message + " (in the folded exceptions)");
        }
        offset -= shift;
        const ConditionPart* part = &parts.front();
        for (const auto& p : parts) {
            if (p.start <= offset) part = &p;
        }
        LineColumn lc = line_column(std::string_view(condition).substr(part->start), offset - part->start);
        return error(part->location, object + ": condition: " + parse.message + " (line " + std::to_string(lc.line) +
                                         ", column " + std::to_string(lc.column) + " of the condition)");
    }

    // Regexes are compiled now so a bad one fails the load, not the match.
    static Result<void> check_regexes(const Expr& expr) {
        std::vector<const Expr*> stack{&expr};
        while (!stack.empty()) {
            const Expr* node = stack.back();
            stack.pop_back();
            for (const auto& child : node->children) stack.push_back(child.get());
            if (node->kind != ExprKind::kCheck || node->op != CompareOp::kRegex) continue;
            if (node->value.kind != Value::Kind::kString) continue;
            RE2::Options options;
            options.set_posix_syntax(true);
            options.set_log_errors(false);
            RE2 re(node->value.text, options);
            if (!re.ok()) return Error{{}, "invalid regex in '" + to_condition(*node) + "': " + re.error()};
        }
        return {};
    }

    Result<RuleSet> finish() {
        resolve_list_items(out_.lists);
        const ListTable lists = make_list_table(out_.lists);

        MacroExpander expander;
        for (const auto& macro : macros_) {
            const std::string object = "macro '" + macro.def.name + "'";
            auto parsed = parse_condition(macro.def.condition);
            const SourceLocation& at = macro.parts.front().location;
            if (!parsed) {
                return condition_error(object, macro.def.condition, 0, macro.def.condition, macro.parts, at,
                                       parsed.error());
            }
            if (auto ok = expand_lists(**parsed, lists); !ok) {
                return error(at, object + ": " + ok.error().message);
            }
            expander.add(macro.def.name, std::move(*parsed));
            out_.macros.push_back(macro.def);
        }

        for (auto& info : rules_) {
            const std::string object = "rule '" + info.rule.name + "'";
            info.rule.condition = fold_exceptions(info);
            auto parsed = parse_condition(info.rule.condition);
            const SourceLocation at = info.parts.empty() ? info.rule.location : info.parts.front().location;
            if (!parsed) {
                size_t shift = info.rule.condition.size() == info.condition.size() ? 0 : 1;
                return condition_error(object, info.rule.condition, shift, info.condition, info.parts,
                                       info.rule.location, parsed.error());
            }
            if (auto ok = expand_lists(**parsed, lists); !ok) {
                return error(at, object + ": " + ok.error().message);
            }
            auto expanded = expander.expand(**parsed);
            if (!expanded) return error(at, object + ": " + expanded.error().message);
            if (auto ok = check_regexes(**expanded); !ok) {
                return error(at, object + ": " + ok.error().message);
            }
            if (info.rule.source != "syscall" && info.rule.source != kToolCallSource) {
                // Plugin fields (ct.*, k8s audit's ka.*) are not ours to check.
                info.rule.unsupported = "source '" + info.rule.source + "' is a plugin source bulkhead does not provide";
            } else {
                auto typed = type_check(**expanded);
                if (!typed) return error(at, object + ": " + typed.error().message);
                info.rule.unsupported = typed->unsupported;
            }
            info.rule.expr = std::shared_ptr<const Expr>(std::move(*expanded));
            out_.rules.push_back(std::move(info.rule));
        }

        // Block and ask rules must be enforceable, or nothing loads.
        if (require_kernel_) {
            auto compiled = compile_kernel_policy(out_);
            if (!compiled) return compiled.error();
        }
        return std::move(out_);
    }

    const bool require_kernel_;
    std::string file_;
    RuleSet out_;
    std::unordered_map<std::string, size_t> list_index_;
    std::vector<MacroInfo> macros_;
    std::unordered_map<std::string, size_t> macro_index_;
    std::vector<RuleInfo> rules_;
    std::unordered_map<std::string, size_t> rule_index_;
};

}  // namespace

Result<RuleSet> load_rule_sources(const std::vector<RuleSource>& sources, const LoadOptions& options) {
    return Loader(options.require_kernel).load(sources);
}

Result<RuleSet> load_rule_files(const std::vector<std::string>& paths, const LoadOptions& options) {
    std::vector<RuleSource> sources;
    for (const auto& path : paths) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return Error{{path, 0, 0}, "rules: cannot read rules file: " + std::string(std::strerror(errno))};
        std::ostringstream content;
        content << in.rdbuf();
        sources.push_back({path, content.str()});
    }
    return load_rule_sources(sources, options);
}

}  // namespace bulkhead::rules
