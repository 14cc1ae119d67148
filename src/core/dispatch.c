/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Iterative dispatch: pre-callbacks from the highest altitude down, the
 * bottom, post-callbacks back up through the completion node stack. Stack
 * use is the same for 1 or 1000 filters (DESIGN.md rule 4).
 */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

void core_data_init(struct flt_callback_data *data, enum flt_op op,
		    flt_ino_t ino)
{
	memset(data, 0, sizeof(*data));
	data->op = op;
	data->ino = ino;
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

int flt_is_callback_data_dirty(const struct flt_callback_data *data)
{
	const struct core_op *cop = data->core;

	return cop && cop->dirty;
}

static int push_node(struct core_op *cop, struct flt_instance *inst,
		     void *context)
{
	if (cop->nnodes == 8 && cop->nodes == cop->inline_nodes) {
		/* more than 8 filters want a post-callback: move to the heap,
		 * sized for the whole stack so it never grows again */
		struct core_completion_node *n;

		n = malloc(cop->stack->n * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memcpy(n, cop->inline_nodes, sizeof(cop->inline_nodes));
		cop->nodes = n;
	}
	cop->nodes[cop->nnodes].inst = inst;
	cop->nodes[cop->nnodes].context = context;
	cop->nnodes++;
	return 0;
}

/* Pre-callbacks, top down. Returns true if a filter completed the
 * operation (the bottom must not run). */
static bool run_pre(struct core_op *cop, struct flt_callback_data *data)
{
	struct core_stack *st = cop->stack;
	enum flt_op op = data->op;

	for (size_t i = 0; i < st->n; i++) {
		struct flt_instance *inst = st->inst[i];
		struct flt_filter *f = inst->filter;
		struct flt_related_objects objs = { f, inst, cop->vol };
		enum flt_preop_status status;
		void *context = NULL;

		if (!f->pre[op]) {
			/* post only: Windows calls it as if pre said WITH */
			if (f->post[op] && push_node(cop, inst, NULL))
				goto out_nomem;
			continue;
		}
		atomic_fetch_add_explicit(&inst->npre[op], 1,
					  memory_order_relaxed);
		status = f->pre[op](data, &objs, &context);
		switch (status) {
		case FLT_PREOP_SUCCESS_WITH_CALLBACK:
			if (f->post[op] && push_node(cop, inst, context))
				goto out_nomem;
			break;
		case FLT_PREOP_SUCCESS_NO_CALLBACK:
			break;
		case FLT_PREOP_COMPLETE:
			return true;
		default:
			flt_log(LOG_ERR, "filter %s returned invalid pre status "
				"%d for %s; failing it with EIO", f->name,
				(int)status, flt_op_name(op));
			data->io_status.status = -EIO;
			data->io_status.information = 0;
			return true;
		}
	}
	return false;

out_nomem:
	data->io_status.status = -ENOMEM;
	data->io_status.information = 0;
	return true;
}

/* Post-callbacks, bottom up (reverse order of the pre-callbacks). */
static void run_post(struct core_op *cop, struct flt_callback_data *data)
{
	enum flt_op op = data->op;

	while (cop->nnodes) {
		struct core_completion_node *n = &cop->nodes[--cop->nnodes];
		struct flt_instance *inst = n->inst;
		struct flt_related_objects objs = { inst->filter, inst,
						    cop->vol };

		atomic_fetch_add_explicit(&inst->npost[op], 1,
					  memory_order_relaxed);
		inst->filter->post[op](data, &objs, n->context, 0);
	}
}

void core_dispatch(struct flt_volume *vol, struct flt_callback_data *data,
		   core_complete_fn done, void *cookie)
{
	struct core_op cop = { .vol = vol };

	cop.nodes = cop.inline_nodes;
	atomic_fetch_add_explicit(&vol->inflight, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vol->dispatched, 1, memory_order_relaxed);
	cop.stack = stack_get(vol);
	data->core = &cop;

	if (!run_pre(&cop, data))
		vol->bottom.perform(vol->bottom.ctx, data);
	run_post(&cop, data);

	data->core = NULL;
	stack_put(vol, cop.stack);
	if (cop.nodes != cop.inline_nodes)
		free(cop.nodes);
	atomic_fetch_sub_explicit(&vol->inflight, 1, memory_order_relaxed);
	done(data, cookie);
}
