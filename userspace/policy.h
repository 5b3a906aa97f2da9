// SPDX-License-Identifier: Apache-2.0
// Rule files → a file-guard plan, all or nothing: any error leaves the
// caller's running policy untouched.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "guards/file_guard.h"
#include "guards/net_guard.h"
#include "rules/rules.h"

namespace bulkhead {

struct LoadedPolicy {
    rules::RuleSet rules;
    rules::KernelCompilation compiled;
    guards::FilePlan plan;
    guards::NetPlan net_plan;
    std::map<std::string, std::vector<std::string>> tags;  // rule name → tags
    // Runs the userspace rules on events; renders every rule's output.
    std::shared_ptr<const rules::Evaluator> evaluator;
    // Judges an agent's tool call before it runs (`bulkhead hook`): the
    // tool_call rules, and the kernel's block and ask rules, so a file the
    // kernel would deny is refused to the tool call already, with the rule.
    std::shared_ptr<const rules::Evaluator> hook_evaluator;
};

// Returns an error text naming file:line and the rule on any failure.
rules::Result<LoadedPolicy> load_policy(const std::vector<std::string>& files,
                                        const guards::PlanInputs& inputs);

// Warnings, one per userspace rule whose evt.type list names none of the
// types the daemon's events carry (events::produced_evt_types()): it loads
// and can never fire ("file:line: rule 'X' runs on setuid, ...").
std::vector<std::string> rules_that_never_fire(const rules::RuleSet& rules, const rules::KernelCompilation& kernel);

// Re-plans an already compiled policy (paths may have appeared or moved).
guards::FilePlan replan(const LoadedPolicy& p, const guards::PlanInputs& inputs);

}  // namespace bulkhead
