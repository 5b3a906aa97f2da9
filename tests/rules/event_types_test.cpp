// SPDX-License-Identifier: Apache-2.0
// Event-type extraction: which evt.type values a condition can match.
#include <gtest/gtest.h>

#include "rules/event_types.h"
#include "rules/parser.h"

namespace bulkhead::rules {
namespace {

std::string types(const char* condition) {
    auto expr = parse_condition(condition);
    if (!expr) return "parse error: " + expr.error().to_string();
    auto out = event_types(**expr);
    if (!out) return "*";
    std::string s;
    for (const auto& t : *out) s += (s.empty() ? "" : ",") + t;
    return s;
}

TEST(EventTypesTest, Extracts) {
    EXPECT_EQ(types("evt.type = open"), "open");
    EXPECT_EQ(types("evt.type in (open, openat) and proc.name = cat"), "open,openat");
    EXPECT_EQ(types("evt.type in (open, openat) and evt.type = openat"), "openat");
    EXPECT_EQ(types("evt.type = open or evt.type = execve"), "execve,open");
    EXPECT_EQ(types("evt.type = open or proc.name = cat"), "*");
    EXPECT_EQ(types("not evt.type = open"), "*");
    EXPECT_EQ(types("evt.type != open"), "*");
    EXPECT_EQ(types("proc.name = cat"), "*");
    EXPECT_EQ(types("evt.type = open and evt.type = execve"), "");  // never true
    EXPECT_EQ(types("tolower(evt.type) = open"), "*");
}

}  // namespace
}  // namespace bulkhead::rules
