/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace operations: lookup, forget, mknod, mkdir, symlink, link,
 * unlink, rmdir, rename. All relative to the parent's O_PATH fd. */
#include "lower/lower_int.h"

#include <errno.h>
#include <stdio.h>

void lower_op_lookup(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent = lower_inode_get(fs, data->params.lookup.parent);
	uint64_t seq = lower_dirent_seq(fs);

	data->io_status.status = lower_lookup_name_at(
		fs, parent, -1, data->params.lookup.name, &data->results.entry);
	if (!data->io_status.status)
		lower_dirent_settle(fs, seq, &data->results.entry);
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
	if (lower_set_owner(fs, parent, n, &data->requestor) > 0)
		lower_stat_inode(fs, n, &e->attr);
	lower_new_timeouts(fs, e);
	return 0;
}

void lower_op_mknod(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent = lower_inode_get(fs, data->params.mknod.parent);
	const char *name = data->params.mknod.name;
	int dfd, ret;

	dfd = lower_inode_fd(fs, parent);
	if (dfd < 0) {
		data->io_status.status = dfd;
		return;
	}
	/* mknod makes fifos, sockets and device nodes alike on Linux */
	ret = lower_sys_mknodat(dfd, name,
				lower_umask_apply(data->params.mknod.mode,
						  data->requestor.umask),
				data->params.mknod.rdev);
	lower_inode_fd_put(fs, parent);
	if (ret == 0)
		ret = finish_new(fs, parent, name, data);
	data->io_status.status = ret;
}

void lower_op_mkdir(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent = lower_inode_get(fs, data->params.mkdir.parent);
	const char *name = data->params.mkdir.name;
	int dfd, ret;

	dfd = lower_inode_fd(fs, parent);
	if (dfd < 0) {
		data->io_status.status = dfd;
		return;
	}
	ret = lower_sys_mkdirat(dfd, name,
				lower_umask_apply(data->params.mkdir.mode,
						  data->requestor.umask));
	lower_inode_fd_put(fs, parent);
	if (ret == 0)
		ret = finish_new(fs, parent, name, data);
	data->io_status.status = ret;
}

void lower_op_symlink(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.symlink.parent);
	const char *name = data->params.symlink.name;
	int dfd, ret;

	dfd = lower_inode_fd(fs, parent);
	if (dfd < 0) {
		data->io_status.status = dfd;
		return;
	}
	ret = lower_sys_symlinkat(data->params.symlink.target, dfd, name);
	lower_inode_fd_put(fs, parent);
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
	int fd, dfd, ret;

	fd = lower_inode_fd(fs, n);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	dfd = lower_inode_fd(fs, newparent);
	if (dfd < 0) {
		ret = dfd;
		goto out_put;
	}
	/* AT_EMPTY_PATH links the inode we hold, not whatever its name
	 * means now; it needs CAP_DAC_READ_SEARCH, which a daemon in a
	 * container may lack (-ENOENT): then go through the /proc link,
	 * which lands on the inode itself, symlinks included */
	ret = lower_sys_linkat(fd, "", dfd, newname, AT_EMPTY_PATH);
	if (ret == -ENOENT) {
		char name[LOWER_FDNAME_LEN];

		ret = lower_sys_linkat(fs->proc_self_fd,
				       lower_fd_name(fd, name), dfd, newname,
				       AT_SYMLINK_FOLLOW);
	}
	lower_inode_fd_put(fs, newparent);
	if (ret == 0)
		ret = lower_sys_fstatat(fd, "", &st,
					AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (ret == 0) /* the same node: one more lookup reference */
		lower_inode_ref(fs, n, &st, &data->results.entry);
out_put:
	lower_inode_fd_put(fs, n);
out:
	data->io_status.status = ret;
}

/*
 * @name in @dfd is about to lose its name (unlink, rmdir, rename over
 * it). If the kernel knows its node, return it with a lookup reference and
 * its fd held across the call (else NULL): if that was the last name,
 * victim_release() pins the fd for the node's life, since the inode cannot
 * be reopened by handle any more (ESTALE) while the kernel may still use
 * it (an open file, a cwd, a node it caches with nlink 0).
 */
static struct lower_inode *victim_hold(struct lower_fs *fs, int dfd,
				       const char *name, struct stat *st)
{
	struct lower_inode *n;

	if (!fs->use_handles ||
	    lower_sys_fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	n = lower_inode_find_ref(fs, st->st_dev, st->st_ino);
	if (!n)
		return NULL;
	if (lower_inode_fd(fs, n) < 0) {
		lower_inode_unref(fs, n, 1);
		return NULL;
	}
	return n;
}

static void victim_release(struct lower_fs *fs, struct lower_inode *n,
			   const struct stat *st, int ret)
{
	if (!n)
		return;
	/* a regular file with several links keeps a name elsewhere (unless
	 * they go too: each unlink is seen, and the last one pins) */
	if (ret == 0 && (S_ISDIR(st->st_mode) || st->st_nlink <= 1))
		lower_inode_pin_unlinked(fs, n);
	lower_inode_fd_put(fs, n);
	lower_inode_unref(fs, n, 1);
}

static void do_unlink(struct lower_fs *fs, struct flt_callback_data *data,
		      int flags)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.unlink.parent);
	struct lower_inode *victim;
	struct stat st;
	int dfd, ret;

	dfd = lower_inode_fd(fs, parent);
	if (dfd < 0) {
		data->io_status.status = dfd;
		return;
	}
	victim = victim_hold(fs, dfd, data->params.unlink.name, &st);
	ret = lower_sys_unlinkat(dfd, data->params.unlink.name, flags);
	victim_release(fs, victim, &st, ret);
	lower_inode_fd_put(fs, parent);
	data->io_status.status = ret;
}

void lower_op_unlink(struct lower_fs *fs, struct flt_callback_data *data)
{
	do_unlink(fs, data, 0);
}

void lower_op_rmdir(struct lower_fs *fs, struct flt_callback_data *data)
{
	do_unlink(fs, data, AT_REMOVEDIR);
}

void lower_op_rename(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.rename.parent);
	struct lower_inode *newparent =
		lower_inode_get(fs, data->params.rename.newparent);
	struct lower_inode *victim = NULL;
	struct stat st;
	int dfd, ndfd, ret;

	dfd = lower_inode_fd(fs, parent);
	if (dfd < 0) {
		ret = dfd;
		goto out;
	}
	ndfd = lower_inode_fd(fs, newparent);
	if (ndfd < 0) {
		ret = ndfd;
		goto out_put;
	}
	/* an exchange leaves both names in place; otherwise an existing
	 * target loses its name */
	if (!(data->params.rename.flags & RENAME_EXCHANGE))
		victim = victim_hold(fs, ndfd, data->params.rename.newname,
				     &st);
	ret = lower_sys_renameat2(dfd, data->params.rename.name, ndfd,
				  data->params.rename.newname,
				  data->params.rename.flags);
	/* (a rename onto another link of the same inode changes nothing
	 * and may pin a node that keeps its names: harmless, the fd goes
	 * with the node) */
	victim_release(fs, victim, &st, ret);
	lower_inode_fd_put(fs, newparent);
out_put:
	lower_inode_fd_put(fs, parent);
out:
	data->io_status.status = ret;
}
