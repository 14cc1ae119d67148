/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The trace view of the manager (src/core/trace.c, fsfilter mount -d):
 * the steps of an operation in order (pre-callbacks down by altitude, a
 * COMPLETE stopping the descent, posts back up in reverse), a pended
 * operation's resumption, and whole lines from many threads at once.
 */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
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

static enum flt_preop_status status_at[4];	/* by altitude / 100 */
static struct flt_callback_data *pended;

static enum flt_preop_status pre(struct flt_callback_data *d,
				 const struct flt_related_objects *o,
				 void **ctx)
{
	enum flt_preop_status s = status_at[flt_instance_altitude(
					    o->instance) / 100 % 4];

	if (s == FLT_PREOP_COMPLETE)
		d->io_status.status = -EACCES;
	if (s == FLT_PREOP_PENDING)
		pended = d;
	return s;
}

static enum flt_postop_status post(struct flt_callback_data *d,
				   const struct flt_related_objects *o,
				   void *ctx, unsigned flags)
{
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static const struct flt_operation_registration ops[] = {
	{ FLT_OP_READ, 0, pre, post },
	{ FLT_OP_LOOKUP, 0, pre, post },
	FLT_OPERATION_END
};

static void bottom(void *ctx, struct flt_callback_data *d)
{
	d->io_status.status = 0;
	d->io_status.information = d->params.read.size;
}

static void done_cb(struct flt_callback_data *d, void *cookie)
{
	atomic_fetch_add((atomic_int *)cookie, 1);
}

struct fx {
	struct flt_volume *vol;
	struct flt_filter *f[2];
	char path[64];
	int fd;
};

static int setup(void **state)
{
	static const struct core_bottom b = { bottom, NULL };
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *names[2] = { "upper", "lower" };

	for (int i = 0; i < 2; i++) {
		struct flt_registration reg = {
			FLT_REGISTRATION_INIT,
			.name = names[i],
			.default_altitude = 1000,
			.operations = ops,
		};

		assert_int_equal(flt_register_filter(&reg, &fx->f[i]), 0);
		assert_int_equal(flt_start_filtering(fx->f[i]), 0);
	}
	assert_int_equal(core_volume_create("trace", &b, &fx->vol), 0);
	assert_int_equal(core_volume_attach(fx->vol, "upper", 300, NULL,
					    NULL), 0);
	assert_int_equal(core_volume_attach(fx->vol, "lower", 200, NULL,
					    NULL), 0);
	snprintf(fx->path, sizeof(fx->path), "/tmp/fsfilter-trace.XXXXXX");
	fx->fd = mkstemp(fx->path);
	assert_true(fx->fd >= 0);
	close(fx->fd);
	/* O_APPEND: concurrent write(2)s land whole, one after the other */
	fx->fd = open(fx->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fx->fd >= 0);
	core_volume_set_trace(fx->vol, fx->fd);
	for (int i = 0; i < 4; i++)
		status_at[i] = FLT_PREOP_SUCCESS_WITH_CALLBACK;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	core_volume_destroy(fx->vol);
	for (int i = 0; i < 2; i++)
		flt_unregister_filter(fx->f[i]);
	close(fx->fd);
	unlink(fx->path);
	free(fx);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	static char buf[1 << 16];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void read_op(struct fx *fx, uint64_t id)
{
	struct flt_callback_data d;
	atomic_int done = 0;

	core_data_init(&d, FLT_OP_READ, 5);
	d.params.read.offset = 4096;
	d.params.read.size = 100;
	core_dispatch_id(fx->vol, &d, id, done_cb, &done);
	assert_int_equal(atomic_load(&done), 1);
}

static void test_down_and_up(void **state)
{
	struct fx *fx = *state;
	const char *want =
		"   unique: 7, dispatch: read, nodeid: 5, fh: 0, offset: 4096, "
		"size: 100, pid: 0, filters: 2\n"
		"   unique: 7, pre:  upper@300 SUCCESS_WITH_CALLBACK\n"
		"   unique: 7,   pre:  lower@200 SUCCESS_WITH_CALLBACK\n"
		"   unique: 7,     lower: read, status: 0 (success)\n"
		"   unique: 7,   post: lower@200 FINISHED_PROCESSING, status: 0 "
		"(success)\n"
		"   unique: 7, post: upper@300 FINISHED_PROCESSING, status: 0 "
		"(success)\n"
		"   unique: 7, done: read, status: 0 (success), information: "
		"100\n";

	read_op(fx, 7);
	assert_string_equal(slurp(fx->path), want);
}

static void test_complete_stops_descent(void **state)
{
	struct fx *fx = *state;
	const char *want =
		"   unique: 8, dispatch: read, nodeid: 5, fh: 0, offset: 4096, "
		"size: 100, pid: 0, filters: 2\n"
		"   unique: 8, pre:  upper@300 SUCCESS_NO_CALLBACK\n"
		"   unique: 8,   pre:  lower@200 COMPLETE, status: -13 "
		"(Permission denied)\n"
		"   unique: 8, done: read, status: -13 (Permission denied), "
		"information: 0\n";

	status_at[3] = FLT_PREOP_SUCCESS_NO_CALLBACK;
	status_at[2] = FLT_PREOP_COMPLETE;
	read_op(fx, 8);
	assert_string_equal(slurp(fx->path), want);
}

static void test_pended_then_resumed(void **state)
{
	struct fx *fx = *state;
	struct flt_callback_data d;
	atomic_int done = 0;
	const char *log;

	status_at[3] = FLT_PREOP_PENDING;
	core_data_init(&d, FLT_OP_LOOKUP, 1);
	d.params.lookup.name = "file";
	core_dispatch_id(fx->vol, &d, 9, done_cb, &done);
	assert_int_equal(atomic_load(&done), 0);
	assert_ptr_equal(pended, &d);
	flt_complete_pended_preop(&d, FLT_PREOP_SUCCESS_WITH_CALLBACK, NULL);
	assert_int_equal(atomic_load(&done), 1);
	log = slurp(fx->path);
	assert_non_null(strstr(log, "   unique: 9, dispatch: lookup, nodeid: 1, "
				    "name: \"file\""));
	assert_non_null(strstr(log, "   unique: 9, pre:  upper@300 PENDING\n"
				    "   unique: 9, pre:  upper@300 resumed: "
				    "SUCCESS_WITH_CALLBACK\n"
				    "   unique: 9,   pre:  lower@200 "));
}

/* A hostile name cannot forge a line or close its quotes. */
static void test_names_escaped(void **state)
{
	struct fx *fx = *state;
	struct flt_callback_data d;
	atomic_int done = 0;
	static const char head[] = "a\n   unique: 1, done: \"\\";
	char name[300];
	const char *log;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name, head, sizeof(head) - 1);
	core_data_init(&d, FLT_OP_LOOKUP, 1);
	d.params.lookup.name = name;
	core_dispatch_id(fx->vol, &d, 10, done_cb, &done);
	assert_int_equal(atomic_load(&done), 1);
	log = slurp(fx->path);
	assert_non_null(strstr(log, "name: \"a\\x0a   unique: 1, done: "
				    "\\x22\\x5cnnn"));
	assert_non_null(strstr(log, "nnn...\""));
	for (const char *l = log; *l; l = strchr(l, '\n') + 1)
		assert_int_equal(strncmp(l, "   unique: 10, ", 15), 0);
}

#define THREADS 4
#define PER_THREAD 2000

struct worker {
	struct fx *fx;
	int n;
};

static void *worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < PER_THREAD; i++)
		read_op(w->fx, (uint64_t)(w->n * PER_THREAD + i + 1));
	return NULL;
}

