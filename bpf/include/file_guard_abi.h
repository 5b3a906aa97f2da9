/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI of the file guard: protected objects, name patterns and file events. */
#ifndef BULKHEAD_FILE_GUARD_ABI_H
#define BULKHEAD_FILE_GUARD_ABI_H

#include "abi.h"

/* Longest file or directory name a pattern or name key can hold, plus NUL. */
#define BH_NAME_KEY_LEN 60

/* Operations; must equal bulkhead::rules::FileOp in rules/kernel_policy.h. */
#define BH_OP_READ (1u << 0)
#define BH_OP_WRITE (1u << 1)
#define BH_OP_CREATE (1u << 2)
#define BH_OP_LINK (1u << 3)
#define BH_OP_RENAME (1u << 4)
#define BH_OP_UNLINK (1u << 5)
#define BH_OP_SETATTR (1u << 6)
#define BH_OP_MMAP (1u << 7)
#define BH_OP_CONNECT (1u << 8) /* connect or send to a Unix socket bound at the object */
#define BH_OP_EXEC (1u << 9)    /* exec of the object, or an executable mapping of it */

enum bh_verdict {
	BH_VERDICT_NONE = 0,
	BH_VERDICT_AUDIT = 1,
	BH_VERDICT_DENY = 2,
};

enum bh_scope {
	BH_SCOPE_HOST = 0,
	BH_SCOPE_SESSIONS = 1,
	BH_SCOPE_AGENT = 2,
	/* Sessions working elsewhere: stored (SUBTREE) under the workspace of a
	 * live session, and only the nearest workspace on the walk counts, so a
	 * session reading its own (or one it shares) is not matched. With an
	 * agent_kind, only that agent's sessions. */
	BH_SCOPE_OTHER_WORKSPACE = 3,
};

/* How a protection entry matches the object it is stored under. */
#define BH_MATCH_EXACT (1u << 0)    /* the object itself */
#define BH_MATCH_SUBTREE (1u << 1)  /* the object and everything below it */
#define BH_MATCH_ANCESTOR (1u << 2) /* holds protected objects: no rename */

/* One rule's claim on an object. rule_id indexes the daemon's rule table. */
struct bh_guard_rule {
	__u32 rule_id;
	__u32 ops;       /* BH_OP_* */
	__u32 agent_kind;
	__u8 verdict;    /* enum bh_verdict */
	__u8 scope;      /* enum bh_scope */
	__u8 match;      /* BH_MATCH_* */
	__u8 flags;      /* BH_RULE_* */
};

/* bh_guard_rule.flags */
#define BH_RULE_TAINT (1u << 0) /* a read taints the session (`taint:` in the rule) */

#define BH_RULES_PER_OBJECT 4

struct bh_inode_key {
	__u64 dev;  /* kernel dev_t: major << 20 | minor */
	__u64 ino;
};

/* inode_policy.dir_flags: what this directory anchors. */
#define BH_DIR_GLOBS (1u << 0) /* dir_patterns holds leaf globs for it */
#define BH_DIR_NAMES (1u << 1) /* dir_names holds exact leaf names in it */

struct bh_inode_policy {
	struct bh_guard_rule rules[BH_RULES_PER_OBJECT];
	__u32 dir_flags;
	__u32 pad;
};

/* A leaf-name glob: `prefix*suffix`, or the exact name when star == 0. */
#define BH_GLOB_PREFIX 56
#define BH_GLOB_SUFFIX 24

struct bh_leaf_glob {
	char prefix[BH_GLOB_PREFIX];
	char suffix[BH_GLOB_SUFFIX];
	__u8 prefix_len;
	__u8 suffix_len;
	__u8 star;
	__u8 pad[5];
};

#define BH_PATTERNS_PER_KEY 4

/* Patterns anchored at a directory inode, e.g. `~/.ssh/id_*`: stored under
 * the (dev, ino) of `~/.ssh`. */
struct bh_dir_patterns {
	struct bh_guard_rule rules[BH_PATTERNS_PER_KEY];
	struct bh_leaf_glob leaf[BH_PATTERNS_PER_KEY];
};

/* An exact name in a directory, e.g. `~/.bashrc`: protects whatever inode
 * carries that name now or later (created, replaced, renamed into place).
 * The value is a struct bh_inode_policy whose dir_flags are unused. */
struct bh_dir_name_key {
	__u64 dev;
	__u64 ino;
	char name[BH_NAME_KEY_LEN];
	__u32 pad;
};

/* Patterns anchored anywhere (`**` /...): keyed by a name on the dentry chain. */

enum bh_name_kind {
	BH_NAME_LEAF = 1,   /* `**` + `/.mcp.json`: key is the leaf name */
	BH_NAME_PARENT = 2, /* a leaf under `.git/hooks`: key is the parent's name */
};

struct bh_name_key {
	__u32 kind;
	char name[BH_NAME_KEY_LEN];
};

struct bh_name_patterns {
	struct bh_guard_rule rules[BH_PATTERNS_PER_KEY];
	struct bh_leaf_glob leaf[BH_PATTERNS_PER_KEY];   /* BH_NAME_PARENT only */
	char grandparent[BH_PATTERNS_PER_KEY][BH_NAME_KEY_LEN]; /* "" = any */
};

struct bh_file_event {
	struct bh_event_header hdr;
	__u32 op;        /* the BH_OP_* attempted */
	__u32 rule_id;
	__u8 verdict;    /* enum bh_verdict */
	__u8 match;      /* BH_MATCH_* that fired, 0 for name patterns */
	__u16 path_off;  /* path is path[path_off .. BH_PATH_BUF - 1) */
	__s32 err;       /* negative errno returned to the caller, 0 if allowed */
	__u64 dev;       /* the object, 0 if it does not exist yet */
	__u64 ino;
	__u64 exe_dev;   /* the task's executable */
	__u64 exe_ino;
	char path[BH_PATH_BUF];
};

#endif /* BULKHEAD_FILE_GUARD_ABI_H */
