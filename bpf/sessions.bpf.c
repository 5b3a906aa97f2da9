// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sessions: inheritance across fork and agent discovery at exec.
 *
 * A task's session lives in task storage. task_alloc copies it to every new
 * task, so setsid, double-fork, daemonising and leaving the cgroup all keep
 * the session. The exec of a configured agent executable, matched by the
 * inode of bprm->file (never by comm or argv), starts a new session.
 *
 * Programs that cannot read task storage (cgroup sock_addr before Linux
 * 6.2) find a process's session in session_by_tgid, which the fork and free
 * tracepoints keep. Those tracepoints also carry task storage to children
 * on hosts without BPF LSM, where task_alloc does not run.
 */
#include "lib/path.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("lsm/task_alloc")
int BPF_PROG(lsm_task_alloc, struct task_struct *task, unsigned long clone_flags, int ret)
{
	struct bh_session *parent, *child;

	if (ret)
		return ret;
	parent = session__current();
	if (!parent)
		return 0;
	child = bpf_task_storage_get(&session_by_task, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!child) {
		stats__inc(BH_STAT_STORAGE_FAILED);
		return 0;
	}
	*child = *parent;
	return 0;
}

static __always_inline void tgid__track(__u32 tgid, const struct bh_session *s)
{
	if (bpf_map_update_elem(&session_by_tgid, &tgid, s, BPF_ANY))
		stats__inc(BH_STAT_TGID_FAILED);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct bh_session *s = session__current(), *cs;

	if (!s)
		return 0;
	cs = bpf_task_storage_get(&session_by_task, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cs)
		stats__inc(BH_STAT_STORAGE_FAILED);
	else if (!cs->id)
		*cs = *s;
	if (child->pid == child->tgid)
		tgid__track(child->tgid, s);
	return 0;
}

/* The group leader's task is freed last; its tgid may be reused after. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(tp_sched_process_free, struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (task->pid == tgid)
		bpf_map_delete_elem(&session_by_tgid, &tgid);
	return 0;
}

/* bprm_check_security runs for every binfmt stage (the script, then its
 * interpreter), so an agent shipped as a script is seen by its own inode. */
SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_bprm_check_security, struct linux_binprm *bprm, int ret)
{
	struct bh_inode_key key;
	struct bh_agent_exe *agent;
	struct bh_session *s;
	struct bh_session_event *e;
	__u64 *seq;
	__u32 zero = 0;
	struct file *file;

	if (ret)
		return ret;
	if (session__current())
		return 0;
	file = BPF_CORE_READ(bprm, file);
	if (!file)
		return 0;
	inode__key(BPF_CORE_READ(file, f_inode), &key);
	agent = bpf_map_lookup_elem(&agent_exes, &key);
	if (!agent)
		return 0;
	seq = bpf_map_lookup_elem(&session_seq, &zero);
	if (!seq)
		return 0;
	s = bpf_task_storage_get(&session_by_task, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s) {
		stats__inc(BH_STAT_STORAGE_FAILED);
		return 0;
	}
	s->id = BH_SESSION_KERNEL_BIT | __sync_fetch_and_add(seq, 1);
	s->agent_kind = agent->agent_kind;
	s->flags = 0;
	s->cgroup_id = 0;
	tgid__track(bpf_get_current_pid_tgid() >> 32, s);
	stats__inc(BH_STAT_SESSIONS_DISCOVERED);

	e = scratch__get(0);
	if (!e)
		return 0;
	event__fill_header(&e->hdr, BH_EVT_SESSION_START, s);
	e->exe_dev = key.dev;
	e->exe_ino = key.ino;
	e->hdr.flags = path__build(BPF_CORE_READ(file, f_path.dentry),
				   BPF_CORE_READ(file, f_path.mnt), e->path, &e->path_off);
	event__submit(e, sizeof(*e));
	return 0;
}
