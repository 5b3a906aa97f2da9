// SPDX-License-Identifier: Apache-2.0
#include "policy.h"

namespace bulkhead {

rules::Result<LoadedPolicy> load_policy(const std::vector<std::string>& files,
                                        const guards::PlanInputs& inputs) {
    auto rs = rules::load_rule_files(files);
    if (!rs)
        return rs.error();
    auto compiled = rules::compile_kernel_policy(*rs);
    if (!compiled)
        return compiled.error();
    LoadedPolicy p{std::move(*rs), std::move(*compiled), {}, {}, {}, nullptr};
    for (const auto& r : p.rules.rules)
        p.tags[r.name] = r.tags;
    p.plan = guards::plan_file_policy(p.compiled.policy, inputs);
    if (!p.plan.errors.empty()) {
        std::string all;
        for (const auto& e : p.plan.errors)
            all += (all.empty() ? "" : "\n") + e;
        return rules::Error{{}, "file-guard: the kernel cannot hold this policy:\n" + all};
    }
    p.net_plan = guards::plan_net_policy(p.compiled.policy, inputs);
    if (!p.net_plan.errors.empty()) {
        std::string all;
        for (const auto& e : p.net_plan.errors)
            all += (all.empty() ? "" : "\n") + e;
        return rules::Error{{}, "net-guard: the kernel cannot hold this policy:\n" + all};
    }
    auto shared = std::make_shared<const rules::RuleSet>(p.rules);
    auto evaluator = rules::Evaluator::build(shared, rules::Evaluator::userspace_rules(*shared, p.compiled));
    if (!evaluator)
        return evaluator.error();
    p.evaluator = std::make_shared<const rules::Evaluator>(std::move(*evaluator));
    return p;
}

guards::FilePlan replan(const LoadedPolicy& p, const guards::PlanInputs& inputs) {
    return guards::plan_file_policy(p.compiled.policy, inputs);
}

}  // namespace bulkhead
