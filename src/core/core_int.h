/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private structures of the manager.
 *
 * Lock order: registry_lock -> volume.lock -> shard locks (in index
 * order). No lock is held while a callback or the bottom runs.
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
#include <stddef.h>

/* A map from a 64-bit key (ino, fh; 0 for volume/instance contexts) to a
 * context. Chained hash; protected by the owning instance's ctx_lock. */
struct ctx_entry {
	uint64_t key;
	void *context;
	struct ctx_entry *next;
};
struct ctx_map {
	struct ctx_entry **buckets;
	size_t nbuckets, n;
};

/* Context kinds as indexes (enum flt_context_type is a bit mask). */
enum { CTX_VOLUME, CTX_INSTANCE, CTX_STREAM, CTX_STREAMHANDLE, CTX_KINDS };

struct flt_filter {
	struct flt_registration reg;	/* copy; reg.name points at name */
	unsigned context_types;		/* mask of registered types */
	flt_context_cleanup_callback cleanup[CTX_KINDS];
	char name[32];
	flt_pre_operation_callback pre[FLT_OP_COUNT];
	flt_post_operation_callback post[FLT_OP_COUNT];
	/* a READ or WRITE callback without FLT_OPREG_SKIP_FASTPATH_FILES:
	 * it sees every data operation, so no fast path while attached */
	bool wants_data_ops;		/* immutable after registration */
	/* a FLUSH callback without FLT_OPREG_FLUSH_IF_SENT: opens keep
	 * their flushes while attached (immutable after registration) */
	bool wants_flush;
	/* an OPENDIR or READDIR callback: it sees every listing, so the
	 * kernel may not cache them while attached (immutable after
	 * registration) */
	bool wants_dir_ops;
	bool started;			/* protected by registry_lock */
	unsigned ninstances;		/* protected by registry_lock */
	struct flt_filter *next;	/* registry list, registry_lock */
};

struct flt_instance {
	struct flt_filter *filter;
	struct flt_volume *volume;
	uint32_t altitude;
	char *args;
	pthread_mutex_t ctx_lock;	/* leaf */
	struct ctx_map ctx[CTX_KINDS];	/* ctx_lock */
	/* operations that reached this instance's pre / post callback */
	atomic_uint_fast64_t npre[FLT_OP_COUNT];
	atomic_uint_fast64_t npost[FLT_OP_COUNT];
};

struct core_stack {
	atomic_uint refs;		/* the volume's while current, plus one
					   per operation using it */
	struct core_stack *next_live;	/* vol->live list, vol->lock */
	bool wants_data_ops;		/* an instance's filter wants them;
					   immutable once published */
	bool wants_flush;		/* an instance has a FLUSH callback;
					   immutable once published */
	bool wants_dir_ops;		/* an instance has an OPENDIR or
					   READDIR callback; immutable once
					   published */
	size_t n;
	struct flt_instance *inst[];	/* highest altitude first */
};

/*
 * The operations in flight of a volume, in shards: a dispatching thread
 * takes its stack reference and puts the operation on the list of its own
 * shard under that shard's spinlock, so the hot path takes no volume-wide
 * lock and threads do not share a cache line. A shard lock is held only
 * for a few pointer updates (status: for copying out each operation), so
 * it spins briefly and then yields. Publishing a stack takes every shard
 * lock, cancelling takes every shard lock (both rare), status one at a
 * time. One shard per cache line.
 */
#define CORE_SHARDS 16
struct core_shard {
	atomic_int lock;		/* shard_lock() / shard_unlock() */
	struct core_op *ops;		/* in flight, started on threads that
					   use this shard; lock */
	char pad[64 - sizeof(atomic_int) - sizeof(struct core_op *)];
};

