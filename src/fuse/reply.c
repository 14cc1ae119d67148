/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Answering the kernel from a completed operation: io_status and results
 * of struct flt_callback_data become the FUSE reply. The sign of errors
 * flips here, and only here. */
#include "fuse/fuse_int.h"

#include <errno.h>
#include <string.h>

void fe_entry_param(const struct flt_entry *in, struct fuse_entry_param *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = in->ino;
	out->generation = in->generation;
	out->attr = in->attr;
	out->attr_timeout = in->attr_timeout;
	out->entry_timeout = in->entry_timeout;
}

/* lookup, mknod, mkdir, symlink, link */
static void reply_entry(struct fe_req *r)
{
	struct fuse_entry_param e;

	fe_entry_param(&r->data.results.entry, &e);
	/* A reply the kernel did not take (the caller was interrupted and
	 * gave up) leaves our lookup reference without an owner. */
	if (fuse_reply_entry(r->req, &e) && e.ino)
		fe_forget(r->fe, e.ino, 1);
}

static void fill_open(struct fe_req *r, struct fuse_file_info *fi)
{
	const struct flt_open_result *o = &r->data.results.open;

	memset(fi, 0, sizeof(*fi));
	fi->direct_io = o->direct_io;
	fi->keep_cache = o->keep_cache;
	fi->nonseekable = o->nonseekable;
	fi->cache_readdir = o->cache_readdir;
	if (r->dir) {
		fi->fh = o->fh;
	} else {
		fi->noflush = o->no_flush;
		r->handle->fh = o->fh;
		r->handle->direct_io = o->direct_io;
		fi->fh = (uintptr_t)r->handle;
	}
}

/* open, opendir */
static void reply_open(struct fe_req *r)
{
	struct fuse_file_info fi;
	int32_t backing_id = 0;
	int err;

	fill_open(r, &fi);
	if (!r->dir) {
		backing_id = fe_pt_open(r->fe, r->handle, r->data.ino,
					&r->data.results.open);
		if (r->handle->drop_cache)
			fi.keep_cache = 0;
		/* before the reply: RELEASE may follow it at once */
		fe_handle_track(r->fe, r->handle);
	}
	err = backing_id ? fe_pt_reply_open(r->req, &fi, backing_id)
			 : fuse_reply_open(r->req, &fi);
	if (err) {
		/* no RELEASE will ever come for it */
		if (!r->dir) {
			fe_handle_untrack(r->fe, r->handle);
			fe_pt_release(r->fe, r->handle);
		}
		fe_release_lost(r->fe, r->data.ino, r->data.results.open.fh,
				r->dir);
		return;
	}
	r->handle = NULL;	/* the kernel owns it until RELEASE */
}

static void reply_create(struct fe_req *r)
{
	struct fuse_entry_param e;
	struct fuse_file_info fi;
	int32_t backing_id;
	int err;

	fe_entry_param(&r->data.results.entry, &e);
	fill_open(r, &fi);
	backing_id = fe_pt_open(r->fe, r->handle, e.ino,
				&r->data.results.open);
	if (r->handle->drop_cache)
		fi.keep_cache = 0;
	fe_handle_track(r->fe, r->handle);
	err = backing_id ? fe_pt_reply_create(r->req, &e, &fi, backing_id)
			 : fuse_reply_create(r->req, &e, &fi);
	if (err) {
		fe_handle_untrack(r->fe, r->handle);
		fe_pt_release(r->fe, r->handle);
		fe_release_lost(r->fe, e.ino, r->data.results.open.fh, false);
		if (e.ino)
			fe_forget(r->fe, e.ino, 1);
		return;
	}
	r->handle = NULL;
}

/* getxattr, listxattr: size 0 asks for the size only */
static void reply_xattr(struct fe_req *r, const void *buf, size_t asked)
{
	uint64_t n = r->data.io_status.information;

	if (!asked)
		fuse_reply_xattr(r->req, n);
	else if (n > asked)
		fuse_reply_err(r->req, ERANGE);
	else
		fuse_reply_buf(r->req, buf, n);
}

/*
 * With FUSE_POSIX_ACL the kernel asks a file's ACL to check access, and
 * an error other than ENODATA fails the check itself (fs/fuse/acl.c): a
 * file on a submount of the lower directory without ACLs (noacl, sshfs)
 * would be unusable. EOPNOTSUPP for an ACL name means "no ACL" there.
 */
static int acl_errno(const struct fe_req *r)
{
	const struct flt_callback_data *d = &r->data;

	if (d->io_status.status == -EOPNOTSUPP && r->fe->posix_acl &&
	    d->op == FLT_OP_GETXATTR &&
	    (!strcmp(d->params.getxattr.name, "system.posix_acl_access") ||
	     !strcmp(d->params.getxattr.name, "system.posix_acl_default")))
		return ENODATA;
	return -d->io_status.status;
}

void fe_reply(struct fe_req *r)
{
	struct flt_callback_data *d = &r->data;
	fuse_req_t req = r->req;

	if (d->op == FLT_OP_FORGET) {
		fuse_reply_none(req);	/* FORGET has no reply, not even
					   an error */
		return;
	}
	if (d->io_status.status > 0 || d->io_status.status < -4095) {
		/* a filter set something that is not an errno */
		fuse_reply_err(req, EIO);
		return;
	}
	if (d->op == FLT_OP_READDIR) {
		fe_reply_readdir(r);	/* drops unused entries' references */
		return;
	}
	if (d->io_status.status) {
		fuse_reply_err(req, acl_errno(r));
		return;
	}

	switch (d->op) {
	case FLT_OP_LOOKUP:
	case FLT_OP_MKNOD:
	case FLT_OP_MKDIR:
	case FLT_OP_SYMLINK:
	case FLT_OP_LINK:
		reply_entry(r);
		break;
	case FLT_OP_GETATTR:
	case FLT_OP_SETATTR:
		fuse_reply_attr(req, &d->results.attr, d->results.attr_timeout);
		break;
	case FLT_OP_READLINK:
		fuse_reply_readlink(req, d->results.link ? d->results.link
							 : "");
		break;
	case FLT_OP_OPEN:
	case FLT_OP_OPENDIR:
		reply_open(r);
		break;
	case FLT_OP_CREATE:
		reply_create(r);
		break;
	case FLT_OP_READ: {
		uint64_t n = d->io_status.information;

		if (n > d->params.read.size)
			n = d->params.read.size;
		/* a filter may have swapped the buffer (dirty params) */
		fuse_reply_buf(req, d->params.read.buf, n);
		break;
	}
	case FLT_OP_WRITE:
	case FLT_OP_COPY_FILE_RANGE:
		fuse_reply_write(req, d->io_status.information);
		break;
	case FLT_OP_STATFS:
		fuse_reply_statfs(req, &d->results.statfs);
		break;
	case FLT_OP_GETXATTR:
		reply_xattr(r, d->params.getxattr.buf,
			    d->params.getxattr.size);
		break;
	case FLT_OP_LISTXATTR:
		reply_xattr(r, d->params.listxattr.buf,
			    d->params.listxattr.size);
		break;
	case FLT_OP_LSEEK:
		fuse_reply_lseek(req, d->results.offset);
		break;
	default:
		/* unlink, rmdir, rename, flush, release, fsync, releasedir,
		 * fsyncdir, setxattr, removexattr, access, fallocate */
		fuse_reply_err(req, 0);
		break;
	}
}
