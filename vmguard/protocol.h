/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec channel between the host and the guest agent (vmguard/guest/agent.c):
 * frames over two virtio-serial ports, and a third when the VM has egress.
 *
 *   ctl  (VG_PORT_CTL)   the daemon only: hello, attach, diff, read, poweroff, exec
 *   exec (VG_PORT_EXEC)  the session's user: exec, stdin, signal
 *   net  (VG_PORT_NET)   the host's egress proxy (vmguard/egress.h): the TCP
 *                        streams of the guest's proxy listener, VG_NET_PORT on
 *                        127.0.0.1, multiplexed by `id` (the guest picks it)
 *
 * A frame is a 12-byte header (little endian) and `len` bytes of payload.
 * Payloads of requests and most replies are key/value lists: NUL-terminated
 * strings, alternating key and value ("arg\0ls\0arg\0-l\0cwd\0/w\0"); a key
 * may repeat (arg, env) and order is kept. STDIN/STDOUT/STDERR/DATA and
 * NET_DATA carry raw bytes. Both sides reject a frame longer than
 * VG_MAX_PAYLOAD, of an unknown type, or with a malformed list, and drop the
 * connection: the peer is untrusted in both directions.
 *
 * Net streams have per-stream flow control, so one stream whose reader
 * stalls never holds up the others: a side may have at most VG_NET_WINDOW
 * bytes of DATA on a stream that the peer has not acknowledged (NET_ACK,
 * sent once the bytes are written out). A peer that sends more, or
 * acknowledges more than it got, breaks the protocol. NET_CLOSE ends the
 * whole stream (no half-close: a client's shutdown(SHUT_WR) ends it too);
 * the receiver writes out what it already holds for it, then closes. After
 * a CLOSE either side may still receive frames the peer sent before it saw
 * the CLOSE: frames for an unknown id are ignored, and ids are never reused.
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
#define VG_PORT_NET "org.bulkhead.net"
#define VG_NET_PORT 3128          /* the guest's proxy listener on 127.0.0.1 */
#define VG_NET_WINDOW (256 * 1024) /* unacknowledged DATA per stream and direction */
#define VG_NET_MAX_STREAMS 64     /* open at once; the guest refuses more */

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

	/* net port only; the stream `id` */
	VG_NET_OPEN = 64,  /* guest -> host: a connection was accepted; no payload */
	VG_NET_DATA = 65,  /* either way: raw bytes */
	VG_NET_ACK = 66,   /* either way: bytes (how many of the peer's DATA bytes were written out) */
	VG_NET_CLOSE = 67, /* either way: the stream ended; no payload */
};

#endif
