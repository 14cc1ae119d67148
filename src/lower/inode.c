/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The inode table: one node per lower inode, keyed on (st_dev, st_ino), so
 * hard links share one node and the kernel sees one inode for them.
 *
 * A separately chained hash table that doubles when the load passes 1, so
 * lookups stay O(1) however many nodes the kernel keeps (a cold `ls -l` of
 * 100k entries must not cost more per entry than one of 100).
 */
#include "lower/lower_int.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Generation numbers are unique per node object: a lower inode number
 * reused after its node was forgotten gets a new generation, so an NFS
 * file handle of the old node never matches the new one. */
static atomic_uint_fast64_t lower_generation = 1;

static size_t hash_key(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return (size_t)(h & (nbuckets - 1));
}

/* FNV-1a over the handle's type and bytes (watch.c looks nodes up by the
 * handles fanotify reports, which are name_to_handle_at's) */
static size_t hash_handle(const struct file_handle *fh, size_t nbuckets)
{
	const unsigned char *p = fh->f_handle;
	uint64_t h = 0xcbf29ce484222325ull ^ (uint32_t)fh->handle_type;

	for (unsigned i = 0; i < fh->handle_bytes; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	return (size_t)(h & (nbuckets - 1));
}

static bool same_handle(const struct file_handle *a,
			const struct file_handle *b)
{
	return a->handle_type == b->handle_type &&
	       a->handle_bytes == b->handle_bytes &&
	       !memcmp(a->f_handle, b->f_handle, a->handle_bytes);
}

int lower_table_init(struct lower_fs *fs)
{
	fs->nbuckets = 1024;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	fs->fh_buckets = calloc(fs->nbuckets, sizeof(*fs->fh_buckets));
	if (!fs->buckets || !fs->fh_buckets) {
		free(fs->buckets);
		free(fs->fh_buckets);
		return -ENOMEM;
	}
	fs->ninodes = 0;
	return 0;
}

static void insert_locked(struct lower_fs *fs, struct lower_inode *n)
{
	size_t b = hash_key(n->dev, n->ino, fs->nbuckets);

	n->hash_next = fs->buckets[b];
	fs->buckets[b] = n;
	if (n->fh) {
		b = hash_handle(n->fh, fs->nbuckets);
		n->fh_next = fs->fh_buckets[b];
		fs->fh_buckets[b] = n;
	}
	fs->ninodes++;
}

static void remove_locked(struct lower_fs *fs, struct lower_inode *n)
{
	struct lower_inode **pp = &fs->buckets[hash_key(n->dev, n->ino,
							 fs->nbuckets)];

	while (*pp != n)
		pp = &(*pp)->hash_next;
	*pp = n->hash_next;
	if (n->fh) {
		pp = &fs->fh_buckets[hash_handle(n->fh, fs->nbuckets)];
		while (*pp != n)
			pp = &(*pp)->fh_next;
		*pp = n->fh_next;
	}
	fs->ninodes--;
}

flt_ino_t lower_inode_id_by_handle(struct lower_fs *fs,
				   const struct file_handle *fh)
{
	struct lower_inode *n;
	flt_ino_t id = 0;

	pthread_mutex_lock(&fs->table_lock);
	for (n = fs->fh_buckets[hash_handle(fh, fs->nbuckets)]; n;
	     n = n->fh_next)
		if (same_handle(n->fh, fh)) {
			id = lower_inode_id(fs, n);
			break;
		}
	pthread_mutex_unlock(&fs->table_lock);
	return id;
}

static struct lower_inode *find_locked(struct lower_fs *fs, dev_t dev,
				       ino_t ino)
{
	struct lower_inode *n = fs->buckets[hash_key(dev, ino, fs->nbuckets)];

	while (n && (n->ino != ino || n->dev != dev))
		n = n->hash_next;
	return n;
}

/* Double the bucket array; on allocation failure keep the old one (the
 * table still works, only with longer chains). */
static void grow_locked(struct lower_fs *fs)
{
	size_t nb = fs->nbuckets * 2;
	struct lower_inode **nbk = calloc(nb, sizeof(*nbk));
	struct lower_inode **nfh = calloc(nb, sizeof(*nfh));

	if (!nbk || !nfh) {
		free(nbk);
		free(nfh);
		return;
	}
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct lower_inode *n = fs->buckets[i], *next;

		for (; n; n = next) {
			size_t b = hash_key(n->dev, n->ino, nb);

			next = n->hash_next;
			n->hash_next = nbk[b];
			nbk[b] = n;
		}
		for (n = fs->fh_buckets[i]; n; n = next) {
			size_t b = hash_handle(n->fh, nb);

			next = n->fh_next;
			n->fh_next = nfh[b];
			nfh[b] = n;
		}
	}
	free(fs->buckets);
	free(fs->fh_buckets);
	fs->buckets = nbk;
	fs->fh_buckets = nfh;
	fs->nbuckets = nb;
}

