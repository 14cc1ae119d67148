/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small chained hash map from 64-bit keys to context pointers. */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot(const struct ctx_map *m, uint64_t key)
{
	/* node ids and handles are pointers: mix the low bits away */
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (m->nbuckets - 1);
}

void *ctxmap_get(struct ctx_map *m, uint64_t key)
{
	if (!m->nbuckets)
		return NULL;
	for (struct ctx_entry *e = m->buckets[slot(m, key)]; e; e = e->next)
		if (e->key == key)
			return e->context;
	return NULL;
}

static int grow(struct ctx_map *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
	struct ctx_entry **b = calloc(n, sizeof(*b));
	struct ctx_map nm = { b, n, m->n };

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct ctx_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			size_t s = slot(&nm, e->key);

			next = e->next;
			e->next = b[s];
			b[s] = e;
		}
	}
	free(m->buckets);
	*m = nm;
	return 0;
}

int ctxmap_put(struct ctx_map *m, uint64_t key, void *value, void **old)
{
	struct ctx_entry *e;
	size_t s;

	*old = NULL;
	if (m->nbuckets) {
		for (e = m->buckets[slot(m, key)]; e; e = e->next)
			if (e->key == key) {
				*old = e->context;
				e->context = value;
				return 0;
			}
	}
	if (m->n >= m->nbuckets && grow(m))
		return -ENOMEM;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	s = slot(m, key);
	e->key = key;
	e->context = value;
	e->next = m->buckets[s];
	m->buckets[s] = e;
	m->n++;
	return 0;
}

void *ctxmap_remove(struct ctx_map *m, uint64_t key)
{
	struct ctx_entry **pp, *e;
	void *value;

	if (!m->nbuckets)
		return NULL;
	for (pp = &m->buckets[slot(m, key)]; (e = *pp); pp = &e->next)
		if (e->key == key) {
			*pp = e->next;
			value = e->context;
			free(e);
			m->n--;
			return value;
		}
	return NULL;
}

struct ctx_entry *ctxmap_take_all(struct ctx_map *m)
{
	struct ctx_entry *list = NULL;

	/* relink the entries into one list: no allocation, cannot fail */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct ctx_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = list;
			list = e;
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->n = 0;
	return list;
}
