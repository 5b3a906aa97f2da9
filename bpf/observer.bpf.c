// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The observer: what an agent session's tasks do, for the userspace rules.
 *
 * Tracepoints only (no LSM, no trampolines), so it loads where BPF LSM is
 * off. It never decides: it reports execs, connects, ptrace, module loads
 * and memfd_create of tasks inside a session, and nothing for the rest of
 * the host (one task-storage lookup and one hash lookup per hooked call).
 *
 * Syscalls are reported at their exit, with the result. The enter program
 * of a session task parks the arguments in `obs_pending` (keyed by thread);
 * the exit program takes them back, so tasks outside sessions cost the exit
 * program one failed lookup. What the kernel holds after the call is
 * preferred over what the caller passed: the socket's peer for connect,
 * the new file's dentry for memfd_create, so a racing thread rewriting the
 * caller's buffer does not change what is reported.
 *
 * Attaching any syscalls tracepoint puts every task's syscalls on the
 * kernel's slow path (SYSCALL_WORK_SYSCALL_TRACEPOINT), a small host-wide
 * cost.
 *
 * Not seen: calls that do not pass the syscall tracepoints (io_uring's
 * IORING_OP_CONNECT), UDP sendto/sendmsg to an address without connect, and
 * the memfd flag of a script run from a memfd (bprm->file is then its
 * interpreter; Falco's flag has the same blind spot).
 */
#include "lib/path.h"
#include "observer_abi.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TMPFS_MAGIC 0x01021994
#define RAMFS_MAGIC 0x858458f6
#define HUGETLBFS_MAGIC 0x958458f6

/* ptrace requests (x86-64 and generic numbers). */
#define PTRACE_TRACEME 0
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_SETREGS 13
#define PTRACE_SETFPREGS 15
#define PTRACE_ATTACH 16
#define PTRACE_SETFPXREGS 19
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

/* obs_pending.nr for connect; the others are enum bh_obs_syscall. */
#define OBS_CONNECT 100

struct obs_pending {
	__u32 nr;
	__u32 pad;
	__u64 args[4];
};

/* Arguments of a session task's call in flight, by thread. Entries live
 * for one syscall; LRU, so a thread that never returns cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct obs_pending);
} obs_pending SEC(".maps");

union obs_event {
	struct bh_exec_event exec;
	struct bh_net_event net;
	struct bh_syscall_event sys;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union obs_event);
} obs_scratch SEC(".maps");

static __always_inline union obs_event *obs__scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&obs_scratch, &zero);
}

/* Observations yield to verdicts: past half a ring of unread data, the
 * observer sheds its own events (counted) so the guards' deny and audit
 * events still find room. */
static __always_inline int obs__shed(void)
{
	__u64 used = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	if (used <= size / 2)
		return 0;
	stats__inc(BH_STAT_OBS_DROPS);
	stats__inc(BH_STAT_DROPS);
	return 1;
}

static __always_inline void obs__submit(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&events, data, size, 0)) {
		stats__inc(BH_STAT_OBS_DROPS);
		stats__inc(BH_STAT_DROPS);
	} else {
		stats__inc(BH_STAT_OBS_EVENTS);
		stats__inc(BH_STAT_EVENTS);
	}
}

