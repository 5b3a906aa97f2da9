// SPDX-License-Identifier: Apache-2.0
// The condition AST: what the parser builds and the passes rewrite.
//
// Nodes are plain data. `and`/`or` are n-ary (the parser flattens chains) so
// long conditions stay shallow. Every tree is depth-bounded (kMaxParseDepth
// by the parser, kMaxExpandedDepth after macro expansion), which is what
// makes the recursive helpers below safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::rules {

// Falco's parser limit on nesting (libsinsp filter/parser.h).
inline constexpr int kMaxParseDepth = 100;
// Bound after macros are substituted; a chain of macros multiplies depth.
inline constexpr int kMaxExpandedDepth = 1000;

enum class CompareOp : uint8_t {
    kExists,
    kEq,  // `=` and `==`
    kNe,
    kLt,
    kLe,
    kGt,
    kGe,
    kContains,
    kIContains,
    kBContains,
    kStartsWith,
    kBStartsWith,
    kEndsWith,
    kGlob,
    kIGlob,
    kRegex,
    kIn,
    kIntersects,
    kPmatch,
};

// Falco 0.44 modifiers: `<strop> oneof|anyof|allof (list)`.
enum class Modifier : uint8_t { kNone, kOneOf, kAnyOf, kAllOf };

enum class Transformer : uint8_t { kToLower, kToUpper, kB64, kBasename, kLen };

// A field, optionally with an argument and wrapped in transformers:
// `tolower(proc.aname[2])` is {name "proc.aname", arg "2", transformers {kToLower}}.
struct FieldExpr {
    std::string name;
    std::string arg;
    bool has_arg = false;
    std::vector<Transformer> transformers;  // outermost first
};

struct ListItem {
    std::string text;
    bool quoted = false;  // quoted items are never list references
};

struct Value {
    enum class Kind : uint8_t {
        kNone,     // unary operator (`exists`)
        kString,   // bare or quoted string
        kList,     // `(a, b, "c")`
        kListRef,  // a list name after a list operator: `in shell_binaries`
        kField,    // `val(field)` or a transformer on the right-hand side
    };
    Kind kind = Kind::kNone;
    std::string text;  // kString, kListRef
    bool quoted = false;
    std::vector<ListItem> items;  // kList
    FieldExpr field;              // kField
};

enum class ExprKind : uint8_t { kAnd, kOr, kNot, kCheck, kMacroRef };

struct Expr {
    ExprKind kind = ExprKind::kCheck;
    std::vector<std::unique_ptr<Expr>> children;  // kAnd, kOr (>= 2), kNot (1)
    // kCheck
    FieldExpr field;
    CompareOp op = CompareOp::kExists;
    Modifier modifier = Modifier::kNone;
    Value value;
    // kMacroRef
    std::string macro;
    // Byte offset of the node's first token in the condition text.
    size_t offset = 0;
};

using ExprPtr = std::unique_ptr<Expr>;

std::string_view to_string(CompareOp op);
std::string_view to_string(Modifier modifier);
std::string_view to_string(Transformer transformer);

// True for operators whose right-hand side is a list (`in`, `intersects`,
// `pmatch`).
bool is_list_op(CompareOp op);

// Deep copy; depth-bounded trees only.
ExprPtr clone(const Expr& expr);

// Nesting depth (a single check is 1). Iterative: safe on any tree.
int depth(const Expr& expr);

// S-expression for tests and debugging:
//   proc.name = sh            ->  (= proc.name "sh")
//   a and not b               ->  (and a (not b))
//   fd.name in (x, y)         ->  (in fd.name ("x" "y"))
std::string to_sexpr(const Expr& expr);

// Back to Falco condition syntax (fully parenthesized where needed); used in
// error messages that quote the part of a condition the kernel cannot check.
std::string to_condition(const Expr& expr);
std::string to_condition(const FieldExpr& field);

// Quote a string for a condition unless it is a valid bare string.
std::string quote_if_needed(std::string_view text);

}  // namespace bulkhead::rules
