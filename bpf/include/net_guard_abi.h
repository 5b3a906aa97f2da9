/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI of the net guard: per-session egress rules, taint, and egress events.
 *
 * A rule is a conjunction the compiler reduced to: operations (connect,
 * send), an address term and a port term (each "any", "in the rule's set" or
 * "not in it"), protocols, families, scope, and "only when tainted". The
 * sets live in two maps shared by all rules: an LPM trie of addresses and a
 * hash of ports, each value a bitmask of the rules whose set holds the key.
 * Userspace folds every prefix's mask into the more specific prefixes below
 * it, so one longest-prefix lookup answers for every rule at once.
 */
#ifndef BULKHEAD_NET_GUARD_ABI_H
#define BULKHEAD_NET_GUARD_ABI_H

#include "abi.h"
#include "file_guard_abi.h"

/* Rules the kernel holds; bit BH_NET_TAINT_ALLOW_BIT of an address mask is
 * the taint allow list, so at most 63 rules. */
#define BH_NET_RULES_MAX 63
#define BH_NET_TAINT_ALLOW_BIT 63

/* bh_net_rule.addr_term and .port_term */
enum bh_net_term {
	BH_TERM_ANY = 0,    /* no constraint */
	BH_TERM_IN = 1,     /* the key is in the rule's set */
	BH_TERM_NOT_IN = 2, /* the key is not in the rule's set */
};

/* bh_net_rule.ops and bh_egress_event.op */
#define BH_NET_OP_CONNECT (1u << 0) /* connect(2) */
#define BH_NET_OP_SEND (1u << 1)    /* sendto/sendmsg with a destination */

/* bh_net_rule.protos: 0 = any */
#define BH_NET_PROTO_TCP (1u << 0)
#define BH_NET_PROTO_UDP (1u << 1)

/* bh_net_rule.families: 0 = any */
#define BH_NET_FAMILY_V4 (1u << 0)
#define BH_NET_FAMILY_V6 (1u << 1)

/* bh_net_rule.flags */
#define BH_NET_RULE_TAINTED_ONLY (1u << 0) /* applies only to tainted sessions */

struct bh_net_rule {
	__u32 rule_id;    /* 1-based index into the daemon's net rule table */
	__u32 agent_kind; /* scope BH_SCOPE_AGENT: the kind; else 0 */
	__u8 verdict;     /* enum bh_verdict */
	__u8 scope;       /* enum bh_scope: SESSIONS or AGENT (never HOST) */
	__u8 addr_term;   /* enum bh_net_term */
	__u8 port_term;   /* enum bh_net_term */
	__u8 ops;         /* BH_NET_OP_* */
	__u8 protos;      /* BH_NET_PROTO_* */
	__u8 families;    /* BH_NET_FAMILY_* */
	__u8 flags;       /* BH_NET_RULE_* */
};

/* Element 0 of `net_policy`, written whole by the daemon. */
struct bh_net_policy {
	__u32 count;      /* rules used in `rules` */
	__u32 pad;
	struct bh_net_rule rules[BH_NET_RULES_MAX];
};

/* `net_addrs` key: IPv4 as the v4-mapped IPv6 address ::ffff:a.b.c.d with
 * prefixlen + 96, so one trie holds both families. */
struct bh_net_addr_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* `session_state` value: what the kernel learned about a session. */
#define BH_SESSION_TAINTED (1u << 0)

struct bh_session_state {
	__u32 flags;      /* BH_SESSION_* */
	__u32 taint_rule; /* file rule id (file guard numbering) that tainted it */
	__u64 taint_dev;  /* the object whose read tainted it */
	__u64 taint_ino;
	__u64 tainted_ns; /* bpf_ktime_get_boot_ns() */
	__u64 workspace_dev; /* the session's workspace directory, 0 = none */
	__u64 workspace_ino;
};

/* bh_egress_event.rule_id when the taint policy, not a rule, decided. */
#define BH_NET_RULE_TAINT 0xffffffffu

struct bh_egress_event {
	struct bh_event_header hdr;
	__u32 rule_id;    /* net rule id, or BH_NET_RULE_TAINT */
	__u8 verdict;     /* enum bh_verdict */
	__u8 op;          /* BH_NET_OP_* */
	__u16 family;     /* AF_INET, AF_INET6 */
	__u16 rport;      /* host byte order */
	__u16 sock_type;  /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u32 protocol;
	__u8 raddr[16];   /* network byte order; IPv4 in the first 4 bytes */
	__u32 taint_rule; /* when tainted: bh_session_state.taint_rule */
	__u32 pad;
	__u64 taint_dev;
	__u64 taint_ino;
};

/* The taint a file guard match leaves on a session (bh_taint_event). */
struct bh_taint_event {
	struct bh_event_header hdr;
	__u32 rule_id;    /* file rule id */
	__u32 pad;
	__u64 dev;
	__u64 ino;
};

#endif /* BULKHEAD_NET_GUARD_ABI_H */
