/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: the raw view (raw=LIST). A listed process that looks a regular
 * file up gets a twin: a filter-owned node id standing for the same lower
 * inode, whose operations go down unchanged (ciphertext, raw sizes).
 *
 * Why a second id rather than a per-operation decision: the kernel keeps
 * i_size, attributes and the page cache per node id for every process
 * alike, so plaintext and ciphertext served under one id would leak into
 * each other (a raw getattr growing i_size under a plaintext reader, a raw
 * mmap filling the page cache with ciphertext). Under two ids each view
 * has its own kernel inode. Which one a process gets is decided when it
 * resolves a name: regular files' dentries are never cached (entry timeout
 * 0), so every path walk asks again, and a dentry holding the other view's
 * node is replaced. An open file stays in the view it was opened in.
 *
 * One twin per lower inode, like the lower layer's one node per inode: a
 * second lookup returns the same id with one more reference. Each twin
 * reference stands for one lookup reference on the lower inode, which the
 * twin's FORGET passes down. tw->mu protects both chains and every count.
 */
#include "filters/crypt/crypt_int.h"

#include <errno.h>
#include <stdlib.h>

struct crypt_twin {
	flt_ino_t id, lower;
	uint64_t nlookup;
	struct crypt_twin *next_id, *next_lower;
};

static size_t hash_ino(flt_ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 56) % CRYPT_TWIN_BUCKETS;
}

void crypt_twins_init(struct crypt_twins *tw)
{
	pthread_mutex_init(&tw->mu, NULL);
}

void crypt_twins_destroy(struct crypt_twins *tw)
{
	for (size_t i = 0; i < CRYPT_TWIN_BUCKETS; i++) {
		struct crypt_twin *t = tw->by_id[i], *next;

		for (; t; t = next) {
			next = t->next_id;
			free(t);
		}
		tw->by_id[i] = tw->by_lower[i] = NULL;
	}
	pthread_mutex_destroy(&tw->mu);
}

int crypt_twin_ref(struct flt_instance *inst, struct crypt_twins *tw,
		   flt_ino_t lower, flt_ino_t *id)
{
	size_t hl = hash_ino(lower), hi;
	struct crypt_twin *t;
	int ret = 0;

	pthread_mutex_lock(&tw->mu);
	for (t = tw->by_lower[hl]; t; t = t->next_lower)
		if (t->lower == lower)
			break;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		ret = flt_allocate_node_id(inst, &t->id);
		if (ret) {
			free(t);
			goto out;
		}
		t->lower = lower;
		hi = hash_ino(t->id);
		t->next_id = tw->by_id[hi];
		tw->by_id[hi] = t;
		t->next_lower = tw->by_lower[hl];
		tw->by_lower[hl] = t;
	}
	t->nlookup++;
	*id = t->id;
out:
	pthread_mutex_unlock(&tw->mu);
	return ret;
}

flt_ino_t crypt_twin_lower(struct crypt_twins *tw, flt_ino_t id)
{
	flt_ino_t lower = 0;

	pthread_mutex_lock(&tw->mu);
	for (struct crypt_twin *t = tw->by_id[hash_ino(id)]; t; t = t->next_id)
		if (t->id == id) {
			lower = t->lower;
			break;
		}
	pthread_mutex_unlock(&tw->mu);
	return lower;
}

flt_ino_t crypt_twin_forget(struct flt_instance *inst, struct crypt_twins *tw,
			    flt_ino_t id, uint64_t nlookup)
{
	struct crypt_twin **p, *t = NULL;
	flt_ino_t lower = 0;
	bool gone = false;

	pthread_mutex_lock(&tw->mu);
	for (p = &tw->by_id[hash_ino(id)]; *p; p = &(*p)->next_id)
		if ((*p)->id == id) {
			t = *p;
			break;
		}
	if (t) {
		lower = t->lower;
		t->nlookup = nlookup < t->nlookup ? t->nlookup - nlookup : 0;
		if (!t->nlookup) {
			struct crypt_twin **q = &tw->by_lower[hash_ino(lower)];

			*p = t->next_id;
			while (*q != t)
				q = &(*q)->next_lower;
			*q = t->next_lower;
			gone = true;
		}
	}
	pthread_mutex_unlock(&tw->mu);
	if (gone) {
		flt_free_node_id(inst, id);
		free(t);
	}
	return lower;
}
