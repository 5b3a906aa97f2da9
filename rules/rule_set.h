// SPDX-License-Identifier: Apache-2.0
// A loaded rule set: Falco's lists, macros and rules, plus bulkhead's
// `action` and `risk`. Produced by load_rule_files() (rules/rules.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ast.h"
#include "rules/result.h"

namespace bulkhead::rules {

// Falco priorities; values equal syslog severities.
enum class Priority : uint8_t {
    kEmergency = 0,
    kAlert = 1,
    kCritical = 2,
    kError = 3,
    kWarning = 4,
    kNotice = 5,
    kInformational = 6,
    kDebug = 7,
};

// What bulkhead does when a rule matches.
enum class Action : uint8_t {
    kAudit,    // alert only (Falco's behaviour)
    kBlock,    // the kernel denies the operation (EPERM)
    kAsk,      // the kernel holds the operation until a human decides
    kKill,     // userspace kills the session's processes
    kPromote,  // userspace moves the session into a microVM
};

// Case-insensitive; accepts INFO for INFORMATIONAL, as Falco does.
std::optional<Priority> parse_priority(std::string_view text);
// Falco's output spelling: "Critical", "Warning", "Informational", ...
std::string_view to_string(Priority priority);
std::optional<Action> parse_action(std::string_view text);
std::string_view to_string(Action action);

struct ListDef {
    std::string name;
    std::vector<std::string> items;  // nested list names already expanded
    SourceLocation location;
};

struct MacroDef {
    std::string name;
    std::string condition;  // text after appends
    SourceLocation location;
};

struct PluginRequirement {
    std::string name;
    std::string version;
    std::vector<PluginRequirement> alternatives;
};

struct Rule {
    std::string name;
    std::string desc;
    std::string output;
    std::string source = "syscall";
    // The condition text after appends, with exceptions folded in as
    // `(<condition>) and not (...)`.
    std::string condition;
    // The parsed condition with lists and macros substituted.
    std::shared_ptr<const Expr> expr;
    Priority priority = Priority::kDebug;
    Action action = Action::kAudit;
    int risk = 0;
    // `taint: CLASS`: when the rule fires, the session is tainted with this
    // class of secret ("" = none) and its egress narrows to the taint policy.
    std::string taint;
    bool enabled = true;
    std::vector<std::string> tags;
    SourceLocation location;  // where the rule was first defined
    // Where `action` was last set ("" file: never, the default audit): a
    // later file's override that makes a rule `block` is where a kernel
    // compilability error belongs.
    SourceLocation action_location;
    // Why the userspace evaluator cannot run the condition ("" when it can):
    // it names a Falco field bulkhead's events do not carry.
    std::string unsupported;
};

struct RuleSet {
    std::vector<ListDef> lists;
    std::vector<MacroDef> macros;
    std::vector<Rule> rules;  // in definition order
    std::string required_engine_version;
    std::vector<PluginRequirement> required_plugins;
    std::vector<Warning> warnings;

    const Rule* find_rule(std::string_view name) const;
};

}  // namespace bulkhead::rules
