/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Builds a human-readable path for events. Paths never decide a verdict: the
 * guards match inodes and dentries, this only tells people what was touched.
 *
 * The path is written backwards from the end of a per-CPU buffer, one
 * component per bpf_loop step, so its depth is bounded only by BH_MAX_DEPTH
 * and a path longer than BH_PATH_MAX keeps its leaf end and is flagged.
 */
#ifndef BULKHEAD_PATH_H
#define BULKHEAD_PATH_H

#include "common.h"

struct path_buf {
	char buf[BH_PATH_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

struct path_walk {
	struct dentry *dentry;
	struct mount *mnt;          /* NULL: stop at the filesystem's root */
	struct dentry *root_dentry; /* the task's root (chroot-aware) */
	struct vfsmount *root_mnt;
	__u32 off;
	__u32 flags;
};

static __always_inline struct vfsmount *path__vfsmount(struct mount *m)
{
	return (struct vfsmount *)((char *)m + bpf_core_field_offset(struct mount, mnt));
}

static __always_inline struct mount *path__real_mount(struct vfsmount *v)
{
	return (struct mount *)((char *)v - bpf_core_field_offset(struct mount, mnt));
}

static __always_inline char path__first_char(struct dentry *d)
{
	char c = 0;

	bpf_probe_read_kernel(&c, 1, BPF_CORE_READ(d, d_name.name));
	return c;
}

/* Prepends "/" and d's name; returns 1 when the buffer is full. */
static __always_inline long path__prepend(struct path_walk *w, struct dentry *d)
{
	struct path_buf *pb;
	const unsigned char *name;
	__u32 zero = 0, len;

	pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb)
		return 1;
	len = BPF_CORE_READ(d, d_name.len);
	if (len > BH_NAME_MAX)
		len = BH_NAME_MAX;
	if (len + 1 > w->off) {
		w->flags |= BH_EVT_F_PATH_TRUNCATED;
		return 1;
	}
	name = BPF_CORE_READ(d, d_name.name);
	w->off -= len;
	bpf_probe_read_kernel(&pb->buf[w->off & (BH_PATH_MAX - 1)], len & BH_NAME_MAX, name);
	w->off -= 1;
	pb->buf[w->off & (BH_PATH_MAX - 1)] = '/';
	return 0;
}

static long path__step(__u32 i, struct path_walk *w)
{
	struct dentry *d = w->dentry;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);

	if (d == w->root_dentry && (!w->mnt || path__vfsmount(w->mnt) == w->root_mnt))
		return 1;
	if (d == parent) {
		/* Locals, not w->: CO-RE must not relocate our own struct. */
		struct mount *m = w->mnt, *up;

		if (!m) {
			w->flags |= BH_EVT_F_FS_RELATIVE;
			return 1;
		}
		up = BPF_CORE_READ(m, mnt_parent);
		if (up == m) {
			/* A file on an internal mount (memfd, pipe, socket) is
			 * its own root; like d_path, name it: "/memfd:x". */
			if (w->off == BH_PATH_MAX && BPF_CORE_READ(d, d_name.len) &&
			    path__first_char(d) != '/')
				path__prepend(w, d);
			return 1;
		}
		w->dentry = BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	if (path__prepend(w, d))
		return 1;
	w->dentry = parent;
	return 0;
}

/* Writes the path of (dentry, vfsmnt) into out[*off .. BH_PATH_MAX).
 * vfsmnt may be NULL for inode hooks: the path is then relative to the
 * filesystem and flagged. Returns BH_EVT_F_* flags. */
static __always_inline __u32 path__build(struct dentry *dentry, struct vfsmount *vfsmnt,
					 char *out, __u16 *off)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct path_walk w = {
		.dentry = dentry,
		.mnt = vfsmnt ? path__real_mount(vfsmnt) : 0,
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.off = BH_PATH_MAX,
	};
	struct path_buf *pb;
	__u32 zero = 0;

	bpf_loop(BH_MAX_DEPTH, path__step, &w, 0);
	pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb)
		return w.flags;
	bpf_probe_read_kernel(out, BH_PATH_MAX, pb->buf);
	*off = w.off;
	if (w.flags & BH_EVT_F_PATH_TRUNCATED)
		stats__inc(BH_STAT_PATH_TRUNCATED);
	return w.flags;
}

#endif /* BULKHEAD_PATH_H */
