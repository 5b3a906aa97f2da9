// SPDX-License-Identifier: Apache-2.0
// `bulkhead doctor`: what this host can enforce, probe by probe, and why.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::doctor {

struct Probe {
    std::string name;
    bool ok = false;
    std::string detail;  // what was found, or why not and how to fix it
};

struct Report {
    std::vector<Probe> probes;
    std::string host_level;    // strongest level the host supports
    std::string build_level;   // strongest level this build enforces here
    std::string explanation;
    // The probes' answers, for `bulkhead run --level`.
    bool bpf_lsm = false;      // BPF LSM programs can run here
    std::string bpf_lsm_why;   // why not, when they cannot
    int landlock_abi = 0;      // 0 = no Landlock
    bool seccomp = false;
    bool egress = false;       // cgroup sock_addr programs: per-session egress and taint
    bool ask = false;          // fanotify permission events: `ask` rules
    // At landlock+seccomp: what `bulkhead run` applies with the shipped
    // rules, and the per-rule list of what it does not enforce.
    std::string level2;
};

// The probes and the level they give; cheap, no rules loaded.
Report probe();
// probe() plus, at landlock+seccomp, the plan for the shipped rules.
Report examine();
std::string to_text(const Report& r);

}  // namespace bulkhead::doctor
