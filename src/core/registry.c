/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The process-wide registry of filters and volumes (the Filter Manager's
 * own lists). Filters register once and are attached to any number of
 * volumes as instances. */
#include "core/core_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct flt_filter *filters;	/* protected by registry_lock */
static struct flt_volume *volumes;	/* protected by registry_lock */

static int valid_name(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (; name[n]; n++) {
		char c = name[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 31;
}

struct flt_filter *registry_find_locked(const char *name)
{
	for (struct flt_filter *f = filters; f; f = f->next)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

struct flt_filter *core_find_filter(const char *name)
{
	struct flt_filter *f;

	pthread_mutex_lock(&registry_lock);
	f = registry_find_locked(name);
	pthread_mutex_unlock(&registry_lock);
	return f;
}

int flt_register_filter(const struct flt_registration *reg,
			struct flt_filter **out)
{
	struct flt_filter *f;
	const struct flt_operation_registration *op;
	const struct flt_context_registration *ctx;

	if (!reg || !out)
		return -EINVAL;
	/* A registration from an older header is shorter; a newer one we do
	 * not understand is refused rather than half-used. */
	if (reg->size < offsetof(struct flt_registration, contexts) ||
	    reg->version != FLT_REGISTRATION_VERSION) {
		flt_log(LOG_ERR, "filter registration: size %u version %u not "
			"supported (expected version %u)", reg->size,
			reg->version, FLT_REGISTRATION_VERSION);
		return -EINVAL;
	}
	if (!valid_name(reg->name)) {
		flt_log(LOG_ERR, "filter registration: bad name (want "
			"[a-z0-9_-]{1,31})");
		return -EINVAL;
	}

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	memcpy(&f->reg, reg, reg->size < sizeof(f->reg) ? reg->size
							 : sizeof(f->reg));
	strcpy(f->name, reg->name);
	f->reg.name = f->name;
	for (ctx = f->reg.contexts; ctx && ctx->type; ctx++) {
		int kind = __builtin_ctz((unsigned)ctx->type);

		if (kind >= CTX_KINDS || (1u << kind) != (unsigned)ctx->type) {
			flt_log(LOG_ERR, "filter %s: context table entry with "
				"unknown type %d", f->name, (int)ctx->type);
			free(f);
			return -EINVAL;
		}
		f->context_types |= (unsigned)ctx->type;
		f->cleanup[kind] = ctx->cleanup;
	}
	for (op = reg->operations; op && op->op != FLT_OP_COUNT; op++) {
		if ((unsigned)op->op >= FLT_OP_COUNT) {
			flt_log(LOG_ERR, "filter %s: operation table entry "
				"with unknown op %d", f->name, (int)op->op);
			free(f);
			return -EINVAL;
		}
		if (op->flags & ~(FLT_OPREG_SKIP_FASTPATH_FILES |
				  FLT_OPREG_FLUSH_IF_SENT)) {
			flt_log(LOG_ERR, "filter %s: unknown flags %#x on "
				"operation %s", f->name, op->flags,
				flt_op_name(op->op));
			free(f);
			return -EINVAL;
		}
		f->pre[op->op] = op->pre;
		f->post[op->op] = op->post;
		/* a READ or WRITE callback without the skip flag sees every
		 * data operation: no fast path while it is attached */
		if ((op->op == FLT_OP_READ || op->op == FLT_OP_WRITE) &&
		    (op->pre || op->post) &&
		    !(op->flags & FLT_OPREG_SKIP_FASTPATH_FILES))
			f->wants_data_ops = true;
		/* a FLUSH callback asks for the kernel's flushes, unless it
		 * only needs those that are sent anyway */
		if (op->op == FLT_OP_FLUSH && (op->pre || op->post) &&
		    !(op->flags & FLT_OPREG_FLUSH_IF_SENT))
			f->wants_flush = true;
		/* a listing cached by the kernel reaches no filter */
		if ((op->op == FLT_OP_OPENDIR || op->op == FLT_OP_READDIR) &&
		    (op->pre || op->post))
			f->wants_dir_ops = true;
	}

	pthread_mutex_lock(&registry_lock);
	if (registry_find_locked(f->name)) {
		pthread_mutex_unlock(&registry_lock);
		free(f);
		return -EEXIST;
	}
	f->next = filters;
	filters = f;
	pthread_mutex_unlock(&registry_lock);
	*out = f;
	return 0;
}

int flt_start_filtering(struct flt_filter *filter)
{
	pthread_mutex_lock(&registry_lock);
	filter->started = true;
	pthread_mutex_unlock(&registry_lock);
	return 0;
}

void flt_unregister_filter(struct flt_filter *filter)
{
	struct flt_filter **pp;

	/* Detach every instance first; each detach drains its operations. */
	for (;;) {
		struct flt_instance *found = NULL;
		struct flt_volume *vol;

		pthread_mutex_lock(&registry_lock);
		for (vol = volumes; vol && !found; vol = vol->next) {
			pthread_mutex_lock(&vol->lock);
			for (size_t i = 0; i < vol->stack->n; i++)
				if (vol->stack->inst[i]->filter == filter) {
					found = vol->stack->inst[i];
					break;
				}
			pthread_mutex_unlock(&vol->lock);
			if (found)
				break;
		}
		pthread_mutex_unlock(&registry_lock);
		if (!found)
			break;
		core_volume_detach(vol, found);
	}

	pthread_mutex_lock(&registry_lock);
	for (pp = &filters; *pp; pp = &(*pp)->next)
		if (*pp == filter) {
			*pp = filter->next;
			break;
		}
	pthread_mutex_unlock(&registry_lock);
	free(filter);
}

int core_unload_filter(const char *filter_name, bool force)
{
	char name[32];
	struct flt_filter *f;
	int ret;

	pthread_mutex_lock(&registry_lock);
	f = registry_find_locked(filter_name);
	pthread_mutex_unlock(&registry_lock);
	if (!f)
		return -ENOENT;
	if (f->reg.filter_unload) {
		ret = f->reg.filter_unload(f);
		if (ret && !force) {
			flt_log(LOG_NOTICE, "filter %s refused to unload: %d",
				filter_name, ret);
			return ret < 0 ? ret : -EBUSY;
		}
	}
	snprintf(name, sizeof(name), "%s", f->name);
	flt_unregister_filter(f);
	/* nothing of the filter runs any more: its object may go */
	loader_filter_unregistered(name);
	return 0;
}

const char *flt_filter_name(const struct flt_filter *filter)
{
	return filter->name;
}

void *flt_filter_data(const struct flt_filter *filter)
{
	return filter->reg.filter_data;
}

void registry_add_volume_locked(struct flt_volume *vol)
{
	vol->next = volumes;
	volumes = vol;
}

void registry_remove_volume_locked(struct flt_volume *vol)
{
	for (struct flt_volume **pp = &volumes; *pp; pp = &(*pp)->next)
		if (*pp == vol) {
			*pp = vol->next;
			return;
		}
}
