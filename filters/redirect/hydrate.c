/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who copies what, when: the instance's table of copies (struct
 * redir_job, one per volume path at most) and its pool of hydration
 * workers. materialise.c does one copy.
 *
 * hydrate (the ProjFS model): the first open for reading queues a
 * background copy and is served from the backing file at once, like every
 * read of the file until the copy commits (the lower copy and the backing
 * file hold the same bytes, so no reader waits for any part of the copy).
 * Further opens join the queued or running copy. At most
 * cfg.hydrate_jobs (default 4) copies run at a time per volume, each on a
 * worker thread started on demand; the rest wait in the queue. When a copy
 * commits, the targets that asked for it are marked materialised and the
 * kernel's caches invalidated: new opens then find the ordinary lower file
 * (an open of the old node answers -ESTALE, ops_file.c), handles opened
 * before keep reading the backing file, which is the same content.
 *
 * Copy-on-write, truncate and an open for writing of a hydrate file need
 * the copy before they go on: redir_materialise() waits for the copy of
 * the path (running it on the caller's thread if none runs yet, or if the
 * one there is still queued), so a write never lands in a half-copied
 * file and is never lost: it goes to the complete lower file.
 *
 * Cancel (redir_hydrate_cancel, `fsfilter redirect cancel`): a queued copy
 * is dropped; a running one stops at its next chunk, its temp file is
 * unlinked, and the name stays a redirect (nothing was renamed). Waiting
 * writers then get -ECANCELED (nothing was written; a retry copies again;
 * not EINTR, which shells and Python retry at once).
 * Teardown (unmount, detach, unload) cancels every copy and joins the
 * workers before the instance goes, so no temp file, fd or context is
 * left behind by a copy.
 *
 * Locks: ri->job_lock protects the list, job states, refs and target
 * lists and the stop flag; it is a leaf and never held across I/O.
 * Progress (done, total, start) is in atomics, read without it. The read
 * path takes no lock here: it never looks at jobs.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static struct redir_job *find_locked(struct redir_inst *ri, const char *path)
{
	for (struct redir_job *j = ri->jobs; j; j = j->next)
		if (!strcmp(j->path, path))
			return j;
	return NULL;
}

/* Drop @n references to @j at once: the last one frees it. One call for
 * every reference a caller gives up, so that nothing touches @j after a
 * put that may have freed it (gcc's -Wuse-after-free cannot tell that an
 * earlier put of several was not the last). */
static void put_locked(struct redir_job *j, unsigned n)
{
	j->refs -= n;
	if (j->refs)
		return;
	for (unsigned i = 0; i < j->nt; i++)
		redir_target_put(j->t[i]);
	free(j);
}

static void add_target_locked(struct redir_job *j, struct redir_target *t)
{
	for (unsigned i = 0; i < j->nt; i++)
		if (j->t[i] == t)
			return;
	/* beyond the array, a later open of the node finds the marker and
	 * marks its target then (materialise.c) */
	if (j->nt < REDIR_JOB_TARGETS) {
		redir_target_get(t);
		j->t[j->nt++] = t;
	}
}

/* A new job in the list (one reference: the list's). */
static struct redir_job *new_locked(struct redir_inst *ri, const char *path,
				    struct redir_target *t,
				    flt_ino_t kernel_ino, bool empty,
				    bool background)
{
	size_t n = strlen(path) + 1;
	struct redir_job *j, **tail;

	if (strlen(t->backing) >= sizeof(j->backing))
		return NULL;
	j = calloc(1, sizeof(*j) + n);
	if (!j)
		return NULL;
	j->refs = 1;
	j->state = REDIR_JOB_QUEUED;
	j->background = background;
	j->empty = empty;
	j->policy = t->policy;
	j->kernel_ino = kernel_ino;
	atomic_init(&j->cancel, false);
	atomic_init(&j->done, 0);
	atomic_init(&j->total, 0);
	atomic_init(&j->start_ns, 0);
	snprintf(j->backing, sizeof(j->backing), "%s", t->backing);
	memcpy(j->path, path, n);
	add_target_locked(j, t);
	for (tail = &ri->jobs; *tail; tail = &(*tail)->next)
		;
	*tail = j;
	return j;
}

/* @j is done with @result: out of the list, waiters woken. The list's
 * reference is now the caller's to drop (put_locked), with its own. */