/* Many threads trace at once: every line is whole and every operation's
 * seven lines come in their order. */
static void test_threads_whole_lines(void **state)
{
	struct fx *fx = *state;
	/* (sscanf's blank skips the indentation: test_down_and_up has it) */
	static const char *const steps[] = { "dispatch: ", "pre:  upper",
		"pre:  lower", "lower: read", "post: lower", "post: upper",
		"done: " };
	static unsigned char seen[THREADS * PER_THREAD + 1];
	struct worker w[THREADS];
	pthread_t th[THREADS];
	char line[1024];
	FILE *f;
	size_t lines = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ fx, i };
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	f = fopen(fx->path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long id;
		int off = 0;

		assert_int_equal(sscanf(line, "   unique: %lu, %n", &id, &off),
				 1);
		assert_true(id >= 1 && id <= THREADS * PER_THREAD && off > 0);
		assert_true(seen[id] < 7);
		if (strncmp(line + off, steps[seen[id]],
			    strlen(steps[seen[id]]))) {
			fprintf(stderr, "op %lu step %d: %s", id, seen[id], line);
			fail();
		}
		assert_int_equal(line[strlen(line) - 1], '\n');
		seen[id]++;
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 7 * THREADS * PER_THREAD);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_down_and_up),
		T(test_complete_stops_descent),
		T(test_pended_then_resumed),
		T(test_names_escaped),
		T(test_threads_whole_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
