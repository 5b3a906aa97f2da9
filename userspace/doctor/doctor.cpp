// SPDX-License-Identifier: Apache-2.0
#include "doctor/doctor.h"

#include <bpf/libbpf.h>
#include <linux/landlock.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ask/broker.h"
#include "sandbox/sandbox.h"
#include "session/sessions.h"

namespace bulkhead::doctor {

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

int silent_libbpf(enum libbpf_print_level, const char*, va_list) { return 0; }

}  // namespace

Report probe() {
    Report r;
    utsname u{};
    uname(&u);
    r.probes.push_back({"kernel", true, std::string(u.release)});

    bool btf = std::filesystem::exists("/sys/kernel/btf/vmlinux");
    r.probes.push_back({"btf", btf, btf ? "/sys/kernel/btf/vmlinux present"
                                        : "missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y"});

    if (!std::filesystem::exists("/sys/kernel/security/lsm"))
        ::mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr);
    std::string lsm = read_file("/sys/kernel/security/lsm");
    bool bpf_in_lsm = ("," + lsm + ",").find(",bpf,") != std::string::npos;
    r.probes.push_back({"lsm-list", bpf_in_lsm,
                        lsm.empty() ? "cannot read /sys/kernel/security/lsm (securityfs not mounted?)"
                        : bpf_in_lsm ? "active LSMs: " + lsm
                                     : "bpf not in /sys/kernel/security/lsm (" + lsm +
                                           "): add lsm=" + lsm + ",bpf to the kernel command line"});

    libbpf_set_print(silent_libbpf);
    int lsm_prog = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_LSM, nullptr);
    bool lsm_ok = lsm_prog == 1;
    r.probes.push_back({"bpf-lsm-programs", lsm_ok,
                        lsm_ok ? "the kernel accepts BPF LSM programs"
                               : lsm_prog == 0 ? "the kernel rejects BPF LSM programs (CONFIG_BPF_LSM off?)"
                                               : std::string("probe failed: ") + std::strerror(-lsm_prog)});

    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    r.probes.push_back({"landlock", abi > 0,
                        abi > 0 ? "ABI " + std::to_string(abi)
                                : std::string("unavailable: ") + std::strerror(errno) +
                                      " (add landlock to lsm=)"});

    r.landlock_abi = abi > 0 ? static_cast<int>(abi) : 0;
    bool seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
    r.seccomp = seccomp;
    r.probes.push_back({"seccomp", seccomp, seccomp ? "filters available" : "unavailable"});

    std::string cg = session::cgroup2_root();
    r.probes.push_back({"cgroup-v2", !cg.empty(),
                        cg.empty() ? "no cgroup2 mount: sessions from `bulkhead run` need one"
                                   : "mounted at " + cg});

    int sock_addr = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, nullptr);
    r.egress = sock_addr == 1 && !cg.empty();
    r.probes.push_back({"egress", r.egress,
                        r.egress ? "cgroup connect/sendmsg programs: the daemon enforces each session's egress "
                                   "rules and taint in the kernel"
                        : cg.empty() ? "needs a cgroup v2 mount for the session cgroups"
                                     : "the kernel rejects cgroup sock_addr programs: egress rules cannot be enforced"});

    auto fan = ask::AskBroker::probe();
    r.ask = fan.ok();
    r.probes.push_back({"ask", r.ask,
                        r.ask ? "fanotify permission events: the daemon can hold opens and execs for a human"
                              : fan.error().message + ": rules with action 'ask' cannot load"});

    // microVMs (promotion): QEMU, and whether KVM is even there; the daemon
    // boots a guest with it once to learn whether it really runs one.
    bool qemu = false;
    for (const char* dir : {"/usr/bin", "/usr/local/bin"})
        qemu = qemu || ::access((std::string(dir) + "/qemu-system-x86_64").c_str(), X_OK) == 0;
    bool kvm = ::access("/dev/kvm", R_OK | W_OK) == 0;
    r.probes.push_back({"microvm", qemu,
                        !qemu ? "qemu-system-x86_64 missing (apt-get install qemu-system-x86): promotion freezes "
                                "sessions instead"
                        : kvm ? "QEMU and /dev/kvm present: the daemon probes whether KVM runs the guest, else "
                                "software emulation (bulkhead status says which)"
                              : "QEMU present, no /dev/kvm: microVMs run under software emulation (same isolation, "
                                "seconds to boot; the warm pool hides it)"});

    bool root = geteuid() == 0;
    r.probes.push_back({"privileges", root,
                        root ? "running as root"
                             : "not root: the daemon needs root; `bulkhead run` at landlock+seccomp does not"});

    r.bpf_lsm = bpf_in_lsm && lsm_ok && btf;
    if (!r.bpf_lsm)
        r.bpf_lsm_why = !bpf_in_lsm ? "bpf is not in the active LSM list (" + (lsm.empty() ? "unreadable" : lsm) + ")"
                        : !lsm_ok   ? "the kernel refuses BPF LSM programs"
                                    : "no BTF at /sys/kernel/btf/vmlinux";
    if (r.bpf_lsm) {
        r.host_level = "bpf-lsm";
        r.build_level = "bpf-lsm";
        r.explanation = "host-wide, every session: file operations on protected objects are "
                        "denied in the kernel with EPERM before they complete";
    } else if (abi > 0 && seccomp) {
        r.host_level = "landlock+seccomp";
        r.build_level = "landlock+seccomp";
        std::string how = bpf_in_lsm
            ? "'bpf' is in the LSM list but the kernel refuses BPF LSM programs (no BPF "
              "trampolines on this kernel build: it needs CONFIG_BPF_LSM, CONFIG_BPF_JIT and "
              "CONFIG_DEBUG_INFO_BTF); run a distribution kernel"
            : "add lsm=" + (lsm.empty() ? std::string("...") : lsm) +
                  ",bpf to the kernel command line and reboot";
        std::string daemon_adds = "`bulkhead daemon` (root) adds, for every session:";
        daemon_adds += " events with the session id (tracepoints)";
        daemon_adds += r.egress ? ", egress rules and taint enforced in the kernel (cgroup sock_addr)"
                                : ", but not egress enforcement (no cgroup sock_addr programs)";
        daemon_adds += r.ask ? ", and `ask` rules held for a human (fanotify)" : ", but not `ask` rules (no fanotify)";
        r.explanation = "this kernel cannot run BPF LSM programs (" + r.bpf_lsm_why +
                        "). `bulkhead run -- CMD` contains the session it starts with Landlock (file "
                        "rules), seccomp (syscalls that escape or tamper) and no_new_privs, as root or "
                        "not, with or without the daemon. " + daemon_adds +
                        ". The rest of the host is observed, not contained: an agent started without "
                        "`bulkhead run` is only seen. To get bpf-lsm (every process, host-wide): " +
                        how + "; or see it work in the kernel lab: e2e/lab.sh --mode demo";
    } else {
        r.host_level = "observe";
        r.build_level = "none";
        r.explanation = "neither BPF LSM nor Landlock is available: nothing can be enforced";
    }
    return r;
}

