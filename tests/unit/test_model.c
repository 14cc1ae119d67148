/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rest of the minifilter model through the test host: pending pre and
 * post operations completed from other threads, SYNCHRONIZE, cancellation,
 * and filter-initiated I/O that starts below its issuer.
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
#include <sys/wait.h>

#include <cmocka.h>

/* ---- an in-memory bottom ------------------------------------------------ */

static atomic_int bottom_calls;
static atomic_long lookups, forgets;	/* lookup references in and out */
static atomic_int opens, releases;

static void mem_bottom(void *ctx, struct flt_callback_data *d)
{
	atomic_fetch_add(&bottom_calls, 1);
	d->io_status.status = 0;
	switch (d->op) {
	case FLT_OP_LOOKUP:
	case FLT_OP_CREATE:
		if (!strcmp(d->op == FLT_OP_LOOKUP ? d->params.lookup.name
						   : d->params.create.name,
			    "missing")) {
			d->io_status.status = -ENOENT;
			return;
		}
		atomic_fetch_add(&lookups, 1);
		d->results.entry.ino = 1000 + d->ino;
		d->results.entry.attr.st_mode =
			!strcmp(d->params.lookup.name, "dir") ? S_IFDIR | 0755
							       : S_IFREG | 0644;
		if (d->op == FLT_OP_CREATE) {
			atomic_fetch_add(&opens, 1);
			d->results.open.fh = 77;
		}
		break;
	case FLT_OP_FORGET:
		atomic_fetch_add(&forgets, (long)d->params.forget.nlookup);
		break;
	case FLT_OP_OPEN:
	case FLT_OP_OPENDIR:
		atomic_fetch_add(&opens, 1);
		d->results.open.fh = 77;
		break;
	case FLT_OP_RELEASE:
	case FLT_OP_RELEASEDIR:
		atomic_fetch_add(&releases, 1);
		break;
	case FLT_OP_READ:
		/* byte i of file X is (X + offset + i) & 0xff */
		for (size_t i = 0; i < d->params.read.size; i++)
			((unsigned char *)d->params.read.buf)[i] =
				(unsigned char)(d->ino + d->params.read.offset + i);
		d->io_status.information = d->params.read.size;
		break;
	case FLT_OP_WRITE:
		d->io_status.information = d->params.write.size;
		break;
	case FLT_OP_GETATTR:
		d->results.attr.st_ino = d->ino;
		d->results.attr.st_size = 12345;
		break;
	default:
		break;
	}
}

static const struct core_bottom bottom = { mem_bottom, NULL };

/* ---- recording ----------------------------------------------------------- */