void lower_table_destroy(struct lower_fs *fs)
{
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct lower_inode *n = fs->buckets[i], *next;

		for (; n; n = next) {
			next = n->hash_next;
			if (n == &fs->root)
				continue;
			if (n->fd >= 0)
				lower_sys_close(n->fd);
			free(n->fh);
			free(n);
		}
	}
	free(fs->buckets);
	free(fs->fh_buckets);
	fs->buckets = NULL;
	fs->fh_buckets = NULL;
	fs->ninodes = 0;
}

struct lower_inode *lower_inode_get(struct lower_fs *fs, flt_ino_t ino)
{
	if (ino == FLT_ROOT_INO)
		return &fs->root;
	return (struct lower_inode *)(uintptr_t)ino;
}

flt_ino_t lower_inode_id(struct lower_fs *fs, struct lower_inode *n)
{
	return n == &fs->root ? FLT_ROOT_INO : (flt_ino_t)(uintptr_t)n;
}

void lower_entry_timeouts(struct lower_fs *fs, struct flt_entry *e)
{
	e->attr_timeout = lower_timeout(fs, false, e->attr.st_dev);
	e->entry_timeout = lower_timeout(fs, true, e->attr.st_dev);
}

void lower_new_timeouts(struct lower_fs *fs, struct flt_entry *e)
{
	lower_entry_timeouts(fs, e);
	if (fs->opt.new_timeout > e->attr_timeout)
		e->attr_timeout = fs->opt.new_timeout;
	if (fs->opt.new_timeout > e->entry_timeout)
		e->entry_timeout = fs->opt.new_timeout;
}

/* An existing node of @st gets one more lookup reference: true. */
static bool ref_existing(struct lower_fs *fs, const struct stat *st,
			 struct flt_entry *e)
{
	struct lower_inode *n;

	pthread_mutex_lock(&fs->table_lock);
	n = find_locked(fs, st->st_dev, st->st_ino);
	if (n) {
		n->nlookup++;
		e->ino = lower_inode_id(fs, n);
		e->generation = n->generation;
	}
	pthread_mutex_unlock(&fs->table_lock);
	return n != NULL;
}

int lower_inode_from_fd(struct lower_fs *fs, int fd, const struct stat *st,
			struct flt_entry *e)
{
	struct lower_inode *n, *fresh;

	e->attr = *st;
	lower_entry_timeouts(fs, e);
	/* a known inode (a repeated lookup, readdirplus) costs no handle */
	if (ref_existing(fs, st, e)) {
		lower_sys_close(fd);
		return 0;
	}
	/* allocate and take the handle outside the lock */
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		lower_sys_close(fd);
		return -ENOMEM;
	}
	lower_fdc_take_handle(fs, fresh, fd);
	/* the node is visible once inserted: its fd fields are set before,
	 * with one use that lower_fdc_adopt() drops below */
	fresh->fd = fd;
	fresh->fd_users = 1;
	pthread_mutex_lock(&fs->table_lock);
	/* found again if another thread made it meanwhile */
	n = find_locked(fs, st->st_dev, st->st_ino);
	if (n) {
		n->nlookup++;
	} else {
		n = fresh;
		fresh = NULL;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
		n->type = st->st_mode & S_IFMT;
		n->generation = atomic_fetch_add(&lower_generation, 1);
		n->nlookup = 1;
		if (fs->ninodes >= fs->nbuckets)
			grow_locked(fs);
		insert_locked(fs, n);
		fd = -1;
	}
	e->ino = lower_inode_id(fs, n);
	e->generation = n->generation;
	pthread_mutex_unlock(&fs->table_lock);

	if (fd >= 0) {
		lower_sys_close(fd);
		free(fresh->fh);
		free(fresh);
	} else {
		lower_fdc_adopt(fs, n);
	}
	return 0;
}