struct flt_volume {
	char *name;
	struct core_bottom bottom;
	pthread_mutex_t lock;
	pthread_cond_t drained;		/* signalled when a stack is freed */
	struct core_stack *stack;	/* current; written holding lock and
					   every shard lock, read holding
					   either */
	struct core_stack *live;	/* every stack not yet freed, lock */
	atomic_uint_fast64_t inflight;
	atomic_uint_fast64_t dispatched;
	atomic_uint_fast64_t live_callback_data; /* filter-initiated */
	struct core_shard shards[CORE_SHARDS];	/* in flight, for status
						   and cancel */
	atomic_bool wants_data_ops;	/* stack->wants_data_ops, written
					   under lock, read without */
	struct flt_volume *next;	/* registry list, registry_lock */
	/* the trace view (trace.c): set before the first dispatch, read-only
	 * after */
	bool trace;
	int trace_fd;
};

/* One node of the completion node stack: an instance that asked for its
 * post-callback, the context its pre-callback handed over, and for
 * FLT_PREOP_SYNCHRONIZE the thread that must run the post. */
struct core_completion_node {
	struct flt_instance *inst;
	void *context;
	atomic_bool sync;		/* atomic: read by status */
	pthread_t thread;
};

/* Where an operation is (for the pend/complete races and for status). */
enum core_op_phase {
	PHASE_PRE,		/* descending through pre-callbacks */
	PHASE_POST,		/* ascending through post-callbacks */
};

/* Handshake between a callback returning PENDING / MORE_PROCESSING and
 * its completion, which may come from another thread before the callback
 * has even returned. Whoever comes second continues the operation. */
enum core_pend_state {
	PEND_IN_CALLBACK = 0,	/* the callback is running */
	PEND_PENDED,		/* it returned "pended"; completer continues */
	PEND_EARLY,		/* completed first; the dispatcher continues */
};

/* Manager-private state of one operation (flt_callback_data.core).
 * Heap-allocated: a pended operation outlives core_dispatch(). Each thread
 * keeps the last one it finished for its next dispatch (dispatch.c), so the
 * hot path neither allocates nor initialises locks: the members up to
 * CORE_OP_RESET_FROM survive that reuse, the rest is zeroed per operation. */
struct core_op {
	/* kept across reuse (initialised once, destroyed when freed) */
	pthread_mutex_t cancel_lock;	/* leaf lock */
	pthread_mutex_t sync_lock;	/* leaf lock */
	pthread_cond_t sync_cond;
	/* heap nodes for stacks of more than 8 post-callbacks, and their
	 * capacity: kept so a deep stack does not allocate per operation */
	struct core_completion_node *spare_nodes;
	size_t spare_cap;
	/* the in-flight shard of every operation this state carries: set
	 * round robin when allocated, so each thread (which keeps reusing
	 * its own state) mostly has a shard to itself */
	unsigned shard;

	/* zeroed for each operation */
	struct flt_volume *vol;
	struct core_stack *stack;
	struct flt_callback_data *data;
	core_complete_fn done;
	void *cookie;
	size_t next;			/* next instance for a pre-callback */
	_Atomic enum core_op_phase phase;	/* atomic: read by status */
	bool dirty;
	bool no_fastpath;		/* flt_disallow_fastpath() */
	atomic_int pend;		/* enum core_pend_state */
	enum flt_preop_status early_status;	/* from an early completer */
	void *early_context;
	struct flt_instance *_Atomic pended_by;	/* holder of a pended op */
	uint64_t start_ns;		/* CLOCK_MONOTONIC at dispatch */
	uint64_t trace_id;		/* the host's request id (FUSE unique),
					   or CORE_TRACE_ID_FIO | n */

	/* cancellation */
	atomic_bool cancelled;
	flt_cancel_routine cancel_routine;	/* cancel_lock */
	bool cancel_running;		/* cancel_lock */

	/* FLT_PREOP_SYNCHRONIZE hand-off to the thread that ran the pre
	 * (sync_lock, sync_cond above) */
	bool handoff;			/* sync_lock */

	/* in-flight list of vol->shards[shard], that shard's lock */
	struct core_op *inflight_prev, *inflight_next;

	/* The completion node stack. The operation's owner thread changes
	 * it; status reads it under the shard lock (which keeps @cop
	 * alive), so
	 * the count and the array pointer are atomic, and a node is complete
	 * before the count that covers it is published. */
	_Atomic size_t nnodes;
	struct core_completion_node *_Atomic nodes;
	struct core_completion_node inline_nodes[8];
};
#define CORE_OP_RESET_FROM offsetof(struct core_op, vol)

