/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volumes and instances: attach a filter at an altitude, detach it with
 * rundown protection. */
#include "core/core_int.h"
#include "core/core_hooks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

int core_volume_create(const char *name, const struct core_bottom *bottom,
		       struct flt_volume **out)
{
	struct flt_volume *vol;

	if (!bottom || !bottom->perform)
		return -EINVAL;
	vol = calloc(1, sizeof(*vol));
	if (!vol)
		return -ENOMEM;
	vol->name = strdup(name ? name : "volume");
	vol->stack = stack_new_locked(vol, 0);	/* not shared yet */
	if (!vol->name || !vol->stack) {
		free(vol->name);
		free(vol->stack);
		free(vol);
		return -ENOMEM;
	}
	vol->bottom = *bottom;
	pthread_mutex_init(&vol->lock, NULL);
	pthread_cond_init(&vol->drained, NULL);
	pthread_mutex_lock(&registry_lock);
	registry_add_volume_locked(vol);
	pthread_mutex_unlock(&registry_lock);
	*out = vol;
	return 0;
}

void core_volume_detach_all(struct flt_volume *vol)
{
	struct flt_instance *inst;

	/* top first, the way a stack is unwound */
	for (;;) {
		pthread_mutex_lock(&vol->lock);
		inst = vol->stack->n ? vol->stack->inst[0] : NULL;
		pthread_mutex_unlock(&vol->lock);
		if (!inst)
			break;
		core_volume_detach(vol, inst);
	}
}

void core_volume_destroy(struct flt_volume *vol)
{
	if (!vol)
		return;
	core_volume_detach_all(vol);

	pthread_mutex_lock(&registry_lock);
	registry_remove_volume_locked(vol);
	pthread_mutex_unlock(&registry_lock);
	stack_free_last(vol);
	pthread_cond_destroy(&vol->drained);
	pthread_mutex_destroy(&vol->lock);
	free(vol->name);
	free(vol);
}

const char *core_volume_name(const struct flt_volume *vol)
{
	return vol->name;
}

static void instance_free(struct flt_instance *inst)
{
	context_instance_teardown(inst);
	pthread_mutex_destroy(&inst->ctx_lock);
	free(inst->args);
	free(inst);
}

int core_volume_attach(struct flt_volume *vol, const char *filter_name,
		       uint32_t altitude, const char *args,
		       struct flt_instance **out)
{
	struct flt_related_objects objs;
	struct flt_instance *inst;
	struct core_stack *old, *next = NULL;
	struct flt_filter *f;
	size_t i, j;
	int ret;

	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return -ENOMEM;
	pthread_mutex_init(&inst->ctx_lock, NULL);
	inst->args = strdup(args ? args : "");
	if (!inst->args) {
		ret = -ENOMEM;
		goto out_free;
	}

	pthread_mutex_lock(&registry_lock);
	f = registry_find_locked(filter_name);
	if (!f) {
		ret = -ENOENT;
		goto out_unlock_registry;
	}
	if (!f->started) {
		ret = -EINVAL;
		goto out_unlock_registry;
	}
	inst->filter = f;
	inst->volume = vol;
	inst->altitude = altitude ? altitude : f->reg.default_altitude;
	if (inst->altitude == 0) {
		ret = -EINVAL;
		goto out_unlock_registry;
	}
	f->ninstances++;	/* keeps the filter registered meanwhile */
	pthread_mutex_unlock(&registry_lock);

	/* Refuse a duplicate before the filter sees a setup for it (checked
	 * again below, under the same lock as the insertion). */
	pthread_mutex_lock(&vol->lock);
	for (i = 0; i < vol->stack->n; i++)
		if (vol->stack->inst[i]->altitude == inst->altitude ||
		    vol->stack->inst[i]->filter == f)
			break;
	ret = i < vol->stack->n ? -EEXIST : 0;
	pthread_mutex_unlock(&vol->lock);
	if (ret)
		goto out_unref;

	/* InstanceSetup runs before the instance is visible to anything. */
	objs = (struct flt_related_objects){ f, inst, vol };
	if (f->reg.instance_setup) {
		ret = f->reg.instance_setup(&objs);
		if (ret) {
			flt_log(LOG_NOTICE, "filter %s declined volume %s: %d",
				f->name, vol->name, ret);
			goto out_unref;
		}
	}

	pthread_mutex_lock(&vol->lock);
	old = vol->stack;
	for (i = 0; i < old->n; i++) {
		if (old->inst[i]->altitude == inst->altitude ||
		    old->inst[i]->filter == f) {
			pthread_mutex_unlock(&vol->lock);
			ret = -EEXIST;
			goto out_teardown;
		}
	}
	next = stack_new_locked(vol, old->n + 1);
	if (!next) {
		pthread_mutex_unlock(&vol->lock);
		ret = -ENOMEM;
		goto out_teardown;
	}
	for (i = 0, j = 0; i < old->n; i++) {
		if (j == i && old->inst[i]->altitude < inst->altitude)
			next->inst[j++] = inst;
		next->inst[j++] = old->inst[i];
	}
	if (j == old->n)
		next->inst[j++] = inst;
	stack_publish_locked(vol, next);
	pthread_mutex_unlock(&vol->lock);
	/* names the kernel cached (for long: lower.h, the watch) must
	 * reach the new instance's lookup callbacks again */
	core_volume_invalidate_all(vol);
	if (out)
		*out = inst;
	return 0;

out_teardown:
	if (f->reg.instance_teardown_complete)
		f->reg.instance_teardown_complete(&objs);
out_unref:
	pthread_mutex_lock(&registry_lock);
	f->ninstances--;
out_unlock_registry:
	pthread_mutex_unlock(&registry_lock);
out_free:
	instance_free(inst);
	return ret;
}

