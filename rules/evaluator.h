// SPDX-License-Identifier: Apache-2.0
// The userspace evaluator: runs rule conditions on events and renders their
// output (public API; see rules/rules.h).
//
//   auto engine = Evaluator::build(rules, Evaluator::userspace_rules(rules));
//   std::vector<size_t> fired;
//   engine->evaluate(event_fields, &fired);
//   for (size_t rule : fired) alert(engine->render(rule, event_fields));
//
// Conditions are compiled once (fields resolved, values parsed, regexes
// compiled, `in` lists hashed) and indexed by evt.type, so an event only
// meets the rules that can match its type. Evaluation allocates nothing on
// the common path and is safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/fields.h"
#include "rules/kernel_compiler.h"
#include "rules/result.h"
#include "rules/rule_set.h"

namespace bulkhead::rules {

struct CompiledRule;

// A rule's output for one event.
struct RenderedOutput {
    std::string text;                                      // %fields substituted, <NA> when absent
    nlohmann::json fields = nlohmann::json::object();      // typed values; null when absent
};

class Evaluator {
public:
    // Evaluates rules[i] for every i with include[i] (empty: every enabled
    // rule the evaluator supports); compiles the output of every enabled,
    // supported rule. Fails when an output names an unknown field, or when
    // an included rule is unsupported.
    static Result<Evaluator> build(std::shared_ptr<const RuleSet> rules, std::vector<bool> include = {});

    // Which rules the daemon evaluates: enabled, supported, and not already
    // enforced (and reported) by the kernel.
    static std::vector<bool> userspace_rules(const RuleSet& rules);
    // The same, from a kernel analysis the caller already has.
    static std::vector<bool> userspace_rules(const RuleSet& rules, const KernelCompilation& kernel);

    Evaluator(Evaluator&&) noexcept;
    Evaluator& operator=(Evaluator&&) noexcept;
    ~Evaluator();

    // Appends to *fired the indexes (into RuleSet::rules) of the rules whose
    // condition holds, in rule order.
    void evaluate(const FieldSource& event, std::vector<size_t>* fired) const;

    // The rule's output and output fields for the event.
    RenderedOutput render(size_t rule, const FieldSource& event) const;

    const RuleSet& rules() const { return *rules_; }
    // Rules evaluate() runs.
    size_t compiled_rules() const { return compiled_count_; }
    // Approximate heap bytes held by the compiled rules (for the benchmark).
    size_t memory_bytes() const { return memory_bytes_; }

private:
    Evaluator() = default;

    std::shared_ptr<const RuleSet> rules_;
    std::vector<std::unique_ptr<CompiledRule>> compiled_;  // by rule index; null when not included
    size_t compiled_count_ = 0;
    size_t memory_bytes_ = 0;
    // evt.type -> rules to run, in rule order (typed rules merged with any_).
    struct TypeHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::vector<size_t>, TypeHash, std::equal_to<>> by_type_;
    std::vector<size_t> any_;  // rules that match events of any type
};

// Evaluates one condition on one event, for tests and `rules test`
// (compiles on every call).
Result<bool> evaluate_condition(const Expr& expr, const FieldSource& event);

}  // namespace bulkhead::rules
