/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bulkhead-guest: the guest agent of a vmguard microVM. /init (busybox) loads
 * the modules, mounts the read-only system share and execs this as PID 1.
 *
 * It serves the frames of vmguard/protocol.h on two virtio-serial ports: the
 * daemon's (ctl) and the session's (exec). Commands run in a cgroup with the
 * VM's pids and memory limits, so a fork bomb or a memory hog inside the VM
 * stops there and this agent keeps answering. It is static (no libraries from
 * the share) and single-threaded: one poll loop.
 *
 * With bulkhead.egress=1 on the kernel command line and a third port (net),
 * it also listens on 127.0.0.1:VG_NET_PORT and carries each connection to the
 * host's egress proxy as a stream of NET_* frames. The VM has no network
 * device either way: the proxy on the host is the only way out.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../protocol.h"

#define MAX_CHILDREN 16
#define MAX_KV 512
#define UPPER_ROOT "/vg/upper"
#define CMD_CGROUP "/sys/fs/cgroup/commands"
/* Output a command leaves open in a background process is read this long
 * after the command exits, then the command is reported finished. */
#define DRAIN_MS 300
/* A stream's bytes go in frames of one virtio-serial write (at most 32 KiB,
 * which the port takes whole or not at all). */
#define NET_CHUNK (32 * 1024 - (int)sizeof(struct vg_header))
/* A stream the host ended but whose client stopped reading is dropped then. */
#define NET_LINGER_MS 30000
#define STR_(x) #x
#define STR(x) STR_(x)
#define PROXY_URL "http://127.0.0.1:" STR(VG_NET_PORT)

enum { PORT_CTL, PORT_EXEC, PORT_NET, NPORTS };

struct port {
	const char *name;
	int fd;
	int up; /* the host side is connected */
	long long last_rx_ms;
	unsigned char buf[sizeof(struct vg_header) + VG_MAX_PAYLOAD];
	size_t have;
};

struct child {
	int used;
	int port;
	uint32_t id;
	pid_t pid;
	int in, out, err; /* our ends, -1 when closed */
	int exited, status, timed_out;
	long long deadline_ms, drain_until_ms;
};

/* One connection to the guest's proxy listener. */
struct stream {
	int used;
	uint32_t id;
	int fd;
	unsigned char *buf; /* the host's bytes for the client: VG_NET_WINDOW */
	size_t off, have;   /* buf[off, off + have) is still to write */
	size_t written;     /* written to the client, not yet acknowledged */
	size_t unacked;     /* sent to the host, not yet acknowledged */
	long long linger_until_ms; /* the host ended it: write out, then close */
};

static struct port ports[NPORTS] = { { VG_PORT_CTL, -1, 0, 0, {0}, 0 },
				     { VG_PORT_EXEC, -1, 0, 0, {0}, 0 },
				     { VG_PORT_NET, -1, 0, 0, {0}, 0 } };
static struct child children[MAX_CHILDREN];
static struct stream streams[VG_NET_MAX_STREAMS];
static int listen_fd = -1; /* egress is on */
static uint32_t next_stream_id = 1;
static char workspace[4096];
static char lower_dir[4096];

static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bulkhead-guest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* ---- frames ---- */

static void port_down(int p);

static int write_all(int p, const void *data, size_t len)
{
	const unsigned char *d = data;
	while (len) {
		ssize_t n = write(ports[p].fd, d, len);
		if (n > 0) {
			d += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* The host reads continuously; give up on a host that stopped
			 * for 10 s. The "host connected" notice travels on another
			 * virtqueue than the host's data and can come after it, so a
			 * port that reports hang-up right after a request is waited for. */
			long long until = now_ms() + 10000;
			int writable = 0;
			while (!writable && now_ms() < until) {
				struct pollfd pfd = { ports[p].fd, POLLOUT, 0 };
				if (poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLOUT) && !(pfd.revents & POLLHUP))
					writable = 1;
				else if (pfd.revents & POLLHUP)
					usleep(20000);
			}
			if (writable)
				continue;
		}
		port_down(p);
		return -1;
	}
	return 0;
}

static int send_frame(int p, uint16_t type, uint32_t id, const void *payload, size_t len)
{
	struct vg_header h = { (uint32_t)len, type, 0, id };
	if (!ports[p].up)
		return -1;
	if (write_all(p, &h, sizeof(h)) < 0)
		return -1;
	return len ? write_all(p, payload, len) : 0;
}

/* A key/value payload under construction. */
struct kvbuf {
	char data[VG_MAX_PAYLOAD];
	size_t len;
};

