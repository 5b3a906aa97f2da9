// SPDX-License-Identifier: Apache-2.0
// `bulkhead run`: start a command inside a new agent session, at the
// strongest enforcement level the host has, or at the one asked for.
//
//   bpf-lsm           the daemon's BPF guards; the daemon must be running
//   landlock+seccomp  the sandbox of sandbox/sandbox.h, set up by `run`
//                     itself; needs neither root nor the daemon
//   observe           nothing enforced (only when asked for)
//
// A level that was asked for and is missing is an error, never a fallback.
#pragma once

#include <string>
#include <vector>

#include "doctor/doctor.h"

namespace bulkhead::session {

struct RunOptions {
    std::string socket;
    std::string agent = "generic";
    std::string workspace;         // default: the current directory
    std::string level = "auto";    // auto | bpf-lsm | landlock | observe
    std::string config;            // rules for landlock+seccomp; "" = the shipped set
    std::vector<std::string> command;
};

struct LevelChoice {
    std::string level;  // "bpf-lsm", "landlock+seccomp" or "observe"
    std::string why;
};

// Throws FatalError (exit 2) naming what is missing when the requested
// level cannot be had on this host.
LevelChoice choose_level(const std::string& requested, const doctor::Report& host);

// Returns the command's exit status (128 + signal when killed).
int run_in_session(const RunOptions& opts);

}  // namespace bulkhead::session
