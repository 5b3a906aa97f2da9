// SPDX-License-Identifier: Apache-2.0
#include "policy.h"

#include "events/event.h"
#include "rules/event_types.h"

namespace bulkhead {

namespace {

// One error naming the guard and every part of the policy it cannot hold.
rules::Error cannot_hold(const std::string& guard, const std::vector<std::string>& errors) {
    std::string all;
    for (const auto& e : errors)
        all += (all.empty() ? "" : "\n") + e;
    return rules::Error{{}, guard + ": the kernel cannot hold this policy:\n" + all};
}

}  // namespace

rules::Result<LoadedPolicy> load_policy(const std::vector<std::string>& files,
                                        const guards::PlanInputs& inputs) {
    auto rs = rules::load_rule_files(files);
    if (!rs)
        return rs.error();
    auto compiled = rules::compile_kernel_policy(*rs);
    if (!compiled)
        return compiled.error();
    LoadedPolicy p{std::move(*rs), std::move(*compiled), {}, {}, {}, nullptr, nullptr};
    for (const auto& r : p.rules.rules)
        p.tags[r.name] = r.tags;
    p.plan = guards::plan_file_policy(p.compiled.policy, inputs);
    if (!p.plan.errors.empty())
        return cannot_hold("file-guard", p.plan.errors);
    p.net_plan = guards::plan_net_policy(p.compiled.policy, inputs);
    if (!p.net_plan.errors.empty())
        return cannot_hold("net-guard", p.net_plan.errors);
    auto shared = std::make_shared<const rules::RuleSet>(p.rules);
    auto evaluator = rules::Evaluator::build(shared, rules::Evaluator::userspace_rules(*shared, p.compiled));
    if (!evaluator)
        return evaluator.error();
    p.evaluator = std::make_shared<const rules::Evaluator>(std::move(*evaluator));
    std::vector<bool> hook(shared->rules.size(), false);
    for (size_t i = 0; i < hook.size(); ++i) {
        const auto& rule = shared->rules[i];
        auto placement = p.compiled.report[i].placement;
        hook[i] = rule.unsupported.empty() &&
                  (placement == rules::Placement::kHook ||
                   (placement == rules::Placement::kKernel &&
                    (rule.action == rules::Action::kBlock || rule.action == rules::Action::kAsk)));
    }
    auto hook_evaluator = rules::Evaluator::build(shared, std::move(hook));
    if (!hook_evaluator)
        return hook_evaluator.error();
    p.hook_evaluator = std::make_shared<const rules::Evaluator>(std::move(*hook_evaluator));
    return p;
}

guards::FilePlan replan(const LoadedPolicy& p, const guards::PlanInputs& inputs) {
    return guards::plan_file_policy(p.compiled.policy, inputs);
}

std::vector<std::string> rules_that_never_fire(const rules::RuleSet& rules, const rules::KernelCompilation& kernel) {
    std::vector<std::string> out;
    const auto& produced = events::produced_evt_types();
    for (size_t i = 0; i < rules.rules.size(); ++i) {
        const auto& rule = rules.rules[i];
        if (kernel.report[i].placement != rules::Placement::kUserspace || !rule.unsupported.empty() || !rule.expr)
            continue;
        auto types = rules::event_types(*rule.expr);
        if (!types || types->empty())
            continue;  // every event type: some will come
        std::string list;
        bool any = false;
        for (const auto& t : *types) {
            any = any || produced.count(t);
            list += (list.empty() ? "" : ", ") + t;
        }
        if (!any)
            out.push_back(rule.location.to_string() + ": rule '" + rule.name + "' runs on " + list +
                          ", which bulkhead's events never are: it loads and cannot fire");
    }
    return out;
}

}  // namespace bulkhead
