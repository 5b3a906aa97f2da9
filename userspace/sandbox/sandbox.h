// SPDX-License-Identifier: Apache-2.0
// Level 2 ("landlock+seccomp"): the sandbox `bulkhead run` puts a session in
// when the kernel cannot run BPF LSM programs. One interface over three
// kernel features, all inherited by every process of the session and
// impossible to lift from inside it:
//   - no_new_privs: setuid binaries and file capabilities grant nothing;
//   - Landlock: the file rules of the compiled kernel policy (landlock.h);
//   - seccomp: the syscalls that escape or tamper (seccomp.h).
// Needs no privileges and no daemon.
#pragma once

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/kernel_policy.h"
#include "sandbox/landlock.h"
#include "sandbox/seccomp.h"

namespace bulkhead::sandbox {

struct Options {
    std::string agent = "generic";   // agent-scoped rules of this kind apply
    std::vector<std::string> homes;  // what `~/` expands to (session_homes())
    int abi = -1;                    // Landlock ABI to plan for; -1 = the kernel's
    int deny_errno = EPERM;          // seccomp's answer (tests use another)
    // The daemon's ask broker holds the files of `ask` rules for this
    // session: Landlock leaves them to it. Without one they are denied.
    bool ask_broker = false;
    std::vector<std::string> other_workspaces;  // live sessions' (from the daemon)
};

class Sandbox {
public:
    // Plans everything in the launcher, where errors can still be shown.
    // Returns nullptr and fills *error (every problem, one per line).
    static std::unique_ptr<Sandbox> prepare(const rules::KernelPolicy& policy, const Options& o,
                                            std::string* error);

    // In the session's first process, after fork and before exec. Returns
    // "" or the error; on error the caller must not exec.
    std::string enter() const;

    const LandlockPlan& landlock() const { return plan_; }
    const SeccompFilter& seccomp() const { return *filter_; }

    // "Landlock ABI 7 (412 rules, scoped signals and abstract sockets), seccomp (45 denials; x86_64, x86)"
    std::string summary() const;

private:
    Sandbox() = default;
    LandlockPlan plan_;
    std::unique_ptr<SeccompFilter> filter_;
};

// What `~/` means for a session: every home on the host (/root, /home/*),
// $HOME and the caller's passwd home. A set HOME that is not an existing
// absolute directory is an error (nullopt, *error filled).
std::optional<std::vector<std::string>> session_homes(std::string* error);

// The compiled kernel policy `bulkhead run` applies: the config's rule files
// (the shipped agents.yaml without a config), loaded and checked exactly as
// the daemon loads them. config_path "" = defaults.
std::optional<rules::KernelPolicy> load_session_policy(const std::string& config_path,
                                                       const std::string& agent,
                                                       const std::vector<std::string>& homes,
                                                       std::string* error);

// The per-rule report of what this level does not enforce, one line each:
//   "  rule 'NAME': WHAT: WHY"
std::string gaps_text(const std::vector<Gap>& gaps);

// The frozen directories of a plan, escaped, comma-separated.
std::string frozen_text(const std::vector<std::string>& dirs);

}  // namespace bulkhead::sandbox
