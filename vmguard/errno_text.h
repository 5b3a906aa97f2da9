// SPDX-License-Identifier: Apache-2.0
// "what: strerror(errno)" for vmguard's error messages.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

namespace bulkhead::vmguard {

inline std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace bulkhead::vmguard
