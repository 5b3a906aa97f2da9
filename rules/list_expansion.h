// SPDX-License-Identifier: Apache-2.0
// Pass: list expansion (internal).
//
// Falco semantics: a list item naming a list defined *earlier* is replaced by
// that list's items (so list definitions cannot form cycles); in a condition,
// `in (a, shell_binaries)` and `in shell_binaries` splice the list's items.
// Quoted items are literal strings, never list names.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "rules/ast.h"
#include "rules/result.h"
#include "rules/rule_set.h"

namespace bulkhead::rules {

using ListTable = std::unordered_map<std::string, const ListDef*>;

// Expands nested list references in definition order, in place.
void resolve_list_items(std::vector<ListDef>& lists);

// Builds a name -> definition table; later definitions win.
ListTable make_list_table(const std::vector<ListDef>& lists);

// Rewrites every list reference in `expr`. Fails on `in name` where `name`
// is not a list; the message quotes the check.
Result<void> expand_lists(Expr& expr, const ListTable& lists);

}  // namespace bulkhead::rules
