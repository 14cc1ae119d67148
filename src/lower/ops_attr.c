/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attribute operations: getattr, setattr, readlink, statfs, access. */
#include "lower/lower_int.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

void lower_op_getattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	int ret;

	if (data->params.getattr.has_fh && data->params.getattr.fh) {
		struct lower_handle *h =
			lower_handle_get(data->params.getattr.fh);
		int fd = atomic_load_explicit(&h->fd, memory_order_acquire);

		if (fd >= 0)
			ret = lower_sys_fstatat(fd, "", &data->results.attr,
						AT_EMPTY_PATH);
		else	/* a deferred open (ops_file.c): the same inode */
			ret = lower_stat_inode(fs, h->node,
					       &data->results.attr);
	} else {
		ret = lower_stat_inode(fs, n, &data->results.attr);
	}
	data->results.attr_timeout =
		lower_timeout(fs, false, data->results.attr.st_dev);
	data->io_status.status = ret;
}

/* @nfd: @n's O_PATH fd (held by the caller), or -1 when @h is set */
static int set_mode(struct lower_fs *fs, struct lower_inode *n, int nfd,
		    struct lower_handle *h, mode_t mode)
{
	char name[LOWER_FDNAME_LEN];

	if (h) {
		int fd = lower_handle_fd(fs, h);

		return fd < 0 ? fd : lower_sys_fchmod(fd, mode & 07777);
	}
	/* as Linux: the mode of a symlink cannot be changed */
	if (S_ISLNK(n->type))
		return -EOPNOTSUPP;
	/* an O_PATH fd cannot fchmod; its /proc link can */
	return lower_sys_fchmodat(fs->proc_self_fd, lower_fd_name(nfd, name),
				  mode & 07777, 0);
}

static int set_size(struct lower_fs *fs, struct lower_inode *n,
		    struct lower_handle *h, off_t size)
{
	int fd, ret;

	if (h) {
		fd = lower_handle_fd(fs, h);
		return fd < 0 ? fd : lower_sys_ftruncate(fd, size);
	}
	/* truncate(2) without a handle: reopen the inode itself for writing
	 * (the daemon is root, so the mode does not stand in the way; the
	 * kernel has checked the requestor's permission) */
	fd = lower_reopen(fs, n, O_WRONLY);
	if (fd < 0)
		return fd;
	ret = lower_sys_ftruncate(fd, size);
	lower_sys_close(fd);
	return ret;
}

/* What the kernel does on a non-owner write or truncate: drop S_ISUID,
 * and S_ISGID when group-exec is set (without it, S_ISGID means mandatory
 * locking, not set-group-ID). Regular files only. */
static int kill_suidgid(struct lower_fs *fs, struct lower_inode *n, int nfd,
			struct lower_handle *h)
{
	struct stat st;
	mode_t kill = S_ISUID;
	int ret;

	if (h) {
		nfd = lower_handle_fd(fs, h);
		if (nfd < 0)
			return nfd;
	}
	ret = lower_sys_fstatat(nfd, "", &st,
				AT_EMPTY_PATH | (h ? 0 : AT_SYMLINK_NOFOLLOW));
	if (ret < 0 || !S_ISREG(st.st_mode))
		return ret;
	if (st.st_mode & S_IXGRP)
		kill |= S_ISGID;
	if (!(st.st_mode & kill))
		return 0;
	return set_mode(fs, n, nfd, h, st.st_mode & ~kill);
}