/* lower_lookup_name, in @dirfd (an open fd of @parent) unless it is -1 */
static int lookup_open(struct lower_fs *fs, struct lower_inode *parent,
		       int dirfd, const char *name, struct flt_entry *e)
{
	struct stat st;
	int pfd = dirfd, fd, ret;

	/* ".." of the root must not lead out of the lower directory */
	if (parent == &fs->root && name[0] == '.' && name[1] == '.' &&
	    !name[2])
		name = ".";
	/* open first, then stat the fd: the attributes are those of the
	 * inode we hold, even if the name is replaced in between */
	if (pfd < 0) {
		pfd = lower_inode_fd(fs, parent);
		if (pfd < 0)
			return pfd;
	}
	fd = lower_sys_openat(pfd, name, O_PATH | O_NOFOLLOW, 0);
	if (dirfd < 0)
		lower_inode_fd_put(fs, parent);
	if (fd < 0)
		return fd;
	ret = lower_sys_fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (ret < 0) {
		lower_sys_close(fd);
		return ret;
	}
	return lower_inode_from_fd(fs, fd, &st, e);
}

int lower_lookup_name(struct lower_fs *fs, struct lower_inode *parent,
		      const char *name, struct flt_entry *e)
{
	return lookup_open(fs, parent, -1, name, e);
}

/*
 * Most names a readdirplus or lookup resolves are of inodes the table
 * already has (a repeated `ls -l`, a lookup after the kernel dropped only
 * the dentry): one fstatat by name, and the node of the (st_dev, st_ino) it
 * returned gets the reference, so attributes and node are of the same inode
 * even if the name is replaced meanwhile. No O_PATH open and close, no
 * reopen of an evicted parent when the caller has a directory fd. Only an
 * unknown inode takes the open path (which stats the fd it holds).
 */
int lower_lookup_name_at(struct lower_fs *fs, struct lower_inode *parent,
			 int dirfd, const char *name, struct flt_entry *e)
{
	struct stat st;
	int pfd = dirfd, ret;

	if (parent == &fs->root && name[0] == '.' && name[1] == '.' &&
	    !name[2])
		return lower_lookup_name(fs, parent, name, e);
	if (pfd < 0) {
		pfd = lower_inode_fd(fs, parent);
		if (pfd < 0)
			return pfd;
	}
	ret = lower_sys_fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (dirfd < 0)
		lower_inode_fd_put(fs, parent);
	if (ret < 0)
		return ret;
	if (ref_existing(fs, &st, e)) {
		e->attr = st;
		lower_entry_timeouts(fs, e);
		return 0;
	}
	return lookup_open(fs, parent, dirfd, name, e);
}

/*
 * A readdirplus entry whose inode number (d_ino) the table does not have on
 * the directory's device (a first listing, or one after the kernel forgot
 * the nodes): the fstatat by name of lower_lookup_name_at would only say
 * so, so it takes the open path at once (3 syscalls instead of 4 per new
 * entry). Only the choice of path rests on d_ino: the node is always that
 * of the inode the stat returned, as in lower_lookup_name_at. An entry on
 * another device (a mount point) just takes the open path. A file system
 * whose d_ino is not st_ino (a FUSE lower without use_ino, overlayfs
 * without xino) would take the open path every time: the first such entry
 * (or a name replaced meanwhile: it is only a shortcut) turns it off for
 * the volume.
 */
/*
 * A known node of a readdirplus entry whose fd the cache evicted: an `ls -l`
 * asks for two xattrs of each entry right after the readdirplus that named
 * it, and each would reopen the fd by handle (open_by_handle_at and a close:
 * 5.7 us here; every entry of a warm listing of more entries than the cache
 * holds). Reopened by name in the directory instead (openat O_PATH and a
 * statx: 2 us), kept only if it is the node's own inode (the name may have
 * been replaced since the stat), and cached.
 *
 * And only if it is on LOWER's root mount, where the node's handle reopens:
 * a node is an inode, not a mount, and the directory listed may be a bind
 * mount of the same file system (read-only, say) that reaches the node's
 * inode too. An fd of it would serve every later open of the node by its
 * own name (EROFS for a write). The same statx says the mount.
 */
