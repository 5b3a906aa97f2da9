// SPDX-License-Identifier: Apache-2.0
// Level 2, file rules: the compiled kernel policy (deny rules) turned into
// the allow-list Landlock needs.
//
// Landlock grants rights on a directory and everything beneath it, and
// grants only add up, so "deny X" cannot be written down. For each protected
// object the planner walks from "/" to it. Every directory on the way is
// granted only what every protected object beneath it keeps, and each of its
// other entries (the siblings of the path) gets full access to its own
// subtree. A protected object that does not exist yet is held by the nearest
// directory that does: an object created there later inherits only that
// directory's rights.
//
// Trade-off: an entry created after the session started, directly in a
// directory on such a path, has only the rights of that directory. A
// directory that keeps no read or no write right for new files also loses
// the right to create entries (they are "frozen"), so a new file fails at
// create time instead of being half usable. The home directory itself is
// usually frozen; its existing subdirectories (projects, caches) are not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fd.h"
#include "rules/kernel_policy.h"

namespace bulkhead::sandbox {

// Landlock's uapi values; Debian 12's <linux/landlock.h> lacks the newer ones.
namespace ll {
constexpr uint64_t kExecute = 1ull << 0;
constexpr uint64_t kWriteFile = 1ull << 1;
constexpr uint64_t kReadFile = 1ull << 2;
constexpr uint64_t kReadDir = 1ull << 3;
constexpr uint64_t kRemoveDir = 1ull << 4;
constexpr uint64_t kRemoveFile = 1ull << 5;
constexpr uint64_t kMakeChar = 1ull << 6;
constexpr uint64_t kMakeDir = 1ull << 7;
constexpr uint64_t kMakeReg = 1ull << 8;
constexpr uint64_t kMakeSock = 1ull << 9;
constexpr uint64_t kMakeFifo = 1ull << 10;
constexpr uint64_t kMakeBlock = 1ull << 11;
constexpr uint64_t kMakeSym = 1ull << 12;
constexpr uint64_t kRefer = 1ull << 13;     // ABI 2
constexpr uint64_t kTruncate = 1ull << 14;  // ABI 3
constexpr uint64_t kIoctlDev = 1ull << 15;  // ABI 5
constexpr uint64_t kMakeAll = kMakeChar | kMakeDir | kMakeReg | kMakeSock | kMakeFifo | kMakeBlock | kMakeSym;
constexpr uint64_t kRemoveAll = kRemoveDir | kRemoveFile;
// The only rights a rule on a non-directory may carry.
constexpr uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

constexpr uint64_t kScopeAbstractUnix = 1ull << 0;  // ABI 6
constexpr uint64_t kScopeSignal = 1ull << 1;        // ABI 6
}  // namespace ll

// Highest Landlock ABI the kernel offers; 0 when Landlock is unavailable.
int landlock_abi();

// "read_file|write_file|..." for messages and tests.
std::string access_names(uint64_t access);

// Something a rule asks for that this level does not enforce.
struct Gap {
    std::string rule;
    std::string what;  // the target or the operations, escaped for humans
    std::string why;
    bool operator==(const Gap&) const = default;
};

// One Landlock rule: `access` granted on `path` and everything beneath it.
struct Grant {
    std::string path;  // raw bytes
    uint64_t access = 0;
};

struct LandlockInputs {
    int abi = 0;
    std::vector<std::string> homes;  // expansions of `~/`
    std::string agent;               // the session's agent kind, for agent-scoped rules
    bool ask_broker = false;         // `ask` files are the daemon's to hold, not denied here
    // Live sessions' workspaces the daemon named at the start (fd.in_other_workspace).
    std::vector<std::string> other_workspaces = {};
};

struct LandlockPlan {
    int abi = 0;
    uint64_t handled = 0;  // handled_access_fs
    uint64_t scoped = 0;   // scoped (ABI 6)
    Fd ruleset;            // invalid when planned without creating one
    std::vector<Grant> grants;
    std::vector<std::string> frozen;  // directories where nothing new can be created
    std::vector<Gap> gaps;
    std::vector<std::string> errors;  // any error: the session must not start
};

// Applies only `deny` rules that reach the session (host, sessions, or its
// agent kind). With create_ruleset, the rules go into a new ruleset as they
// are found; without, the plan is only described (bulkhead doctor).
LandlockPlan plan_landlock(const rules::KernelPolicy& policy, const LandlockInputs& in,
                           bool create_ruleset);

// Enforces the plan's ruleset on the calling thread and its future
// children. no_new_privs must already be set. Returns 0 or an errno.
int landlock_restrict(const LandlockPlan& plan);

}  // namespace bulkhead::sandbox
