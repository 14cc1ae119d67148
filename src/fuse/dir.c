/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directories: opendir, readdir/readdirplus (packing struct flt_dirents
 * into the kernel's buffer), releasedir, fsyncdir. */
#include "fuse/fuse_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Every readdirplus entry with entry.ino != 0 carries one lookup reference
 * that the kernel takes over only if the entry reaches it. The kernel
 * ignores the entry part of "." and ".." (it does not link them), so their
 * references are dropped here as well, as are those of entries that did
 * not fit and of a reply the kernel refused.
 */
static void forget_from(struct fe_req *r, size_t from)
{
	struct flt_dirents *d = &r->data.results.dirents;

	if (!r->data.params.readdir.plus)
		return;
	for (size_t i = from; i < d->n; i++) {
		struct flt_dirent *e = &d->v[i];

		if (e->entry.ino)
			fe_forget(r->fe, e->entry.ino, 1);
	}
}

void fe_reply_readdir(struct fe_req *r)
{
	struct flt_callback_data *d = &r->data;
	struct flt_dirents *de = &d->results.dirents;
	size_t size = d->params.readdir.size, pos = 0, i;
	bool plus = d->params.readdir.plus;
	char *buf;

	if (d->io_status.status) {
		forget_from(r, 0);
		fuse_reply_err(r->req, -d->io_status.status);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		forget_from(r, 0);
		fuse_reply_err(r->req, ENOMEM);
		return;
	}
	for (i = 0; i < de->n; i++) {
		struct flt_dirent *e = &de->v[i];
		size_t need;

		if (plus) {
			struct fuse_entry_param ep;

			if (e->entry.ino && is_dot_or_dotdot(e->name)) {
				fe_forget(r->fe, e->entry.ino, 1);
				e->entry.ino = 0;
			}
			fe_entry_param(&e->entry, &ep);
			if (!ep.ino) {
				/* name only: the kernel takes the inode
				 * number and type from attr */
				memset(&ep, 0, sizeof(ep));
				ep.attr.st_mode = (mode_t)e->type << 12;
			}
			if (!ep.attr.st_ino)
				ep.attr.st_ino = e->ino;
			need = fuse_add_direntry_plus(r->req, buf + pos,
						      size - pos, e->name, &ep,
						      e->next_off);
		} else {
			struct stat st;

			memset(&st, 0, sizeof(st));
			st.st_ino = e->ino;
			st.st_mode = (mode_t)e->type << 12;
			need = fuse_add_direntry(r->req, buf + pos, size - pos,
						 e->name, &st, e->next_off);
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	forget_from(r, i);
	if (fuse_reply_buf(r->req, pos ? buf : NULL, pos)) {
		/* the entries never reached the kernel */
		for (size_t j = 0; plus && j < i; j++)
			if (de->v[j].entry.ino)
				fe_forget(r->fe, de->v[j].entry.ino, 1);
	}
	free(buf);
}

void fe_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_OPENDIR, ino, 0);

	if (!r)
		return;
	r->dir = true;
	r->data.params.open.flags = fi->flags;
	fe_req_dispatch(r);
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi, int plus)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_READDIR, ino, 0);

	if (!r)
		return;
	r->data.params.readdir.fh = fi->fh;
	r->data.params.readdir.offset = off;
	r->data.params.readdir.size = size;
	r->data.params.readdir.plus = plus;
	fe_req_dispatch(r);
}

void fe_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

void fe_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

void fe_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_RELEASEDIR, ino, 0);

	if (!r)
		return;
	r->data.params.release.fh = fi->fh;
	r->data.params.release.flags = fi->flags;
	fe_req_dispatch(r);
}

void fe_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_FSYNCDIR, ino, 0);

	if (!r)
		return;
	r->data.params.fsync.fh = fi->fh;
	r->data.params.fsync.datasync = datasync;
	fe_req_dispatch(r);
}
