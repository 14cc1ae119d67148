/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Extended attributes, through the /proc/self/fd/N path of the inode's
 * O_PATH fd: the f*xattr calls refuse O_PATH fds (EBADF), and so do the
 * *xattrat syscalls of 6.13+ with AT_EMPTY_PATH (probed on 6.18).
 *
 * The path-following calls (getxattr, not lgetxattr) are used for every
 * inode type: following the magic link lands on the inode itself and goes
 * no further, even when that inode is a symlink (probed). So symlinks get
 * exactly what Linux gives them natively: user.* is EPERM to set and
 * ENODATA to get, trusted.* and security.* work.
 *
 * Size 0 asks for the size needed, returned in io_status.information.
 */
#include "lower/lower_int.h"

/* The /proc path of @n's fd, held until put_path (fdcache.c). */
static const char *get_path(struct lower_fs *fs, struct lower_inode *n,
			    char *buf, int *err)
{
	int fd = lower_inode_fd(fs, n);

	*err = fd < 0 ? fd : 0;
	return fd < 0 ? NULL : lower_proc_path(fd, buf);
}

void lower_op_getxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];
	const char *p;
	ssize_t r;
	int err;

	p = get_path(fs, n, path, &err);
	if (!p) {
		data->io_status.status = err;
		return;
	}
	r = lower_sys_getxattr(p,
			       data->params.getxattr.name,
			       data->params.getxattr.size ?
				       data->params.getxattr.buf : NULL,
			       data->params.getxattr.size);
	lower_inode_fd_put(fs, n);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_listxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];
	const char *p;
	ssize_t r;
	int err;

	p = get_path(fs, n, path, &err);
	if (!p) {
		data->io_status.status = err;
		return;
	}
	r = lower_sys_listxattr(p,
				data->params.listxattr.size ?
					data->params.listxattr.buf : NULL,
				data->params.listxattr.size);
	lower_inode_fd_put(fs, n);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_setxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];
	const char *p;
	int err;

	p = get_path(fs, n, path, &err);
	if (!p) {
		data->io_status.status = err;
		return;
	}
	data->io_status.status = lower_sys_setxattr(
		p, data->params.setxattr.name, data->params.setxattr.value,
		data->params.setxattr.size, data->params.setxattr.flags);
	lower_inode_fd_put(fs, n);
}

void lower_op_removexattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];
	const char *p;
	int err;

	p = get_path(fs, n, path, &err);
	if (!p) {
		data->io_status.status = err;
		return;
	}
	data->io_status.status =
		lower_sys_removexattr(p, data->params.removexattr.name);
	lower_inode_fd_put(fs, n);
}