static void refresh_fd(struct lower_fs *fs, struct lower_inode *n,
		       int dirfd, const char *name)
{
	struct statx stx;
	int fd;

	if (!n->fh || lower_fdc_cached(fs, n))
		return;
	fd = lower_sys_openat(dirfd, name, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return;
	if (lower_sys_statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
			    STATX_INO | STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID) ||
	    stx.stx_mnt_id != (uint64_t)fs->root_mount_id ||
	    makedev(stx.stx_dev_major, stx.stx_dev_minor) != n->dev ||
	    stx.stx_ino != n->ino || !lower_fdc_offer(fs, n, fd))
		lower_sys_close(fd);
}

int lower_lookup_dirent(struct lower_fs *fs, struct lower_inode *parent,
			int dirfd, const char *name, ino_t d_ino,
			struct flt_entry *e)
{
	bool known = true;
	int ret;

	if (!atomic_load_explicit(&fs->dino_unreliable, memory_order_relaxed)) {
		pthread_mutex_lock(&fs->table_lock);
		known = find_locked(fs, parent->dev, d_ino) != NULL;
		pthread_mutex_unlock(&fs->table_lock);
	}
	if (known) {
		ret = lower_lookup_name_at(fs, parent, dirfd, name, e);
		if (!ret && dirfd >= 0)
			refresh_fd(fs, lower_inode_get(fs, e->ino), dirfd,
				   name);
		return ret;
	}
	ret = lookup_open(fs, parent, dirfd, name, e);
	if (!ret && e->attr.st_dev == parent->dev && e->attr.st_ino != d_ino)
		atomic_store_explicit(&fs->dino_unreliable, true,
				      memory_order_relaxed);
	return ret;
}

void lower_inode_unref(struct lower_fs *fs, struct lower_inode *n,
		       uint64_t count)
{
	bool dead = false;

	pthread_mutex_lock(&fs->table_lock);
	/* the root is never freed and may be forgotten by a kernel that
	 * counts it differently; any other node going below zero is a bug
	 * in a layer above */
	assert(n == &fs->root || n->nlookup >= count);
	n->nlookup = n->nlookup >= count ? n->nlookup - count : 0;
	if (!n->nlookup && n != &fs->root) {
		remove_locked(fs, n);
		dead = true;
	}
	pthread_mutex_unlock(&fs->table_lock);
	if (dead) {
		/* out of the table, memory not yet reusable: drop what the
		 * layers above keep for this node id */
		if (fs->gone_hook)
			fs->gone_hook((flt_ino_t)(uintptr_t)n, fs->gone_arg);
		lower_fdc_forget(fs, n);
		free(n);
	}
}

struct lower_inode *lower_inode_find_ref(struct lower_fs *fs, dev_t dev,
					 ino_t ino)
{
	struct lower_inode *n;

	pthread_mutex_lock(&fs->table_lock);
	n = find_locked(fs, dev, ino);
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
	return n;
}

void lower_table_add_root(struct lower_fs *fs)
{
	pthread_mutex_lock(&fs->table_lock);
	insert_locked(fs, &fs->root);
	pthread_mutex_unlock(&fs->table_lock);
}

uint64_t lower_inode_count(struct lower_fs *fs)
{
	uint64_t n;

	pthread_mutex_lock(&fs->table_lock);
	n = fs->ninodes;
	pthread_mutex_unlock(&fs->table_lock);
	return n;
}

void lower_inode_ref(struct lower_fs *fs, struct lower_inode *n,
		     const struct stat *st, struct flt_entry *e)
{
	pthread_mutex_lock(&fs->table_lock);
	n->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
	e->ino = lower_inode_id(fs, n);
	e->generation = n->generation;
	e->attr = *st;
	lower_entry_timeouts(fs, e);
}

void lower_set_inode_gone_hook(struct lower_fs *fs,
			       void (*hook)(flt_ino_t ino, void *arg),
			       void *arg)
{
	fs->gone_hook = hook;
	fs->gone_arg = arg;
}
