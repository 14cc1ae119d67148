/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace, attribute and xattr operations: FUSE request -> struct
 * flt_callback_data. Names are copied (see fuse_int.h); replies are sent
 * by reply.c when the operation completes. */
#include "fuse/fuse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void fe_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_LOOKUP, parent,
				      strlen(name) + 1);

	if (!r)
		return;
	r->data.params.lookup.parent = parent;
	r->data.params.lookup.name = fe_req_str(r, &pos, name);
	fe_req_dispatch(r);
}

void fe_forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* made without @req: FORGET takes no error reply */
	struct fe_req *r = fe_req_new(NULL, FLT_OP_FORGET, ino, 0);

	if (!r) {
		fuse_reply_none(req);
		return;
	}
	r->req = req;
	r->fe = fuse_req_userdata(req);
	fe_pt_forget(r->fe, ino);
	r->data.params.forget.nlookup = nlookup;
	fe_req_dispatch(r);		/* replies fuse_reply_none */
}

void fe_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets)
{
	struct fe *fe = fuse_req_userdata(req);

	for (size_t i = 0; i < count; i++) {
		fe_pt_forget(fe, forgets[i].ino);
		fe_forget(fe, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

void fe_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_GETATTR, ino, 0);

	if (!r)
		return;
	/* The kernel sends a handle only for regular files (fstat). */
	if (fi) {
		r->data.params.getattr.fh = fe_fh(fi);
		r->data.params.getattr.has_fh = 1;
	}
	fe_req_dispatch(r);
}

static unsigned map_to_set(int to_set)
{
	static const struct {
		int fuse;
		unsigned flt;
	} map[] = {
		{ FUSE_SET_ATTR_MODE, FLT_SET_MODE },
		{ FUSE_SET_ATTR_UID, FLT_SET_UID },
		{ FUSE_SET_ATTR_GID, FLT_SET_GID },
		{ FUSE_SET_ATTR_SIZE, FLT_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, FLT_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, FLT_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, FLT_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, FLT_SET_MTIME_NOW },
		{ FUSE_SET_ATTR_CTIME, FLT_SET_CTIME },
		{ FUSE_SET_ATTR_KILL_SUID, FLT_SET_KILL_SUIDGID },
		{ FUSE_SET_ATTR_KILL_SGID, FLT_SET_KILL_SUIDGID },
		{ FUSE_SET_ATTR_KILL_PRIV, FLT_SET_KILL_SUIDGID },
	};
	unsigned out = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			out |= map[i].flt;
	return out;
}

void fe_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		int to_set, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_SETATTR, ino, 0);

	if (!r)
		return;
	r->data.params.setattr.attr = *attr;
	r->data.params.setattr.to_set = map_to_set(to_set);
	/* ftruncate: the kernel passes the handle (regular files only) */
	if (fi) {
		r->data.params.setattr.to_set |= FLT_SET_HAS_FH;
		r->data.params.setattr.fh = fe_fh(fi);
	}
	fe_req_dispatch(r);
}

void fe_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_READLINK, ino, 0);

	if (r)
		fe_req_dispatch(r);
}

void fe_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_MKNOD, parent,
				      strlen(name) + 1);

	if (!r)
		return;
	r->data.params.mknod.parent = parent;
	r->data.params.mknod.name = fe_req_str(r, &pos, name);
	r->data.params.mknod.mode = mode;
	r->data.params.mknod.rdev = rdev;
	fe_req_dispatch(r);
}

void fe_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_MKDIR, parent,
				      strlen(name) + 1);

	if (!r)
		return;
	r->data.params.mkdir.parent = parent;
	r->data.params.mkdir.name = fe_req_str(r, &pos, name);
	r->data.params.mkdir.mode = mode;
	fe_req_dispatch(r);
}

static void remove_common(fuse_req_t req, enum flt_op op, fuse_ino_t parent,
			  const char *name)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, op, parent, strlen(name) + 1);

	if (!r)
		return;
	r->data.params.unlink.parent = parent;
	r->data.params.unlink.name = fe_req_str(r, &pos, name);
	fe_req_dispatch(r);
}

void fe_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_common(req, FLT_OP_UNLINK, parent, name);
}

void fe_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_common(req, FLT_OP_RMDIR, parent, name);
}

void fe_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_SYMLINK, parent,
				      strlen(link) + strlen(name) + 2);

	if (!r)
		return;
	r->data.params.symlink.target = fe_req_str(r, &pos, link);
	r->data.params.symlink.parent = parent;
	r->data.params.symlink.name = fe_req_str(r, &pos, name);
	fe_req_dispatch(r);
}

void fe_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_RENAME, parent,
				      strlen(name) + strlen(newname) + 2);

	if (!r)
		return;
	r->data.params.rename.parent = parent;
	r->data.params.rename.name = fe_req_str(r, &pos, name);
	r->data.params.rename.newparent = newparent;
	r->data.params.rename.newname = fe_req_str(r, &pos, newname);
	r->data.params.rename.flags = flags;
	fe_req_dispatch(r);
}

void fe_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_LINK, ino,
				      strlen(newname) + 1);

	if (!r)
		return;
	r->data.params.link.newparent = newparent;
	r->data.params.link.newname = fe_req_str(r, &pos, newname);
	fe_req_dispatch(r);
}

void fe_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_STATFS, ino, 0);

	if (r)
		fe_req_dispatch(r);
}

void fe_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_ACCESS, ino, 0);

	if (!r)
		return;
	r->data.params.access.mask = mask;
	fe_req_dispatch(r);
}

void fe_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_SETXATTR, ino,
				      strlen(name) + 1 + size);

	if (!r)
		return;
	r->data.params.setxattr.name = fe_req_str(r, &pos, name);
	/* the value is bytes, not a string (it may hold NULs) */
	memcpy(r->strings + pos, value, size);
	r->data.params.setxattr.value = r->strings + pos;
	r->data.params.setxattr.size = size;
	r->data.params.setxattr.flags = flags;
	fe_req_dispatch(r);
}

void fe_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_GETXATTR, ino,
				      strlen(name) + 1);

	if (!r)
		return;
	if (size) {
		r->buf = malloc(size);
		if (!r->buf) {
			fe_req_abort(r, ENOMEM);
			return;
		}
	}
	r->data.params.getxattr.name = fe_req_str(r, &pos, name);
	r->data.params.getxattr.buf = r->buf;
	r->data.params.getxattr.size = size;
	fe_req_dispatch(r);
}

void fe_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_LISTXATTR, ino, 0);

	if (!r)
		return;
	if (size) {
		r->buf = malloc(size);
		if (!r->buf) {
			fe_req_abort(r, ENOMEM);
			return;
		}
	}
	r->data.params.listxattr.buf = r->buf;
	r->data.params.listxattr.size = size;
	fe_req_dispatch(r);
}

void fe_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_REMOVEXATTR, ino,
				      strlen(name) + 1);

	if (!r)
		return;
	r->data.params.removexattr.name = fe_req_str(r, &pos, name);
	fe_req_dispatch(r);
}
