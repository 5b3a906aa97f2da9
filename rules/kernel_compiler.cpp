// SPDX-License-Identifier: Apache-2.0
#include "rules/kernel_compiler.h"

#include <map>
#include <tuple>

#include "rules/kernel_compilability.h"
#include "rules/kernel_net.h"

namespace bulkhead::rules {

namespace {

bool needs_kernel(Action action) { return action == Action::kBlock || action == Action::kAsk; }

KernelVerdict verdict_for(Action action) {
    switch (action) {
        case Action::kBlock: return KernelVerdict::kDeny;
        case Action::kAsk: return KernelVerdict::kAsk;
        default: return KernelVerdict::kAudit;
    }
}

// Turns alternatives into protections: first the ops of each target are
// united (`(open_read or rename) and fd.name = x` is one target, two ops),
// then targets with the same ops and scope share one protection. Both steps
// keep first-seen order so the output is stable.
std::vector<FileProtection> group(const Rule& rule, const std::vector<KernelAlternative>& alternatives) {
    using TargetKey = std::tuple<KernelScope, std::string, TargetKind, std::string>;
    std::vector<TargetKey> order;
    std::map<TargetKey, uint32_t> ops_by_target;
    for (const auto& alt : alternatives) {
        for (const auto& target : alt.targets) {
            TargetKey key{alt.scope, alt.agent, target.kind, target.target};
            auto [it, inserted] = ops_by_target.emplace(key, 0);
            if (inserted) order.push_back(key);
            it->second |= alt.ops;
        }
    }
    std::vector<FileProtection> out;
    for (const auto& key : order) {
        const auto& [scope, agent, kind, target] = key;
        uint32_t ops = ops_by_target[key];
        FileProtection* into = nullptr;
        for (auto& p : out) {
            if (p.ops == ops && p.scope == scope && p.agent == agent) into = &p;
        }
        if (!into) {
            FileProtection p;
            p.rule = rule.name;
            p.file = rule.location.file;
            p.line = rule.location.line;
            p.verdict = verdict_for(rule.action);
            p.ops = ops;
            p.scope = scope;
            p.agent = agent;
            p.priority = std::string(to_string(rule.priority));
            p.risk = rule.risk;
            p.taint = rule.taint;
            out.push_back(std::move(p));
            into = &out.back();
        }
        into->targets.push_back({kind, target});
    }
    return out;
}

}  // namespace

std::string_view to_string(Placement placement) {
    switch (placement) {
        case Placement::kKernel: return "kernel";
        case Placement::kUserspace: return "userspace";
        case Placement::kUnsupported: return "unsupported";
        case Placement::kDisabled: return "disabled";
        case Placement::kHook: return "hook";
    }
    return "?";
}

KernelCompilation analyze_kernel_policy(const RuleSet& rules) {
    KernelCompilation out;
    for (const auto& rule : rules.rules) {
        RuleReport report{rule.name, rule.location, rule.action_location, rule.action, Placement::kKernel, ""};
        const Placement failed = needs_kernel(rule.action) ? Placement::kUnsupported : Placement::kUserspace;
        if (!rule.enabled) {
            report.placement = Placement::kDisabled;
        } else if (rule.source == kToolCallSource) {
            report.placement = Placement::kHook;
            if (!rule.taint.empty()) {
                report.placement = Placement::kUnsupported;
                report.reason = "'taint' marks a session when it reads a secret; a tool call reads nothing yet";
            }
        } else if (rule.source != "syscall") {
            report.placement = failed;
            report.reason = "source '" + rule.source + "' is not seen by the kernel file guard";
        } else if (!rule.expr) {
            report.placement = failed;
            report.reason = "the rule has no parsed condition";
        } else if (!names_unix_socket(*rule.expr) && is_egress_condition(*rule.expr)) {
            auto net = egress_terms(*rule.expr);
            if (!net) {
                report.placement = failed;
                report.reason = net.error().message;
            } else if (rule.action == Action::kAsk) {
                report.placement = Placement::kUnsupported;
                report.reason = "'ask' holds file opens and execs; the net guard can block or audit a connect";
            } else if (!rule.taint.empty()) {
                report.placement = Placement::kUnsupported;
                report.reason = "'taint' marks a session when it reads a secret; on an egress rule it means nothing";
            } else {
                net->rule = rule.name;
                net->file = rule.location.file;
                net->line = rule.location.line;
                net->verdict = verdict_for(rule.action);
                net->priority = std::string(to_string(rule.priority));
                net->risk = rule.risk;
                out.policy.net.push_back(std::move(*net));
            }
        } else if (auto alternatives = kernel_alternatives(*rule.expr); !alternatives) {
            report.placement = failed;
            report.reason = alternatives.error().message;
        } else {
            auto protections = group(rule, *alternatives);
            out.policy.files.insert(out.policy.files.end(), protections.begin(), protections.end());
        }
        out.report.push_back(std::move(report));
    }
    return out;
}

std::vector<Error> unenforceable_rules(const KernelCompilation& kernel) {
    std::vector<Error> out;
    for (const auto& report : kernel.report) {
        if (report.placement != Placement::kUnsupported) continue;
        bool overridden = !report.action_location.file.empty() && report.action_location.file != report.location.file;
        SourceLocation at = overridden ? report.action_location : report.location;
        std::string defined = overridden ? ", defined at " + report.location.to_string() : "";
        out.push_back(Error{at, "rules: rule '" + report.rule + "' (action " + std::string(to_string(report.action)) +
                                    defined + ") cannot be enforced in the kernel: " + report.reason});
    }
    return out;
}

Result<KernelCompilation> compile_kernel_policy(const RuleSet& rules) {
    KernelCompilation out = analyze_kernel_policy(rules);
    if (auto errors = unenforceable_rules(out); !errors.empty()) return errors.front();
    return out;
}

}  // namespace bulkhead::rules
