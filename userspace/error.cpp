// SPDX-License-Identifier: Apache-2.0
#include "error.h"

#include <cstring>

namespace bulkhead {

std::string errno_message(const std::string& what, int err) {
    return what + ": " + std::strerror(err);
}

}  // namespace bulkhead
