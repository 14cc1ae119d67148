/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager through a test host: operations are built by hand and
 * dispatched to a recording bottom, no mount involved.
 */
#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- a recording test host --------------------------------------------- */

#define LOG_MAX 4096
static char event_log[LOG_MAX];	/* "pre:300 pre:200 bottom post:200 ..." */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int bottom_calls;
static off_t bottom_seen_offset;
static int bottom_status;	/* what the bottom answers */

static void log_event(const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	if (event_log[0])
		strncat(event_log, " ", LOG_MAX - strlen(event_log) - 1);
	strncat(event_log, buf, LOG_MAX - strlen(event_log) - 1);
	pthread_mutex_unlock(&log_lock);
}

static void bottom_perform(void *ctx, struct flt_callback_data *d)
{
	(void)ctx;
	atomic_fetch_add(&bottom_calls, 1);
	if (d->op == FLT_OP_READ)
		bottom_seen_offset = d->params.read.offset;
	log_event("bottom");
	d->io_status.status = bottom_status;
	d->io_status.information = bottom_status ? 0 : 42;
}

/* What a test filter does in its pre-callback, keyed by altitude. */
struct behaviour {
	enum flt_preop_status status;
	int complete_with;		/* io status for COMPLETE */
	off_t set_offset;		/* >= 0: change the read offset */
};
static struct behaviour behaviours[1 << 12];

static struct behaviour *behaviour_of(const struct flt_related_objects *o)
{
	return &behaviours[flt_instance_altitude(o->instance) %
			   (sizeof(behaviours) / sizeof(*behaviours))];
}

static enum flt_preop_status rec_pre(struct flt_callback_data *d,
				     const struct flt_related_objects *o,
				     void **ctx)
{
	struct behaviour *b = behaviour_of(o);

	log_event("pre:%u", flt_instance_altitude(o->instance));
	*ctx = (void *)(uintptr_t)flt_instance_altitude(o->instance);
	if (b->set_offset >= 0 && d->op == FLT_OP_READ) {
		d->params.read.offset = b->set_offset;
		flt_set_callback_data_dirty(d);
	}
	if (b->status == FLT_PREOP_COMPLETE)
		d->io_status.status = b->complete_with;
	return b->status;
}

