// SPDX-License-Identifier: Apache-2.0
// Passes: list expansion (rules/list_expansion.cpp) and macro expansion
// (rules/macro_expansion.cpp).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "rules/list_expansion.h"
#include "rules/macro_expansion.h"
#include "rules/parser.h"

namespace bulkhead::rules {
namespace {

ExprPtr parse(const std::string& text) {
    auto parsed = parse_condition(text);
    EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().to_string());
    return parsed.ok() ? std::move(*parsed) : nullptr;
}

struct Fixture {
    std::vector<ListDef> lists;
    MacroExpander macros;

    Fixture(std::vector<ListDef> list_defs, const std::vector<std::pair<std::string, std::string>>& macro_defs)
        : lists(std::move(list_defs)) {
        resolve_list_items(lists);
        auto table = make_list_table(lists);
        for (const auto& [name, condition] : macro_defs) {
            ExprPtr body = parse(condition);
            EXPECT_TRUE(expand_lists(*body, table).ok());
            macros.add(name, std::move(body));
        }
    }

    Result<std::string> run(const std::string& condition) {
        ExprPtr expr = parse(condition);
        auto table = make_list_table(lists);
        if (auto ok = expand_lists(*expr, table); !ok) return ok.error();
        auto expanded = macros.expand(*expr);
        if (!expanded) return expanded.error();
        return to_sexpr(**expanded);
    }
};

TEST(ListExpansionTest, ResolvesNestedListsInDefinitionOrder) {
    std::vector<ListDef> lists = {
        {"shells", {"bash", "sh"}, {}},
        {"interpreters", {"shells", "python", "later"}, {}},
        {"later", {"x"}, {}},  // defined after use: stays a literal in `interpreters`
    };
    resolve_list_items(lists);
    EXPECT_EQ(lists[1].items, (std::vector<std::string>{"bash", "sh", "python", "later"}));
}

struct ExpandCase {
    const char* condition;
    const char* sexpr;
};

TEST(ListExpansionTest, ExpandsListsInConditions) {
    Fixture f({{"shells", {"bash", "sh"}, {}}, {"empty", {}, {}}}, {});
    const ExpandCase cases[] = {
        {"proc.name in (shells)", R"((in proc.name ("bash" "sh")))"},
        {"proc.name in shells", R"((in proc.name ("bash" "sh")))"},
        {"proc.name in (zsh, shells, ksh)", R"((in proc.name ("zsh" "bash" "sh" "ksh")))"},
        {"proc.name in (\"shells\")", R"((in proc.name ("shells")))"},  // quoted: a literal
        {"proc.name in (empty)", "(in proc.name ())"},
        {"proc.name pmatch (shells)", R"((pmatch proc.name ("bash" "sh")))"},
        {"proc.name = shells", R"((= proc.name "shells"))"},  // not a list operator
        {"proc.name startswith anyof shells", R"((startswith anyof proc.name ("bash" "sh")))"},
    };
    for (const auto& c : cases) {
        auto out = f.run(c.condition);
        ASSERT_TRUE(out.ok()) << c.condition << ": " << out.error().to_string();
        EXPECT_EQ(*out, c.sexpr) << c.condition;
    }
}

TEST(ListExpansionTest, UndefinedListReferenceFails) {
    Fixture f({}, {});
    auto out = f.run("proc.name in nope");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().message, "undefined list 'nope' in 'proc.name in nope'");
}

TEST(MacroExpansionTest, Expands) {
    Fixture f({{"shells", {"bash", "sh"}, {}}},
              {
                  {"spawned_process", "evt.type in (execve, execveat)"},
                  {"shell_procs", "proc.name in (shells)"},
                  {"shell_spawn", "spawned_process and shell_procs"},
                  {"either", "a_leaf or shell_procs"},
                  {"a_leaf", "proc.pname = init"},
                  {"never_true", "evt.num = 0"},
              });
    const ExpandCase cases[] = {
        {"spawned_process", R"((in evt.type ("execve" "execveat")))"},
        {"shell_spawn and not never_true",
         R"((and (and (in evt.type ("execve" "execveat")) (in proc.name ("bash" "sh"))) (not (= evt.num "0"))))"},
        // Macros keep their grouping: `or` inside `and` stays an `or` node.
        {"either and fd.num >= 0",
         R"((and (or (= proc.pname "init") (in proc.name ("bash" "sh"))) (>= fd.num "0")))"},
        {"proc.name = x", R"((= proc.name "x"))"},
        {"a_leaf and a_leaf", R"((and (= proc.pname "init") (= proc.pname "init")))"},
    };
    for (const auto& c : cases) {
        auto out = f.run(c.condition);
        ASSERT_TRUE(out.ok()) << c.condition << ": " << out.error().to_string();
        EXPECT_EQ(*out, c.sexpr) << c.condition;
    }
}

struct ErrorCase {
    std::vector<std::pair<std::string, std::string>> macros;
    const char* condition;
    const char* message;
};

TEST(MacroExpansionTest, Errors) {
    const ErrorCase cases[] = {
        {{}, "missing", "undefined macro 'missing'"},
        {{{"a", "b and proc.name = x"}}, "a", "undefined macro 'b' (used by macro 'a')"},
        {{{"a", "a"}}, "a", "macro cycle: a -> a"},
        {{{"a", "b"}, {"b", "proc.name = x or c"}, {"c", "not a"}}, "proc.name = y and a",
         "macro cycle: a -> b -> c -> a"},
        {{{"ok", "proc.name = x"}, {"a", "ok and b"}, {"b", "ok or a"}}, "b", "macro cycle: b -> a -> b"},
    };
    for (const auto& c : cases) {
        Fixture f({}, c.macros);
        auto out = f.run(c.condition);
        ASSERT_FALSE(out.ok()) << c.condition;
        EXPECT_EQ(out.error().message, c.message) << c.condition;
    }
}

// A chain of 1,001 macros, each wrapping the previous in `not`, is deeper
// than kMaxExpandedDepth: expansion fails instead of building the tree.
TEST(MacroExpansionTest, DeepChainIsBounded) {
    std::vector<std::pair<std::string, std::string>> macros = {{"m0", "proc.name = x"}};
    for (int i = 1; i <= 1001; ++i) macros.push_back({"m" + std::to_string(i), "not m" + std::to_string(i - 1)});
    Fixture f({}, macros);
    auto out = f.run("m1001");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().message, "macro 'm1000' nests deeper than 1000 levels once its macros are expanded");
    EXPECT_TRUE(f.run("m500").ok());
}

// Each macro uses the previous one twice: 2^40 nodes if expanded naively.
TEST(MacroExpansionTest, ExponentialBlowupIsBounded) {
    std::vector<std::pair<std::string, std::string>> macros = {{"m0", "proc.name = x"}};
    for (int i = 1; i <= 40; ++i) {
        std::string prev = "m" + std::to_string(i - 1);
        macros.push_back({"m" + std::to_string(i), prev + " and " + prev});
    }
    Fixture f({}, macros);
    auto out = f.run("m40");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().message, "macro 'm16' expands to more than 100000 nodes");
}

}  // namespace
}  // namespace bulkhead::rules
