// SPDX-License-Identifier: Apache-2.0
#include "rules/result.h"

namespace bulkhead::rules {

std::string SourceLocation::to_string() const {
    std::string out = file.empty() ? "<input>" : file;
    if (line > 0) {
        out += ":" + std::to_string(line);
        if (column > 0) out += ":" + std::to_string(column);
    }
    return out;
}

std::string Error::to_string() const {
    if (location.file.empty() && location.line == 0) return message;
    return location.to_string() + ": " + message;
}

std::string Warning::to_string() const {
    if (location.file.empty() && location.line == 0) return "warning: " + message;
    return location.to_string() + ": warning: " + message;
}

}  // namespace bulkhead::rules
