/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the operations: /proc/self/fd names, reopening an
 * inode for I/O, and the ownership of new objects. */
#include "lower/lower_int.h"

#include <string.h>

/* Decimal digits of @fd (>= 0) at @p, NUL-terminated: no snprintf on the
 * path of every xattr call. */
static char *put_decimal(char *p, int fd)
{
	char tmp[12];
	int i = 0;

	do
		tmp[i++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0);
	while (i)
		*p++ = tmp[--i];
	*p = '\0';
	return p;
}

const char *lower_fd_name(int fd, char *buf)
{
	put_decimal(buf, fd);
	return buf;
}

const char *lower_proc_path(int fd, char *buf)
{
	static const char prefix[] = "/proc/self/fd/";

	memcpy(buf, prefix, sizeof(prefix) - 1);
	put_decimal(buf + sizeof(prefix) - 1, fd);
	return buf;
}

int lower_reopen(struct lower_fs *fs, struct lower_inode *n, int flags)
{
	char name[LOWER_FDNAME_LEN];
	int fd, ret;

	/* O_NOFOLLOW would stop at the /proc magic link itself; following
	 * it lands on our inode (even when it has no name any more) */
	flags &= ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY);
	fd = lower_inode_fd(fs, n);
	if (fd < 0)
		return fd;
	ret = lower_sys_openat(fs->proc_self_fd, lower_fd_name(fd, name),
			       flags, 0);
	lower_inode_fd_put(fs, n);
	return ret;
}

int lower_stat_inode(struct lower_fs *fs, struct lower_inode *n,
		     struct stat *st)
{
	int fd = lower_inode_fd(fs, n), ret;

	if (fd < 0)
		return fd;
	ret = lower_sys_fstatat(fd, "", st,
				AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	lower_inode_fd_put(fs, n);
	return ret;
}

int lower_set_owner(struct lower_fs *fs, struct lower_inode *parent,
		    struct lower_inode *n, const struct flt_requestor *req)
{
	struct stat pst, st;
	gid_t gid = req->gid;
	int fd, ret;

	/* The daemon runs as root, so the lower FS made the object root's;
	 * a set-group-ID parent already gave it the parent's group, which
	 * is what the kernel would have done for the requestor too. We do
	 * not impersonate with setfsuid: that loses supplementary groups,
	 * and the kernel has already checked permission. A root requestor
	 * of group 0 gets what we made either way: no stat of the parent
	 * (a create in a metadata storm paid one for nothing). */
	if (req->uid == 0 && req->gid == 0)
		return 0;
	ret = lower_stat_inode(fs, parent, &pst);
	if (ret < 0)
		return ret;
	if (pst.st_mode & S_ISGID)
		gid = (gid_t)-1;
	if (req->uid == 0 && (gid == 0 || gid == (gid_t)-1))
		return 0;
	fd = lower_inode_fd(fs, n);
	if (fd < 0)
		return fd;
	ret = lower_sys_fstatat(fd, "", &st,
				AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (ret < 0)
		goto out;
	ret = lower_sys_fchownat(fd, "", req->uid, gid,
				 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (ret < 0)
		goto out;
	/* chown clears S_ISUID/S_ISGID of non-directories even for root;
	 * the creator asked for them (the kernel already stripped what it
	 * had to), so put them back */
	if ((st.st_mode & (S_ISUID | S_ISGID)) && !S_ISLNK(st.st_mode) &&
	    !S_ISDIR(st.st_mode)) {
		char name[LOWER_FDNAME_LEN];

		lower_sys_fchmodat(fs->proc_self_fd, lower_fd_name(fd, name),
				   st.st_mode & 07777, 0);
	}
	ret = 1;	/* the owner changed: the caller stats again */
out:
	lower_inode_fd_put(fs, n);
	return ret;
}
