/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redirect's figures for `fsfilter status`: the rule set, finished
 * materialisations (copy-on-write and hydrate) and the one in progress
 * with its bytes copied so far, cache invalidations.
 *
 * Runs on the control thread. It never takes mat_lock (held for the whole
 * of a copy): the copy in progress is read from mat_info_lock and atomics.
 */
#include "filters/redirect/redir.h"

#include <errno.h>

int redir_instance_status(const struct flt_related_objects *objs,
			  struct flt_status_writer *w)
{
	struct redir_inst *ri = redir_inst_get(objs->instance);
	struct redir_rules *set;
	uint64_t by_policy[3] = { 0 }, scoped = 0, queued, sent;
	char path[sizeof(ri->mat_path)];
	enum redir_policy policy;
	bool active;

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

	pthread_mutex_lock(&ri->mat_info_lock);
	active = atomic_load(&ri->mat_active);
	snprintf(path, sizeof(path), "%s", ri->mat_path);
	policy = ri->mat_policy;
	pthread_mutex_unlock(&ri->mat_info_lock);
	flt_status_add_u64(w, "in_progress", active ? 1 : 0);
	if (active) {
		flt_status_add_str(w, "in_progress.path", path);
		flt_status_add_str(w, "in_progress.policy",
				   policy == REDIR_HYDRATE ? "hydrate" : "cow");
		flt_status_add_u64(w, "in_progress.bytes_copied",
				   atomic_load(&ri->mat_done));
		flt_status_add_u64(w, "in_progress.bytes_total",
				   atomic_load(&ri->mat_total));
	}

	pthread_mutex_lock(&ri->inval_lock);
	queued = ri->inval_queued;
	sent = ri->inval_done;
	pthread_mutex_unlock(&ri->inval_lock);
	flt_status_add_u64(w, "invalidations.queued", queued);
	flt_status_add_u64(w, "invalidations.sent", sent);
	redir_inst_put(ri);
	return 0;
}
