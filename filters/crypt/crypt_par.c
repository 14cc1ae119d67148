/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: block cryptography of one large request spread over helper
 * threads. A FUSE read of 1 MiB is one request on one worker thread, and
 * the kernel rarely has a second one in flight for the same sequential
 * reader, so without this a cold sequential read decrypts on one core
 * while the others wait (gocryptfs splits large requests the same way).
 *
 * The caller queues all chunks but the first, runs the first itself, then
 * takes back every chunk no helper has started and runs it too: when the
 * helpers are busy (many requests at once), nothing waits for them.
 * Helpers start on first use (one fewer than the CPUs, at most 7, none on
 * one CPU), block every signal, and live as long as the process.
 *
 * Lock: par_mu, a leaf; never held while a chunk runs.
 */
#include "filters/crypt/crypt_int.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#define PAR_MAX_HELPERS 7u

enum { JOB_QUEUED, JOB_TAKEN, JOB_DONE };

struct par_job {
	crypt_par_fn fn;
	void *arg;
	size_t i0, i1;
	int ret;
	int state;			/* par_mu */
	struct par_job *prev, *next;	/* par_mu: the queue */
};

static pthread_mutex_t par_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t par_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t par_done = PTHREAD_COND_INITIALIZER;
static struct par_job *par_head, *par_tail;	/* par_mu */
static unsigned par_helpers;	/* set once */
static pthread_once_t par_once = PTHREAD_ONCE_INIT;

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

static void *helper(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&par_mu);
	for (;;) {
		struct par_job *j;
		int ret;

		while (!par_head)
			pthread_cond_wait(&par_work, &par_mu);
		j = par_head;
		unlink_job(j);
		j->state = JOB_TAKEN;
		pthread_mutex_unlock(&par_mu);
		ret = j->fn(j->arg, j->i0, j->i1);
		pthread_mutex_lock(&par_mu);
		j->ret = ret;
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
	size_t nchunks, per;
	int ret, r;

	pthread_once(&par_once, par_start);
	nchunks = min_chunk ? n / min_chunk : n;
	if (nchunks > par_helpers + 1)
		nchunks = par_helpers + 1;
	if (nchunks <= 1)
		return fn(arg, 0, n);
	per = (n + nchunks - 1) / nchunks;
	pthread_mutex_lock(&par_mu);
	for (size_t c = 1; c < nchunks; c++) {
		struct par_job *j = &jobs[c - 1];

		j->fn = fn;
		j->arg = arg;
		j->i0 = c * per;
		j->i1 = (c + 1) * per < n ? (c + 1) * per : n;
		j->ret = 0;
		j->state = JOB_QUEUED;
		j->next = NULL;
		j->prev = par_tail;
		if (par_tail)
			par_tail->next = j;
		else
			par_head = j;
		par_tail = j;
	}
	if (nchunks == 2)
		pthread_cond_signal(&par_work);
	else
		pthread_cond_broadcast(&par_work);
	pthread_mutex_unlock(&par_mu);

	ret = fn(arg, 0, per);
	for (size_t c = 1; c < nchunks; c++) {
		struct par_job *j = &jobs[c - 1];

		pthread_mutex_lock(&par_mu);
		if (j->state == JOB_QUEUED) {
			unlink_job(j);	/* no helper got to it: ours */
			pthread_mutex_unlock(&par_mu);
			r = fn(arg, j->i0, j->i1);
		} else {
			while (j->state != JOB_DONE)
				pthread_cond_wait(&par_done, &par_mu);
			r = j->ret;
			pthread_mutex_unlock(&par_mu);
		}
		if (!ret)
			ret = r;
	}
	return ret;
}