static int set_times(int nfd, const struct stat *attr, unsigned to_set)
{
	struct timespec ts[2];

	ts[0].tv_sec = 0;
	ts[1].tv_sec = 0;
	if (to_set & FLT_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FLT_SET_ATIME)
		ts[0] = attr->st_atim;
	else
		ts[0].tv_nsec = UTIME_OMIT;
	if (to_set & FLT_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FLT_SET_MTIME)
		ts[1] = attr->st_mtim;
	else
		ts[1].tv_nsec = UTIME_OMIT;
	/* works on O_PATH fds, symlinks included (probed on 6.18) */
	return lower_sys_utimensat(nfd, "", ts,
				   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

void lower_op_setattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	const struct stat *attr = &data->params.setattr.attr;
	unsigned to_set = data->params.setattr.to_set;
	struct lower_handle *h = NULL;
	int nfd, ret = 0;

	if ((to_set & FLT_SET_HAS_FH) && data->params.setattr.fh)
		h = lower_handle_get(data->params.setattr.fh);
	/* with a handle the node is pinned (fdcache.c): this cannot fail
	 * for a file that is open but unlinked */
	nfd = lower_inode_fd(fs, n);
	if (nfd < 0) {
		data->io_status.status = nfd;
		return;
	}

	/* owner before mode: chown clears S_ISUID/S_ISGID, and when the
	 * kernel sends both it wants the mode it sent to stick */
	if (to_set & (FLT_SET_UID | FLT_SET_GID)) {
		uid_t uid = (to_set & FLT_SET_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FLT_SET_GID) ? attr->st_gid : (gid_t)-1;

		ret = lower_sys_fchownat(nfd, "", uid, gid,
					 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (ret < 0)
			goto out;
	}
	if (to_set & FLT_SET_MODE) {
		ret = set_mode(fs, n, nfd, h, attr->st_mode);
		if (ret < 0)
			goto out;
	}
	if (to_set & FLT_SET_SIZE) {
		ret = set_size(fs, n, h, attr->st_size);
		if (ret < 0)
			goto out;
	}
	if ((to_set & FLT_SET_KILL_SUIDGID) && !(to_set & FLT_SET_MODE)) {
		ret = kill_suidgid(fs, n, nfd, h);
		if (ret < 0)
			goto out;
	}
	if (to_set & (FLT_SET_ATIME | FLT_SET_MTIME | FLT_SET_ATIME_NOW |
		      FLT_SET_MTIME_NOW)) {
		ret = set_times(nfd, attr, to_set);
		if (ret < 0)
			goto out;
	}
	/* FLT_SET_CTIME: the lower file system sets ctime itself on every
	 * change above; it cannot be set explicitly */
	ret = lower_sys_fstatat(nfd, "", &data->results.attr,
				AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	data->results.attr_timeout =
		lower_timeout(fs, false, data->results.attr.st_dev);
out:
	lower_inode_fd_put(fs, n);
	data->io_status.status = ret;
}

int lower_kill_suidgid(struct lower_fs *fs, struct lower_inode *n,
		       struct lower_handle *h)
{
	return kill_suidgid(fs, n, -1, h);
}

void lower_op_readlink(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	size_t size = PATH_MAX;
	char *buf = NULL;
	ssize_t len;
	int fd = lower_inode_fd(fs, n);

	if (fd < 0) {
		data->io_status.status = fd;
		return;
	}
	for (;;) {
		char *nb = realloc(buf, size + 1);

		if (!nb) {
			len = -ENOMEM;
			break;
		}
		buf = nb;
		len = lower_sys_readlinkat(fd, "", buf, size + 1);
		/* a full buffer may mean a truncated target: grow */
		if (len < 0 || (size_t)len <= size || size >= 1u << 20)
			break;
		size *= 2;
	}
	lower_inode_fd_put(fs, n);
	if (len < 0) {
		free(buf);
		data->io_status.status = (int)len;
		return;
	}
	buf[len < (ssize_t)size ? len : (ssize_t)size] = '\0';
	data->results.link = buf;
	data->io_status.status = 0;
}

void lower_op_statfs(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	int fd = lower_inode_fd(fs, n);

	if (fd < 0) {
		data->io_status.status = fd;
		return;
	}
	data->io_status.status = lower_sys_fstatvfs(fd, &data->results.statfs);
	lower_inode_fd_put(fs, n);
}

void lower_op_access(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char name[LOWER_FDNAME_LEN];
	int fd = lower_inode_fd(fs, n);

	if (fd < 0) {
		data->io_status.status = fd;
		return;
	}
	data->io_status.status =
		lower_sys_faccessat(fs->proc_self_fd, lower_fd_name(fd, name),
				    data->params.access.mask, 0);
	lower_inode_fd_put(fs, n);
}
