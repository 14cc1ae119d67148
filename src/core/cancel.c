/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cancellation of operations whose requestor gave up (FUSE INTERRUPT),
 * with the FltSetCancelCompletion / FltClearCancelCompletion contract. */
#include "core/core_int.h"

#include <errno.h>

void core_cancel(struct flt_volume *vol, struct flt_callback_data *data)
{
	flt_cancel_routine routine = NULL;
	struct core_op *cop;

	/* finish() clears data->core under its shard's lock before it
	 * frees or reuses the operation's state, so under every shard lock
	 * a non-NULL one is alive and this operation's (cancel is rare) */
	shards_lock_all(vol);
	cop = data->core;
	if (cop) {
		atomic_store(&cop->cancelled, true);
		pthread_mutex_lock(&cop->cancel_lock);
		routine = cop->cancel_routine;
		cop->cancel_routine = NULL;
		if (routine)
			cop->cancel_running = true;
		pthread_mutex_unlock(&cop->cancel_lock);
	}
	shards_unlock_all(vol);
	/* no lock held: the routine typically completes the operation */
	if (routine)
		routine(data);
}

int flt_is_operation_cancelled(const struct flt_callback_data *data)
{
	const struct core_op *cop = data->core;

	return cop && atomic_load(&cop->cancelled);
}

int flt_set_cancel_routine(struct flt_callback_data *data,
			   flt_cancel_routine routine)
{
	struct core_op *cop = data->core;
	int ret = 0;

	if (!cop)
		return -EINVAL;
	pthread_mutex_lock(&cop->cancel_lock);
	if (atomic_load(&cop->cancelled))
		ret = -ECANCELED;
	else
		cop->cancel_routine = routine;
	pthread_mutex_unlock(&cop->cancel_lock);
	return ret;
}

int flt_clear_cancel_routine(struct flt_callback_data *data)
{
	struct core_op *cop = data->core;
	int ret = 0;

	if (!cop)
		return -EINVAL;
	pthread_mutex_lock(&cop->cancel_lock);
	if (cop->cancel_running)
		ret = -EBUSY;
	cop->cancel_routine = NULL;
	pthread_mutex_unlock(&cop->cancel_lock);
	return ret;
}
