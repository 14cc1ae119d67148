/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Data of redirected files: open (the backing file is opened here, once per
 * open handle, so a handle keeps the content it opened even if the rules
 * change), read on every path (read(2), page-cache fills of readahead and
 * mmap faults arrive here as FLT_OP_READ with or without FLT_IO_PAGING and
 * are served the same way), lseek SEEK_DATA/SEEK_HOLE, and the write policy.
 *
 * A handle (struct redir_handle) is a context object: for a lower file it
 * is the stream handle context of the lower fh (the manager drops it at
 * release); for a virtual file its address is the fh and pre-release drops
 * it. Its cleanup closes the backing fd.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static enum flt_preop_status complete(struct flt_callback_data *d, int err)
{
	d->io_status.status = err;
	d->io_status.information = 0;
	return FLT_PREOP_COMPLETE;
}

void redir_handle_cleanup(void *c, enum flt_context_type type)
{
	struct redir_handle *h = c;

	(void)type;
	if (h->kind == REDIR_H_DIR) {
		redir_dir_cleanup((struct redir_dir *)c);
		return;
	}
	if (h->fd >= 0)
		close(h->fd);
	redir_target_put(h->target);
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Open @t's backing file into a new handle (one reference). */
static int handle_open(struct redir_inst *ri, struct redir_target *t,
		       bool is_virtual, struct redir_handle **out)
{
	struct redir_handle *h;
	int fd, ret;

	fd = redir_backing_open(t->backing);
	if (fd < 0) {
		flt_log(LOG_ERR, "redirect: cannot open backing file %s: %s; "
			"the open fails with EIO", t->backing, strerror(-fd));
		return -EIO;
	}
	ret = flt_allocate_context(ri->filter, FLT_STREAMHANDLE_CONTEXT,
				   sizeof(*h), (void **)&h);
	if (ret) {
		close(fd);
		return ret;
	}
	h->kind = REDIR_H_FILE;
	h->fd = fd;
	h->target = t;
	redir_target_get(t);
	h->is_virtual = is_virtual;
	*out = h;
	return 0;
}

/*
 * The write policy at open of redirected file @t (volume path @path).
 * Returns 1: go on and serve the backing content; 0 or a negative errno:
 * complete the open with it. copy-on-write and hydrate opens for writing
 * materialise the file (waiting for the copy) and answer -ESTALE, so the
 * VFS walks the path again and opens the new lower file (materialise.c);
 * a hydrate open for reading starts the copy in the background and reads
 * the backing file (hydrate.c).
 */
static int policy_open(struct redir_inst *ri, struct redir_target *t,
		       const char *path, struct flt_callback_data *d)
{
	int flags = d->params.open.flags, ret;
	bool trunc = (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY;

	/*
	 * An old node: an open for writing looks the name up again (ESTALE,
	 * the VFS retries once with LOOKUP_REVAL). A read-only open reads
	 * what the node showed, the backing file, as a native open that
	 * resolved the name before a rename over it gets the old inode:
	 * answering ESTALE again would reach the caller when the name is
	 * materialised once more between the retry's lookup and its open
	 * (seen in the soak, docs/reliability.md).
	 */
	if (atomic_load(&t->materialised))
		return wants_write(flags) || trunc ? -ESTALE : 1;
	switch (t->policy) {
	case REDIR_READONLY:
		return wants_write(flags) ? -t->deny_errno : 1;
	case REDIR_COW:
		if (!wants_write(flags))
			return 1;
		break;
	case REDIR_HYDRATE:
		if (wants_write(flags))
			break;	/* waits for the copy (hydrate.c) */
		/* start or join the background copy; this open reads the
		 * backing file meanwhile (the same bytes) */
		ret = redir_hydrate_start(ri, path, t, d->ino);
		if (ret && ret != -ESHUTDOWN)
			flt_log(LOG_WARNING, "redirect: /%s: hydration not "
				"started: %s", path, strerror(-ret));
		return 1;
	}
	ret = redir_materialise(ri, path, t, d->ino, trunc);
	if (ret == -ENOENT)
		ret = -EIO;	/* the backing file is gone */
	return ret ? ret : -ESTALE;
}

REDIR_PRE(redir_pre_open)
{
	struct redir_inst *ri = redir_inst_get(o->instance);
	struct redir_target *t = NULL;
	struct redir_handle *h;
	enum flt_preop_status st = FLT_PREOP_SUCCESS_NO_CALLBACK;
	int ret;

	*ctx = NULL;
	if (!ri)
		return redir_is_virtual(d->ino) ? complete(d, -EIO) : st;
	if (redir_is_virtual(d->ino)) {
		struct redir_vnode *v = redir_vnode_find(ri, d->ino);

		if (!v || !redir_scope_applies(&v->target->scope, d)) {
			st = complete(d, -ENOENT);
			goto out;
		}
		ret = policy_open(ri, v->target, v->path, d);
		if (ret <= 0) {
			st = complete(d, ret);
			goto out;
		}
		ret = handle_open(ri, v->target, true, &h);
		if (ret) {
			st = complete(d, ret);
			goto out;
		}
		memset(&d->results.open, 0, sizeof(d->results.open));
		d->results.open.fh = (uint64_t)(uintptr_t)h;
		/* keep cached pages across opens (as the lower layer does for
		 * ordinary files): rule changes invalidate explicitly, and a
		 * changed backing file changes the mtime the kernel checks */
		d->results.open.keep_cache = 1;
		/* closing it has nothing to flush (a read-only backing fd,
		 * released at RELEASE): no FLUSH round trip per close */
		d->results.open.no_flush = 1;
		/* the fast path: the kernel reads the backing file itself */
		d->results.open.backing_fd = ri->cfg.no_fastpath ? -1 : h->fd;
		/* also under a scoped rule: this node is only ever the
		 * backing view (the lower view is the lower node) */
		st = complete(d, 0);
		goto out;
	}
	{
		struct redir_snode *sn = redir_snode_get(ri, d->ino);

		ret = 1;
		if (sn && sn->target && !sn->target->is_dir &&
		    redir_scoped(&sn->target->scope)) {
			/* The lower node of a scoped file is its lower view
			 * for everyone (lookups give the processes in scope
			 * a node of their own, redir_note_entry); one in
			 * scope gets here only if the backing file was
			 * missing at lookup (or through a descriptor of
			 * another process): EIO as for any redirected file
			 * whose backing is missing. */
			struct stat bst;
			bool bad = redir_scope_applies(&sn->target->scope, d) &&
				   (redir_backing_stat(sn->target->backing,
						       &bst) ||
				    !S_ISREG(bst.st_mode));

			if (bad) {
				flt_log(LOG_ERR, "redirect: cannot open backing "
					"file %s; the open fails with EIO",
					sn->target->backing);
				st = complete(d, -EIO);
			}
			flt_release_context(sn);
			goto out;
		}
		if (sn && sn->target && !sn->target->is_dir) {
			t = sn->target;
			redir_target_get(t);
			ret = policy_open(ri, t, sn->path, d);
		}
		if (sn)
			flt_release_context(sn);
	}
	if (!t)
		goto out;
	if (ret <= 0) {
		st = complete(d, ret);
		goto out;
	}
	/* open the backing first: if it fails, the lower file is never
	 * opened and nothing needs undoing */
	ret = handle_open(ri, t, false, &h);
	if (ret) {
		st = complete(d, ret);
		goto out;
	}
	*ctx = h;
	st = FLT_PREOP_SUCCESS_WITH_CALLBACK;
out:
	redir_target_put(t);
	redir_inst_put(ri);
	return st;
}

REDIR_POST(redir_post_open)
{
	struct redir_handle *h = ctx;

	(void)flags;
	if (!h)
		return FLT_POSTOP_FINISHED_PROCESSING;
	if (!d->io_status.status) {
		struct redir_inst *ri = redir_inst_get(o->instance);

		/* the fast path reads our backing file, never the lower one
		 * (the fd stays open until the handle's release) */
		d->results.open.backing_fd =
			ri && !ri->cfg.no_fastpath ? h->fd : -1;
		redir_inst_put(ri);
	}
	if (!d->io_status.status &&
	    flt_set_streamhandle_context(o->instance, d->results.open.fh,
					 FLT_SET_CONTEXT_REPLACE_IF_EXISTS, h,
					 NULL)) {
		/* without the context the reads would show the lower file:
		 * better no open at all. The lower handle is released by
		 * the host when the open fails (no RELEASE otherwise). */
		flt_log(LOG_ERR, "redirect: cannot remember an open of %s",
			h->target->backing);
	}
	flt_release_context(h);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* The handle of @fh on node @ino (referenced), or NULL. */
static struct redir_handle *handle_get(struct flt_instance *inst,
				       flt_ino_t ino, uint64_t fh)
{
	void *c;

	if (redir_is_virtual(ino)) {
		struct redir_handle *h = (struct redir_handle *)(uintptr_t)fh;

		flt_reference_context(h);
		return h;
	}
	if (flt_get_streamhandle_context(inst, fh, &c))
		return NULL;
	if (((struct redir_handle *)c)->kind != REDIR_H_FILE) {
		flt_release_context(c);
		return NULL;
	}
	return c;
}

REDIR_PRE(redir_pre_read)
{
	struct redir_inst *ri;
	struct redir_handle *h;
	ssize_t n;

	(void)ctx;
	h = handle_get(o->instance, d->ino, d->params.read.fh);
	if (!h)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	ri = redir_inst_get(o->instance);
	n = redir_backing_read(h->fd, d->params.read.buf, d->params.read.size,
			       d->params.read.offset,
			       ri ? ri->cfg.block_size : 0);
	redir_inst_put(ri);
	flt_release_context(h);
	if (n < 0)
		return complete(d, (int)n);
	d->io_status.status = 0;
	d->io_status.information = (uint64_t)n;
	return FLT_PREOP_COMPLETE;
}

REDIR_PRE(redir_pre_release)
{
	(void)o;
	(void)ctx;
	if (!redir_is_virtual(d->ino))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	/* our own handle: drop the open's reference */
	flt_release_context((void *)(uintptr_t)d->params.release.fh);
	return complete(d, 0);
}

REDIR_PRE(redir_pre_write)
{
	struct redir_handle *h;
	int err;

	(void)ctx;
	h = handle_get(o->instance, d->ino, d->params.write.fh);
	if (!h)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	err = h->target->deny_errno;
	flt_release_context(h);
	return complete(d, -err);
}

REDIR_PRE(redir_pre_fallocate)
{
	struct redir_handle *h;
	int err;

	(void)ctx;
	h = handle_get(o->instance, d->ino, d->params.fallocate.fh);
	if (!h)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	err = h->target->deny_errno;
	flt_release_context(h);
	return complete(d, -err);
}

REDIR_PRE(redir_pre_lseek)
{
	struct redir_handle *h;
	off_t r;

	(void)ctx;
	h = handle_get(o->instance, d->ino, d->params.lseek.fh);
	if (!h)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	/* the fd's own position is never used for I/O (pread), so a
	 * concurrent lseek on it does no harm */
	r = lseek(h->fd, d->params.lseek.offset, d->params.lseek.whence);
	flt_release_context(h);
	if (r < 0)
		return complete(d, -errno);
	d->results.offset = r;
	return complete(d, 0);
}

REDIR_PRE(redir_pre_copy_file_range)
{
	struct redir_handle *h;

	(void)ctx;
	/* Out of a redirected file: EOPNOTSUPP makes the kernel fall back
	 * to a splice copy that reads through FLT_OP_READ (or, across file
	 * systems, makes the caller copy with read/write). Never ENOSYS,
	 * which the kernel remembers for the whole mount. Into one: the
	 * write policy. */
	h = handle_get(o->instance, d->ino, d->params.copy_file_range.fh_in);
	if (h) {
		flt_release_context(h);
		return complete(d, -EOPNOTSUPP);
	}
	h = handle_get(o->instance, d->params.copy_file_range.ino_out,
		       d->params.copy_file_range.fh_out);
	if (h) {
		int err = h->target->deny_errno;

		flt_release_context(h);
		return complete(d, -err);
	}
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}
