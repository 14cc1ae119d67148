/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Extended attributes, through the /proc/self/fd/N magic link of the
 * inode's O_PATH fd: the f*xattr calls refuse O_PATH fds (EBADF), and so
 * do the *xattrat syscalls of 6.13+ with AT_EMPTY_PATH (probed on 6.18).
 *
 * The link is followed from fs->proc_self_fd with getxattrat(proc_self_fd,
 * "N") & co.: one path component. The path calls on "/proc/self/fd/N"
 * walk four and the "self" link, and cost twice as much (3.2 against
 * 6.1 us a call here): an `ls -l` sends two GETXATTRs per entry. Whether
 * the *xattrat calls work is asked once, at lower_open (lower_xattrat_probe):
 * a kernel before 6.13 answers ENOSYS, and a seccomp filter written before
 * them (a container runtime's, systemd's SystemCallFilter=) answers EPERM
 * or whatever errno it was given, so the path calls are used from then on.
 *
 * Following the magic link lands on the inode itself and goes no further,
 * even when that inode is a symlink (probed). So symlinks get exactly what
 * Linux gives them natively: user.* is EPERM to set and ENODATA to get,
 * trusted.* and security.* work.
 *
 * Size 0 asks for the size needed, returned in io_status.information.
 */
#include "lower/lower_int.h"

#include <errno.h>

enum xop { XGET, XSET, XLIST, XREMOVE };

struct xcall {
	enum xop op;
	const char *name;	/* all but XLIST */
	void *buf;		/* XGET, XLIST (NULL: the size) and XSET */
	size_t size;
	int flags;		/* XSET */
};

static ssize_t call_at(struct lower_fs *fs, const char *fdname,
		       const struct xcall *x)
{
	int dfd = fs->proc_self_fd;

	switch (x->op) {
	case XGET:
		return lower_sys_getxattrat(dfd, fdname, x->name, x->buf,
					    x->size);
	case XSET:
		return lower_sys_setxattrat(dfd, fdname, x->name, x->buf,
					    x->size, x->flags);
	case XLIST:
		return lower_sys_listxattrat(dfd, fdname, x->buf, x->size);
	case XREMOVE:
		return lower_sys_removexattrat(dfd, fdname, x->name);
	}
	return -EINVAL;
}

static ssize_t call_path(const char *path, const struct xcall *x)
{
	switch (x->op) {
	case XGET:
		return lower_sys_getxattr(path, x->name, x->buf, x->size);
	case XSET:
		return lower_sys_setxattr(path, x->name, x->buf, x->size,
					  x->flags);
	case XLIST:
		return lower_sys_listxattr(path, x->buf, x->size);
	case XREMOVE:
		return lower_sys_removexattr(path, x->name);
	}
	return -EINVAL;
}

/* ENOSYS (no such syscall), and EPERM and EINVAL, which a working
 * getxattrat or listxattrat of a name in the user namespace on a directory
 * does not give (a seccomp filter's usual errnos): the *xattrat calls are
 * not for us. ENODATA, EOPNOTSUPP and the like are answers of the call. */
bool lower_xattrat_probe(struct lower_fs *fs)
{
	static const struct xcall probes[] = {
		{ .op = XGET, .name = "user.fsfilter.probe" },
		{ .op = XLIST },
	};
	char fdname[LOWER_FDNAME_LEN];

	lower_fd_name(fs->root.fd, fdname);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		ssize_t r = call_at(fs, fdname, &probes[i]);

		if (r == -ENOSYS || r == -EPERM || r == -EINVAL)
			return false;
	}
	return true;
}

/* @x on the node of @data, into @data->io_status. */
static void xattr_op(struct lower_fs *fs, struct flt_callback_data *data,
		     const struct xcall *x)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	char fdname[LOWER_FDNAME_LEN], path[LOWER_PROCPATH_LEN];
	ssize_t r;
	int fd = lower_inode_fd(fs, n);

	if (fd < 0) {
		data->io_status.status = fd;
		return;
	}
	if (fs->xattrat)
		r = call_at(fs, lower_fd_name(fd, fdname), x);
	else
		r = call_path(lower_proc_path(fd, path), x);
	lower_inode_fd_put(fs, n);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_getxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	size_t size = data->params.getxattr.size;

	xattr_op(fs, data, &(struct xcall){
		.op = XGET, .name = data->params.getxattr.name,
		.buf = size ? data->params.getxattr.buf : NULL,
		.size = size });
}

void lower_op_listxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	size_t size = data->params.listxattr.size;

	xattr_op(fs, data, &(struct xcall){
		.op = XLIST, .buf = size ? data->params.listxattr.buf : NULL,
		.size = size });
}

void lower_op_setxattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	xattr_op(fs, data, &(struct xcall){
		.op = XSET, .name = data->params.setxattr.name,
		.buf = (void *)data->params.setxattr.value,
		.size = data->params.setxattr.size,
		.flags = data->params.setxattr.flags });
}

void lower_op_removexattr(struct lower_fs *fs, struct flt_callback_data *data)
{
	xattr_op(fs, data, &(struct xcall){
		.op = XREMOVE, .name = data->params.removexattr.name });
}

/*
 * Does the lower root store POSIX ACLs? A file system mounted noacl, or
 * one without them (sshfs, vfat), answers EOPNOTSUPP for the ACL names;
 * one that has them ENODATA or the ACL. Asked once at mount: the front
 * end negotiates FUSE_POSIX_ACL only if so (fuse_frontend_options).
 */
bool lower_posix_acl(struct lower_fs *fs)
{
	struct flt_callback_data d = { .ino = FLT_ROOT_INO };

	xattr_op(fs, &d, &(struct xcall){
		.op = XGET, .name = "system.posix_acl_access" });
	return d.io_status.status != -EOPNOTSUPP &&
	       d.io_status.status != -ENOSYS;
}
