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

}  // namespace
}  // namespace bulkhead::rules
