// SPDX-License-Identifier: Apache-2.0
// bulkhead's rule language: the public API of the rules library.
//
//   auto rules = bulkhead::rules::load_rule_files({"/etc/bulkhead/agents.yaml"});
//   if (!rules) { log(rules.error().to_string()); return; }
//   auto compiled = bulkhead::rules::compile_kernel_policy(*rules);
//
// Everything else in rules/ (lexer, parser, passes) is internal.
#pragma once

#include "rules/ast.h"
#include "rules/evaluator.h"
#include "rules/field_map.h"
#include "rules/fields.h"
#include "rules/kernel_compiler.h"
#include "rules/kernel_policy.h"
#include "rules/loader.h"
#include "rules/result.h"
#include "rules/rule_set.h"