/* dispatch.c: dispatch @data to the instances with an altitude below
 * @below (DISPATCH_TOP: all of them), then the bottom. Filter-initiated
 * I/O starts below its issuer this way. */
#define DISPATCH_TOP ((uint64_t)UINT32_MAX + 1)
void dispatch_below(struct flt_volume *vol, struct flt_callback_data *data,
		    uint64_t below, core_complete_fn done, void *cookie);

/* trace.c: the trace view, called by dispatch.c only if vol->trace.
 * @depth is the instance's index in the stack (0 = top); @how says how the
 * status came ("" from the callback, "resumed: " from a completion). */
#define CORE_TRACE_ID_FIO (UINT64_C(1) << 63)
#define CORE_TRACING(vol) __builtin_expect((vol)->trace, 0)
/* cold: out of the hot path's code layout */
#define CORE_TRACE_FN __attribute__((cold, noinline))
CORE_TRACE_FN void core_trace_dispatch(const struct core_op *cop,
				       uint64_t below);
CORE_TRACE_FN void core_trace_pre(const struct core_op *cop,
				  const struct flt_instance *inst,
				  size_t depth, enum flt_preop_status status,
				  const char *how);
CORE_TRACE_FN void core_trace_post_only(const struct core_op *cop,
					const struct flt_instance *inst,
					size_t depth);
CORE_TRACE_FN void core_trace_bottom(const struct core_op *cop, size_t depth,
				     bool guarded);
CORE_TRACE_FN void core_trace_post(const struct core_op *cop,
				   const struct flt_instance *inst,
				   size_t depth, enum flt_postop_status status,
				   const char *how);
CORE_TRACE_FN void core_trace_done(const struct core_op *cop);

/* ctxmap.c */
void *ctxmap_get(struct ctx_map *m, uint64_t key);
/* Insert or replace; returns the previous value (NULL if none) through
 * @old. -ENOMEM leaves the map unchanged. */
int ctxmap_put(struct ctx_map *m, uint64_t key, void *value, void **old);
void *ctxmap_remove(struct ctx_map *m, uint64_t key);
/* Empty the map; its entries come back as one list (->next) so the
 * caller can release them outside the lock and free() each entry. */
struct ctx_entry *ctxmap_take_all(struct ctx_map *m);

/* context.c */
/* Release every context an instance holds (teardown). */
void context_instance_teardown(struct flt_instance *inst);
/* Release every instance's context for @key of kind @kind. */
void context_forget_key(struct flt_volume *vol, int kind, uint64_t key);

/* registry.c */
extern pthread_mutex_t registry_lock;
void registry_add_volume_locked(struct flt_volume *vol);
void registry_remove_volume_locked(struct flt_volume *vol);
struct flt_filter *registry_find_locked(const char *name);

/* loader.c: the filter @name was unregistered by core_unload_filter();
 * close its shared object, if it came from one. */
void loader_filter_unregistered(const char *name);

/* stack.c */
void shard_lock_slow(struct core_shard *s);
static inline void shard_lock(struct core_shard *s)
{
	if (__builtin_expect(!atomic_exchange_explicit(&s->lock, 1,
						       memory_order_acquire),
			     1))
		return;
	shard_lock_slow(s);
}

static inline void shard_unlock(struct core_shard *s)
{
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

void shards_lock_all(struct flt_volume *vol);
void shards_unlock_all(struct flt_volume *vol);
/* Take a reference on the current stack and put @cop (may be NULL) on the
 * in-flight list of its shard (cop->shard), under one shard lock round
 * trip (no volume lock). */
struct core_stack *stack_get(struct flt_volume *vol, struct core_op *cop);
/* Drop @cop from its in-flight list (if not NULL; clears data->core under
 * the shard lock) and the reference (lock-free unless it is the last of
 * a replaced stack). */
void stack_put_op(struct flt_volume *vol, struct core_stack *st,
		  struct core_op *cop);
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
