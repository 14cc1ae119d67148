/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Virtual nodes: names a rule makes appear that the lower directory does
 * not have. Their node ids are filter-owned (flt_allocate_node_id), so the
 * lower layer never sees them and their FORGETs come back to us.
 *
 * One node per path, like the lower layer's one node per inode: a second
 * lookup of the same name returns the same id with one more reference, so
 * the kernel keeps its inode (and page cache) across dentry revalidation.
 * inst->vlock protects both hash chains and every nlookup.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(h % REDIR_VBUCKETS);
}

static size_t hash_id(flt_ino_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 56) % REDIR_VBUCKETS;
}

static int vnode_ref(struct redir_inst *ri, const char *path,
		     struct redir_target *t, const struct stat *st,
		     const struct stat *lower, struct flt_entry *e)
{
	size_t hp = hash_str(path), n = strlen(path) + 1;
	struct redir_vnode *v, *fresh;
	int ret;

	fresh = malloc(sizeof(*fresh) + n);
	if (!fresh)
		return -ENOMEM;
	pthread_mutex_lock(&ri->vlock);
	for (v = ri->by_path[hp]; v; v = v->next_path)
		if (!strcmp(v->path, path))
			break;
	if (v && ((v->type & S_IFMT) != (st->st_mode & S_IFMT) ||
		  v->target->gen != t->gen ||
		  atomic_load(&v->target->materialised))) {
		/* the backing changed type, the rules changed, or it was
		 * materialised: a stale node; keep it for its holders but
		 * do not hand it out again */
		v = NULL;
	}
	if (v) {
		v->nlookup++;
	} else {
		ret = flt_allocate_node_id(ri->instance, &fresh->id);
		if (ret) {
			pthread_mutex_unlock(&ri->vlock);
			free(fresh);
			return ret;
		}
		v = fresh;
		fresh = NULL;
		v->nlookup = 1;
		v->target = t;
		redir_target_get(t);
		v->type = st->st_mode & S_IFMT;
		memcpy(v->path, path, n);
		v->next_path = ri->by_path[hp];
		ri->by_path[hp] = v;
		v->next_id = ri->by_id[hash_id(v->id)];
		ri->by_id[hash_id(v->id)] = v;
	}
	/* a lower file's view: its latest attributes */
	v->has_lower = lower != NULL;
	if (lower)
		v->lower = *lower;
	memset(e, 0, sizeof(*e));
	e->ino = v->id;
	e->generation = 1;
	if (lower) {
		e->attr = *lower;
		redir_fill_attr(ri, &e->attr, st, false, v->target);
	} else {
		e->attr.st_ino = st->st_ino;
		redir_fill_attr(ri, &e->attr, st, true, v->target);
	}
	pthread_mutex_unlock(&ri->vlock);
	free(fresh);
	/* short timeouts: the backing file is not ours to watch */
	e->attr_timeout = 1.0;
	e->entry_timeout = 1.0;
	return 0;
}

int redir_vnode_ref(struct redir_inst *ri, const char *path,
		    struct redir_target *t, const struct stat *st,
		    struct flt_entry *e)
{
	return vnode_ref(ri, path, t, st, NULL, e);
}

int redir_vnode_ref_lower(struct redir_inst *ri, const char *path,
			  struct redir_target *t, const struct stat *st,
			  const struct stat *lower, struct flt_entry *e)
{
	return vnode_ref(ri, path, t, st, lower, e);
}

bool redir_vnode_attr(struct redir_inst *ri, flt_ino_t id,
		      const struct stat *st, struct stat *attr)
{
	struct redir_vnode *v;

	pthread_mutex_lock(&ri->vlock);
	for (v = ri->by_id[hash_id(id)]; v; v = v->next_id)
		if (v->id == id)
			break;
	if (v && v->has_lower) {
		*attr = v->lower;
		redir_fill_attr(ri, attr, st, false, v->target);
	} else if (v) {
		memset(attr, 0, sizeof(*attr));
		redir_fill_attr(ri, attr, st, true, v->target);
	}
	pthread_mutex_unlock(&ri->vlock);
	return v != NULL;
}

struct redir_vnode *redir_vnode_find(struct redir_inst *ri, flt_ino_t id)
{
	struct redir_vnode *v;

	pthread_mutex_lock(&ri->vlock);
	for (v = ri->by_id[hash_id(id)]; v; v = v->next_id)
		if (v->id == id)
			break;
	pthread_mutex_unlock(&ri->vlock);
	return v;
}

static void unlink_locked(struct redir_inst *ri, struct redir_vnode *v)
{
	struct redir_vnode **pp = &ri->by_id[hash_id(v->id)];

	while (*pp && *pp != v)
		pp = &(*pp)->next_id;
	if (*pp)
		*pp = v->next_id;
	for (pp = &ri->by_path[hash_str(v->path)]; *pp && *pp != v;
	     pp = &(*pp)->next_path)
		;
	if (*pp)
		*pp = v->next_path;
}

void redir_vnode_forget(struct redir_inst *ri, flt_ino_t id, uint64_t n)
{
	struct redir_vnode *v;
	bool dead = false;

	pthread_mutex_lock(&ri->vlock);
	for (v = ri->by_id[hash_id(id)]; v; v = v->next_id)
		if (v->id == id)
			break;
	if (v) {
		v->nlookup = v->nlookup > n ? v->nlookup - n : 0;
		if (!v->nlookup) {
			unlink_locked(ri, v);
			dead = true;
		}
	}
	pthread_mutex_unlock(&ri->vlock);
	if (dead) {
		flt_free_node_id(ri->instance, id);
		redir_target_put(v->target);
		free(v);
	}
}

void redir_vnodes_destroy(struct redir_inst *ri)
{
	for (size_t b = 0; b < REDIR_VBUCKETS; b++) {
		struct redir_vnode *v = ri->by_id[b], *next;

		for (; v; v = next) {
			next = v->next_id;
			redir_target_put(v->target);
			free(v);
		}
		ri->by_id[b] = ri->by_path[b] = NULL;
	}
}

size_t redir_vnode_ids(struct redir_inst *ri, const char *path,
		       flt_ino_t *ids, size_t max)
{
	struct redir_vnode *v;
	size_t n = 0;

	pthread_mutex_lock(&ri->vlock);
	for (v = ri->by_path[hash_str(path)]; v && n < max; v = v->next_path)
		if (!strcmp(v->path, path))
			ids[n++] = v->id;
	pthread_mutex_unlock(&ri->vlock);
	return n;
}

size_t redir_vnode_ids_under(struct redir_inst *ri, const char *prefix,
			     flt_ino_t *ids, size_t max)
{
	size_t len = strlen(prefix), n = 0;

	pthread_mutex_lock(&ri->vlock);
	for (size_t b = 0; b < REDIR_VBUCKETS && n < max; b++)
		for (struct redir_vnode *v = ri->by_id[b]; v && n < max;
		     v = v->next_id)
			if (!len || (!strncmp(v->path, prefix, len) &&
				     (v->path[len] == '/' || !v->path[len])))
				ids[n++] = v->id;
	pthread_mutex_unlock(&ri->vlock);
	return n;
}