static void kv_add(struct kvbuf *b, const char *key, const char *value)
{
	size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
	if (b->len + kl + vl > sizeof(b->data))
		return; /* the caller's values are short; a cut list stays well formed */
	memcpy(b->data + b->len, key, kl);
	memcpy(b->data + b->len + kl, value, vl);
	b->len += kl + vl;
}

static void kv_addf(struct kvbuf *b, const char *key, const char *fmt, ...)
{
	char value[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	kv_add(b, key, value);
}

static void send_error(int p, uint32_t id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_frame(p, VG_ERROR, id, msg, strlen(msg));
}

/* Splits a key/value payload into pointers; -1 when malformed (odd count,
 * missing terminator, too many items). */
static int kv_parse(char *data, size_t len, char **items, int max)
{
	int n = 0;
	size_t i = 0;
	if (len == 0)
		return 0;
	if (data[len - 1] != '\0')
		return -1;
	while (i < len) {
		if (n == max)
			return -1;
		items[n++] = data + i;
		i += strlen(data + i) + 1;
	}
	return n % 2 ? -1 : n;
}

static const char *kv_get(char **items, int n, const char *key)
{
	for (int i = 0; i < n; i += 2)
		if (!strcmp(items[i], key))
			return items[i + 1];
	return NULL;
}

/* ---- commands ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static struct child *find_child(int port, uint32_t id)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].used && children[i].port == port && children[i].id == id)
			return &children[i];
	return NULL;
}

static long parse_num(const char *s, long dflt, long max)
{
	char *end;
	long v;
	if (!s)
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > max)
		return -1;
	return v;
}

static int mkdir_p(const char *path, mode_t mode);

static void do_exec(int p, uint32_t id, char **kv, int n)
{
	static const char *proxy_env[] = { "http_proxy=" PROXY_URL, "https_proxy=" PROXY_URL, "HTTP_PROXY=" PROXY_URL,
					   "HTTPS_PROXY=" PROXY_URL, "no_proxy=localhost,127.0.0.1",
					   "NO_PROXY=localhost,127.0.0.1" };
	char *argv[MAX_KV / 2 + 1], *envp[MAX_KV / 2 + 1 + sizeof(proxy_env) / sizeof(proxy_env[0])];
	int argc = 0, envc = 0, in[2], out[2], err[2];
	const char *cwd = kv_get(kv, n, "cwd");
	long uid = parse_num(kv_get(kv, n, "uid"), 0, 0x7fffffff);
	long gid = parse_num(kv_get(kv, n, "gid"), 0, 0x7fffffff);
	long timeout = parse_num(kv_get(kv, n, "timeout_ms"), 0, 24L * 3600 * 1000);
	struct child *c = NULL;

	for (int i = 0; i < n; i += 2) {
		if (!strcmp(kv[i], "arg"))
			argv[argc++] = kv[i + 1];
		else if (!strcmp(kv[i], "env"))
			envp[envc++] = kv[i + 1];
	}
	/* With egress, tools find the proxy; a request's own values win. */
	for (size_t i = 0; listen_fd >= 0 && i < sizeof(proxy_env) / sizeof(proxy_env[0]); i++) {
		size_t kl = strchr(proxy_env[i], '=') - proxy_env[i] + 1;
		int set = 0;
		for (int j = 0; j < envc && !set; j++)
			set = !strncmp(envp[j], proxy_env[i], kl);
		if (!set)
			envp[envc++] = (char *)proxy_env[i];
	}
	argv[argc] = NULL;
	envp[envc] = NULL;
	if (!argc || uid < 0 || gid < 0 || timeout < 0)
		return send_error(p, id, "exec: malformed request (no arg, or a bad uid, gid or timeout_ms)");
	if (find_child(p, id))
		return send_error(p, id, "exec: request id %u is already running", id);
	for (int i = 0; i < MAX_CHILDREN && !c; i++)
		if (!children[i].used)
			c = &children[i];
	if (!c)
		return send_error(p, id, "exec: %d commands already run; wait for one to finish", MAX_CHILDREN);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return send_error(p, id, "exec: pipe: %s", strerror(errno));

	pid_t pid = fork();
	if (pid < 0) {
		send_error(p, id, "exec: fork: %s", strerror(errno));
		close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(err[0]), close(err[1]);
		return;
	}
	if (pid == 0) {
		char self[32];
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		snprintf(self, sizeof(self), "%d", getpid());
		/* The limits live on the cgroup; without it the command does not run. */
		if (write_file(CMD_CGROUP "/cgroup.procs", self) < 0) {
			dprintf(err[1], "bulkhead-guest: cannot enter the command cgroup: %s\n", strerror(errno));
			_exit(126);
		}
		write_file("/proc/self/oom_score_adj", "500");
		dup2(in[0], 0), dup2(out[1], 1), dup2(err[1], 2);
		/* The guest's homes are empty tmpfs: the host's never come in. */
		for (int i = 0; envp[i]; i++)
			if (!strncmp(envp[i], "HOME=/", 6) && mkdir_p(envp[i] + 5, 0700) == 0)
				chown(envp[i] + 5, (uid_t)uid, (gid_t)gid);
		if (cwd && chdir(cwd) < 0) {
			dprintf(2, "bulkhead-guest: cd %s: %s\n", cwd, strerror(errno));
			_exit(126);
		}
		if (setgroups(0, NULL) < 0 || setgid((gid_t)gid) < 0 || setuid((uid_t)uid) < 0) {
			dprintf(2, "bulkhead-guest: cannot become uid %ld gid %ld: %s\n", uid, gid, strerror(errno));
			_exit(126);
		}
		/* execvpe searches the caller's PATH, not envp's: use the request's. */
		setenv("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin", 1);
		for (int i = 0; envp[i]; i++)
			if (!strncmp(envp[i], "PATH=", 5))
				setenv("PATH", envp[i] + 5, 1);
		execvpe(argv[0], argv, envp);
		dprintf(2, "bulkhead-guest: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(in[0]), close(out[1]), close(err[1]);
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->port = p;
	c->id = id;
	c->pid = pid;
	c->in = in[1];
	c->out = out[0];
	c->err = err[0];
	fcntl(c->out, F_SETFL, O_NONBLOCK);
	fcntl(c->err, F_SETFL, O_NONBLOCK);
	c->deadline_ms = timeout ? now_ms() + timeout : 0;
	struct kvbuf b = { .len = 0 };
	kv_addf(&b, "pid", "%d", pid);
	send_frame(p, VG_STARTED, id, b.data, b.len);
}

static void finish_child(struct child *c)
{
	struct kvbuf b = { .len = 0 };
	if (WIFSIGNALED(c->status))
		kv_addf(&b, "signal", "%d", WTERMSIG(c->status));
	else
		kv_addf(&b, "code", "%d", WEXITSTATUS(c->status));
	if (c->timed_out)
		kv_add(&b, "timeout", "1");
	/* Whatever the command left running goes with it. */
	kill(-c->pid, SIGKILL);
	send_frame(c->port, VG_EXIT, c->id, b.data, b.len);
	close_fd(&c->in), close_fd(&c->out), close_fd(&c->err);
	c->used = 0;
}

static void drain(struct child *c, int *fd, uint16_t type)
{
	unsigned char buf[32 * 1024];
	for (;;) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			send_frame(c->port, type, c->id, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_fd(fd);
		return;
	}
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_CHILDREN; i++) {
			struct child *c = &children[i];
			if (c->used && c->pid == pid && !c->exited) {
				c->exited = 1;
				c->status = status;
				c->drain_until_ms = now_ms() + DRAIN_MS;
			}
		}
	}
}

