// SPDX-License-Identifier: Apache-2.0
// `bulkhead rules validate|test|explain`: the rule tools users run on their
// own files and in their own CI. They need no daemon and no privileges.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::rules_tool {

// Errors and warnings with file:line:column, then one line per rule:
// kernel / userspace / unsupported (reason) / disabled. 0 when the files
// load, 1 otherwise.
int validate(const std::vector<std::string>& files, bool json);

// Runs every enabled, supported rule on each case's event and compares the
// rules that fire with the case's `expect`. 0 when every case passes (and,
// with `coverage`, every rule has a triggering and a near-miss case).
int test(const std::vector<std::string>& files, const std::vector<std::string>& cases, bool coverage);

// The rule after list and macro expansion, the event types it runs on, and
// what the kernel enforces for it.
int explain(const std::vector<std::string>& files, const std::string& rule);

}  // namespace bulkhead::rules_tool