static enum flt_postop_status rec_post(struct flt_callback_data *d,
				       const struct flt_related_objects *o,
				       void *ctx, unsigned flags)
{
	/* the completion context is the one this instance's pre handed over */
	assert_int_equal((uintptr_t)ctx, flt_instance_altitude(o->instance));
	log_event("post:%u=%d", flt_instance_altitude(o->instance),
		  d->io_status.status);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_postop_status post_only(struct flt_callback_data *d,
					const struct flt_related_objects *o,
					void *ctx, unsigned flags)
{
	assert_null(ctx);
	log_event("postonly:%u", flt_instance_altitude(o->instance));
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static const struct flt_operation_registration rec_ops[] = {
	{ FLT_OP_READ, 0, rec_pre, rec_post },
	{ FLT_OP_GETATTR, 0, rec_pre, rec_post },
	FLT_OPERATION_END
};
static const struct flt_operation_registration post_only_ops[] = {
	{ FLT_OP_READ, 0, NULL, post_only },
	FLT_OPERATION_END
};

static struct flt_filter *make_filter(const char *name,
				      const struct flt_operation_registration *ops)
{
	struct flt_registration reg = {
		FLT_REGISTRATION_INIT,
		.name = name,
		.default_altitude = 1000,
		.operations = ops,
	};
	struct flt_filter *f;

	assert_int_equal(flt_register_filter(&reg, &f), 0);
	assert_int_equal(flt_start_filtering(f), 0);
	return f;
}

struct fixture {
	struct flt_volume *vol;
	struct flt_filter *filters[64];
	int nfilters;
};

static int setup(void **state)
{
	static const struct core_bottom bottom = { bottom_perform, NULL };
	struct fixture *fx = calloc(1, sizeof(*fx));

	event_log[0] = '\0';
	atomic_store(&bottom_calls, 0);
	bottom_status = 0;
	for (size_t i = 0; i < sizeof(behaviours) / sizeof(*behaviours); i++)
		behaviours[i] = (struct behaviour){
			FLT_PREOP_SUCCESS_WITH_CALLBACK, 0, -1 };
	assert_int_equal(core_volume_create("test", &bottom, &fx->vol), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	core_volume_destroy(fx->vol);
	for (int i = 0; i < fx->nfilters; i++)
		flt_unregister_filter(fx->filters[i]);
	free(fx);
	return 0;
}

static struct flt_instance *attach(struct fixture *fx, const char *name,
				   uint32_t altitude,
				   const struct flt_operation_registration *ops)
{
	struct flt_instance *inst;

	fx->filters[fx->nfilters++] = make_filter(name, ops);
	assert_int_equal(core_volume_attach(fx->vol, name, altitude, NULL,
					    &inst), 0);
	return inst;
}

static void done_cb(struct flt_callback_data *d, void *cookie)
{
	atomic_fetch_add((atomic_int *)cookie, 1);
}

static struct flt_callback_data dispatch_read(struct fixture *fx, off_t off)
{
	struct flt_callback_data d;
	atomic_int done = 0;

	core_data_init(&d, FLT_OP_READ, 7);
	d.params.read.offset = off;
	d.params.read.size = 10;
	core_dispatch(fx->vol, &d, done_cb, &done);
	assert_int_equal(atomic_load(&done), 1);
	return d;
}

/* ---- tests ------------------------------------------------------------- */

static void test_no_filters_reaches_bottom(void **state)
{
	struct fixture *fx = *state;
	struct flt_callback_data d = dispatch_read(fx, 5);

	assert_int_equal(atomic_load(&bottom_calls), 1);
	assert_int_equal(d.io_status.status, 0);
	assert_int_equal(d.io_status.information, 42);
	assert_int_equal(core_volume_inflight(fx->vol), 0);
}

static void test_order_by_altitude(void **state)
{
	struct fixture *fx = *state;

	attach(fx, "ord-b", 200, rec_ops);
	attach(fx, "ord-c", 300, rec_ops);
	attach(fx, "ord-a", 100, rec_ops);
	dispatch_read(fx, 0);
	assert_string_equal(event_log, "pre:300 pre:200 pre:100 bottom "
				       "post:100=0 post:200=0 post:300=0");
	assert_int_equal(core_volume_instance_count(fx->vol), 3);
}

static void test_no_callback_skips_post(void **state)
{
	struct fixture *fx = *state;

	attach(fx, "nocb-a", 100, rec_ops);
	attach(fx, "nocb-b", 200, rec_ops);
	behaviours[200].status = FLT_PREOP_SUCCESS_NO_CALLBACK;
	dispatch_read(fx, 0);
	assert_string_equal(event_log, "pre:200 pre:100 bottom post:100=0");
}

static void test_complete_stops_descent(void **state)
{
	struct fixture *fx = *state;
	struct flt_callback_data d;

	attach(fx, "cmp-a", 100, rec_ops);
	attach(fx, "cmp-b", 200, rec_ops);
	attach(fx, "cmp-c", 300, rec_ops);
	behaviours[200].status = FLT_PREOP_COMPLETE;
	behaviours[200].complete_with = -EPERM;
	d = dispatch_read(fx, 0);
	/* below the completer nothing runs; above it, post-callbacks do */
	assert_string_equal(event_log, "pre:300 pre:200 post:300=-1");
	assert_int_equal(atomic_load(&bottom_calls), 0);
	assert_int_equal(d.io_status.status, -EPERM);
}

static void test_bottom_error_seen_by_posts(void **state)
{
	struct fixture *fx = *state;

	attach(fx, "err-a", 100, rec_ops);
	bottom_status = -ENOENT;
	dispatch_read(fx, 0);
	assert_string_equal(event_log, "pre:100 bottom post:100=-2");
}

static void test_changed_parameters_reach_below(void **state)
{
	struct fixture *fx = *state;
	struct flt_callback_data d;

	attach(fx, "dirty-a", 100, rec_ops);
	attach(fx, "dirty-b", 200, rec_ops);
	behaviours[200].set_offset = 4096;
	d = dispatch_read(fx, 5);
	assert_int_equal(bottom_seen_offset, 4096);
	assert_int_equal(d.params.read.offset, 4096);
	/* the manager's private state is gone once the operation is done */
	assert_false(flt_is_callback_data_dirty(&d));
}

static enum flt_preop_status dirty_probe_pre(
	struct flt_callback_data *d, const struct flt_related_objects *o,
	void **ctx)
{
	log_event("dirty=%d", flt_is_callback_data_dirty(d));
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

static void test_dirty_flag_visible_below(void **state)
{
	static const struct flt_operation_registration probe_ops[] = {
		{ FLT_OP_READ, 0, dirty_probe_pre, NULL }, FLT_OPERATION_END };
	struct fixture *fx = *state;

	attach(fx, "probe", 100, probe_ops);
	attach(fx, "setter", 200, rec_ops);
	behaviours[200].set_offset = 1;
	dispatch_read(fx, 5);
	assert_string_equal(event_log, "pre:200 dirty=1 bottom post:200=0");
}

static void test_post_only_registration(void **state)
{
	struct fixture *fx = *state;

	attach(fx, "po-a", 100, post_only_ops);
	attach(fx, "po-b", 200, rec_ops);
	dispatch_read(fx, 0);
	assert_string_equal(event_log,
			    "pre:200 bottom postonly:100 post:200=0");
}

static void test_unregistered_op_passes(void **state)
{
	struct fixture *fx = *state;
	struct flt_callback_data d;
	atomic_int done = 0;

	attach(fx, "pass-a", 100, rec_ops);
	core_data_init(&d, FLT_OP_MKDIR, 1);
	core_dispatch(fx->vol, &d, done_cb, &done);
	assert_string_equal(event_log, "bottom");
}

static void test_invalid_pre_status_fails_op(void **state)
{
	struct fixture *fx = *state;
	struct flt_callback_data d;

	attach(fx, "bad-a", 100, rec_ops);
	behaviours[100].status = (enum flt_preop_status)77;
	d = dispatch_read(fx, 0);
	assert_int_equal(d.io_status.status, -EIO);
	assert_int_equal(atomic_load(&bottom_calls), 0);
}

static void test_attach_errors(void **state)
{
	struct fixture *fx = *state;
	struct flt_registration reg = { FLT_REGISTRATION_INIT, .name = "x" };
	struct flt_filter *f;
	struct flt_instance *inst;

	attach(fx, "dup-a", 100, rec_ops);
	fx->filters[fx->nfilters++] = make_filter("dup-b", rec_ops);
	assert_int_equal(core_volume_attach(fx->vol, "dup-b", 100, NULL, &inst),
			 -EEXIST);
	assert_int_equal(core_volume_attach(fx->vol, "dup-a", 300, NULL, &inst),
			 -EEXIST);
	assert_int_equal(core_volume_attach(fx->vol, "nope", 300, NULL, &inst),
			 -ENOENT);
	assert_int_equal(core_volume_instance_count(fx->vol), 1);

	reg.version = 99;
	assert_int_equal(flt_register_filter(&reg, &f), -EINVAL);
	reg.version = FLT_REGISTRATION_VERSION;
	reg.size = 4;
	assert_int_equal(flt_register_filter(&reg, &f), -EINVAL);
	reg.size = sizeof(reg);
	reg.name = "Bad Name";
	assert_int_equal(flt_register_filter(&reg, &f), -EINVAL);
	reg.name = "dup-a";
	assert_int_equal(flt_register_filter(&reg, &f), -EEXIST);
}

static int setup_calls, teardown_calls;
static int decline_setup(const struct flt_related_objects *o)
{
	setup_calls++;
	return strcmp(flt_instance_args(o->instance), "yes") ? -ENOTSUP : 0;
}
static void count_teardown(const struct flt_related_objects *o)
{
	teardown_calls++;
}

static void test_instance_setup_and_teardown(void **state)
{
	struct fixture *fx = *state;
	struct flt_registration reg = {
		FLT_REGISTRATION_INIT, .name = "picky", .default_altitude = 500,
		.operations = rec_ops, .instance_setup = decline_setup,
		.instance_teardown_complete = count_teardown,
	};
	struct flt_filter *f;
	struct flt_instance *inst;
	uint32_t alt;
	char name[32];

	setup_calls = teardown_calls = 0;
	assert_int_equal(flt_register_filter(&reg, &f), 0);
	fx->filters[fx->nfilters++] = f;
	/* not started yet */
	assert_int_equal(core_volume_attach(fx->vol, "picky", 0, "yes", &inst),
			 -EINVAL);
	flt_start_filtering(f);
	assert_int_equal(core_volume_attach(fx->vol, "picky", 0, "no", &inst),
			 -ENOTSUP);
	assert_int_equal(core_volume_instance_count(fx->vol), 0);
	assert_int_equal(core_volume_attach(fx->vol, "picky", 0, "yes", &inst),
			 0);
	assert_int_equal(setup_calls, 2);
	assert_int_equal(core_volume_instance_at(fx->vol, 0, name, sizeof(name),
						 &alt), 0);
	assert_string_equal(name, "picky");
	assert_int_equal(alt, 500);
	assert_string_equal(flt_instance_args(inst), "yes");
	assert_int_equal(core_volume_detach(fx->vol, inst), 0);
	assert_int_equal(teardown_calls, 1);
	assert_int_equal(core_volume_instance_count(fx->vol), 0);
}

static void test_many_filters_reverse_post(void **state)
{
	struct fixture *fx = *state;
	char name[32], expect[LOG_MAX] = "";
	size_t len = 0;

	/* more than the 8 inline completion nodes */
	for (int i = 1; i <= 20; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		attach(fx, name, (uint32_t)i, rec_ops);
	}
	dispatch_read(fx, 0);
	for (int i = 20; i >= 1; i--)
		len += snprintf(expect + len, sizeof(expect) - len, "pre:%d ", i);
	len += snprintf(expect + len, sizeof(expect) - len, "bottom");
	for (int i = 1; i <= 20; i++)
		len += snprintf(expect + len, sizeof(expect) - len,
				" post:%d=0", i);
	assert_string_equal(event_log, expect);
}

/* Dispatch is iterative: 2000 filters on a thread with a 64 KiB stack. */
static enum flt_preop_status count_pre(struct flt_callback_data *d,
				       const struct flt_related_objects *o,
				       void **ctx)
{
	d->io_status.information++;
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}
static enum flt_postop_status count_post(struct flt_callback_data *d,
					 const struct flt_related_objects *o,
					 void *ctx, unsigned flags)
{
	d->results.offset++;
	return FLT_POSTOP_FINISHED_PROCESSING;
}
static const struct flt_operation_registration count_ops[] = {
	{ FLT_OP_GETATTR, 0, count_pre, count_post }, FLT_OPERATION_END };

static void silent_bottom(void *ctx, struct flt_callback_data *d)
{
	d->io_status.status = 0;
}

static void *deep_dispatch(void *arg)
{
	struct flt_volume *vol = arg;
	struct flt_callback_data *d = calloc(1, sizeof(*d));
	atomic_int done = 0;
	off_t posts;

	core_data_init(d, FLT_OP_GETATTR, 1);
	core_dispatch(vol, d, done_cb, &done);
	posts = d->results.offset;
	free(d);
	return (void *)(intptr_t)(done == 1 ? posts : -1);
}

static void test_deep_stack_is_iterative(void **state)
{
	static const struct core_bottom bottom = { silent_bottom, NULL };
	enum { N = 2000 };
	struct flt_filter **fs = calloc(N, sizeof(*fs));
	struct flt_volume *vol;
	pthread_attr_t attr;
	pthread_t th;
	void *ret;
	char name[32];

	assert_int_equal(core_volume_create("deep", &bottom, &vol), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "deep-%d", i);
		fs[i] = make_filter(name, count_ops);
		assert_int_equal(core_volume_attach(vol, name, (uint32_t)i + 1,
						    NULL, NULL), 0);
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	assert_int_equal(pthread_create(&th, &attr, deep_dispatch, vol), 0);
	pthread_join(th, &ret);
	assert_int_equal((intptr_t)ret, N);
	core_volume_destroy(vol);
	for (int i = 0; i < N; i++)
		flt_unregister_filter(fs[i]);
	free(fs);
	(void)state;
}

/* Detach waits for the operations that hold the instance. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, in_bottom;

static void gated_bottom(void *ctx, struct flt_callback_data *d)
{
	pthread_mutex_lock(&gate_lock);
	in_bottom = 1;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	d->io_status.status = 0;
}

static atomic_int gated_posts;
static enum flt_postop_status gated_post(struct flt_callback_data *d,
					 const struct flt_related_objects *o,
					 void *ctx, unsigned flags)
{
	atomic_fetch_add(&gated_posts, 1);
	return FLT_POSTOP_FINISHED_PROCESSING;
}
static const struct flt_operation_registration gated_ops[] = {
	{ FLT_OP_READ, 0, NULL, gated_post }, FLT_OPERATION_END };

static void *dispatch_one(void *arg)
{
	struct flt_callback_data d;
	atomic_int done = 0;

	core_data_init(&d, FLT_OP_READ, 1);
	core_dispatch(arg, &d, done_cb, &done);
	return NULL;
}

struct detach_arg {
	struct flt_volume *vol;
	struct flt_instance *inst;
	atomic_int finished;
};

static void *detach_thread(void *arg)
{
	struct detach_arg *a = arg;

	core_volume_detach(a->vol, a->inst);
	atomic_store(&a->finished, 1);
	return NULL;
}

static void test_detach_drains_inflight(void **state)
{
	static const struct core_bottom bottom = { gated_bottom, NULL };
	struct detach_arg a = { 0 };
	struct flt_filter *f;
	pthread_t op, det;

	gate_open = in_bottom = 0;
	atomic_store(&gated_posts, 0);
	assert_int_equal(core_volume_create("drain", &bottom, &a.vol), 0);
	f = make_filter("gated", gated_ops);
	assert_int_equal(core_volume_attach(a.vol, "gated", 10, NULL, &a.inst),
			 0);
	pthread_create(&op, NULL, dispatch_one, a.vol);
	pthread_mutex_lock(&gate_lock);
	while (!in_bottom)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);

	pthread_create(&det, NULL, detach_thread, &a);
	/* the instance is off the stack for new operations at once ... */
	while (core_volume_instance_count(a.vol) != 0)
		sched_yield();
	/* ... but detach has not returned: an operation still holds it */
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&a.finished), 0);
	assert_int_equal(core_volume_inflight(a.vol), 1);

	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	pthread_join(op, NULL);
	pthread_join(det, NULL);
	assert_int_equal(atomic_load(&a.finished), 1);
	/* the in-flight operation still got its post-callback */
	assert_int_equal(atomic_load(&gated_posts), 1);
	assert_int_equal(core_volume_inflight(a.vol), 0);
	core_volume_destroy(a.vol);
	flt_unregister_filter(f);
	(void)state;
}

/* Attach and detach while 4 threads dispatch (run under TSan in CI). */
struct storm {
	struct flt_volume *vol;
	atomic_int stop;
	atomic_long ops;
};

static void *storm_worker(void *arg)
{
	struct storm *s = arg;

	while (!atomic_load(&s->stop)) {
		struct flt_callback_data d;
		atomic_int done = 0;

		core_data_init(&d, FLT_OP_GETATTR, 1);
		core_dispatch(s->vol, &d, done_cb, &done);
		assert_int_equal(done, 1);
		/* pre and post calls always pair up within one operation */
		assert_int_equal(d.io_status.information,
				 (uint64_t)d.results.offset);
		atomic_fetch_add(&s->ops, 1);
	}
	return NULL;
}

static void test_attach_detach_under_load(void **state)
{
	static const struct core_bottom bottom = { silent_bottom, NULL };
	struct storm s = { 0 };
	struct flt_filter *f[3];
	pthread_t th[4];

	assert_int_equal(core_volume_create("storm", &bottom, &s.vol), 0);
	f[0] = make_filter("storm-0", count_ops);
	f[1] = make_filter("storm-1", count_ops);
	f[2] = make_filter("storm-2", count_ops);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, storm_worker, &s);
	/* 300 rounds at least, and until the workers got real work done
	 * (on a loaded machine they may barely run during the rounds) */
	for (int round = 0; round < 300 || atomic_load(&s.ops) < 1000;
	     round++) {
		struct flt_instance *inst[3];

		for (int i = 0; i < 3; i++) {
			char name[16];

			snprintf(name, sizeof(name), "storm-%d", i);
			assert_int_equal(core_volume_attach(s.vol, name,
				(uint32_t)(10 + i), NULL, &inst[i]), 0);
		}
		for (int i = 0; i < 3; i++)
			assert_int_equal(core_volume_detach(s.vol, inst[i]), 0);
	}
	atomic_store(&s.stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&s.ops) > 0);
	assert_int_equal(core_volume_inflight(s.vol), 0);
	core_volume_destroy(s.vol);
	for (int i = 0; i < 3; i++)
		flt_unregister_filter(f[i]);
	(void)state;
}

