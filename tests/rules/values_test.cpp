// SPDX-License-Identifier: Apache-2.0
// Matchers shared by the checker and the evaluator: Falco's glob and pmatch,
// numbers, IP networks, home paths.
#include <gtest/gtest.h>

#include <string>

#include "rules/values.h"

namespace bulkhead::rules {
namespace {

TEST(ValuesTest, GlobIsAFullMatchAndStarStaysInOneComponent) {
    EXPECT_TRUE(glob_match("/etc/*.conf", "/etc/a.conf"));
    EXPECT_FALSE(glob_match("/etc/*.conf", "/etc/x/a.conf"));
    EXPECT_FALSE(glob_match("/etc/*", "/etc/a/b"));
    EXPECT_TRUE(glob_match("/etc/?", "/etc/a"));
    EXPECT_FALSE(glob_match("/etc/?", "/etc/ab"));
    EXPECT_TRUE(glob_match("/dev/[st]d[a-c]", "/dev/sdb"));
    EXPECT_FALSE(glob_match("/dev/[!s]d?", "/dev/sda"));
    EXPECT_TRUE(glob_match("**/.git/hooks/*", "/w/repo/.git/hooks/pre-commit"));
    EXPECT_TRUE(glob_match("/w/**/.mcp.json", "/w/.mcp.json"));
    EXPECT_TRUE(glob_match("/w/**/.mcp.json", "/w/a/b/.mcp.json"));
    EXPECT_FALSE(glob_match("/w/**/.mcp.json", "/x/a/.mcp.json"));
    EXPECT_TRUE(glob_match("/A/*", "/a/B", true));
    EXPECT_TRUE(glob_match("a\\*", "a*"));
    EXPECT_FALSE(glob_match("a\\*", "ab"));
    // Pathological backtracking stays linear-ish: must return promptly.
    EXPECT_FALSE(glob_match(std::string(50, '*') + "b", std::string(4096, 'a')));
}

TEST(ValuesTest, PmatchMatchesWholeComponents) {
    EXPECT_TRUE(path_prefix_match("/tmp/hello", "/tmp/hello"));
    EXPECT_TRUE(path_prefix_match("/tmp/hello", "/tmp/hello/x"));
    EXPECT_FALSE(path_prefix_match("/tmp/hello", "/tmp/hello_world"));
    EXPECT_TRUE(path_prefix_match("/tmp/hello/", "/tmp/hello/x"));
    EXPECT_TRUE(path_prefix_match("/var/*/*.txt", "/var/a/b.txt/c"));
    EXPECT_FALSE(path_prefix_match("/var/*/*.txt", "/var/a/b.log"));
    EXPECT_TRUE(path_prefix_match("/", "/anything"));
}

TEST(ValuesTest, Numbers) {
    __int128 n = 0;
    EXPECT_TRUE(parse_number("42", &n));
    EXPECT_EQ(static_cast<int64_t>(n), 42);
    EXPECT_TRUE(parse_number("-1", &n));
    EXPECT_EQ(static_cast<int64_t>(n), -1);
    EXPECT_TRUE(parse_number("0xff", &n));
    EXPECT_EQ(static_cast<int64_t>(n), 255);
    EXPECT_TRUE(parse_number("18446744073709551615", &n));
    EXPECT_FALSE(parse_number("18446744073709551616", &n));
    EXPECT_FALSE(parse_number("", &n));
    EXPECT_FALSE(parse_number("12a", &n));
    EXPECT_FALSE(parse_number("-", &n));
}

TEST(ValuesTest, IpNetworks) {
    IpNetwork addr, net;
    ASSERT_TRUE(parse_ip_network("169.254.169.254", &addr));
    ASSERT_TRUE(parse_ip_network("169.254.0.0/16", &net));
    EXPECT_TRUE(ip_in_network(addr, net));
    ASSERT_TRUE(parse_ip_network("10.0.0.0/8", &net));
    EXPECT_FALSE(ip_in_network(addr, net));
    ASSERT_TRUE(parse_ip_network("fd00:ec2::254", &addr));
    ASSERT_TRUE(parse_ip_network("fd00::/8", &net));
    EXPECT_TRUE(ip_in_network(addr, net));
    EXPECT_FALSE(parse_ip_network("10.0.0.0/33", nullptr));
    EXPECT_FALSE(parse_ip_network("10.0.0.0/", nullptr));
    EXPECT_FALSE(parse_ip_network("example.com", nullptr));
}

TEST(ValuesTest, HomeSuffix) {
    EXPECT_EQ(home_suffix("/root/.ssh/id"), 5u);
    EXPECT_EQ(home_suffix("/home/ann/.ssh/id"), 9u);
    EXPECT_EQ(home_suffix("/home/ann"), std::string_view::npos);
    EXPECT_EQ(home_suffix("/home//x"), std::string_view::npos);
    EXPECT_EQ(home_suffix("/opt/x"), std::string_view::npos);
}

}  // namespace
}  // namespace bulkhead::rules
