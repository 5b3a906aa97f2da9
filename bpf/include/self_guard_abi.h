/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI of the self guard: what a session tried against bulkhead itself. */
#ifndef BULKHEAD_SELF_GUARD_ABI_H
#define BULKHEAD_SELF_GUARD_ABI_H

#include "abi.h"

enum bh_self_op {
	BH_SELF_BPF = 1,         /* any bpf(2) command */
	BH_SELF_PTRACE = 2,      /* ptrace outside its own session */
	BH_SELF_SIGNAL = 3,      /* signal to a protected process */
	BH_SELF_CGROUP = 4,      /* write to cgroupfs: leaving the session cgroup */
	BH_SELF_BPFFS = 5,       /* touching pinned objects in bpffs */
};

struct bh_self_event {
	struct bh_event_header hdr;
	__u32 op;        /* enum bh_self_op */
	__s32 err;
	__u32 target_pid; /* signal or ptrace target, else 0 */
	__u32 arg;        /* bpf cmd, signal number or ptrace mode */
};

#endif /* BULKHEAD_SELF_GUARD_ABI_H */
