// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stress: concurrent mixed namespace and data operations.
 *
 *   stress DIR NPROC SECONDS
 *
 * NPROC processes, each with its own deterministic random seed, run for about
 * SECONDS seconds on a shared subtree (DIR/d0..d3, names f0..f23): create,
 * write, append, read, stat, rename (also across directories), unlink. They
 * race on purpose, so ENOENT from an operation whose file another process just
 * renamed or removed is expected; any other error is a failure. Each process
 * also owns a private file whose content it knows exactly and checks after
 * every rewrite. Prints per-process counts; exits 1 on any unexpected error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NDIRS 4
#define NNAMES 24
#define MAXW (256 * 1024)

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bad;

static void unexpected(int id, const char *op, const char *p)
{
	fprintf(stderr, "stress[%d]: %s %s: unexpected %s\n", id, op, p,
		strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	bad++;
}

static void rand_path(const char *dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/d%u/f%u", dir, (unsigned)(next() % NDIRS),
		 (unsigned)(next() % NNAMES));
}

static void fill(unsigned char *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (unsigned char)(seed >> 56);
	}
}

static int worker(const char *dir, int id, double seconds)
{
	static unsigned char buf[MAXW], chk[MAXW];
	unsigned long ops[8] = { 0 };
	char p[4096], q[4096], mine[4096];
	double end = now() + seconds;
	size_t mine_len;
	uint64_t mine_seed;

	rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
	snprintf(mine, sizeof(mine), "%s/own-%d", dir, id);
	while (now() < end && bad < 20) {
		unsigned op = (unsigned)(next() % 8);
		int fd;
		ssize_t n;
		size_t len;

		ops[op]++;
		switch (op) {
		case 0: /* create or truncate, write */
			rand_path(dir, p, sizeof(p));
			len = next() % 65536;
			fill(buf, len, next());
			fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd < 0) {
				/* the directory always exists: only a race on
				 * the name itself is possible, and O_CREAT
				 * wins it */
				unexpected(id, "create", p);
				break;
			}
			if (write(fd, buf, len) != (ssize_t)len)
				unexpected(id, "write", p);
			if (close(fd))
				unexpected(id, "close", p);
			break;
		case 1: /* append */
			rand_path(dir, p, sizeof(p));
			fd = open(p, O_WRONLY | O_APPEND);
			if (fd < 0) {
				if (errno != ENOENT)
					unexpected(id, "open append", p);
				break;
			}
			len = next() % 8192;
			fill(buf, len, next());
			if (write(fd, buf, len) != (ssize_t)len)
				unexpected(id, "append", p);
			close(fd);
			break;
		case 2: /* read it all */
			rand_path(dir, p, sizeof(p));
			fd = open(p, O_RDONLY);
			if (fd < 0) {
				if (errno != ENOENT)
					unexpected(id, "open read", p);
				break;
			}
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				;
			if (n < 0)
				unexpected(id, "read", p);
			close(fd);
			break;
		case 3: { /* stat */
			struct stat st;

			rand_path(dir, p, sizeof(p));
			if (lstat(p, &st) < 0) {
				if (errno != ENOENT)
					unexpected(id, "lstat", p);
			} else if (!S_ISREG(st.st_mode)) {
				errno = 0;
				unexpected(id, "lstat (not a regular file)", p);
			}
			break;
		}
		case 4: /* rename */
			rand_path(dir, p, sizeof(p));
			rand_path(dir, q, sizeof(q));
			if (rename(p, q) < 0 && errno != ENOENT)
				unexpected(id, "rename", p);
			break;
		case 5: /* unlink */
			rand_path(dir, p, sizeof(p));
			if (unlink(p) < 0 && errno != ENOENT)
				unexpected(id, "unlink", p);
			break;
		case 6: /* open the directory */
			snprintf(p, sizeof(p), "%s/d%u", dir, (unsigned)(next() % NDIRS));
			fd = open(p, O_RDONLY | O_DIRECTORY);
			if (fd < 0)
				unexpected(id, "opendir", p);
			else
				close(fd);
			break;
		case 7: /* private file: rewrite at a random offset, verify all */
		{
			size_t off = next() % 32768;

			len = 1 + next() % 65536;
			fd = open(mine, O_CREAT | O_RDWR, 0644);
			if (fd < 0) {
				unexpected(id, "open own", mine);
				break;
			}
			/* reconstruct expected content: keep it simple, rewrite
			 * the whole file from one seed, then a patch */
			mine_seed = next();
			mine_len = off + len;
			fill(buf, mine_len, mine_seed);
			if (ftruncate(fd, 0) || pwrite(fd, buf, off, 0) != (ssize_t)off ||
			    pwrite(fd, buf + off, len, (off_t)off) != (ssize_t)len) {
				unexpected(id, "write own", mine);
				close(fd);
				break;
			}
			n = pread(fd, chk, sizeof(chk), 0);
			if (n != (ssize_t)mine_len || memcmp(buf, chk, mine_len)) {
				fprintf(stderr, "stress[%d]: own file content wrong (%zd bytes, expected %zu)\n",
					id, n, mine_len);
				bad++;
			}
			close(fd);
			break;
		}
		}
	}
	printf("stress[%d]: create %lu append %lu read %lu stat %lu rename %lu unlink %lu "
	       "opendir %lu own %lu, %d unexpected\n", id, ops[0], ops[1], ops[2], ops[3],
	       ops[4], ops[5], ops[6], ops[7], bad);
	fflush(stdout);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	int nproc, failed = 0, status;
	double seconds;
	char p[4096];

	if (argc != 4) {
		fprintf(stderr, "usage: stress DIR NPROC SECONDS\n");
		return 2;
	}
	nproc = atoi(argv[2]);
	seconds = atof(argv[3]);
	for (int d = 0; d < NDIRS; d++) {
		snprintf(p, sizeof(p), "%s/d%d", argv[1], d);
		if (mkdir(p, 0755) && errno != EEXIST) {
			perror(p);
			return 1;
		}
	}
	for (int i = 0; i < nproc; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			alarm((unsigned)seconds + 60);
			_exit(worker(argv[1], i, seconds));
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	if (failed)
		fprintf(stderr, "stress: %d of %d processes failed\n", failed, nproc);
	return failed ? 1 : 0;
}
