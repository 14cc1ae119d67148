/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The inode fd cache: a node keeps its lower inode as a file handle
 * (name_to_handle_at) and opens an O_PATH fd from it (open_by_handle_at,
 * which needs CAP_DAC_READ_SEARCH) only while it is used, keeping at most
 * fs->fdc_max unused fds on an LRU list. One fd per node the kernel knows
 * would hit RLIMIT_NOFILE's hard limit (20000 here: a 20,000-file metadata
 * storm failed with EMFILE; KERNEL-NOTES "What made FUSE peers fast or
 * slow").
 *
 * Fds that are never closed while the node lives ("pinned"):
 *  - nodes without a handle: the file system has none (EOPNOTSUPP), the
 *    handle is too big (EOVERFLOW), the inode is on another mount than the
 *    root (open_by_handle_at resolves on the root's mount), the daemon
 *    lacks CAP_DAC_READ_SEARCH, or the lower file system is FUSE (below);
 *  - nodes with an open lower handle: the file may be unlinked while open,
 *    and open_by_handle_at refuses an inode with no links (ESTALE);
 *  - nodes we saw lose a name through unlink/rmdir/rename-over with one
 *    link left (the same reason; a cwd in a removed directory, a file the
 *    kernel still holds).
 * A node evicted and then deleted by someone else directly in the lower
 * directory gets ESTALE, which is what the kernel expects of such a node.
 */
#include "lower/lower_int.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/statfs.h>

/* A FUSE file system decodes a handle only while the kernel still caches
 * its inode, unless its daemon opted in to exports, which we cannot tell:
 * an evicted node of an sshfs lower directory would come back ESTALE. */
#define FDC_FUSE_SUPER_MAGIC 0x65735546

#define FDC_MAX_DEFAULT 8192u

struct file_handle *lower_fdc_get_handle(int fd, int *mount_id)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	struct file_handle *small;

	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (lower_sys_name_to_handle_at(fd, "", fh, mount_id,
					AT_EMPTY_PATH) < 0) {
		free(fh);
		return NULL;
	}
	/* 8 bytes on ext4, not MAX_HANDLE_SZ: one per known inode */
	small = realloc(fh, sizeof(*fh) + fh->handle_bytes);
	if (small)
		fh = small;	/* else the larger block is still valid */
	return fh;
}

int lower_fdc_init(struct lower_fs *fs)
{
	const char *env = getenv("FSFILTER_FD_CACHE");
	struct statfs sfs;
	struct file_handle *fh;
	struct rlimit rl;
	int fd;

	pthread_mutex_init(&fs->fdc_lock, NULL);
	if (fs->opt.fd_cache) {
		fs->fdc_max = fs->opt.fd_cache;
	} else if (env && atoi(env) > 0) {
		/* tests of a mounted volume: every path on evicted nodes */
		fs->fdc_max = (size_t)atoi(env);
	} else {
		fs->fdc_max = FDC_MAX_DEFAULT;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur / 2 < fs->fdc_max)
			fs->fdc_max = rl.rlim_cur / 2;
		if (fs->fdc_max < 16)
			fs->fdc_max = 16;
	}
	/* probe with the root's own handle: does the file system have
	 * handles, and may we open them (CAP_DAC_READ_SEARCH)? It also
	 * gives the mount the handles resolve on. Otherwise every node
	 * keeps its fd, as before the cache. */
	fs->use_handles = false;
	fs->mount_fd = -1;
	if (lower_sys_fstatfs(fs->root.fd, &sfs) < 0)
		goto out;
	/* close(2) of a file of these calls no flush method (NFS, FUSE,
	 * CIFS have one: they write back or report errors at close) */
	fs->close_noop = sfs.f_type == EXT4_SUPER_MAGIC ||
			 sfs.f_type == XFS_SUPER_MAGIC ||
			 sfs.f_type == BTRFS_SUPER_MAGIC ||
			 sfs.f_type == TMPFS_MAGIC;
	if (sfs.f_type == FDC_FUSE_SUPER_MAGIC)
		goto out;
	/* open_by_handle_at's mount fd must not be O_PATH (EBADF) */
	fs->mount_fd = lower_sys_openat(fs->root.fd, ".",
					O_RDONLY | O_DIRECTORY, 0);
	fh = fs->mount_fd >= 0 ? lower_fdc_get_handle(fs->root.fd,
							   &fs->root_mount_id)
			       : NULL;
	if (fh) {
		fd = lower_sys_open_by_handle_at(fs->mount_fd, fh,
						 O_PATH | O_NOFOLLOW);
		if (fd >= 0) {
			lower_sys_close(fd);
			fs->use_handles = true;
		}
		free(fh);
	}
	if (!fs->use_handles && fs->mount_fd >= 0) {
		lower_sys_close(fs->mount_fd);
		fs->mount_fd = -1;
	}
out:
	fs->fdc_open = 1; /* the root's */
	return 0;
}

void lower_fdc_destroy(struct lower_fs *fs)
{
	if (fs->mount_fd >= 0)
		lower_sys_close(fs->mount_fd);
	pthread_mutex_destroy(&fs->fdc_lock);
}

void lower_fdc_take_handle(struct lower_fs *fs, struct lower_inode *n,
			   int fd)
{
	int mount_id;

	n->fh = NULL;
	if (!fs->use_handles)
		return;
	n->fh = lower_fdc_get_handle(fd, &mount_id);
	/* open_by_handle_at resolves on the root's mount: an inode of a
	 * mount below it keeps its fd */
	if (n->fh && mount_id != fs->root_mount_id) {
		free(n->fh);
		n->fh = NULL;
	}
}

static void lru_del_locked(struct lower_fs *fs, struct lower_inode *n)
{
	if (!n->on_lru)
		return;
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		fs->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		fs->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
	n->on_lru = false;
	fs->nlru--;
}

