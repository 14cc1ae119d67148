/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance stack of a volume: immutable snapshots, reference counted
 * (see core_int.h for why). */
#include "core/core_int.h"

#include <stdlib.h>

struct core_stack *stack_new(size_t n)
{
	struct core_stack *st;

	st = calloc(1, sizeof(*st) + n * sizeof(st->inst[0]));
	if (!st)
		return NULL;
	atomic_init(&st->refs, 1);	/* the volume's reference */
	atomic_init(&st->draining, false);
	st->n = n;
	return st;
}

struct core_stack *stack_get(struct flt_volume *vol)
{
	struct core_stack *st;

	pthread_mutex_lock(&vol->lock);
	st = vol->stack;
	atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&vol->lock);
	return st;
}

void stack_put(struct flt_volume *vol, struct core_stack *st)
{
	/* seq_cst on refs and draining: the detacher stores draining, then
	 * loads refs; we store refs, then load draining. One of us sees the
	 * other's store, so the wake-up is never lost. */
	unsigned left = atomic_fetch_sub(&st->refs, 1) - 1;

	if (left == 0) {
		free(st);
	} else if (left == 1 && atomic_load(&st->draining)) {
		/* the detacher holds the last reference and waits for us */
		pthread_mutex_lock(&vol->lock);
		pthread_cond_broadcast(&vol->drained);
		pthread_mutex_unlock(&vol->lock);
	}
}

void stack_publish_and_drain(struct flt_volume *vol, struct core_stack *next)
{
	struct core_stack *old;

	pthread_mutex_lock(&vol->lock);
	old = vol->stack;
	vol->stack = next;
	/* the volume's reference on @old becomes ours */
	atomic_store(&old->draining, true);
	while (atomic_load(&old->refs) > 1)
		pthread_cond_wait(&vol->drained, &vol->lock);
	pthread_mutex_unlock(&vol->lock);
	free(old);
}
