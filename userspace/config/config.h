// SPDX-License-Identifier: Apache-2.0
// The daemon's configuration file (/etc/bulkhead/bulkhead.yaml).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace bulkhead::config {

struct AgentKind {
    std::string name;
    std::vector<std::string> executables;  // `~/` expands to every home
};

// When a session's risk reaches `at`, the daemon does `action` once:
// notify (an event), freeze (cgroup freezer), kill (cgroup.kill) or promote
// (to a microVM; without a microVM backend the session is frozen instead and
// the event says so).
struct RiskThreshold {
    int64_t at = 0;
    std::string action;
};

// vmguard: where promoted sessions run (README "microVMs").
struct VmConfig {
    bool enabled = true;
    std::string assets = "/var/lib/bulkhead/vm";  // kernel/ and initramfs (bulkhead vm prepare)
    std::string run_dir = "/run/bulkhead/vm";
    std::string accel = "auto";                   // auto (probe /dev/kvm), kvm, tcg
    int vcpus = 1;
    int memory_mb = 512;
    int disk_mb = 256;
    int pids = 512;
    int pool = 1;                                 // booted, paused VMs kept ready
    int exec_timeout_seconds = 600;               // wall time of one command in the VM
    // Wall time of a session's VM from its promotion (0 = none). When it runs
    // out, the VM's commands are killed, no new ones start and the session is
    // frozen for a human; its changes stay for review.
    int wall_time_seconds = 8 * 3600;
    // A promoted session whose agent has no bulkhead hooks: stay frozen for
    // a human (freeze), be killed on the host (kill), or be killed on the
    // host and have `bulkhead run` start its command again in the VM
    // (relaunch; a discovered session, which has no launcher, stays frozen).
    // Its workspace stays attached to the VM in every case.
    std::string without_hooks = "freeze";
    // Where the VM may connect, through bulkhead's proxy on the host (the VM
    // itself has no network device): "HOST:PORT", "HOST:LO-HI", "CIDR:PORT",
    // "[V6CIDR]:PORT" (vmguard/egress.h). Empty: no network at all.
    std::vector<std::string> egress;
};

struct Config {
    std::string path;                      // the file it was loaded from; "" = defaults
    std::vector<std::string> rules;        // rule files, loaded in order
    std::string socket = "/run/bulkhead/control.sock";
    // Agents' hooks (`bulkhead hook AGENT`) run as the agent's user: this
    // socket is world-writable and serves only tool-call reports, each for
    // the caller's own session.
    std::string hook_socket = "/run/bulkhead/hook.sock";
    std::string events_log;                // JSON lines; "" = none
    std::string pin_root = "/sys/fs/bpf/bulkhead";
    int rescan_seconds = 2;                // re-resolve protected paths
    std::vector<AgentKind> agents;
    // SIEM sinks (exporters/factory.h documents each type's keys); checked
    // when the daemon builds them, before it loads anything.
    YAML::Node exporters;
    std::string spool_root = "/var/lib/bulkhead/spool";
    std::string metrics;                   // Prometheus endpoint: "HOST:PORT" or "unix:PATH"; "" = none
    // Where a tainted session may still connect besides loopback (CIDRs).
    std::vector<std::string> taint_allow;
    // DNS servers for the host names of egress rules ("192.0.2.1", "[::1]:5353";
    // at most 3); empty: /etc/resolv.conf.
    std::vector<std::string> nameservers;
    // How long an `ask` holds an operation for a human before denying it.
    int ask_timeout_seconds = 60;
    // The node's CRI runtime socket, for pod names and namespaces; "" tries
    // the containerd, CRI-O and k3s sockets; "none" turns the lookup off.
    std::string cri_socket;
    std::vector<RiskThreshold> risk_thresholds;  // ascending by `at`
    VmConfig vm;
};

// The shipped agent kinds and their executables (agent discovery).
std::vector<AgentKind> default_agents();

// Where the shipped rule set lives: $BULKHEAD_RULES_DIR, the installed
// share directory, or the source tree of a development build.
std::string default_rules_file();

// Parses a config file. Returns nullopt and fills *error (file:line: what)
// on any problem; unknown keys are errors, not silently ignored.
std::optional<Config> load(const std::string& path, std::string* error);
Config defaults();

}  // namespace bulkhead::config