static void lru_add_locked(struct lower_fs *fs, struct lower_inode *n)
{
	n->lru_next = NULL;
	n->lru_prev = fs->lru_tail;
	if (fs->lru_tail)
		fs->lru_tail->lru_next = n;
	else
		fs->lru_head = n;
	fs->lru_tail = n;
	n->on_lru = true;
	fs->nlru++;
}

/* @n's fd became unused: keep it on the LRU (only nodes with a handle can
 * reopen) and evict the oldest beyond fdc_max. Closes outside the lock. */
static void release_locked_and_unlock(struct lower_fs *fs,
				      struct lower_inode *n)
{
	int victims[8];
	int nv = 0;

	if (n && n->fh && !n->fd_users && !n->fd_pins && n->fd >= 0 &&
	    !n->on_lru)
		lru_add_locked(fs, n);
	for (;;) {
		/* nlru counts the list, so the head is there; said for
		 * the analyser, which cannot know that */
		while (fs->nlru > fs->fdc_max && fs->lru_head && nv < 8) {
			struct lower_inode *v = fs->lru_head;

			lru_del_locked(fs, v);
			victims[nv++] = v->fd;
			v->fd = -1;
			fs->fdc_open--;
		}
		pthread_mutex_unlock(&fs->fdc_lock);
		for (int i = 0; i < nv; i++)
			lower_sys_close(victims[i]);
		if (nv < 8)
			return;
		nv = 0;
		pthread_mutex_lock(&fs->fdc_lock);
	}
}

void lower_fdc_adopt(struct lower_fs *fs, struct lower_inode *n)
{
	pthread_mutex_lock(&fs->fdc_lock);
	fs->fdc_open++;
	n->fd_users--;
	release_locked_and_unlock(fs, n);
}

bool lower_fdc_cached(struct lower_fs *fs, struct lower_inode *n)
{
	bool r;

	pthread_mutex_lock(&fs->fdc_lock);
	r = n->fd >= 0;
	pthread_mutex_unlock(&fs->fdc_lock);
	return r;
}

bool lower_fdc_offer(struct lower_fs *fs, struct lower_inode *n, int fd)
{
	pthread_mutex_lock(&fs->fdc_lock);
	if (n->fd >= 0 || !n->fh) {
		pthread_mutex_unlock(&fs->fdc_lock);
		return false;
	}
	/* no fd: no users, no pins; cached unused, like a reopened one */
	n->fd = fd;
	fs->fdc_open++;
	release_locked_and_unlock(fs, n);
	return true;
}

int lower_inode_fd(struct lower_fs *fs, struct lower_inode *n)
{
	int fd;

	pthread_mutex_lock(&fs->fdc_lock);
	if (n->fd >= 0) {
		lru_del_locked(fs, n);
		n->fd_users++;
		fd = n->fd;
		pthread_mutex_unlock(&fs->fdc_lock);
		return fd;
	}
	pthread_mutex_unlock(&fs->fdc_lock);
	if (!n->fh) /* cannot happen: such nodes keep their fd for life */
		return -ESTALE;

	/* evicted (only nodes with a handle are): reopen outside the lock */
	fd = lower_sys_open_by_handle_at(fs->mount_fd, n->fh,
					 O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&fs->fdc_lock);
	if (n->fd >= 0) {
		/* another thread reopened it meanwhile: use that one (it
		 * stays open: we hold a use) */
		int theirs = n->fd;

		lru_del_locked(fs, n);
		n->fd_users++;
		pthread_mutex_unlock(&fs->fdc_lock);
		lower_sys_close(fd);
		return theirs;
	}
	n->fd = fd;
	n->fd_users++;
	fs->fdc_open++;
	pthread_mutex_unlock(&fs->fdc_lock);
	return fd;
}

void lower_inode_fd_put(struct lower_fs *fs, struct lower_inode *n)
{
	pthread_mutex_lock(&fs->fdc_lock);
	n->fd_users--;
	release_locked_and_unlock(fs, n);
}

int lower_inode_pin(struct lower_fs *fs, struct lower_inode *n)
{
	int fd = lower_inode_fd(fs, n);

	if (fd < 0)
		return fd;
	pthread_mutex_lock(&fs->fdc_lock);
	n->fd_pins++;
	n->fd_users--;
	pthread_mutex_unlock(&fs->fdc_lock);
	return 0;
}

void lower_inode_unpin(struct lower_fs *fs, struct lower_inode *n)
{
	pthread_mutex_lock(&fs->fdc_lock);
	n->fd_pins--;
	release_locked_and_unlock(fs, n);
}

void lower_inode_pin_unlinked(struct lower_fs *fs, struct lower_inode *n)
{
	pthread_mutex_lock(&fs->fdc_lock);
	if (!n->unlinked_pin && n->fh) {
		n->unlinked_pin = true;
		n->fd_pins++;
	}
	pthread_mutex_unlock(&fs->fdc_lock);
}

void lower_fdc_forget(struct lower_fs *fs, struct lower_inode *n)
{
	int fd;

	pthread_mutex_lock(&fs->fdc_lock);
	lru_del_locked(fs, n);
	fd = n->fd;
	n->fd = -1;
	if (fd >= 0)
		fs->fdc_open--;
	pthread_mutex_unlock(&fs->fdc_lock);
	if (fd >= 0)
		lower_sys_close(fd);
	free(n->fh);
	n->fh = NULL;
}

uint64_t lower_fd_count(struct lower_fs *fs)
{
	uint64_t n;

	pthread_mutex_lock(&fs->fdc_lock);
	n = fs->fdc_open;
	pthread_mutex_unlock(&fs->fdc_lock);
	return n;
}
