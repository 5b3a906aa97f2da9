// SPDX-License-Identifier: Apache-2.0
// Bringing a VM's reviewed changes back to the host workspace.
//
// Paths come from the guest and are untrusted: each one is checked, and the
// host side is walked with openat(O_NOFOLLOW) one component at a time, so a
// link planted in the workspace cannot aim a write outside it. Files land
// whole (a temporary file, then rename) with the owner of what they replace.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "vmguard/vm.h"

namespace bulkhead::vmguard {

// Why a workspace-relative path needs a human to apply it by hand (git hooks,
// agent and MCP configs, CI workflows, agent instruction files), or "".
std::string review_required(const std::string& rel);

struct ApplyOptions {
    std::vector<std::string> paths;  // only these paths and what lies below them; empty: all
    bool allow_protected = false;    // apply what review_required() names too
    size_t max_file_bytes = 256u << 20;
};

struct ApplyReport {
    std::vector<std::string> applied;                           // "A path", "M path", "D path"
    std::vector<std::pair<std::string, std::string>> refused;   // path, why
    std::vector<std::pair<std::string, std::string>> failed;    // path, why
};

ApplyReport apply(Vm& vm, const std::vector<Change>& changes, const std::string& workspace, const ApplyOptions& o);

}  // namespace bulkhead::vmguard