static void finish_locked(struct redir_inst *ri, struct redir_job *j,
			  int result)
{
	struct redir_job **pp;

	for (pp = &ri->jobs; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = j->next;
	j->next = NULL;
	j->state = REDIR_JOB_DONE;
	j->result = result;
	pthread_cond_broadcast(&ri->job_cond);
}

static struct redir_job *next_queued_locked(struct redir_inst *ri)
{
	for (struct redir_job *j = ri->jobs; j; j = j->next)
		if (j->background && j->state == REDIR_JOB_QUEUED)
			return j;
	return NULL;
}

static void *worker(void *arg)
{
	struct redir_inst *ri = arg;
	struct redir_job *j;

	pthread_mutex_lock(&ri->job_lock);
	for (;;) {
		int ret;

		while (!ri->job_stop && !(j = next_queued_locked(ri)))
			pthread_cond_wait(&ri->job_cond, &ri->job_lock);
		if (ri->job_stop)
			break;
		j->state = REDIR_JOB_RUNNING;
		j->refs++;
		if (++ri->job_busy > ri->job_busy_max)
			ri->job_busy_max = ri->job_busy;
		pthread_mutex_unlock(&ri->job_lock);
		ret = redir_copy_run(ri, j);
		pthread_mutex_lock(&ri->job_lock);
		ri->job_busy--;
		finish_locked(ri, j, ret);
		put_locked(j, 2);	/* the list's and ours */
	}
	pthread_mutex_unlock(&ri->job_lock);
	return NULL;
}

/* One more worker if copies wait and the bound allows. -errno if there
 * is no worker at all to run them. */
static int spawn_locked(struct redir_inst *ri)
{
	unsigned max = ri->cfg.hydrate_jobs ? ri->cfg.hydrate_jobs
					    : REDIR_JOBS_DEFAULT;
	unsigned busy = 0;
	int ret;

	if (max > REDIR_JOBS_MAX)
		max = REDIR_JOBS_MAX;
	for (struct redir_job *j = ri->jobs; j; j = j->next)
		if (j->background)
			busy++;
	if (busy <= ri->job_workers || ri->job_workers >= max)
		return 0;
	ret = -pthread_create(&ri->job_tid[ri->job_workers], NULL, worker,
			      ri);
	if (!ret)
		ri->job_workers++;
	else
		flt_log(LOG_WARNING, "redirect: no hydration thread: %s",
			strerror(-ret));
	return ri->job_workers ? 0 : ret;
}

int redir_hydrate_start(struct redir_inst *ri, const char *path,
			struct redir_target *t, flt_ino_t kernel_ino)
{
	struct redir_job *j;
	int ret = 0;

	pthread_mutex_lock(&ri->job_lock);
	if (ri->job_stop) {
		ret = -ESHUTDOWN;
		goto out;
	}
	j = find_locked(ri, path);
	if (j) {
		add_target_locked(j, t);
		atomic_fetch_add(&ri->hyd_joined, 1);
		goto out;
	}
	j = new_locked(ri, path, t, kernel_ino, false, true);
	if (!j) {
		ret = -ENOMEM;
		goto out;
	}
	ret = spawn_locked(ri);
	if (ret) {
		finish_locked(ri, j, ret);
		put_locked(j, 1);	/* the list's */
		goto out;
	}
	atomic_fetch_add(&ri->hyd_started, 1);
	pthread_cond_broadcast(&ri->job_cond);
out:
	pthread_mutex_unlock(&ri->job_lock);
	return ret;
}

int redir_materialise(struct redir_inst *ri, const char *path,
		      struct redir_target *t, flt_ino_t kernel_ino, bool empty)
{
	int ret = 0;

	if (atomic_load(&t->materialised))
		return 0;
	pthread_mutex_lock(&ri->job_lock);
	for (;;) {
		struct redir_job *j;
		unsigned drop = 1;	/* ours */

		if (ri->job_stop) {
			ret = -EIO;	/* the volume is going away */
			break;
		}
		j = find_locked(ri, path);
		if (!j) {
			/* ours, run here */
			j = new_locked(ri, path, t, kernel_ino, empty, false);
			if (!j) {
				ret = -ENOMEM;
				break;
			}
		} else {
			add_target_locked(j, t);
		}
		j->refs++;
		j->waiters++;
		if (j->state == REDIR_JOB_QUEUED) {
			/* a new one, or a hydration still waiting for a
			 * worker: the writer should not wait for the queue */
			j->state = REDIR_JOB_RUNNING;
			pthread_mutex_unlock(&ri->job_lock);
			ret = redir_copy_run(ri, j);
			pthread_mutex_lock(&ri->job_lock);
			finish_locked(ri, j, ret);
			drop++;		/* and the list's */
		} else {
			while (j->state != REDIR_JOB_DONE)
				pthread_cond_wait(&ri->job_cond,
						  &ri->job_lock);
			ret = j->result;
		}
		j->waiters--;
		put_locked(j, drop);
		if (ret == -ECANCELED)
			break;
		if (ret || atomic_load(&t->materialised))
			break;
		/* someone else's copy committed without our target in its
		 * list: the next round finds the marker and marks it */
	}
	pthread_mutex_unlock(&ri->job_lock);
	return ret;
}

int redir_hydrate_cancel(struct redir_inst *ri, const char *path)
{
	struct redir_job *j;
	int ret = 0;

	pthread_mutex_lock(&ri->job_lock);
	j = find_locked(ri, path);
	if (!j) {
		ret = -ENOENT;
	} else {
		atomic_store(&j->cancel, true);
		if (j->state == REDIR_JOB_QUEUED) {
			atomic_fetch_add(&ri->mat_cancelled, 1);
			finish_locked(ri, j, -ECANCELED);
			put_locked(j, 1);	/* the list's */
		}
	}
	pthread_mutex_unlock(&ri->job_lock);
	return ret;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void info_of(const struct redir_job *j, uint64_t now,
		    struct redir_job_info *out)
{
	uint64_t start = atomic_load(&j->start_ns);

	snprintf(out->path, sizeof(out->path), "/%s", j->path);
	out->policy = j->policy;
	out->running = j->state == REDIR_JOB_RUNNING;
	out->background = j->background;
	out->waiters = j->waiters;
	out->done = atomic_load(&j->done);
	out->total = atomic_load(&j->total);
	out->elapsed_ms = start && now > start ? (now - start) / 1000000u : 0;
	out->rate = start && now > start
		? (uint64_t)((double)out->done * 1e9 / (double)(now - start))
		: 0;
}

size_t redir_jobs_snapshot(struct redir_inst *ri, struct redir_job_info *v,
			   size_t max, unsigned *busy_max)
{
	uint64_t now = now_ns();
	size_t n = 0;

	pthread_mutex_lock(&ri->job_lock);
	*busy_max = ri->job_busy_max;
	for (struct redir_job *j = ri->jobs; j && n < max; j = j->next)
		info_of(j, now, &v[n++]);
	pthread_mutex_unlock(&ri->job_lock);
	return n;
}

bool redir_job_find_info(struct redir_inst *ri, const char *path,
			 struct redir_job_info *out)
{
	struct redir_job *j;

	pthread_mutex_lock(&ri->job_lock);
	j = find_locked(ri, path);
	if (j)
		info_of(j, now_ns(), out);
	pthread_mutex_unlock(&ri->job_lock);
	return j != NULL;
}

void redir_jobs_init(struct redir_inst *ri)
{
	pthread_mutex_init(&ri->job_lock, NULL);
	pthread_cond_init(&ri->job_cond, NULL);
	ri->jobs = NULL;
	ri->job_workers = 0;
	ri->job_busy = ri->job_busy_max = 0;
	ri->job_stop = false;
}

void redir_jobs_stop(struct redir_inst *ri)
{
	struct redir_job *j, *next;
	unsigned n;

	pthread_mutex_lock(&ri->job_lock);
	ri->job_stop = true;
	for (j = ri->jobs; j; j = next) {
		next = j->next;
		atomic_store(&j->cancel, true);
		if (j->state == REDIR_JOB_QUEUED) {
			atomic_fetch_add(&ri->mat_cancelled, 1);
			finish_locked(ri, j, -ECANCELED);
			put_locked(j, 1);	/* the list's */
		}
	}
	pthread_cond_broadcast(&ri->job_cond);
	n = ri->job_workers;
	ri->job_workers = 0;
	pthread_mutex_unlock(&ri->job_lock);
	/* a running copy stops at its next chunk and unlinks its temp file */
	for (unsigned i = 0; i < n; i++)
		pthread_join(ri->job_tid[i], NULL);
}

void redir_jobs_destroy(struct redir_inst *ri)
{
	redir_jobs_stop(ri);
	/* copies run by operations were drained with them */
	pthread_mutex_destroy(&ri->job_lock);
	pthread_cond_destroy(&ri->job_cond);
}
