// SPDX-License-Identifier: Apache-2.0
// Planning of the net guard's maps (userspace/guards/net_guard.cpp): pure,
// no kernel. The kernel side runs in net_guard_native.sh and the lab.
#include "guards/net_guard.h"

#include <gtest/gtest.h>

namespace bulkhead::guards {
namespace {

rules::NetProtection rule(const std::string& name, std::vector<std::string> cidrs,
                          rules::NetTerm term = rules::NetTerm::kIn) {
    rules::NetProtection p;
    p.rule = name;
    p.file = "t.yaml";
    p.line = 1;
    p.ops = rules::kNetConnect;
    p.addr_term = term;
    p.cidrs = std::move(cidrs);
    return p;
}

uint64_t mask_of(const NetPlan& plan, const std::string& cidr) {
    NetKey k;
    EXPECT_TRUE(parse_net_key(cidr, &k)) << cidr;
    auto it = plan.addrs.find(k);
    return it == plan.addrs.end() ? ~0ull : it->second;
}

TEST(NetGuardPlan, FoldsContainingPrefixesIntoMoreSpecificOnes) {
    rules::KernelPolicy policy;
    policy.net.push_back(rule("wide", {"10.0.0.0/8"}));
    policy.net.push_back(rule("narrow", {"10.1.0.0/16", "fd00::1"}));
    PlanInputs in;
    in.taint_allow = {"10.1.2.0/24"};
    NetPlan plan = plan_net_policy(policy, in);
    ASSERT_TRUE(plan.errors.empty());
    EXPECT_EQ(plan.policy.count, 2u);
    EXPECT_EQ(mask_of(plan, "10.0.0.0/8"), 0b01u);
    // The longest match for 10.1.x.x must still answer for the /8 rule.
    EXPECT_EQ(mask_of(plan, "10.1.0.0/16"), 0b11u);
    EXPECT_EQ(mask_of(plan, "10.1.2.0/24"), 0b11u | (1ull << BH_NET_TAINT_ALLOW_BIT));
    EXPECT_EQ(mask_of(plan, "fd00::1"), 0b10u);
    EXPECT_EQ(plan.policy.rules[1].rule_id, 2u);
    EXPECT_EQ(plan.rules[1].name, "narrow");
}

TEST(NetGuardPlan, IPv4IsMappedAndHostBitsAreCleared) {
    NetKey a, b;
    ASSERT_TRUE(parse_net_key("192.168.1.77/24", &a));
    ASSERT_TRUE(parse_net_key("192.168.1.0/24", &b));
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.prefix, 120u);
    EXPECT_EQ(a.addr[10], 0xff);
    EXPECT_EQ(a.addr[11], 0xff);
    EXPECT_EQ(a.addr[12], 192);
    EXPECT_EQ(a.addr[15], 0);
    EXPECT_FALSE(parse_net_key("github.com", &a));
    EXPECT_FALSE(parse_net_key("10.0.0.0/33", &a));
}

TEST(NetGuardPlan, HostNamesUseResolvedAddressesAndWarnUntilThen) {
    rules::KernelPolicy policy;
    auto allow = rule("allow list", {}, rules::NetTerm::kNotIn);
    allow.hosts = {"github.com", "pypi.org"};
    policy.net.push_back(allow);
    PlanInputs in;
    in.resolved["github.com"] = {"140.82.112.3"};
    NetPlan plan = plan_net_policy(policy, in);
    ASSERT_TRUE(plan.errors.empty());
    EXPECT_EQ(plan.hosts, (std::vector<std::string>{"github.com", "pypi.org"}));
    EXPECT_EQ(mask_of(plan, "140.82.112.3"), 1u);
    ASSERT_EQ(plan.warnings.size(), 1u);
    EXPECT_NE(plan.warnings[0].find("host 'pypi.org' has no address yet; connections to it are denied until it "
                                    "resolves"),
              std::string::npos)
        << plan.warnings[0];
}

TEST(NetGuardPlan, RefusesWhatTheKernelCannotHold) {
    rules::KernelPolicy policy;
    for (int i = 0; i < BH_NET_RULES_MAX + 1; ++i) policy.net.push_back(rule("r" + std::to_string(i), {"10.0.0.1"}));
    NetPlan plan = plan_net_policy(policy, {});
    ASSERT_EQ(plan.errors.size(), 1u);
    EXPECT_EQ(plan.errors[0], "net-guard: 64 egress rules; the kernel holds at most 63");

    rules::KernelPolicy agent;
    auto scoped = rule("scoped", {"10.0.0.1"});
    scoped.scope = rules::KernelScope::kAgent;
    scoped.agent = "nobody";
    agent.net.push_back(scoped);
    plan = plan_net_policy(agent, {});
    ASSERT_EQ(plan.errors.size(), 1u);
    EXPECT_EQ(plan.errors[0], "t.yaml:1: rule 'scoped': agent 'nobody' is not configured (agents: in the config)");

    PlanInputs bad;
    bad.taint_allow = {"not-a-cidr"};
    plan = plan_net_policy({}, bad);
    ASSERT_EQ(plan.errors.size(), 1u);
    EXPECT_EQ(plan.errors[0], "net-guard: taint allow list: 'not-a-cidr' is not an IP address or network");
}

}  // namespace
}  // namespace bulkhead::guards