/* ---- the workspace overlay ---- */

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -1;
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static void do_attach(int p, uint32_t id, char **kv, int n)
{
	const char *lower = kv_get(kv, n, "lower"), *path = kv_get(kv, n, "path");
	long size_mb = parse_num(kv_get(kv, n, "size_mb"), 256, 1L << 20);
	char opts[9000], size[64];
	if (workspace[0])
		return send_error(p, id, "attach: a workspace is already attached at %s", workspace);
	if (!lower || !path || lower[0] != '/' || path[0] != '/' || size_mb <= 0 || strlen(path) >= sizeof(workspace) ||
	    strlen(lower) >= sizeof(lower_dir))
		return send_error(p, id, "attach: malformed request (lower, path: absolute; size_mb > 0)");
	snprintf(size, sizeof(size), "size=%ldm,mode=0755", size_mb);
	if (mkdir_p(UPPER_ROOT, 0755) < 0 || mount("upper", UPPER_ROOT, "tmpfs", 0, size) < 0)
		return send_error(p, id, "attach: tmpfs for the upper layer: %s", strerror(errno));
	if (mkdir(UPPER_ROOT "/u", 0755) < 0 || mkdir(UPPER_ROOT "/w", 0755) < 0 || mkdir_p(path, 0755) < 0)
		return send_error(p, id, "attach: mkdir: %s", strerror(errno));
	/* The upper root takes the workspace's owner and mode, so the session's
	 * user may create files at the top of it. */
	struct stat st;
	if (stat(lower, &st) == 0) {
		chown(UPPER_ROOT "/u", st.st_uid, st.st_gid);
		chmod(UPPER_ROOT "/u", st.st_mode & 07777);
	}
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=" UPPER_ROOT "/u,workdir=" UPPER_ROOT "/w", lower);
	if (mount("overlay", path, "overlay", 0, opts) < 0)
		return send_error(p, id, "attach: overlay on %s: %s", path, strerror(errno));
	snprintf(workspace, sizeof(workspace), "%s", path);
	snprintf(lower_dir, sizeof(lower_dir), "%s", lower);
	send_frame(p, VG_OK, id, NULL, 0);
}

