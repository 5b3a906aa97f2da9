// SPDX-License-Identifier: Apache-2.0
// Pass: macro expansion (internal).
//
// Replaces every macro reference with the macro's (recursively expanded)
// body. Macros are expanded on demand, once each, by an explicit-stack depth
// first search that detects cycles and names them (`a -> b -> a`). The result
// is bounded in depth (kMaxExpandedDepth) and size (kMaxExpandedNodes), so a
// chain of macros that doubles at each step fails instead of eating memory.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

#include "rules/ast.h"
#include "rules/result.h"

namespace bulkhead::rules {

// Falco's largest rule expands to a few hundred nodes.
inline constexpr size_t kMaxExpandedNodes = 100'000;

class MacroExpander {
public:
    // Registers a macro body (lists already expanded). Later bodies replace
    // earlier ones with the same name.
    void add(const std::string& name, ExprPtr body);
    bool has(const std::string& name) const { return bodies_.count(name) != 0; }

    // A copy of `expr` with every macro reference substituted. Errors name
    // the undefined macro or the cycle.
    Result<ExprPtr> expand(const Expr& expr);

private:
    struct Expanded {
        ExprPtr expr;
        size_t nodes = 0;
    };

    Result<void> ensure_expanded(const std::string& root);
    // Clone of `body` with references replaced; every referenced macro must
    // already be expanded.
    ExprPtr substitute(const Expr& body) const;
    size_t substituted_size(const Expr& body) const;

    std::unordered_map<std::string, ExprPtr> bodies_;
    std::unordered_map<std::string, Expanded> expanded_;
};

}  // namespace bulkhead::rules
