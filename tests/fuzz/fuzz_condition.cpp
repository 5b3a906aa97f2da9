// SPDX-License-Identifier: Apache-2.0
// Fuzzes the condition lexer and parser, the type checker, event-type
// extraction and the evaluator on a fixed event.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rules/event_types.h"
#include "rules/parser.h"
#include "rules/rules.h"
#include "rules/type_check.h"

using namespace bulkhead::rules;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto expr = parse_condition(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!expr) return 0;
    (void)to_condition(**expr);
    (void)event_types(**expr);
    auto typed = type_check(**expr);
    if (!typed || !typed->unsupported.empty()) return 0;
    static const auto event =
        FieldMap::from_json({{"evt.type", "execve"}, {"proc.name", "bash"}, {"proc.pid", 42},
                             {"fd.rip", "10.1.2.3"}, {"evt.is_open_read", true}, {"proc.aname[2]", "claude"}});
    (void)evaluate_condition(**expr, *event);
    return 0;
}
