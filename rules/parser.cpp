// SPDX-License-Identifier: Apache-2.0
#include "rules/parser.h"

#include <optional>
#include <utility>

#include "rules/lexer.h"

namespace bulkhead::rules {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// name = [a-zA-Z][a-zA-Z0-9_]*, returns the length matched at `text`.
size_t match_name(std::string_view text) {
    if (text.empty() || !is_alpha(text[0])) return 0;
    size_t i = 1;
    while (i < text.size() && (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '_')) ++i;
    return i;
}

bool is_field_name(std::string_view text) {
    size_t n = match_name(text);
    if (n == 0) return false;
    int parts = 1;
    while (n < text.size()) {
        if (text[n] != '.') return false;
        size_t m = match_name(text.substr(n + 1));
        if (m == 0) return false;
        n += 1 + m;
        ++parts;
    }
    return parts >= 2;
}

std::optional<Transformer> transformer_of(std::string_view word) {
    if (word == "tolower") return Transformer::kToLower;
    if (word == "toupper") return Transformer::kToUpper;
    if (word == "b64") return Transformer::kB64;
    if (word == "basename") return Transformer::kBasename;
    if (word == "len") return Transformer::kLen;
    return std::nullopt;
}

std::optional<CompareOp> operator_of(const Token& token) {
    static const std::pair<std::string_view, CompareOp> kOps[] = {
        {"=", CompareOp::kEq},
        {"==", CompareOp::kEq},
        {"!=", CompareOp::kNe},
        {"<", CompareOp::kLt},
        {"<=", CompareOp::kLe},
        {">", CompareOp::kGt},
        {">=", CompareOp::kGe},
        {"exists", CompareOp::kExists},
        {"contains", CompareOp::kContains},
        {"icontains", CompareOp::kIContains},
        {"bcontains", CompareOp::kBContains},
        {"startswith", CompareOp::kStartsWith},
        {"bstartswith", CompareOp::kBStartsWith},
        {"endswith", CompareOp::kEndsWith},
        {"glob", CompareOp::kGlob},
        {"iglob", CompareOp::kIGlob},
        {"regex", CompareOp::kRegex},
        {"in", CompareOp::kIn},
        {"intersects", CompareOp::kIntersects},
        {"pmatch", CompareOp::kPmatch},
    };
    if (token.kind != TokenKind::kOperator && token.kind != TokenKind::kWord) return std::nullopt;
    for (const auto& [text, op] : kOps) {
        if (token.text == text) return op;
    }
    return std::nullopt;
}

bool is_numeric_op(CompareOp op) {
    return op == CompareOp::kLt || op == CompareOp::kLe || op == CompareOp::kGt || op == CompareOp::kGe;
}

std::optional<Modifier> modifier_of(std::string_view word) {
    if (word == "oneof") return Modifier::kOneOf;
    if (word == "anyof") return Modifier::kAnyOf;
    if (word == "allof") return Modifier::kAllOf;
    return std::nullopt;
}

std::string describe(const Token& token) {
    switch (token.kind) {
        case TokenKind::kEnd: return "end of condition";
        case TokenKind::kString: return "string \"" + token.text + "\"";
        default: return "'" + token.text + "'";
    }
}

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text), lexer_(text) {}

    Result<ExprPtr> parse() {
        ExprPtr expr = parse_or(0);
        if (expr) {
            Token token = lexer_.next(LexMode::kExpr);
            if (token.kind != TokenKind::kEnd) fail(token, "unexpected " + describe(token) + " after a complete expression");
        }
        if (error_) return std::move(*error_);
        return expr;
    }

