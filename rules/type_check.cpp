// SPDX-License-Identifier: Apache-2.0
#include "rules/type_check.h"

#include <vector>

#include "rules/fields.h"
#include "rules/values.h"

namespace bulkhead::rules {

namespace {

bool string_op(CompareOp op) {
    switch (op) {
    case CompareOp::kEq: case CompareOp::kNe: case CompareOp::kContains: case CompareOp::kIContains:
    case CompareOp::kBContains: case CompareOp::kStartsWith: case CompareOp::kBStartsWith:
    case CompareOp::kEndsWith: case CompareOp::kGlob: case CompareOp::kIGlob: case CompareOp::kRegex:
    case CompareOp::kIn: case CompareOp::kIntersects: case CompareOp::kPmatch: case CompareOp::kExists:
        return true;
    default:
        return false;
    }
}

bool number_op(CompareOp op) {
    switch (op) {
    case CompareOp::kEq: case CompareOp::kNe: case CompareOp::kLt: case CompareOp::kLe: case CompareOp::kGt:
    case CompareOp::kGe: case CompareOp::kIn: case CompareOp::kIntersects: case CompareOp::kExists:
        return true;
    default:
        return false;
    }
}

bool op_allowed(FieldType type, CompareOp op) {
    switch (type) {
    case FieldType::kString: return string_op(op);
    case FieldType::kNumber: return number_op(op);
    case FieldType::kBool: return op == CompareOp::kEq || op == CompareOp::kNe || op == CompareOp::kExists;
    case FieldType::kIp:
        return op == CompareOp::kEq || op == CompareOp::kNe || op == CompareOp::kIn ||
               op == CompareOp::kIntersects || op == CompareOp::kExists;
    }
    return false;
}

Error error_at(const Expr& check, const std::string& why) {
    return Error{{}, "'" + to_condition(check) + "': " + why};
}

// The type a field has after its transformers, or an error / unsupported.
struct Typed {
    FieldType type = FieldType::kString;
    std::string unsupported;
};

Result<Typed> type_of(const Expr& check, const FieldExpr& field) {
    FieldRef ref;
    std::string why;
    if (!resolve_field(field.name, field.arg, field.has_arg, &ref, &why)) {
        if (!find_field(field.name)) {
            std::string reason = unsupported_field_reason(field.name);
            if (!reason.empty()) return Typed{FieldType::kString, reason};
        }
        return error_at(check, why);
    }
    FieldType type = ref.info->type;
    // Transformers apply innermost first; the vector is outermost first.
    for (auto it = field.transformers.rbegin(); it != field.transformers.rend(); ++it) {
        if (type != FieldType::kString) {
            return error_at(check, std::string(to_string(*it)) + "() needs a string, and " + field.name + " is a " +
                                       std::string(to_string(type)));
        }
        if (*it == Transformer::kLen) type = FieldType::kNumber;
    }
    return Typed{type, ""};
}

Result<void> check_value(const Expr& check, FieldType type, const std::string& text) {
    std::string why;
    switch (type) {
    case FieldType::kString:
        if (check.op == CompareOp::kBContains || check.op == CompareOp::kBStartsWith) {
            if (!parse_hex_bytes(text, nullptr))
                return error_at(check, "'" + text + "' is not a hex byte string (like CAFEBABE)");
        }
        return {};
    case FieldType::kNumber:
        if (!parse_number(text, nullptr)) return error_at(check, "'" + text + "' is not a number");
        return {};
    case FieldType::kBool:
        if (text != "true" && text != "false") return error_at(check, "'" + text + "' is not true or false");
        return {};
    case FieldType::kIp:
        if (!parse_ip_network(text, nullptr)) return error_at(check, "'" + text + "' is not an IP address or CIDR network");
        return {};
    }
    return {};
}

Result<std::string> check_one(const Expr& check) {
    auto lhs = type_of(check, check.field);
    if (!lhs) return lhs.error();
    if (!lhs->unsupported.empty()) return lhs->unsupported;
    const FieldType type = lhs->type;
    if (!op_allowed(type, check.op)) {
        return error_at(check, "operator '" + std::string(to_string(check.op)) + "' does not apply to " +
                                   std::string(to_string(type)) + " field " + check.field.name);
    }
    if (check.modifier != Modifier::kNone && (type != FieldType::kString || is_list_op(check.op)))
        return error_at(check, "modifier '" + std::string(to_string(check.modifier)) + "' needs a string operator");
    switch (check.value.kind) {
    case Value::Kind::kNone:
        return std::string();
    case Value::Kind::kString:
        if (auto ok = check_value(check, type, check.value.text); !ok) return ok.error();
        return std::string();
    case Value::Kind::kList:
        for (const auto& item : check.value.items)
            if (auto ok = check_value(check, type, item.text); !ok) return ok.error();
        return std::string();
    case Value::Kind::kListRef:
        return error_at(check, "list '" + check.value.text + "' was not expanded");
    case Value::Kind::kField: {
        auto rhs = type_of(check, check.value.field);
        if (!rhs) return rhs.error();
        if (!rhs->unsupported.empty()) return rhs->unsupported;
        if (rhs->type != type) {
            return error_at(check, "compares " + std::string(to_string(type)) + " with " +
                                       std::string(to_string(rhs->type)));
        }
        return std::string();
    }
    }
    return std::string();
}

}  // namespace

Result<TypeCheck> type_check(const Expr& expr) {
    TypeCheck out;
    std::vector<const Expr*> stack{&expr};
    while (!stack.empty()) {
        const Expr* node = stack.back();
        stack.pop_back();
        if (node->kind == ExprKind::kMacroRef) return Error{{}, "macro '" + node->macro + "' was not expanded"};
        for (const auto& child : node->children) stack.push_back(child.get());
        if (node->kind != ExprKind::kCheck) continue;
        auto checked = check_one(*node);
        if (!checked) return checked.error();
        if (out.unsupported.empty() && !checked->empty()) out.unsupported = *checked;
    }
    return out;
}

}  // namespace bulkhead::rules
