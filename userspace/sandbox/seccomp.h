// SPDX-License-Identifier: Apache-2.0
// Level 2, syscalls: a seccomp filter (libseccomp) that denies what lets a
// session escape its sandbox or tamper with the host and with bulkhead.
//
// Everything else is allowed; file access is Landlock's job. The filter
// covers the x86_64 ABI and the 32-bit x86 ABI (int 0x80) with the same
// rules; any other ABI (x32) kills the process.
//
// ptrace: PTRACE_ATTACH and PTRACE_SEIZE are denied, so a session cannot
// attach to a running process (gdb -p, strace, which seizes). PTRACE_TRACEME
// stays allowed, so `gdb ./prog` debugs a program it starts. Landlock also
// denies ptrace and process_vm_readv/writev of any process outside the
// session, whatever the request.
#pragma once

#include <seccomp.h>

#include <memory>
#include <string>
#include <vector>

namespace bulkhead::sandbox {

// Which calls of a syscall are denied, by its first argument.
enum class Arg0 { kAny, kCloneNewUser, kPtraceAttach, kPtraceSeize };

struct DeniedSyscall {
    const char* name;
    int nr;    // libseccomp's number (a pseudo-number when the native ABI lacks it)
    Arg0 when;
    int err;   // 0 = the filter's deny errno (EPERM)
    const char* why;
};

// "flags & CLONE_NEWUSER", "request == PTRACE_ATTACH", ... ("" for kAny).
const char* to_string(Arg0 when);

// Every denial the filter makes, in the order they are added.
const std::vector<DeniedSyscall>& denied_syscalls();

class SeccompFilter {
public:
    // deny_errno is EPERM; tests pass another value to tell the filter's
    // answer apart from the kernel's own. Returns nullptr and fills *error.
    static std::unique_ptr<SeccompFilter> build(int deny_errno, std::string* error);
    ~SeccompFilter();
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;

    // Installs the filter on the calling thread. Returns 0 or an errno.
    int load() const;

    // The filter in libseccomp's pseudo-code, for review.
    std::string pseudo_code() const;

private:
    explicit SeccompFilter(scmp_filter_ctx ctx) : ctx_(ctx) {}
    scmp_filter_ctx ctx_;
};

}  // namespace bulkhead::sandbox
