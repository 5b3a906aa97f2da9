// SPDX-License-Identifier: Apache-2.0
// bulkhead-attack: one file-system or process operation per invocation, for
// the kernel lab's attack cases (e2e/cases/*.case).
//
// Each subcommand performs exactly one attack and prints `ok` (after any data
// it read) or `errno=<NAME>` for the first call that failed, then exits 0 on
// success and 1 on failure (2 on a usage error). Errno names come from a
// table, never from strerror(), so cases can assert the exact value.
//
// Raw syscalls only (no liburing), so the build needs nothing but libc.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

#define E(name) [name] = #name
static const char *const errno_names[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV),
	E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
	E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK),
	E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK),
	E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ENOSTR),
	E(ENODATA), E(ETIME), E(ENOSR), E(ENOLINK), E(EPROTO), E(EBADMSG),
	E(EOVERFLOW), E(EILSEQ), E(EUSERS), E(ENOTSOCK), E(EDESTADDRREQ),
	E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT), E(EPROTONOSUPPORT),
	E(EOPNOTSUPP), E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL),
	E(ENETDOWN), E(ENETUNREACH), E(ECONNABORTED), E(ECONNRESET),
	E(ENOBUFS), E(EISCONN), E(ENOTCONN), E(ETIMEDOUT), E(ECONNREFUSED),
	E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS), E(ESTALE), E(EDQUOT),
	E(ECANCELED), E(EOWNERDEAD), E(ENOTRECOVERABLE), E(ERFKILL),
	E(EHWPOISON), E(EKEYEXPIRED), E(EKEYREJECTED), E(EKEYREVOKED),
	E(ENOKEY), E(EMEDIUMTYPE), E(ENOMEDIUM), E(EREMOTEIO),
};
#undef E

static const char *errno_name(int e)
{
	static char buf[32];

	if (e > 0 && (size_t)e < sizeof(errno_names) / sizeof(errno_names[0]) &&
	    errno_names[e])
		return errno_names[e];
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

// Prints errno=<NAME> for the current errno and returns the exit status 1.
static int fail(void)
{
	int e = errno;

	fflush(stdout);
	printf("errno=%s\n", errno_name(e));
	fflush(stdout);
	return 1;
}

static int ok(void)
{
	printf("ok\n");
	fflush(stdout);
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

// Copies fd to stdout with read(2). Data ends with a newline if it had none,
// so `ok` stays on its own line.
static int dump_fd(int fd)
{
	char buf[65536];
	ssize_t n;
	char last = '\n';

	fflush(stdout);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			return -1;
		last = buf[n - 1];
	}
	if (last != '\n')
		write_all(STDOUT_FILENO, "\n", 1);
	return 0;
}

static void dump_mem(const char *p, size_t len)
{
	fflush(stdout);
	write_all(STDOUT_FILENO, p, len);
	if (len && p[len - 1] != '\n')
		write_all(STDOUT_FILENO, "\n", 1);
}

// ---------------------------------------------------------------------------
// Plain file operations.

static int cmd_read(char **argv)
{
	int fd = open(argv[0], O_RDONLY);

	if (fd < 0 || dump_fd(fd) < 0)
		return fail();
	close(fd);
	return ok();
}

static int do_write(const char *path, const char *data, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0)
		return fail();
	if (write_all(fd, data, strlen(data)) < 0 || write_all(fd, "\n", 1) < 0)
		return fail();
	if (close(fd) < 0)
		return fail();
	return ok();
}

static int cmd_write(char **argv)
{
	return do_write(argv[0], argv[1], O_WRONLY | O_CREAT | O_TRUNC);
}

static int cmd_write_existing(char **argv)
{
	return do_write(argv[0], argv[1], O_WRONLY);
}

static int cmd_append(char **argv)
{
	return do_write(argv[0], argv[1], O_WRONLY | O_APPEND);
}

static int cmd_open_rw(char **argv)
{
	int fd = open(argv[0], O_RDWR);

	if (fd < 0)
		return fail();
	close(fd);
	return ok();
}

static int cmd_create(char **argv)
{
	int fd = open(argv[0], O_WRONLY | O_CREAT | O_EXCL, 0755);

	if (fd < 0)
		return fail();
	if (argv[1] && write_all(fd, argv[1], strlen(argv[1])) < 0)
		return fail();
	close(fd);
	return ok();
}