static char event_log[8192];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_event(const char *fmt, ...)
{
	char buf[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	if (event_log[0])
		strncat(event_log, " ", sizeof(event_log) - strlen(event_log) - 1);
	strncat(event_log, buf, sizeof(event_log) - strlen(event_log) - 1);
	pthread_mutex_unlock(&log_lock);
}

struct completion {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int count;
	int status;
	pthread_t thread;
};

static void done_cb(struct flt_callback_data *d, void *cookie)
{
	struct completion *c = cookie;

	pthread_mutex_lock(&c->lock);
	c->count++;
	c->status = d->io_status.status;
	c->thread = pthread_self();
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void wait_completion(struct completion *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->count == 0)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

#define COMPLETION_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 }

/* ---- a worker that completes pended operations --------------------------- */

enum job_kind { JOB_PRE, JOB_POST };
struct job {
	struct flt_callback_data *data;
	enum job_kind kind;
	enum flt_preop_status status;
	void *context;
	int delay_ms;
	struct job *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct job *q_head;
static int q_stop;
static pthread_t worker;
static pthread_t worker_thread_id;

static void *worker_main(void *arg)
{
	worker_thread_id = pthread_self();
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&q_lock);
		while (!q_head && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		if (!q_head) {
			pthread_mutex_unlock(&q_lock);
			return NULL;
		}
		j = q_head;
		q_head = j->next;
		pthread_mutex_unlock(&q_lock);
		if (j->delay_ms)
			usleep(j->delay_ms * 1000);
		if (j->kind == JOB_PRE)
			flt_complete_pended_preop(j->data, j->status, j->context);
		else
			flt_complete_pended_postop(j->data);
		free(j);
	}
}

static void queue_job(struct flt_callback_data *d, enum job_kind kind,
		      enum flt_preop_status status, void *context, int delay)
{
	struct job *j = calloc(1, sizeof(*j)), **pp;

	j->data = d;
	j->kind = kind;
	j->status = status;
	j->context = context;
	j->delay_ms = delay;
	pthread_mutex_lock(&q_lock);
	for (pp = &q_head; *pp; pp = &(*pp)->next)
		;
	*pp = j;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

/* ---- configurable test filters ------------------------------------------- */

enum mode {
	M_PASS,		/* WITH_CALLBACK */
	M_PEND_WORKER,	/* PENDING, worker completes with WITH_CALLBACK */
	M_PEND_INLINE,	/* PENDING, completed inside the pre itself */
	M_PEND_COMPLETE,/* PENDING, worker completes with COMPLETE -EACCES */
	M_SYNC,		/* SYNCHRONIZE */
	M_POST_MORE,	/* post returns MORE_PROCESSING, worker completes */
	M_CANCELLABLE,	/* PENDING with a cancel routine, never completed */
	M_FIO_READ,	/* reads file 5 below itself from inside its read */
};

struct tf {
	enum mode mode;
	int delay_ms;			/* before the worker completes */
	pthread_t pre_thread, post_thread;
	atomic_int pre_calls, post_calls;
	atomic_int fio_seen;		/* filter-initiated ops seen */
	int fio_delay_ms;		/* M_PEND_WORKER: before completing
					   a filter-initiated op */
	int fio_result;
	unsigned char fio_buf[16];
};
static struct tf tfs[8];	/* indexed by altitude / 100 */

static struct tf *tf_of(const struct flt_related_objects *o)
{
	return &tfs[flt_instance_altitude(o->instance) / 100];
}

static void cancel_routine(struct flt_callback_data *d)
{
	log_event("cancel-routine");
	d->io_status.status = -EINTR;
	flt_complete_pended_preop(d, FLT_PREOP_COMPLETE, NULL);
}

static enum flt_preop_status t_pre(struct flt_callback_data *d,
				   const struct flt_related_objects *o,
				   void **ctx)
{
	struct tf *t = tf_of(o);
	unsigned alt = flt_instance_altitude(o->instance);

	if (d->flags & FLT_IO_FILTER_INITIATED) {
		atomic_fetch_add(&t->fio_seen, 1);
		if (t->mode == M_PEND_WORKER) {
			queue_job(d, JOB_PRE, FLT_PREOP_SUCCESS_NO_CALLBACK,
				  NULL, t->fio_delay_ms);
			return FLT_PREOP_PENDING;
		}
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	}
	atomic_fetch_add(&t->pre_calls, 1);
	pthread_mutex_lock(&log_lock);
	t->pre_thread = pthread_self();
	pthread_mutex_unlock(&log_lock);
	log_event("pre:%u", alt);
	*ctx = t;
	switch (t->mode) {
	case M_PEND_WORKER:
		queue_job(d, JOB_PRE, FLT_PREOP_SUCCESS_WITH_CALLBACK, t,
			  t->delay_ms);
		return FLT_PREOP_PENDING;
	case M_PEND_INLINE:
		flt_complete_pended_preop(d, FLT_PREOP_SUCCESS_WITH_CALLBACK, t);
		return FLT_PREOP_PENDING;
	case M_PEND_COMPLETE:
		d->io_status.status = -EACCES;
		queue_job(d, JOB_PRE, FLT_PREOP_COMPLETE, t, 10);
		return FLT_PREOP_PENDING;
	case M_SYNC:
		return FLT_PREOP_SYNCHRONIZE;
	case M_CANCELLABLE:
		assert_int_equal(flt_set_cancel_routine(d, cancel_routine), 0);
		return FLT_PREOP_PENDING;
	case M_FIO_READ: {
		struct flt_file f = { .ino = 5, .fh = 9 };
		size_t got = 0;

		t->fio_result = flt_read_file(o->instance, &f, 3,
					      sizeof(t->fio_buf), t->fio_buf,
					      &got);
		assert_int_equal(got, sizeof(t->fio_buf));
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	}
	default:
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	}
}

static enum flt_postop_status t_post(struct flt_callback_data *d,
				     const struct flt_related_objects *o,
				     void *ctx, unsigned flags)
{
	struct tf *t = tf_of(o);

	assert_ptr_equal(ctx, t);
	atomic_fetch_add(&t->post_calls, 1);
	pthread_mutex_lock(&log_lock);
	t->post_thread = pthread_self();
	pthread_mutex_unlock(&log_lock);
	log_event("post:%u", flt_instance_altitude(o->instance));
	if (t->mode == M_POST_MORE) {
		queue_job(d, JOB_POST, 0, NULL, 20);
		return FLT_POSTOP_MORE_PROCESSING_REQUIRED;
	}
	return FLT_POSTOP_FINISHED_PROCESSING;
}

#define ALL_OPS(x) { x, 0, t_pre, t_post }
static const struct flt_operation_registration t_ops[] = {
	ALL_OPS(FLT_OP_READ), ALL_OPS(FLT_OP_GETATTR), ALL_OPS(FLT_OP_LOOKUP),
	ALL_OPS(FLT_OP_FORGET), ALL_OPS(FLT_OP_OPEN), ALL_OPS(FLT_OP_CREATE),
	ALL_OPS(FLT_OP_RELEASE), ALL_OPS(FLT_OP_WRITE),
	FLT_OPERATION_END
};

/* ---- fixture --------------------------------------------------------------- */

static struct flt_volume *vol;
static struct flt_filter *filters[8];
static struct flt_instance *insts[8];

static int setup(void **state)
{
	char name[16];

	memset(tfs, 0, sizeof(tfs));
	for (int i = 0; i < 8; i++) {
		tfs[i].delay_ms = 20;	/* long enough to return PENDING first */
		tfs[i].fio_delay_ms = 5;
	}
	event_log[0] = '\0';
	atomic_store(&bottom_calls, 0);
	atomic_store(&lookups, 0);
	atomic_store(&forgets, 0);
	atomic_store(&opens, 0);
	atomic_store(&releases, 0);
	q_stop = 0;
	pthread_create(&worker, NULL, worker_main, NULL);
	assert_int_equal(core_volume_create("model", &bottom, &vol), 0);
	for (int i = 1; i <= 4; i++) {
		struct flt_registration reg = {
			FLT_REGISTRATION_INIT, .name = name,
			.default_altitude = (uint32_t)i * 100,
			.operations = t_ops,
		};

		snprintf(name, sizeof(name), "model-%d", i);
		assert_int_equal(flt_register_filter(&reg, &filters[i]), 0);
		flt_start_filtering(filters[i]);
		assert_int_equal(core_volume_attach(vol, name, 0, NULL,
						    &insts[i]), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	pthread_mutex_lock(&q_lock);
	q_stop = 1;
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(worker, NULL);
	assert_int_equal(core_volume_inflight(vol), 0);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
	core_volume_destroy(vol);
	for (int i = 1; i <= 4; i++)
		flt_unregister_filter(filters[i]);
	return 0;
}

static int dispatch_read_wait(struct completion *c, struct flt_callback_data *d,
			      unsigned char *buf)
{
	core_data_init(d, FLT_OP_READ, 1);
	d->params.read.buf = buf;
	d->params.read.size = 4;
	core_dispatch(vol, d, done_cb, c);
	wait_completion(c);
	return c->status;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_pend_pre_completed_by_worker(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[3].mode = M_PEND_WORKER;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	assert_string_equal(event_log, "pre:400 pre:300 pre:200 pre:100 "
				       "post:100 post:200 post:300 post:400");
	assert_int_equal(c.count, 1);
	assert_int_equal(atomic_load(&bottom_calls), 1);
	/* everything after the pend ran on the worker, completion included */
	assert_true(pthread_equal(tfs[2].pre_thread, worker_thread_id));
	assert_true(pthread_equal(c.thread, worker_thread_id));
}

static void test_pend_pre_completed_inline(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[2].mode = M_PEND_INLINE;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	assert_string_equal(event_log, "pre:400 pre:300 pre:200 pre:100 "
				       "post:100 post:200 post:300 post:400");
	assert_true(pthread_equal(c.thread, pthread_self()));
}

static void test_pend_pre_then_complete(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[3].mode = M_PEND_COMPLETE;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), -EACCES);
	/* nothing below 300 ran; the filter above still gets its post */
	assert_string_equal(event_log, "pre:400 pre:300 post:400");
	assert_int_equal(atomic_load(&bottom_calls), 0);
}

static void test_post_more_processing(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[2].mode = M_POST_MORE;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	assert_string_equal(event_log, "pre:400 pre:300 pre:200 pre:100 "
				       "post:100 post:200 post:300 post:400");
	/* the posts above 200 ran on the worker that completed it */
	assert_true(pthread_equal(tfs[3].post_thread, worker_thread_id));
	assert_true(pthread_equal(c.thread, worker_thread_id));
}

static void test_synchronize_posts_on_issuer(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[3].mode = M_SYNC;		/* wants its post on this thread */
	tfs[1].mode = M_PEND_WORKER;	/* below it, the op moves threads */
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	assert_string_equal(event_log, "pre:400 pre:300 pre:200 pre:100 "
				       "post:100 post:200 post:300 post:400");
	assert_true(pthread_equal(tfs[1].post_thread, worker_thread_id));
	assert_true(pthread_equal(tfs[2].post_thread, worker_thread_id));
	assert_true(pthread_equal(tfs[3].post_thread, pthread_self()));
	assert_true(pthread_equal(tfs[4].post_thread, pthread_self()));
	assert_true(pthread_equal(c.thread, pthread_self()));
}

static void test_synchronize_with_post_pend_below(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[4].mode = M_SYNC;
	tfs[2].mode = M_POST_MORE;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	assert_true(pthread_equal(tfs[3].post_thread, worker_thread_id));
	assert_true(pthread_equal(tfs[4].post_thread, pthread_self()));
	assert_int_equal(c.count, 1);
}

static void test_cancel_pended(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[2].mode = M_CANCELLABLE;
	core_data_init(&d, FLT_OP_READ, 1);
	d.params.read.buf = buf;
	d.params.read.size = 4;
	core_dispatch(vol, &d, done_cb, &c);
	/* pended: not complete, visible as in flight */
	assert_int_equal(c.count, 0);
	assert_int_equal(core_volume_inflight(vol), 1);
	core_cancel(vol, &d);
	wait_completion(&c);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.status, -EINTR);
	assert_string_equal(event_log, "pre:400 pre:300 pre:200 cancel-routine "
				       "post:300 post:400");
}

static void test_fio_starts_below_issuer(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	tfs[3].mode = M_FIO_READ;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	assert_int_equal(tfs[3].fio_result, 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(tfs[3].fio_buf[i], (unsigned char)(5 + 3 + i));
	/* the nested read reached 200 and 100, never 300 or 400 */
	assert_int_equal(atomic_load(&tfs[4].fio_seen), 0);
	assert_int_equal(atomic_load(&tfs[3].fio_seen), 0);
	assert_int_equal(atomic_load(&tfs[2].fio_seen), 1);
	assert_int_equal(atomic_load(&tfs[1].fio_seen), 1);
	assert_int_equal(atomic_load(&bottom_calls), 2);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

static void test_fio_from_every_altitude(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data d;
	unsigned char buf[4];

	for (int i = 1; i <= 4; i++)
		tfs[i].mode = M_FIO_READ;
	assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
	/* the read issued at altitude N*100 is seen by the N-1 below it */
	assert_int_equal(atomic_load(&tfs[4].fio_seen), 0);
	assert_int_equal(atomic_load(&tfs[3].fio_seen), 1);
	assert_int_equal(atomic_load(&tfs[2].fio_seen), 2);
	assert_int_equal(atomic_load(&tfs[1].fio_seen), 3);
	assert_int_equal(atomic_load(&bottom_calls), 5);
}

static void test_fio_create_close_balance(void **state)
{
	struct flt_file f;
	struct flt_entry e;
	struct stat st;
	char buf[8];
	size_t n;

	assert_int_equal(flt_create_file(insts[3], "dir/sub/file", O_RDONLY, 0,
					 &f), 0);
	assert_int_equal(flt_read_file(insts[3], &f, 0, sizeof(buf), buf, &n),
			 0);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(flt_write_file(insts[3], &f, 0, 3, "abc", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(flt_query_information(insts[3], f.ino, &st), 0);
	assert_int_equal(st.st_size, 12345);
	assert_int_equal(flt_close(insts[3], &f), 0);

	assert_int_equal(flt_create_file(insts[3], "new", O_CREAT | O_RDWR,
					 0600, &f), 0);
	assert_int_equal(flt_close(insts[3], &f), 0);

	assert_int_equal(flt_create_file(insts[3], "dir/missing", O_RDONLY, 0,
					 &f), -ENOENT);
	assert_int_equal(flt_create_file(insts[3], "dir/../x", O_RDONLY, 0,
					 &f), -EINVAL);
	assert_int_equal(flt_lookup_path(insts[3], "/dir/sub", &e), 0);
	flt_forget(insts[3], e.ino, 1);

	/* every lookup reference taken below was given back */
	assert_int_equal(atomic_load(&lookups), atomic_load(&forgets));
	assert_int_equal(atomic_load(&opens), atomic_load(&releases));
	assert_int_equal(atomic_load(&opens), 2);
	/* and nothing of it reached the issuer or the filter above */
	assert_int_equal(atomic_load(&tfs[4].fio_seen), 0);
	assert_int_equal(atomic_load(&tfs[3].fio_seen), 0);
	assert_true(atomic_load(&tfs[2].fio_seen) > 0);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

/* A READ of node 2 into @buf, issued by @inst. */
static struct flt_callback_data *read_data(struct flt_instance *inst,
					   char *buf, size_t size)
{
	struct flt_callback_data *d;

	assert_int_equal(flt_allocate_callback_data(inst, FLT_OP_READ, &d), 0);
	d->ino = 2;
	d->params.read.buf = buf;
	d->params.read.size = size;
	return d;
}

static void fio_async_done(struct flt_callback_data *d, void *ctx)
{
	done_cb(d, ctx);
}

static void test_fio_async_with_pending_below(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data *d;
	char buf[4];

	tfs[1].mode = M_PEND_WORKER;	/* the async read pends below */
	d = read_data(insts[3], buf, sizeof(buf));
	flt_perform_asynchronous_io(d, fio_async_done, &c);
	wait_completion(&c);
	assert_int_equal(c.status, 0);
	assert_int_equal(d->io_status.information, sizeof(buf));
	assert_true(pthread_equal(c.thread, worker_thread_id));
	assert_int_equal(core_volume_live_callback_data(vol), 1);
	flt_free_callback_data(d);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

/* ---- recycled callback data (fio.c keeps freed ones per thread) --------- */

struct fio_batch {
	struct flt_callback_data *d[16];
	int n;
};

static void *free_batch(void *arg)
{
	struct fio_batch *b = arg;

	for (int i = 0; i < b->n; i++)
		flt_free_callback_data(b->d[i]);
	return NULL;	/* this thread's cache is destroyed as it exits */
}

/* Allocated and used here, freed on another thread (which keeps a few and
 * destroys the rest; ASan/LSan: no leak, no double free). */
static void test_fio_free_on_other_thread(void **state)
{
	struct fio_batch b = { .n = 16 };
	struct flt_callback_data *d;
	pthread_t th;

	for (int i = 0; i < b.n; i++) {
		assert_int_equal(flt_allocate_callback_data(insts[3],
							    FLT_OP_GETATTR,
							    &b.d[i]), 0);
		b.d[i]->ino = 10 + i;
		assert_int_equal(flt_perform_synchronous_io(b.d[i]), 0);
		assert_int_equal(b.d[i]->results.attr.st_ino, 10 + i);
	}
	assert_int_equal(core_volume_live_callback_data(vol), b.n);
	pthread_create(&th, NULL, free_batch, &b);
	pthread_join(th, NULL);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
	/* and this thread goes on allocating */
	assert_int_equal(flt_allocate_callback_data(insts[3], FLT_OP_GETATTR,
						    &d), 0);
	d->ino = 3;
	assert_int_equal(flt_perform_synchronous_io(d), 0);
	assert_int_equal(d->results.attr.st_size, 12345);
	flt_free_callback_data(d);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

static void fio_free_in_done(struct flt_callback_data *d, void *ctx)
{
	struct completion *c = ctx;
	int status = d->io_status.status;

	flt_free_callback_data(d);	/* on the completing thread */
	pthread_mutex_lock(&c->lock);
	c->count++;
	c->status = status;
	c->thread = pthread_self();
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Asynchronous I/O completed by the worker, which frees the callback data
 * in the completion callback: it joins the worker's cache. */
static void test_fio_async_freed_by_completer(void **state)
{
	char buf[4];
	int on_worker = 0;

	tfs[1].mode = M_PEND_WORKER;
	tfs[1].fio_delay_ms = 2;	/* the pre returns PENDING first */
	for (int i = 0; i < 20; i++) {
		struct completion c = COMPLETION_INIT;

		flt_perform_asynchronous_io(read_data(insts[3], buf,
						      sizeof(buf)),
					    fio_free_in_done, &c);
		wait_completion(&c);
		assert_int_equal(c.status, 0);
		on_worker += pthread_equal(c.thread, worker_thread_id) != 0;
	}
	/* (a worker that comes before the pre returns leaves the rest of
	 * the operation to this thread: not every time) */
	assert_true(on_worker > 0);
	assert_int_equal(atomic_load(&tfs[1].fio_seen), 20);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

/* A freed callback data comes back fresh: nothing of its last use (op,
 * parameters, results, requestor, status, issuer) shows through. */
static void test_fio_reuse_after_free(void **state)
{
	struct flt_callback_data *d, *e;

	assert_int_equal(flt_allocate_callback_data(insts[3], FLT_OP_READLINK,
						    &d), 0);
	d->ino = 42;
	d->params.read.size = 7;
	d->requestor.uid = 1000;
	d->io_status.status = -EIO;
	d->results.link = strdup("owned by the data: freed with it");
	flt_free_callback_data(d);
	assert_int_equal(core_volume_live_callback_data(vol), 0);

	assert_int_equal(flt_allocate_callback_data(insts[2], FLT_OP_GETATTR,
						    &e), 0);
	assert_ptr_equal(e, d);	/* recycled: this thread's cache */
	assert_int_equal(core_volume_live_callback_data(vol), 1);
	assert_int_equal(e->op, FLT_OP_GETATTR);
	assert_int_equal(e->flags, FLT_IO_FILTER_INITIATED);
	assert_int_equal(e->ino, 0);
	assert_int_equal(e->params.read.size, 0);
	assert_null(e->results.link);
	assert_int_equal(e->requestor.pid, getpid());
	assert_int_equal(e->requestor.uid, 0);
	assert_int_equal(e->io_status.status, 0);
	assert_null(e->core);
	e->ino = 7;
	assert_int_equal(flt_perform_synchronous_io(e), 0);
	assert_int_equal(e->results.attr.st_ino, 7);
	/* issued by its new issuer: starts below insts[2], not insts[3] */
	assert_int_equal(atomic_load(&tfs[2].fio_seen), 0);
	assert_int_equal(atomic_load(&tfs[1].fio_seen), 1);
	flt_free_callback_data(e);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

/* The requestor pid is cached, but not across fork(). */
static void test_fio_requestor_pid_after_fork(void **state)
{
	struct flt_callback_data *d;
	int status;
	pid_t child;

	assert_int_equal(flt_allocate_callback_data(insts[3], FLT_OP_GETATTR,
						    &d), 0);
	assert_int_equal(d->requestor.pid, getpid());
	flt_free_callback_data(d);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int ok = !flt_allocate_callback_data(insts[3], FLT_OP_GETATTR,
						     &d) &&
			 d->requestor.pid == getpid();

		flt_free_callback_data(d);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Synchronous I/O completed by the worker as fast as it can, from two
 * threads: the issuer finds it done, or still under way and sleeps (TSan
 * in CI). */
static void *sync_reader(void *arg)
{
	struct flt_instance *inst = arg;

	for (int i = 0; i < 200; i++) {
		struct flt_file f = { .ino = 5, .fh = 9 };
		unsigned char buf[8];
		size_t got = 0;

		assert_int_equal(flt_read_file(inst, &f, i, sizeof(buf), buf,
					       &got), 0);
		assert_int_equal(got, sizeof(buf));
		assert_int_equal(buf[7], (unsigned char)(5 + i + 7));
	}
	return NULL;
}

static void test_fio_sync_completed_elsewhere(void **state)
{
	pthread_t th[2];

	tfs[1].mode = M_PEND_WORKER;
	tfs[1].fio_delay_ms = 0;
	/* and the reads from insts[3] first pend 1 ms at insts[2]: the
	 * issuer surely sleeps, and the worker falls behind for the other */
	tfs[2].mode = M_PEND_WORKER;
	tfs[2].fio_delay_ms = 1;
	pthread_create(&th[0], NULL, sync_reader, insts[3]);
	pthread_create(&th[1], NULL, sync_reader, insts[2]);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	assert_int_equal(atomic_load(&tfs[2].fio_seen), 200);
	assert_int_equal(atomic_load(&tfs[1].fio_seen), 400);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
}

/* A detach of the instance that holds a (recycled) callback data's I/O
 * pended waits for it; the data stays live, and counted, until freed,
 * also after its issuer is detached. */
static void test_fio_detach_waits_and_counts(void **state)
{
	struct completion c = COMPLETION_INIT;
	struct flt_callback_data *d;
	char buf[4];
	int before;

	tfs[1].mode = M_PEND_WORKER;
	tfs[1].fio_delay_ms = 50;
	assert_int_equal(flt_allocate_callback_data(insts[4], FLT_OP_READ, &d),
			 0);
	flt_free_callback_data(d);
	d = read_data(insts[4], buf, sizeof(buf));
	before = atomic_load(&bottom_calls);
	flt_perform_asynchronous_io(d, fio_async_done, &c);
	assert_int_equal(core_volume_detach(vol, insts[1]), 0);
	/* it had passed the detached instance before the detach returned */
	assert_int_equal(atomic_load(&bottom_calls), before + 1);
	wait_completion(&c);
	assert_int_equal(c.status, 0);
	assert_int_equal(core_volume_live_callback_data(vol), 1);
	assert_int_equal(core_volume_detach(vol, insts[4]), 0);
	assert_int_equal(core_volume_live_callback_data(vol), 1);
	flt_free_callback_data(d);
	assert_int_equal(core_volume_live_callback_data(vol), 0);
	assert_int_equal(core_volume_attach(vol, "model-1", 0, NULL,
					    &insts[1]), 0);
	assert_int_equal(core_volume_attach(vol, "model-4", 0, NULL,
					    &insts[4]), 0);
}

/* Many concurrent operations, each pended and completed by the worker,
 * while instances are detached and re-attached (TSan in CI). */
static void *reader(void *arg)
{
	for (int i = 0; i < 200; i++) {
		struct completion c = COMPLETION_INIT;
		struct flt_callback_data d;
		unsigned char buf[4];

		assert_int_equal(dispatch_read_wait(&c, &d, buf), 0);
		assert_int_equal(c.count, 1);
	}
	return NULL;
}

static void test_pending_under_detach(void **state)
{
	pthread_t th[4];

	tfs[1].mode = M_PEND_INLINE;
	tfs[2].mode = M_PEND_WORKER;
	tfs[2].delay_ms = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	for (int round = 0; round < 20; round++) {
		assert_int_equal(core_volume_detach(vol, insts[4]), 0);
		assert_int_equal(core_volume_attach(vol, "model-4", 0, NULL,
						    &insts[4]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(core_volume_inflight(vol), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_pend_pre_completed_by_worker),
		T(test_pend_pre_completed_inline),
		T(test_pend_pre_then_complete),
		T(test_post_more_processing),
		T(test_synchronize_posts_on_issuer),
		T(test_synchronize_with_post_pend_below),
		T(test_cancel_pended),
		T(test_fio_starts_below_issuer),
		T(test_fio_from_every_altitude),
		T(test_fio_create_close_balance),
		T(test_fio_async_with_pending_below),
		T(test_fio_free_on_other_thread),
		T(test_fio_async_freed_by_completer),
		T(test_fio_reuse_after_free),
		T(test_fio_requestor_pid_after_fork),
		T(test_fio_sync_completed_elsewhere),
		T(test_fio_detach_waits_and_counts),
		T(test_pending_under_detach),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
