// SPDX-License-Identifier: Apache-2.0
// `bulkhead run`: start a command inside a new agent session.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::session {

struct RunOptions {
    std::string socket;
    std::string agent = "generic";
    std::string workspace;  // default: the current directory
    std::vector<std::string> command;
};

// Returns the command's exit status (128 + signal when killed).
int run_in_session(const RunOptions& opts);

}  // namespace bulkhead::session