static int is_opaque(const char *path)
{
	char v[4];
	ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

/* Reports the entries of the upper layer below `rel` (relative to the
 * workspace, "" for its root) as changes against the lower layer. */
static void diff_dir(int p, uint32_t id, const char *rel, int depth)
{
	char upath[8192], lpath[8192], crel[4096];
	DIR *d;
	struct dirent *e;
	snprintf(upath, sizeof(upath), UPPER_ROOT "/u/%s", rel);
	if (depth > 64 || !(d = opendir(upath)))
		return;
	while ((e = readdir(d))) {
		struct stat us, ls;
		struct kvbuf b = { .len = 0 };
		int in_lower;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= (int)sizeof(crel))
			continue;
		snprintf(upath, sizeof(upath), UPPER_ROOT "/u/%s", crel);
		snprintf(lpath, sizeof(lpath), "%s/%s", lower_dir, crel);
		if (lstat(upath, &us) < 0)
			continue;
		in_lower = lstat(lpath, &ls) == 0;
		if (S_ISCHR(us.st_mode) && us.st_rdev == makedev(0, 0)) {
			kv_add(&b, "op", "D");
			kv_add(&b, "type", in_lower && S_ISDIR(ls.st_mode) ? "d" : "f");
			kv_add(&b, "path", crel);
			send_frame(p, VG_CHANGE, id, b.data, b.len);
			continue;
		}
		if (S_ISDIR(us.st_mode)) {
			int opaque = is_opaque(upath);
			if (!in_lower || !S_ISDIR(ls.st_mode) || opaque) {
				if (in_lower) { /* replaced: the old tree goes first */
					kv_add(&b, "op", "D");
					kv_add(&b, "type", S_ISDIR(ls.st_mode) ? "d" : "f");
					kv_add(&b, "path", crel);
					send_frame(p, VG_CHANGE, id, b.data, b.len);
					b.len = 0;
				}
				kv_add(&b, "op", "A");
				kv_add(&b, "type", "d");
				kv_addf(&b, "mode", "%o", us.st_mode & 07777);
				kv_add(&b, "path", crel);
				send_frame(p, VG_CHANGE, id, b.data, b.len);
			} else if ((us.st_mode & 07777) != (ls.st_mode & 07777)) {
				kv_add(&b, "op", "M");
				kv_add(&b, "type", "d");
				kv_addf(&b, "mode", "%o", us.st_mode & 07777);
				kv_add(&b, "path", crel);
				send_frame(p, VG_CHANGE, id, b.data, b.len);
			}
			diff_dir(p, id, crel, depth + 1);
			continue;
		}
		if (!S_ISREG(us.st_mode) && !S_ISLNK(us.st_mode))
			continue; /* devices, fifos and sockets never go back to the host */
		kv_add(&b, "op", in_lower ? "M" : "A");
		kv_add(&b, "type", S_ISLNK(us.st_mode) ? "l" : "f");
		kv_addf(&b, "mode", "%o", us.st_mode & 07777);
		kv_addf(&b, "size", "%lld", (long long)us.st_size);
		kv_add(&b, "path", crel);
		if (S_ISLNK(us.st_mode)) {
			char target[4096];
			ssize_t n = readlink(upath, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			kv_add(&b, "target", target);
		}
		send_frame(p, VG_CHANGE, id, b.data, b.len);
	}
	closedir(d);
}

static void do_diff(int p, uint32_t id)
{
	if (!workspace[0])
		return send_error(p, id, "diff: no workspace is attached");
	diff_dir(p, id, "", 0);
	send_frame(p, VG_END, id, NULL, 0);
}

static void do_read(int p, uint32_t id, char **kv, int n)
{
	const char *rel = kv_get(kv, n, "path");
	char upath[8192], buf[32 * 1024];
	if (!workspace[0])
		return send_error(p, id, "read: no workspace is attached");
	if (!rel || rel[0] == '/' || strstr(rel, ".."))
		return send_error(p, id, "read: malformed path");
	snprintf(upath, sizeof(upath), UPPER_ROOT "/u/%s", rel);
	int fd = open(upath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return send_error(p, id, "read %s: %s", rel, strerror(errno));
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		send_frame(p, VG_DATA, id, buf, (size_t)r);
	close(fd);
	if (r < 0)
		return send_error(p, id, "read %s: %s", rel, strerror(errno));
	send_frame(p, VG_END, id, NULL, 0);
}

/* ---- egress: streams to the host's proxy ---- */

/* A net frame in one write (see NET_CHUNK): a stream's DATA is only read
 * when poll said the port is writable, so it goes out at once, and a frame
 * is never left half-written between two streams' frames. */
static int send_net(uint16_t type, uint32_t id, const void *payload, size_t len)
{
	static unsigned char frame[sizeof(struct vg_header) + NET_CHUNK];
	struct vg_header h = { (uint32_t)len, type, 0, id };
	if (!ports[PORT_NET].up || len > NET_CHUNK)
		return -1;
	memcpy(frame, &h, sizeof(h));
	if (len)
		memcpy(frame + sizeof(h), payload, len);
	return write_all(PORT_NET, frame, sizeof(h) + len);
}

static struct stream *find_stream(uint32_t id)
{
	for (int i = 0; i < VG_NET_MAX_STREAMS; i++)
		if (streams[i].used && streams[i].id == id)
			return &streams[i];
	return NULL;
}

/* Frees the slot first: telling the host can take the port down, which
 * ends every stream. */
static void stream_end(struct stream *s, int tell_host)
{
	uint32_t id = s->id;
	close(s->fd);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (tell_host)
		send_net(VG_NET_CLOSE, id, NULL, 0);
}

/* Writes what the host sent to the client and acknowledges it. */
static void stream_flush(struct stream *s)
{
	while (s->have) {
		ssize_t n = send(s->fd, s->buf + s->off, s->have, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return stream_end(s, 1);
		s->off += (size_t)n;
		s->have -= (size_t)n;
		s->written += (size_t)n;
	}
	if (!s->have)
		s->off = 0;
	/* Batched, so a trickle of small writes does not cost a frame each. */
	if (s->written && (s->written >= VG_NET_WINDOW / 4 || !s->have)) {
		struct kvbuf b = { .len = 0 };
		kv_addf(&b, "bytes", "%zu", s->written);
		s->written = 0;
		if (send_net(VG_NET_ACK, s->id, b.data, b.len) < 0 || !s->used)
			return;
	}
	if (s->linger_until_ms && !s->have)
		stream_end(s, 0);
}

/* The client sent bytes: to the host, within the stream's window. */
static void stream_read(struct stream *s)
{
	static unsigned char buf[NET_CHUNK];
	size_t room = VG_NET_WINDOW - s->unacked;
	ssize_t n = read(s->fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return stream_end(s, 1); /* EOF or reset: the stream is over */
	s->unacked += (size_t)n;
	send_net(VG_NET_DATA, s->id, buf, (size_t)n);
}

static int net_writable(void)
{
	struct pollfd probe = { ports[PORT_NET].fd, POLLOUT, 0 };
	if (listen_fd < 0 || !ports[PORT_NET].up)
		return 0;
	return poll(&probe, 1, 0) > 0 && (probe.revents & POLLOUT) && !(probe.revents & POLLHUP);
}

static void net_accept(void)
{
	struct stream *s = NULL;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < VG_NET_MAX_STREAMS && !s; i++)
		if (!streams[i].used)
			s = &streams[i];
	/* No proxy on the host, or too many streams: refused, at once rather
	 * than left waiting. */
	if (!s || !ports[PORT_NET].up || !(s->buf = malloc(VG_NET_WINDOW))) {
		close(fd);
		return;
	}
	s->used = 1;
	s->fd = fd;
	s->id = next_stream_id++;
	if (!next_stream_id)
		next_stream_id = 1;
	send_net(VG_NET_OPEN, s->id, NULL, 0);
}

/* The host is as untrusted as the guest's own programs: a frame that breaks
 * a stream's window ends that stream. Frames for a stream that ended
 * before the host saw it end are dropped (protocol.h). */
static void handle_net_frame(const struct vg_header *h, char *payload)
{
	struct stream *s = find_stream(h->id);
	switch (h->type) {
	case VG_NET_DATA:
		if (!s || s->linger_until_ms || !h->len)
			return;
		if (h->len > VG_NET_WINDOW - s->have - s->written) {
			logmsg("net: the host overran the window of stream %u; ending it", h->id);
			return stream_end(s, 1);
		}
		if (s->off + s->have + h->len > VG_NET_WINDOW) {
			memmove(s->buf, s->buf + s->off, s->have);
			s->off = 0;
		}
		memcpy(s->buf + s->off + s->have, payload, h->len);
		s->have += h->len;
		return stream_flush(s);
	case VG_NET_ACK: {
		char *kv[2];
		int n = kv_parse(payload, h->len, kv, 2);
		long bytes = n == 2 ? parse_num(kv_get(kv, n, "bytes"), -1, VG_NET_WINDOW) : -1;
		if (!s)
			return;
		if (bytes < 0 || (size_t)bytes > s->unacked) {
			logmsg("net: the host acknowledged bytes stream %u never sent; ending it", h->id);
			return stream_end(s, 1);
		}
		s->unacked -= (size_t)bytes;
		return;
	}
	case VG_NET_CLOSE:
		if (!s)
			return;
		s->linger_until_ms = now_ms() + NET_LINGER_MS;
		return stream_flush(s);
	default:
		send_error(PORT_NET, h->id, "frame type %u is not allowed on the net port", h->type);
	}
}

/* Brings up lo, the VM's only interface (/init does too; the proxy must not
 * depend on it), and listens on it. */
static void net_setup(void)
{
	struct ifreq ifr;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(VG_NET_PORT),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		logmsg("egress: lo: %s; no egress", strerror(errno));
		if (s >= 0)
			close(s);
		return;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		logmsg("egress: cannot bring up lo: %s; no egress", strerror(errno));
		close(s);
		return;
	}
	close(s);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listen_fd, VG_NET_MAX_STREAMS) < 0) {
		logmsg("egress: listen on 127.0.0.1:%d: %s; no egress", VG_NET_PORT, strerror(errno));
		if (listen_fd >= 0)
			close(listen_fd);
		listen_fd = -1;
	}
}

