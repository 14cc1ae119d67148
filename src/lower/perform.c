/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lower_perform: the bottom of every volume's stack. One switch, so an
 * operation code without a case is a compiler warning (-Wswitch). */
#include "lower/lower_int.h"

#include <errno.h>

void lower_perform(void *ctx, struct flt_callback_data *data)
{
	struct lower_fs *fs = ctx;

	data->io_status.status = 0;
	data->io_status.information = 0;
	switch (data->op) {
	case FLT_OP_LOOKUP: lower_op_lookup(fs, data); break;
	case FLT_OP_FORGET: lower_op_forget(fs, data); break;
	case FLT_OP_GETATTR: lower_op_getattr(fs, data); break;
	case FLT_OP_SETATTR: lower_op_setattr(fs, data); break;
	case FLT_OP_READLINK: lower_op_readlink(fs, data); break;
	case FLT_OP_MKNOD: lower_op_mknod(fs, data); break;
	case FLT_OP_MKDIR: lower_op_mkdir(fs, data); break;
	case FLT_OP_UNLINK: lower_op_unlink(fs, data); break;
	case FLT_OP_RMDIR: lower_op_rmdir(fs, data); break;
	case FLT_OP_SYMLINK: lower_op_symlink(fs, data); break;
	case FLT_OP_RENAME: lower_op_rename(fs, data); break;
	case FLT_OP_LINK: lower_op_link(fs, data); break;
	case FLT_OP_OPEN: lower_op_open(fs, data); break;
	case FLT_OP_READ: lower_op_read(fs, data); break;
	case FLT_OP_WRITE: lower_op_write(fs, data); break;
	case FLT_OP_FLUSH: lower_op_flush(fs, data); break;
	case FLT_OP_RELEASE: lower_op_release(fs, data); break;
	case FLT_OP_FSYNC: lower_op_fsync(fs, data); break;
	case FLT_OP_OPENDIR: lower_op_opendir(fs, data); break;
	case FLT_OP_READDIR: lower_op_readdir(fs, data); break;
	case FLT_OP_RELEASEDIR: lower_op_releasedir(fs, data); break;
	case FLT_OP_FSYNCDIR: lower_op_fsyncdir(fs, data); break;
	case FLT_OP_STATFS: lower_op_statfs(fs, data); break;
	case FLT_OP_SETXATTR: lower_op_setxattr(fs, data); break;
	case FLT_OP_GETXATTR: lower_op_getxattr(fs, data); break;
	case FLT_OP_LISTXATTR: lower_op_listxattr(fs, data); break;
	case FLT_OP_REMOVEXATTR: lower_op_removexattr(fs, data); break;
	case FLT_OP_ACCESS: lower_op_access(fs, data); break;
	case FLT_OP_CREATE: lower_op_create(fs, data); break;
	case FLT_OP_FALLOCATE: lower_op_fallocate(fs, data); break;
	case FLT_OP_COPY_FILE_RANGE: lower_op_copy_file_range(fs, data); break;
	case FLT_OP_LSEEK: lower_op_lseek(fs, data); break;
	case FLT_OP_COUNT:
	default:
		data->io_status.status = -ENOSYS;
		break;
	}
}
