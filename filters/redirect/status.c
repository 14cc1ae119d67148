/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redirect's figures for `fsfilter status`: the rule set, finished
 * materialisations (copy-on-write and hydrate), the copies queued or in
 * progress with their bytes copied so far and rate, cache invalidations.
 *
 * Runs on the control thread. Copies are read from a snapshot of the job
 * table (job_lock, a leaf held only to copy a few figures per job).
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdio.h>

/* per-copy figures shown (7 keys each; 256 keys per instance at most) */
#define SHOWN_COPIES 16

int redir_instance_status(const struct flt_related_objects *objs,
			  struct flt_status_writer *w)
{
	struct redir_inst *ri = redir_inst_get(objs->instance);
	struct redir_rules *set;
	uint64_t by_policy[3] = { 0 }, scoped = 0, queued, sent;
	struct redir_job_info jobs[SHOWN_COPIES];
	size_t njobs, running = 0, first = SHOWN_COPIES;
	unsigned busy_max;

	if (!ri)
		return -ENOENT;
	set = redir_rules_get(ri);
	for (size_t i = 0; i < set->n; i++) {
		by_policy[set->v[i].policy]++;
		if (redir_scoped(&set->v[i].scope))
			scoped++;
	}
	flt_status_add_u64(w, "rules", set->n);
	flt_status_add_u64(w, "rules.readonly", by_policy[REDIR_READONLY]);
	flt_status_add_u64(w, "rules.cow", by_policy[REDIR_COW]);
	flt_status_add_u64(w, "rules.hydrate", by_policy[REDIR_HYDRATE]);
	flt_status_add_u64(w, "rules.scoped", scoped);
	flt_status_add_u64(w, "rules.generation", set->gen);
	redir_rules_put(set);

	flt_status_add_u64(w, "materialised", atomic_load(&ri->mat_count));
	flt_status_add_u64(w, "materialised.hydrate",
			   atomic_load(&ri->mat_hydrations));
	flt_status_add_u64(w, "materialised.cow", atomic_load(&ri->mat_cows));
	flt_status_add_u64(w, "materialised.failed",
			   atomic_load(&ri->mat_failed));
	flt_status_add_u64(w, "materialised.bytes",
			   atomic_load(&ri->mat_bytes));

	flt_status_add_u64(w, "materialised.cancelled",
			   atomic_load(&ri->mat_cancelled));
	flt_status_add_u64(w, "hydrations.started",
			   atomic_load(&ri->hyd_started));
	flt_status_add_u64(w, "hydrations.joined",
			   atomic_load(&ri->hyd_joined));

	njobs = redir_jobs_snapshot(ri, jobs, SHOWN_COPIES, &busy_max);
	flt_status_add_u64(w, "hydrations.concurrent_max", busy_max);
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].running) {
			running++;
			if (first == SHOWN_COPIES)
				first = i;
		}
	flt_status_add_u64(w, "copies.queued", njobs - running);
	/* the number of copies running, and the oldest one (the keys of
	 * one copy at a time, kept for scripts) */
	flt_status_add_u64(w, "in_progress", running);
	if (first < SHOWN_COPIES) {
		const struct redir_job_info *j = &jobs[first];

		flt_status_add_str(w, "in_progress.path", j->path);
		flt_status_add_str(w, "in_progress.policy",
				   j->policy == REDIR_HYDRATE ? "hydrate"
							      : "cow");
		flt_status_add_u64(w, "in_progress.bytes_copied", j->done);
		flt_status_add_u64(w, "in_progress.bytes_total", j->total);
	}
	for (size_t i = 0; i < njobs; i++) {
		const struct redir_job_info *j = &jobs[i];
		char key[64];

#define KEY(what) (snprintf(key, sizeof(key), "copy.%zu." what, i), key)
		flt_status_add_str(w, KEY("path"), j->path);
		flt_status_add_str(w, KEY("state"),
				   !j->running ? "queued"
				   : j->policy == REDIR_HYDRATE ? "hydrating"
								: "copying");
		flt_status_add_u64(w, KEY("bytes_copied"), j->done);
		flt_status_add_u64(w, KEY("bytes_total"), j->total);
		flt_status_add_u64(w, KEY("rate"), j->rate);
		flt_status_add_u64(w, KEY("elapsed_ms"), j->elapsed_ms);
		flt_status_add_u64(w, KEY("waiters"), j->waiters);
#undef KEY
	}

	pthread_mutex_lock(&ri->inval_lock);
	queued = ri->inval_queued;
	sent = ri->inval_done;
	pthread_mutex_unlock(&ri->inval_lock);
	flt_status_add_u64(w, "invalidations.queued", queued);
	flt_status_add_u64(w, "invalidations.sent", sent);
	redir_watch_status(ri, w);
	redir_inst_put(ri);
	return 0;
}