/* ---- the ports ---- */

static void port_down(int p)
{
	if (!ports[p].up)
		return;
	ports[p].up = 0;
	ports[p].have = 0;
	/* A session whose client went away does not keep running in here. */
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].used && children[i].port == p)
			kill(-children[i].pid, SIGKILL);
	/* Nor do connections through a proxy that went away. */
	for (int i = 0; p == PORT_NET && i < VG_NET_MAX_STREAMS; i++)
		if (streams[i].used)
			stream_end(&streams[i], 0);
}

static void handle_frame(int p, const struct vg_header *h, char *payload)
{
	char *kv[MAX_KV];
	int n = 0;
	int raw = h->type == VG_STDIN;
	if (p == PORT_NET)
		return handle_net_frame(h, payload);
	if (!raw && (n = kv_parse(payload, h->len, kv, MAX_KV)) < 0)
		return send_error(p, h->id, "malformed key/value payload in frame type %u", h->type);
	/* The exec port belongs to the session: it runs commands and no more. */
	if (p == PORT_EXEC && h->type != VG_EXEC && h->type != VG_STDIN && h->type != VG_STDIN_EOF &&
	    h->type != VG_SIGNAL)
		return send_error(p, h->id, "frame type %u is not allowed on the exec port", h->type);
	struct child *c = find_child(p, h->id);
	switch (h->type) {
	case VG_HELLO: {
		struct utsname u;
		struct kvbuf b = { .len = 0 };
		uname(&u);
		kv_addf(&b, "version", "%d", VG_PROTOCOL_VERSION);
		kv_add(&b, "kernel", u.release);
		send_frame(p, VG_READY, h->id, b.data, b.len);
		break;
	}
	case VG_EXEC:
		do_exec(p, h->id, kv, n);
		break;
	case VG_STDIN:
		if (c && c->in >= 0 && h->len) {
			ssize_t off = 0;
			while (off < h->len) {
				ssize_t w = write(c->in, payload + off, h->len - off);
				if (w <= 0) {
					close_fd(&c->in);
					break;
				}
				off += w;
			}
		}
		break;
	case VG_STDIN_EOF:
		if (c)
			close_fd(&c->in);
		break;
	case VG_SIGNAL: {
		long sig = parse_num(kv_get(kv, n, "signal"), -1, 64);
		if (c && sig > 0)
			kill(-c->pid, (int)sig);
		break;
	}
	case VG_ATTACH:
		do_attach(p, h->id, kv, n);
		break;
	case VG_DIFF:
		do_diff(p, h->id);
		break;
	case VG_READ:
		do_read(p, h->id, kv, n);
		break;
	case VG_POWEROFF:
		send_frame(p, VG_OK, h->id, NULL, 0);
		sync();
		/* QEMU runs with -no-reboot: a reset ends it on every machine type. */
		reboot(RB_AUTOBOOT);
		break;
	default:
		send_error(p, h->id, "unknown frame type %u", h->type);
	}
}

