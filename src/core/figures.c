/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The filters' own figures for `fsfilter status` (flt_status_add_*).
 *
 * The filters' callbacks must not run under vol->lock (they take their own
 * locks, which their operation callbacks hold while calling the manager),
 * so the stack is referenced like an operation would, the lock dropped, and
 * each instance asked in turn. A detach waits for the reference (the
 * stack drain), so every instance stays attached meanwhile.
 */
#include "core/core_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIGURES 256
#define KEY_MAX 64
#define STR_MAX 256

struct flt_status_writer {
	struct core_figure figs[MAX_FIGURES];
	char keys[MAX_FIGURES][KEY_MAX];
	char strs[MAX_FIGURES][STR_MAX];
	size_t n, dropped;
};

static bool valid_key(const char *key)
{
	size_t n = 0;

	if (!key || !*key)
		return false;
	for (; key[n]; n++) {
		char c = key[n];

		if (n >= KEY_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

static struct core_figure *add(struct flt_status_writer *w, const char *key)
{
	struct core_figure *f;

	if (!w)
		return NULL;
	if (!valid_key(key) || w->n == MAX_FIGURES) {
		w->dropped++;
		return NULL;
	}
	strcpy(w->keys[w->n], key);
	f = &w->figs[w->n];
	memset(f, 0, sizeof(*f));
	f->key = w->keys[w->n];
	w->n++;
	return f;
}

void flt_status_add_u64(struct flt_status_writer *w, const char *key,
			uint64_t value)
{
	struct core_figure *f = add(w, key);

	if (f)
		f->u64 = value;
}

void flt_status_add_str(struct flt_status_writer *w, const char *key,
			const char *value)
{
	struct core_figure *f = add(w, key);
	size_t i;

	if (!f)
		return;
	i = (size_t)(f - w->figs);
	/* truncation is documented: at most STR_MAX - 1 bytes are kept */
	strncpy(w->strs[i], value ? value : "", STR_MAX - 1);
	w->strs[i][STR_MAX - 1] = '\0';
	f->is_str = true;
	f->str = w->strs[i];
}

void core_volume_figures(struct flt_volume *vol,
			 void (*fn)(const char *filter, uint32_t altitude,
				    int ret, const struct core_figure *figs,
				    size_t nfigs, size_t dropped, void *arg),
			 void *arg)
{
	struct flt_status_writer *w = malloc(sizeof(*w));
	struct core_stack *st;

	if (!w)
		return;
	st = stack_get(vol, NULL);
	for (size_t i = 0; i < st->n; i++) {
		struct flt_instance *inst = st->inst[i];
		struct flt_related_objects objs = { inst->filter, inst, vol };
		int ret;

		if (!inst->filter->reg.instance_status)
			continue;
		w->n = 0;
		w->dropped = 0;
		ret = inst->filter->reg.instance_status(&objs, w);
		fn(inst->filter->name, inst->altitude, ret, w->figs, w->n,
		   w->dropped, arg);
	}
	stack_put(vol, st);
	free(w);
}
