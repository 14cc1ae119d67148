// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mon_openlat: latency of open+close of one file, N times, one process:
 *
 *   mon_openlat FILE N  ->  "p50_us X p99_us Y mean_us Z"
 *
 * Run on a volume with the monitor and a verdict client that allows at
 * once, and without one: the difference is the verdict round trip
 * (filter -> client -> verdict -> completion) that an open pays.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc == 3 ? atol(argv[2]) : 0;
	double *v, sum = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: mon_openlat FILE N\n");
		return 2;
	}
	v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return 1;
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		int fd = open(argv[1], O_RDONLY);

		if (fd < 0) {
			perror("mon_openlat: open");
			return 1;
		}
		close(fd);
		v[i] = now_us() - t0;
		sum += v[i];
	}
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("p50_us %.1f p99_us %.1f mean_us %.1f\n", v[n / 2],
	       v[(size_t)(n * 0.99)], sum / n);
	free(v);
	return 0;
}