private:
    ExprPtr fail(const Token& token, std::string cause) {
        if (!error_) {
            LineColumn lc = line_column(text_, token.offset);
            std::string message = token.kind == TokenKind::kError ? token.text : std::move(cause);
            error_ = Error{{"", lc.line, lc.column}, std::move(message)};
        }
        return nullptr;
    }

    bool too_deep(int depth, const Token& at) {
        if (depth <= kMaxParseDepth) return false;
        fail(at, "condition nests deeper than " + std::to_string(kMaxParseDepth) + " levels");
        return true;
    }

    bool peek_keyword(std::string_view keyword) {
        Token token = lexer_.peek(LexMode::kExpr);
        return token.kind == TokenKind::kWord && token.text == keyword;
    }

    ExprPtr parse_nary(ExprKind kind, int depth) {
        const std::string_view keyword = kind == ExprKind::kOr ? "or" : "and";
        size_t offset = lexer_.peek(LexMode::kExpr).offset;
        ExprPtr first = kind == ExprKind::kOr ? parse_nary(ExprKind::kAnd, depth) : parse_not(depth);
        if (!first) return nullptr;
        if (!peek_keyword(keyword)) return first;
        auto node = std::make_unique<Expr>();
        node->kind = kind;
        node->offset = offset;
        node->children.push_back(std::move(first));
        while (peek_keyword(keyword)) {
            lexer_.next(LexMode::kExpr);
            ExprPtr next = kind == ExprKind::kOr ? parse_nary(ExprKind::kAnd, depth) : parse_not(depth);
            if (!next) return nullptr;
            node->children.push_back(std::move(next));
        }
        return node;
    }

    ExprPtr parse_or(int depth) { return parse_nary(ExprKind::kOr, depth); }

    ExprPtr parse_not(int depth) {
        // Iterative over `not not ...`, each one counted against the depth.
        std::vector<size_t> nots;
        while (peek_keyword("not")) {
            Token token = lexer_.next(LexMode::kExpr);
            if (too_deep(depth + static_cast<int>(nots.size()) + 1, token)) return nullptr;
            nots.push_back(token.offset);
        }
        ExprPtr expr = parse_check(depth + static_cast<int>(nots.size()));
        if (!expr) return nullptr;
        while (!nots.empty()) {
            auto node = std::make_unique<Expr>();
            node->kind = ExprKind::kNot;
            node->offset = nots.back();
            node->children.push_back(std::move(expr));
            expr = std::move(node);
            nots.pop_back();
        }
        return expr;
    }

    ExprPtr parse_check(int depth) {
        Token token = lexer_.next(LexMode::kExpr);
        if (token.kind == TokenKind::kLParen) {
            if (too_deep(depth + 1, token)) return nullptr;
            ExprPtr inner = parse_or(depth + 1);
            if (!inner) return nullptr;
            Token close = lexer_.next(LexMode::kExpr);
            if (close.kind != TokenKind::kRParen) {
                return fail(close, "expected ')' to close the '(' at offset " + std::to_string(token.offset) +
                                       ", found " + describe(close));
            }
            return inner;
        }
        if (token.kind != TokenKind::kWord) {
            return fail(token, "expected a field, a macro name or '(', found " + describe(token));
        }
        if (token.text == "and" || token.text == "or") {
            return fail(token, "expected a field, a macro name or '(' before '" + token.text + "'");
        }
        bool is_call = transformer_of(token.text) && lexer_.peek(LexMode::kExpr).kind == TokenKind::kLParen;
        if (!is_call && token.text.find('.') == std::string::npos && token.text.find('[') == std::string::npos) {
            if (!is_identifier(token.text)) {
                return fail(token, "expected a field, a macro name or '(', found " + describe(token));
            }
            auto node = std::make_unique<Expr>();
            node->kind = ExprKind::kMacroRef;
            node->macro = token.text;
            node->offset = token.offset;
            return node;
        }
        auto node = std::make_unique<Expr>();
        node->kind = ExprKind::kCheck;
        node->offset = token.offset;
        if (!parse_field_expr(token, depth, node->field)) return nullptr;
        if (!parse_condition_tail(*node, depth)) return nullptr;
        return node;
    }

    // field_expr, starting at `token` (already consumed).
    bool parse_field_expr(const Token& token, int depth, FieldExpr& out) {
        Token current = token;
        int calls = 0;
        while (auto transformer = transformer_of(current.text)) {
            if (lexer_.peek(LexMode::kExpr).kind != TokenKind::kLParen) break;
            if (too_deep(depth + calls + 1, current)) return false;
            lexer_.next(LexMode::kExpr);
            out.transformers.push_back(*transformer);
            ++calls;
            current = lexer_.next(LexMode::kExpr);
            if (current.kind != TokenKind::kWord) {
                fail(current, "expected a field inside " + std::string(to_string(*transformer)) + "(), found " +
                                  describe(current));
                return false;
            }
        }
        if (!parse_field(current, out)) return false;
        for (int i = 0; i < calls; ++i) {
            Token close = lexer_.next(LexMode::kExpr);
            if (close.kind != TokenKind::kRParen) {
                fail(close, "expected ')' after the transformer argument, found " + describe(close));
                return false;
            }
        }
        return true;
    }

    bool parse_field(const Token& token, FieldExpr& out) {
        std::string_view text = token.text;
        size_t bracket = text.find('[');
        std::string_view name = text.substr(0, bracket);
        if (bracket != std::string_view::npos) {
            if (text.back() != ']' || text.size() - bracket < 3) {
                fail(token, "malformed field argument in '" + token.text + "' (expected name[arg])");
                return false;
            }
            out.arg = std::string(text.substr(bracket + 1, text.size() - bracket - 2));
            out.has_arg = true;
        }
        if (!is_field_name(name)) {
            fail(token, "'" + std::string(name) + "' is not a field name (expected class.field, e.g. proc.name)");
            return false;
        }
        out.name = std::string(name);
        return true;
    }

    bool parse_condition_tail(Expr& node, int depth) {
        Token op_token = lexer_.next(LexMode::kExpr);
        auto op = operator_of(op_token);
        if (!op) {
            fail(op_token, "expected an operator after '" + to_condition(node.field) + "', found " + describe(op_token));
            return false;
        }
        node.op = *op;
        if (*op == CompareOp::kExists) return true;

        if (is_list_op(*op)) return parse_list_rhs(node, op_token, depth);

        Token next = lexer_.peek(LexMode::kValue);
        if (!is_numeric_op(*op) && next.kind == TokenKind::kWord) {
            if (auto modifier = modifier_of(next.text)) {
                lexer_.next(LexMode::kValue);
                node.modifier = *modifier;
                return parse_list_rhs(node, next, depth);
            }
        }
        return parse_scalar_rhs(node, op_token, depth);
    }

    // The right-hand side is a field: `val(f)` or `transformer(...)`.
    bool try_parse_rhs_field(const Token& word, Expr& node, int depth, bool& matched) {
        matched = false;
        bool is_val = word.text == "val";
        if (!is_val && !transformer_of(word.text)) return true;
        if (lexer_.peek(LexMode::kValue).kind != TokenKind::kLParen) return true;
        matched = true;
        node.value.kind = Value::Kind::kField;
        if (!is_val) return parse_field_expr(word, depth, node.value.field);
        lexer_.next(LexMode::kValue);
        Token inner = lexer_.next(LexMode::kExpr);
        if (inner.kind != TokenKind::kWord) {
            fail(inner, "expected a field inside val(), found " + describe(inner));
            return false;
        }
        if (!parse_field_expr(inner, depth + 1, node.value.field)) return false;
        Token close = lexer_.next(LexMode::kExpr);
        if (close.kind != TokenKind::kRParen) {
            fail(close, "expected ')' to close val(, found " + describe(close));
            return false;
        }
        return true;
    }

    bool parse_scalar_rhs(Expr& node, const Token& op_token, int depth) {
        Token token = lexer_.next(LexMode::kValue);
        if (token.kind == TokenKind::kString) {
            node.value.kind = Value::Kind::kString;
            node.value.text = std::move(token.text);
            node.value.quoted = true;
            return true;
        }
        if (token.kind != TokenKind::kWord) {
            fail(token, "expected a value after '" + op_token.text + "', found " + describe(token));
            return false;
        }
        bool matched = false;
        if (!try_parse_rhs_field(token, node, depth, matched)) return false;
        if (matched) return true;
        node.value.kind = Value::Kind::kString;
        node.value.text = std::move(token.text);
        return true;
    }

    bool parse_list_rhs(Expr& node, const Token& op_token, int depth) {
        Token token = lexer_.next(LexMode::kValue);
        if (token.kind == TokenKind::kWord) {
            bool matched = false;
            if (node.modifier == Modifier::kNone) {
                if (!try_parse_rhs_field(token, node, depth, matched)) return false;
                if (matched) return true;
            }
            if (!is_identifier(token.text)) {
                fail(token, "expected a list '(...)' or a list name after '" + op_token.text + "', found " +
                                describe(token));
                return false;
            }
            node.value.kind = Value::Kind::kListRef;
            node.value.text = std::move(token.text);
            return true;
        }
        if (token.kind != TokenKind::kLParen) {
            fail(token, "expected a list '(...)' or a list name after '" + op_token.text + "', found " +
                            describe(token));
            return false;
        }
        node.value.kind = Value::Kind::kList;
        if (lexer_.peek(LexMode::kValue).kind == TokenKind::kRParen) {
            lexer_.next(LexMode::kValue);
            return true;
        }
        for (;;) {
            Token item = lexer_.next(LexMode::kValue);
            if (item.kind != TokenKind::kWord && item.kind != TokenKind::kString) {
                fail(item, "expected a list item, found " + describe(item));
                return false;
            }
            node.value.items.push_back({std::move(item.text), item.kind == TokenKind::kString});
            Token sep = lexer_.next(LexMode::kValue);
            if (sep.kind == TokenKind::kRParen) return true;
            if (sep.kind != TokenKind::kComma) {
                fail(sep, "expected ',' or ')' in a list, found " + describe(sep));
                return false;
            }
        }
    }

    std::string_view text_;
    Lexer lexer_;
    std::optional<Error> error_;
};

}  // namespace

bool is_identifier(std::string_view name) { return !name.empty() && match_name(name) == name.size(); }

Result<ExprPtr> parse_condition(std::string_view condition) { return Parser(condition).parse(); }

}  // namespace bulkhead::rules
