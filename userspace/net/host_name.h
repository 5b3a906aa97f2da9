// SPDX-License-Identifier: Apache-2.0
// Host names in egress allow lists (issue 4): what the policy accepts before
// anything is resolved.
//
// Accepted: RFC 1123 "LDH" names. Labels are 1-63 letters, digits and '-',
// neither starting nor ending with '-'; the whole name is at most 253 bytes
// without its optional trailing dot. Case does not matter; use
// normalize_host_name() for the form the resolver keys on.
//
// Rejected with a message naming the problem: IP literals and CIDRs (they
// belong in the CIDR allow list, which the kernel matches directly) and
// wildcards (the kernel allows addresses; "*.example.com" has none to
// resolve, and matching on names would need the TLS SNI or DNS answers,
// which kernel egress does not see).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulkhead::net {

constexpr size_t kMaxHostNameLength = 253;  // without the trailing dot
constexpr size_t kMaxLabelLength = 63;

// nullopt for a good name; otherwise why it is not one, e.g.
// "host name 'a..b' has an empty label at offset 2".
std::optional<std::string> validate_host_name(std::string_view name);

// Lower case, trailing dot removed. Only meaningful for a name that
// validate_host_name() accepts.
std::string normalize_host_name(std::string_view name);

// The name as a message may quote it: bytes outside printable ASCII as
// \xNN, cut to `max` bytes with "..." after.
std::string quote_host_name(std::string_view name, size_t max = 80);

}  // namespace bulkhead::net
