// SPDX-License-Identifier: Apache-2.0
// Pass: type checking (internal).
//
// Every check names a field bulkhead knows, with an operator its type allows
// and values of that type: `proc.pid contains 1` and `fd.num > abc` are
// errors, `tolower(proc.pid)` is an error, `evt.is_open_read = yes` is an
// error. A Falco field that bulkhead's events do not carry
// (`container.image.repository`) is not an error: the rule is *unsupported*
// and the reason says which field. A name outside Falco's field classes is
// an error ("unknown field").
#pragma once

#include <string>

#include "rules/ast.h"
#include "rules/result.h"

namespace bulkhead::rules {

struct TypeCheck {
    std::string unsupported;  // "" when the evaluator can run the condition
};

Result<TypeCheck> type_check(const Expr& expr);

}  // namespace bulkhead::rules
