// SPDX-License-Identifier: Apache-2.0
#include "rules/ast.h"

#include <utility>

namespace bulkhead::rules {

std::string_view to_string(CompareOp op) {
    switch (op) {
        case CompareOp::kExists: return "exists";
        case CompareOp::kEq: return "=";
        case CompareOp::kNe: return "!=";
        case CompareOp::kLt: return "<";
        case CompareOp::kLe: return "<=";
        case CompareOp::kGt: return ">";
        case CompareOp::kGe: return ">=";
        case CompareOp::kContains: return "contains";
        case CompareOp::kIContains: return "icontains";
        case CompareOp::kBContains: return "bcontains";
        case CompareOp::kStartsWith: return "startswith";
        case CompareOp::kBStartsWith: return "bstartswith";
        case CompareOp::kEndsWith: return "endswith";
        case CompareOp::kGlob: return "glob";
        case CompareOp::kIGlob: return "iglob";
        case CompareOp::kRegex: return "regex";
        case CompareOp::kIn: return "in";
        case CompareOp::kIntersects: return "intersects";
        case CompareOp::kPmatch: return "pmatch";
    }
    return "?";
}

std::string_view to_string(Modifier modifier) {
    switch (modifier) {
        case Modifier::kNone: return "";
        case Modifier::kOneOf: return "oneof";
        case Modifier::kAnyOf: return "anyof";
        case Modifier::kAllOf: return "allof";
    }
    return "?";
}

std::string_view to_string(Transformer transformer) {
    switch (transformer) {
        case Transformer::kToLower: return "tolower";
        case Transformer::kToUpper: return "toupper";
        case Transformer::kB64: return "b64";
        case Transformer::kBasename: return "basename";
        case Transformer::kLen: return "len";
    }
    return "?";
}

bool is_list_op(CompareOp op) {
    return op == CompareOp::kIn || op == CompareOp::kIntersects || op == CompareOp::kPmatch;
}

ExprPtr clone(const Expr& expr) {
    auto copy = std::make_unique<Expr>();
    copy->kind = expr.kind;
    copy->field = expr.field;
    copy->op = expr.op;
    copy->modifier = expr.modifier;
    copy->value = expr.value;
    copy->macro = expr.macro;
    copy->offset = expr.offset;
    copy->children.reserve(expr.children.size());
    for (const auto& child : expr.children) copy->children.push_back(clone(*child));
    return copy;
}

int depth(const Expr& expr) {
    int deepest = 0;
    std::vector<std::pair<const Expr*, int>> stack{{&expr, 1}};
    while (!stack.empty()) {
        auto [node, level] = stack.back();
        stack.pop_back();
        if (level > deepest) deepest = level;
        for (const auto& child : node->children) stack.emplace_back(child.get(), level + 1);
    }
    return deepest;
}

std::string quote_if_needed(std::string_view text) {
    bool bare = !text.empty();
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\b' || c == '(' ||
            c == ')' || c == ',' || c == '=' || c == '"' || c == '\'') {
            bare = false;
            break;
        }
    }
    if (bare) return std::string(text);
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

namespace {

std::string field_text(const FieldExpr& field) {
    std::string out = field.name;
    if (field.has_arg) out += "[" + field.arg + "]";
    for (auto it = field.transformers.rbegin(); it != field.transformers.rend(); ++it) {
        out = std::string(to_string(*it)) + "(" + out + ")";
    }
    return out;
}

std::string sexpr_field(const FieldExpr& field) {
    std::string out = field.name;
    if (field.has_arg) out += "[" + field.arg + "]";
    for (auto it = field.transformers.rbegin(); it != field.transformers.rend(); ++it) {
        out = "(" + std::string(to_string(*it)) + " " + out + ")";
    }
    return out;
}

std::string sexpr_quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string sexpr_value(const Value& value) {
    switch (value.kind) {
        case Value::Kind::kNone: return "";
        case Value::Kind::kString: return sexpr_quoted(value.text);
        case Value::Kind::kListRef: return value.text;
        case Value::Kind::kField: return "(val " + sexpr_field(value.field) + ")";
        case Value::Kind::kList: {
            std::string out = "(";
            for (size_t i = 0; i < value.items.size(); ++i) {
                if (i) out += " ";
                out += sexpr_quoted(value.items[i].text);
            }
            return out + ")";
        }
    }
    return "";
}

std::string condition_value(const Value& value) {
    switch (value.kind) {
        case Value::Kind::kNone: return "";
        case Value::Kind::kString: return quote_if_needed(value.text);
        case Value::Kind::kListRef: return value.text;
        case Value::Kind::kField:
            return value.field.transformers.empty() ? "val(" + field_text(value.field) + ")"
                                                    : field_text(value.field);
        case Value::Kind::kList: {
            std::string out = "(";
            for (size_t i = 0; i < value.items.size(); ++i) {
                if (i) out += ", ";
                out += quote_if_needed(value.items[i].text);
            }
            return out + ")";
        }
    }
    return "";
}

std::string check_head(const Expr& expr) {
    std::string op(to_string(expr.op));
    if (expr.modifier != Modifier::kNone) op += " " + std::string(to_string(expr.modifier));
    return op;
}

}  // namespace

std::string to_condition(const FieldExpr& field) { return field_text(field); }

std::string to_sexpr(const Expr& expr) {
    switch (expr.kind) {
        case ExprKind::kMacroRef: return expr.macro;
        case ExprKind::kCheck: {
            std::string out = "(" + check_head(expr) + " " + sexpr_field(expr.field);
            if (expr.value.kind != Value::Kind::kNone) out += " " + sexpr_value(expr.value);
            return out + ")";
        }
        case ExprKind::kNot: return "(not " + to_sexpr(*expr.children[0]) + ")";
        case ExprKind::kAnd:
        case ExprKind::kOr: {
            std::string out = expr.kind == ExprKind::kAnd ? "(and" : "(or";
            for (const auto& child : expr.children) out += " " + to_sexpr(*child);
            return out + ")";
        }
    }
    return "";
}

std::string to_condition(const Expr& expr) {
    switch (expr.kind) {
        case ExprKind::kMacroRef: return expr.macro;
        case ExprKind::kCheck: {
            std::string out = field_text(expr.field) + " " + check_head(expr);
            if (expr.value.kind != Value::Kind::kNone) out += " " + condition_value(expr.value);
            return out;
        }
        case ExprKind::kNot: {
            const Expr& child = *expr.children[0];
            bool wrap = child.kind == ExprKind::kAnd || child.kind == ExprKind::kOr;
            std::string inner = to_condition(child);
            return wrap ? "not (" + inner + ")" : "not " + inner;
        }
        case ExprKind::kAnd:
        case ExprKind::kOr: {
            std::string out;
            const char* sep = expr.kind == ExprKind::kAnd ? " and " : " or ";
            for (size_t i = 0; i < expr.children.size(); ++i) {
                const Expr& child = *expr.children[i];
                // `or` inside `and` needs parentheses; `and` inside `or` does not.
                bool wrap = child.kind == ExprKind::kOr ||
                            (child.kind == ExprKind::kAnd && expr.kind == ExprKind::kAnd);
                if (i) out += sep;
                out += wrap ? "(" + to_condition(child) + ")" : to_condition(child);
            }
            return out;
        }
    }
    return "";
}

}  // namespace bulkhead::rules
