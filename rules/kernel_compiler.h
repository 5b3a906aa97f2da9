// SPDX-License-Identifier: Apache-2.0
// The kernel compiler (public API): a loaded RuleSet to the KernelPolicy of
// rules/kernel_policy.h.
//
// Enabled syscall rules whose action is block (kDeny) or ask (kAsk) must
// compile; audit, kill and promote rules are emitted with kAudit when they
// compile (the kernel event feeds the userspace action) and stay userspace
// rules otherwise. See rules/kernel_compilability.h for the accepted shapes.
#pragma once

#include <string>
#include <vector>

#include "rules/kernel_policy.h"
#include "rules/result.h"
#include "rules/rule_set.h"

namespace bulkhead::rules {

enum class Placement : uint8_t {
    kKernel,       // emitted into the kernel policy
    kUserspace,    // evaluated in userspace only (reason says why)
    kUnsupported,  // block/ask rule the kernel cannot enforce (an error)
    kDisabled,     // `enabled: false`
    kHook,         // source tool_call: the agent's hooks enforce it before the tool runs
};

std::string_view to_string(Placement placement);

// Rules of this source judge an agent's tool call (its name and input) in
// `bulkhead hook`, before the tool runs; the kernel never sees them.
inline constexpr std::string_view kToolCallSource = "tool_call";

struct RuleReport {
    std::string rule;
    SourceLocation location;         // where the rule was first defined
    SourceLocation action_location;  // where its action was set (rule_set.h)
    Action action = Action::kAudit;
    Placement placement = Placement::kUserspace;
    std::string reason;  // for kUserspace and kUnsupported
};


struct KernelCompilation {
    KernelPolicy policy;
    std::vector<RuleReport> report;  // one entry per rule, in rule order
};

// Never fails: rules the kernel cannot enforce are reported, not emitted.
KernelCompilation analyze_kernel_policy(const RuleSet& rules);

// Fails on the first enabled block/ask rule the kernel cannot enforce, with
// a message naming the rule, its action and the sub-expression at fault.
Result<KernelCompilation> compile_kernel_policy(const RuleSet& rules);

// Every rule the analysis could not place (Placement::kUnsupported), each
// one error that makes loading fail: at the override that made the rule
// block or ask when that is in a later file than the rule, else at the rule.
// compile_kernel_policy() fails with the first; `rules validate` lists all.
std::vector<Error> unenforceable_rules(const KernelCompilation& kernel);

}  // namespace bulkhead::rules