/* The file behind the current task's descriptor fd, or NULL. */
static __always_inline struct file *obs__fd_file(__s64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = 0;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void obs__file_id(struct file *f, __u64 *dev, __u64 *ino)
{
	struct bh_inode_key key;

	inode__key(BPF_CORE_READ(f, f_inode), &key);
	*dev = key.dev;
	*ino = key.ino;
}

/* Falco's proc.is_exe_from_memfd, made exact: the kernel names every memfd
 * "memfd:<name>", keeps it on its internal shmem (or hugetlbfs) mount and
 * never links it, so a file on disk called "memfd:x" does not count. */
static __always_inline __u32 obs__is_memfd(struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u64 magic = BPF_CORE_READ(inode, i_sb, s_magic);
	char name[8] = {};

	if (magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC && magic != RAMFS_MAGIC)
		return 0;
	if (BPF_CORE_READ(inode, __i_nlink))
		return 0;
	bpf_probe_read_kernel(name, 6, BPF_CORE_READ(f, f_path.dentry, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	       name[4] == 'd' && name[5] == ':';
}

/* ---- exec ------------------------------------------------------------- */

/* After the point of no return: the task runs the new image, mm->arg_*
 * point at the new argv, and bprm->file is the executable (the interpreter
 * for a script). Reading argv here makes proc.cmdline right even for a
 * process gone before userspace looks at /proc. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct bh_session *s = session__current();
	struct bh_exec_event *e;
	struct file *file;
	struct mm_struct *mm;
	__u64 start, len;

	if (!s || obs__shed())
		return 0;
	e = (struct bh_exec_event *)obs__scratch();
	if (!e)
		return 0;
	event__fill_header(&e->hdr, BH_EVT_EXEC, s);
	file = BPF_CORE_READ(bprm, file);
	obs__file_id(file, &e->exe_dev, &e->exe_ino);
	e->exe_flags = obs__is_memfd(file) ? BH_EXE_F_MEMFD : 0;

	mm = BPF_CORE_READ(p, mm);
	start = BPF_CORE_READ(mm, arg_start);
	len = BPF_CORE_READ(mm, arg_end) - start;
	if (len > BH_ARGS_MAX) {
		len = BH_ARGS_MAX;
		e->hdr.flags |= BH_EVT_F_ARGS_TRUNCATED;
	}
	/* len <= BH_ARGS_MAX; the barrier keeps clang from folding the check
	 * into something the verifier cannot follow. */
	asm volatile("" : "+r"(len));
	if (len > BH_ARGS_MAX)
		len = 0;
	if (bpf_probe_read_user(e->args, len, (void *)start))
		len = 0;
	e->args_len = len;

	e->hdr.flags |= path__build(BPF_CORE_READ(file, f_path.dentry),
				    BPF_CORE_READ(file, f_path.mnt), e->path, &e->path_off);
	obs__submit(e, sizeof(*e));
	return 0;
}

/* ---- syscalls: park the arguments at enter, report at exit ---------------- */

static __always_inline void obs__park(__u32 nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct obs_pending p = {
		.nr = nr,
		.args = { a0, a1, a2, a3 },
	};

	if (!session__current())
		return;
	bpf_map_update_elem(&obs_pending, &id, &p, BPF_ANY);
}

/* Takes the parked call of this thread if it is `nr`. */
static __always_inline int obs__take(__u32 nr, struct obs_pending *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct obs_pending *p = bpf_map_lookup_elem(&obs_pending, &id);

	if (!p)
		return 0;
	*out = *p;
	bpf_map_delete_elem(&obs_pending, &id);
	return out->nr == nr;
}

/* ---- connect ------------------------------------------------------------ */

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	obs__park(OBS_CONNECT, ctx->args[0], ctx->args[1], ctx->args[2], 0);
	return 0;
}

/* The caller's sockaddr (AF_INET, AF_INET6 or AF_UNIX) into e. */
static __always_inline void net__from_caller(struct bh_net_event *e, const void *uaddr,
					     __u64 addrlen)
{
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct {
			__u16 family;
			char path[BH_UNIX_PATH_MAX];
		} un;
	} a = {};
	__u32 n;

	if (addrlen > sizeof(a))
		addrlen = sizeof(a);
	asm volatile("" : "+r"(addrlen));
	if (addrlen > sizeof(a) || bpf_probe_read_user(&a, addrlen, uaddr))
		return;
	if (!e->family)
		e->family = a.in.sin_family;
	else if (e->family != a.in.sin_family)
		return; /* the call failed on a socket of another family */
	e->source = BH_NET_FROM_CALLER;
	switch (e->family) {
	case AF_INET:
		__builtin_memcpy(e->raddr, &a.in.sin_addr, 4);
		e->rport = bpf_ntohs(a.in.sin_port);
		break;
	case AF_INET6:
		__builtin_memcpy(e->raddr, &a.in6.sin6_addr, 16);
		e->rport = bpf_ntohs(a.in6.sin6_port);
		break;
	case AF_UNIX:
		n = addrlen > 2 ? addrlen - 2 : 0;
		__builtin_memcpy(e->unix_path, a.un.path, BH_UNIX_PATH_MAX);
		e->unix_len = n;
		break;
	}
}

