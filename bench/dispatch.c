/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dispatch microbenchmark (issue 8): the manager's cost per operation
 * through 0..64 filters, on the test host (no FUSE, no lower layer).
 *
 *   dispatch MODE NFILTERS ITERATIONS
 *
 * MODE nocb: every filter's GETATTR pre returns SUCCESS_NO_CALLBACK (it has
 *            a post-callback registered, which is never called);
 *      post: every pre returns SUCCESS_WITH_CALLBACK and its post runs.
 * The bottom does nothing. Prints ns per operation (wall clock, noisy on a
 * shared machine). For deterministic figures run it under
 * `valgrind --tool=callgrind --toggle-collect=run_ops` (bench/run-dispatch):
 * only run_ops() and what it calls are counted.
 *
 * It also records the deepest stack address touched by a callback, to show
 * the stack depth does not grow with the number of filters.
 */
#include "bench_clock.h"
#include "core/core.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uintptr_t lowest_sp = UINTPTR_MAX;

static void note_sp(void)
{
	char here;

	if ((uintptr_t)&here < lowest_sp)
		lowest_sp = (uintptr_t)&here;
}

static enum flt_preop_status pre_nocb(struct flt_callback_data *d,
				      const struct flt_related_objects *o,
				      void **ctx)
{
	(void)d, (void)o, (void)ctx;
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

static enum flt_preop_status pre_cb(struct flt_callback_data *d,
				    const struct flt_related_objects *o,
				    void **ctx)
{
	(void)d, (void)o, (void)ctx;
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_postop_status post(struct flt_callback_data *d,
				   const struct flt_related_objects *o,
				   void *ctx, unsigned flags)
{
	(void)d, (void)o, (void)ctx, (void)flags;
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static const struct flt_operation_registration nocb_ops[] = {
	{ FLT_OP_GETATTR, 0, pre_nocb, post }, FLT_OPERATION_END
};
static const struct flt_operation_registration post_ops[] = {
	{ FLT_OP_GETATTR, 0, pre_cb, post }, FLT_OPERATION_END
};

static void bottom(void *ctx, struct flt_callback_data *d)
{
	(void)ctx;
	note_sp();
	d->io_status.status = 0;
}

static void done(struct flt_callback_data *d, void *cookie)
{
	(void)d;
	++*(unsigned long *)cookie;
}

/* The measured loop; noinline so callgrind can count exactly this. */
static __attribute__((noinline)) void run_ops(struct flt_volume *vol, long n,
					      unsigned long *completed)
{
	struct flt_callback_data d;

	for (long i = 0; i < n; i++) {
		core_data_init(&d, FLT_OP_GETATTR, 1);
		core_dispatch(vol, &d, done, completed);
	}
}

int main(int argc, char **argv)
{
	static const struct core_bottom b = { bottom, NULL };
	struct flt_filter *f[64];
	struct flt_volume *vol;
	unsigned long completed = 0;
	const struct flt_operation_registration *ops;
	long nf, n;
	uintptr_t top;
	double t0, t1;
	char name[32];

	if (argc != 4 || (strcmp(argv[1], "nocb") && strcmp(argv[1], "post")) ||
	    (nf = atol(argv[2])) < 0 || nf > 64 || (n = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: dispatch nocb|post NFILTERS(0-64) ITERATIONS\n");
		return 2;
	}
	ops = strcmp(argv[1], "post") ? nocb_ops : post_ops;
	if (core_volume_create("bench", &b, &vol))
		return 1;
	for (long i = 0; i < nf; i++) {
		struct flt_registration reg = {
			FLT_REGISTRATION_INIT,
			.name = name,
			.default_altitude = (uint32_t)(1000 + i),
			.operations = ops,
		};

		snprintf(name, sizeof(name), "bench-%ld", i);
		if (flt_register_filter(&reg, &f[i]) || flt_start_filtering(f[i]) ||
		    core_volume_attach(vol, name, 0, NULL, NULL)) {
			fprintf(stderr, "dispatch: cannot attach filter %ld\n", i);
			return 1;
		}
	}
	top = (uintptr_t)&top;
	run_ops(vol, n < 1000 ? n : 1000, &completed);	/* warm up */
	t0 = bench_now();
	run_ops(vol, n, &completed);
	t1 = bench_now();
	printf("mode %s filters %ld ops %ld ns_per_op %.1f stack_bytes %lu\n",
	       argv[1], nf, n, (t1 - t0) * 1e9 / n,
	       (unsigned long)(top - lowest_sp));
	core_volume_destroy(vol);
	for (long i = 0; i < nf; i++)
		flt_unregister_filter(f[i]);
	return completed == (unsigned long)(n + (n < 1000 ? n : 1000)) ? 0 : 1;
}