static int cmd_mkdir(char **argv)
{
	return mkdir(argv[0], 0755) < 0 ? fail() : ok();
}

static int cmd_rmdir(char **argv)
{
	return rmdir(argv[0]) < 0 ? fail() : ok();
}

static int cmd_symlink(char **argv)
{
	return symlink(argv[0], argv[1]) < 0 ? fail() : ok();
}

static int cmd_link(char **argv)
{
	return link(argv[0], argv[1]) < 0 ? fail() : ok();
}

static int cmd_rename(char **argv)
{
	return syscall(SYS_renameat2, AT_FDCWD, argv[0], AT_FDCWD, argv[1], 0) < 0 ? fail() : ok();
}

static int cmd_exchange(char **argv)
{
	return syscall(SYS_renameat2, AT_FDCWD, argv[0], AT_FDCWD, argv[1],
		       RENAME_EXCHANGE) < 0 ? fail() : ok();
}

static int cmd_unlink(char **argv)
{
	return unlink(argv[0]) < 0 ? fail() : ok();
}

static int cmd_truncate(char **argv)
{
	return truncate(argv[0], 0) < 0 ? fail() : ok();
}

static int cmd_chmod(char **argv)
{
	return chmod(argv[0], (mode_t)strtoul(argv[1], NULL, 8)) < 0 ? fail() : ok();
}

static int cmd_chown(char **argv)
{
	return chown(argv[0], (uid_t)atoi(argv[1]), (gid_t)atoi(argv[2])) < 0 ? fail() : ok();
}

// ---------------------------------------------------------------------------
// Reads that avoid read(2) on the protected file.

static int cmd_mmap(char **argv)
{
	struct stat st;
	int fd = open(argv[0], O_RDONLY);
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fail();
	if (st.st_size == 0)
		return ok();
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return fail();
	dump_mem(p, (size_t)st.st_size);
	return ok();
}

// mmap-exec PATH: what `ld.so PATH` does to run a program without exec:
// an executable mapping of its first page. Prints nothing of its bytes.
static int cmd_mmap_exec(char **argv)
{
	int fd = open(argv[0], O_RDONLY);
	void *p;

	if (fd < 0)
		return fail();
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return fail();
	return ok();
}

// exec PATH [ARGS...]: execve(2) PATH with ARGS; the program's own output
// and status follow when it runs.
static int cmd_exec(char **argv)
{
	fflush(stdout);
	execv(argv[0], argv);
	return fail();
}

// The descriptor comes from somewhere else (here: an fd the caller opened
// before the session could be restricted, passed as a number), then mmap.
static int cmd_mmap_fd(char **argv)
{
	int fd = atoi(argv[0]);
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return fail();
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail();
	dump_mem(p, (size_t)st.st_size);
	return ok();
}

static int cmd_mmap_write(char **argv)
{
	size_t len = strlen(argv[1]);
	struct stat st;
	int fd = open(argv[0], O_RDWR);
	char *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fail();
	if ((size_t)st.st_size < len && ftruncate(fd, (off_t)len) < 0)
		return fail();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail();
	memcpy(p, argv[1], len);
	if (msync(p, len, MS_SYNC) < 0)
		return fail();
	return ok();
}

// Data of `fd_in` is sent into a memfd by the kernel; the memfd is printed.
static int print_memfd(int mfd)
{
	if (lseek(mfd, 0, SEEK_SET) < 0 || dump_fd(mfd) < 0)
		return fail();
	return ok();
}

static int cmd_sendfile(char **argv)
{
	int in = open(argv[0], O_RDONLY);
	int mfd;
	ssize_t n;

	if (in < 0)
		return fail();
	mfd = (int)syscall(SYS_memfd_create, "attack-sendfile", MFD_CLOEXEC);
	if (mfd < 0)
		return fail();
	do {
		n = sendfile(mfd, in, NULL, 1 << 20);
	} while (n > 0);
	if (n < 0)
		return fail();
	return print_memfd(mfd);
}

static int cmd_splice(char **argv)
{
	int in = open(argv[0], O_RDONLY);
	int p[2];
	ssize_t n;

	if (in < 0 || pipe(p) < 0)
		return fail();
	n = splice(in, NULL, p[1], NULL, 65536, 0);
	if (n < 0)
		return fail();
	close(p[1]);
	if (dump_fd(p[0]) < 0)
		return fail();
	return ok();
}

