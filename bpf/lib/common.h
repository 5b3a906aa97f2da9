/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers every program uses: counters, sessions, event headers, inode keys. */
#ifndef BULKHEAD_COMMON_H
#define BULKHEAD_COMMON_H

#include "maps.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1

static __always_inline void stats__inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct bh_config *config__get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&guard_config, &zero);
}

/* Kernel dev_t as stored in i_sb->s_dev; userspace converts st_dev to it. */
static __always_inline void inode__key(struct inode *inode, struct bh_inode_key *key)
{
	key->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key->ino = BPF_CORE_READ(inode, i_ino);
}

/* The session of the current task, or NULL. Task storage first; a task not
 * seen yet is looked up by its cgroup (sessions from `bulkhead run`) and
 * remembered, so leaving the cgroup later does not leave the session. */
static __always_inline struct bh_session *session__current(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct bh_session *s, *by_cg;
	__u64 cg;

	s = bpf_task_storage_get(&session_by_task, task, 0, 0);
	if (s && s->id)
		return s;
	cg = bpf_get_current_cgroup_id();
	by_cg = bpf_map_lookup_elem(&session_by_cg, &cg);
	if (!by_cg)
		return 0;
	s = bpf_task_storage_get(&session_by_task, task, 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s) {
		stats__inc(BH_STAT_STORAGE_FAILED);
		return by_cg;
	}
	*s = *by_cg;
	return s;
}

static __always_inline void event__fill_header(struct bh_event_header *h, __u32 kind,
					       const struct bh_session *s)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ugid = bpf_get_current_uid_gid();

	h->kind = kind;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->session_id = s ? s->id : 0;
	h->agent_kind = s ? s->agent_kind : 0;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->pid = (__u32)id;
	h->tgid = id >> 32;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)ugid;
	h->gid = ugid >> 32;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Sends `size` bytes of `data` to the ring buffer; every loss is counted. */
static __always_inline void event__submit(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&events, data, size, 0))
		stats__inc(BH_STAT_DROPS);
	else
		stats__inc(BH_STAT_EVENTS);
}

/* Marks the session tainted (once: the first read is the one reported),
 * before the read returns, so no later send can race it. Returns nonzero
 * when the taint could not be recorded: the caller must refuse the read. */
static __always_inline int taint__session(const struct bh_session *s, __u32 rule_id,
					   const struct bh_inode_key *obj)
{
	struct bh_session_state st = {}, *cur;
	struct bh_taint_event e = {};

	cur = bpf_map_lookup_elem(&session_state, &s->id);
	if (cur && (cur->flags & BH_SESSION_TAINTED))
		return 0;
	if (cur)
		st = *cur;  /* keeps the workspace the daemon wrote */
	st.flags |= BH_SESSION_TAINTED;
	st.taint_rule = rule_id;
	st.taint_dev = obj->dev;
	st.taint_ino = obj->ino;
	st.tainted_ns = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&session_state, &s->id, &st, BPF_ANY)) {
		stats__inc(BH_STAT_STORAGE_FAILED);
		return 1;
	}
	event__fill_header(&e.hdr, BH_EVT_TAINT, s);
	e.rule_id = rule_id;
	e.dev = obj->dev;
	e.ino = obj->ino;
	event__submit(&e, sizeof(e));
	return 0;
}

static __always_inline void *scratch__get(__u32 idx)
{
	return bpf_map_lookup_elem(&scratch, &idx);
}

#endif /* BULKHEAD_COMMON_H */
