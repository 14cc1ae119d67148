/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance stack of a volume: immutable snapshots, reference counted
 * (see core_int.h for why). */
#include "core/core_int.h"

#include <sched.h>
#include <stdlib.h>

static void stack_put_locked(struct flt_volume *vol, struct core_stack *st);

struct core_stack *stack_new_locked(struct flt_volume *vol, size_t n)
{
	struct core_stack *st;

	st = calloc(1, sizeof(*st) + n * sizeof(st->inst[0]));
	if (!st)
		return NULL;
	atomic_init(&st->refs, 1);	/* the volume's, once published */
	st->n = n;
	st->next_live = vol->live;
	vol->live = st;
	return st;
}

static void unlink_live_locked(struct flt_volume *vol, struct core_stack *st)
{
	for (struct core_stack **pp = &vol->live; *pp; pp = &(*pp)->next_live)
		if (*pp == st) {
			*pp = st->next_live;
			return;
		}
}

void shard_lock_slow(struct core_shard *s)
{
	for (unsigned spins = 0;; spins++) {
		if (!atomic_load_explicit(&s->lock, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&s->lock, 1,
					      memory_order_acquire))
			return;
		/* the holder may be preempted (2 cores, many threads) */
		if (spins >= 32)
			sched_yield();
	}
}

void shards_lock_all(struct flt_volume *vol)
{
	for (size_t i = 0; i < CORE_SHARDS; i++)
		shard_lock(&vol->shards[i]);
}

void shards_unlock_all(struct flt_volume *vol)
{
	for (size_t i = CORE_SHARDS; i-- > 0;)
		shard_unlock(&vol->shards[i]);
}

struct core_stack *stack_get(struct flt_volume *vol, struct core_op *cop)
{
	/* without an operation (figures, contexts: rare) any shard does */
	struct core_shard *s = &vol->shards[cop ? cop->shard : 0];
	struct core_stack *st;

	/* under a shard lock the current stack cannot lose the volume's
	 * reference (publishing holds every shard lock), so it cannot drop
	 * to zero under us */
	shard_lock(s);
	st = vol->stack;
	atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
	if (cop) {
		cop->inflight_prev = NULL;
		cop->inflight_next = s->ops;
		if (s->ops)
			s->ops->inflight_prev = cop;
		s->ops = cop;
	}
	shard_unlock(s);
	return st;
}

void stack_put_op(struct flt_volume *vol, struct core_stack *st,
		  struct core_op *cop)
{
	if (cop) {
		struct core_shard *s = &vol->shards[cop->shard];

		shard_lock(s);
		/* core_cancel checks it under the shard locks */
		cop->data->core = NULL;
		if (cop->inflight_prev)
			cop->inflight_prev->inflight_next = cop->inflight_next;
		else
			s->ops = cop->inflight_next;
		if (cop->inflight_next)
			cop->inflight_next->inflight_prev = cop->inflight_prev;
		shard_unlock(s);
	}
	/* status no longer sees the operation: its reference can go */
	stack_put(vol, st);
}

static void stack_put_locked(struct flt_volume *vol, struct core_stack *st)
{
	if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) != 1)
		return;
	unlink_live_locked(vol, st);
	free(st);
	pthread_cond_broadcast(&vol->drained);
}

void stack_put(struct flt_volume *vol, struct core_stack *st)
{
	unsigned refs = atomic_load_explicit(&st->refs, memory_order_relaxed);

	/* Fast path: not the last reference, no lock. A stack that is still
	 * current has the volume's reference, so only a replaced stack can
	 * reach zero, and that is rare. */
	while (refs > 1) {
		if (atomic_compare_exchange_weak_explicit(
			    &st->refs, &refs, refs - 1, memory_order_acq_rel,
			    memory_order_relaxed))
			return;
	}
	pthread_mutex_lock(&vol->lock);
	stack_put_locked(vol, st);
	pthread_mutex_unlock(&vol->lock);
}

void stack_publish_locked(struct flt_volume *vol, struct core_stack *next)
{
	struct core_stack *old = vol->stack;

	next->wants_data_ops = false;
	next->wants_flush = false;
	next->wants_dir_ops = false;
	for (size_t i = 0; i < next->n; i++) {
		const struct flt_filter *f = next->inst[i]->filter;

		if (f->wants_data_ops)
			next->wants_data_ops = true;
		if (f->wants_flush)
			next->wants_flush = true;
		if (f->wants_dir_ops)
			next->wants_dir_ops = true;
	}
	atomic_store(&vol->wants_data_ops, next->wants_data_ops);
	shards_lock_all(vol);
	vol->stack = next;
	shards_unlock_all(vol);
	stack_put_locked(vol, old);
}

static int holds(const struct core_stack *st, const struct flt_instance *inst)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->inst[i] == inst)
			return 1;
	return 0;
}

void stack_drain_locked(struct flt_volume *vol, struct flt_instance *inst)
{
	for (;;) {
		struct core_stack *st;

		for (st = vol->live; st; st = st->next_live)
			if (st != vol->stack && holds(st, inst))
				break;
		if (!st)
			return;
		pthread_cond_wait(&vol->drained, &vol->lock);
	}
}

void stack_free_last(struct flt_volume *vol)
{
	free(vol->stack);
	vol->stack = NULL;
	vol->live = NULL;
}
