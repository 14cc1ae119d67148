/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private structures of the FUSE front end.
 *
 * One struct fe_req per FUSE request (heap): the callback data that goes
 * through core_dispatch(), the fuse_req_t to answer, and every buffer the
 * operation borrows. It is freed by the completion function, which may run
 * on another thread after core_dispatch() returned, so nothing in it may
 * point into the libfuse request buffer (names are copied into
 * fe_req.strings). The one exception is write data (1 MiB, too big to copy
 * on the hot path): a write's handler waits for its completion before it
 * returns to libfuse, and the handler, not the completion, frees it.
 *
 * File handles: open/create wrap the handle of the layers below in a
 * struct fe_handle, so read/write know whether the open was direct_io
 * (the kernel does not say so in READ). Directory handles are not wrapped.
 */
#ifndef FSFILTER_FUSE_INT_H
#define FSFILTER_FUSE_INT_H

#include "core/core.h"
#include "fuse/frontend.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The mount: the session's userdata. Read-only after mount. */
struct fe_req;

/* FUSE INTERRUPTs are handed to a thread of their own: libfuse calls the
 * interrupt function with the request lock held, and a filter's cancel
 * routine may complete the operation at once, whose reply takes that lock
 * again. */
struct fe_canceller {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fe_req *head;	/* lock; each holds a reference */
	bool stop;		/* lock */
	bool started;
	pthread_t thread;
};

/* The fast path (passthrough.c). */
struct fe_pt_inode;
struct fe_pt {
	bool want;			/* asked for, no writeback; set before
					   mounting */
	atomic_bool init_seen;		/* the INIT request was read */
	atomic_uint_fast64_t init_unique; /* ... and its unique */
	atomic_bool kernel_offers;	/* it offered FUSE_PASSTHROUGH */
	atomic_bool offers_dio_mmap;	/* ... FUSE_DIRECT_IO_ALLOW_MMAP */
	atomic_bool init_done;		/* our INIT reply went out */
	atomic_bool on;			/* negotiated; cleared if the kernel
					   refuses BACKING_OPEN with EPERM */
	atomic_bool warned;		/* other BACKING_OPEN errors logged */
	atomic_bool opath_refused;	/* the kernel wants a readable backing
					   fd, not an O_PATH one */
	bool test_refuse_opath;		/* tests: BACKING_OPEN of an O_PATH
					   fd answers EBADF, as before 6.12
					   ($FSFILTER_TEST_PT_REFUSE_OPATH) */
	pthread_mutex_t lock;		/* leaf: the inode table; static
					   initializer, never destroyed */
	struct fe_pt_inode **buckets;	/* lock: inodes with open handles */
	size_t nbuckets, n;		/* lock */
};

struct fe {
	struct flt_volume *vol;
	struct fuse_session *se;
	bool writeback;		/* FUSE_CAP_WRITEBACK_CACHE negotiated */
	bool want_writeback;	/* asked for with --writeback */
	bool want_posix_acl;	/* fuse_frontend_options posix_acl */
	bool posix_acl;		/* FUSE_CAP_POSIX_ACL negotiated */
	bool trace;		/* the trace view (-d), trace.c */
	unsigned max_read;	/* READ size asked by filters, 0: default */
	struct fe_canceller canceller;
	struct fe_pt pt;
	pthread_mutex_t handles_lock;	/* leaf */
	struct fe_handle *handles;	/* handles_lock */
};

/* One open regular file as the kernel knows it (fuse_file_info.fh). */
struct fe_handle {
	uint64_t fh;		/* the handle of the layers below */
	bool direct_io;		/* the open was answered with direct_io */
	bool passthrough;	/* answered with FOPEN_PASSTHROUGH */
	bool pt_counted;	/* counted in the fast path's inode table */
	bool drop_cache;	/* answer without keep_cache (passthrough.c) */
	flt_ino_t ino;		/* pt_counted: the inode */
	/* every handle the kernel holds, so the ones it never releases (a
	 * lazy unmount with files open) are freed at the end; fe.handles_lock */
	struct fe_handle *prev, *next;
};

struct fe_req {
	struct flt_callback_data data;
	fuse_req_t req;		/* NULL for operations the front end made
				   up itself (forgets of unused entries) */
	struct fe *fe;
	atomic_bool interrupted;	/* FUSE INTERRUPT arrived */
	atomic_int refs;		/* the request's own, plus one while
					   queued for the canceller */
	struct fe_req *cancel_next;	/* canceller.lock */
	/* write: the handler waits for completion (borrowed data) */
	bool waited;
	bool completed;			/* protected by lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;

	struct fe_handle *handle;	/* open/create: the new wrapper;
					   release: the one to free */
	bool dir;			/* opendir (handles not wrapped) */
	uint64_t unique;		/* the FUSE unique, for the trace view
					   (0 unless tracing) */
	void *buf;			/* read/getxattr/listxattr data */
	bool buf_pooled;		/* buf is a fe_iobuf (request.c) */
	char strings[];			/* copies of names */
};

