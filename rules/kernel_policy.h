// SPDX-License-Identifier: Apache-2.0
// The kernel policy: what the rules compiler emits for the BPF guards.
//
// This is the contract between rules/ (which produces it from `block`, `ask`
// and kernel-compilable `audit` rules) and userspace/ (which resolves the
// targets to inodes and fills the BPF maps). It stays free of BPF types so the
// rules library does not depend on libbpf.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bulkhead::rules {

// Operations a file protection can cover. Values must equal BH_OP_* in
// bpf/include/file_guard_abi.h (checked by static_assert in the loader).
enum FileOp : uint32_t {
    kOpRead = 1u << 0,     // open for read
    kOpWrite = 1u << 1,    // open for write, O_TRUNC, truncate(2)
    kOpCreate = 1u << 2,   // create file, dir, node, symlink at a name
    kOpLink = 1u << 3,     // hard link to or at the object
    kOpRename = 1u << 4,   // rename from or onto the object
    kOpUnlink = 1u << 5,   // unlink or rmdir
    kOpSetattr = 1u << 6,  // chmod, chown
    kOpMmap = 1u << 7,     // mmap of an open file
    kOpConnect = 1u << 8,  // connect or send to a Unix socket bound at the object
    kOpExec = 1u << 9,     // execve of the object, or mmap(PROT_EXEC) of it (ld.so PROGRAM)
};

enum class KernelVerdict : uint8_t { kAudit = 1, kDeny = 2, kAsk = 3 };

// Who a protection applies to.
enum class KernelScope : uint8_t {
    kHost = 0,      // every process on the host
    kSessions = 1,  // every process in any agent session
    kAgent = 2,     // processes in sessions of one agent kind (`agent` below)
};

// How `target` names the protected object.
enum class TargetKind : uint8_t {
    kPath = 0,     // one object; matched by (dev, inode), every alias hits it
    kSubtree = 1,  // a directory and everything below it, by inode of an ancestor
    kPattern = 2,  // a name pattern for objects that may not exist yet
    // The workspaces of the live sessions, each a subtree that applies to
    // sessions working elsewhere; `target` is empty (the daemon knows them).
    kOtherWorkspaces = 3,
    // One object by "DEV:INO" as events report fd.dev and fd.ino (the
    // kernel's dev_t, major << 20 | minor): nothing to resolve, and no
    // name, so it cannot be re-created or held by path.
    kInode = 4,
};

// One protected object of one rule.
//
// Targets are absolute paths or patterns. `~/` at the start means every home
// directory (/root and /home/*), expanded by the resolver, not the compiler.
// Patterns use `*` (within one component, at most one per component) and a
// leading `**/` (any directory); examples: `~/.ssh/id_*`, `**/.git/hooks/*`,
// `**/.mcp.json`.
struct FileTarget {
    TargetKind kind = TargetKind::kPath;
    std::string target;
};

struct FileProtection {
    std::string rule;      // rule name, as in the YAML
    std::string file;      // the YAML file and line the rule came from
    int line = 0;
    KernelVerdict verdict = KernelVerdict::kDeny;
    uint32_t ops = 0;      // FileOp bits the rule's condition names
    KernelScope scope = KernelScope::kSessions;
    std::string agent;     // agent kind when scope == kAgent
    std::string priority;  // Falco priority name, for events
    int risk = 0;
    std::string taint;     // class of secret a read taints the session with ("" = none)
    std::vector<FileTarget> targets;
};

// Network operations the net guard sees. Values must equal BH_NET_OP_* in
// bpf/include/net_guard_abi.h.
enum NetOp : uint32_t {
    kNetConnect = 1u << 0,  // connect(2)
    kNetSend = 1u << 1,     // sendto/sendmsg/sendmmsg with a destination
};
enum NetProto : uint32_t { kProtoTcp = 1u << 0, kProtoUdp = 1u << 1 };      // 0 = any
enum NetFamily : uint32_t { kFamilyV4 = 1u << 0, kFamilyV6 = 1u << 1 };    // 0 = any

// How a rule constrains the destination address or port.
enum class NetTerm : uint8_t { kAny = 0, kIn = 1, kNotIn = 2 };

// One egress rule: a conjunction of the terms below, for agent sessions.
struct NetProtection {
    std::string rule;
    std::string file;
    int line = 0;
    KernelVerdict verdict = KernelVerdict::kDeny;
    KernelScope scope = KernelScope::kSessions;  // never kHost: sessions only
    std::string agent;
    std::string priority;
    int risk = 0;
    uint32_t ops = 0;       // NetOp bits
    uint32_t protos = 0;    // NetProto bits, 0 = any
    uint32_t families = 0;  // NetFamily bits, 0 = any
    bool tainted_only = false;  // `agent.tainted = true`
    NetTerm addr_term = NetTerm::kAny;
    std::vector<std::string> cidrs;  // addresses and networks, as written
    std::vector<std::string> hosts;  // host names the daemon resolves
    NetTerm port_term = NetTerm::kAny;
    std::vector<uint16_t> ports;
};

struct KernelPolicy {
    std::vector<FileProtection> files;
    std::vector<NetProtection> net = {};
};

}  // namespace bulkhead::rules
