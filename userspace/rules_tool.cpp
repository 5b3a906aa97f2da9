// SPDX-License-Identifier: Apache-2.0
// Cases for `bulkhead rules test` (a YAML sequence):
//
//   - name: cat reads an SSH key inside a session
//     event: {evt.type: openat, evt.is_open_read: true, fd.name: /home/ann/.ssh/id_rsa,
//             agent.session: 7}
//     expect: [Read SSH private key]      # exactly these rules fire
//   - name: the same file outside a session
//     event: {evt.type: openat, evt.is_open_read: true, fd.name: /home/ann/.ssh/id_rsa}
//     expect: []
//     misses: [Read SSH private key]      # a near miss for these rules
//   - name: replay of a recorded event
//     recorded: '{"rule": "...", "output_fields": {...}}'   # a line of `bulkhead events --json`
//     expect: [...]
//
// With --coverage every evaluated rule needs a case that expects it and a
// case that names it in `misses`.
#include "rules_tool.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "events/event.h"
#include "policy.h"
#include "rules/event_types.h"
#include "rules/rules.h"

namespace bulkhead::rules_tool {

namespace {

using rules::Placement;

// YAML scalars stay strings: FieldMap parses numbers and booleans by the
// field's type, so "0755" stays a string where a string is wanted.
nlohmann::json to_json(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Map: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& kv : node) out[kv.first.as<std::string>()] = to_json(kv.second);
        return out;
    }
    case YAML::NodeType::Sequence: {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : node) out.push_back(to_json(item));
        return out;
    }
    case YAML::NodeType::Scalar: return node.as<std::string>();
    default: return nullptr;
    }
}

std::optional<rules::RuleSet> load(const std::vector<std::string>& files) {
    auto loaded = rules::load_rule_files(files);
    if (!loaded) {
        std::cerr << loaded.error().to_string() << "\n";
        return std::nullopt;
    }
    for (const auto& w : loaded->warnings) std::cerr << w.to_string() << "\n";
    return std::move(*loaded);
}

std::string placement_text(const rules::Rule& rule, const rules::RuleReport& report) {
    if (report.placement == Placement::kUserspace && !rule.unsupported.empty())
        return "unsupported (" + rule.unsupported + ")";
    std::string text(rules::to_string(report.placement));
    if ((report.placement == Placement::kUserspace || report.placement == Placement::kUnsupported) &&
        !report.reason.empty())
        text += " (" + report.reason + ")";
    return text;
}

std::string join(const std::set<std::string>& names) {
    std::string out = "[";
    for (const auto& n : names) out += (out.size() > 1 ? ", " : "") + n;
    return out + "]";
}

std::set<std::string> names_of(const YAML::Node& node, const std::string& key, const std::string& where,
                               bool* ok) {
    std::set<std::string> out;
    const YAML::Node list = node[key];
    if (!list) return out;
    if (!list.IsSequence()) {
        std::cerr << where << ": '" << key << "' must be a list of rule names\n";
        *ok = false;
        return out;
    }
    for (const auto& item : list) out.insert(item.as<std::string>());
    return out;
}

}  // namespace

int validate(const std::vector<std::string>& files, bool json) {
    // Every rule the kernel cannot enforce is reported, not only the first.
    auto loaded = rules::load_rule_files(files, {.require_kernel = false});
    if (!loaded) {
        if (json) {
            std::cout << nlohmann::json{{"ok", false}, {"error", loaded.error().to_string()}}.dump() << "\n";
        } else {
            std::cerr << "error: " << loaded.error().to_string() << "\n";
        }
        return 1;
    }
    const rules::KernelCompilation kernel = rules::analyze_kernel_policy(*loaded);
    std::vector<std::string> errors;
    for (const auto& e : rules::unenforceable_rules(kernel)) errors.push_back(e.to_string());
    std::map<std::string, int> counts;
    nlohmann::json report = nlohmann::json::array();
    for (size_t i = 0; i < loaded->rules.size(); ++i) {
        const rules::Rule& rule = loaded->rules[i];
        std::string placement = placement_text(rule, kernel.report[i]);
        ++counts[placement.substr(0, placement.find(' '))];
        if (json) {
            report.push_back({{"rule", rule.name}, {"location", rule.location.to_string()},
                              {"action", rules::to_string(rule.action)}, {"placement", placement}});
        } else {
            std::cout << rule.location.to_string() << ": " << rule.name << ": " << placement << "\n";
        }
    }
    if (json) {
        nlohmann::json warnings = nlohmann::json::array();
        for (const auto& w : loaded->warnings) warnings.push_back(w.to_string());
        for (const auto& w : rules_that_never_fire(*loaded, kernel)) warnings.push_back(w);
        std::cout << nlohmann::json{{"ok", errors.empty()}, {"errors", errors}, {"rules", report},
                                    {"warnings", warnings}}
                         .dump(2)
                  << "\n";
        return errors.empty() ? 0 : 1;
    }
    std::cout << std::flush;  // the report first, then what is wrong with it
    for (const auto& w : loaded->warnings) std::cerr << "warning: " << w.to_string() << "\n";
    for (const auto& w : rules_that_never_fire(*loaded, kernel)) std::cerr << "warning: " << w << "\n";
    for (const auto& e : errors) std::cerr << "error: " << e << "\n";
    std::cout << loaded->rules.size() << " rules: " << counts["kernel"] << " kernel, " << counts["userspace"]
              << " userspace, " << counts["unsupported"] << " unsupported, " << counts["disabled"] << " disabled; "
              << loaded->macros.size() << " macros, " << loaded->lists.size() << " lists\n";
    if (!errors.empty())
        std::cerr << errors.size() << " rule(s) cannot be enforced in the kernel: the daemon would "
                     "refuse these files\n";
    return errors.empty() ? 0 : 1;
}