static int cmd_copy_file_range(char **argv)
{
	int in = open(argv[0], O_RDONLY);
	int out;
	ssize_t n;

	if (in < 0)
		return fail();
	out = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		return fail();
	do {
		n = syscall(SYS_copy_file_range, in, NULL, out, NULL, 1 << 20, 0);
	} while (n > 0);
	if (n < 0)
		return fail();
	return print_memfd(out);
}

static int cmd_preadv2(char **argv)
{
	char buf[65536];
	struct iovec iov = { buf, sizeof(buf) };
	int fd = open(argv[0], O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail();
	n = preadv2(fd, &iov, 1, 0, 0);
	if (n < 0)
		return fail();
	dump_mem(buf, (size_t)n);
	return ok();
}

// ---------------------------------------------------------------------------
// Other ways to the same open.

static int cmd_opath_reopen(char **argv)
{
	char proc[64];
	int pfd = open(argv[0], O_PATH);
	int fd;

	if (pfd < 0)
		return fail();
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, argv[1] && strcmp(argv[1], "rw") == 0 ? O_RDWR : O_RDONLY);
	if (fd < 0 || dump_fd(fd) < 0)
		return fail();
	return ok();
}

static int cmd_openat2(char **argv)
{
	struct open_how how = { .flags = O_RDONLY };
	int fd;

	if (argv[1] && strcmp(argv[1], "beneath") == 0)
		how.resolve = RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, AT_FDCWD, argv[0], &how, sizeof(how));
	if (fd < 0 || dump_fd(fd) < 0)
		return fail();
	return ok();
}

static int cmd_handle_open(char **argv)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	int mount_id, mfd, fd;
	char dir[4096];
	char *slash;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, argv[0], &h.fh, &mount_id, 0) < 0)
		return fail();
	snprintf(dir, sizeof(dir), "%s", argv[0]);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), "/");
	mfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return fail();
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY);
	if (fd < 0 || dump_fd(fd) < 0)
		return fail();
	return ok();
}

