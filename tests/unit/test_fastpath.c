// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Who decides the fast path (no mount): results.open.no_fastpath and
 * core_volume_wants_data_ops() for filters that register READ/WRITE with
 * and without FLT_OPREG_SKIP_FASTPATH_FILES, flt_disallow_fastpath() from
 * pre and post open/create, backing_fd passed through (and changed by a
 * filter), unknown registration flags refused; results.open.no_flush
 * kept only while no instance has a FLUSH callback (one registered with
 * FLT_OPREG_FLUSH_IF_SENT keeps it); the volume's READ size from the
 * filters' flt_registration.max_read; results.open.cache_readdir and
 * keep_cache of an OPENDIR kept only while no instance has an OPENDIR or
 * READDIR callback (a cached listing reaches no filter).
 */
#include "core/core.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define BACKING_FD 42
#define FILTER_FD 43

static void bottom(void *ctx, struct flt_callback_data *d)
{
	(void)ctx;
	d->io_status.status = 0;
	if (d->op == FLT_OP_OPEN || d->op == FLT_OP_CREATE) {
		memset(&d->results.open, 0, sizeof(d->results.open));
		d->results.open.fh = 7;
		d->results.open.backing_fd = BACKING_FD;
		d->results.open.no_flush = 1;	/* as the lower layer's */
	}
	if (d->op == FLT_OP_OPENDIR) {	/* as the lower layer's, watched */
		memset(&d->results.open, 0, sizeof(d->results.open));
		d->results.open.fh = 8;
		d->results.open.cache_readdir = 1;
		d->results.open.keep_cache = 1;
	}
}

static void done(struct flt_callback_data *d, void *cookie)
{
	(void)d;
	*(int *)cookie = 1;
}

/* Open (or create) through the stack; returns the completed data. */
static struct flt_callback_data run_open(struct flt_volume *vol,
					 enum flt_op op, flt_ino_t ino)
{
	struct flt_callback_data d;
	int completed = 0;

	core_data_init(&d, op, ino);
	if (op == FLT_OP_CREATE) {
		d.params.create.parent = FLT_ROOT_INO;
		d.params.create.name = ino == 2 ? "veto" : "file";
	}
	core_dispatch(vol, &d, done, &completed);
	assert_int_equal(completed, 1);
	assert_int_equal(d.io_status.status, 0);
	return d;
}

