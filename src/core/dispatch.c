/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dispatch: pre-callbacks from the highest altitude down, the bottom,
 * post-callbacks back up through the completion node stack.
 *
 * Iterative (DESIGN.md rule 4): one loop down, one loop up, whatever the
 * number of filters. An operation can stop in the middle (a filter pends
 * it) and be resumed by another thread at the same place; the state that
 * makes that possible is struct core_op.
 */
#include "core/core_int.h"
#include "core/core_hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

void core_data_init(struct flt_callback_data *data, enum flt_op op,
		    flt_ino_t ino)
{
	memset(data, 0, sizeof(*data));
	data->op = op;
	data->ino = ino;
	data->results.open.backing_fd = -1;
}

void core_data_cleanup(struct flt_callback_data *data)
{
	free(data->results.link);
	data->results.link = NULL;
	free(data->results.dirents.v);
	free(data->results.dirents.names);
	memset(&data->results.dirents, 0, sizeof(data->results.dirents));
}

void flt_set_callback_data_dirty(struct flt_callback_data *data)
{
	struct core_op *cop = data->core;

	if (cop)
		cop->dirty = true;
}

void flt_disallow_fastpath(struct flt_callback_data *data)
{
	struct core_op *cop = data->core;

	if (cop)
		cop->no_fastpath = true;
}

