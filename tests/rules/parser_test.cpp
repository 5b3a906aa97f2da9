// SPDX-License-Identifier: Apache-2.0
#include "rules/parser.h"

#include <gtest/gtest.h>

#include <string>

namespace bulkhead::rules {
namespace {

struct AcceptCase {
    const char* condition;
    const char* sexpr;
};

TEST(ParserTest, Accepts) {
    const AcceptCase cases[] = {
        {"proc.name = sh", R"((= proc.name "sh"))"},
        {"proc.name == sh", R"((= proc.name "sh"))"},
        {"proc.name != sh", R"((!= proc.name "sh"))"},
        {"fd.num>=0", R"((>= fd.num "0"))"},
        {"fd.num<3", R"((< fd.num "3"))"},
        {"fd.num <= 0x10", R"((<= fd.num "0x10"))"},
        {"evt.rawres > -1", R"((> evt.rawres "-1"))"},
        {"evt.dir = <", R"((= evt.dir "<"))"},
        {"fd.typechar='f'", R"((= fd.typechar "f"))"},
        {"proc.cmdline contains \"sh -c\"", R"((contains proc.cmdline "sh -c"))"},
        {"proc.name icontains BASH", R"((icontains proc.name "BASH"))"},
        {"evt.buffer bcontains CAFEBABE", R"((bcontains evt.buffer "CAFEBABE"))"},
        {"fd.name startswith /etc/", R"((startswith fd.name "/etc/"))"},
        {"evt.buffer bstartswith 7f454c46", R"((bstartswith evt.buffer "7f454c46"))"},
        {"fd.name endswith .pem", R"((endswith fd.name ".pem"))"},
        {"fd.name glob '/home/*/.ssh/*'", R"((glob fd.name "/home/*/.ssh/*"))"},
        {"fd.name iglob '*.PEM'", R"((iglob fd.name "*.PEM"))"},
        {"proc.name regex '^py[0-9]+$'", R"((regex proc.name "^py[0-9]+$"))"},
        {"evt.type in (open, openat, \"openat2\")", R"((in evt.type ("open" "openat" "openat2")))"},
        {"evt.type in ()", "(in evt.type ())"},
        {"proc.name in shell_binaries", "(in proc.name shell_binaries)"},
        {"proc.name in (shell_binaries)", R"((in proc.name ("shell_binaries")))"},
        {"proc.aname intersects (a, b)", R"((intersects proc.aname ("a" "b")))"},
        {"fd.name pmatch (/tmp, /var/tmp)", R"((pmatch fd.name ("/tmp" "/var/tmp")))"},
        {"agent.session exists", "(exists agent.session)"},
        {"proc.aname[2] = bash", R"((= proc.aname[2] "bash"))"},
        {"proc.env[HOME] startswith /root", R"((startswith proc.env[HOME] "/root"))"},
        {"evt.arg[0] = x", R"((= evt.arg[0] "x"))"},
        {"evt.arg.flags contains O_TRUNC", R"((contains evt.arg.flags "O_TRUNC"))"},
        {"tolower(proc.name) = bash", R"((= (tolower proc.name) "bash"))"},
        {"toupper(b64(evt.buffer)) = X", R"((= (toupper (b64 evt.buffer)) "X"))"},
        {"len(proc.args) > 100", R"((> (len proc.args) "100"))"},
        {"basename(fd.name) = id_rsa", R"((= (basename fd.name) "id_rsa"))"},
        {"proc.name = val(proc.pname)", "(= proc.name (val proc.pname))"},
        {"proc.name = tolower(proc.pname)", "(= proc.name (val (tolower proc.pname)))"},
        {"proc.name startswith anyof (py, node)", R"((startswith anyof proc.name ("py" "node")))"},
        {"proc.name endswith oneof (a)", R"((endswith oneof proc.name ("a")))"},
        {"open_read", "open_read"},
        {"a and b", "(and a b)"},
        {"a and b and c", "(and a b c)"},
        {"a or b or c", "(or a b c)"},
        {"a or b and c", "(or a (and b c))"},
        {"a and b or c", "(or (and a b) c)"},
        {"not a and b", "(and (not a) b)"},
        {"not a or not b", "(or (not a) (not b))"},
        {"not not a", "(not (not a))"},
        {"not (a or b)", "(not (or a b))"},
        {"not(a)", "(not a)"},
        {"(a or b) and c", "(and (or a b) c)"},
        {"((a))", "a"},
        {"open_read and fd.name = /etc/shadow",
         R"((and open_read (= fd.name "/etc/shadow")))"},
        {"fd.name in (\"a b\", 'c,d', e)", R"((in fd.name ("a b" "c,d" "e")))"},
        {"proc.cmdline startswith \"sh -c envdir \\\"/run/x\\\" y\"",
         R"((startswith proc.cmdline "sh -c envdir \"/run/x\" y"))"},
        {"fd.name = /a/b and\n  proc.name = x", R"((and (= fd.name "/a/b") (= proc.name "x")))"},
    };
    for (const auto& c : cases) {
        auto parsed = parse_condition(c.condition);
        ASSERT_TRUE(parsed.ok()) << c.condition << ": " << parsed.error().to_string();
        EXPECT_EQ(to_sexpr(**parsed), c.sexpr) << c.condition;
    }
}

// to_condition() output parses back to the same tree.
TEST(ParserTest, RoundTrips) {
    const char* cases[] = {
        "a or b and not (c or d)",
        "fd.name in (\"a b\", c) and proc.name = val(proc.pname)",
        "tolower(proc.name) startswith anyof (py, \"no de\")",
        "not (a and b) and (c or d)",
        "proc.cmdline contains \"quote \\\" inside\"",
    };
    for (const char* condition : cases) {
        auto first = parse_condition(condition);
        ASSERT_TRUE(first.ok()) << condition;
        std::string text = to_condition(**first);
        auto second = parse_condition(text);
        ASSERT_TRUE(second.ok()) << text << ": " << second.error().to_string();
        EXPECT_EQ(to_sexpr(**first), to_sexpr(**second)) << condition << " -> " << text;
    }
}

struct RejectCase {
    const char* condition;
    const char* message;  // exact
    int column;
};

TEST(ParserTest, Rejects) {
    const RejectCase cases[] = {
        {"", "expected a field, a macro name or '(', found end of condition", 1},
        {"proc.name", "expected an operator after 'proc.name', found end of condition", 10},
        {"proc.name = ", "expected a value after '=', found end of condition", 13},
        {"proc.name sh", "expected an operator after 'proc.name', found 'sh'", 11},
        {"proc.name in x/y", "expected a list '(...)' or a list name after 'in', found 'x/y'", 14},
        {"proc.name in (a b)", "expected ',' or ')' in a list, found 'b'", 17},
        {"proc.name in (a,", "expected a list item, found end of condition", 17},
        {"(a and b", "expected ')' to close the '(' at offset 0, found end of condition", 9},
        {"a and", "expected a field, a macro name or '(', found end of condition", 6},
        {"a b", "unexpected 'b' after a complete expression", 3},
        {"a and or b", "expected a field, a macro name or '(' before 'or'", 7},
        {"a )", "unexpected ')' after a complete expression", 3},
        {"proc.name = \"sh", "unterminated quoted string", 13},
        {"proc.name ! sh", "'!' must be followed by '='", 11},
        {"1abc", "expected a field, a macro name or '(', found '1abc'", 1},
        {"proc. = x", "'proc.' is not a field name (expected class.field, e.g. proc.name)", 1},
        {"proc.aname[] = x", "malformed field argument in 'proc.aname[]' (expected name[arg])", 1},
        {"tolower(proc.name", "expected ')' after the transformer argument, found end of condition", 18},
        {"proc.name = val(x", "'x' is not a field name (expected class.field, e.g. proc.name)", 17},
        {"proc.name = val(proc.pname", "expected ')' to close val(, found end of condition", 27},
        {"proc.name exists x", "unexpected 'x' after a complete expression", 18},
        {"proc.name in (a) and (", "expected a field, a macro name or '(', found end of condition", 23},
    };
    for (const auto& c : cases) {
        auto parsed = parse_condition(c.condition);
        ASSERT_FALSE(parsed.ok()) << c.condition;
        EXPECT_EQ(parsed.error().message, c.message) << c.condition;
        EXPECT_EQ(parsed.error().location.column, c.column) << c.condition;
    }
}

TEST(ParserTest, ReportsLineOfMultilineCondition) {
    auto parsed = parse_condition("a and\n  b and\n  c d");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().location.line, 3);
    EXPECT_EQ(parsed.error().location.column, 5);
}

TEST(ParserTest, NestingAtFalcoLimitIsAccepted) {
    std::string condition = std::string(kMaxParseDepth, '(') + "a" + std::string(kMaxParseDepth, ')');
    auto parsed = parse_condition(condition);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
}

// 10,000 levels must fail cleanly (no stack overflow), whatever the nesting
// construct.
TEST(ParserTest, DeepNestingFailsCleanly) {
    const int kDeep = 10'000;
    std::string parens = std::string(kDeep, '(') + "a" + std::string(kDeep, ')');
    std::string nots;
    for (int i = 0; i < kDeep; ++i) nots += "not ";
    nots += "a";
    std::string not_parens;
    for (int i = 0; i < kDeep; ++i) not_parens += "not (";
    not_parens += "a" + std::string(kDeep, ')');
    std::string transformers;
    for (int i = 0; i < kDeep; ++i) transformers += "tolower(";
    transformers += "proc.name" + std::string(kDeep, ')') + " = x";
    for (const auto& condition : {parens, nots, not_parens, transformers}) {
        auto parsed = parse_condition(condition);
        ASSERT_FALSE(parsed.ok());
        EXPECT_EQ(parsed.error().message, "condition nests deeper than 100 levels");
    }
}

TEST(ParserTest, LongFlatChainsAreNotNesting) {
    std::string condition = "a";
    for (int i = 0; i < 10'000; ++i) condition += (i % 2 ? " and b" : " or c");
    auto parsed = parse_condition(condition);
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
}

}  // namespace
}  // namespace bulkhead::rules
