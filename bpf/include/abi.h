/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI shared by every bulkhead BPF object and userspace: the event header,
 * sessions, global configuration and counters. Plain C, fixed-width types,
 * explicit padding; sizes are pinned by static_assert in userspace/bpf_abi.h.
 */
#ifndef BULKHEAD_ABI_H
#define BULKHEAD_ABI_H

/* Bump on any change to a struct in bpf/include/. The loader refuses pinned
 * state or objects of another version. */
#define BH_ABI_VERSION 5

#define BH_COMM_LEN 16
#define BH_PATH_MAX 4096
/* Extra room so the verifier can prove a component copy of up to
 * BH_NAME_MAX bytes at any masked offset stays inside the buffer. */
#define BH_PATH_BUF (BH_PATH_MAX + 256)
#define BH_NAME_MAX 255
/* Ancestor walks give up (and fail closed) beyond this depth. */
#define BH_MAX_DEPTH 1024

enum bh_event_kind {
	BH_EVT_FILE = 1,          /* a file guard verdict */
	BH_EVT_SESSION_START = 2, /* agent discovery started a session */
	BH_EVT_SELF_GUARD = 3,    /* a session touched bulkhead itself */
	BH_EVT_EXEC = 4,          /* observer: a session task executed a program */
	BH_EVT_NET = 5,           /* observer: a session task called connect(2) */
	BH_EVT_SYSCALL = 6,       /* observer: ptrace, module loads, memfd_create */
	BH_EVT_EGRESS = 7,        /* net guard: a session's connect or send was denied or audited */
	BH_EVT_TAINT = 8,         /* a read tainted a session */
};

/* Event flags. */
#define BH_EVT_F_PATH_TRUNCATED (1u << 0)  /* path longer than BH_PATH_MAX */
#define BH_EVT_F_FS_RELATIVE (1u << 1)     /* path relative to its filesystem */
#define BH_EVT_F_DEPTH_EXCEEDED (1u << 2)  /* ancestor walk hit BH_MAX_DEPTH */
#define BH_EVT_F_DISCONNECTED (1u << 3)    /* dentry not connected to its root */
#define BH_EVT_F_ARGS_TRUNCATED (1u << 4)  /* argv longer than BH_ARGS_MAX */

struct bh_event_header {
	__u32 kind;
	__u32 flags;
	__u64 ts_ns;       /* bpf_ktime_get_boot_ns() */
	__u64 session_id;  /* 0: not in a session */
	__u64 cgroup_id;
	__u32 pid;         /* thread id */
	__u32 tgid;
	__u32 ppid;        /* tgid of the real parent */
	__u32 uid;
	__u32 gid;
	__u32 agent_kind;  /* 0: none */
	char comm[BH_COMM_LEN]; /* for humans only; never matched on */
};

/* One agent session as the kernel sees it. */
struct bh_session {
	__u64 id;
	__u32 agent_kind;
	__u32 flags;
	__u64 cgroup_id;   /* the session's cgroup leaf, 0 when discovered */
};

/* Session ids made by the kernel (agent discovery) have this bit set; ids
 * made by the daemon for `bulkhead run` never do. */
#define BH_SESSION_KERNEL_BIT (1ull << 62)

/* Global configuration, element 0 of the `guard_config` array; written
 * only by the daemon. */
struct bh_config {
	__u32 abi_version;
	__u32 daemon_tgid;
	__u32 host_rules;       /* rules with scope host: tasks outside sessions pay the walk */
	__u32 name_patterns;    /* count of `**` name patterns loaded */
	__u64 policy_gen;       /* bumped by every policy load */
};

/* Per-CPU counters, indexes into the `stats` array. Userspace sums them. */
enum bh_stat {
	BH_STAT_EVENTS = 0,       /* events written to the ring buffer */
	BH_STAT_DROPS,            /* events lost: ring buffer full */
	BH_STAT_DENIED,
	BH_STAT_AUDITED,
	BH_STAT_DEPTH_EXCEEDED,   /* walks that hit BH_MAX_DEPTH (denied in sessions) */
	BH_STAT_DISCONNECTED,     /* walks from a disconnected dentry (denied in sessions) */
	BH_STAT_PATH_TRUNCATED,
	BH_STAT_STORAGE_FAILED,   /* task storage could not be created */
	BH_STAT_SESSIONS_DISCOVERED,
	BH_STAT_SELF_GUARD,
	BH_STAT_OBS_EVENTS,       /* observer events written (also in BH_STAT_EVENTS) */
	BH_STAT_OBS_DROPS,        /* observer events lost or shed (also in BH_STAT_DROPS) */
	BH_STAT_EGRESS_DENIED,    /* connects and sends the net guard refused */
	BH_STAT_TGID_FAILED,      /* a session process missing from session_by_tgid (map full) */
	BH_STAT_MAX,
};

#endif /* BULKHEAD_ABI_H */
