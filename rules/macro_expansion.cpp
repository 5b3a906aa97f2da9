// SPDX-License-Identifier: Apache-2.0
#include "rules/macro_expansion.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace bulkhead::rules {

namespace {

// Macro references in `expr`, in source order, without duplicates.
std::vector<std::string> macro_refs(const Expr& expr) {
    std::vector<std::string> refs;
    std::unordered_set<std::string> seen;
    std::vector<const Expr*> stack{&expr};
    while (!stack.empty()) {
        const Expr* node = stack.back();
        stack.pop_back();
        if (node->kind == ExprKind::kMacroRef && seen.insert(node->macro).second) refs.push_back(node->macro);
        for (auto it = node->children.rbegin(); it != node->children.rend(); ++it) stack.push_back(it->get());
    }
    return refs;
}

}  // namespace

void MacroExpander::add(const std::string& name, ExprPtr body) {
    bodies_[name] = std::move(body);
    expanded_.clear();  // a redefinition invalidates what was built on it
}

size_t MacroExpander::substituted_size(const Expr& body) const {
    size_t nodes = 0;
    std::vector<const Expr*> stack{&body};
    while (!stack.empty()) {
        const Expr* node = stack.back();
        stack.pop_back();
        if (node->kind == ExprKind::kMacroRef) {
            nodes += expanded_.at(node->macro).nodes;
            continue;
        }
        ++nodes;
        for (const auto& child : node->children) stack.push_back(child.get());
    }
    return nodes;
}

ExprPtr MacroExpander::substitute(const Expr& body) const {
    if (body.kind == ExprKind::kMacroRef) return clone(*expanded_.at(body.macro).expr);
    auto copy = std::make_unique<Expr>();
    copy->kind = body.kind;
    copy->field = body.field;
    copy->op = body.op;
    copy->modifier = body.modifier;
    copy->value = body.value;
    copy->offset = body.offset;
    for (const auto& child : body.children) copy->children.push_back(substitute(*child));
    return copy;
}

Result<void> MacroExpander::ensure_expanded(const std::string& root) {
    if (expanded_.count(root)) return {};
    struct Frame {
        std::string name;
        std::vector<std::string> refs;
        size_t next = 0;
    };
    std::vector<Frame> stack;
    std::unordered_set<std::string> on_stack;
    stack.push_back({root, macro_refs(*bodies_.at(root))});
    on_stack.insert(root);
    while (!stack.empty()) {
        Frame& frame = stack.back();
        if (frame.next < frame.refs.size()) {
            const std::string ref = frame.refs[frame.next++];
            if (!bodies_.count(ref)) {
                return Error{{}, "undefined macro '" + ref + "' (used by macro '" + frame.name + "')"};
            }
            if (expanded_.count(ref)) continue;
            if (on_stack.count(ref)) {
                auto start = std::find_if(stack.begin(), stack.end(), [&](const Frame& f) { return f.name == ref; });
                std::string cycle;
                for (auto it = start; it != stack.end(); ++it) cycle += it->name + " -> ";
                return Error{{}, "macro cycle: " + cycle + ref};
            }
            stack.push_back({ref, macro_refs(*bodies_.at(ref))});
            on_stack.insert(ref);
            continue;
        }
        const Expr& body = *bodies_.at(frame.name);
        size_t nodes = substituted_size(body);
        if (nodes > kMaxExpandedNodes) {
            return Error{{}, "macro '" + frame.name + "' expands to more than " + std::to_string(kMaxExpandedNodes) +
                                 " nodes"};
        }
        ExprPtr expr = substitute(body);
        if (depth(*expr) > kMaxExpandedDepth) {
            return Error{{}, "macro '" + frame.name + "' nests deeper than " + std::to_string(kMaxExpandedDepth) +
                                 " levels once its macros are expanded"};
        }
        expanded_[frame.name] = {std::move(expr), nodes};
        on_stack.erase(frame.name);
        stack.pop_back();
    }
    return {};
}

Result<ExprPtr> MacroExpander::expand(const Expr& expr) {
    for (const auto& ref : macro_refs(expr)) {
        if (!bodies_.count(ref)) return Error{{}, "undefined macro '" + ref + "'"};
        if (auto ok = ensure_expanded(ref); !ok) return ok.error();
    }
    size_t nodes = substituted_size(expr);
    if (nodes > kMaxExpandedNodes) {
        return Error{{}, "condition expands to more than " + std::to_string(kMaxExpandedNodes) + " nodes"};
    }
    ExprPtr out = substitute(expr);
    if (depth(*out) > kMaxExpandedDepth) {
        return Error{{}, "condition nests deeper than " + std::to_string(kMaxExpandedDepth) +
                             " levels once its macros are expanded"};
    }
    return out;
}

}  // namespace bulkhead::rules