static void read_port(int p)
{
	struct port *pt = &ports[p];
	ssize_t n = read(pt->fd, pt->buf + pt->have, sizeof(pt->buf) - pt->have);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			port_down(p);
		return;
	}
	pt->have += (size_t)n;
	while (pt->have >= sizeof(struct vg_header)) {
		struct vg_header h;
		memcpy(&h, pt->buf, sizeof(h));
		if (h.len > VG_MAX_PAYLOAD || h.flags) {
			/* A broken stream cannot be resynchronised: drop it. */
			send_error(p, h.id, "frame of %u bytes (limit %d) or flags set: stream dropped", h.len, VG_MAX_PAYLOAD);
			pt->have = 0;
			return;
		}
		if (pt->have < sizeof(h) + h.len)
			return;
		static char payload[VG_MAX_PAYLOAD + 1];
		memcpy(payload, pt->buf + sizeof(h), h.len);
		payload[h.len] = '\0';
		memmove(pt->buf, pt->buf + sizeof(h) + h.len, pt->have - sizeof(h) - h.len);
		pt->have -= sizeof(h) + h.len;
		handle_frame(p, &h, payload);
	}
}

static int open_port(const char *name)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int fd = -1;
	if (!d)
		return -1;
	while (fd < 0 && (e = readdir(d))) {
		char path[512], got[128] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(got, sizeof(got), f))
			got[strcspn(got, "\n")] = '\0';
		fclose(f);
		if (strcmp(got, name))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	}
	closedir(d);
	return fd;
}

