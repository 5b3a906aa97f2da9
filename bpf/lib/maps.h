/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every map bulkhead's programs share, declared once. Each is pinned by name
 * under /sys/fs/bpf/bulkhead, so all objects see the same map and a
 * restarted daemon adopts them (libbpf reuses a compatible pinned map).
 * Sizes are defaults; the loader sets them with bpf_map__set_max_entries.
 */
#ifndef BULKHEAD_MAPS_H
#define BULKHEAD_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "../include/sessions_abi.h"
#include "../include/self_guard_abi.h"
#include "../include/net_guard_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bh_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} guard_config SEC(".maps");

/* Counter for kernel-made session ids; only BPF writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} session_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BH_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* Sessions created by `bulkhead run`: the session's cgroup leaf. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct bh_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} session_by_cg SEC(".maps");

/* The session of each process, for programs that cannot read task storage
 * (cgroup sock_addr programs before Linux 6.2). Kept by the fork and free
 * tracepoints of sessions.bpf.c. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct bh_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} session_by_tgid SEC(".maps");

/* What the kernel learned about a session (taint), by session id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct bh_session_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} session_state SEC(".maps");

/* The session of each task; inherited at task_alloc, so it survives
 * setsid, double-fork and leaving the cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct bh_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} session_by_task SEC(".maps");

/* Executables whose exec starts a session (agent discovery). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct bh_inode_key);
	__type(value, struct bh_agent_exe);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} agent_exes SEC(".maps");

/* Protected objects and their ancestors, by (dev, ino). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bh_inode_key);
	__type(value, struct bh_inode_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} inode_policy SEC(".maps");

/* Devices holding objects protected through their ancestors (subtrees and
 * directory anchors): a disconnected dentry on them cannot be cleared. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ancestor_devs SEC(".maps");

/* Leaf-name patterns anchored at a directory inode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct bh_inode_key);
	__type(value, struct bh_dir_patterns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dir_patterns SEC(".maps");

/* Exact leaf names anchored at a directory inode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct bh_dir_name_key);
	__type(value, struct bh_inode_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dir_names SEC(".maps");

/* `**` patterns, keyed by a name on the dentry chain. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct bh_name_key);
	__type(value, struct bh_name_patterns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} name_patterns SEC(".maps");

/* Processes a session may not signal or trace (the daemon, the ask broker). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} protected_tgids SEC(".maps");

/* Egress rules (element 0), their address and port sets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bh_net_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} net_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bh_net_addr_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} net_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u16);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} net_ports SEC(".maps");

/* Scratch space for events too big for the 512-byte BPF stack. */
union bh_scratch {
	struct bh_file_event file;
	struct bh_session_event session;
	char name[BH_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* 0: event, 1: name buffer */
	__type(key, __u32);
	__type(value, union bh_scratch);
} scratch SEC(".maps");

#endif /* BULKHEAD_MAPS_H */
