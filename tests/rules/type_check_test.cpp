// SPDX-License-Identifier: Apache-2.0
// The type checker: a table of conditions it accepts, rejects (with the
// message) or marks unsupported.
#include <gtest/gtest.h>

#include "rules/parser.h"
#include "rules/type_check.h"

namespace bulkhead::rules {
namespace {

struct Row {
    const char* condition;
    const char* error;        // "" when accepted
    const char* unsupported;  // "" when the evaluator can run it
};

class TypeCheckTable : public testing::TestWithParam<Row> {};

TEST_P(TypeCheckTable, Checks) {
    const Row& row = GetParam();
    auto expr = parse_condition(row.condition);
    ASSERT_TRUE(expr.ok()) << expr.error().to_string();
    auto checked = type_check(**expr);
    if (*row.error) {
        ASSERT_FALSE(checked.ok()) << row.condition;
        EXPECT_EQ(checked.error().message, row.error);
        return;
    }
    ASSERT_TRUE(checked.ok()) << checked.error().to_string();
    EXPECT_EQ(checked->unsupported, row.unsupported);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TypeCheckTable,
    testing::Values(
        Row{"proc.name = bash", "", ""}, Row{"proc.pid > 10", "", ""}, Row{"fd.num >= -1", "", ""},
        Row{"proc.pid in (1, 0x10)", "", ""}, Row{"evt.is_open_read = true", "", ""},
        Row{"fd.sip in (10.0.0.0/8, ::1)", "", ""}, Row{"len(proc.cmdline) > 100", "", ""},
        Row{"proc.name = val(proc.pname)", "", ""}, Row{"evt.arg.flags contains O_TRUNC", "", ""},
        Row{"proc.aname[3] = sshd", "", ""}, Row{"proc.cmdline bcontains 2f746d70", "", ""},
        Row{"proc.name startswith anyof (a, b)", "", ""},
        Row{"proc.pid contains 1", "'proc.pid contains 1': operator 'contains' does not apply to number field proc.pid", ""},
        Row{"proc.pid > abc", "'proc.pid > abc': 'abc' is not a number", ""},
        Row{"proc.name > abc", "'proc.name > abc': operator '>' does not apply to string field proc.name", ""},
        Row{"evt.is_open_read = yes", "'evt.is_open_read = yes': 'yes' is not true or false", ""},
        Row{"fd.sip = 300.1.1.1", "'fd.sip = 300.1.1.1': '300.1.1.1' is not an IP address or CIDR network", ""},
        Row{"tolower(proc.pid) = 1", "'tolower(proc.pid) = 1': tolower() needs a string, and proc.pid is a number", ""},
        Row{"proc.name = val(proc.pid)", "'proc.name = val(proc.pid)': compares string with number", ""},
        Row{"proc.cmdline bcontains xyz", "'proc.cmdline bcontains xyz': 'xyz' is not a hex byte string (like CAFEBABE)", ""},
        Row{"proc.nmae = bash", "'proc.nmae = bash': unknown field 'proc.nmae'", ""},
        Row{"foo.bar = 1", "'foo.bar = 1': unknown field 'foo.bar'", ""},
        Row{"proc.name[2] = x", "'proc.name[2] = x': field 'proc.name' takes no argument", ""},
        Row{"proc.aname[x] = y", "'proc.aname[x] = y': field 'proc.aname' takes an index from 0 to 64, not 'x'", ""},
        Row{"container.image.tag = latest", "",
            "field 'container.image.tag' is a Falco field bulkhead's events do not carry"},
        Row{"proc.name = a and thread.cap_effective contains X", "",
            "field 'thread.cap_effective' is a Falco field bulkhead's events do not carry"}));

}  // namespace
}  // namespace bulkhead::rules
