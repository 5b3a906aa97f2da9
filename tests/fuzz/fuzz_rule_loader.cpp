// SPDX-License-Identifier: Apache-2.0
// Fuzzes the YAML rule loader and everything behind it: any bytes must
// either load or fail with an Error; a loaded set must compile to the
// kernel policy and the evaluator and evaluate an event without crashing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rules/rules.h"

using namespace bulkhead::rules;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto loaded = load_rule_sources({{"fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size)}});
    if (!loaded) return 0;
    (void)analyze_kernel_policy(*loaded);
    auto rules = std::make_shared<const RuleSet>(std::move(*loaded));
    auto engine = Evaluator::build(rules);
    if (!engine) return 0;
    static const auto event = FieldMap::from_json({{"evt.type", "openat"}, {"fd.name", "/home/a/.ssh/id_rsa"},
                                                   {"proc.name", "cat"}, {"agent.session", 1}});
    std::vector<size_t> fired;
    engine->evaluate(*event, &fired);
    for (size_t i : fired) (void)engine->render(i, *event);
    return 0;
}
