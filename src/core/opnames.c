/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fsfilter/filter.h>

static const char *const op_names[FLT_OP_COUNT] = {
	[FLT_OP_LOOKUP] = "lookup",
	[FLT_OP_FORGET] = "forget",
	[FLT_OP_GETATTR] = "getattr",
	[FLT_OP_SETATTR] = "setattr",
	[FLT_OP_READLINK] = "readlink",
	[FLT_OP_MKNOD] = "mknod",
	[FLT_OP_MKDIR] = "mkdir",
	[FLT_OP_UNLINK] = "unlink",
	[FLT_OP_RMDIR] = "rmdir",
	[FLT_OP_SYMLINK] = "symlink",
	[FLT_OP_RENAME] = "rename",
	[FLT_OP_LINK] = "link",
	[FLT_OP_OPEN] = "open",
	[FLT_OP_READ] = "read",
	[FLT_OP_WRITE] = "write",
	[FLT_OP_FLUSH] = "flush",
	[FLT_OP_RELEASE] = "release",
	[FLT_OP_FSYNC] = "fsync",
	[FLT_OP_OPENDIR] = "opendir",
	[FLT_OP_READDIR] = "readdir",
	[FLT_OP_RELEASEDIR] = "releasedir",
	[FLT_OP_FSYNCDIR] = "fsyncdir",
	[FLT_OP_STATFS] = "statfs",
	[FLT_OP_SETXATTR] = "setxattr",
	[FLT_OP_GETXATTR] = "getxattr",
	[FLT_OP_LISTXATTR] = "listxattr",
	[FLT_OP_REMOVEXATTR] = "removexattr",
	[FLT_OP_ACCESS] = "access",
	[FLT_OP_CREATE] = "create",
	[FLT_OP_FALLOCATE] = "fallocate",
	[FLT_OP_COPY_FILE_RANGE] = "copy_file_range",
	[FLT_OP_LSEEK] = "lseek",
};

const char *flt_op_name(enum flt_op op)
{
	if ((unsigned)op >= FLT_OP_COUNT || !op_names[op])
		return "?";
	return op_names[op];
}
