// SPDX-License-Identifier: Apache-2.0
// Host names in egress allow lists: what is accepted, and the exact reason
// for everything that is not.
#include "net/host_name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bulkhead::net {
namespace {

std::string repeat(char c, size_t n) { return std::string(n, c); }

// n labels of `len` 'a's joined by dots.
std::string labels(size_t n, size_t len) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += (i ? "." : "") + repeat('a', len);
    return out;
}

TEST(HostName, Accepted) {
    const std::vector<std::string> good = {
        "example.com",
        "EXAMPLE.Com.",
        "localhost",
        "a",
        "a-b.c0m",
        "xn--bcher-kva.example",
        "1password.com",
        "registry-1.docker.io",
        repeat('a', 63) + ".com",
        labels(4, 63).substr(0, 253),  // 253 bytes, last label 61
        labels(4, 63).substr(0, 253) + ".",
    };
    for (const std::string& name : good) EXPECT_EQ(validate_host_name(name), std::nullopt) << name;
}

TEST(HostName, Rejected) {
    struct Case {
        std::string name;
        std::string error;  // a substring of the message
    };
    const std::vector<Case> cases = {
        {"", "host name is empty"},
        {std::string("exa\0mple.com", 12), "host name 'exa\\x00mple.com' contains a NUL byte at offset 3"},
        {"ex\xffmple.com", "contains byte \\xff at offset 2; only letters, digits, '-' and '.' are allowed"},
        {"\xc3\xa9xample.com", "contains byte \\xc3 at offset 0"},
        {"a_b.com", "contains byte '_' (\\x5f) at offset 1"},
        {"a b.com", "contains byte \\x20 at offset 1"},
        {"a/b.com", "contains byte '/' (\\x2f) at offset 1"},
        {"a..b", "host name 'a..b' has an empty label at offset 2"},
        {".a.com", "has an empty label at offset 0"},
        {"a.com..", "has an empty label at offset 6"},
        {".", "has an empty label at offset 0"},
        {"-a.com", "host name '-a.com' has a label starting with '-' at offset 0"},
        {"x.-a.com", "has a label starting with '-' at offset 2"},
        {"a-.com", "has a label ending with '-' at offset 1"},
        {"*.x.com", "host name '*.x.com': wildcards are not supported for kernel egress"},
        {"api.*.com", "wildcards are not supported for kernel egress"},
        {"10.0.0.1", "host name '10.0.0.1' is an IP address, not a host name; put it in the CIDR allow list"},
        {"10.0.0.0/8", "'10.0.0.0/8' is an IP network, not a host name; put it in the CIDR allow list"},
        {"::1", "is an IP address, not a host name"},
        {"2001:db8::1", "is an IP address, not a host name"},
        {"10.0.0.1.", "ends in an all-digit label, so it reads as an IP address"},
        {"127.1", "ends in an all-digit label"},
        {repeat('a', 4096), "is 4096 bytes long; the limit is 253"},
        {labels(4, 63).substr(0, 254), "is 254 bytes long; the limit is 253"},
        {repeat('a', 64) + ".com", "has a label of 64 bytes at offset 0; the limit is 63"},
        {"x." + repeat('b', 64), "has a label of 64 bytes at offset 2; the limit is 63"},
    };
    for (const Case& c : cases) {
        auto err = validate_host_name(c.name);
        ASSERT_TRUE(err.has_value()) << quote_host_name(c.name);
        EXPECT_NE(err->find(c.error), std::string::npos) << "name " << quote_host_name(c.name) << "\n got: " << *err
                                                         << "\nwant: " << c.error;
        EXPECT_LT(err->size(), 300u) << "a message must not echo a huge name";
    }
}

TEST(HostName, Normalised) {
    EXPECT_EQ(normalize_host_name("Api.GitHub.COM."), "api.github.com");
    EXPECT_EQ(normalize_host_name("pypi.org"), "pypi.org");
}

TEST(HostName, Quoted) {
    EXPECT_EQ(quote_host_name("a'b\\c\x01"), "'a\\x27b\\x5cc\\x01'");
    EXPECT_EQ(quote_host_name(repeat('a', 10), 4), "'aaaa...'");
}

}  // namespace
}  // namespace bulkhead::net
