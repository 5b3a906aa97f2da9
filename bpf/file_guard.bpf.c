// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The file guard: BPF LSM hooks that decide on protected files before the
 * operation completes.
 *
 * Matching semantics. An operation on a dentry is checked against:
 *  1. inode_policy of the dentry's own inode (EXACT, SUBTREE or ANCESTOR
 *     entries) and of every ancestor up to the filesystem root (SUBTREE
 *     entries). Walking dentries, not path strings, makes symlinks, hard
 *     links, `..`, /proc/self/root, bind mounts and mount namespaces all
 *     arrive at the same inodes. Entries scoped to other workspaces count
 *     only at the nearest live session workspace above the object.
 *  2. dir_patterns of the parent inode: leaf globs anchored at a directory
 *     (`~/.ssh/id_*`), which also cover files created after the policy load.
 *  3. name_patterns: `**` patterns keyed by the leaf name or the parent's
 *     name: `**` + `/.mcp.json`, and any leaf under `.git/hooks`.
 * The strongest verdict wins (deny over audit). A walk deeper than
 * BH_MAX_DEPTH, or from a disconnected dentry on a device with subtree
 * protections, cannot prove the object is unprotected: a session is denied.
 */
#include "lib/path.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define O_TRUNC 01000
/* f_flags bit of an open for exec (do_open_execat: the program, a script's
 * interpreter, the ELF interpreter); fanotify's FAN_OPEN_EXEC keys on it. */
#define __FMODE_EXEC 0x20
#define PROT_EXEC 0x4

struct guard_walk {
	struct dentry *dentry;
	__u32 op;
	__u32 agent_kind;
	__u8 in_session;
	__u8 found_root;
	__u8 parent_flags;
	__u8 disconnected;
	__u8 workspace_seen; /* the walk passed the nearest session workspace */
	struct bh_inode_key parent;
	struct bh_guard_rule hit;
	struct bh_inode_key hit_key;
};

static __always_inline int rule__applies(const struct bh_guard_rule *r, __u32 op,
					 __u8 in_session, __u32 agent_kind)
{
	if (!r->verdict || !(r->ops & op))
		return 0;
	switch (r->scope) {
	case BH_SCOPE_HOST:
		return 1;
	case BH_SCOPE_SESSIONS:
		return in_session;
	case BH_SCOPE_AGENT:
		return in_session && r->agent_kind == agent_kind;
	}
	return 0;
}

/* Keeps the strongest applicable rule in *hit. */
static __always_inline void rule__consider(struct bh_guard_rule *hit, const struct bh_guard_rule *r,
					   __u32 op, __u8 in_session, __u32 agent_kind)
{
	if (!rule__applies(r, op, in_session, agent_kind))
		return;
	/* Among equals, a tainting rule wins: the read must leave its taint. */
	if (r->verdict > hit->verdict ||
	    (r->verdict == hit->verdict && (r->flags & BH_RULE_TAINT) && !(hit->flags & BH_RULE_TAINT)))
		*hit = *r;
}

/* The entry is a live session's workspace. */
static __always_inline int workspace__held(const struct bh_inode_policy *p)
{
	for (int j = 0; j < BH_RULES_PER_OBJECT; j++)
		if (p->rules[j].scope == BH_SCOPE_OTHER_WORKSPACE)
			return 1;
	return 0;
}

/* The current session works in the workspace at key (the daemon writes
 * each session's into session_state). Looked up here, at most once per
 * walk, rather than carried in struct guard_walk: the program's stack and
 * bpf_loop's callback share 512 bytes. */
static __always_inline int workspace__is_own(const struct bh_inode_key *key)
{
	struct bh_session *s = session__current();
	struct bh_session_state *st;

	if (!s)
		return 0;
	st = bpf_map_lookup_elem(&session_state, &s->id);
	return st && st->workspace_dev == key->dev && st->workspace_ino == key->ino;
}

