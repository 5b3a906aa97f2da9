// SPDX-License-Identifier: Apache-2.0
// Rule files → a file-guard plan, all or nothing: any error leaves the
// caller's running policy untouched.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
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
// `builtin` protections join the compiled ones whatever the rule files say.
rules::Result<LoadedPolicy> load_policy(const std::vector<std::string>& files,
                                        const guards::PlanInputs& inputs,
                                        const std::vector<rules::FileProtection>& builtin = {});

// bulkhead's own state as its configuration names it, wherever that is: the
// config file, the spools, every audit log's directory and signing key, the
// sinks' TLS keys. A session that read the key could forge the audit trail,
// one that wrote the config could turn the guard off at the next start. No
// rule file can remove this protection (the shipped rule 'Access bulkhead
// state' covers only the default directories).
rules::FileProtection state_protection(const config::Config& cfg);

// Warnings, one per userspace rule whose evt.type list names none of the
// types the daemon's events carry (events::produced_evt_types()): it loads
// and can never fire ("file:line: rule 'X' runs on setuid, ...").
std::vector<std::string> rules_that_never_fire(const rules::RuleSet& rules, const rules::KernelCompilation& kernel);

// Re-plans an already compiled policy (paths may have appeared or moved).
guards::FilePlan replan(const LoadedPolicy& p, const guards::PlanInputs& inputs);

}  // namespace bulkhead
