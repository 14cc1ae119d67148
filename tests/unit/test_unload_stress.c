/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Detach and unload under load, a few hundred times: 32 threads dispatch
 * reads and getattrs without pause while the main thread attaches and
 * detaches (and every tenth round unloads and re-registers) a filter that
 *  - pends every fourth read on a worker thread of its own, which
 *    completes it a little later, and completes everything still queued
 *    in InstanceTeardownStart (what a real filter must do);
 *  - does filter-initiated I/O (a getattr below itself) from every fifth
 *    getattr pre-callback.
 * Nothing may hang (an alarm fails the test), every operation completes
 * exactly once, and no callback data outlives the test.
 */
#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DISPATCHERS 32
#define ROUNDS 300

/* ---- the bottom ------------------------------------------------------------ */

static void mem_bottom(void *ctx, struct flt_callback_data *d)
{
	d->io_status.status = 0;
	if (d->op == FLT_OP_READ) {
		memset(d->params.read.buf, 'x', d->params.read.size);
		d->io_status.information = d->params.read.size;
	} else if (d->op == FLT_OP_GETATTR) {
		d->results.attr.st_ino = d->ino;
		d->results.attr.st_mode = S_IFREG | 0644;
	}
}

/* ---- the filter's own worker ----------------------------------------------- */

struct job {
	struct flt_callback_data *data;
	struct job *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct job *q_head;	/* q_lock */
static bool q_stop;		/* q_lock */
static atomic_long pended, completed_by_worker, completed_by_teardown;
static atomic_long fio_done, fio_errors, teardowns;

static void *worker_main(void *arg)
{
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&q_lock);
		while (!q_head && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		j = q_head;
		if (j)
			q_head = j->next;
		pthread_mutex_unlock(&q_lock);
		if (!j)
			return NULL;
		usleep(50);	/* a little later */
		atomic_fetch_add(&completed_by_worker, 1);
		flt_complete_pended_preop(j->data,
					  FLT_PREOP_SUCCESS_NO_CALLBACK, NULL);
		free(j);
	}
}

static enum flt_preop_status pre_read(struct flt_callback_data *d,
				      const struct flt_related_objects *obj,
				      void **ctx)
{
	static atomic_uint n;
	struct job *j;

	if (atomic_fetch_add(&n, 1) % 4)
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	j = calloc(1, sizeof(*j));
	if (!j)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	j->data = d;
	atomic_fetch_add(&pended, 1);
	pthread_mutex_lock(&q_lock);
	j->next = q_head;
	q_head = j;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	return FLT_PREOP_PENDING;
}

