/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI of session tracking: agent discovery and its events. */
#ifndef BULKHEAD_SESSIONS_ABI_H
#define BULKHEAD_SESSIONS_ABI_H

#include "file_guard_abi.h"

/* agent_exes value: the agent kind an executable inode starts. */
struct bh_agent_exe {
	__u32 agent_kind;
	__u32 pad;
};

struct bh_session_event {
	struct bh_event_header hdr;
	__u64 exe_dev;
	__u64 exe_ino;
	__u16 path_off;
	__u16 pad[3];
	char path[BH_PATH_BUF]; /* the executable that started the session */
};

#endif /* BULKHEAD_SESSIONS_ABI_H */
