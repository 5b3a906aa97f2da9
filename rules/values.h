// SPDX-License-Identifier: Apache-2.0
// Values and matchers shared by the type checker and the evaluator
// (internal): numbers, hex byte strings, IP networks, Falco's glob and
// pmatch, and bulkhead's `~/` (any home directory) in path values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bulkhead::rules {

// Decimal or 0x hex, optionally negative. *out may be null (validate only).
bool parse_number(std::string_view text, __int128* out);

// "CAFEBABE" -> 4 bytes; even length, hex digits only.
bool parse_hex_bytes(std::string_view text, std::string* out);

struct IpNetwork {
    int family = 0;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> addr{};
    int prefix = 0;  // 32 / 128 for a single address
};

// "10.0.0.1", "10.0.0.0/8", "fd00::/8", "::1".
bool parse_ip_network(std::string_view text, IpNetwork* out);
bool ip_in_network(const IpNetwork& addr, const IpNetwork& net);

// Falco's glob: a full match; `*` and `?` do not cross `/`; `[...]` classes;
// `**/` (bulkhead, as in the kernel policy) matches any number of directories.
bool glob_match(std::string_view pattern, std::string_view text, bool casefold = false);

// Falco's pmatch for one prefix: `text` is `prefix` or below it on a whole
// component; the prefix may contain glob wildcards.
bool path_prefix_match(std::string_view prefix, std::string_view text);

// For a path under a home directory, the part after the home
// ("/home/ann/.ssh/id" and "/root/.ssh/id" -> "/.ssh/id"); npos otherwise.
size_t home_suffix(std::string_view path);

// True when `value` is written relative to any home (`~/...`).
inline bool is_home_relative(std::string_view value) { return value.size() >= 2 && value[0] == '~' && value[1] == '/'; }

}  // namespace bulkhead::rules
