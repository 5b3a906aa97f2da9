// SPDX-License-Identifier: Apache-2.0
#include "guards/net_guard.h"

#include <bpf/bpf.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "error.h"
#include "guards/map_keys.h"
#include "rules/values.h"

namespace bulkhead::guards {

namespace {

// Clears the host bits so equal networks written differently share a key.
NetKey masked(NetKey k) {
    for (uint32_t bit = k.prefix; bit < 128; ++bit)
        k.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return k;
}

// True when `inner` lies within `outer`.
bool contains(const NetKey& outer, const NetKey& inner) {
    if (outer.prefix > inner.prefix)
        return false;
    NetKey cut = inner;
    cut.prefix = outer.prefix;
    return masked(cut).addr == outer.addr;
}

uint8_t term_of(rules::NetTerm t) {
    switch (t) {
    case rules::NetTerm::kIn: return BH_TERM_IN;
    case rules::NetTerm::kNotIn: return BH_TERM_NOT_IN;
    case rules::NetTerm::kAny: break;
    }
    return BH_TERM_ANY;
}

}  // namespace

static_assert(rules::kNetConnect == BH_NET_OP_CONNECT && rules::kNetSend == BH_NET_OP_SEND);
static_assert(rules::kProtoTcp == BH_NET_PROTO_TCP && rules::kProtoUdp == BH_NET_PROTO_UDP);
static_assert(rules::kFamilyV4 == BH_NET_FAMILY_V4 && rules::kFamilyV6 == BH_NET_FAMILY_V6);

bool parse_net_key(const std::string& text, NetKey* out) {
    rules::IpNetwork net;
    if (!rules::parse_ip_network(text, &net))
        return false;
    NetKey k;
    if (net.family == AF_INET) {
        k.addr[10] = k.addr[11] = 0xff;
        std::memcpy(&k.addr[12], net.addr.data(), 4);
        k.prefix = static_cast<uint32_t>(net.prefix) + 96;
    } else {
        k.addr = net.addr;
        k.prefix = static_cast<uint32_t>(net.prefix);
    }
    *out = masked(k);
    return true;
}

NetPlan plan_net_policy(const rules::KernelPolicy& policy, const PlanInputs& in) {
    NetPlan plan;
    std::map<NetKey, uint64_t> raw;
    std::set<std::string> hosts;
    if (policy.net.size() > BH_NET_RULES_MAX) {
        plan.errors.push_back("net-guard: " + std::to_string(policy.net.size()) +
                              " egress rules; the kernel holds at most " + std::to_string(BH_NET_RULES_MAX));
        return plan;
    }
    for (size_t i = 0; i < policy.net.size(); ++i) {
        const rules::NetProtection& p = policy.net[i];
        const std::string where = p.file + ":" + std::to_string(p.line) + ": rule '" + p.rule + "': ";
        if (p.verdict == rules::KernelVerdict::kAsk) {
            plan.errors.push_back(where + "'ask' is not available for egress; use block or audit");
            continue;
        }
        plan.rules.push_back(RuleInfo{p.rule, p.priority, p.file, p.line, p.risk,
                                      p.verdict == rules::KernelVerdict::kDeny ? "deny" : "audit"});
        bh_net_rule& r = plan.policy.rules[i];
        r.rule_id = static_cast<__u32>(plan.rules.size());
        r.verdict = p.verdict == rules::KernelVerdict::kDeny ? BH_VERDICT_DENY : BH_VERDICT_AUDIT;
        r.scope = p.scope == rules::KernelScope::kAgent ? BH_SCOPE_AGENT : BH_SCOPE_SESSIONS;
        if (p.scope == rules::KernelScope::kAgent) {
            auto kind = in.agent_kinds.find(p.agent);
            if (kind == in.agent_kinds.end()) {
                plan.errors.push_back(where + "agent '" + p.agent + "' is not configured (agents: in the config)");
                continue;
            }
            r.agent_kind = kind->second;
        }
        r.addr_term = term_of(p.addr_term);
        r.port_term = term_of(p.port_term);
        r.ops = static_cast<__u8>(p.ops);
        r.protos = static_cast<__u8>(p.protos);
        r.families = static_cast<__u8>(p.families);
        r.flags = p.tainted_only ? BH_NET_RULE_TAINTED_ONLY : 0;
        const uint64_t bit = 1ull << i;
        for (const auto& c : p.cidrs) {
            NetKey k;
            if (!parse_net_key(c, &k)) {
                plan.errors.push_back(where + "'" + c + "' is not an IP address or network");
                continue;
            }
            raw[k] |= bit;
        }
        for (const auto& h : p.hosts) {
            hosts.insert(h);
            auto addrs = in.resolved.find(h);
            if (addrs == in.resolved.end() || addrs->second.empty()) {
                plan.warnings.push_back(where + "host '" + h + "' has no address yet; " +
                                        (p.addr_term == rules::NetTerm::kNotIn
                                             ? "connections to it are denied until it resolves"
                                             : "connections to it are not matched until it resolves"));
                continue;
            }
            for (const auto& a : addrs->second) {
                NetKey k;
                if (parse_net_key(a, &k))
                    raw[k] |= bit;
            }
        }
        for (uint16_t port : p.ports)
            plan.ports[port] |= bit;
    }
    for (const auto& c : in.taint_allow) {
        NetKey k;
        if (!parse_net_key(c, &k)) {
            plan.errors.push_back("net-guard: taint allow list: '" + c + "' is not an IP address or network");
            continue;
        }
        raw[k] |= 1ull << BH_NET_TAINT_ALLOW_BIT;
    }
    plan.policy.count = static_cast<__u32>(policy.net.size());
    // Fold: every prefix carries the masks of the prefixes that contain it.
    for (const auto& [key, mask] : raw) {
        uint64_t all = mask;
        for (const auto& [outer, outer_mask] : raw)
            if (contains(outer, key))
                all |= outer_mask;
        plan.addrs[key] = all;
    }
    plan.hosts.assign(hosts.begin(), hosts.end());
    return plan;
}

std::string apply_net_plan(const NetPlan& plan, const MapFds& maps) {
    for (const auto& [key, mask] : plan.addrs) {
        bh_net_addr_key k{};
        k.prefixlen = key.prefix;
        std::memcpy(k.addr, key.addr.data(), 16);
        if (bpf_map_update_elem(maps.net_addrs, &k, &mask, BPF_ANY) != 0)
            return errno_message("net-guard: cannot write net_addrs", errno);
    }
    for (const auto& [port, mask] : plan.ports) {
        __u16 p = port;
        if (bpf_map_update_elem(maps.net_ports, &p, &mask, BPF_ANY) != 0)
            return errno_message("net-guard: cannot write net_ports", errno);
    }
    __u32 zero = 0;
    if (bpf_map_update_elem(maps.net_policy, &zero, &plan.policy, BPF_ANY) != 0)
        return errno_message("net-guard: cannot write net_policy", errno);
    // Stale entries last.
    for (const auto& key : map_keys<bh_net_addr_key>(maps.net_addrs)) {
        NetKey nk;
        nk.prefix = key.prefixlen;
        std::memcpy(nk.addr.data(), key.addr, 16);
        if (!plan.addrs.count(nk))
            bpf_map_delete_elem(maps.net_addrs, &key);
    }
    for (__u16 port : map_keys<__u16>(maps.net_ports))
        if (!plan.ports.count(port))
            bpf_map_delete_elem(maps.net_ports, &port);
    return "";
}

}  // namespace bulkhead::guards
