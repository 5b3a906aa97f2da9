// SPDX-License-Identifier: Apache-2.0
// Falco's own falco_rules.yaml must load unchanged: every list, macro and
// rule parses, every reference resolves. The file lives outside the
// repository (BULKHEAD_FALCO_RULES); the test skips when it is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "rules/parser.h"
#include "rules/rules.h"

namespace bulkhead::rules {
namespace {

const char* const kFalcoRules = BULKHEAD_FALCO_RULES;

TEST(FalcoCompatTest, LoadsFalcoRules) {
    if (!std::filesystem::exists(kFalcoRules)) {
        GTEST_SKIP() << "Falco rules not found at " << kFalcoRules;
    }
    auto loaded = load_rule_files({kFalcoRules});
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    const RuleSet& rules = *loaded;

    // Counted by hand (`grep -c '^- rule:'` etc.) on falcosecurity/rules
    // falco-rules-5.1.0 / HEAD c72713ee.
    EXPECT_EQ(rules.rules.size(), 25u);
    EXPECT_EQ(rules.macros.size(), 87u);
    EXPECT_EQ(rules.lists.size(), 49u);
    EXPECT_EQ(rules.required_engine_version, "0.57.0");
    ASSERT_EQ(rules.required_plugins.size(), 1u);
    EXPECT_EQ(rules.required_plugins[0].name, "container");
    EXPECT_EQ(rules.required_plugins[0].version, "0.4.0");
    for (const auto& warning : rules.warnings) ADD_FAILURE() << warning.to_string();

    // Every macro parses on its own too (unused ones are not expanded).
    for (const auto& macro : rules.macros) {
        auto parsed = parse_condition(macro.condition);
        EXPECT_TRUE(parsed.ok()) << macro.name << ": " << parsed.error().to_string();
    }

    std::map<Priority, int> priorities;
    for (const auto& rule : rules.rules) {
        ASSERT_TRUE(rule.expr) << rule.name;
        EXPECT_EQ(rule.action, Action::kAudit) << rule.name;
        ++priorities[rule.priority];
    }
    EXPECT_EQ(priorities[Priority::kWarning], 14);
    EXPECT_EQ(priorities[Priority::kNotice], 7);
    EXPECT_EQ(priorities[Priority::kCritical], 3);
    EXPECT_EQ(priorities[Priority::kInformational], 1);

    EXPECT_NE(rules.find_rule("Read sensitive file untrusted"), nullptr);
    EXPECT_NE(rules.find_rule("Fileless execution via memfd_create"), nullptr);
}

// Falco's rules are detection rules: none is kernel-compilable, so all stay
// userspace rules and the kernel policy is empty; the report says why.
TEST(FalcoCompatTest, FalcoRulesAreUserspaceRules) {
    if (!std::filesystem::exists(kFalcoRules)) {
        GTEST_SKIP() << "Falco rules not found at " << kFalcoRules;
    }
    auto loaded = load_rule_files({kFalcoRules});
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    auto compiled = compile_kernel_policy(*loaded);
    ASSERT_TRUE(compiled.ok()) << compiled.error().to_string();
    int userspace = 0;
    for (const auto& report : compiled->report) {
        if (report.placement == Placement::kUserspace) {
            ++userspace;
            EXPECT_FALSE(report.reason.empty()) << report.rule;
        }
    }
    EXPECT_EQ(userspace, 25);
    EXPECT_TRUE(compiled->policy.files.empty());
}

// Every Falco rule is either run by the evaluator or reported unsupported
// with the field that stops it; none is silently dropped.
TEST(FalcoCompatTest, EvaluatesOrReportsEveryRule) {
    if (!std::filesystem::exists(kFalcoRules)) {
        GTEST_SKIP() << "Falco rules not found at " << kFalcoRules;
    }
    auto loaded = load_rule_files({kFalcoRules});
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    auto rules = std::make_shared<const RuleSet>(std::move(*loaded));
    std::map<std::string, std::string> unsupported;
    for (const auto& rule : rules->rules)
        if (!rule.unsupported.empty()) unsupported[rule.name] = rule.unsupported;
    const std::string carry = "' is a Falco field bulkhead's events do not carry";
    EXPECT_EQ(unsupported, (std::map<std::string, std::string>{
                               {"Read sensitive file trusted after startup", "field 'proc.duration" + carry},
                               {"Linux Kernel Module Injection Detected", "field 'thread.cap_effective" + carry},
                               {"Detect release_agent File Container Escapes", "field 'thread.cap_effective" + carry},
                               {"Drop and execute new binary in container", "field 'proc.is_exe_upper_layer" + carry},
                               {"Disallowed SSH Connection Non Standard Port", "field 'fd.name_changed" + carry},
                           }));
    auto engine = Evaluator::build(rules);
    ASSERT_TRUE(engine.ok()) << engine.error().to_string();
    EXPECT_EQ(engine->compiled_rules(), 20u);

    // One of them, end to end: a shell reading /etc/shadow.
    auto event = FieldMap::from_json({{"evt.type", "openat"}, {"evt.is_open_read", true}, {"fd.typechar", "f"},
                                      {"fd.num", 3}, {"fd.name", "/etc/shadow"}, {"fd.directory", "/etc"},
                                      {"proc.name", "cat"}, {"proc.pname", "bash"}, {"user.name", "root"},
                                      {"proc.cmdline", "cat /etc/shadow"}, {"proc.exepath", "/usr/bin/cat"}});
    ASSERT_TRUE(event.ok()) << event.error().to_string();
    std::vector<size_t> fired;
    engine->evaluate(*event, &fired);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(rules->rules[fired[0]].name, "Read sensitive file untrusted");
    EXPECT_NE(engine->render(fired[0], *event).text.find("file=/etc/shadow"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::rules