Report examine() {
    Report r = probe();
    if (r.host_level != "landlock+seccomp")
        return r;
    // What `bulkhead run` would apply with the shipped rules, described
    // without enforcing anything.
    std::string err;
    auto homes = sandbox::session_homes(&err);
    auto policy = homes ? sandbox::load_session_policy("", "generic", *homes, &err) : std::nullopt;
    if (!policy) {
        r.level2 = "`bulkhead run` cannot start a session here: " + err + "\n";
        return r;
    }
    auto plan = sandbox::plan_landlock(*policy, {r.landlock_abi, *homes, "generic"},
                                       /* create_ruleset = */ false);
    for (const auto& e : plan.errors)
        r.level2 += "`bulkhead run` cannot start a session here: " + e + "\n";
    r.level2 += "With the shipped rules, `bulkhead run` grants " + std::to_string(plan.grants.size()) +
                " Landlock rules (ABI " + std::to_string(plan.abi) + ") and denies " +
                std::to_string(sandbox::denied_syscalls().size()) + " syscall forms.\n";
    if (!plan.frozen.empty())
        r.level2 += "Nothing new can be created directly in these directories (they hold protected objects): " +
                    sandbox::frozen_text(plan.frozen) + "\n";
    r.level2 += "Not enforced at this level (" + std::to_string(plan.gaps.size()) + "):\n" +
                sandbox::gaps_text(plan.gaps);
    return r;
}

std::string to_text(const Report& r) {
    std::string out;
    for (const auto& p : r.probes)
        out += std::string(p.ok ? "  ok    " : "  MISS  ") + p.name + ": " + p.detail + "\n";
    out += "\nhost supports:   " + r.host_level + "\n";
    out += "bulkhead enforces: " + r.build_level +
           (r.build_level == "landlock+seccomp" ? " (sessions started with `bulkhead run`)" : "") + "\n";
    out += "\n" + r.explanation + "\n";
    if (!r.level2.empty())
        out += "\n" + r.level2;
    return out;
}

}  // namespace bulkhead::doctor