/* bulkhead.pids=N and bulkhead.mem_mb=N from the kernel command line. */
static long cmdline_num(const char *key, long dflt)
{
	char line[4096] = "", *s;
	FILE *f = fopen("/proc/cmdline", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	for (s = strtok(line, " \n"); s; s = strtok(NULL, " \n"))
		if (!strncmp(s, key, strlen(key)) && s[strlen(key)] == '=')
			return atol(s + strlen(key) + 1);
	return dflt;
}

static void setup_limits(void)
{
	char v[64];
	write_file("/proc/self/oom_score_adj", "-1000");
	if (mkdir(CMD_CGROUP, 0755) < 0 && errno != EEXIST)
		logmsg("cgroup %s: %s", CMD_CGROUP, strerror(errno));
	if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids +memory") < 0)
		logmsg("cannot enable the pids and memory controllers: %s", strerror(errno));
	snprintf(v, sizeof(v), "%ld", cmdline_num("bulkhead.pids", 512));
	if (write_file(CMD_CGROUP "/pids.max", v) < 0)
		logmsg("pids.max: %s", strerror(errno));
	snprintf(v, sizeof(v), "%ldM", cmdline_num("bulkhead.mem_mb", 256));
	if (write_file(CMD_CGROUP "/memory.max", v) < 0)
		logmsg("memory.max: %s", strerror(errno));
	write_file(CMD_CGROUP "/memory.swap.max", "0");
}

int main(void)
{
	/* PIPE: a command's stdin may close under us; CHLD stays default so
	 * waitpid sees every child (PID 1 reaps orphans too). */
	signal(SIGPIPE, SIG_IGN);
	setup_limits();
	for (int p = 0; p < PORT_NET; p++) {
		if ((ports[p].fd = open_port(ports[p].name)) < 0) {
			logmsg("virtio-serial port %s not found; stopping the VM", ports[p].name);
			reboot(RB_AUTOBOOT);
			return 1;
		}
	}
	if (cmdline_num("bulkhead.egress", 0) == 1) {
		if ((ports[PORT_NET].fd = open_port(VG_PORT_NET)) < 0)
			logmsg("egress: virtio-serial port %s not found; no egress", VG_PORT_NET);
		else
			net_setup();
	}
	logmsg("serving %s and %s%s", VG_PORT_CTL, VG_PORT_EXEC,
	       listen_fd >= 0 ? ", egress on 127.0.0.1:" STR(VG_NET_PORT) : "");
	for (;;) {
		struct pollfd pfd[NPORTS + 3 * MAX_CHILDREN + 1 + VG_NET_MAX_STREAMS];
		struct { struct child *c; int *fd; uint16_t type; } map[3 * MAX_CHILDREN];
		struct { struct stream *s; uint32_t id; } smap[VG_NET_MAX_STREAMS];
		int n = 0, m = 0, ns = 0, lidx = -1, timeout = -1, net_out = 0, free_slot = 0;
		long long now = now_ms();
		/* Streams send only while the net port takes a frame at once. */
		net_out = net_writable();
		for (int p = 0; p < NPORTS; p++) {
			if (ports[p].fd < 0) {
				pfd[n++] = (struct pollfd){ -1, 0, 0 };
				continue;
			}
			/* A port without a host reports POLLHUP at once, every time:
			 * leave it out and look again every 100 ms rather than spin. */
			pfd[n++] = (struct pollfd){ ports[p].up ? ports[p].fd : -1,
						    POLLIN | (p == PORT_NET && !net_out ? POLLOUT : 0), 0 };
			if (!ports[p].up)
				timeout = 100;
		}
		for (int i = 0; i < MAX_CHILDREN; i++) {
			struct child *c = &children[i];
			if (!c->used)
				continue;
			if (c->deadline_ms && !c->exited && now >= c->deadline_ms) {
				c->timed_out = 1;
				c->deadline_ms = 0;
				kill(-c->pid, SIGKILL);
			}
			if (c->exited && ((c->out < 0 && c->err < 0) || now >= c->drain_until_ms)) {
				if (c->out >= 0)
					drain(c, &c->out, VG_STDOUT);
				if (c->err >= 0)
					drain(c, &c->err, VG_STDERR);
				finish_child(c);
				continue;
			}
			if (c->out >= 0) {
				map[m] = (typeof(map[0])){ c, &c->out, VG_STDOUT };
				pfd[NPORTS + m++] = (struct pollfd){ c->out, POLLIN, 0 };
			}
			if (c->err >= 0) {
				map[m] = (typeof(map[0])){ c, &c->err, VG_STDERR };
				pfd[NPORTS + m++] = (struct pollfd){ c->err, POLLIN, 0 };
			}
			timeout = timeout < 0 || timeout > 50 ? 50 : timeout; /* reap and deadlines */
		}
		n += m;
		for (int i = 0; i < VG_NET_MAX_STREAMS; i++) {
			struct stream *st = &streams[i];
			if (!st->used) {
				free_slot = 1;
				continue;
			}
			if (st->linger_until_ms) {
				if (now >= st->linger_until_ms) {
					stream_end(st, 0);
					continue;
				}
				timeout = timeout < 0 || timeout > 1000 ? 1000 : timeout;
			}
			short ev = (net_out && !st->linger_until_ms && st->unacked < VG_NET_WINDOW ? POLLIN : 0) |
				   (st->have ? POLLOUT : 0);
			smap[ns] = (typeof(smap[0])){ st, st->id };
			pfd[n + ns++] = (struct pollfd){ ev ? st->fd : -1, ev, 0 };
		}
		n += ns;
		/* Without a proxy on the host, or with every slot taken, a new
		 * connection is accepted to be refused; else it waits for the port. */
		if (listen_fd >= 0 && (net_out || !ports[PORT_NET].up || !free_slot)) {
			lidx = n;
			pfd[n++] = (struct pollfd){ listen_fd, POLLIN, 0 };
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			logmsg("poll: %s", strerror(errno));
		for (int p = 0; p < NPORTS; p++) {
			short re = pfd[p].revents;
			if (ports[p].fd < 0)
				continue;
			if (!ports[p].up) {
				struct pollfd probe = { ports[p].fd, POLLIN, 0 };
				poll(&probe, 1, 0);
				re = probe.revents;
				if (!(re & (POLLIN | POLLHUP)))
					ports[p].up = 1; /* connected, nothing sent yet */
			}
			if (re & POLLIN) {
				ports[p].up = 1;
				ports[p].last_rx_ms = now_ms();
				read_port(p);
			} else if ((re & POLLHUP) && ports[p].up) {
				/* The "host connected" notice can trail the host's first
				 * bytes: a hang-up right after data is not believed yet. */
				if (now_ms() - ports[p].last_rx_ms > 1000)
					port_down(p);
				else
					usleep(10000);
			}
		}
		for (int k = 0; k < m; k++)
			if (pfd[NPORTS + k].revents && *map[k].fd >= 0)
				drain(map[k].c, map[k].fd, map[k].type);
		/* A stream the port's frames ended is gone (ids are never reused). */
		for (int k = 0; k < ns; k++) {
			struct stream *st = smap[k].s;
			const struct pollfd *q = &pfd[NPORTS + m + k];
			if ((q->revents & (POLLOUT | POLLHUP | POLLERR)) && st->used && st->id == smap[k].id && st->have)
				stream_flush(st);
			/* Other streams' frames may have filled the port meanwhile. */
			if ((q->events & POLLIN) && (q->revents & (POLLIN | POLLHUP | POLLERR)) && st->used &&
			    st->id == smap[k].id && net_writable())
				stream_read(st);
		}
		if (lidx >= 0 && (pfd[lidx].revents & POLLIN))
			net_accept();
		reap();
	}
}