static long walk__step(__u32 level, struct guard_walk *w)
{
	struct dentry *d = w->dentry;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct inode *inode = BPF_CORE_READ(d, d_inode);

	if (inode) {
		struct bh_inode_key key;
		struct bh_inode_policy *p;
		__u8 want = level == 0 ? (BH_MATCH_EXACT | BH_MATCH_SUBTREE | BH_MATCH_ANCESTOR)
				       : BH_MATCH_SUBTREE;

		inode__key(inode, &key);
		if (level == 1)
			w->parent = key;
		p = bpf_map_lookup_elem(&inode_policy, &key);
		if (p) {
			__u8 before = w->hit.verdict;
			/* Only the nearest workspace counts, and not the session's own. */
			__u8 skip_workspace = w->workspace_seen;

			if (!skip_workspace && w->in_session && workspace__held(p)) {
				w->workspace_seen = 1;
				skip_workspace = workspace__is_own(&key);
			}
			for (int j = 0; j < BH_RULES_PER_OBJECT; j++) {
				struct bh_guard_rule r = p->rules[j];

				r.match &= want;
				if (r.scope == BH_SCOPE_OTHER_WORKSPACE) {
					if (skip_workspace)
						continue;
					r.scope = r.agent_kind ? BH_SCOPE_AGENT : BH_SCOPE_SESSIONS;
				}
				if (r.match)
					rule__consider(&w->hit, &r, w->op, w->in_session, w->agent_kind);
			}
			if (w->hit.verdict != before)
				w->hit_key = key;
			if (level == 1)
				w->parent_flags = p->dir_flags;
		}
	}
	if (parent == d || !parent) {
		w->found_root = 1;
		/* A dentry from open_by_handle_at (or NFS export) may hang off
		 * an anonymous root instead of the filesystem's own. */
		if (d != BPF_CORE_READ(d, d_sb, s_root))
			w->disconnected = 1;
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/* Reads a dentry's name into a zeroed name key; returns its length, or
 * -1 when it is too long to equal any pattern name. */
static __always_inline int name__key(struct dentry *d, __u32 kind, struct bh_name_key *key)
{
	__u32 len = BPF_CORE_READ(d, d_name.len);

	__builtin_memset(key, 0, sizeof(*key));
	if (len >= BH_NAME_KEY_LEN)
		return -1;
	key->kind = kind;
	bpf_probe_read_kernel_str(key->name, sizeof(key->name), BPF_CORE_READ(d, d_name.name));
	return len;
}

static __always_inline int name__equal(const char *a, const char *b)
{
	for (int i = 0; i < BH_NAME_KEY_LEN; i++) {
		if (a[i] != b[i])
			return 0;
		if (!a[i])
			return 1;
	}
	return 1;
}

/* `prefix*suffix` (or exact, star == 0) against a leaf name of len bytes. */
static __always_inline int glob__match(const struct bh_leaf_glob *g, const char *name, __u32 len)
{
	if (!g->star) {
		if (len != g->prefix_len)
			return 0;
	} else if (len < (__u32)g->prefix_len + g->suffix_len) {
		return 0;
	}
	for (int i = 0; i < BH_GLOB_PREFIX; i++) {
		if (i >= g->prefix_len)
			break;
		if (name[i & BH_NAME_MAX] != g->prefix[i])
			return 0;
	}
	if (!g->star)
		return 1;
	for (int i = 0; i < BH_GLOB_SUFFIX; i++) {
		if (i >= g->suffix_len)
			break;
		if (name[(len - g->suffix_len + i) & BH_NAME_MAX] != g->suffix[i])
			return 0;
	}
	return 1;
}

/* Exact names in the parent directory, then (with `globs`, a constant at
 * each call site) leaf globs and `**` patterns. */
static __always_inline void patterns__check(struct dentry *dentry, struct guard_walk *w,
					    struct bh_config *cfg, int globs)
{
	union bh_scratch *nb = scratch__get(1);
	struct bh_name_key key;
	__u32 len;

	if (!nb)
		return;
	len = BPF_CORE_READ(dentry, d_name.len);
	if (len > BH_NAME_MAX)
		return;
	bpf_probe_read_kernel(nb->name, BH_NAME_MAX, BPF_CORE_READ(dentry, d_name.name));

	if (w->parent_flags & BH_DIR_NAMES) {
		struct bh_dir_name_key nk = {
			.dev = w->parent.dev,
			.ino = w->parent.ino,
		};
		struct bh_inode_policy *p;

		if (len < BH_NAME_KEY_LEN) {
			/* len < BH_NAME_KEY_LEN here; the mask proves it to the
			 * verifier (the barrier stops clang from dropping it), and 63
			 * bytes still end inside the key. */
			__u32 n = len;

			asm volatile("" : "+r"(n));
			bpf_probe_read_kernel(nk.name, n & 63,
					      BPF_CORE_READ(dentry, d_name.name));
			p = bpf_map_lookup_elem(&dir_names, &nk);
			if (p) {
				for (int j = 0; j < BH_RULES_PER_OBJECT; j++) {
					__u8 before = w->hit.verdict;

					rule__consider(&w->hit, &p->rules[j], w->op, w->in_session,
						       w->agent_kind);
					if (w->hit.verdict != before)
						w->hit_key = w->parent;
				}
			}
		}
	}
	if (!globs)
		return;
	if (w->parent_flags & BH_DIR_GLOBS) {
		struct bh_dir_patterns *dp = bpf_map_lookup_elem(&dir_patterns, &w->parent);

		if (dp) {
			for (int j = 0; j < BH_PATTERNS_PER_KEY; j++) {
				if (dp->rules[j].verdict && glob__match(&dp->leaf[j], nb->name, len)) {
					__u8 before = w->hit.verdict;

					rule__consider(&w->hit, &dp->rules[j], w->op, w->in_session,
						       w->agent_kind);
					if (w->hit.verdict != before)
						w->hit_key = w->parent;
				}
			}
		}
	}
	if (!cfg->name_patterns)
		return;

	if (name__key(dentry, BH_NAME_LEAF, &key) >= 0) {
		struct bh_name_patterns *np = bpf_map_lookup_elem(&name_patterns, &key);

		if (np)
			for (int j = 0; j < BH_PATTERNS_PER_KEY; j++)
				rule__consider(&w->hit, &np->rules[j], w->op, w->in_session,
					       w->agent_kind);
	}

	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	if (name__key(parent, BH_NAME_PARENT, &key) >= 0) {
		struct bh_name_patterns *np = bpf_map_lookup_elem(&name_patterns, &key);

		if (np) {
			struct bh_name_key gp;
			int gp_len = name__key(BPF_CORE_READ(parent, d_parent), 0, &gp);

			for (int j = 0; j < BH_PATTERNS_PER_KEY; j++) {
				if (!np->rules[j].verdict || !glob__match(&np->leaf[j], nb->name, len))
					continue;
				if (np->grandparent[j][0]) {
					if (gp_len < 0)
						continue;
					if (!name__equal(gp.name, np->grandparent[j]))
						continue;
				}
				rule__consider(&w->hit, &np->rules[j], w->op, w->in_session,
					       w->agent_kind);
			}
		}
	}
}

/* Decides one operation on one dentry. vfsmnt (may be NULL) only improves
 * the reported path. Returns 0 or -EPERM. `globs` (a constant at each call
 * site) adds the name globs; a Unix socket is matched by its inode, its
 * ancestors and its exact name, which spares those programs the
 * verification of the glob loops (over a minute each under emulation). */
static __always_inline int guard__check_as(struct dentry *dentry, struct vfsmount *vfsmnt, __u32 op,
					   int globs)
{
	struct bh_config *cfg = config__get();
	struct bh_session *s;
	struct guard_walk w = {};
	struct bh_file_event *e;
	struct task_struct *task;
	int err;

	if (!cfg || !dentry)
		return 0;
	s = session__current();
	if (!s && !cfg->host_rules)
		return 0;

	w.dentry = dentry;
	w.op = op;
	w.in_session = s != 0;
	w.agent_kind = s ? s->agent_kind : 0;
	bpf_loop(BH_MAX_DEPTH, walk__step, &w, 0);
	patterns__check(dentry, &w, cfg, globs);

	__u32 flags = 0;

	if (!w.found_root) {
		/* Cannot tell whether a protected ancestor lies above: fail closed
		 * inside sessions, where an agent could build such a tree. */
		stats__inc(BH_STAT_DEPTH_EXCEEDED);
		flags |= BH_EVT_F_DEPTH_EXCEEDED;
		if (w.in_session && w.hit.verdict < BH_VERDICT_DENY) {
			__builtin_memset(&w.hit, 0, sizeof(w.hit));
			w.hit.verdict = BH_VERDICT_DENY;
		}
	}
	if (w.disconnected && w.in_session && w.hit.verdict < BH_VERDICT_DENY) {
		__u64 dev = BPF_CORE_READ(dentry, d_sb, s_dev);

		/* Its ancestors are unknown; on a device where ancestry decides
		 * protection, a session gets no benefit of the doubt. */
		if (bpf_map_lookup_elem(&ancestor_devs, &dev)) {
			stats__inc(BH_STAT_DISCONNECTED);
			flags |= BH_EVT_F_DISCONNECTED;
			__builtin_memset(&w.hit, 0, sizeof(w.hit));
			w.hit.verdict = BH_VERDICT_DENY;
		}
	}
	if (!w.hit.verdict)
		return 0;

	err = w.hit.verdict == BH_VERDICT_DENY ? -EPERM : 0;
	stats__inc(err ? BH_STAT_DENIED : BH_STAT_AUDITED);
	if (!err && s && (w.hit.flags & BH_RULE_TAINT) && (op & (BH_OP_READ | BH_OP_MMAP))) {
		struct inode *inode = BPF_CORE_READ(dentry, d_inode);
		struct bh_inode_key k = {};

		if (inode)
			inode__key(inode, &k);
		if (taint__session(s, w.hit.rule_id, &k)) {
			w.hit.verdict = BH_VERDICT_DENY;  /* untracked taint: fail closed */
			err = -EPERM;
		}
	}

	e = scratch__get(0);
	if (!e)
		return err;
	event__fill_header(&e->hdr, BH_EVT_FILE, s);
	e->op = op & w.hit.ops ? op & w.hit.ops : op;
	e->rule_id = w.hit.rule_id;
	e->verdict = w.hit.verdict;
	e->match = w.hit.match;
	e->err = err;
	{
		struct inode *inode = BPF_CORE_READ(dentry, d_inode);
		struct bh_inode_key k = {};

		if (inode)
			inode__key(inode, &k);
		/* The superblock's dev even when the object does not exist yet:
		 * userspace finds the mount point of fs-relative paths by it. */
		e->dev = BPF_CORE_READ(dentry, d_sb, s_dev);
		e->ino = k.ino;
	}
	task = bpf_get_current_task_btf();
	{
		struct inode *exe = BPF_CORE_READ(task, mm, exe_file, f_inode);
		struct bh_inode_key k = {};

		if (exe)
			inode__key(exe, &k);
		e->exe_dev = k.dev;
		e->exe_ino = k.ino;
	}
	e->hdr.flags = flags | path__build(dentry, vfsmnt, e->path, &e->path_off);
	event__submit(e, sizeof(*e));
	return err;
}

static __always_inline int guard__check(struct dentry *dentry, struct vfsmount *vfsmnt, __u32 op)
{
	return guard__check_as(dentry, vfsmnt, op, /* globs = */ 1);
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int ret)
{
	__u32 op = 0;
	unsigned int mode;

	if (ret)
		return ret;
	mode = BPF_CORE_READ(file, f_mode);
	if (mode & FMODE_READ)
		op |= BH_OP_READ;
	if ((mode & FMODE_WRITE) || (BPF_CORE_READ(file, f_flags) & O_TRUNC))
		op |= BH_OP_WRITE;
	if (BPF_CORE_READ(file, f_flags) & __FMODE_EXEC)
		op |= BH_OP_EXEC;
	if (!op)
		return 0;
	return guard__check(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), op);
}

SEC("lsm/mmap_file")
int BPF_PROG(lsm_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	if (ret)
		return ret;
	if (!file)
		return 0;
	/* An executable mapping runs the file without exec: `ld.so PROGRAM`
	 * maps PROGRAM's code this way. */
	return guard__check(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			    BH_OP_MMAP | ((prot & PROT_EXEC) ? BH_OP_EXEC : 0));
}

/* A Unix socket bound at a path is a file object: the listening socket's
 * inode decides, so every way of naming it (a symlink, a hard link, a bind
 * mount, /proc/PID/root) hits the same entry. The kernel resolved the path
 * already; `other` is the socket it found. Abstract sockets have no inode
 * and are not file rules. unix_sock begins with its struct sock. */
SEC("lsm/unix_stream_connect")
int BPF_PROG(lsm_unix_stream_connect, struct sock *sock, struct sock *other, struct sock *newsk,
	     int ret)
{
	struct unix_sock *u = (struct unix_sock *)other;

	if (ret)
		return ret;
	return guard__check_as(BPF_CORE_READ(u, path.dentry), BPF_CORE_READ(u, path.mnt),
			       BH_OP_CONNECT, /* globs = */ 0);
}

/* Datagram sockets: connect(2) and each sendto/sendmsg to a bound peer. */
SEC("lsm/unix_may_send")
int BPF_PROG(lsm_unix_may_send, struct socket *sock, struct socket *other, int ret)
{
	struct unix_sock *u;

	if (ret)
		return ret;
	u = (struct unix_sock *)BPF_CORE_READ(other, sk);
	if (!u)
		return 0;
	return guard__check_as(BPF_CORE_READ(u, path.dentry), BPF_CORE_READ(u, path.mnt),
			       BH_OP_CONNECT, /* globs = */ 0);
}

SEC("lsm/inode_create")
int BPF_PROG(lsm_inode_create, struct inode *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return guard__check(dentry, 0, BH_OP_CREATE);
}

SEC("lsm/inode_mkdir")
int BPF_PROG(lsm_inode_mkdir, struct inode *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return guard__check(dentry, 0, BH_OP_CREATE);
}

SEC("lsm/inode_mknod")
int BPF_PROG(lsm_inode_mknod, struct inode *dir, struct dentry *dentry, umode_t mode, dev_t dev,
	     int ret)
{
	if (ret)
		return ret;
	return guard__check(dentry, 0, BH_OP_CREATE);
}

SEC("lsm/inode_symlink")
int BPF_PROG(lsm_inode_symlink, struct inode *dir, struct dentry *dentry, const char *old_name,
	     int ret)
{
	if (ret)
		return ret;
	return guard__check(dentry, 0, BH_OP_CREATE);
}

SEC("lsm/inode_link")
int BPF_PROG(lsm_inode_link, struct dentry *old_dentry, struct inode *dir,
	     struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	/* A new name for a protected inode is an alias: deny creating it. */
	ret = guard__check(old_dentry, 0, BH_OP_LINK);
	if (ret)
		return ret;
	return guard__check(new_dentry, 0, BH_OP_LINK | BH_OP_CREATE);
}

/* Called once per direction for RENAME_EXCHANGE, so both ends are checked. */
SEC("lsm/inode_rename")
int BPF_PROG(lsm_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	ret = guard__check(old_dentry, 0, BH_OP_RENAME);
	if (ret)
		return ret;
	return guard__check(new_dentry, 0, BH_OP_RENAME | BH_OP_CREATE);
}

SEC("lsm/inode_unlink")
int BPF_PROG(lsm_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return guard__check(dentry, 0, BH_OP_UNLINK);
}

SEC("lsm/inode_rmdir")
int BPF_PROG(lsm_inode_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return guard__check(dentry, 0, BH_OP_UNLINK);
}

SEC("lsm/path_truncate")
int BPF_PROG(lsm_path_truncate, const struct path *path, int ret)
{
	if (ret)
		return ret;
	return guard__check(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), BH_OP_WRITE);
}

SEC("lsm/path_chmod")
int BPF_PROG(lsm_path_chmod, const struct path *path, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return guard__check(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), BH_OP_SETATTR);
}

SEC("lsm/path_chown")
int BPF_PROG(lsm_path_chown, const struct path *path, __u32 uid, __u32 gid, int ret)
{
	if (ret)
		return ret;
	return guard__check(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), BH_OP_SETATTR);
}
