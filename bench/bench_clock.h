/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Wall-clock seconds for the micro-benchmarks of bench/ (monotonic: the
 * figures are differences, never times of day). */
#ifndef FSFILTER_BENCH_CLOCK_H
#define FSFILTER_BENCH_CLOCK_H

#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