/* request.c */
/* Allocate a request with @extra bytes of string storage; sets requestor
 * and op. Replies ENOMEM itself and returns NULL on failure. */
struct fe_req *fe_req_new(fuse_req_t req, enum flt_op op, fuse_ino_t ino,
			  size_t extra);
/* Copy @s into @r's string storage at *@pos; returns the copy. */
const char *fe_req_str(struct fe_req *r, size_t *pos, const char *s);
/* Give up on @r before dispatch: free it and reply the positive errno @err. */
void fe_req_abort(struct fe_req *r, int err);
/* Dispatch @r; the reply is sent by the completion function. */
void fe_req_dispatch(struct fe_req *r);
/* Drop a reference; the last one frees @r. */
void fe_req_put(struct fe_req *r);
/* A 4096-aligned READ buffer of @size bytes for @r (r->buf, freed with
 * @r). Large ones come from a small pool: 0 or -ENOMEM. */
int fe_req_iobuf(struct fe_req *r, size_t size);

/* handles.c: the list of handles the kernel holds */
void fe_handle_track(struct fe *fe, struct fe_handle *h);
void fe_handle_untrack(struct fe *fe, struct fe_handle *h);
/* Session end: free what the kernel will never release. */
void fe_handles_free_all(struct fe *fe);

/* cancel.c */
int fe_canceller_start(struct fe *fe);
/* Stop the thread; queued requests are cancelled first. */
void fe_canceller_stop(struct fe *fe);
/* From the interrupt function: takes a reference, queues @r. */
void fe_canceller_queue(struct fe *fe, struct fe_req *r);

/* Drop @nlookup lookup references on @ino (a made-up FORGET). */
void fe_forget(struct fe *fe, flt_ino_t ino, uint64_t nlookup);
/* Release a handle whose open reply the kernel did not take. */
void fe_release_lost(struct fe *fe, flt_ino_t ino, uint64_t fh, bool dir);
/* The handle of the layers below for a kernel fh of a regular file. */
static inline uint64_t fe_fh(const struct fuse_file_info *fi)
{
	return ((const struct fe_handle *)(uintptr_t)fi->fh)->fh;
}
static inline const struct fe_handle *fe_handle_of(
	const struct fuse_file_info *fi)
{
	return (const struct fe_handle *)(uintptr_t)fi->fh;
}

/* trace.c: the trace view's request and reply lines (on stderr), called
 * by the I/O hooks only when fe->trace. The unique of the request this
 * worker thread read last, which its handler is serving. */
extern __thread uint64_t fe_trace_unique;
void fe_trace_in(const void *buf, ssize_t len);
void fe_trace_out(const struct iovec *iov, int count);

/* passthrough.c: the fast path (FUSE passthrough). */
/* After fuse_session_mount(): route the session's I/O through the hooks
 * that negotiate passthrough at INIT (if @want and not --writeback). */
int fe_pt_setup(struct fe *fe, bool want);
void fe_pt_destroy(struct fe *fe);
/* An open/create of @ino is about to be answered with handle @h: count
 * it; returns the backing id (> 0) if it takes the fast path, else 0. */
int32_t fe_pt_open(struct fe *fe, struct fe_handle *h, flt_ino_t ino,
		   const struct flt_open_result *o);
/* The kernel let go of @h (RELEASE, or an open reply it did not take). */
void fe_pt_release(struct fe *fe, struct fe_handle *h);
/* The kernel forgot @ino (FORGET): its page cache is gone. */
void fe_pt_forget(struct fe *fe, flt_ino_t ino);
/* fuse_reply_open/create with FOPEN_PASSTHROUGH and @backing_id. */
int fe_pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
		     int32_t backing_id);
int fe_pt_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		       const struct fuse_file_info *fi, int32_t backing_id);

/* reply.c: answer the kernel from a completed operation. */
void fe_reply(struct fe_req *r);
void fe_entry_param(const struct flt_entry *in, struct fuse_entry_param *out);

/* dir.c */
void fe_reply_readdir(struct fe_req *r);

/* ops_entry.c, ops_file.c, dir.c: the lowlevel operations */

void fe_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fe_forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fe_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets);
void fe_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fe_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		int to_set, struct fuse_file_info *fi);
void fe_readlink(fuse_req_t req, fuse_ino_t ino);
void fe_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev);
void fe_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode);
void fe_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fe_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fe_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name);
void fe_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);
void fe_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname);
void fe_statfs(fuse_req_t req, fuse_ino_t ino);
void fe_access(fuse_req_t req, fuse_ino_t ino, int mask);
void fe_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags);
void fe_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size);
void fe_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fe_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

void fe_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fe_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi);
void fe_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void fe_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
void fe_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fe_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fe_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
void fe_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		  off_t length, struct fuse_file_info *fi);
void fe_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			off_t off_out, struct fuse_file_info *fi_out,
			size_t len, int flags);
void fe_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi);

void fe_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fe_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fe_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fe_releasedir(fuse_req_t req, fuse_ino_t ino,
		   struct fuse_file_info *fi);
void fe_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);

#endif /* FSFILTER_FUSE_INT_H */
