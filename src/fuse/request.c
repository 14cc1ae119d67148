/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One FUSE request as one dispatched operation: allocation, requestor,
 * FUSE INTERRUPT, dispatch and completion. */
#include "fuse/fuse_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fe_req *fe_req_new(fuse_req_t req, enum flt_op op, fuse_ino_t ino,
			  size_t extra)
{
	struct fe_req *r = malloc(sizeof(*r) + extra);

	if (!r) {
		if (req)
			fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	core_data_init(&r->data, op, ino);
	r->req = req;
	r->fe = req ? fuse_req_userdata(req) : NULL;
	atomic_init(&r->interrupted, false);
	atomic_init(&r->refs, 1);
	r->cancel_next = NULL;
	r->waited = false;
	r->completed = false;
	r->handle = NULL;
	r->dir = false;
	r->buf = NULL;
	r->buf_pooled = false;
	r->unique = req && r->fe->trace ? fe_trace_unique : 0;
	if (req) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);

		r->data.requestor.pid = ctx->pid;
		r->data.requestor.uid = ctx->uid;
		r->data.requestor.gid = ctx->gid;
		r->data.requestor.umask = ctx->umask;
	}
	return r;
}

const char *fe_req_str(struct fe_req *r, size_t *pos, const char *s)
{
	char *dst = r->strings + *pos;
	size_t n = strlen(s) + 1;

	memcpy(dst, s, n);
	*pos += n;
	return dst;
}

/* Called by libfuse with its request lock held; must not block or reply,
 * so the cancellation itself happens on the canceller thread. fe_done()
 * unregisters this function (under the same lock) before it drops its
 * reference, so @r is alive here. */
static void fe_interrupted(fuse_req_t req, void *arg)
{
	struct fe_req *r = arg;

	atomic_store(&r->interrupted, true);
	fe_canceller_queue(r->fe, r);
}

/*
 * READ buffers of more than 64 KiB (sequential reads arrive as 1 MiB
 * requests) are kept in a small pool of 1 MiB buffers. glibc serves such
 * sizes with mmap, or from a thread arena that it trims again on free:
 * either way each request faulted in and zeroed 256 fresh pages, a third
 * of the daemon's time in a cold sequential read through crypt. At most
 * IOBUF_POOL buffers are kept (16 MiB); more requests at once allocate.
 */
#define IOBUF_MIN (64u << 10)
#define IOBUF_SIZE (1u << 20)	/* FE_MAX_IO */
#define IOBUF_POOL 16u

static pthread_mutex_t iobuf_mu = PTHREAD_MUTEX_INITIALIZER;	/* leaf */
static void *iobuf_free[IOBUF_POOL];	/* iobuf_mu */
static unsigned iobuf_nfree;		/* iobuf_mu */

int fe_req_iobuf(struct fe_req *r, size_t size)
{
	void *p = NULL;

	if (size > IOBUF_MIN && size <= IOBUF_SIZE) {
		pthread_mutex_lock(&iobuf_mu);
		if (iobuf_nfree)
			p = iobuf_free[--iobuf_nfree];
		pthread_mutex_unlock(&iobuf_mu);
		if (!p && posix_memalign(&p, 4096, IOBUF_SIZE))
			return -ENOMEM;
		r->buf = p;
		r->buf_pooled = true;
		return 0;
	}
	if (posix_memalign(&p, 4096, size ? size : 1))
		return -ENOMEM;
	r->buf = p;
	return 0;
}

static void iobuf_put(void *p)
{
	pthread_mutex_lock(&iobuf_mu);
	if (iobuf_nfree < IOBUF_POOL) {
		iobuf_free[iobuf_nfree++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&iobuf_mu);
	free(p);
}

/* r->handle is still set only if nobody else owns it any more: a release,
 * or an open whose handle never reached the kernel. */
static void fe_req_free(struct fe_req *r)
{
	free(r->handle);
	if (r->buf_pooled)
		iobuf_put(r->buf);
	else
		free(r->buf);
	free(r);
}

void fe_req_put(struct fe_req *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1)
		fe_req_free(r);
}

void fe_req_abort(struct fe_req *r, int err)
{
	fuse_req_t req = r->req;

	core_data_cleanup(&r->data);
	fe_req_free(r);
	fuse_reply_err(req, err);
}

static void fe_done(struct flt_callback_data *data, void *cookie)
{
	struct fe_req *r = cookie;

	if (r->req) {
		/* Unregister first: libfuse calls the interrupt function
		 * under the request lock, which this takes, so after it no
		 * call can be running or come later with a freed @r. */
		fuse_req_interrupt_func(r->req, NULL, NULL);
		fe_reply(r);
	}
	core_data_cleanup(data);
	if (!r->waited) {
		fe_req_put(r);
		return;
	}
	pthread_mutex_lock(&r->lock);
	r->completed = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void fe_req_dispatch(struct fe_req *r)
{
	if (r->req)
		fuse_req_interrupt_func(r->req, fe_interrupted, r);
	if (!r->waited) {
		core_dispatch_id(r->fe->vol, &r->data, r->unique, fe_done, r);
		return;
	}
	/* The operation borrows the libfuse request buffer (write data):
	 * it must be complete before this handler returns. */
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	core_dispatch_id(r->fe->vol, &r->data, r->unique, fe_done, r);
	pthread_mutex_lock(&r->lock);
	while (!r->completed)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	fe_req_put(r);
}

void fe_forget(struct fe *fe, flt_ino_t ino, uint64_t nlookup)
{
	struct fe_req *r = fe_req_new(NULL, FLT_OP_FORGET, ino, 0);

	/* Out of memory here leaks a node until unmount; nothing better to
	 * do (FORGET has no reply to fail). */
	if (!r)
		return;
	r->fe = fe;
	/* on the worker thread of the FORGET (or of the reply the kernel
	 * did not take) */
	r->unique = fe->trace ? fe_trace_unique : 0;
	r->data.params.forget.nlookup = nlookup;
	fe_req_dispatch(r);
}

void fe_release_lost(struct fe *fe, flt_ino_t ino, uint64_t fh, bool dir)
{
	struct fe_req *r = fe_req_new(NULL, dir ? FLT_OP_RELEASEDIR
					       : FLT_OP_RELEASE, ino, 0);

	if (!r)
		return;
	r->fe = fe;
	r->data.params.release.fh = fh;
	fe_req_dispatch(r);
}
