// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Net guard: egress of agent sessions, decided before the packet exists.
 *
 * cgroup sock_addr programs, attached once at the root of the cgroup v2
 * hierarchy so every socket on the host passes through them; only tasks in
 * a session are judged. Returning 0 makes connect(2) or sendmsg(2) fail with
 * EPERM. They run on both enforcement levels: BPF LSM is not needed.
 *
 * The session comes from session_by_tgid (every process a session forks)
 * and, for a process `bulkhead run` placed in its cgroup before it forked,
 * from session_by_cg. Task storage is not readable from these programs on
 * Linux < 6.2, hence the tgid map.
 *
 * A deny rule that matches wins; then, for a tainted session, everything but
 * loopback and the taint allow list is denied; audit rules only report.
 */
#include "lib/common.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2

static __always_inline struct bh_session *net__session(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct bh_session *s = bpf_map_lookup_elem(&session_by_tgid, &tgid);
	__u64 cg;

	if (s)
		return s;
	cg = bpf_get_current_cgroup_id();
	return bpf_map_lookup_elem(&session_by_cg, &cg);
}

/* event__fill_header without bpf_probe_read_kernel, which cgroup programs
 * may lack: the BTF task pointer is read directly. */
static __always_inline void net__fill_header(struct bh_event_header *h, const struct bh_session *s)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ugid = bpf_get_current_uid_gid();

	h->kind = BH_EVT_EGRESS;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->session_id = s->id;
	h->agent_kind = s->agent_kind;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->pid = (__u32)id;
	h->tgid = id >> 32;
	h->ppid = task->real_parent->tgid;
	h->uid = (__u32)ugid;
	h->gid = ugid >> 32;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline int addr__is_loopback(const __u8 *a)
{
	int i, zero = 1;

	/* ::ffff:127.0.0.0/104 (IPv4 loopback, mapped) and ::ffff:0.0.0.0 */
	if (a[10] == 0xff && a[11] == 0xff) {
		for (i = 0; i < 10; i++)
			if (a[i])
				return 0;
		return a[12] == 127 || (!a[12] && !a[13] && !a[14] && !a[15]);
	}
	/* ::1 and :: (connect to the unspecified address reaches this host) */
	for (i = 0; i < 15; i++)
		if (a[i])
			zero = 0;
	return zero && (a[15] == 1 || a[15] == 0);
}

static __always_inline int term__holds(__u8 term, __u64 mask, __u32 bit)
{
	int in = (mask >> bit) & 1;

	switch (term) {
	case BH_TERM_ANY:
		return 1;
	case BH_TERM_IN:
		return in;
	case BH_TERM_NOT_IN:
		return !in;
	}
	return 0;
}

static __always_inline int egress__check(struct bpf_sock_addr *ctx, __u8 op, int v6)
{
	struct bh_net_addr_key key = { .prefixlen = 128 };
	struct bh_egress_event e = {};
	struct bh_session_state *st;
	struct bh_net_policy *pol;
	struct bh_session *s;
	__u64 amask = 0, pmask = 0, *m;
	__u32 zero = 0, deny = 0, audit = 0, i;
	__u16 port;
	__u8 proto, family, tainted;

	s = net__session();
	if (!s)
		return 1;

	if (v6) {
		/* The verifier wants constant offsets into the context. */
		__u32 w[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			       ctx->user_ip6[3] };

		__builtin_memcpy(key.addr, w, 16);
		family = BH_NET_FAMILY_V6;
	} else {
		__u32 w = ctx->user_ip4;

		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &w, 4);
		family = BH_NET_FAMILY_V4;
	}
	/* An IPv4 destination reached through an IPv6 socket is IPv4. */
	if (v6 && key.addr[10] == 0xff && key.addr[11] == 0xff && !key.addr[0] && !key.addr[8])
		family = BH_NET_FAMILY_V4;
	port = bpf_ntohs((__u16)ctx->user_port);
	proto = ctx->type == SOCK_STREAM ? BH_NET_PROTO_TCP :
		ctx->type == SOCK_DGRAM ? BH_NET_PROTO_UDP : 0;

	m = bpf_map_lookup_elem(&net_addrs, &key);
	if (m)
		amask = *m;
	m = bpf_map_lookup_elem(&net_ports, &port);
	if (m)
		pmask = *m;
	st = bpf_map_lookup_elem(&session_state, &s->id);
	tainted = st && (st->flags & BH_SESSION_TAINTED);

	pol = bpf_map_lookup_elem(&net_policy, &zero);
	if (pol) {
		for (i = 0; i < BH_NET_RULES_MAX; i++) {
			struct bh_net_rule *r;

			if (i >= pol->count)
				break;
			r = &pol->rules[i];
			if (!(r->ops & op))
				continue;
			if (r->protos && !(r->protos & proto))
				continue;
			if (r->families && !(r->families & family))
				continue;
			if (r->scope == BH_SCOPE_AGENT && r->agent_kind != s->agent_kind)
				continue;
			if ((r->flags & BH_NET_RULE_TAINTED_ONLY) && !tainted)
				continue;
			if (!term__holds(r->addr_term, amask, i) || !term__holds(r->port_term, pmask, i))
				continue;
			if (r->verdict == BH_VERDICT_DENY) {
				deny = r->rule_id;
				break;
			}
			if (!audit)
				audit = r->rule_id;
		}
	}
	if (!deny && tainted && !addr__is_loopback(key.addr) &&
	    !((amask >> BH_NET_TAINT_ALLOW_BIT) & 1))
		deny = BH_NET_RULE_TAINT;
	if (!deny && !audit)
		return 1;

	if (deny)
		stats__inc(BH_STAT_EGRESS_DENIED);
	net__fill_header(&e.hdr, s);
	e.rule_id = deny ? deny : audit;
	e.verdict = deny ? BH_VERDICT_DENY : BH_VERDICT_AUDIT;
	e.op = op;
	e.family = family == BH_NET_FAMILY_V6 ? AF_INET6 : AF_INET;
	e.rport = port;
	e.sock_type = ctx->type;
	e.protocol = ctx->protocol;
	if (family == BH_NET_FAMILY_V6)
		__builtin_memcpy(e.raddr, key.addr, 16);
	else
		__builtin_memcpy(e.raddr, &key.addr[12], 4);
	if (tainted && st) {
		e.taint_rule = st->taint_rule;
		e.taint_dev = st->taint_dev;
		e.taint_ino = st->taint_ino;
	}
	event__submit(&e, sizeof(e));
	return deny ? 0 : 1;
}

SEC("cgroup/connect4")
int net_connect4(struct bpf_sock_addr *ctx)
{
	return egress__check(ctx, BH_NET_OP_CONNECT, 0);
}

SEC("cgroup/connect6")
int net_connect6(struct bpf_sock_addr *ctx)
{
	return egress__check(ctx, BH_NET_OP_CONNECT, 1);
}

SEC("cgroup/sendmsg4")
int net_sendmsg4(struct bpf_sock_addr *ctx)
{
	return egress__check(ctx, BH_NET_OP_SEND, 0);
}

SEC("cgroup/sendmsg6")
int net_sendmsg6(struct bpf_sock_addr *ctx)
{
	return egress__check(ctx, BH_NET_OP_SEND, 1);
}