static void test_dirents(void **state)
{
	struct flt_dirents d = { 0 };
	struct flt_callback_data data;
	char name[300];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "entry-%d-%0*d", i, i % 200, 0);
		assert_int_equal(flt_dirents_add(&d, name, (uint64_t)i, 8,
						 i + 1, NULL), 0);
	}
	assert_int_equal(d.n, 5000);
	for (int i = 0; i < 5000; i += 499) {
		snprintf(name, sizeof(name), "entry-%d-%0*d", i, i % 200, 0);
		assert_string_equal(d.v[i].name, name);
		assert_int_equal(d.v[i].ino, (uint64_t)i);
		assert_int_equal(d.v[i].next_off, i + 1);
	}
	assert_int_equal(flt_dirent_size(1, 0), 32);
	assert_int_equal(flt_dirent_size(8, 0), 32);
	assert_int_equal(flt_dirent_size(9, 0), 40);
	assert_int_equal(flt_dirent_size(9, 1), 168);
	/* core_data_cleanup frees what results own */
	core_data_init(&data, FLT_OP_READDIR, 1);
	data.results.dirents = d;
	data.results.link = strdup("x");
	core_data_cleanup(&data);
	assert_null(data.results.dirents.v);
	assert_null(data.results.link);
	(void)state;
}

static void test_op_names(void **state)
{
	for (int op = 0; op < FLT_OP_COUNT; op++)
		assert_string_not_equal(flt_op_name((enum flt_op)op), "?");
	assert_string_equal(flt_op_name(FLT_OP_READ), "read");
	assert_string_equal(flt_op_name(FLT_OP_COUNT), "?");
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_no_filters_reaches_bottom),
		T(test_order_by_altitude),
		T(test_no_callback_skips_post),
		T(test_complete_stops_descent),
		T(test_bottom_error_seen_by_posts),
		T(test_changed_parameters_reach_below),
		T(test_dirty_flag_visible_below),
		T(test_post_only_registration),
		T(test_unregistered_op_passes),
		T(test_invalid_pre_status_fails_op),
		T(test_attach_errors),
		T(test_instance_setup_and_teardown),
		T(test_many_filters_reverse_post),
#undef T
		cmocka_unit_test(test_deep_stack_is_iterative),
		cmocka_unit_test(test_detach_drains_inflight),
		cmocka_unit_test(test_attach_detach_under_load),
		cmocka_unit_test(test_dirents),
		cmocka_unit_test(test_op_names),
	};

	flt_set_log_level(2); /* LOG_CRIT: the invalid-status test logs */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