int core_volume_detach(struct flt_volume *vol, struct flt_instance *inst)
{
	struct flt_related_objects objs = { inst->filter, inst, vol };
	struct core_stack *old, *next;
	size_t i, j;

	pthread_mutex_lock(&vol->lock);
	old = vol->stack;
	for (i = 0; i < old->n && old->inst[i] != inst; i++)
		;
	if (i == old->n) {
		pthread_mutex_unlock(&vol->lock);
		return -ENOENT;
	}
	next = stack_new_locked(vol, old->n - 1);
	if (!next) {
		pthread_mutex_unlock(&vol->lock);
		return -ENOMEM;
	}
	for (i = 0, j = 0; i < old->n; i++)
		if (old->inst[i] != inst)
			next->inst[j++] = old->inst[i];
	/* New operations stop reaching the instance ... */
	stack_publish_locked(vol, next);
	pthread_mutex_unlock(&vol->lock);
	/* names looked up through it no longer show what it made them */
	core_volume_invalidate_all(vol);
	/* ... it completes what it holds pended ... */
	if (inst->filter->reg.instance_teardown_start)
		inst->filter->reg.instance_teardown_start(&objs);
	/* ... and we wait for the operations that hold an older stack with
	 * it (their pre and post callbacks both run). */
	pthread_mutex_lock(&vol->lock);
	stack_drain_locked(vol, inst);
	pthread_mutex_unlock(&vol->lock);

	if (inst->filter->reg.instance_teardown_complete)
		inst->filter->reg.instance_teardown_complete(&objs);
	pthread_mutex_lock(&registry_lock);
	inst->filter->ninstances--;
	pthread_mutex_unlock(&registry_lock);
	instance_free(inst);
	return 0;
}

/* The instance of @filter_name on @vol, or NULL. vol->lock held. */
static struct flt_instance *find_instance_locked(struct flt_volume *vol,
						 const char *filter_name)
{
	for (size_t i = 0; i < vol->stack->n; i++)
		if (!strcmp(vol->stack->inst[i]->filter->name, filter_name))
			return vol->stack->inst[i];
	return NULL;
}

int core_volume_detach_filter(struct flt_volume *vol, const char *filter_name,
			      bool force)
{
	struct flt_related_objects objs;
	struct flt_instance *inst;
	int ret;

	/* Only this function and destroy detach by name; they are not run
	 * concurrently for one volume by the hosts (one control thread). */
	pthread_mutex_lock(&vol->lock);
	inst = find_instance_locked(vol, filter_name);
	pthread_mutex_unlock(&vol->lock);
	if (!inst)
		return -ENOENT;
	objs = (struct flt_related_objects){ inst->filter, inst, vol };
	if (!force && inst->filter->reg.instance_query_teardown) {
		ret = inst->filter->reg.instance_query_teardown(&objs);
		if (ret) {
			flt_log(LOG_NOTICE, "filter %s refused to detach from "
				"%s: %d", filter_name, vol->name, ret);
			return ret < 0 ? ret : -EBUSY;
		}
	}
	return core_volume_detach(vol, inst);
}

size_t core_volume_instance_count(struct flt_volume *vol)
{
	size_t n;

	pthread_mutex_lock(&vol->lock);
	n = vol->stack->n;
	pthread_mutex_unlock(&vol->lock);
	return n;
}

int core_volume_instance_at(struct flt_volume *vol, size_t n, char *name,
			    size_t name_len, uint32_t *altitude)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&vol->lock);
	if (n < vol->stack->n) {
		struct flt_instance *inst = vol->stack->inst[n];

		if (name && name_len)
			snprintf(name, name_len, "%s", inst->filter->name);
		if (altitude)
			*altitude = inst->altitude;
		ret = 0;
	}
	pthread_mutex_unlock(&vol->lock);
	return ret;
}

uint32_t flt_instance_altitude(const struct flt_instance *inst)
{
	return inst->altitude;
}

const char *flt_instance_args(const struct flt_instance *inst)
{
	return inst->args;
}

uint64_t core_volume_dispatched(struct flt_volume *vol)
{
	return atomic_load(&vol->dispatched);
}

bool core_volume_wants_data_ops(struct flt_volume *vol)
{
	return atomic_load_explicit(&vol->wants_data_ops,
				    memory_order_relaxed);
}

uint64_t core_volume_inflight(struct flt_volume *vol)
{
	return atomic_load(&vol->inflight);
}

uint32_t core_volume_max_read(struct flt_volume *vol)
{
	uint32_t m = 0;

	pthread_mutex_lock(&vol->lock);
	for (size_t i = 0; i < vol->stack->n; i++) {
		uint32_t f = vol->stack->inst[i]->filter->reg.max_read;

		if (f && (!m || f < m))
			m = f;
	}
	pthread_mutex_unlock(&vol->lock);
	return m;
}