int test(const std::vector<std::string>& files, const std::vector<std::string>& case_files, bool coverage) {
    auto loaded = load(files);
    if (!loaded) return 2;
    auto shared = std::make_shared<const rules::RuleSet>(std::move(*loaded));
    auto engine = rules::Evaluator::build(shared);
    if (!engine) {
        std::cerr << engine.error().to_string() << "\n";
        return 2;
    }
    std::set<std::string> evaluated;
    for (const auto& rule : shared->rules)
        if (rule.enabled && rule.unsupported.empty()) evaluated.insert(rule.name);

    int cases = 0, failed = 0;
    std::set<std::string> triggered, missed;
    for (const auto& path : case_files) {
        YAML::Node doc;
        try {
            doc = YAML::LoadFile(path);
        } catch (const YAML::Exception& e) {
            std::cerr << path << ":" << e.mark.line + 1 << ": " << e.msg << "\n";
            return 2;
        }
        if (!doc.IsSequence()) {
            std::cerr << path << ": cases must be a YAML sequence\n";
            return 2;
        }
        for (const auto& c : doc) {
            const std::string where = path + ":" + std::to_string(c.Mark().line + 1);
            bool ok = true;
            const std::string name = c["name"] ? c["name"].as<std::string>() : where;
            if (!c["expect"]) {
                std::cerr << where << ": case '" << name << "' has no 'expect' (a list, [] when nothing fires)\n";
                return 2;
            }
            std::set<std::string> expect = names_of(c, "expect", where, &ok);
            std::set<std::string> misses = names_of(c, "misses", where, &ok);
            for (const auto& r : expect)
                if (!evaluated.count(r)) std::cerr << where << ": no evaluated rule '" << r << "'\n", ok = false;
            for (const auto& r : misses)
                if (!evaluated.count(r)) std::cerr << where << ": no evaluated rule '" << r << "'\n", ok = false;
            if (!ok) return 2;

            nlohmann::json fields;
            bool recorded = false;
            if (c["recorded"]) {
                auto parsed = nlohmann::json::parse(c["recorded"].as<std::string>(), nullptr, false);
                if (parsed.is_discarded() || !parsed.contains("output_fields")) {
                    std::cerr << where << ": 'recorded' must be a line of `bulkhead events --json`\n";
                    return 2;
                }
                fields = parsed["output_fields"];
                recorded = true;
            } else if (c["event"] && c["event"].IsMap()) {
                fields = to_json(c["event"]);
            } else {
                std::cerr << where << ": case '" << name << "' needs 'event' (a map of fields) or 'recorded'\n";
                return 2;
            }
            auto event = rules::FieldMap::from_json(fields, recorded);
            if (!event) {
                std::cerr << where << ": " << event.error().message << "\n";
                return 2;
            }
            std::vector<size_t> fired_index;
            engine->evaluate(*event, &fired_index);
            std::set<std::string> fired;
            for (size_t i : fired_index) fired.insert(shared->rules[i].name);
            ++cases;
            bool pass = fired == expect;
            for (const auto& r : misses) pass = pass && !fired.count(r);
            if (pass) {
                std::cout << "ok    " << name << "\n";
                triggered.insert(expect.begin(), expect.end());
                missed.insert(misses.begin(), misses.end());
            } else {
                ++failed;
                std::cout << "FAIL  " << name << " (" << where << "): expected " << join(expect) << ", fired "
                          << join(fired) << "\n";
            }
        }
    }
    int uncovered = 0;
    for (const auto& rule : evaluated) {
        std::string lacks;
        if (!triggered.count(rule)) lacks += " a triggering case";
        if (!missed.count(rule)) lacks += std::string(lacks.empty() ? "" : " and") + " a near-miss case";
        if (lacks.empty()) continue;
        ++uncovered;
        if (coverage) std::cout << "UNCOVERED  " << rule << ": needs" << lacks << "\n";
    }
    std::cout << cases << " cases, " << failed << " failed; " << evaluated.size() - uncovered << " of "
              << evaluated.size() << " rules covered by a triggering and a near-miss case\n";
    return failed || (coverage && uncovered) ? 1 : 0;
}