int flt_is_callback_data_dirty(const struct flt_callback_data *data)
{
	const struct core_op *cop = data->core;

	return cop && cop->dirty;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* More than 8 filters want a post-callback: move the node stack to the
 * heap, sized for the whole stack so it never grows again; the buffer stays
 * with the operation state for its next use. Out of line: rare. */
static __attribute__((noinline)) int nodes_to_heap(struct core_op *cop)
{
	struct core_completion_node *n;

	if (cop->spare_cap < cop->stack->n) {
		n = realloc(cop->spare_nodes, cop->stack->n * sizeof(*n));
		if (!n)
			return -ENOMEM;
		cop->spare_nodes = n;
		cop->spare_cap = cop->stack->n;
	}
	memcpy(cop->spare_nodes, cop->inline_nodes, sizeof(cop->inline_nodes));
	atomic_store_explicit(&cop->nodes, cop->spare_nodes,
			      memory_order_release);
	return 0;
}

/* Only the operation's owner thread changes the node stack; status reads
 * it under vol->lock. So the node is written first and the count that
 * covers it is published with a release store (no read-modify-write). */
static inline int push_node(struct core_op *cop, struct flt_instance *inst,
			    void *context, bool sync)
{
	size_t k = atomic_load_explicit(&cop->nnodes, memory_order_relaxed);
	struct core_completion_node *n;

	if (k == 8 && atomic_load_explicit(&cop->nodes, memory_order_relaxed) ==
			      cop->inline_nodes && nodes_to_heap(cop))
		return -ENOMEM;
	n = &atomic_load_explicit(&cop->nodes, memory_order_relaxed)[k];
	n->inst = inst;
	n->context = context;
	if (sync)
		n->thread = pthread_self();
	atomic_store_explicit(&n->sync, sync, memory_order_relaxed);
	atomic_store_explicit(&cop->nnodes, k + 1, memory_order_release);
	return 0;
}

/*
 * The operation state is recycled per thread: finish() parks the state it
 * is done with in its thread's slot (if empty), the next dispatch on that
 * thread takes it. No allocation, no lock initialisation on the hot path.
 * A thread's parked state is freed when the thread exits (the key's
 * destructor); the main thread's stays reachable from its TLS.
 */
static __thread struct core_op *parked_op;
static __thread bool parked_registered;
static pthread_key_t parked_key;
static bool parked_key_ok;
static pthread_once_t parked_once = PTHREAD_ONCE_INIT;

static void op_free(struct core_op *cop)
{
	pthread_mutex_destroy(&cop->cancel_lock);
	pthread_mutex_destroy(&cop->sync_lock);
	pthread_cond_destroy(&cop->sync_cond);
	free(cop->spare_nodes);
	free(cop);
}

static void parked_thread_exit(void *unused)
{
	(void)unused;
	if (parked_op) {
		op_free(parked_op);
		parked_op = NULL;
	}
}

static void parked_key_create(void)
{
	parked_key_ok = pthread_key_create(&parked_key, parked_thread_exit) == 0;
}

static atomic_uint next_shard;

static struct core_op *op_get(void)
{
	struct core_op *cop = parked_op;

	if (cop) {
		parked_op = NULL;
		return cop;
	}
	cop = malloc(sizeof(*cop));
	if (!cop)
		return NULL;
	pthread_mutex_init(&cop->cancel_lock, NULL);
	pthread_mutex_init(&cop->sync_lock, NULL);
	pthread_cond_init(&cop->sync_cond, NULL);
	cop->spare_nodes = NULL;
	cop->spare_cap = 0;
	cop->shard = atomic_fetch_add_explicit(&next_shard, 1,
					       memory_order_relaxed) %
		     CORE_SHARDS;
	return cop;
}

static void op_put(struct core_op *cop)
{
	if (!parked_op) {
		if (!parked_registered) {
			/* the key's value only arms the destructor */
			pthread_once(&parked_once, parked_key_create);
			if (parked_key_ok &&
			    !pthread_setspecific(parked_key, &parked_op))
				parked_registered = true;
		}
		if (parked_registered) {
			parked_op = cop;
			return;
		}
	}
	op_free(cop);
}

/* The depth of @inst in the operation's stack, for the trace view only. */
static size_t stack_index(const struct core_op *cop,
			  const struct flt_instance *inst)
{
	size_t i = 0;

	while (i < cop->stack->n && cop->stack->inst[i] != inst)
		i++;
	return i;
}

static void fail_op(struct core_op *cop, int err)
{
	cop->data->io_status.status = err;
	cop->data->io_status.information = 0;
}

/* Act on what a pre-callback of @inst returned (directly or through
 * flt_complete_pended_preop). Returns true if the descent stops here. */
static bool apply_pre_status(struct core_op *cop, struct flt_instance *inst,
			     enum flt_preop_status status, void *context)
{
	struct flt_filter *f = inst->filter;
	enum flt_op op = cop->data->op;

	switch (status) {
	case FLT_PREOP_SUCCESS_WITH_CALLBACK:
	case FLT_PREOP_SYNCHRONIZE:
		if (f->post[op] &&
		    push_node(cop, inst, context,
			      status == FLT_PREOP_SYNCHRONIZE)) {
			fail_op(cop, -ENOMEM);
			return true;
		}
		return false;
	case FLT_PREOP_SUCCESS_NO_CALLBACK:
		return false;
	case FLT_PREOP_COMPLETE:
		return true;
	default:
		flt_log(LOG_ERR, "filter %s returned invalid pre status %d for "
			"%s; failing it with EIO", f->name, (int)status,
			flt_op_name(op));
		fail_op(cop, -EIO);
		return true;
	}
}

enum run_result {
	RUN_FINISHED,	/* the operation completed; @cop is gone */
	RUN_SUSPENDED,	/* someone else holds it now; hands off @cop */
	RUN_WAIT,	/* suspended above a SYNCHRONIZE node of this thread:
			   @cop stays alive until it is handed back to us */
};

/* Before giving the operation away at node index @k: does a SYNCHRONIZE
 * node of this thread remain above (indices below @k)? Then the ascent
 * will stop there and hand the operation back, so we wait for it. Only
 * called while this thread owns the operation. */
static enum run_result suspend_result(const struct core_op *cop, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (cop->nodes[i].sync &&
		    pthread_equal(cop->nodes[i].thread, pthread_self()))
			return RUN_WAIT;
	return RUN_SUSPENDED;
}

static void finish(struct core_op *cop)
{
	struct flt_callback_data *data = cop->data;
	struct flt_volume *vol = cop->vol;
	core_complete_fn done = cop->done;
	void *cookie = cop->cookie;

	/* after every post-callback: the decision is the whole stack's */
	if (data->op == FLT_OP_OPEN || data->op == FLT_OP_CREATE) {
		data->results.open.no_fastpath =
			cop->no_fastpath || cop->stack->wants_data_ops;
		/* flushes are skipped only if no instance would see them */
		if (cop->stack->wants_flush)
			data->results.open.no_flush = 0;
	} else if (data->op == FLT_OP_OPENDIR && cop->stack->wants_dir_ops) {
		/* the kernel would answer later listings from its cache */
		data->results.open.cache_readdir = 0;
		data->results.open.keep_cache = 0;
	}
	if (CORE_TRACING(vol))
		core_trace_done(cop);
	stack_put_op(vol, cop->stack, cop);	/* clears data->core */
	op_put(cop);
	atomic_fetch_sub_explicit(&vol->inflight, 1, memory_order_relaxed);
	done(data, cookie);
}

/* Post-callbacks, bottom up, from wherever the operation is. */
static enum run_result run_post(struct core_op *cop)
{
	struct flt_callback_data *data = cop->data;
	enum flt_op op = data->op;
	/* read once: callbacks run in between (set before the first dispatch,
	 * never changed after) */
	const bool tracing = CORE_TRACING(cop->vol);

	cop->phase = PHASE_POST;
	while (cop->nnodes) {
		size_t idx = cop->nnodes - 1;
		struct core_completion_node *n = &cop->nodes[idx];
		struct flt_instance *inst = n->inst;
		struct flt_related_objects objs = { inst->filter, inst,
						    cop->vol };
		enum flt_postop_status status;
		enum run_result r;

		if (n->sync && !pthread_equal(n->thread, pthread_self())) {
			/* its owner waits for it; we are done with @cop */
			r = suspend_result(cop, idx);
			n->sync = false;
			pthread_mutex_lock(&cop->sync_lock);
			cop->handoff = true;
			pthread_cond_signal(&cop->sync_cond);
			pthread_mutex_unlock(&cop->sync_lock);
			return r;
		}
		atomic_store_explicit(&cop->nnodes, idx, memory_order_release);
		atomic_fetch_add_explicit(&inst->npost[op], 1,
					  memory_order_relaxed);
		/* a completer on another thread learns of the operation
		 * only through the filter, after this store */
		atomic_store_explicit(&cop->pend, PEND_IN_CALLBACK,
				      memory_order_release);
		status = inst->filter->post[op](data, &objs, n->context, 0);
		if (__builtin_expect(tracing, 0))
			core_trace_post(cop, inst, stack_index(cop, inst),
					status, "");
		if (status == FLT_POSTOP_MORE_PROCESSING_REQUIRED) {
			int expect = PEND_IN_CALLBACK;

			r = suspend_result(cop, idx);
			cop->pended_by = inst;
			if (atomic_compare_exchange_strong(&cop->pend, &expect,
							   PEND_PENDED))
				return r;
			/* completed before we got here: go on ourselves */
			cop->pended_by = NULL;
		} else if (status != FLT_POSTOP_FINISHED_PROCESSING) {
			flt_log(LOG_ERR, "filter %s returned invalid post status "
				"%d for %s", inst->filter->name, (int)status,
				flt_op_name(op));
		}
	}
	finish(cop);
	return RUN_FINISHED;
}

/* Pre-callbacks from cop->next down, then the bottom, then the posts. */
static enum run_result run_pre(struct core_op *cop)
{
	struct flt_callback_data *data = cop->data;
	struct core_stack *st = cop->stack;
	enum flt_op op = data->op;
	const bool tracing = CORE_TRACING(cop->vol);	/* as in run_post */

	cop->phase = PHASE_PRE;
	while (cop->next < st->n) {
		struct flt_instance *inst = st->inst[cop->next++];
		struct flt_filter *f = inst->filter;
		struct flt_related_objects objs = { f, inst, cop->vol };
		enum flt_preop_status status;
		void *context = NULL;

		if (!f->pre[op]) {
			/* post only: Windows calls it as if pre said WITH */
			if (f->post[op] && __builtin_expect(tracing, 0))
				core_trace_post_only(cop, inst, cop->next - 1);
			if (f->post[op] && push_node(cop, inst, NULL, false)) {
				fail_op(cop, -ENOMEM);
				return run_post(cop);
			}
			continue;
		}
		atomic_fetch_add_explicit(&inst->npre[op], 1,
					  memory_order_relaxed);
		atomic_store_explicit(&cop->pend, PEND_IN_CALLBACK,
				      memory_order_release);
		status = f->pre[op](data, &objs, &context);
		if (__builtin_expect(tracing, 0))
			core_trace_pre(cop, inst, cop->next - 1, status, "");
		if (status == FLT_PREOP_SUCCESS_NO_CALLBACK)
			continue;	/* the common case: nothing to record */
		if (status == FLT_PREOP_PENDING) {
			int expect = PEND_IN_CALLBACK;
			enum run_result r = suspend_result(cop, cop->nnodes);

			cop->pended_by = inst;
			if (atomic_compare_exchange_strong(&cop->pend, &expect,
							   PEND_PENDED))
				return r;
			/* the completer came first and left its verdict */
			cop->pended_by = NULL;
			status = cop->early_status;
			context = cop->early_context;
			if (__builtin_expect(tracing, 0))
				core_trace_pre(cop, inst, cop->next - 1,
					       status, "resumed: ");
		}
		if (apply_pre_status(cop, inst, status, context))
			return run_post(cop);
	}
	if (op == FLT_OP_RELEASE || op == FLT_OP_RELEASEDIR)
		/* before the handle is freed below and its value reused */
		context_forget_key(cop->vol, CTX_STREAMHANDLE,
				   data->params.release.fh);
	/* filter-owned node ids never reach the lower layer (nodeid.c) */
	if (!core_guard_filter_owned(data)) {
		cop->vol->bottom.perform(cop->vol->bottom.ctx, data);
		if (__builtin_expect(tracing, 0))
			core_trace_bottom(cop, st->n, false);
	} else if (__builtin_expect(tracing, 0)) {
		core_trace_bottom(cop, st->n, true);
	}
	return run_post(cop);
}

/* Keep running the operation on this thread while it comes back to us at
 * our SYNCHRONIZE nodes. */
static void drive(struct core_op *cop, enum run_result r)
{
	while (r == RUN_WAIT) {
		pthread_mutex_lock(&cop->sync_lock);
		while (!cop->handoff)
			pthread_cond_wait(&cop->sync_cond, &cop->sync_lock);
		cop->handoff = false;
		pthread_mutex_unlock(&cop->sync_lock);
		r = run_post(cop);
	}
}

void flt_complete_pended_preop(struct flt_callback_data *data,
			       enum flt_preop_status status, void *context)
{
	struct core_op *cop = data->core;
	struct flt_instance *inst;
	int expect = PEND_IN_CALLBACK;

	if (!cop || cop->phase != PHASE_PRE || cop->next == 0) {
		flt_log(LOG_ERR, "flt_complete_pended_preop on an operation "
			"that is not pended in pre");
		return;
	}
	inst = cop->stack->inst[cop->next - 1];
	if (status == FLT_PREOP_PENDING) {
		flt_log(LOG_ERR, "filter %s completed a pended pre-operation "
			"with PENDING; failing it with EIO", inst->filter->name);
		fail_op(cop, -EIO);
		status = FLT_PREOP_COMPLETE;
	}
	cop->early_status = status;
	cop->early_context = context;
	if (atomic_compare_exchange_strong(&cop->pend, &expect, PEND_EARLY))
		return;	/* the pre-callback has not returned yet: it goes on */
	if (expect != PEND_PENDED) {
		flt_log(LOG_ERR, "filter %s completed a pre-operation twice",
			inst->filter->name);
		return;
	}
	atomic_store(&cop->pend, PEND_IN_CALLBACK);
	cop->pended_by = NULL;
	if (CORE_TRACING(cop->vol))
		core_trace_pre(cop, inst, cop->next - 1, status, "resumed: ");
	if (apply_pre_status(cop, inst, status, context))
		drive(cop, run_post(cop));
	else
		drive(cop, run_pre(cop));
}

void flt_complete_pended_postop(struct flt_callback_data *data)
{
	struct core_op *cop = data->core;
	int expect = PEND_IN_CALLBACK;

	if (!cop || cop->phase != PHASE_POST) {
		flt_log(LOG_ERR, "flt_complete_pended_postop on an operation "
			"that is not pended in post");
		return;
	}
	if (atomic_compare_exchange_strong(&cop->pend, &expect, PEND_EARLY))
		return;	/* the post-callback has not returned yet */
	if (expect != PEND_PENDED) {
		flt_log(LOG_ERR, "a post-operation was completed twice");
		return;
	}
	atomic_store(&cop->pend, PEND_IN_CALLBACK);
	if (CORE_TRACING(cop->vol) && cop->pended_by)
		core_trace_post(cop, cop->pended_by,
				stack_index(cop, cop->pended_by),
				FLT_POSTOP_FINISHED_PROCESSING, "resumed: ");
	cop->pended_by = NULL;
	drive(cop, run_post(cop));
}

static void dispatch(struct flt_volume *vol, struct flt_callback_data *data,
		     uint64_t below, uint64_t id, core_complete_fn done,
		     void *cookie)
{
	struct core_op *cop = op_get();

	if (!cop) {
		data->io_status.status = -ENOMEM;
		done(data, cookie);
		return;
	}
	memset((char *)cop + CORE_OP_RESET_FROM, 0,
	       offsetof(struct core_op, inline_nodes) - CORE_OP_RESET_FROM);
	cop->vol = vol;
	cop->data = data;
	cop->done = done;
	cop->cookie = cookie;
	cop->nodes = cop->inline_nodes;
	cop->start_ns = now_ns();
	atomic_fetch_add_explicit(&vol->inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vol->dispatched, 1, memory_order_relaxed);
	cop->stack = stack_get(vol, cop);
	while (cop->next < cop->stack->n &&
	       cop->stack->inst[cop->next]->altitude >= below)
		cop->next++;
	data->core = cop;
	if (CORE_TRACING(vol)) {
		static atomic_uint_fast64_t fio_ids;

		cop->trace_id = id != CORE_TRACE_ID_FIO ? id :
			id | (atomic_fetch_add(&fio_ids, 1) + 1);
		core_trace_dispatch(cop, below);
	}
	drive(cop, run_pre(cop));
}

void dispatch_below(struct flt_volume *vol, struct flt_callback_data *data,
		    uint64_t below, core_complete_fn done, void *cookie)
{
	/* filter-initiated: numbered apart from the host's requests */
	dispatch(vol, data, below, CORE_TRACE_ID_FIO, done, cookie);
}

void core_dispatch(struct flt_volume *vol, struct flt_callback_data *data,
		   core_complete_fn done, void *cookie)
{
	dispatch(vol, data, DISPATCH_TOP, 0, done, cookie);
}

void core_dispatch_id(struct flt_volume *vol, struct flt_callback_data *data,
		      uint64_t id, core_complete_fn done, void *cookie)
{
	dispatch(vol, data, DISPATCH_TOP, id, done, cookie);
}
