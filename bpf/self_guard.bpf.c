// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The self guard: a process in a session cannot reach bulkhead itself. It
 * cannot use bpf(2) at all (so it cannot detach, unload or write programs
 * and maps), cannot touch pinned objects in bpffs, cannot signal or ptrace
 * protected processes or anything outside its own session, and cannot write
 * to cgroupfs (so it cannot move itself out of its session cgroup).
 */
#include "lib/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BPF_FS_MAGIC 0xcafe4a11
#define CGROUP_SUPER_MAGIC 0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270
#define FMODE_WRITE 0x2

static __always_inline int self__deny(struct bh_session *s, __u32 op, __u32 target, __u32 arg)
{
	struct bh_self_event e = {};

	event__fill_header(&e.hdr, BH_EVT_SELF_GUARD, s);
	e.op = op;
	e.err = -EPERM;
	e.target_pid = target;
	e.arg = arg;
	stats__inc(BH_STAT_SELF_GUARD);
	stats__inc(BH_STAT_DENIED);
	event__submit(&e, sizeof(e));
	return -EPERM;
}

SEC("lsm/bpf")
int BPF_PROG(lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	struct bh_session *s;

	if (ret)
		return ret;
	s = session__current();
	if (!s)
		return 0;
	return self__deny(s, BH_SELF_BPF, 0, cmd);
}

static __always_inline __u64 sb_magic(struct dentry *d)
{
	return BPF_CORE_READ(d, d_sb, s_magic);
}

SEC("lsm/file_open")
int BPF_PROG(lsm_self_file_open, struct file *file, int ret)
{
	struct bh_session *s;
	__u64 magic;

	if (ret)
		return ret;
	s = session__current();
	if (!s)
		return 0;
	magic = sb_magic(BPF_CORE_READ(file, f_path.dentry));
	if (magic == BPF_FS_MAGIC)
		return self__deny(s, BH_SELF_BPFFS, 0, 0);
	if ((magic == CGROUP2_SUPER_MAGIC || magic == CGROUP_SUPER_MAGIC) &&
	    (BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return self__deny(s, BH_SELF_CGROUP, 0, 0);
	return 0;
}

static __always_inline int self__bpffs_inode_op(struct dentry *d)
{
	struct bh_session *s = session__current();

	if (s && sb_magic(d) == BPF_FS_MAGIC)
		return self__deny(s, BH_SELF_BPFFS, 0, 0);
	return 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(lsm_self_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return self__bpffs_inode_op(dentry);
}

SEC("lsm/inode_rename")
int BPF_PROG(lsm_self_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	return self__bpffs_inode_op(old_dentry);
}

/* Same session, or not in a session at all: allowed. */
static __always_inline int self__other_session(struct bh_session *s, struct task_struct *target)
{
	struct bh_session *t = bpf_task_storage_get(&session_by_task, target, 0, 0);

	return !t || t->id != s->id;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(lsm_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	struct bh_session *s;

	if (ret)
		return ret;
	s = session__current();
	if (!s || !self__other_session(s, child))
		return 0;
	return self__deny(s, BH_SELF_PTRACE, BPF_CORE_READ(child, tgid), mode);
}

SEC("lsm/task_kill")
int BPF_PROG(lsm_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	struct bh_session *s;
	__u32 tgid;

	if (ret)
		return ret;
	if (!sig)
		return 0;
	s = session__current();
	if (!s)
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	if (!bpf_map_lookup_elem(&protected_tgids, &tgid))
		return 0;
	return self__deny(s, BH_SELF_SIGNAL, tgid, sig);
}
