// SPDX-License-Identifier: Apache-2.0
#include "policy.h"

#include <filesystem>
#include <set>

#include "audit/audit_log.h"
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
                                        const guards::PlanInputs& inputs,
                                        const std::vector<rules::FileProtection>& builtin) {
    auto rs = rules::load_rule_files(files);
    if (!rs)
        return rs.error();
    auto compiled = rules::compile_kernel_policy(*rs);
    if (!compiled)
        return compiled.error();
    compiled->policy.files.insert(compiled->policy.files.end(), builtin.begin(), builtin.end());
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

rules::FileProtection state_protection(const config::Config& cfg) {
    rules::FileProtection p;
    p.rule = "Self guard: bulkhead's state";
    p.file = "(built in)";
    p.verdict = rules::KernelVerdict::kDeny;
    p.ops = rules::kOpRead | rules::kOpWrite | rules::kOpCreate | rules::kOpRename | rules::kOpUnlink |
            rules::kOpLink;
    p.priority = "Critical";
    p.risk = 100;
    std::set<std::string> seen;
    auto add = [&](rules::TargetKind kind, const std::string& path) {
        if (path.empty())
            return;
        std::error_code ec;
        std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
        if (!ec && seen.insert(abs).second)
            p.targets.push_back({kind, abs});
    };
    add(rules::TargetKind::kPath, cfg.path);
    add(rules::TargetKind::kSubtree, cfg.spool_root);
    auto str = [](const YAML::Node& n, const char* key) {
        return n.IsMap() && n[key] && n[key].IsScalar() ? n[key].as<std::string>() : std::string();
    };
    if (cfg.exporters.IsSequence())
        for (const auto& sink : cfg.exporters) {
            if (!sink.IsMap())
                continue;  // the sink factory reports it
            if (str(sink, "type") == "audit") {
                // The log itself, not its directory: that may be /var/log.
                const exporters::audit::AuditConfig defaults;
                std::string log = str(sink, "path");
                std::string key = str(sink, "secret_key");
                add(rules::TargetKind::kPath, log.empty() ? defaults.path : log);
                add(rules::TargetKind::kPath, key.empty() ? defaults.secret_key : key);
                add(rules::TargetKind::kPath, str(sink, "public_key"));
            }
            if (sink["spool"])
                add(rules::TargetKind::kSubtree, str(sink["spool"], "dir"));
            if (sink["tls"])
                add(rules::TargetKind::kPath, str(sink["tls"], "key"));
        }
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
