// SPDX-License-Identifier: Apache-2.0
#include "sandbox/seccomp.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fd.h"

namespace bulkhead::sandbox {

namespace {

// What libseccomp writes to a descriptor (BPF program or pseudo-code).
bool export_to(scmp_filter_ctx ctx, int (*exporter)(const scmp_filter_ctx, int), std::string* out) {
    Fd fd(memfd_create("bulkhead-seccomp", MFD_CLOEXEC));
    if (!fd.valid() || exporter(ctx, fd.get()) != 0 || lseek(fd.get(), 0, SEEK_SET) != 0)
        return false;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0)
        out->append(buf, static_cast<size_t>(n));
    return n == 0;
}

}  // namespace

const char* to_string(Arg0 when) {
    switch (when) {
    case Arg0::kAny: return "";
    case Arg0::kCloneNewUser: return "flags & CLONE_NEWUSER";
    case Arg0::kPtraceAttach: return "request == PTRACE_ATTACH";
    case Arg0::kPtraceSeize: return "request == PTRACE_SEIZE";
    }
    return "";
}

const std::vector<DeniedSyscall>& denied_syscalls() {
    static const std::vector<DeniedSyscall> table = {
        {"bpf", SCMP_SYS(bpf), Arg0::kAny, 0, "load BPF programs, read or change bulkhead's maps"},
        {"ptrace", SCMP_SYS(ptrace), Arg0::kPtraceAttach, 0, "attach to a running process"},
        {"ptrace", SCMP_SYS(ptrace), Arg0::kPtraceSeize, 0, "attach to a running process"},
        {"unshare", SCMP_SYS(unshare), Arg0::kCloneNewUser, 0, "a user namespace gives the session root-like capabilities"},
        {"clone", SCMP_SYS(clone), Arg0::kCloneNewUser, 0, "a user namespace gives the session root-like capabilities"},
        // clone3 passes its flags in memory, out of a filter's reach; ENOSYS
        // makes glibc fall back to clone, whose flags are checked above.
        {"clone3", SCMP_SYS(clone3), Arg0::kAny, ENOSYS, "its flags cannot be checked (ENOSYS: callers fall back to clone)"},
        {"setns", SCMP_SYS(setns), Arg0::kAny, 0, "enter another namespace"},
        {"mount", SCMP_SYS(mount), Arg0::kAny, 0, "mounts alias protected files"},
        {"umount", SCMP_SYS(umount), Arg0::kAny, 0, "unmount (32-bit ABI)"},
        {"umount2", SCMP_SYS(umount2), Arg0::kAny, 0, "unmount"},
        {"pivot_root", SCMP_SYS(pivot_root), Arg0::kAny, 0, "change the root mount"},
        {"move_mount", SCMP_SYS(move_mount), Arg0::kAny, 0, "mounts alias protected files"},
        {"open_tree", SCMP_SYS(open_tree), Arg0::kAny, 0, "clone a mount"},
        {"fsopen", SCMP_SYS(fsopen), Arg0::kAny, 0, "new mount API"},
        {"fsconfig", SCMP_SYS(fsconfig), Arg0::kAny, 0, "new mount API"},
        {"fsmount", SCMP_SYS(fsmount), Arg0::kAny, 0, "new mount API"},
        {"fspick", SCMP_SYS(fspick), Arg0::kAny, 0, "new mount API"},
        {"mount_setattr", SCMP_SYS(mount_setattr), Arg0::kAny, 0, "change mount flags"},
        {"kexec_load", SCMP_SYS(kexec_load), Arg0::kAny, 0, "replace the running kernel"},
        {"kexec_file_load", SCMP_SYS(kexec_file_load), Arg0::kAny, 0, "replace the running kernel"},
        {"init_module", SCMP_SYS(init_module), Arg0::kAny, 0, "load kernel code"},
        {"finit_module", SCMP_SYS(finit_module), Arg0::kAny, 0, "load kernel code"},
        {"delete_module", SCMP_SYS(delete_module), Arg0::kAny, 0, "unload kernel code"},
        {"perf_event_open", SCMP_SYS(perf_event_open), Arg0::kAny, 0, "kernel and process observation, BPF attach point"},
        {"keyctl", SCMP_SYS(keyctl), Arg0::kAny, 0, "the kernel keyring holds other processes' secrets"},
        {"add_key", SCMP_SYS(add_key), Arg0::kAny, 0, "the kernel keyring holds other processes' secrets"},
        {"request_key", SCMP_SYS(request_key), Arg0::kAny, 0, "the kernel keyring holds other processes' secrets"},
        {"userfaultfd", SCMP_SYS(userfaultfd), Arg0::kAny, 0, "stalls the kernel mid-copy (race exploits)"},
        {"open_by_handle_at", SCMP_SYS(open_by_handle_at), Arg0::kAny, 0, "opens files by handle, bypassing paths"},
        {"name_to_handle_at", SCMP_SYS(name_to_handle_at), Arg0::kAny, 0, "makes handles for open_by_handle_at"},
        {"iopl", SCMP_SYS(iopl), Arg0::kAny, 0, "raw I/O port access"},
        {"ioperm", SCMP_SYS(ioperm), Arg0::kAny, 0, "raw I/O port access"},
        {"swapon", SCMP_SYS(swapon), Arg0::kAny, 0, "change swap"},
        {"swapoff", SCMP_SYS(swapoff), Arg0::kAny, 0, "change swap"},
        {"reboot", SCMP_SYS(reboot), Arg0::kAny, 0, "reboot or halt the host"},
        {"acct", SCMP_SYS(acct), Arg0::kAny, 0, "process accounting"},
        {"quotactl", SCMP_SYS(quotactl), Arg0::kAny, 0, "disk quotas"},
        {"fanotify_init", SCMP_SYS(fanotify_init), Arg0::kAny, 0, "permission events can hold other processes' opens"},
        {"syslog", SCMP_SYS(syslog), Arg0::kAny, 0, "read or clear the kernel log"},
        {"settimeofday", SCMP_SYS(settimeofday), Arg0::kAny, 0, "set the clock (forges event times)"},
        {"clock_settime", SCMP_SYS(clock_settime), Arg0::kAny, 0, "set the clock (forges event times)"},
        {"clock_adjtime", SCMP_SYS(clock_adjtime), Arg0::kAny, 0, "set the clock (forges event times)"},
        {"adjtimex", SCMP_SYS(adjtimex), Arg0::kAny, 0, "set the clock (forges event times)"},
        {"sethostname", SCMP_SYS(sethostname), Arg0::kAny, 0, "rename the host (forges event host names)"},
        {"setdomainname", SCMP_SYS(setdomainname), Arg0::kAny, 0, "rename the host's domain"},
    };
    return table;
}

