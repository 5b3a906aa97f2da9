// SPDX-License-Identifier: Apache-2.0
// Loading Falco rule files (public API; see also rules/rules.h).
#pragma once

#include <string>
#include <vector>

#include "rules/result.h"
#include "rules/rule_set.h"

namespace bulkhead::rules {

// One rules document in memory; `name` is what diagnostics call it.
struct RuleSource {
    std::string name;
    std::string content;
};

// Loads rule files in order: a later file can override, append to or
// redefine items of an earlier one (Falco's rules_files semantics).
//
// Loading is all or nothing: on any error the result holds the first error
// (file:line:column and cause) and no rule set. Success means every
// condition parsed, every list and macro resolved, and every enabled rule
// with action block or ask compiles to the kernel policy.
struct LoadOptions {
    // false: block/ask rules the kernel cannot check still load (for
    // `rules validate`, which reports each of them, not only the first).
    bool require_kernel = true;
};
Result<RuleSet> load_rule_files(const std::vector<std::string>& paths, const LoadOptions& options = {});
Result<RuleSet> load_rule_sources(const std::vector<RuleSource>& sources, const LoadOptions& options = {});

}  // namespace bulkhead::rules
