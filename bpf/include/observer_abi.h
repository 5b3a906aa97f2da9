/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI of the observer: what a session's tasks do, seen from tracepoints.
 * Observation only: these events carry no verdict, and they exist only for
 * tasks inside an agent session.
 */
#ifndef BULKHEAD_OBSERVER_ABI_H
#define BULKHEAD_OBSERVER_ABI_H

#include "abi.h"

/* argv bytes an exec event carries; longer command lines are cut and
 * flagged BH_EVT_F_ARGS_TRUNCATED. */
#define BH_ARGS_MAX 1024
/* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define BH_UNIX_PATH_MAX 108
/* memfd_create's name (the kernel allows 249 bytes), a module's parameters. */
#define BH_SYSCALL_STR_MAX 256
/* bh_syscall_event.path_off when the event carries no path. */
#define BH_NO_PATH 0xffff

/* bh_exec_event.exe_flags */
#define BH_EXE_F_MEMFD (1u << 0) /* the executable is a memfd (fileless exec) */

struct bh_exec_event {
	struct bh_event_header hdr;
	__u64 exe_dev;   /* bprm->file, which becomes mm->exe_file */
	__u64 exe_ino;
	__u32 exe_flags; /* BH_EXE_F_* */
	__u16 args_len;  /* bytes used in args */
	__u16 path_off;  /* path is path[path_off .. BH_PATH_MAX) */
	char args[BH_ARGS_MAX]; /* argv as in /proc/PID/cmdline: NUL-separated */
	char path[BH_PATH_BUF];
};

/* Where bh_net_event's remote address came from. */
enum bh_net_source {
	BH_NET_FROM_SOCKET = 1, /* the socket's peer after the call: what it connected to */
	BH_NET_FROM_CALLER = 2, /* the caller's sockaddr, read after the call (it failed) */
};

struct bh_net_event {
	struct bh_event_header hdr;
	__s64 ret;        /* connect's return value: 0 or a negative errno */
	__s32 fd;
	__u16 family;     /* AF_INET, AF_INET6, AF_UNIX */
	__u16 sock_type;  /* SOCK_STREAM, SOCK_DGRAM, ...; 0 when not read */
	__u16 protocol;   /* IPPROTO_*; 0 when not read */
	__u16 lport;      /* host byte order; 0 when not bound */
	__u16 rport;
	__u8 source;      /* enum bh_net_source */
	__u8 unix_len;    /* bytes used in unix_path */
	__u8 laddr[16];   /* network byte order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char unix_path[BH_UNIX_PATH_MAX]; /* sun_path; an abstract name starts with NUL */
	__u8 pad[4];
};

/* The syscalls a bh_syscall_event reports. */
enum bh_obs_syscall {
	BH_SYS_PTRACE = 1,       /* args: request, pid, addr, data */
	BH_SYS_INIT_MODULE = 2,  /* args: umod, len, uargs */
	BH_SYS_FINIT_MODULE = 3, /* args: fd, uargs, flags */
	BH_SYS_MEMFD_CREATE = 4, /* args: uname, flags */
};

/* Emitted at the syscall's exit, with its result. A record without a path
 * (path_off == BH_NO_PATH) ends at `path`: only finit_module sends it. */
struct bh_syscall_event {
	struct bh_event_header hdr;
	__u32 nr;         /* enum bh_obs_syscall */
	__u16 str_len;    /* bytes used in str */
	__u16 path_off;   /* finit_module: the module file; else BH_NO_PATH */
	__s64 ret;        /* return value: a negative errno, or the result (memfd's fd) */
	__u64 args[4];    /* the caller's arguments as passed */
	__u64 dev;        /* finit_module: the module file; memfd_create: the new memfd */
	__u64 ino;
	char str[BH_SYSCALL_STR_MAX]; /* memfd_create: the name (no "memfd:");
				       * init/finit_module: the parameter string */
	char path[BH_PATH_BUF];
};

#endif /* BULKHEAD_OBSERVER_ABI_H */
