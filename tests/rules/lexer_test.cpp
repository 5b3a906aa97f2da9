// SPDX-License-Identifier: Apache-2.0
#include "rules/lexer.h"

#include <gtest/gtest.h>

#include <string>

namespace bulkhead::rules {
namespace {

// Renders tokens as "kind:text" joined by spaces.
std::string lex(std::string_view input, LexMode mode) {
    std::string out;
    for (const auto& token : tokenize(input, mode)) {
        if (!out.empty()) out += " ";
        out += std::string(to_string(token.kind));
        if (!token.text.empty()) out += ":" + token.text;
    }
    return out;
}

struct LexCase {
    const char* input;
    LexMode mode;
    const char* tokens;
};

TEST(LexerTest, Tokens) {
    const LexCase cases[] = {
        {"proc.name = sh", LexMode::kExpr, "word:proc.name op:= word:sh end"},
        {"fd.num>=0", LexMode::kExpr, "word:fd.num op:>= word:0 end"},
        {"a!=b", LexMode::kExpr, "word:a op:!= word:b end"},
        {"a==b", LexMode::kExpr, "word:a op:== word:b end"},
        {"x<y x<=y x>y", LexMode::kExpr, "word:x op:< word:y word:x op:<= word:y word:x op:> word:y end"},
        {"(a, b)", LexMode::kExpr, "lparen:( word:a comma:, word:b rparen:) end"},
        {"not(a)", LexMode::kExpr, "word:not lparen:( word:a rparen:) end"},
        {"proc.aname[2]=bash", LexMode::kExpr, "word:proc.aname[2] op:= word:bash end"},
        {"'f'", LexMode::kExpr, "string:f end"},
        {R"("a \"q\" b")", LexMode::kExpr, R"(string:a "q" b end)"},
        {R"('it\'s')", LexMode::kExpr, "string:it's end"},
        {R"("\d+")", LexMode::kExpr, R"(string:\d+ end)"},
        // Value mode keeps < > ! inside bare strings (Falco's bare-string class).
        {"< /a<b !x", LexMode::kValue, "word:< word:/a<b word:!x end"},
        {"/etc/,x", LexMode::kValue, "word:/etc/ comma:, word:x end"},
        {"a=b", LexMode::kValue, "word:a op:= word:b end"},
        {"  \t\n ", LexMode::kExpr, "end"},
        {"\"open", LexMode::kExpr, "error:unterminated quoted string"},
        {"a ! b", LexMode::kExpr, "word:a error:'!' must be followed by '='"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(lex(c.input, c.mode), c.tokens) << "input: " << c.input;
    }
}

TEST(LexerTest, OffsetsAndPeek) {
    Lexer lexer("  evt.type in (open)");
    Token peeked = lexer.peek(LexMode::kExpr);
    Token token = lexer.next(LexMode::kExpr);
    EXPECT_EQ(peeked.text, token.text);
    EXPECT_EQ(token.offset, 2u);
    EXPECT_EQ(lexer.next(LexMode::kExpr).offset, 11u);
}

TEST(LexerTest, LineColumn) {
    const struct {
        const char* text;
        size_t offset;
        int line;
        int column;
    } cases[] = {
        {"abc", 0, 1, 1},
        {"abc", 2, 1, 3},
        {"ab\ncd", 3, 2, 1},
        {"ab\ncd", 4, 2, 2},
    };
    for (const auto& c : cases) {
        LineColumn lc = line_column(c.text, c.offset);
        EXPECT_EQ(lc.line, c.line) << c.text << " @" << c.offset;
        EXPECT_EQ(lc.column, c.column) << c.text << " @" << c.offset;
    }
}

}  // namespace
}  // namespace bulkhead::rules
