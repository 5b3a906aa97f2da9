// SPDX-License-Identifier: Apache-2.0
// Condition lexer (internal).
//
// Falco's condition syntax is context sensitive: `fd.num>=0` splits at `>=`,
// but the bare value in `evt.dir = <` or `fd.name = /a<b` keeps `<`. So the
// parser tells the lexer what it expects next:
//   kExpr   fields, macro names, keywords, operators: a word stops at
//           whitespace ( ) , " ' = < > !
//   kValue  right-hand values: a bare string stops only at whitespace
//           ( ) , = " '  (Falco's bare-string class)
// Quoted strings ("..." or '...') are the same in both modes and take the
// escapes \\ \" \' \n \t \r \b \f.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::rules {

enum class TokenKind {
    kEnd,
    kLParen,
    kRParen,
    kComma,
    kWord,      // bare word: field, identifier, keyword, bare string
    kString,    // quoted string, unescaped
    kOperator,  // = == != < <= > >=
    kError,     // text holds the cause
};

enum class LexMode { kExpr, kValue };

struct Token {
    TokenKind kind = TokenKind::kEnd;
    std::string text;
    size_t offset = 0;  // byte offset of the token in the input
};

class Lexer {
public:
    explicit Lexer(std::string_view input) : input_(input) {}

    // Consumes and returns the next token, lexed in `mode`.
    Token next(LexMode mode);
    // Returns the next token without consuming it.
    Token peek(LexMode mode);
    // Byte offset of the next unconsumed character.
    size_t offset() const { return pos_; }

private:
    void skip_space();
    Token lex_quoted(size_t start);

    std::string_view input_;
    size_t pos_ = 0;
};

// Lexes all of `input` in one mode (for tests and tools). Stops after the
// first kEnd or kError token, which it includes.
std::vector<Token> tokenize(std::string_view input, LexMode mode);

std::string_view to_string(TokenKind kind);

// 1-based line and column of a byte offset in `text`.
struct LineColumn {
    int line = 1;
    int column = 1;
};
LineColumn line_column(std::string_view text, size_t offset);

}  // namespace bulkhead::rules
