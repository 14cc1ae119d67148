// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mdstorm: a metadata storm. Creates N empty files in DIR, stats each, then
 * unlinks each, and prints the seconds each phase took:
 *
 *   mdstorm DIR N
 *   -> "create S stat S unlink S total S ops_per_s X"
 *
 * One process, one file at a time: it measures per-operation latency through
 * the whole stack, which is where FUSE file systems are weakest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *p)
{
	fprintf(stderr, "mdstorm: %s %s: %s\n", what, p, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	char p[4096];
	double t0, t1, t2, t3;
	struct stat st;
	long n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: mdstorm DIR N\n");
		return 2;
	}
	t0 = now();
	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/md-%06ld", argv[1], i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die("create", p);
		close(fd);
	}
	t1 = now();
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/md-%06ld", argv[1], i);
		if (stat(p, &st) < 0)
			die("stat", p);
	}
	t2 = now();
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/md-%06ld", argv[1], i);
		if (unlink(p) < 0)
			die("unlink", p);
	}
	t3 = now();
	printf("create %.3f stat %.3f unlink %.3f total %.3f ops_per_s %.0f\n",
	       t1 - t0, t2 - t1, t3 - t2, t3 - t0, 3.0 * (double)n / (t3 - t0));
	return 0;
}
