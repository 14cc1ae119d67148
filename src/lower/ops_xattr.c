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

void lower_op_getxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];
	ssize_t r;

	r = lower_sys_getxattr(lower_proc_path(n->fd, path),
			       data->params.getxattr.name,
			       data->params.getxattr.size ?
				       data->params.getxattr.buf : NULL,
			       data->params.getxattr.size);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_listxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];
	ssize_t r;

	r = lower_sys_listxattr(lower_proc_path(n->fd, path),
				data->params.listxattr.size ?
					data->params.listxattr.buf : NULL,
				data->params.listxattr.size);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_setxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];

	data->io_status.status = lower_sys_setxattr(
		lower_proc_path(n->fd, path), data->params.setxattr.name,
		data->params.setxattr.value, data->params.setxattr.size,
		data->params.setxattr.flags);
}

void lower_op_removexattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char path[LOWER_PROCPATH_LEN];

	data->io_status.status = lower_sys_removexattr(
		lower_proc_path(n->fd, path), data->params.removexattr.name);
}
