/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec channel between the host and the guest agent (vmguard/guest/agent.c):
 * frames over two virtio-serial ports.
 *
 *   ctl  (VG_PORT_CTL)   the daemon only: hello, attach, diff, read, poweroff, exec
 *   exec (VG_PORT_EXEC)  the session's user: exec, stdin, signal
 *
 * A frame is a 12-byte header (little endian) and `len` bytes of payload.
 * Payloads of requests and most replies are key/value lists: NUL-terminated
 * strings, alternating key and value ("arg\0ls\0arg\0-l\0cwd\0/w\0"); a key
 * may repeat (arg, env) and order is kept. STDIN/STDOUT/STDERR/DATA carry raw
 * bytes. Both sides reject a frame longer than VG_MAX_PAYLOAD, of an unknown
 * type, or with a malformed list, and drop the connection: the peer is
 * untrusted in both directions.
 *
 * Plain C: the guest agent is a static C program.
 */
#ifndef BULKHEAD_VMGUARD_PROTOCOL_H
#define BULKHEAD_VMGUARD_PROTOCOL_H

#include <stdint.h>

#define VG_PROTOCOL_VERSION 1
#define VG_MAX_PAYLOAD (64 * 1024)
#define VG_PORT_CTL "org.bulkhead.ctl"
#define VG_PORT_EXEC "org.bulkhead.exec"

struct vg_header {
	uint32_t len;  /* payload bytes */
	uint16_t type; /* enum vg_type */
	uint16_t flags; /* zero */
	uint32_t id;   /* the request this frame belongs to */
};

enum vg_type {
	/* host -> guest */
	VG_HELLO = 1,    /* ctl: answered by READY once the agent runs */
	VG_EXEC = 2,     /* arg*, env*, cwd, uid, gid, timeout_ms */
	VG_STDIN = 3,    /* raw bytes for the command `id` */
	VG_STDIN_EOF = 4,
	VG_SIGNAL = 5,   /* signal */
	VG_ATTACH = 6,   /* ctl: lower, path, size_mb: overlay the workspace */
	VG_DIFF = 7,     /* ctl: CHANGE... END */
	VG_READ = 8,     /* ctl: path -> DATA... END */
	VG_POWEROFF = 9, /* ctl */

	/* guest -> host */
	VG_READY = 32,   /* version, kernel */
	VG_STARTED = 33, /* pid */
	VG_STDOUT = 34,
	VG_STDERR = 35,
	VG_EXIT = 36,    /* code | signal, and timeout=1 when the wall time ran out */
	VG_ERROR = 37,   /* message: the request `id` failed */
	VG_OK = 38,      /* the request `id` succeeded */
	VG_CHANGE = 39,  /* op (A|M|D), type (f|d|l), mode, size, path, target */
	VG_DATA = 40,
	VG_END = 41,
};

#endif
