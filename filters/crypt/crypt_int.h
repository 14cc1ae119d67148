/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt filter internals: per-volume and per-inode state, the data engine.
 *
 * Lock order: node->lock (a reader/writer lock that is not bound to a
 * thread, so a pre-callback can take it and its post-callback release it)
 * -> node->key_mu (leaf). No lock is held while waiting for anything but
 * lower I/O of the node's own file.
 */
#ifndef FSFILTER_CRYPT_INT_H
#define FSFILTER_CRYPT_INT_H

#include <fsfilter/filter.h>
#include <fsfilter/scope.h>

#include "filters/crypt/crypt_cipher.h"
#include "filters/crypt/crypt_keys.h"

#include <pthread.h>
#include <stdbool.h>

/* The raw view's twins (crypt_raw.c): filter-owned node ids that show a
 * lower regular file as it is stored. */
#define CRYPT_TWIN_BUCKETS 256
struct crypt_twin;
struct crypt_twins {
	pthread_mutex_t mu;	/* leaf */
	struct crypt_twin *by_id[CRYPT_TWIN_BUCKETS];	/* mu */
	struct crypt_twin *by_lower[CRYPT_TWIN_BUCKETS];	/* mu */
};

void crypt_twins_init(struct crypt_twins *tw);
void crypt_twins_destroy(struct crypt_twins *tw);
/* The twin of @lower, with one more lookup reference (which stands for
 * the lower one the caller got). 0 or -ENOMEM / -EINVAL. */
int crypt_twin_ref(struct flt_instance *inst, struct crypt_twins *tw,
		   flt_ino_t lower, flt_ino_t *id);
/* The lower inode of twin @id, or 0 if @id is not one of ours. */
flt_ino_t crypt_twin_lower(struct crypt_twins *tw, flt_ino_t id);
/* Drop @nlookup references of twin @id (freeing the id at zero); returns
 * its lower inode (to pass the FORGET down) or 0. */
flt_ino_t crypt_twin_forget(struct flt_instance *inst, struct crypt_twins *tw,
			    flt_ino_t id, uint64_t nlookup);
/* A raw open of twin @id answered with lower handle @fh / its release:
 * the table keeps the handles for crypt_twins_teardown. -ENOENT if @id is
 * not a twin, -ENOMEM. */
int crypt_twin_open(struct crypt_twins *tw, flt_ino_t id, uint64_t fh);
void crypt_twin_close(struct crypt_twins *tw, flt_ino_t id, uint64_t fh);
/* Instance teardown (nothing of crypt runs any more): release every
 * handle kept and forget every twin's lower references, below @inst;
 * frees the ids. Returns the twins dropped, *@released the handles. */
size_t crypt_twins_teardown(struct flt_instance *inst, struct crypt_twins *tw,
			    uint64_t *released);
/* RELEASE of lower handle @fh of @ino below @inst (crypt_filter.c). */
void crypt_release_below(struct flt_instance *inst, flt_ino_t ino,
			 uint64_t fh, int flags);

/* Instance context: one per volume. Immutable after instance setup but
 * for the twin table, which has its own lock. */
struct crypt_vol {
	uint8_t master[CRYPT_KEY_LEN];
	bool raw_on;		/* raw=LIST given */
	struct flt_scope raw;	/* who sees the raw view */
	struct crypt_twins twins;
};

/* Shared/exclusive lock that any thread may release. */
struct crypt_lock {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned readers;	/* mu */
	bool writer;		/* mu */
	unsigned writers_waiting; /* mu: readers yield to them */
};

void crypt_lock_init(struct crypt_lock *l);
void crypt_lock_destroy(struct crypt_lock *l);
void crypt_lock_shared(struct crypt_lock *l);
void crypt_lock_excl(struct crypt_lock *l);
void crypt_unlock_shared(struct crypt_lock *l);
void crypt_unlock_excl(struct crypt_lock *l);

/* Stream context: one per lower inode. */
struct crypt_node {
	struct crypt_lock lock;	/* shared: reads; exclusive: size changes
				   and writes (no torn blocks) */
	pthread_mutex_t key_mu;
	bool have_key;		/* key_mu (set under lock excl or key_mu) */
	struct crypt_fkey fk;	/* key_mu */
	char name[64];		/* last name seen, for log lines; key_mu */
};

/* Everything one data operation needs. */
struct crypt_op {
	struct flt_instance *inst;
	struct crypt_vol *vol;
	struct crypt_node *node;
	struct flt_file file;	/* the lower handle (ino, fh) */
};

/* Get (or create) the node of @ino: one reference, release with
 * flt_release_context(). */
int crypt_node_get(struct flt_instance *inst, flt_ino_t ino,
		   struct crypt_node **out);
void crypt_node_set_name(struct crypt_node *n, const char *name);

/* Lower size of the op's file (getattr below). */
int crypt_lower_stat(struct crypt_op *op, struct stat *st);

/* The engine. Callers hold node->lock: shared for read, exclusive for
 * write and truncate. */
int crypt_do_read(struct crypt_op *op, uint64_t off, size_t size, void *buf,
		  size_t *done);
int crypt_do_write(struct crypt_op *op, uint64_t off, size_t size,
		   const void *buf);
/* Change the plaintext size; @has_fh: op->file.fh is an open handle
 * (else the lower file is truncated by inode). */
int crypt_do_truncate(struct crypt_op *op, uint64_t size, bool has_fh);
/* Run @fn over [0, @n) in chunks of at least @min_chunk items, spread over
 * the calling thread and helper threads (crypt_par.c); returns the first
 * non-zero result of a chunk. @fn must be safe to run concurrently on
 * disjoint ranges; it runs on the caller's thread or a helper's. */
typedef int (*crypt_par_fn)(void *arg, size_t i0, size_t i1);
int crypt_par_run(crypt_par_fn fn, void *arg, size_t n, size_t min_chunk);
/* Around a request's lower I/O and crypto: crypt_par_run splits work only
 * while fewer requests than CPUs are between the two. */
void crypt_par_enter(void);
void crypt_par_leave(void);

/* SEEK_DATA / SEEK_HOLE in plaintext offsets of a file of @size bytes:
 * 4 KiB blocks never written (all-zero stored bytes in a lower hole) are
 * holes. -ENXIO at or after the end (and SEEK_DATA past the last data).
 * Caller holds node->lock shared and op->file.fh is an open handle. */
int crypt_do_seek(struct crypt_op *op, int whence, uint64_t off,
		  uint64_t size, uint64_t *res);

#endif /* FSFILTER_CRYPT_INT_H */
