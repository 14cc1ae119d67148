/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Contexts: reference-counted memory a filter attaches to a volume,
 * instance, stream (lower inode) or stream handle (open file). The maps of
 * an instance hold one reference per set context; the manager drops it when
 * the object goes away (core_stream_gone, a handle's release, detach).
 */
#include "core/core_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <syslog.h>

struct ctx_header {
	atomic_uint refs;
	int kind;
	struct flt_filter *filter;
	/* the filter's part follows, aligned for anything */
	_Alignas(max_align_t) unsigned char data[];
};

static struct ctx_header *header_of(void *context)
{
	return (struct ctx_header *)((char *)context -
				     offsetof(struct ctx_header, data));
}

static int kind_of(enum flt_context_type type)
{
	switch (type) {
	case FLT_VOLUME_CONTEXT: return CTX_VOLUME;
	case FLT_INSTANCE_CONTEXT: return CTX_INSTANCE;
	case FLT_STREAM_CONTEXT: return CTX_STREAM;
	case FLT_STREAMHANDLE_CONTEXT: return CTX_STREAMHANDLE;
	default: return -1;
	}
}

int flt_allocate_context(struct flt_filter *filter, enum flt_context_type type,
			 size_t size, void **out)
{
	int kind = kind_of(type);
	struct ctx_header *h;

	if (kind < 0 || !(filter->context_types & (unsigned)type)) {
		flt_log(LOG_ERR, "filter %s: context type %d not in its "
			"registration", filter->name, (int)type);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h) + size);
	if (!h)
		return -ENOMEM;
	atomic_init(&h->refs, 1);
	h->kind = kind;
	h->filter = filter;
	*out = h->data;
	return 0;
}

void flt_reference_context(void *context)
{
	atomic_fetch_add_explicit(&header_of(context)->refs, 1,
				  memory_order_relaxed);
}

void flt_release_context(void *context)
{
	struct ctx_header *h;
	flt_context_cleanup_callback cleanup;

	if (!context)
		return;
	h = header_of(context);
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return;
	cleanup = h->filter->cleanup[h->kind];
	if (cleanup)
		cleanup(context, (enum flt_context_type)(1u << h->kind));
	free(h);
}

static int set_context(struct flt_instance *inst, int kind, uint64_t key,
		       enum flt_set_context_mode mode, void *context,
		       void **old)
{
	void *prev = NULL;
	int ret = 0;

	if (old)
		*old = NULL;
	if (!context || header_of(context)->filter != inst->filter ||
	    header_of(context)->kind != kind ||
	    (mode != FLT_SET_CONTEXT_KEEP_IF_EXISTS &&
	     mode != FLT_SET_CONTEXT_REPLACE_IF_EXISTS))
		return -EINVAL;

	pthread_mutex_lock(&inst->ctx_lock);
	if (mode == FLT_SET_CONTEXT_KEEP_IF_EXISTS) {
		prev = ctxmap_get(&inst->ctx[kind], key);
		if (prev) {
			ret = -EEXIST;
			if (old) {
				flt_reference_context(prev);
				*old = prev;
			}
			prev = NULL;	/* stays in the map */
			goto out_unlock;
		}
	}
	flt_reference_context(context);		/* the map's reference */
	ret = ctxmap_put(&inst->ctx[kind], key, context, &prev);
	if (ret) {
		atomic_fetch_sub(&header_of(context)->refs, 1);
		prev = NULL;
	}
out_unlock:
	pthread_mutex_unlock(&inst->ctx_lock);
	/* a replaced context: the map's reference passes to the caller, or
	 * is dropped here, outside the lock (cleanup may run) */
	if (prev) {
		if (old)
			*old = prev;
		else
			flt_release_context(prev);
	}
	return ret;
}

static int get_context(struct flt_instance *inst, int kind, uint64_t key,
		       void **out)
{
	void *c;

	pthread_mutex_lock(&inst->ctx_lock);
	c = ctxmap_get(&inst->ctx[kind], key);
	if (c)
		flt_reference_context(c);
	pthread_mutex_unlock(&inst->ctx_lock);
	*out = c;
	return c ? 0 : -ENOENT;
}

static int delete_context(struct flt_instance *inst, int kind, uint64_t key)
{
	void *c;

	pthread_mutex_lock(&inst->ctx_lock);
	c = ctxmap_remove(&inst->ctx[kind], key);
	pthread_mutex_unlock(&inst->ctx_lock);
	if (!c)
		return -ENOENT;
	flt_release_context(c);
	return 0;
}

int flt_set_volume_context(struct flt_instance *inst,
			   enum flt_set_context_mode mode, void *context,
			   void **old)
{
	return set_context(inst, CTX_VOLUME, 0, mode, context, old);
}

int flt_get_volume_context(struct flt_instance *inst, void **out)
{
	return get_context(inst, CTX_VOLUME, 0, out);
}

int flt_delete_volume_context(struct flt_instance *inst)
{
	return delete_context(inst, CTX_VOLUME, 0);
}

int flt_set_instance_context(struct flt_instance *inst,
			     enum flt_set_context_mode mode, void *context,
			     void **old)
{
	return set_context(inst, CTX_INSTANCE, 0, mode, context, old);
}

int flt_get_instance_context(struct flt_instance *inst, void **out)
{
	return get_context(inst, CTX_INSTANCE, 0, out);
}

int flt_delete_instance_context(struct flt_instance *inst)
{
	return delete_context(inst, CTX_INSTANCE, 0);
}

int flt_set_stream_context(struct flt_instance *inst, flt_ino_t ino,
			   enum flt_set_context_mode mode, void *context,
			   void **old)
{
	return set_context(inst, CTX_STREAM, ino, mode, context, old);
}

int flt_get_stream_context(struct flt_instance *inst, flt_ino_t ino,
			   void **out)
{
	return get_context(inst, CTX_STREAM, ino, out);
}

int flt_delete_stream_context(struct flt_instance *inst, flt_ino_t ino)
{
	return delete_context(inst, CTX_STREAM, ino);
}

int flt_set_streamhandle_context(struct flt_instance *inst, uint64_t fh,
				 enum flt_set_context_mode mode, void *context,
				 void **old)
{
	return set_context(inst, CTX_STREAMHANDLE, fh, mode, context, old);
}

int flt_get_streamhandle_context(struct flt_instance *inst, uint64_t fh,
				 void **out)
{
	return get_context(inst, CTX_STREAMHANDLE, fh, out);
}

int flt_delete_streamhandle_context(struct flt_instance *inst, uint64_t fh)
{
	return delete_context(inst, CTX_STREAMHANDLE, fh);
}

void context_instance_teardown(struct flt_instance *inst)
{
	struct ctx_entry *lists[CTX_KINDS];

	pthread_mutex_lock(&inst->ctx_lock);
	for (int k = 0; k < CTX_KINDS; k++)
		lists[k] = ctxmap_take_all(&inst->ctx[k]);
	pthread_mutex_unlock(&inst->ctx_lock);
	for (int k = 0; k < CTX_KINDS; k++) {
		struct ctx_entry *e = lists[k], *next;

		for (; e; e = next) {
			next = e->next;
			flt_release_context(e->context);
			free(e);
		}
	}
}

void context_forget_key(struct flt_volume *vol, int kind, uint64_t key)
{
	struct core_stack *st = stack_get(vol, NULL);

	for (size_t i = 0; i < st->n; i++)
		delete_context(st->inst[i], kind, key);
	stack_put(vol, st);
}

void core_stream_gone(struct flt_volume *vol, flt_ino_t ino)
{
	context_forget_key(vol, CTX_STREAM, ino);
}
