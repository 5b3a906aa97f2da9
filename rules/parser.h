// SPDX-License-Identifier: Apache-2.0
// Condition parser (internal): Falco's condition language, as in libsinsp
// filter/parser.h, to the AST of rules/ast.h.
//
//   expr        = or_expr ;
//   or_expr     = and_expr { "or" and_expr } ;
//   and_expr    = not_expr { "and" not_expr } ;
//   not_expr    = { "not" } check ;
//   check       = "(" expr ")"
//               | field_expr condition
//               | identifier ;                          (* macro reference *)
//   condition   = "exists"
//               | str_op modifier list_value            (* Falco 0.44 *)
//               | ( num_op | str_op ) rhs
//               | list_op ( list_value | rhs_field ) ;
//   rhs         = string | rhs_field ;
//   rhs_field   = "val" "(" field ")" | transformer_call ;
//   field_expr  = field | transformer_call ;
//   transformer_call = transformer "(" field_expr ")" ;
//   transformer = "tolower" | "toupper" | "b64" | "basename" | "len" ;
//   list_value  = "(" [ string { "," string } ] ")" | identifier ;  (* list name *)
//   field       = field_name [ "[" arg "]" ] ;
//   field_name  = name "." name { "." name } ;          (* name = [a-zA-Z][a-zA-Z0-9_]* *)
//   identifier  = [a-zA-Z][a-zA-Z0-9_]* ;
//   string      = bare_string | '"' ... '"' | "'" ... "'" ;
//   num_op      = "<" | "<=" | ">" | ">=" ;
//   str_op      = "=" | "==" | "!=" | "contains" | "icontains" | "bcontains"
//               | "startswith" | "bstartswith" | "endswith" | "glob" | "iglob"
//               | "regex" ;
//   list_op     = "in" | "intersects" | "pmatch" ;
//   modifier    = "oneof" | "anyof" | "allof" ;
//
// Precedence: not > and > or. Nesting (parentheses, `not`, transformers) is
// bounded by kMaxParseDepth, Falco's limit, so input cannot exhaust the stack.
#pragma once

#include <string_view>

#include "rules/ast.h"
#include "rules/result.h"

namespace bulkhead::rules {

// Parses one condition. On failure the Error's location holds the line and
// column inside `condition` (file left empty) and its message names the cause
// and the offending token; the loader adds the file and the rule.
Result<ExprPtr> parse_condition(std::string_view condition);

// True if `name` matches Falco's identifier syntax [a-zA-Z][a-zA-Z0-9_]*.
bool is_identifier(std::string_view name);

}  // namespace bulkhead::rules
