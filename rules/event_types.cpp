// SPDX-License-Identifier: Apache-2.0
#include "rules/event_types.h"

#include <algorithm>
#include <iterator>

namespace bulkhead::rules {

namespace {

using Types = std::optional<std::set<std::string>>;

Types of_check(const Expr& check) {
    if (check.field.name != "evt.type" || !check.field.transformers.empty()) return std::nullopt;
    if (check.op == CompareOp::kEq && check.value.kind == Value::Kind::kString)
        return std::set<std::string>{check.value.text};
    if (check.op == CompareOp::kIn && check.value.kind == Value::Kind::kList) {
        std::set<std::string> out;
        for (const auto& item : check.value.items) out.insert(item.text);
        return out;
    }
    return std::nullopt;
}

}  // namespace

// Recursion is bounded by kMaxExpandedDepth (see ast.h).
std::optional<std::set<std::string>> event_types(const Expr& expr) {
    switch (expr.kind) {
    case ExprKind::kCheck:
        return of_check(expr);
    case ExprKind::kNot:
    case ExprKind::kMacroRef:
        return std::nullopt;
    case ExprKind::kAnd: {
        Types out;
        for (const auto& child : expr.children) {
            Types types = event_types(*child);
            if (!types) continue;
            if (!out) {
                out = std::move(types);
                continue;
            }
            std::set<std::string> both;
            std::set_intersection(out->begin(), out->end(), types->begin(), types->end(),
                                  std::inserter(both, both.end()));
            out = std::move(both);
        }
        return out;
    }
    case ExprKind::kOr: {
        std::set<std::string> out;
        for (const auto& child : expr.children) {
            Types types = event_types(*child);
            if (!types) return std::nullopt;
            out.insert(types->begin(), types->end());
        }
        return out;
    }
    }
    return std::nullopt;
}

}  // namespace bulkhead::rules
