// SPDX-License-Identifier: Apache-2.0
// Pass: kernel compilability (internal).
//
// Decides whether an expanded condition reduces to what the BPF file guard
// checks, and if so returns it as a disjunction of alternatives, each
// (operations, file targets, scope). The condition is brought to disjunctive
// normal form with an explicit stack; each conjunction must contain
//   - operations: evt.type = / in (...), evt.is_open_read=true,
//     evt.is_open_write=true (several are intersected: `evt.type in (open,
//     openat, openat2) and evt.is_open_read=true` is kOpRead);
//   - exactly one object: fd.name = / in / startswith "/dir/" / pmatch /
//     glob, fd.directory = / in, fd.filename = / in;
//   - optionally a scope: agent.session exists, agent.name = X;
//   - and checks the kernel satisfies by construction, kept as no-ops:
//     fd.typechar='f', fd.num>=0 (Falco's open_read/open_write macros) and
//     evt.dir='<' (deprecated, matches everything since Falco 0.42).
// A Unix socket bound at a path is a file object too: `evt.type = connect
// and fd.typechar = u and fd.name in (...)` is kOpConnect on the socket's
// inode (see names_unix_socket()).
// Anything else (negation, proc.*, user.*, other operators) makes the
// condition userspace-only; the error quotes the sub-expression.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rules/ast.h"
#include "rules/kernel_policy.h"
#include "rules/result.h"

namespace bulkhead::rules {

// Bound on the disjunctive normal form; `(a or b) and (c or d) and ...`
// doubles at each step.
inline constexpr size_t kMaxKernelAlternatives = 4096;

struct KernelAlternative {
    uint32_t ops = 0;
    KernelScope scope = KernelScope::kHost;
    std::string agent;
    std::vector<FileTarget> targets;
};

// The alternatives of `expr` (macros and lists expanded), or an Error whose
// message says which sub-expression the kernel cannot check and why.
Result<std::vector<KernelAlternative>> kernel_alternatives(const Expr& expr);

// Classifies a glob the way the kernel matches it: no wildcard -> kPath,
// `/dir/**` -> kSubtree of /dir, otherwise a kPattern that the file guard can
// match (see kernel_policy.h), or an Error saying what it cannot match.
Result<FileTarget> classify_glob(const std::string& glob);

// FileOp bits for a syscall name in `evt.type`; 0 if it is not a file
// operation the kernel guards.
uint32_t ops_for_syscall(const std::string& syscall);

// Whether the condition checks fd.typechar = u (or in a list of only 'u'):
// its connects are to Unix sockets, which the file guard judges by inode,
// not the net guard by address.
bool names_unix_socket(const Expr& expr);

}  // namespace bulkhead::rules
