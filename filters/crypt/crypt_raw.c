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
 *
 * Detach. Once crypt is off the stack, operations naming a twin reach the
 * bottom and the manager completes them (FORGET silently, the rest -EIO,
 * filter.h), so the twins' FORGETs and RELEASEs never pass their lower
 * references and handles down any more: without crypt_twins_teardown()
 * the lower inodes and open files stayed until unmount. So the twin
 * table also keeps the lower handles opened through each twin (a raw open
 * answers them with its own fh, the lower one), and the instance's
 * teardown gives back what is left: a RELEASE of every handle and one
 * FORGET of all the lookup references of every twin, below crypt. The
 * kernel may go on naming the ids; they are dead (EIO), as every node of
 * a detached filter that made them up.
 */
#include "filters/crypt/crypt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

struct crypt_twin {
	flt_ino_t id, lower;
	uint64_t nlookup;
	struct crypt_twin *next_id, *next_lower;
	uint64_t *fh;		/* lower handles open through the twin */
	size_t nfh, capfh;
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
			free(t->fh);
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

static struct crypt_twin *find_locked(struct crypt_twins *tw, flt_ino_t id)
{
	for (struct crypt_twin *t = tw->by_id[hash_ino(id)]; t; t = t->next_id)
		if (t->id == id)
			return t;
	return NULL;
}

int crypt_twin_open(struct crypt_twins *tw, flt_ino_t id, uint64_t fh)
{
	struct crypt_twin *t;
	int ret = 0;

	pthread_mutex_lock(&tw->mu);
	t = find_locked(tw, id);
	if (!t) {
		ret = -ENOENT;
	} else if (t->nfh == t->capfh) {
		size_t cap = t->capfh ? 2 * t->capfh : 4;
		uint64_t *v = realloc(t->fh, cap * sizeof(*v));

		if (!v)
			ret = -ENOMEM;
		else {
			t->fh = v;
			t->capfh = cap;
		}
	}
	if (!ret)
		t->fh[t->nfh++] = fh;
	pthread_mutex_unlock(&tw->mu);
	return ret;
}

void crypt_twin_close(struct crypt_twins *tw, flt_ino_t id, uint64_t fh)
{
	struct crypt_twin *t;

	pthread_mutex_lock(&tw->mu);
	t = find_locked(tw, id);
	for (size_t i = 0; t && i < t->nfh; i++)
		if (t->fh[i] == fh) {
			t->fh[i] = t->fh[--t->nfh];
			break;
		}
	pthread_mutex_unlock(&tw->mu);
}

size_t crypt_twins_teardown(struct flt_instance *inst, struct crypt_twins *tw,
			    uint64_t *released)
{
	struct crypt_twin *all = NULL, *t, *next;
	size_t n = 0;

	/* off the table first: no lock held across the I/O below */
	pthread_mutex_lock(&tw->mu);
	for (size_t i = 0; i < CRYPT_TWIN_BUCKETS; i++) {
		for (t = tw->by_id[i]; t; t = next) {
			next = t->next_id;
			t->next_id = all;
			all = t;
		}
		tw->by_id[i] = tw->by_lower[i] = NULL;
	}
	pthread_mutex_unlock(&tw->mu);
	*released = 0;
	for (t = all; t; t = next) {
		next = t->next_id;
		for (size_t i = 0; i < t->nfh; i++)
			crypt_release_below(inst, t->lower, t->fh[i],
					    O_RDONLY);
		*released += t->nfh;
		flt_forget(inst, t->lower, t->nlookup);
		flt_free_node_id(inst, t->id);
		free(t->fh);
		free(t);
		n++;
	}
	return n;
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
		free(t->fh);
		free(t);
	}
	return lower;
}
