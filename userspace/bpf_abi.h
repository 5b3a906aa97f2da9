// SPDX-License-Identifier: Apache-2.0
// The BPF ABI headers, included from C++ with their layout pinned: a change
// on either side fails the build instead of corrupting events or policy.
#pragma once

#include <linux/types.h>

#include <cstddef>

extern "C" {
#include "abi.h"
#include "file_guard_abi.h"
#include "net_guard_abi.h"
#include "observer_abi.h"
#include "self_guard_abi.h"
#include "sessions_abi.h"
}

#include "rules/kernel_policy.h"

static_assert(sizeof(bh_event_header) == 72);
static_assert(sizeof(bh_config) == 24);
static_assert(sizeof(bh_session) == 24);
static_assert(sizeof(bh_guard_rule) == 16);
static_assert(sizeof(bh_inode_key) == 16);
static_assert(sizeof(bh_inode_policy) == 72);
static_assert(sizeof(bh_leaf_glob) == 88);
static_assert(sizeof(bh_dir_patterns) == 416);
static_assert(sizeof(bh_name_key) == 64);
static_assert(sizeof(bh_dir_name_key) == 80);
static_assert(sizeof(bh_name_patterns) == 656);
static_assert(sizeof(bh_file_event) == 72 + 48 + BH_PATH_BUF);
static_assert(sizeof(bh_session_event) == 72 + 24 + BH_PATH_BUF);
static_assert(sizeof(bh_self_event) == 72 + 16);
static_assert(sizeof(bh_exec_event) == 72 + 24 + BH_ARGS_MAX + BH_PATH_BUF);
static_assert(sizeof(bh_net_event) == 72 + 168);
static_assert(sizeof(bh_syscall_event) == 72 + 64 + BH_SYSCALL_STR_MAX + BH_PATH_BUF);
static_assert(sizeof(bh_net_rule) == 16);
static_assert(sizeof(bh_net_policy) == 8 + 16 * BH_NET_RULES_MAX);
static_assert(sizeof(bh_net_addr_key) == 20);
static_assert(sizeof(bh_session_state) == 48);
static_assert(sizeof(bh_egress_event) == 72 + 56);
static_assert(sizeof(bh_taint_event) == 72 + 24);
static_assert(offsetof(bh_syscall_event, path) == 72 + 64 + BH_SYSCALL_STR_MAX);

// The rules library's operation bits are the kernel's.
static_assert(bulkhead::rules::kOpRead == BH_OP_READ);
static_assert(bulkhead::rules::kOpWrite == BH_OP_WRITE);
static_assert(bulkhead::rules::kOpCreate == BH_OP_CREATE);
static_assert(bulkhead::rules::kOpLink == BH_OP_LINK);
static_assert(bulkhead::rules::kOpRename == BH_OP_RENAME);
static_assert(bulkhead::rules::kOpUnlink == BH_OP_UNLINK);
static_assert(bulkhead::rules::kOpSetattr == BH_OP_SETATTR);
static_assert(bulkhead::rules::kOpMmap == BH_OP_MMAP);
static_assert(bulkhead::rules::kOpConnect == BH_OP_CONNECT);
static_assert(bulkhead::rules::kOpExec == BH_OP_EXEC);

namespace bulkhead {

// st_dev as glibc reports it, converted to the kernel's internal dev_t
// (major << 20 | minor), which is what BPF reads from i_sb->s_dev.
inline __u64 kernel_dev(unsigned long long st_dev) {
    unsigned major = static_cast<unsigned>(((st_dev >> 32) & 0xfffff000u) | ((st_dev >> 8) & 0xfffu));
    unsigned minor = static_cast<unsigned>(((st_dev >> 12) & 0xffffff00u) | (st_dev & 0xffu));
    return (static_cast<__u64>(major) << 20) | minor;
}

}  // namespace bulkhead
