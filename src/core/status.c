/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inspector's view of a volume: instances with their counters, and
 * every operation in flight with its completion node stack. */
#include "core/core_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void instance_status(struct flt_instance *inst,
			    struct core_instance_status *is)
{
	snprintf(is->filter, sizeof(is->filter), "%s", inst->filter->name);
	is->altitude = inst->altitude;
	is->args = inst->args;
	for (int op = 0; op < FLT_OP_COUNT; op++) {
		is->npre[op] = atomic_load_explicit(&inst->npre[op],
						    memory_order_relaxed);
		is->npost[op] = atomic_load_explicit(&inst->npost[op],
						     memory_order_relaxed);
	}
}

/* Called with the operation's shard lock held: it cannot finish (and be
 * freed or reused) meanwhile; its owner thread may still move, so only
 * atomics and fields fixed at dispatch are read. */
static void op_status(struct core_op *cop, uint64_t now,
		      struct core_op_status *os)
{
	/* the count first: a count above 8 was published after the move to
	 * the heap array, so the pointer loaded next is that array (loading
	 * the pointer first could pair the inline array with such a count) */
	size_t n = atomic_load(&cop->nnodes);
	struct core_completion_node *nodes = atomic_load(&cop->nodes);
	struct flt_instance *pended = atomic_load(&cop->pended_by);

	memset(os, 0, sizeof(*os));
	os->op = cop->data->op;
	os->flags = cop->data->flags;
	os->ino = cop->data->ino;
	os->requestor = cop->data->requestor;
	os->age_ns = now > cop->start_ns ? now - cop->start_ns : 0;
	os->in_post = atomic_load(&cop->phase) == PHASE_POST;
	os->cancelled = atomic_load(&cop->cancelled);
	if (pended)
		snprintf(os->pended_by, sizeof(os->pended_by), "%s",
			 pended->filter->name);
	os->nnodes = n;
	/* top of the stack first: the node pushed last */
	for (size_t i = 0; i < n && i < 16; i++) {
		struct core_completion_node *node = &nodes[n - 1 - i];

		snprintf(os->nodes[i].filter, sizeof(os->nodes[i].filter),
			 "%s", node->inst->filter->name);
		os->nodes[i].altitude = node->inst->altitude;
		os->nodes[i].sync = atomic_load(&node->sync);
	}
}

void core_volume_status(struct flt_volume *vol,
			void (*instance_fn)(const struct core_instance_status *,
					    void *),
			void (*op_fn)(const struct core_op_status *, void *),
			void *arg)
{
	struct core_instance_status is;
	struct core_op_status os;
	uint64_t now = mono_ns();

	pthread_mutex_lock(&vol->lock);
	for (size_t i = 0; instance_fn && i < vol->stack->n; i++) {
		instance_status(vol->stack->inst[i], &is);
		instance_fn(&is, arg);
	}
	for (size_t i = 0; op_fn && i < CORE_SHARDS; i++) {
		struct core_shard *s = &vol->shards[i];

		/* the shard lock keeps each operation alive; op_fn gets a
		 * copy and runs under the lock (the control server's only
		 * copies it into an array) */
		shard_lock(s);
		for (struct core_op *cop = s->ops; cop;
		     cop = cop->inflight_next) {
			op_status(cop, now, &os);
			op_fn(&os, arg);
		}
		shard_unlock(s);
	}
	pthread_mutex_unlock(&vol->lock);
}