/* A connected AF_UNIX socket's peer path. */
static __always_inline void net__unix_peer(struct bh_net_event *e, struct sock *sk)
{
	struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
	struct unix_address *addr;
	__u32 len;

	if (!peer)
		return;
	e->source = BH_NET_FROM_SOCKET;
	addr = BPF_CORE_READ((struct unix_sock *)peer, addr);
	if (!addr)
		return; /* an unnamed peer (socketpair) */
	len = BPF_CORE_READ(addr, len);
	len = len > 2 ? len - 2 : 0; /* minus sun_family */
	if (len > BH_UNIX_PATH_MAX)
		len = BH_UNIX_PATH_MAX;
	bpf_probe_read_kernel(e->unix_path, BH_UNIX_PATH_MAX,
			      (char *)addr + bpf_core_field_offset(struct unix_address, name) + 2);
	e->unix_len = len;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tp_sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct obs_pending p;
	struct bh_net_event *e;
	struct bh_session *s;
	struct socket *sock = 0;
	struct file *file;
	struct sock *sk;

	if (!obs__take(OBS_CONNECT, &p))
		return 0;
	s = session__current();
	if (!s || obs__shed())
		return 0;
	e = (struct bh_net_event *)obs__scratch();
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	event__fill_header(&e->hdr, BH_EVT_NET, s);
	e->ret = ctx->ret;
	e->fd = p.args[0];

	file = obs__fd_file(p.args[0]);
	if (file && (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) == S_IFSOCK)
		sock = BPF_CORE_READ(file, private_data);
	sk = sock ? BPF_CORE_READ(sock, sk) : 0;
	if (sk) {
		e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
		e->sock_type = BPF_CORE_READ(sock, type);
		e->protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
		e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (e->family == AF_INET) {
			bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
			/* A failed connect resets the peer; then the caller's
			 * sockaddr is all there is. */
			if (BPF_CORE_READ(sk, __sk_common.skc_dport)) {
				bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
				e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
				e->source = BH_NET_FROM_SOCKET;
			}
		} else if (e->family == AF_INET6) {
			bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
			if (BPF_CORE_READ(sk, __sk_common.skc_dport)) {
				bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
				e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
				e->source = BH_NET_FROM_SOCKET;
			}
		} else if (e->family == AF_UNIX) {
			net__unix_peer(e, sk);
		} else {
			return 0;
		}
	}
	if (!e->source)
		net__from_caller(e, (const void *)p.args[1], p.args[2]);
	if (e->family != AF_INET && e->family != AF_INET6 && e->family != AF_UNIX)
		return 0;
	obs__submit(e, sizeof(*e));
	return 0;
}

/* ---- ptrace, module loads, memfd_create ----------------------------------- */

/* Requests that take control of a process or write into it. Reads and
 * flow control (PEEK*, GETREGS, CONT, SYSCALL) are left out: a tracer
 * issues them for every syscall of its tracee and would flood the ring. */
