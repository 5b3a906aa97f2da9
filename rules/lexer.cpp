// SPDX-License-Identifier: Apache-2.0
#include "rules/lexer.h"

namespace bulkhead::rules {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\b' || c == '\f' || c == '\v'; }

bool ends_word(char c, LexMode mode) {
    if (is_space(c) || c == '(' || c == ')' || c == ',' || c == '"' || c == '\'' || c == '=') {
        return true;
    }
    return mode == LexMode::kExpr && (c == '<' || c == '>' || c == '!');
}

}  // namespace

void Lexer::skip_space() {
    while (pos_ < input_.size() && is_space(input_[pos_])) ++pos_;
}

Token Lexer::peek(LexMode mode) {
    size_t saved = pos_;
    Token token = next(mode);
    pos_ = saved;
    return token;
}

Token Lexer::lex_quoted(size_t start) {
    char quote = input_[pos_++];
    std::string text;
    while (pos_ < input_.size()) {
        char c = input_[pos_++];
        if (c == quote) return {TokenKind::kString, std::move(text), start};
        if (c != '\\') {
            text += c;
            continue;
        }
        if (pos_ >= input_.size()) break;
        char e = input_[pos_++];
        switch (e) {
            case 'n': text += '\n'; break;
            case 't': text += '\t'; break;
            case 'r': text += '\r'; break;
            case 'b': text += '\b'; break;
            case 'f': text += '\f'; break;
            case '\\':
            case '"':
            case '\'': text += e; break;
            default:
                // Unknown escapes stay literal, so regexes like "\d" survive.
                text += '\\';
                text += e;
        }
    }
    pos_ = input_.size();
    return {TokenKind::kError, "unterminated quoted string", start};
}

Token Lexer::next(LexMode mode) {
    skip_space();
    size_t start = pos_;
    if (pos_ >= input_.size()) return {TokenKind::kEnd, "", start};
    char c = input_[pos_];
    switch (c) {
        case '(': ++pos_; return {TokenKind::kLParen, "(", start};
        case ')': ++pos_; return {TokenKind::kRParen, ")", start};
        case ',': ++pos_; return {TokenKind::kComma, ",", start};
        case '"':
        case '\'': return lex_quoted(start);
        default: break;
    }
    bool op_char = c == '=' || (mode == LexMode::kExpr && (c == '<' || c == '>' || c == '!'));
    if (op_char) {
        ++pos_;
        bool two = pos_ < input_.size() && input_[pos_] == '=';
        if (c == '!' && !two) return {TokenKind::kError, "'!' must be followed by '='", start};
        if (two) ++pos_;
        return {TokenKind::kOperator, std::string(input_.substr(start, pos_ - start)), start};
    }
    while (pos_ < input_.size() && !ends_word(input_[pos_], mode)) ++pos_;
    return {TokenKind::kWord, std::string(input_.substr(start, pos_ - start)), start};
}

std::vector<Token> tokenize(std::string_view input, LexMode mode) {
    Lexer lexer(input);
    std::vector<Token> tokens;
    for (;;) {
        tokens.push_back(lexer.next(mode));
        if (tokens.back().kind == TokenKind::kEnd || tokens.back().kind == TokenKind::kError) break;
    }
    return tokens;
}

std::string_view to_string(TokenKind kind) {
    switch (kind) {
        case TokenKind::kEnd: return "end";
        case TokenKind::kLParen: return "lparen";
        case TokenKind::kRParen: return "rparen";
        case TokenKind::kComma: return "comma";
        case TokenKind::kWord: return "word";
        case TokenKind::kString: return "string";
        case TokenKind::kOperator: return "op";
        case TokenKind::kError: return "error";
    }
    return "?";
}

LineColumn line_column(std::string_view text, size_t offset) {
    LineColumn lc;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++lc.line;
            lc.column = 1;
        } else {
            ++lc.column;
        }
    }
    return lc;
}

}  // namespace bulkhead::rules
