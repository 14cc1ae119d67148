/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace operations: lookup, forget, mknod, mkdir, symlink, link,
 * unlink, rmdir, rename. All relative to the parent's O_PATH fd. */
#include "lower/lower_int.h"

#include <errno.h>
#include <stdio.h>

void lower_op_lookup(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent = lower_inode_get(fs, data->params.lookup.parent);

	data->io_status.status = lower_lookup_name(
		fs, parent, data->params.lookup.name, &data->results.entry);
}

void lower_op_forget(struct lower_fs *fs, struct flt_callback_data *data)
{
	lower_inode_unref(fs, lower_inode_get(fs, data->ino),
			  data->params.forget.nlookup);
	data->io_status.status = 0;
}

/*
 * The second half of mknod/mkdir/symlink: the object @name now exists in
 * @parent; take a node for it, give it the requestor's ownership, and
 * report its attributes. An ownership failure is not reported: a lower
 * file system that cannot store owners (vfat) behaves the same natively.
 */
static int finish_new(struct lower_fs *fs, struct lower_inode *parent,
		      const char *name, struct flt_callback_data *data)
{
	struct flt_entry *e = &data->results.entry;
	struct lower_inode *n;
	int ret;

	ret = lower_lookup_name(fs, parent, name, e);
	if (ret < 0)
		return ret;
	n = lower_inode_get(fs, e->ino);
	if (lower_set_owner(fs, parent, n, &data->requestor) == 0)
		lower_stat_inode(n, &e->attr);
	return 0;
}

void lower_op_mknod(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent = lower_inode_get(fs, data->params.mknod.parent);
	const char *name = data->params.mknod.name;
	int ret;

	/* mknod makes fifos, sockets and device nodes alike on Linux */
	ret = lower_sys_mknodat(parent->fd, name, data->params.mknod.mode,
				data->params.mknod.rdev);
	if (ret == 0)
		ret = finish_new(fs, parent, name, data);
	data->io_status.status = ret;
}

void lower_op_mkdir(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent = lower_inode_get(fs, data->params.mkdir.parent);
	const char *name = data->params.mkdir.name;
	int ret;

	ret = lower_sys_mkdirat(parent->fd, name, data->params.mkdir.mode);
	if (ret == 0)
		ret = finish_new(fs, parent, name, data);
	data->io_status.status = ret;
}

void lower_op_symlink(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.symlink.parent);
	const char *name = data->params.symlink.name;
	int ret;

	ret = lower_sys_symlinkat(data->params.symlink.target, parent->fd,
				  name);
	if (ret == 0)
		ret = finish_new(fs, parent, name, data);
	data->io_status.status = ret;
}

void lower_op_link(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	struct lower_inode *newparent =
		lower_inode_get(fs, data->params.link.newparent);
	const char *newname = data->params.link.newname;
	struct stat st;
	int ret;

	/* AT_EMPTY_PATH links the inode we hold, not whatever its name
	 * means now; it needs CAP_DAC_READ_SEARCH, which a daemon in a
	 * container may lack (-ENOENT): then go through the /proc link,
	 * which lands on the inode itself, symlinks included */
	ret = lower_sys_linkat(n->fd, "", newparent->fd, newname,
			       AT_EMPTY_PATH);
	if (ret == -ENOENT) {
		char name[LOWER_FDNAME_LEN];

		ret = lower_sys_linkat(fs->proc_self_fd,
				       lower_fd_name(n->fd, name),
				       newparent->fd, newname,
				       AT_SYMLINK_FOLLOW);
	}
	if (ret == 0)
		ret = lower_stat_inode(n, &st);
	if (ret == 0) /* the same node: one more lookup reference */
		lower_inode_ref(fs, n, &st, &data->results.entry);
	data->io_status.status = ret;
}

void lower_op_unlink(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.unlink.parent);

	data->io_status.status =
		lower_sys_unlinkat(parent->fd, data->params.unlink.name, 0);
}

void lower_op_rmdir(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.unlink.parent);

	data->io_status.status = lower_sys_unlinkat(
		parent->fd, data->params.unlink.name, AT_REMOVEDIR);
}

void lower_op_rename(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.rename.parent);
	struct lower_inode *newparent =
		lower_inode_get(fs, data->params.rename.newparent);

	data->io_status.status = lower_sys_renameat2(
		parent->fd, data->params.rename.name, newparent->fd,
		data->params.rename.newname, data->params.rename.flags);
}
