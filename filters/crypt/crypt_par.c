/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: block cryptography of one large request spread over helper
 * threads. A FUSE read of 1 MiB is one request on one worker thread, and
 * the kernel rarely has a second one in flight for the same sequential
 * reader, so without this a cold sequential read decrypts on one core
 * while the others wait (gocryptfs splits large requests the same way).
 *
 * The caller invites the helpers and takes chunks itself from the same
 * counter until none are left; invitations no helper took are withdrawn,
 * so when the helpers are busy (many requests at once) nothing waits for
 * them, and a helper preempted mid-chunk delays the request by one small
 * chunk at most.
 * Helpers start on first use (one fewer than the CPUs, at most 7, none on
 * one CPU), block every signal, and live as long as the process.
 *
 * A request is split only while fewer requests than there are CPUs are
 * being served (crypt_par_enter/leave, around the lower I/O and the
 * crypto): with more, every CPU already has one to work on, and the
 * hand-off only adds wakeups (a cold sequential read has up to 32 READs
 * of 128 KiB queued; split, each cost four futex calls, and the helper
 * was woken 11,000 times per 2 GiB, for no parallelism gained).
 *
 * Lock: par_mu, a leaf; never held while a chunk runs.
 */
#include "filters/crypt/crypt_int.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define PAR_MAX_HELPERS 7u

enum { JOB_QUEUED, JOB_TAKEN, JOB_DONE };

/* One request's work: chunks of @chunk items handed out from @next to
 * whoever asks (the caller and the helpers that joined). */
struct par_batch {
	crypt_par_fn fn;
	void *arg;
	size_t n, chunk;
	atomic_size_t next;
	atomic_int ret;		/* first failure */
};

/* A helper's invitation to join a batch. */
struct par_job {
	struct par_batch *batch;
	int state;			/* par_mu */
	struct par_job *prev, *next;	/* par_mu: the queue */
};

static pthread_mutex_t par_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t par_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t par_done = PTHREAD_COND_INITIALIZER;
static struct par_job *par_head, *par_tail;	/* par_mu */
static unsigned par_helpers;	/* set once */
static pthread_once_t par_once = PTHREAD_ONCE_INIT;
static atomic_uint par_active;	/* requests between enter and leave */

static void unlink_job(struct par_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		par_head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		par_tail = j->prev;
	j->prev = j->next = NULL;
}

/* Take chunks until there are none left. Small chunks: a thread that is
 * preempted in the middle of one (the machine is busy) holds up the
 * request by one chunk at most. */
static void run_chunks(struct par_batch *b)
{
	for (;;) {
		size_t i0 = atomic_fetch_add(&b->next, b->chunk), i1;
		int ret, zero = 0;

		if (i0 >= b->n)
			return;
		i1 = i0 + b->chunk < b->n ? i0 + b->chunk : b->n;
		ret = b->fn(b->arg, i0, i1);
		if (ret)
			atomic_compare_exchange_strong(&b->ret, &zero, ret);
	}
}

static void *helper(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&par_mu);
	for (;;) {
		struct par_job *j;

		while (!par_head)
			pthread_cond_wait(&par_work, &par_mu);
		j = par_head;
		unlink_job(j);
		j->state = JOB_TAKEN;
		pthread_mutex_unlock(&par_mu);
		run_chunks(j->batch);
		pthread_mutex_lock(&par_mu);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&par_done);
	}
	return NULL;
}

static void par_start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > 1 ? (unsigned)cpus - 1 : 0;
	sigset_t all, old;
	pthread_attr_t attr;

	if (want > PAR_MAX_HELPERS)
		want = PAR_MAX_HELPERS;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* inherited */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (unsigned i = 0; i < want; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, helper, NULL))
			break;
		par_helpers++;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int crypt_par_run(crypt_par_fn fn, void *arg, size_t n, size_t min_chunk)
{
	struct par_job jobs[PAR_MAX_HELPERS];
	struct par_batch b;
	size_t nhelp;

	pthread_once(&par_once, par_start);
	if (!min_chunk)
		min_chunk = 1;
	nhelp = n / min_chunk;
	if (nhelp)
		nhelp--;	/* the caller does a share too */
	if (nhelp > par_helpers)
		nhelp = par_helpers;
	if (!nhelp)
		return fn(arg, 0, n);
	/* the others (and this one) keep every CPU busy: no hand-off */
	if (atomic_load_explicit(&par_active, memory_order_relaxed) >
	    par_helpers)
		return fn(arg, 0, n);
	b.fn = fn;
	b.arg = arg;
	b.n = n;
	/* about four chunks per thread, never below min_chunk */
	b.chunk = n / (4 * (nhelp + 1));
	if (b.chunk < min_chunk)
		b.chunk = min_chunk;
	atomic_init(&b.next, 0);
	atomic_init(&b.ret, 0);
	pthread_mutex_lock(&par_mu);
	for (size_t c = 0; c < nhelp; c++) {
		struct par_job *j = &jobs[c];

		j->batch = &b;
		j->state = JOB_QUEUED;
		j->next = NULL;
		j->prev = par_tail;
		if (par_tail)
			par_tail->next = j;
		else
			par_head = j;
		par_tail = j;
	}
	if (nhelp == 1)
		pthread_cond_signal(&par_work);
	else
		pthread_cond_broadcast(&par_work);
	pthread_mutex_unlock(&par_mu);

	run_chunks(&b);
	/* all chunks are handed out: withdraw the invitations nobody took,
	 * wait for the helpers still on their last chunk */
	pthread_mutex_lock(&par_mu);
	for (size_t c = 0; c < nhelp; c++) {
		struct par_job *j = &jobs[c];

		if (j->state == JOB_QUEUED)
			unlink_job(j);
		else
			while (j->state != JOB_DONE)
				pthread_cond_wait(&par_done, &par_mu);
	}
	pthread_mutex_unlock(&par_mu);
	return atomic_load(&b.ret);
}

void crypt_par_enter(void)
{
	atomic_fetch_add_explicit(&par_active, 1, memory_order_relaxed);
}

void crypt_par_leave(void)
{
	atomic_fetch_sub_explicit(&par_active, 1, memory_order_relaxed);
}
