/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private structures of the manager.
 *
 * Lock order: registry_lock -> volume.lock. No lock is held while a
 * callback or the bottom runs.
 *
 * The stack of a volume is an immutable, reference-counted array of
 * instances sorted by altitude (highest first). An operation takes one
 * reference for its whole life, so attach/detach never disturb operations
 * in flight: detach publishes a new stack and waits until no older stack
 * that still holds the instance is in use (rundown at stack granularity:
 * one atomic per operation, none per filter).
 */
#ifndef FSFILTER_CORE_INT_H
#define FSFILTER_CORE_INT_H

#include "core/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct flt_filter {
	struct flt_registration reg;	/* copy; reg.name points at name */
	char name[32];
	flt_pre_operation_callback pre[FLT_OP_COUNT];
	flt_post_operation_callback post[FLT_OP_COUNT];
	bool started;			/* protected by registry_lock */
	unsigned ninstances;		/* protected by registry_lock */
	struct flt_filter *next;	/* registry list, registry_lock */
};

struct flt_instance {
	struct flt_filter *filter;
	struct flt_volume *volume;
	uint32_t altitude;
	char *args;
	/* operations that reached this instance's pre / post callback */
	atomic_uint_fast64_t npre[FLT_OP_COUNT];
	atomic_uint_fast64_t npost[FLT_OP_COUNT];
};

struct core_stack {
	atomic_uint refs;		/* the volume's while current, plus one
					   per operation using it */
	struct core_stack *next_live;	/* vol->live list, vol->lock */
	size_t n;
	struct flt_instance *inst[];	/* highest altitude first */
};

struct flt_volume {
	char *name;
	struct core_bottom bottom;
	pthread_mutex_t lock;
	pthread_cond_t drained;		/* signalled when a stack is freed */
	struct core_stack *stack;	/* current; protected by lock */
	struct core_stack *live;	/* every stack not yet freed, lock */
	atomic_uint_fast64_t inflight;
	atomic_uint_fast64_t dispatched;
	struct flt_volume *next;	/* registry list, registry_lock */
};

/* One node of the completion node stack: an instance that asked for its
 * post-callback, and the context its pre-callback handed over. */
struct core_completion_node {
	struct flt_instance *inst;
	void *context;
};

/* Manager-private state of one operation (flt_callback_data.core). */
struct core_op {
	struct flt_volume *vol;
	struct core_stack *stack;
	bool dirty;
	size_t nnodes;
	struct core_completion_node *nodes;
	struct core_completion_node inline_nodes[8];
};

/* registry.c */
extern pthread_mutex_t registry_lock;
void registry_add_volume_locked(struct flt_volume *vol);
void registry_remove_volume_locked(struct flt_volume *vol);
struct flt_filter *registry_find_locked(const char *name);

/* stack.c */
struct core_stack *stack_get(struct flt_volume *vol);
void stack_put(struct flt_volume *vol, struct core_stack *st);
/* A new stack with room for @n instances, on the volume's live list.
 * Called with vol->lock held. */
struct core_stack *stack_new_locked(struct flt_volume *vol, size_t n);
/* Make @next current; the volume's reference on the old one is dropped.
 * Called with vol->lock held. */
void stack_publish_locked(struct flt_volume *vol, struct core_stack *next);
/* Wait until no stack but the current one holds @inst. Called with
 * vol->lock held; waits on vol->drained. */
void stack_drain_locked(struct flt_volume *vol, struct flt_instance *inst);
/* Free the last stack of a volume being destroyed. */
void stack_free_last(struct flt_volume *vol);

#endif /* FSFILTER_CORE_INT_H */
