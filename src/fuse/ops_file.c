/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations on regular files and their open handles. */
#include "fuse/fuse_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/*
 * With the writeback cache the kernel reads pages of files opened
 * write-only (partial page writes) and computes O_APPEND offsets itself,
 * so the lower file must be readable and must not append on its own
 * (libfuse's passthrough_ll does the same).
 */
static int open_flags(const struct fe *fe, int flags)
{
	if (!fe->writeback)
		return flags;
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_APPEND;
}

void fe_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_OPEN, ino, 0);

	if (!r)
		return;
	r->handle = calloc(1, sizeof(*r->handle));
	if (!r->handle) {
		fe_req_abort(r, ENOMEM);
		return;
	}
	r->data.params.open.flags = open_flags(r->fe, fi->flags);
	fe_req_dispatch(r);
}

void fe_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi)
{
	size_t pos = 0;
	struct fe_req *r = fe_req_new(req, FLT_OP_CREATE, parent,
				      strlen(name) + 1);

	if (!r)
		return;
	r->handle = calloc(1, sizeof(*r->handle));
	if (!r->handle) {
		fe_req_abort(r, ENOMEM);
		return;
	}
	r->data.params.create.parent = parent;
	r->data.params.create.name = fe_req_str(r, &pos, name);
	r->data.params.create.mode = mode;
	r->data.params.create.flags = open_flags(r->fe, fi->flags);
	fe_req_dispatch(r);
}

void fe_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	const struct fe_handle *h = fe_handle_of(fi);
	struct fe_req *r = fe_req_new(req, FLT_OP_READ, ino, 0);

	if (!r)
		return;
	/* aligned: the lower layer may read with O_DIRECT */
	if (fe_req_iobuf(r, size)) {
		fe_req_abort(r, ENOMEM);
		return;
	}
	/* A READ of a cached open always comes from the page cache
	 * (readahead, mmap fault, buffered read filling pages). */
	r->data.flags = h->direct_io ? FLT_IO_DIRECT : FLT_IO_PAGING;
	r->data.params.read.fh = h->fh;
	r->data.params.read.offset = off;
	r->data.params.read.size = size;
	r->data.params.read.buf = r->buf;
	fe_req_dispatch(r);
}

void fe_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi)
{
	const struct fe_handle *h = fe_handle_of(fi);
	struct fe_req *r = fe_req_new(req, FLT_OP_WRITE, ino, 0);

	if (!r)
		return;
	if (fi->writepage)
		r->data.flags |= FLT_IO_PAGING;
	if (h->direct_io)
		r->data.flags |= FLT_IO_DIRECT;
	r->data.params.write.fh = h->fh;
	r->data.params.write.offset = off;
	r->data.params.write.size = size;
	r->data.params.write.buf = buf;	/* borrowed: see r->waited */
	/* libfuse 3.14 neither negotiates handle_killpriv_v2 nor passes
	 * FUSE_WRITE_KILL_SUIDGID; init() turns handle_killpriv off, so the
	 * kernel clears SUID/SGID itself with a SETATTR before the write. */
	r->data.params.write.kill_priv = 0;
	r->waited = true;
	fe_req_dispatch(r);
}

void fe_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_FLUSH, ino, 0);

	if (!r)
		return;
	r->data.params.flush.fh = fe_fh(fi);
	r->data.params.flush.lock_owner = fi->lock_owner;
	fe_req_dispatch(r);
}

void fe_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fe_handle *h = (struct fe_handle *)(uintptr_t)fi->fh;
	struct fe_req *r;

	/* the kernel is done with it: the inode may leave the fast path */
	fe_handle_untrack(fuse_req_userdata(req), h);
	fe_pt_release(fuse_req_userdata(req), h);
	r = fe_req_new(req, FLT_OP_RELEASE, ino, 0);
	if (!r)
		return;	/* ENOMEM: the handle leaks until unmount */
	r->handle = h;	/* freed with r */
	r->data.params.release.fh = r->handle->fh;
	r->data.params.release.flags = fi->flags;
	fe_req_dispatch(r);
}

void fe_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_FSYNC, ino, 0);

	if (!r)
		return;
	r->data.params.fsync.fh = fe_fh(fi);
	r->data.params.fsync.datasync = datasync;
	fe_req_dispatch(r);
}

void fe_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		  off_t length, struct fuse_file_info *fi)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_FALLOCATE, ino, 0);

	if (!r)
		return;
	r->data.params.fallocate.fh = fe_fh(fi);
	r->data.params.fallocate.mode = mode;
	r->data.params.fallocate.offset = offset;
	r->data.params.fallocate.length = length;
	fe_req_dispatch(r);
}

void fe_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			off_t off_out, struct fuse_file_info *fi_out,
			size_t len, int flags)
{
	struct fe_req *r = fe_req_new(req, FLT_OP_COPY_FILE_RANGE, ino_in, 0);

	if (!r)
		return;
	r->data.params.copy_file_range.fh_in = fe_fh(fi_in);
	r->data.params.copy_file_range.off_in = off_in;
	r->data.params.copy_file_range.ino_out = ino_out;
	r->data.params.copy_file_range.fh_out = fe_fh(fi_out);
	r->data.params.copy_file_range.off_out = off_out;
	r->data.params.copy_file_range.len = len;
	r->data.params.copy_file_range.flags = flags;
	fe_req_dispatch(r);
}

void fe_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi)
{
	struct fe *fe = fuse_req_userdata(req);
	struct fe_req *r;

	/* With the writeback cache, written data may still sit in the
	 * kernel's dirty pages, which the layers below cannot see: their
	 * SEEK_DATA would answer ENXIO for data that exists (and a sparse
	 * copy would lose it). ENOSYS makes the kernel seek by itself, with
	 * its own size: the whole file counts as data, which is correct. */
	if (fe->writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	r = fe_req_new(req, FLT_OP_LSEEK, ino, 0);

	if (!r)
		return;
	r->data.params.lseek.fh = fe_fh(fi);
	r->data.params.lseek.offset = off;
	r->data.params.lseek.whence = whence;
	fe_req_dispatch(r);
}