std::unique_ptr<SeccompFilter> SeccompFilter::build(int deny_errno, std::string* error) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        *error = "seccomp: cannot create a filter (out of memory)";
        return nullptr;
    }
    std::unique_ptr<SeccompFilter> f(new SeccompFilter(ctx));
    auto fail = [&](const std::string& what, int rc) {
        *error = "seccomp: " + what + ": " + std::strerror(-rc);
        return nullptr;
    };
    // A syscall from an ABI the filter does not list (x32) kills the process.
    if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0)
        return fail("cannot set the bad-ABI action", rc);
    if (seccomp_arch_native() == SCMP_ARCH_X86_64)
        if (int rc = seccomp_arch_add(ctx, SCMP_ARCH_X86); rc != 0 && rc != -EEXIST)
            return fail("cannot add the 32-bit x86 ABI", rc);
    for (const auto& d : denied_syscalls()) {
        uint32_t action = SCMP_ACT_ERRNO(static_cast<uint16_t>(d.err ? d.err : deny_errno));
        int rc = 0;
        switch (d.when) {
        case Arg0::kAny:
            rc = seccomp_rule_add(ctx, action, d.nr, 0);
            break;
        case Arg0::kCloneNewUser:
            rc = seccomp_rule_add(ctx, action, d.nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
            break;
        case Arg0::kPtraceAttach:
            rc = seccomp_rule_add(ctx, action, d.nr, 1, SCMP_A0(SCMP_CMP_EQ, PTRACE_ATTACH));
            break;
        case Arg0::kPtraceSeize:
            rc = seccomp_rule_add(ctx, action, d.nr, 1, SCMP_A0(SCMP_CMP_EQ, PTRACE_SEIZE));
            break;
        }
        if (rc != 0)
            return fail(std::string("cannot deny ") + d.name, rc);
    }
    std::string bpf;
    if (!export_to(ctx, seccomp_export_bpf, &bpf) || bpf.empty() || bpf.size() % sizeof(sock_filter) != 0) {
        *error = "seccomp: cannot generate the filter program";
        return nullptr;
    }
    f->program_.resize(bpf.size() / sizeof(sock_filter));
    std::memcpy(f->program_.data(), bpf.data(), bpf.size());
    return f;
}

SeccompFilter::~SeccompFilter() { seccomp_release(ctx_); }

int SeccompFilter::load() const {
    sock_fprog prog{static_cast<unsigned short>(program_.size()), const_cast<sock_filter*>(program_.data())};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : errno;
}

std::string SeccompFilter::pseudo_code() const {
    std::string out;
    return export_to(ctx_, seccomp_export_pfc, &out) ? out : "";
}

}  // namespace bulkhead::sandbox
