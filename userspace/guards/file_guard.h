// SPDX-License-Identifier: Apache-2.0
// The userspace half of bpf/file_guard.bpf.c: turns the compiled kernel
// policy into the contents of inode_policy, dir_patterns and name_patterns.
//
// Planning is pure (paths in, map contents out) so it is unit-tested without
// a kernel; applying writes the plan to the maps, new entries first and stale
// ones last, so during an update the kernel enforces the union of the old and
// new policy and never less than either.
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bpf_abi.h"
#include "guards/loader.h"
#include "rules/kernel_policy.h"

namespace bulkhead::guards {

struct InodeKeyLess {
    bool operator()(const bh_inode_key& a, const bh_inode_key& b) const {
        return a.dev != b.dev ? a.dev < b.dev : a.ino < b.ino;
    }
};
struct NameKeyLess {
    bool operator()(const bh_name_key& a, const bh_name_key& b) const {
        return std::memcmp(&a, &b, sizeof(a)) < 0;
    }
};

// What a rule id stands for, for events and reports.
struct RuleInfo {
    std::string name;
    std::string priority;
    std::string file;
    int line = 0;
    int risk = 0;
    std::string verdict;  // "deny" or "audit"
};

struct DirNameKeyLess {
    bool operator()(const bh_dir_name_key& a, const bh_dir_name_key& b) const {
        return std::memcmp(&a, &b, sizeof(a)) < 0;
    }
};

// An existing file an `ask` rule holds: the daemon's ask broker puts a
// fanotify permission mark on it (userspace/ask/broker.h).
struct AskTarget {
    std::string path;
    std::string rule;
    std::string label;  // the rule's target as written ("~/.aws/credentials")
};

struct FilePlan {
    std::map<bh_inode_key, bh_inode_policy, InodeKeyLess> inodes;
    std::map<bh_inode_key, bh_dir_patterns, InodeKeyLess> dirs;
    std::map<bh_dir_name_key, bh_inode_policy, DirNameKeyLess> dir_names;
    std::map<bh_name_key, bh_name_patterns, NameKeyLess> names;
    std::map<__u64, __u32> ancestor_devs;  // devices where ancestry decides protection
    std::vector<RuleInfo> rules;       // rule_id - 1 indexes this
    // `ask` rules: held by fanotify, not in the BPF maps. A mark holds every
    // open and exec of the file, whatever the rule's operations.
    std::vector<AskTarget> asks;
    std::vector<std::string> pending;  // targets whose path does not exist yet
    std::vector<std::string> errors;   // policy the kernel cannot hold; load fails
    std::vector<std::string> warnings;
    uint32_t host_rules = 0;
    uint32_t name_pattern_count = 0;
    // Which resolved (target → dev:ino) produced this plan; a change means
    // the plan must be rebuilt (a file was created, replaced or renamed).
    std::string fingerprint;
};

struct PlanInputs {
    std::vector<std::string> homes;                     // expansions of `~`
    std::map<std::string, uint32_t> agent_kinds;        // agent name → kind id
    // Net guard: host names the daemon resolved, and the CIDRs a tainted
    // session may still reach besides loopback.
    std::map<std::string, std::vector<std::string>> resolved;
    std::vector<std::string> taint_allow;
    // Live sessions' workspaces (session::Table::workspaces), for rules on
    // fd.in_other_workspace.
    std::vector<std::string> workspaces;
};

// (dev, ino) of a path as the kernel sees it; false when it does not exist.
bool inode_key_of(const std::string& path, bh_inode_key* key);

// Ops a protection must also cover so it cannot be sidestepped: reading a
// secret is also mapping, linking or moving it; writing a persistence file
// is also creating, replacing, truncating, deleting or chmod-ing it.
uint32_t close_ops(uint32_t ops);

// The homes on this host: /root and every directory in /home.
std::vector<std::string> host_homes();

// Splits an absolute path into components, resolving "." and ".." lexically
// ("/a/./b/../c" -> a, c).
std::vector<std::string> path_components(const std::string& path);

// At most this many directories one target's '*' components may match;
// more is a load error, never a silently shorter list.
constexpr size_t kMaxGlobDirs = 4096;

// Expands a '*' in the directory components of an absolute path against the
// directories that exist now: "/run/user/*/bus" -> "/run/user/0/bus",
// "/run/user/1000/bus". The last component is kept as written (the kernel
// matches its '*' itself) unless last_too (a subtree's root). A path without
// such a '*' comes back unchanged; no match gives an empty list. Each match's
// inode is in the planner's fingerprint, so a directory that appears later
// (a user logs in) is protected at the next rescan. False and *error when
// more than kMaxGlobDirs match.
bool expand_dir_globs(const std::string& path, bool last_too, std::vector<std::string>* out, std::string* error);

FilePlan plan_file_policy(const rules::KernelPolicy& policy, const PlanInputs& in);

// Writes the plan into the maps. Returns an error message, or "" on success.
std::string apply_file_plan(const FilePlan& plan, const MapFds& maps);

}  // namespace bulkhead::guards
