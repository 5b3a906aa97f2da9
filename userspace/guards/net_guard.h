// SPDX-License-Identifier: Apache-2.0
// The userspace half of bpf/net_guard.bpf.c: turns the compiled egress rules
// into net_policy, net_addrs and net_ports.
//
// Planning is pure (rules and resolved names in, map contents out). Address
// sets go into one LPM trie whose value is a bitmask of rules; each prefix's
// mask is folded into every more specific prefix it contains, so the one
// longest-prefix match the kernel does answers for all rules.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "bpf_abi.h"
#include "guards/file_guard.h"
#include "guards/loader.h"
#include "rules/kernel_policy.h"

namespace bulkhead::guards {

// An LPM key as the kernel stores it: IPv4 mapped into ::ffff:0:0/96.
struct NetKey {
    uint32_t prefix = 0;  // 0..128
    std::array<uint8_t, 16> addr{};
    bool operator<(const NetKey& o) const { return prefix != o.prefix ? prefix < o.prefix : addr < o.addr; }
    bool operator==(const NetKey& o) const { return prefix == o.prefix && addr == o.addr; }
};

struct NetPlan {
    bh_net_policy policy{};
    std::map<NetKey, uint64_t> addrs;  // after folding
    std::map<uint16_t, uint64_t> ports;
    std::vector<RuleInfo> rules;       // rule_id - 1 indexes this
    std::vector<std::string> hosts;    // names the rules need resolved
    std::vector<std::string> errors;   // policy the kernel cannot hold; load fails
    std::vector<std::string> warnings; // e.g. a name with no address yet
};

// Parses "10.0.0.0/8", "::1", "169.254.169.254" into a key; false if not one.
bool parse_net_key(const std::string& text, NetKey* out);

NetPlan plan_net_policy(const rules::KernelPolicy& policy, const PlanInputs& in);

// Writes the plan: sets first, then the rules, then stale set entries go,
// so a rule never points at a set that is not there yet. Returns "" or the
// first error.
std::string apply_net_plan(const NetPlan& plan, const MapFds& maps);

}  // namespace bulkhead::guards