// io_uring without liburing: set up the rings, submit one SQE, wait for its
// CQE. The open and the read happen in io_uring's own context, which is what
// the "curing" bypass relies on.
struct uring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_init(struct uring *r)
{
	struct io_uring_params p;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -1;
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		return -1;
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		       IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

// Submits *sqe and returns the CQE's res (a negative errno on failure), or
// sets errno and returns INT32_MIN when io_uring itself failed.
static int32_t uring_do(struct uring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int32_t res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return INT32_MIN;
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		errno = EAGAIN;
		return INT32_MIN;
	}
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int cmd_uring_open(char **argv)
{
	static char buf[65536];
	struct io_uring_sqe sqe;
	struct uring r;
	int32_t fd, n;

	if (uring_init(&r) < 0)
		return fail();
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_OPENAT;
	sqe.fd = AT_FDCWD;
	sqe.addr = (uint64_t)(uintptr_t)argv[0];
	sqe.open_flags = O_RDONLY;
	fd = uring_do(&r, &sqe);
	if (fd == INT32_MIN)
		return fail();
	if (fd < 0) {
		errno = -fd;
		return fail();
	}
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_READ;
	sqe.fd = fd;
	sqe.addr = (uint64_t)(uintptr_t)buf;
	sqe.len = sizeof(buf);
	n = uring_do(&r, &sqe);
	if (n == INT32_MIN)
		return fail();
	if (n < 0) {
		errno = -n;
		return fail();
	}
	dump_mem(buf, (size_t)n);
	return ok();
}

// ---------------------------------------------------------------------------
// Deep and long paths, built with *at() calls relative to a directory fd so
// no single path string has to fit PATH_MAX.

static int open_dir_chain(const char *root, int depth, int create)
{
	int dfd = open(root, O_RDONLY | O_DIRECTORY);

	for (int i = 0; dfd >= 0 && i < depth; i++) {
		int next;

		if (create && mkdirat(dfd, "d", 0755) < 0 && errno != EEXIST)
			return -1;
		next = openat(dfd, "d", O_RDONLY | O_DIRECTORY);
		close(dfd);
		dfd = next;
	}
	return dfd;
}

// deep-create ROOT DEPTH [FILE DATA]: ROOT/d/d/.../d (DEPTH times), and a
// file in the deepest directory.
static int cmd_deep_create(char **argv)
{
	int dfd = open_dir_chain(argv[0], atoi(argv[1]), 1);

	if (dfd < 0)
		return fail();
	if (argv[2]) {
		int fd = openat(dfd, argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0)
			return fail();
		if (argv[3] && write_all(fd, argv[3], strlen(argv[3])) < 0)
			return fail();
		close(fd);
	}
	return ok();
}

// deep-read ROOT DEPTH FILE: walk with openat and read the file at the bottom.
static int cmd_deep_read(char **argv)
{
	int dfd = open_dir_chain(argv[0], atoi(argv[1]), 0);
	int fd;

	if (dfd < 0)
		return fail();
	fd = openat(dfd, argv[2], O_RDONLY);
	if (fd < 0 || dump_fd(fd) < 0)
		return fail();
	return ok();
}

// The components of a path that is exactly `len` bytes long (without the
// NUL): ROOT, then directories of up to 200 'a's, then "/secret".
// Writes the directory names into names[], returns their count or -1.
#define LONG_FILE "secret"
static int long_components(const char *root, size_t len, char names[][256], int max)
{
	size_t used = strlen(root) + 1 + strlen(LONG_FILE);
	size_t remaining;
	int n = 0;

	if (used > len)
		return -1;
	remaining = len - used;
	while (remaining > 0) {
		size_t c = remaining - 1 < 200 ? remaining - 1 : 200;

		if (remaining - (c + 1) == 1)
			c--; // leave room for a last "/x", never a bare "/"
		if (c == 0 || n == max)
			return -1;
		memset(names[n], 'a', c);
		names[n][c] = '\0';
		n++;
		remaining -= c + 1;
	}
	return n;
}

static int longpath_walk(char **argv, int create)
{
	static char names[64][256];
	size_t len = strtoul(argv[1], NULL, 10);
	int n = long_components(argv[0], len, names, 64);
	int dfd, fd;

	if (n < 0) {
		fprintf(stderr, "longpath: cannot build a path of %zu bytes under %s\n", len, argv[0]);
		return 2;
	}
	dfd = open(argv[0], O_RDONLY | O_DIRECTORY);
	for (int i = 0; dfd >= 0 && i < n; i++) {
		int next;

		if (create && mkdirat(dfd, names[i], 0755) < 0 && errno != EEXIST)
			return fail();
		next = openat(dfd, names[i], O_RDONLY | O_DIRECTORY);
		close(dfd);
		dfd = next;
	}
	if (dfd < 0)
		return fail();
	if (create) {
		fd = openat(dfd, LONG_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write_all(fd, argv[2], strlen(argv[2])) < 0)
			return fail();
		close(fd);
		return ok();
	}
	fd = openat(dfd, LONG_FILE, O_RDONLY);
	if (fd < 0 || dump_fd(fd) < 0)
		return fail();
	return ok();
}

// longpath-create ROOT LEN DATA / longpath-read ROOT LEN / longpath-print ROOT LEN
static int cmd_longpath_create(char **argv)
{
	return longpath_walk(argv, 1);
}

static int cmd_longpath_read(char **argv)
{
	return longpath_walk(argv, 0);
}

static int cmd_longpath_print(char **argv)
{
	static char names[64][256];
	int n = long_components(argv[0], strtoul(argv[1], NULL, 10), names, 64);

	if (n < 0)
		return 2;
	printf("%s", argv[0]);
	for (int i = 0; i < n; i++)
		printf("/%s", names[i]);
	printf("/%s\n", LONG_FILE);
	return 0;
}

// ---------------------------------------------------------------------------
// Processes.

static int parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "KILL", SIGKILL }, { "TERM", SIGTERM }, { "STOP", SIGSTOP },
		{ "INT", SIGINT },   { "HUP", SIGHUP },   { "QUIT", SIGQUIT },
		{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "CONT", SIGCONT },
	};

	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	return atoi(s);
}

static int cmd_kill(char **argv)
{
	return kill((pid_t)atoi(argv[0]), parse_signal(argv[1])) < 0 ? fail() : ok();
}

static int cmd_ptrace(char **argv)
{
	pid_t pid = (pid_t)atoi(argv[0]);

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0)
		return fail();
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return ok();
}

