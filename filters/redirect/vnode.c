/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Virtual nodes: names a rule makes appear that the lower directory does
 * not have. Their node ids are filter-owned (flt_allocate_node_id), so the
 * lower layer never sees them and their FORGETs come back to us.
 *
 * One node per path, like the lower layer's one node per inode: a second
 * lookup of the same name returns the same id with one more reference, so
 * the kernel keeps its inode (and page cache) across dentry revalidation.
 * inst->vlock protects both hash tables (grown, never shrunk: at most one
 * node per bucket on average) and every nlookup.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The low bits of FNV-1a depend only on the low bits of each step, and
 * ids are sequential: a finaliser (MurmurHash3's fmix64) mixes every bit
 * into the bucket index. */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static size_t hash_str_n(const char *s, size_t nb)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(mix(h) & (nb - 1));
}

static size_t hash_id_n(flt_ino_t id, size_t nb)
{
	return (size_t)(mix(id) & (nb - 1));
}

/* vlock held, ri->vbuckets != 0 */
#define hash_str(s) hash_str_n((s), ri->vbuckets)
#define hash_id(id) hash_id_n((id), ri->vbuckets)

/* Make room for one more node (vlock held): the first tables, or twice
 * the buckets once there are as many nodes as buckets. -ENOMEM only if
 * there is no table at all (a full one still works, only slower). */
static int grow_locked(struct redir_inst *ri)
{
	size_t nb = ri->vbuckets ? ri->vbuckets * 2 : REDIR_VBUCKETS_MIN;
	struct redir_vnode **id, **path;

	if (ri->vbuckets && ri->vcount < ri->vbuckets)
		return 0;
	id = calloc(nb, sizeof(*id));
	path = calloc(nb, sizeof(*path));
	if (!id || !path) {
		free(id);
		free(path);
		return ri->vbuckets ? 0 : -ENOMEM;
	}
	/* every node is on both tables: walk the id chains once */
	for (size_t b = 0; b < ri->vbuckets; b++) {
		struct redir_vnode *v = ri->by_id[b], *next;

		for (; v; v = next) {
			size_t hi = hash_id_n(v->id, nb);
			size_t hp = hash_str_n(v->path, nb);

			next = v->next_id;
			v->next_id = id[hi];
			id[hi] = v;
			v->next_path = path[hp];
			path[hp] = v;
		}
	}
	free(ri->by_id);
	free(ri->by_path);
	ri->by_id = id;
	ri->by_path = path;
	ri->vbuckets = nb;
	return 0;
}

static int vnode_ref(struct redir_inst *ri, const char *path,
		     struct redir_target *t, const struct stat *st,
		     const struct stat *lower, struct flt_entry *e)
{
	size_t hp, n = strlen(path) + 1;
	struct redir_vnode *v = NULL, *fresh;
	int ret;

	fresh = malloc(sizeof(*fresh) + n);
	if (!fresh)
		return -ENOMEM;
	pthread_mutex_lock(&ri->vlock);
	/* A path may have stale nodes besides its live one: the backing
	 * changed type, the rules changed, or it was materialised. They are
	 * kept for their holders but never handed out again. Where each
	 * sits on the chain is not known (a rehash reorders the chains), so
	 * look past them. */
	for (v = ri->vbuckets ? ri->by_path[hash_str(path)] : NULL; v;
	     v = v->next_path)
		if (!strcmp(v->path, path) &&
		    (v->type & S_IFMT) == (st->st_mode & S_IFMT) &&
		    v->target->gen == t->gen &&
		    !atomic_load(&v->target->materialised))
			break;
	if (v) {
		v->nlookup++;
	} else {
		ret = grow_locked(ri);
		if (!ret)
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
		hp = hash_str(path);	/* the table may have grown */
		v->next_path = ri->by_path[hp];
		ri->by_path[hp] = v;
		v->next_id = ri->by_id[hash_id(v->id)];
		ri->by_id[hash_id(v->id)] = v;
		ri->vcount++;
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

static struct redir_vnode *find_id_locked(struct redir_inst *ri, flt_ino_t id)
{
	struct redir_vnode *v;

	if (!ri->vbuckets)
		return NULL;
	for (v = ri->by_id[hash_id(id)]; v; v = v->next_id)
		if (v->id == id)
			break;
	return v;
}

bool redir_vnode_attr(struct redir_inst *ri, flt_ino_t id,
		      const struct stat *st, struct stat *attr)
{
	struct redir_vnode *v;

	pthread_mutex_lock(&ri->vlock);
	v = find_id_locked(ri, id);
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
	v = find_id_locked(ri, id);
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
	ri->vcount--;
}

void redir_vnode_forget(struct redir_inst *ri, flt_ino_t id, uint64_t n)
{
	struct redir_vnode *v;
	bool dead = false;

	pthread_mutex_lock(&ri->vlock);
	v = find_id_locked(ri, id);
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
	for (size_t b = 0; b < ri->vbuckets; b++) {
		struct redir_vnode *v = ri->by_id[b], *next;

		for (; v; v = next) {
			next = v->next_id;
			redir_target_put(v->target);
			free(v);
		}
	}
	free(ri->by_id);
	free(ri->by_path);
	ri->by_id = ri->by_path = NULL;
	ri->vbuckets = ri->vcount = 0;
}

size_t redir_vnode_ids(struct redir_inst *ri, const char *path,
		       flt_ino_t *ids, size_t max)
{
	struct redir_vnode *v;
	size_t n = 0;

	pthread_mutex_lock(&ri->vlock);
	for (v = ri->vbuckets ? ri->by_path[hash_str(path)] : NULL;
	     v && n < max; v = v->next_path)
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
	for (size_t b = 0; b < ri->vbuckets && n < max; b++)
		for (struct redir_vnode *v = ri->by_id[b]; v && n < max;
		     v = v->next_id)
			if (!len || (!strncmp(v->path, prefix, len) &&
				     (v->path[len] == '/' || !v->path[len])))
				ids[n++] = v->id;
	pthread_mutex_unlock(&ri->vlock);
	return n;
}
