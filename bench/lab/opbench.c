// SPDX-License-Identifier: Apache-2.0
// bulkhead-opbench: median nanoseconds per operation for the syscalls a file
// guard taxes (openat+close, openat of a missing file, fork+exec), the one
// the net guard taxes (a UDP socket's connect, which runs the cgroup connect
// hook without a handshake) and one nothing may tax (getpid). Run it bare and under bulkhead in the same boot and
// compare ratios; absolute numbers under TCG mean nothing.
//
//   bulkhead-opbench [--dir DIR] [--batches N] [--only OP] [--iters OP=N]...
//
// Prints one line per op: `op=NAME median_ns=X min_ns=Y max_ns=Z batches=B iters=I`.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char existing[4096];
static char missing[4096];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int op_open_close(void)
{
	int fd = openat(AT_FDCWD, existing, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int op_open_missing(void)
{
	int fd = openat(AT_FDCWD, missing, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		errno = EEXIST;
		return -1;
	}
	return errno == ENOENT ? 0 : -1;
}

static int op_fork_exec(void)
{
	static char *const argv[] = { "true", NULL };
	static char *const envp[] = { NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execve("/bin/true", argv, envp);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = ECHILD;
		return -1;
	}
	return 0;
}

static int op_connect_udp(void)
{
	// A loopback destination: allowed by every bulkhead policy, so this
	// measures the hook's lookups, not a denial.
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int op_getpid(void)
{
	// syscall(2) so no libc cache can answer in userspace.
	return syscall(SYS_getpid) > 0 ? 0 : -1;
}

struct op {
	const char *name;
	int (*fn)(void);
	long iters; // per batch
};

static struct op ops[] = {
	{ "openat-close", op_open_close, 20000 },
	{ "openat-missing", op_open_missing, 20000 },
	{ "fork-exec", op_fork_exec, 40 },
	{ "connect-udp", op_connect_udp, 20000 },
	{ "getpid", op_getpid, 200000 },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: bulkhead-opbench [--dir DIR] [--batches N] [--only OP] [--iters OP=N]...\n"
		"  ops:");
	for (size_t i = 0; i < NOPS; i++)
		fprintf(stderr, " %s", ops[i].name);
	fprintf(stderr, "\n  DIR holds the file that openat-close opens (created if missing)\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp/bench-open";
	const char *only = NULL;
	int batches = 11;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) {
			batches = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			size_t k;

			if (!eq)
				return usage();
			for (k = 0; k < NOPS; k++)
				if (strncmp(ops[k].name, argv[i], (size_t)(eq - argv[i])) == 0 &&
				    ops[k].name[eq - argv[i]] == '\0')
					break;
			if (k == NOPS)
				return usage();
			ops[k].iters = atol(eq + 1);
		} else {
			return usage();
		}
	}
	if (batches < 1)
		return usage();

	snprintf(existing, sizeof(existing), "%s/existing", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "opbench: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	{
		int fd = open(existing, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0) {
			fprintf(stderr, "opbench: cannot create %s: %s\n", existing, strerror(errno));
			return 1;
		}
		close(fd);
		unlink(missing);
	}

	for (size_t k = 0; k < NOPS; k++) {
		struct op *op = &ops[k];
		uint64_t *per_op = calloc((size_t)batches, sizeof(*per_op));

		if (only && strcmp(only, op->name) != 0)
			continue;
		if (!per_op || op->iters < 1)
			return 1;
		// One warm-up batch (dentry cache, page cache, lazy binding).
		for (long i = 0; i < op->iters; i++)
			if (op->fn() < 0) {
				fprintf(stderr, "opbench: %s failed: %s\n", op->name, strerror(errno));
				return 1;
			}
		for (int b = 0; b < batches; b++) {
			uint64_t start = now_ns();

			for (long i = 0; i < op->iters; i++)
				if (op->fn() < 0) {
					fprintf(stderr, "opbench: %s failed: %s\n", op->name,
						strerror(errno));
					return 1;
				}
			per_op[b] = (now_ns() - start) / (uint64_t)op->iters;
		}
		qsort(per_op, (size_t)batches, sizeof(*per_op), cmp_u64);
		printf("op=%s median_ns=%llu min_ns=%llu max_ns=%llu batches=%d iters=%ld\n", op->name,
		       (unsigned long long)per_op[batches / 2], (unsigned long long)per_op[0],
		       (unsigned long long)per_op[batches - 1], batches, op->iters);
		fflush(stdout);
		free(per_op);
	}
	return 0;
}