int explain(const std::vector<std::string>& files, const std::string& name) {
    auto loaded = load(files);
    if (!loaded) return 2;
    const rules::Rule* rule = loaded->find_rule(name);
    if (!rule) {
        std::cerr << "no rule named '" << name << "' in";
        for (const auto& f : files) std::cerr << " " << f;
        std::cerr << "\n";
        return 1;
    }
    size_t index = rule - loaded->rules.data();
    const rules::KernelCompilation kernel = rules::analyze_kernel_policy(*loaded);
    std::cout << "rule:       " << rule->name << "\n"
              << "defined at: " << rule->location.to_string() << "\n"
              << "priority:   " << rules::to_string(rule->priority) << "\n"
              << "action:     " << rules::to_string(rule->action) << "\n"
              << "risk:       " << rule->risk << "\n"
              << "enabled:    " << (rule->enabled ? "yes" : "no") << "\n";
    std::cout << "tags:      ";
    for (const auto& t : rule->tags) std::cout << " " << t;
    std::cout << "\ncondition:  " << rule->condition << "\n";
    if (rule->expr) {
        std::cout << "expanded:   " << rules::to_condition(*rule->expr) << "\n";
        auto types = rules::event_types(*rule->expr);
        std::cout << "runs on:    ";
        if (!types) std::cout << "every event type";
        else for (const auto& t : *types) std::cout << t << " ";
        std::cout << "\n";
    }
    std::cout << "placement:  " << placement_text(*rule, kernel.report[index]) << "\n";
    for (const auto& p : kernel.policy.files) {
        if (p.rule != rule->name) continue;
        static const char* kVerdicts[] = {"", "audit", "deny", "ask"};
        static const char* kScopes[] = {"every process", "agent sessions", "sessions of agent "};
        std::cout << "kernel:     " << kVerdicts[static_cast<int>(p.verdict)] << " " << events::op_name(p.ops)
                  << " by " << kScopes[static_cast<int>(p.scope)] << p.agent << " on:\n";
        for (const auto& t : p.targets) {
            static const char* kKinds[] = {"object (by inode)", "subtree (by ancestor inode)", "name pattern",
                                           "subtree (by ancestor inode), for sessions working elsewhere",
                                           "object (by device and inode number)"};
            std::cout << "            " << (t.kind == rules::TargetKind::kOtherWorkspaces ? "each live session's workspace" : t.target) << "  [" << kKinds[static_cast<int>(t.kind)] << "]\n";
        }
    }
    for (const auto& n : kernel.policy.net) {
        if (n.rule != rule->name)
            continue;
        static const char* kVerdicts[] = {"", "audit", "deny", "ask"};
        static const char* kTerms[] = {"any", "in", "not in"};
        std::string ops = std::string(n.ops & rules::kNetConnect ? "connect" : "") +
                          (n.ops & rules::kNetConnect && n.ops & rules::kNetSend ? "+" : "") +
                          (n.ops & rules::kNetSend ? "send" : "");
        std::string protos = n.protos == 0 ? "any protocol"
                             : n.protos == (rules::kProtoTcp | rules::kProtoUdp) ? "tcp+udp"
                             : n.protos & rules::kProtoTcp ? "tcp" : "udp";
        std::cout << "kernel:     " << kVerdicts[static_cast<int>(n.verdict)] << " " << ops << " (" << protos
                  << ") by " << (n.agent.empty() ? "agent sessions" : "sessions of agent " + n.agent)
                  << (n.tainted_only ? ", once tainted" : "") << " [net guard]\n";
        std::cout << "            destination " << kTerms[static_cast<int>(n.addr_term)];
        for (const auto& c : n.cidrs)
            std::cout << " " << c;
        for (const auto& h : n.hosts)
            std::cout << " " << h << " (resolved by the daemon)";
        std::cout << "\n            port " << kTerms[static_cast<int>(n.port_term)];
        for (auto p : n.ports)
            std::cout << " " << p;
        std::cout << "\n";
    }
    return 0;
}

}  // namespace bulkhead::rules_tool
