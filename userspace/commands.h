// SPDX-License-Identifier: Apache-2.0
// The client-side commands main.cpp dispatches to (the daemon, run and
// doctor live in their own components).
#pragma once

#include <optional>
#include <string>

namespace bulkhead::commands {

int status(const std::string& socket, bool json);
int events(const std::string& socket, bool follow, bool json, const std::optional<std::string>& session);
int sessions(const std::string& socket, bool json);
int unload(const std::string& pin_root);
int reload(const std::string& socket);

}  // namespace bulkhead::commands
