/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Filter-initiated I/O microbenchmark (issues 7 and 8): the manager's cost
 * of one I/O a filter issues below itself, on the test host (no FUSE, no
 * lower layer): what the crypt filter pays per lower READ or WRITE on top of
 * the dispatch itself.
 *
 *   fio_bench MODE ITERATIONS
 *
 * MODE read:  flt_read_file() of 4 KiB (allocate, perform synchronously,
 *             free), the way crypt reads its blocks;
 *      async: flt_allocate_callback_data + flt_perform_asynchronous_io
 *             (completes inline) + flt_free_callback_data;
 *      alloc: flt_allocate_callback_data + flt_free_callback_data only.
 * One filter (the issuer) is attached; the I/O goes below it to a bottom
 * that does nothing. Prints ns per call (wall clock, noisy on a shared
 * machine). For deterministic figures run it under
 * `valgrind --tool=callgrind --toggle-collect=run_ops` (bench/run-dispatch
 * does): only run_ops() and what it calls are counted.
 */
#include "bench_clock.h"
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct flt_instance *issuer;

static int setup(const struct flt_related_objects *o)
{
	issuer = o->instance;
	return 0;
}

static void bottom(void *ctx, struct flt_callback_data *d)
{
	(void)ctx;
	d->io_status.status = 0;
	if (d->op == FLT_OP_READ)
		d->io_status.information = d->params.read.size;
}

static void async_done(struct flt_callback_data *d, void *ctx)
{
	(void)d;
	++*(unsigned long *)ctx;
}

enum mode { M_READ, M_ASYNC, M_ALLOC };

/* The measured loop; noinline so callgrind can count exactly this. */
static __attribute__((noinline)) unsigned long run_ops(enum mode mode, long n)
{
	static char buf[4096];
	struct flt_file f = { .ino = 2, .fh = 1 };
	struct flt_callback_data *d;
	unsigned long ok = 0;
	size_t got;

	for (long i = 0; i < n; i++) {
		switch (mode) {
		case M_READ:
			if (!flt_read_file(issuer, &f, i * 4096, sizeof(buf),
					   buf, &got) && got == sizeof(buf))
				ok++;
			break;
		case M_ASYNC:
			if (flt_allocate_callback_data(issuer, FLT_OP_READ, &d))
				break;
			d->ino = f.ino;
			d->params.read.fh = f.fh;
			d->params.read.size = sizeof(buf);
			d->params.read.buf = buf;
			flt_perform_asynchronous_io(d, async_done, &ok);
			flt_free_callback_data(d);
			break;
		case M_ALLOC:
			if (!flt_allocate_callback_data(issuer, FLT_OP_READ,
							&d))
				ok++;
			flt_free_callback_data(d);
			break;
		}
	}
	return ok;
}

int main(int argc, char **argv)
{
	static const struct core_bottom b = { bottom, NULL };
	static const char *const names[] = { "read", "async", "alloc" };
	struct flt_registration reg = {
		FLT_REGISTRATION_INIT,
		.name = "fio-bench",
		.default_altitude = 1000,
		.instance_setup = setup,
	};
	struct flt_volume *vol;
	struct flt_filter *f;
	unsigned long ok;
	enum mode mode;
	long n;
	double t0, t1;

	for (mode = 0; mode < 3; mode++)
		if (argc == 3 && !strcmp(argv[1], names[mode]))
			break;
	if (mode == 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr,
			"usage: fio_bench read|async|alloc ITERATIONS\n");
		return 2;
	}
	if (core_volume_create("bench", &b, &vol) ||
	    flt_register_filter(&reg, &f) || flt_start_filtering(f) ||
	    core_volume_attach(vol, "fio-bench", 0, NULL, NULL) || !issuer) {
		fprintf(stderr, "fio_bench: cannot set up the volume\n");
		return 1;
	}
	ok = run_ops(mode, n < 1000 ? n : 1000);	/* warm up */
	t0 = bench_now();
	ok += run_ops(mode, n);
	t1 = bench_now();
	printf("mode %s ops %ld ns_per_op %.1f\n", names[mode], n,
	       (t1 - t0) * 1e9 / n);
	core_volume_destroy(vol);
	flt_unregister_filter(f);
	return ok == (unsigned long)(n + (n < 1000 ? n : 1000)) ? 0 : 1;
}