static enum flt_preop_status pass_pre(struct flt_callback_data *d,
				      const struct flt_related_objects *o,
				      void **ctx)
{
	(void)d, (void)o, (void)ctx;
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* "veto": no fast path for inode 2 (open) or the name "veto" (create),
 * half from pre, half from post; inode 3 gets another backing fd. */
static enum flt_preop_status veto_pre(struct flt_callback_data *d,
				      const struct flt_related_objects *o,
				      void **ctx)
{
	(void)o, (void)ctx;
	if (d->op == FLT_OP_OPEN && d->ino == 2)
		flt_disallow_fastpath(d);
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_postop_status veto_post(struct flt_callback_data *d,
					const struct flt_related_objects *o,
					void *ctx, unsigned flags)
{
	(void)o, (void)ctx, (void)flags;
	if (d->op == FLT_OP_CREATE && !strcmp(d->params.create.name, "veto"))
		flt_disallow_fastpath(d);
	if (d->op == FLT_OP_OPEN && d->ino == 3)
		d->results.open.backing_fd = FILTER_FD;
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static const struct flt_operation_registration data_ops[] = {
	{ FLT_OP_READ, 0, pass_pre, NULL },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration write_post_only[] = {
	{ FLT_OP_WRITE, 0, NULL, veto_post },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration skip_ops[] = {
	{ FLT_OP_READ, FLT_OPREG_SKIP_FASTPATH_FILES, pass_pre, NULL },
	{ FLT_OP_WRITE, FLT_OPREG_SKIP_FASTPATH_FILES, pass_pre, NULL },
	{ FLT_OP_OPEN, 0, veto_pre, veto_post },
	{ FLT_OP_CREATE, 0, veto_pre, veto_post },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration flush_post[] = {
	{ FLT_OP_FLUSH, 0, NULL, veto_post },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration flush_if_sent[] = {
	{ FLT_OP_FLUSH, FLT_OPREG_FLUSH_IF_SENT, veto_pre, veto_post },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration readdir_post[] = {
	{ FLT_OP_READDIR, 0, NULL, veto_post },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration opendir_pre[] = {
	{ FLT_OP_OPENDIR, 0, pass_pre, NULL },
	FLT_OPERATION_END,
};
static const struct flt_operation_registration bad_flags[] = {
	{ FLT_OP_READ, 1u << 7, pass_pre, NULL },
	FLT_OPERATION_END,
};

static const struct flt_registration reg_data = {
	FLT_REGISTRATION_INIT, .name = "fp-data", .default_altitude = 1000,
	.operations = data_ops,
};
static const struct flt_registration reg_wpost = {
	FLT_REGISTRATION_INIT, .name = "fp-wpost", .default_altitude = 2000,
	.operations = write_post_only,
};
static const struct flt_registration reg_skip = {
	FLT_REGISTRATION_INIT, .name = "fp-skip", .default_altitude = 3000,
	.operations = skip_ops,
};
static const struct flt_registration reg_flush = {
	FLT_REGISTRATION_INIT, .name = "fp-flush", .default_altitude = 5000,
	.operations = flush_post,
};
static const struct flt_registration reg_flush_if_sent = {
	FLT_REGISTRATION_INIT, .name = "fp-flush-if-sent",
	.default_altitude = 6000, .operations = flush_if_sent,
};
static const struct flt_registration reg_readdir = {
	FLT_REGISTRATION_INIT, .name = "fp-readdir", .default_altitude = 7000,
	.operations = readdir_post,
};
static const struct flt_registration reg_opendir = {
	FLT_REGISTRATION_INIT, .name = "fp-opendir", .default_altitude = 8000,
	.operations = opendir_pre,
};
static const struct flt_registration reg_bad = {
	FLT_REGISTRATION_INIT, .name = "fp-bad", .default_altitude = 4000,
	.operations = bad_flags,
};

/* READ sizes asked for (flt_registration.max_read) */
static const struct flt_registration reg_mr64 = {
	FLT_REGISTRATION_INIT, .name = "fp-mr64", .default_altitude = 3000,
	.max_read = 64u << 10,
};
static const struct flt_registration reg_mr256 = {
	FLT_REGISTRATION_INIT, .name = "fp-mr256", .default_altitude = 2000,
	.max_read = 256u << 10,
};

static struct flt_volume *vol;

static int setup(void **state)
{
	static const struct core_bottom b = { bottom, NULL };
	struct flt_filter *f;

	(void)state;
	assert_int_equal(flt_register_filter(&reg_data, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_wpost, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_skip, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_flush, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_flush_if_sent, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_mr64, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_mr256, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_readdir, &f), 0);
	flt_start_filtering(f);
	assert_int_equal(flt_register_filter(&reg_opendir, &f), 0);
	flt_start_filtering(f);
	return core_volume_create("fastpath", &b, &vol);
}

static int teardown(void **state)
{
	(void)state;
	core_volume_destroy(vol);
	return 0;
}

static void test_no_filter(void **state)
{
	struct flt_callback_data d;

	(void)state;
	assert_false(core_volume_wants_data_ops(vol));
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_false(d.results.open.no_fastpath);
	assert_int_equal(d.results.open.backing_fd, BACKING_FD);
	d = run_open(vol, FLT_OP_CREATE, 5);
	assert_false(d.results.open.no_fastpath);
	/* other operations leave the open result alone */
	core_data_init(&d, FLT_OP_GETATTR, 5);
	assert_int_equal(d.results.open.backing_fd, -1);
}

static void test_data_filter_turns_it_off(void **state)
{
	struct flt_instance *inst;
	struct flt_callback_data d;

	(void)state;
	assert_int_equal(core_volume_attach(vol, "fp-data", 0, NULL, &inst), 0);
	assert_true(core_volume_wants_data_ops(vol));
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_true(d.results.open.no_fastpath);
	d = run_open(vol, FLT_OP_CREATE, 5);
	assert_true(d.results.open.no_fastpath);
	assert_int_equal(core_volume_detach(vol, inst), 0);
	assert_false(core_volume_wants_data_ops(vol));
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_false(d.results.open.no_fastpath);

	/* a post-callback alone on WRITE counts too */
	assert_int_equal(core_volume_attach(vol, "fp-wpost", 0, NULL, &inst), 0);
	assert_true(core_volume_wants_data_ops(vol));
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_true(d.results.open.no_fastpath);
	assert_int_equal(core_volume_detach(vol, inst), 0);
	assert_false(core_volume_wants_data_ops(vol));
}

static void test_skip_flag_and_veto(void **state)
{
	struct flt_instance *inst;
	struct flt_callback_data d;

	(void)state;
	assert_int_equal(core_volume_attach(vol, "fp-skip", 0, NULL, &inst), 0);
	assert_false(core_volume_wants_data_ops(vol));
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_false(d.results.open.no_fastpath);
	d = run_open(vol, FLT_OP_OPEN, 2);	/* vetoed in pre */
	assert_true(d.results.open.no_fastpath);
	d = run_open(vol, FLT_OP_CREATE, 2);	/* "veto", vetoed in post */
	assert_true(d.results.open.no_fastpath);
	d = run_open(vol, FLT_OP_CREATE, 5);
	assert_false(d.results.open.no_fastpath);
	d = run_open(vol, FLT_OP_OPEN, 3);	/* another backing file */
	assert_false(d.results.open.no_fastpath);
	assert_int_equal(d.results.open.backing_fd, FILTER_FD);
	/* with a data filter on top, the skip filter's veto is moot */
	{
		struct flt_instance *top;

		assert_int_equal(core_volume_attach(vol, "fp-data", 0, NULL,
						    &top), 0);
		d = run_open(vol, FLT_OP_OPEN, 5);
		assert_true(d.results.open.no_fastpath);
		assert_int_equal(core_volume_detach(vol, top), 0);
	}
	assert_int_equal(core_volume_detach(vol, inst), 0);
}

/* The bottom's no_flush survives filters without a FLUSH callback (even
 * data filters), not one with a FLUSH post-callback alone. */
static void test_no_flush(void **state)
{
	struct flt_instance *inst, *fl;
	struct flt_callback_data d;

	(void)state;
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_true(d.results.open.no_flush);
	assert_int_equal(core_volume_attach(vol, "fp-data", 0, NULL, &inst), 0);
	d = run_open(vol, FLT_OP_CREATE, 5);
	assert_true(d.results.open.no_flush);
	/* a FLUSH callback that only needs the flushes sent anyway */
	assert_int_equal(core_volume_attach(vol, "fp-flush-if-sent", 0, NULL,
					    &fl), 0);
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_true(d.results.open.no_flush);
	d = run_open(vol, FLT_OP_CREATE, 5);
	assert_true(d.results.open.no_flush);
	assert_int_equal(core_volume_detach(vol, fl), 0);
	assert_int_equal(core_volume_attach(vol, "fp-flush", 0, NULL, &fl), 0);
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_false(d.results.open.no_flush);
	d = run_open(vol, FLT_OP_CREATE, 5);
	assert_false(d.results.open.no_flush);
	assert_int_equal(core_volume_detach(vol, fl), 0);
	d = run_open(vol, FLT_OP_OPEN, 5);
	assert_true(d.results.open.no_flush);
	assert_int_equal(core_volume_detach(vol, inst), 0);
}

/* The bottom's cached listing survives filters without directory
 * callbacks, not one with a READDIR post or an OPENDIR pre. */
static void test_cache_readdir(void **state)
{
	struct flt_instance *data, *dir;
	struct flt_callback_data d;

	(void)state;
	d = run_open(vol, FLT_OP_OPENDIR, 5);
	assert_true(d.results.open.cache_readdir && d.results.open.keep_cache);
	assert_int_equal(core_volume_attach(vol, "fp-data", 0, NULL, &data),
			 0);
	d = run_open(vol, FLT_OP_OPENDIR, 5);
	assert_true(d.results.open.cache_readdir && d.results.open.keep_cache);
	assert_int_equal(core_volume_attach(vol, "fp-readdir", 0, NULL, &dir),
			 0);
	d = run_open(vol, FLT_OP_OPENDIR, 5);
	assert_false(d.results.open.cache_readdir || d.results.open.keep_cache);
	assert_int_equal(core_volume_detach(vol, dir), 0);
	assert_int_equal(core_volume_attach(vol, "fp-opendir", 0, NULL, &dir),
			 0);
	d = run_open(vol, FLT_OP_OPENDIR, 5);
	assert_false(d.results.open.cache_readdir || d.results.open.keep_cache);
	assert_int_equal(core_volume_detach(vol, dir), 0);
	d = run_open(vol, FLT_OP_OPENDIR, 5);
	assert_true(d.results.open.cache_readdir);
	assert_int_equal(core_volume_detach(vol, data), 0);
}

/* The volume's READ size: the smallest any attached filter asks for;
 * filters asking nothing (0) do not count. */
static void test_max_read(void **state)
{
	struct flt_instance *data, *mr64, *mr256;

	(void)state;
	assert_int_equal(core_volume_max_read(vol), 0);
	assert_int_equal(core_volume_attach(vol, "fp-data", 0, NULL, &data), 0);
	assert_int_equal(core_volume_max_read(vol), 0);
	assert_int_equal(core_volume_attach(vol, "fp-mr256", 0, NULL, &mr256),
			 0);
	assert_int_equal(core_volume_max_read(vol), 256u << 10);
	assert_int_equal(core_volume_attach(vol, "fp-mr64", 0, NULL, &mr64), 0);
	assert_int_equal(core_volume_max_read(vol), 64u << 10);
	assert_int_equal(core_volume_detach(vol, mr64), 0);
	assert_int_equal(core_volume_max_read(vol), 256u << 10);
	assert_int_equal(core_volume_detach(vol, mr256), 0);
	assert_int_equal(core_volume_max_read(vol), 0);
	assert_int_equal(core_volume_detach(vol, data), 0);
}

static void test_unknown_flags_refused(void **state)
{
	struct flt_filter *f;

	(void)state;
	assert_int_equal(flt_register_filter(&reg_bad, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_filter),
		cmocka_unit_test(test_data_filter_turns_it_off),
		cmocka_unit_test(test_skip_flag_and_veto),
		cmocka_unit_test(test_no_flush),
		cmocka_unit_test(test_cache_readdir),
		cmocka_unit_test(test_max_read),
		cmocka_unit_test(test_unknown_flags_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