static __always_inline int ptrace__interesting(__u64 request)
{
	switch (request) {
	case PTRACE_TRACEME:
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
	case PTRACE_POKEUSR:
	case PTRACE_SETREGS:
	case PTRACE_SETFPREGS:
	case PTRACE_ATTACH:
	case PTRACE_SETFPXREGS:
	case PTRACE_SETREGSET:
	case PTRACE_SEIZE:
		return 1;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int tp_sys_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	if (ptrace__interesting(ctx->args[0]))
		obs__park(BH_SYS_PTRACE, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int tp_sys_enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
	obs__park(BH_SYS_INIT_MODULE, ctx->args[0], ctx->args[1], ctx->args[2], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int tp_sys_enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	obs__park(BH_SYS_FINIT_MODULE, ctx->args[0], ctx->args[1], ctx->args[2], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_memfd_create")
int tp_sys_enter_memfd_create(struct trace_event_raw_sys_enter *ctx)
{
	obs__park(BH_SYS_MEMFD_CREATE, ctx->args[0], ctx->args[1], 0, 0);
	return 0;
}

/* Starts a syscall event for the parked call `nr`, or returns NULL. */
static __always_inline struct bh_syscall_event *sys__begin(__u32 nr, __s64 ret,
							    struct obs_pending *p)
{
	struct bh_syscall_event *e;
	struct bh_session *s;

	if (!obs__take(nr, p))
		return 0;
	s = session__current();
	if (!s || obs__shed())
		return 0;
	e = (struct bh_syscall_event *)obs__scratch();
	if (!e)
		return 0;
	event__fill_header(&e->hdr, BH_EVT_SYSCALL, s);
	e->nr = nr;
	e->ret = ret;
	e->path_off = BH_NO_PATH;
	e->str_len = 0;
	e->dev = 0;
	e->ino = 0;
	e->str[0] = 0;
	for (int i = 0; i < 4; i++)
		e->args[i] = p->args[i];
	return e;
}

static __always_inline void sys__user_str(struct bh_syscall_event *e, __u64 uptr)
{
	long n = uptr ? bpf_probe_read_user_str(e->str, sizeof(e->str), (void *)uptr) : 0;

	e->str_len = n > 0 ? n - 1 : 0;
}

/* Without a path, the record ends where `path` begins. */
static __always_inline void sys__submit(struct bh_syscall_event *e)
{
	obs__submit(e, e->path_off == BH_NO_PATH ? __builtin_offsetof(struct bh_syscall_event, path)
						 : sizeof(*e));
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int tp_sys_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	struct obs_pending p;
	struct bh_syscall_event *e = sys__begin(BH_SYS_PTRACE, ctx->ret, &p);

	if (e)
		sys__submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int tp_sys_exit_init_module(struct trace_event_raw_sys_exit *ctx)
{
	struct obs_pending p;
	struct bh_syscall_event *e = sys__begin(BH_SYS_INIT_MODULE, ctx->ret, &p);

	if (!e)
		return 0;
	e->args[0] = 0; /* the image's user address says nothing */
	sys__user_str(e, p.args[2]);
	sys__submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_finit_module")
int tp_sys_exit_finit_module(struct trace_event_raw_sys_exit *ctx)
{
	struct obs_pending p;
	struct bh_syscall_event *e = sys__begin(BH_SYS_FINIT_MODULE, ctx->ret, &p);
	struct file *file;

	if (!e)
		return 0;
	sys__user_str(e, p.args[1]);
	file = obs__fd_file(p.args[0]);
	if (file) {
		obs__file_id(file, &e->dev, &e->ino);
		e->hdr.flags |= path__build(BPF_CORE_READ(file, f_path.dentry),
					    BPF_CORE_READ(file, f_path.mnt), e->path, &e->path_off);
	}
	sys__submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_memfd_create")
int tp_sys_exit_memfd_create(struct trace_event_raw_sys_exit *ctx)
{
	struct obs_pending p;
	struct bh_syscall_event *e = sys__begin(BH_SYS_MEMFD_CREATE, ctx->ret, &p);
	struct file *file;
	long n;

	if (!e)
		return 0;
	file = ctx->ret >= 0 ? obs__fd_file(ctx->ret) : 0;
	if (file) {
		/* The name the kernel gave the file: "memfd:" + what it kept. */
		obs__file_id(file, &e->dev, &e->ino);
		n = bpf_probe_read_kernel_str(e->str, sizeof(e->str),
					      BPF_CORE_READ(file, f_path.dentry, d_name.name) + 6);
		e->str_len = n > 0 ? n - 1 : 0;
	} else {
		sys__user_str(e, p.args[0]);
	}
	sys__submit(e);
	return 0;
}

/* ---- taint without BPF LSM ---------------------------------------------- */
/* At level 2 no file guard runs, so a successful open for reading of an
 * object a `taint:` rule names taints the session here, at the open's exit:
 * before the process can read a byte, so before it can send one. Objects
 * by inode (exact paths) and `**` leaf names (`**` + `/.env`) are covered. */

#define FMODE_READ 0x1

static __always_inline int taint__rule(const struct bh_guard_rule *r, const struct bh_session *s)
{
	if (!(r->flags & BH_RULE_TAINT) || !(r->ops & BH_OP_READ) || r->verdict != BH_VERDICT_AUDIT)
		return 0;
	return r->scope != BH_SCOPE_AGENT || r->agent_kind == s->agent_kind;
}

static __always_inline void obs__taint_open(long fd)
{
	struct bh_session *s = session__current();
	struct bh_session_state *st;
	struct bh_inode_policy *ip;
	struct bh_name_patterns *np;
	struct bh_name_key nk = { .kind = BH_NAME_LEAF };
	struct bh_inode_key key;
	struct task_struct *task;
	struct file **fds, *file = 0;
	struct dentry *dentry;
	unsigned int max_fds;
	int j;

	if (!s || fd < 0)
		return;
	st = bpf_map_lookup_elem(&session_state, &s->id);
	if (st && (st->flags & BH_SESSION_TAINTED))
		return;
	task = bpf_get_current_task_btf();
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (fd >= max_fds)
		return;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	bpf_core_read(&file, sizeof(file), &fds[fd]);
	if (!file || !(BPF_CORE_READ(file, f_mode) & FMODE_READ))
		return;
	inode__key(BPF_CORE_READ(file, f_inode), &key);
	ip = bpf_map_lookup_elem(&inode_policy, &key);
	if (ip) {
		for (j = 0; j < BH_RULES_PER_OBJECT; j++) {
			if ((ip->rules[j].match & BH_MATCH_EXACT) && taint__rule(&ip->rules[j], s)) {
				taint__session(s, ip->rules[j].rule_id, &key);
				return;
			}
		}
	}
	dentry = BPF_CORE_READ(file, f_path.dentry);
	if (bpf_probe_read_kernel_str(nk.name, sizeof(nk.name), BPF_CORE_READ(dentry, d_name.name)) <= 0)
		return;
	np = bpf_map_lookup_elem(&name_patterns, &nk);
	if (!np)
		return;
	for (j = 0; j < BH_PATTERNS_PER_KEY; j++) {
		if (!np->grandparent[j][0] && taint__rule(&np->rules[j], s)) {
			taint__session(s, np->rules[j].rule_id, &key);
			return;
		}
	}
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tp_sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	obs__taint_open(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tp_sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	obs__taint_open(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int tp_sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	obs__taint_open(ctx->ret);
	return 0;
}
