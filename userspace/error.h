// SPDX-License-Identifier: Apache-2.0
// Fatal user-facing errors: thrown by commands, caught and printed by main.
// Recoverable errors travel in return values instead.
#pragma once

#include <stdexcept>
#include <string>

namespace bulkhead {

class FatalError : public std::runtime_error {
public:
    explicit FatalError(const std::string& what, int exit_code = 1)
        : std::runtime_error(what), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

private:
    int exit_code_;
};

// "subsystem: what failed: strerror(errno)".
std::string errno_message(const std::string& what, int err);

}  // namespace bulkhead