// Moves this process to another cgroup (leaving the session's leaf).
static int cmd_cgroup_move(char **argv)
{
	char path[4096], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", argv[0]);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return do_write(path, pid, O_WRONLY);
}

// doublefork-setsid CMD...: fork, setsid, fork again, exec CMD in the
// grandchild (which ends up orphaned, in a new session and process group).
// Its output and exit status come back over pipes; the status is ours.
static int cmd_doublefork_setsid(char **argv)
{
	int outp[2], statp[2];
	pid_t child;
	char buf[4096];
	ssize_t n;
	int status = 1;

	if (pipe(outp) < 0 || pipe(statp) < 0)
		return fail();
	fflush(stdout);
	child = fork();
	if (child < 0)
		return fail();
	if (child == 0) {
		pid_t grandchild;

		if (setsid() < 0)
			_exit(3);
		grandchild = fork();
		if (grandchild < 0)
			_exit(3);
		if (grandchild == 0) {
			pid_t cmd;
			int st;

			close(outp[0]);
			close(statp[0]);
			cmd = fork(); // the command, so this process can report its status
			if (cmd == 0) {
				dup2(outp[1], STDOUT_FILENO);
				dup2(outp[1], STDERR_FILENO);
				close(outp[1]);
				close(statp[1]);
				execvp(argv[0], argv);
				dprintf(STDOUT_FILENO, "exec %s: errno=%s\n", argv[0], errno_name(errno));
				_exit(127);
			}
			close(outp[1]);
			if (cmd < 0 || waitpid(cmd, &st, 0) < 0)
				st = 3 << 8;
			st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			write_all(statp[1], &st, sizeof(st));
			_exit(0);
		}
		_exit(0); // orphan the grandchild
	}
	close(outp[1]);
	close(statp[1]);
	waitpid(child, NULL, 0);
	while ((n = read(outp[0], buf, sizeof(buf))) > 0)
		write_all(STDOUT_FILENO, buf, (size_t)n);
	if (read(statp[0], &status, sizeof(status)) != sizeof(status))
		status = 1;
	return status;
}

// ---------------------------------------------------------------------------
// BPF objects: the self-guard cases.

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

// bpf-obj-get PATH: get an fd for a pinned object.
/* connect(2) to a Unix socket at PATH: stream, or datagram with "dgram". */
static int cmd_unix_connect(char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int type = argv[1] && !strcmp(argv[1], "dgram") ? SOCK_DGRAM : SOCK_STREAM;
	int fd;

	if (strlen(argv[0]) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return fail();
	}
	strcpy(addr.sun_path, argv[0]);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return fail();
	close(fd);
	return ok();
}

static int cmd_bpf_obj_get(char **argv)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(uintptr_t)argv[0];
	return sys_bpf(BPF_OBJ_GET, &attr) < 0 ? fail() : ok();
}

// bpf-link-detach-all: detach every BPF link on the system; the first error
// is reported. Prints `links=N` first, so a case can tell "none existed".
static int cmd_bpf_link_detach_all(char **argv)
{
	union bpf_attr attr;
	uint32_t id = 0;
	int count = 0, err = 0;

	(void)argv;
	for (;;) {
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (sys_bpf(BPF_LINK_GET_NEXT_ID, &attr) < 0) {
			if (errno != ENOENT && !err)
				err = errno;
			break;
		}
		id = attr.next_id;
		count++;
		memset(&attr, 0, sizeof(attr));
		attr.link_id = id;
		fd = (int)sys_bpf(BPF_LINK_GET_FD_BY_ID, &attr);
		if (fd < 0) {
			if (!err)
				err = errno;
			continue;
		}
		memset(&attr, 0, sizeof(attr));
		attr.link_detach.link_fd = (uint32_t)fd;
		if (sys_bpf(BPF_LINK_DETACH, &attr) < 0 && !err)
			err = errno;
		close(fd);
	}
	printf("links=%d\n", count);
	if (err) {
		errno = err;
		return fail();
	}
	if (count == 0) {
		errno = ENOENT;
		return fail();
	}
	return ok();
}

// ---------------------------------------------------------------------------