static enum flt_postop_status post_read(struct flt_callback_data *d,
					const struct flt_related_objects *obj,
					void *ctx, unsigned flags)
{
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_preop_status pre_getattr(struct flt_callback_data *d,
					 const struct flt_related_objects *obj,
					 void **ctx)
{
	static atomic_uint n;
	struct stat st;

	if (atomic_fetch_add(&n, 1) % 5 == 0) {
		if (flt_query_information(obj->instance, d->ino, &st) ||
		    st.st_ino != d->ino)
			atomic_fetch_add(&fio_errors, 1);
		atomic_fetch_add(&fio_done, 1);
	}
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* Everything queued is ours to finish now: the manager waits for it. A
 * job the worker already took is finished by the worker. */
static void teardown_start(const struct flt_related_objects *obj)
{
	struct job *list;

	pthread_mutex_lock(&q_lock);
	list = q_head;
	q_head = NULL;
	pthread_mutex_unlock(&q_lock);
	while (list) {
		struct job *j = list;

		list = j->next;
		atomic_fetch_add(&completed_by_teardown, 1);
		flt_complete_pended_preop(j->data,
					  FLT_PREOP_SUCCESS_NO_CALLBACK, NULL);
		free(j);
	}
	atomic_fetch_add(&teardowns, 1);
}

static const struct flt_operation_registration ops[] = {
	{ FLT_OP_READ, 0, pre_read, post_read },
	{ FLT_OP_GETATTR, 0, pre_getattr, NULL },
	FLT_OPERATION_END
};

static const struct flt_registration reg = {
	FLT_REGISTRATION_INIT,
	.name = "stress",
	.default_altitude = 100,
	.operations = ops,
	.instance_teardown_start = teardown_start,
};

/* ---- dispatchers ------------------------------------------------------------ */

static struct flt_volume *vol;
static atomic_bool stop;
static atomic_long dispatched, completed, errors;

struct op {
	struct flt_callback_data data;
	char buf[512];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static void op_done(struct flt_callback_data *d, void *cookie)
{
	struct op *o = cookie;

	if (d->io_status.status ||
	    (d->op == FLT_OP_READ && (d->io_status.information != sizeof(o->buf) ||
				      o->buf[0] != 'x')))
		atomic_fetch_add(&errors, 1);
	pthread_mutex_lock(&o->lock);
	o->done++;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

static void *dispatcher(void *arg)
{
	struct op *o = calloc(1, sizeof(*o));
	unsigned i = (unsigned)(uintptr_t)arg;

	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	while (!atomic_load(&stop)) {
		bool read = i++ % 2;

		core_data_init(&o->data, read ? FLT_OP_READ : FLT_OP_GETATTR,
			       2 + i % 7);
		if (read) {
			o->data.params.read.buf = o->buf;
			o->data.params.read.size = sizeof(o->buf);
			o->buf[0] = 0;
		}
		o->done = 0;
		atomic_fetch_add(&dispatched, 1);
		core_dispatch(vol, &o->data, op_done, o);
		pthread_mutex_lock(&o->lock);
		while (!o->done)
			pthread_cond_wait(&o->cond, &o->lock);
		if (o->done != 1)
			atomic_fetch_add(&errors, 1);
		pthread_mutex_unlock(&o->lock);
		core_data_cleanup(&o->data);
		atomic_fetch_add(&completed, 1);
	}
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	free(o);
	return NULL;
}

static void register_filter(void)
{
	struct flt_filter *f;

	assert_int_equal(flt_register_filter(&reg, &f), 0);
	assert_int_equal(flt_start_filtering(f), 0);
}

static void test_unload_under_load(void **state)
{
	struct core_bottom bottom = { mem_bottom, NULL };
	pthread_t th[DISPATCHERS], worker;
	long rounds = ROUNDS;
	const char *env = getenv("STRESS_ROUNDS");

	if (env)
		rounds = atol(env);
	alarm(240);	/* a hang fails the test instead of stalling CI */
	assert_int_equal(core_volume_create("stress", &bottom, &vol), 0);
	register_filter();
	assert_int_equal(pthread_create(&worker, NULL, worker_main, NULL), 0);
	for (uintptr_t i = 0; i < DISPATCHERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, dispatcher,
						(void *)i), 0);

	for (long r = 0; r < rounds; r++) {
		long before = atomic_load(&completed);

		assert_int_equal(core_volume_attach(vol, "stress", 0, "",
						    NULL), 0);
		/* let operations reach (and pend in) the instance */
		while (atomic_load(&completed) < before + 20)
			usleep(100);
		if (r % 10 == 9) {
			assert_int_equal(core_unload_filter("stress", false), 0);
			assert_null(core_find_filter("stress"));
			register_filter();
		} else {
			assert_int_equal(core_volume_detach_filter(
						 vol, "stress", false), 0);
		}
		assert_int_equal(core_volume_instance_count(vol), 0);
	}

	atomic_store(&stop, true);
	for (int i = 0; i < DISPATCHERS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_lock(&q_lock);
	q_stop = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(worker, NULL);
	alarm(0);

	fprintf(stderr, "rounds %ld: %ld ops, %ld pended (%ld by the worker, "
		"%ld in teardown), %ld filter-initiated, %ld teardowns\n",
		rounds, atomic_load(&completed), atomic_load(&pended),
		atomic_load(&completed_by_worker),
		atomic_load(&completed_by_teardown), atomic_load(&fio_done),
		atomic_load(&teardowns));
	assert_int_equal(atomic_load(&errors), 0);
	assert_int_equal(atomic_load(&fio_errors), 0);
	assert_int_equal(atomic_load(&dispatched), atomic_load(&completed));
	assert_int_equal(atomic_load(&pended),
			 atomic_load(&completed_by_worker) +
				 atomic_load(&completed_by_teardown));
	assert_int_equal(atomic_load(&teardowns), rounds);
	assert_true(atomic_load(&pended) > 0);
	assert_true(atomic_load(&fio_done) > 0);
	assert_int_equal(core_volume_inflight(vol), 0);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
	assert_int_equal(core_unload_filter("stress", true), 0);
	core_volume_destroy(vol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unload_under_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