struct command {
	const char *name;
	int min_args; // -1 after the name: variadic, at least 1
	int max_args;
	int (*fn)(char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "read", 1, 1, cmd_read, "PATH" },
	{ "write", 2, 2, cmd_write, "PATH DATA  (O_CREAT|O_TRUNC)" },
	{ "write-existing", 2, 2, cmd_write_existing, "PATH DATA  (O_WRONLY only)" },
	{ "append", 2, 2, cmd_append, "PATH DATA" },
	{ "open-rw", 1, 1, cmd_open_rw, "PATH" },
	{ "create", 1, 2, cmd_create, "PATH [DATA]  (O_CREAT|O_EXCL)" },
	{ "mkdir", 1, 1, cmd_mkdir, "PATH" },
	{ "rmdir", 1, 1, cmd_rmdir, "PATH" },
	{ "symlink", 2, 2, cmd_symlink, "TARGET PATH" },
	{ "link", 2, 2, cmd_link, "OLD NEW" },
	{ "rename", 2, 2, cmd_rename, "OLD NEW" },
	{ "exchange", 2, 2, cmd_exchange, "A B  (renameat2 RENAME_EXCHANGE)" },
	{ "unlink", 1, 1, cmd_unlink, "PATH" },
	{ "truncate", 1, 1, cmd_truncate, "PATH" },
	{ "chmod", 2, 2, cmd_chmod, "PATH OCTAL-MODE" },
	{ "chown", 3, 3, cmd_chown, "PATH UID GID" },
	{ "mmap", 1, 1, cmd_mmap, "PATH" },
	{ "mmap-fd", 1, 1, cmd_mmap_fd, "FD  (an inherited descriptor)" },
	{ "mmap-exec", 1, 1, cmd_mmap_exec, "PATH  (PROT_EXEC mapping, as ld.so PATH does)" },
	{ "exec", -1, 0, cmd_exec, "PATH [ARGS...]  (execve)" },
	{ "mmap-write", 2, 2, cmd_mmap_write, "PATH DATA" },
	{ "sendfile", 1, 1, cmd_sendfile, "PATH" },
	{ "splice", 1, 1, cmd_splice, "PATH" },
	{ "copy-file-range", 2, 2, cmd_copy_file_range, "PATH DST" },
	{ "preadv2", 1, 1, cmd_preadv2, "PATH" },
	{ "opath-reopen", 1, 2, cmd_opath_reopen, "PATH [rw]" },
	{ "openat2", 1, 2, cmd_openat2, "PATH [beneath]" },
	{ "handle-open", 1, 1, cmd_handle_open, "PATH  (name_to_handle_at + open_by_handle_at)" },
	{ "uring-open", 1, 1, cmd_uring_open, "PATH  (IORING_OP_OPENAT + IORING_OP_READ)" },
	{ "deep-create", 2, 4, cmd_deep_create, "ROOT DEPTH [FILE DATA]" },
	{ "deep-read", 3, 3, cmd_deep_read, "ROOT DEPTH FILE" },
	{ "longpath-create", 3, 3, cmd_longpath_create, "ROOT LEN DATA" },
	{ "longpath-read", 2, 2, cmd_longpath_read, "ROOT LEN" },
	{ "longpath-print", 2, 2, cmd_longpath_print, "ROOT LEN" },
	{ "kill", 2, 2, cmd_kill, "PID SIGNAL" },
	{ "ptrace", 1, 1, cmd_ptrace, "PID  (PTRACE_ATTACH)" },
	{ "cgroup-move", 1, 1, cmd_cgroup_move, "CGROUP-DIR  (write own pid to its cgroup.procs)" },
	{ "doublefork-setsid", -1, 0, cmd_doublefork_setsid, "CMD [ARGS...]" },
	{ "bpf-obj-get", 1, 1, cmd_bpf_obj_get, "PINNED-PATH" },
	{ "unix-connect", 1, 2, cmd_unix_connect, "SOCKET-PATH [dgram]" },
	{ "bpf-link-detach-all", 0, 0, cmd_bpf_link_detach_all, "" },
};

static int usage(void)
{
	fprintf(stderr, "usage: bulkhead-attack COMMAND ARGS...\n"
			"prints `ok` or `errno=<NAME>`; exits 0 on success, 1 on failure\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %s %s\n", commands[i].name, commands[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		int nargs = argc - 2;

		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (c->min_args < 0 ? nargs < 1 : nargs < c->min_args || nargs > c->max_args)
			return usage();
		return c->fn(argv + 2);
	}
	return usage();
}
