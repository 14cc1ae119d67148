/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fast path: FUSE passthrough with libfuse 3.14, which has no API for
 * it (KERNEL-NOTES.md, "FUSE passthrough works with libfuse 3.14").
 *
 * 1. Negotiation. The session's I/O goes through fuse_session_custom_io():
 *    the read hook notes the INIT request (its unique, and whether the
 *    kernel offers FUSE_PASSTHROUGH and FUSE_DIRECT_IO_ALLOW_MMAP), the
 *    writev hook patches our INIT reply (flags2 bits, max_stack_depth =
 *    1) unless the writeback cache was negotiated, which excludes
 *    passthrough (DIRECT_IO_ALLOW_MMAP is taken whenever offered).
 *    Every other message goes through untouched; the hooks cost one load
 *    each after INIT. libfuse calls the hooks with the fd of the worker's
 *    channel, so clone_fd and the multi-threaded loop keep working.
 * 2. One backing id per inode (FUSE_DEV_IOC_BACKING_OPEN on the lower
 *    handle's fd, see flt_open_result.backing_fd), kept while the inode
 *    has an open handle and closed at its last release: the kernel looks
 *    the id up only after it has read the OPEN reply, and refuses a second
 *    backing file for an inode, or a cached open mixed with a passthrough
 *    one. So the first open of an inode decides, for every open until the
 *    last release (this table counts them).
 * 3. OPEN and CREATE of a passthrough file are answered with raw replies
 *    carrying FOPEN_PASSTHROUGH and the backing id (libfuse 3.14's
 *    fuse_open_out has no field for it).
 *
 * Fallback: if the kernel did not accept passthrough, or BACKING_OPEN
 * says EPERM (no CAP_SYS_ADMIN in the initial namespace), everything goes
 * through the daemon, as without this file (logged once, at info level).
 */
#include "fuse/fuse_int.h"
#include "fuse/kernel_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

/* One inode with open handles (regular files the kernel opened). */
struct fe_pt_inode {
	flt_ino_t ino;
	uint64_t opens;			/* handles the kernel holds or is
					   about to take */
	int32_t backing_id;		/* > 0: passthrough; 0: cached */
	/* The inode left the fast path with pages of an earlier cached
	 * open possibly still in the kernel's page cache, which writes
	 * through the backing file did not update: the next cached open
	 * must drop them (no keep_cache). Such an entry stays with
	 * opens == 0 until then, or until the kernel forgets the inode. */
	bool stale_cache;
	struct fe_pt_inode *next;	/* hash chain */
};

#define PT_MIN_BUCKETS 256u

/* ---- negotiation: the custom I/O hooks ---- */

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fe *fe = userdata;
	ssize_t res = read(fd, buf, len);
	int err = errno;

	/* The end of the connection reads as ENODEV, except for a reader
	 * that had taken a request off the queue when the kernel shut the
	 * connection down: it gets ECONNABORTED (fuse_dev_do_read), as does
	 * every reader after an abort through fusectl when abort_err is
	 * on. The last close of a lazily unmounted volume can race so with
	 * a worker's read (it_busy under ASan saw it: "fuse: reading device:
	 * Software caused connection abort"). libfuse 3.14 ends the session
	 * cleanly only on ENODEV and fails the loop on anything else (the
	 * daemon exited 1): the connection is gone either way, so say
	 * ENODEV. */
	if (res < 0 && err == ECONNABORTED)
		err = ENODEV;
	if (__builtin_expect(fe->trace, 0))
		fe_trace_in(buf, res);

	if (res >= (ssize_t)(sizeof(struct fek_in_header) +
			     sizeof(struct fek_init_in)) &&
	    !atomic_load_explicit(&fe->pt.init_seen, memory_order_relaxed)) {
		const struct fek_in_header *in = buf;
		const struct fek_init_in *arg = (const void *)(in + 1);

		if (in->opcode == FEK_OP_INIT) {
			bool offers = (arg->flags & FEK_INIT_EXT) &&
				      (arg->flags2 & FEK_PASSTHROUGH_FLAGS2);

			atomic_store(&fe->pt.kernel_offers, offers);
			atomic_store(&fe->pt.offers_dio_mmap,
				     (arg->flags & FEK_INIT_EXT) &&
				     (arg->flags2 &
				      FEK_DIRECT_IO_ALLOW_MMAP_FLAGS2));
			atomic_store(&fe->pt.init_unique, in->unique);
			atomic_store(&fe->pt.init_seen, true);
		}
	}
	errno = err;	/* libfuse reads it after a failed read */
	return res;
}

/* Our INIT reply, before the kernel sees it. */
static void patch_init(struct fe *fe, struct iovec *iov, int count)
{
	const struct fek_out_header *out = iov[0].iov_base;
	struct fek_init_out *arg;

	if (count < 2 || iov[0].iov_len < sizeof(*out) ||
	    out->unique != atomic_load(&fe->pt.init_unique) ||
	    !atomic_load(&fe->pt.init_seen))
		return;
	atomic_store(&fe->pt.init_done, true);
	if (out->error || iov[1].iov_len < sizeof(*arg))
		return;
	arg = iov[1].iov_base;
	/* Direct I/O opens (O_DIRECT with the lower layer, or a filter's
	 * choice) then accept MAP_SHARED like MAP_PRIVATE: the mapping uses
	 * the inode's page cache, filled by READs on the mapping's own
	 * handle; direct read(2)/write(2) stay uncached (the kernel writes
	 * back and drops the range around a direct write). Independent of
	 * passthrough, so negotiated whenever the kernel offers it. */
	if (atomic_load(&fe->pt.offers_dio_mmap) &&
	    (arg->flags & FEK_INIT_EXT))
		arg->flags2 |= FEK_DIRECT_IO_ALLOW_MMAP_FLAGS2;
	if (!fe->pt.want) {
		flt_log(LOG_INFO, "fuse: passthrough off (%s); reads and "
			"writes go through the daemon",
			fe->want_writeback ? "--writeback" : "--no-passthrough");
		return;
	}
	if (!atomic_load(&fe->pt.kernel_offers) ||
	    !(arg->flags & FEK_INIT_EXT)) {
		flt_log(LOG_INFO, "fuse: the kernel does not offer "
			"passthrough; reads and writes go through the daemon");
		return;
	}
	if (arg->flags & FEK_WRITEBACK_CACHE) {
		/* the kernel would silently turn passthrough off */
		flt_log(LOG_INFO, "fuse: writeback cache negotiated, so no "
			"passthrough");
		return;
	}
	arg->flags2 |= FEK_PASSTHROUGH_FLAGS2;
	arg->max_stack_depth = 1;	/* backing files on non-stacked fs */
	atomic_store(&fe->pt.on, true);
	flt_log(LOG_INFO, "fuse: passthrough negotiated: files no filter "
		"needs to see are read and written by the kernel directly");
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	struct fe *fe = userdata;

	if (!atomic_load_explicit(&fe->pt.init_done, memory_order_relaxed))
		patch_init(fe, iov, count);
	if (__builtin_expect(fe->trace, 0))
		fe_trace_out(iov, count);
	return writev(fd, iov, count);
}

/* Provided so libfuse keeps offering splice as it would without custom
 * I/O (init() turns it off anyway: it gains nothing here). */
static ssize_t pt_splice_receive(int fdin, off_t *offin, int fdout,
				 off_t *offout, size_t len, unsigned int flags,
				 void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t pt_splice_send(int fdin, off_t *offin, int fdout,
			      off_t *offout, size_t len, unsigned int flags,
			      void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int fe_pt_setup(struct fe *fe, bool want)
{
	static const struct fuse_custom_io io = {
		.writev = pt_writev,
		.read = pt_read,
		.splice_receive = pt_splice_receive,
		.splice_send = pt_splice_send,
	};
	int ret;

	fe->pt.want = want && !fe->want_writeback;
	fe->pt.test_refuse_opath =
		getenv("FSFILTER_TEST_PT_REFUSE_OPATH") != NULL;
	/* after fuse_session_mount(): the same fd, now read and written
	 * through the hooks */
	ret = fuse_session_custom_io(fe->se, &io, fuse_session_fd(fe->se));
	if (ret) {
		flt_log(LOG_WARNING, "fuse: custom I/O refused (%d); no "
			"passthrough", ret);
		fe->pt.want = false;
	}
	return 0;
}

void fe_pt_destroy(struct fe *fe)
{
	/* Nothing is open any more; the kernel dropped its backing files
	 * with the connection. */
	for (size_t i = 0; i < fe->pt.nbuckets; i++) {
		struct fe_pt_inode *n = fe->pt.buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(fe->pt.buckets);
	fe->pt.buckets = NULL;
	fe->pt.nbuckets = fe->pt.n = 0;
}

/* ---- the per-inode table ---- */

static size_t bucket_of(flt_ino_t ino, size_t nbuckets)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & (nbuckets - 1);
}

static struct fe_pt_inode **find_locked(struct fe *fe, flt_ino_t ino)
{
	struct fe_pt_inode **pp;

	if (!fe->pt.nbuckets)
		return NULL;
	for (pp = &fe->pt.buckets[bucket_of(ino, fe->pt.nbuckets)]; *pp;
	     pp = &(*pp)->next)
		if ((*pp)->ino == ino)
			return pp;
	return NULL;
}

/* Make room for one more entry: the table doubles when it is full. */
static int grow_locked(struct fe *fe)
{
	size_t nb = fe->pt.nbuckets ? fe->pt.nbuckets * 2 : PT_MIN_BUCKETS;
	struct fe_pt_inode **b;

	if (fe->pt.n < fe->pt.nbuckets)
		return 0;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return fe->pt.nbuckets ? 0 : -ENOMEM;	/* chains just grow */
	for (size_t i = 0; i < fe->pt.nbuckets; i++) {
		struct fe_pt_inode *n = fe->pt.buckets[i], *next;

		for (; n; n = next) {
			size_t k = bucket_of(n->ino, nb);

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(fe->pt.buckets);
	fe->pt.buckets = b;
	fe->pt.nbuckets = nb;
	return 0;
}

static bool is_opath(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_PATH);
}

/*
 * BACKING_OPEN with a readable fd reopened from the O_PATH fd @fd: for
 * kernels that take the backing file with fget() and refuse an O_PATH
 * one (EBADF). The kernel keeps its own reference, so ours is closed at
 * once (KERNEL-NOTES.md). -1 with errno set on failure.
 */
static int backing_open_reopened(struct fe *fe, int fd)
{
	char path[sizeof("/proc/self/fd/") + 12];
	struct fek_backing_map map = { .fd = -1 };
	int id, err;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* a lower file the daemon holds, never a path in the mount */
	map.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (map.fd < 0)
		return -1;
	id = ioctl(fuse_session_fd(fe->se), FEK_DEV_IOC_BACKING_OPEN, &map);
	err = errno;
	close(map.fd);
	errno = err;
	return id;
}

/*
 * A backing id for the first open of an inode, or 0 (cached open).
 * @fd may be an O_PATH fd (the lower layer's deferred opens): the kernel
 * only takes the backing file's path and opens its own file per FUSE
 * open (fuse_passthrough_open, backing_file_open), with the caller's
 * flags, and from 6.12 or so fget_raw() takes an O_PATH fd. An older
 * kernel says EBADF: the fd is reopened for it from then on.
 */
static int32_t backing_open(struct fe *fe, flt_ino_t ino, int fd)
{
	struct fek_backing_map map = { .fd = fd };
	int id;

	if (atomic_load_explicit(&fe->pt.opath_refused, memory_order_relaxed)
	    && is_opath(fd)) {
		id = backing_open_reopened(fe, fd);
	} else {
		if (fe->pt.test_refuse_opath && is_opath(fd)) {
			id = -1;	/* the older kernel (tests) */
			errno = EBADF;
		} else {
			id = ioctl(fuse_session_fd(fe->se),
				   FEK_DEV_IOC_BACKING_OPEN, &map);
		}
		if (id < 0 && errno == EBADF && is_opath(fd)) {
			if (!atomic_exchange(&fe->pt.opath_refused, true))
				flt_log(LOG_INFO, "fuse: the kernel takes no "
					"O_PATH backing file; read-only "
					"opens of the fast path reopen the "
					"lower file");
			id = backing_open_reopened(fe, fd);
		}
	}
	if (id > 0)
		return id;
	if (errno == EPERM) {
		/* no CAP_SYS_ADMIN: it will never work on this mount */
		atomic_store(&fe->pt.on, false);
		flt_log(LOG_INFO, "fuse: passthrough refused by the kernel "
			"(EPERM: needs CAP_SYS_ADMIN); reads and writes go "
			"through the daemon");
	} else if (!atomic_exchange(&fe->pt.warned, true)) {
		/* e.g. ELOOP: the lower file system is itself stacked */
		flt_log(LOG_INFO, "fuse: no passthrough for inode %llu (%s); "
			"such files go through the daemon",
			(unsigned long long)ino, strerror(errno));
	}
	return 0;
}

int32_t fe_pt_open(struct fe *fe, struct fe_handle *h, flt_ino_t ino,
		   const struct flt_open_result *o)
{
	struct fe_pt_inode **pp, *n;
	int32_t id;

	h->pt_counted = false;
	h->passthrough = false;
	h->drop_cache = false;
	if (!atomic_load_explicit(&fe->pt.on, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&fe->pt.lock);
	pp = find_locked(fe, ino);
	if (pp && (*pp)->opens == 0) {
		/* a marker (stale_cache): decide afresh */
		n = *pp;
		if (!o->no_fastpath && o->backing_fd >= 0)
			n->backing_id = backing_open(fe, ino, o->backing_fd);
		if (!n->backing_id) {
			h->drop_cache = n->stale_cache;
			n->stale_cache = false;
		}
	} else if (pp) {
		n = *pp;
	} else {
		/* the first open: it decides for all until the last release */
		n = calloc(1, sizeof(*n));
		if (!n || grow_locked(fe)) {
			/* Uncounted and cached: only wrong if another open
			 * of the inode takes the fast path meanwhile (the
			 * kernel then refuses one of them with EIO). */
			free(n);
			pthread_mutex_unlock(&fe->pt.lock);
			return 0;
		}
		n->ino = ino;
		if (!o->no_fastpath && o->backing_fd >= 0)
			n->backing_id = backing_open(fe, ino, o->backing_fd);
		pp = &fe->pt.buckets[bucket_of(ino, fe->pt.nbuckets)];
		n->next = *pp;
		*pp = n;
		fe->pt.n++;
		if (n->backing_id)
			flt_log(LOG_DEBUG, "fuse: inode %llu: passthrough "
				"(backing id %d)", (unsigned long long)ino,
				n->backing_id);
	}
	n->opens++;
	id = n->backing_id;
	pthread_mutex_unlock(&fe->pt.lock);
	h->ino = ino;
	h->pt_counted = true;
	h->passthrough = id > 0;
	return id;
}

void fe_pt_release(struct fe *fe, struct fe_handle *h)
{
	struct fe_pt_inode **pp, *n = NULL;

	if (!h->pt_counted)
		return;
	h->pt_counted = false;
	pthread_mutex_lock(&fe->pt.lock);
	pp = find_locked(fe, h->ino);
	if (pp && --(*pp)->opens == 0) {
		n = *pp;
		if (n->backing_id > 0) {
			uint32_t id = (uint32_t)n->backing_id;

			/* under the lock: a concurrent first open of the
			 * inode must not get a new id before this is gone */
			if (ioctl(fuse_session_fd(fe->se),
				  FEK_DEV_IOC_BACKING_CLOSE, &id) < 0)
				flt_log(LOG_WARNING, "fuse: BACKING_CLOSE of id "
					"%u (inode %llu): %s", id,
					(unsigned long long)n->ino,
					strerror(errno));
			n->backing_id = 0;
			n->stale_cache = true;
		}
		if (n->stale_cache) {
			n = NULL;	/* stays as a marker */
		} else {
			*pp = n->next;
			fe->pt.n--;
		}
	}
	pthread_mutex_unlock(&fe->pt.lock);
	free(n);
}

void fe_pt_forget(struct fe *fe, flt_ino_t ino)
{
	struct fe_pt_inode **pp, *n = NULL;

	if (!atomic_load_explicit(&fe->pt.on, memory_order_relaxed))
		return;
	pthread_mutex_lock(&fe->pt.lock);
	pp = find_locked(fe, ino);
	if (pp && (*pp)->opens == 0) {
		/* the kernel inode and its page cache are gone */
		n = *pp;
		*pp = n->next;
		fe->pt.n--;
	}
	pthread_mutex_unlock(&fe->pt.lock);
	free(n);
}

/* ---- replies ---- */

/* libfuse's rules (lib/fuse_lowlevel.c, calc_timeout_*, convert_stat) */
static uint64_t timeout_sec(double t)
{
	if (t > (double)ULONG_MAX)
		return ULONG_MAX;
	return t < 0.0 ? 0 : (uint64_t)t;
}

static uint32_t timeout_nsec(double t)
{
	double f = t - (double)timeout_sec(t);

	if (f < 0.0)
		return 0;
	return f >= 0.999999999 ? 999999999 : (uint32_t)(f * 1.0e9);
}

static void fill_entry(struct fek_entry_out *out,
		       const struct fuse_entry_param *e)
{
	const struct stat *st = &e->attr;

	memset(out, 0, sizeof(*out));
	out->nodeid = e->ino;
	out->generation = e->generation;
	out->entry_valid = timeout_sec(e->entry_timeout);
	out->entry_valid_nsec = timeout_nsec(e->entry_timeout);
	out->attr_valid = timeout_sec(e->attr_timeout);
	out->attr_valid_nsec = timeout_nsec(e->attr_timeout);
	out->attr.ino = st->st_ino;
	out->attr.mode = st->st_mode;
	out->attr.nlink = st->st_nlink;
	out->attr.uid = st->st_uid;
	out->attr.gid = st->st_gid;
	out->attr.rdev = st->st_rdev;
	out->attr.size = st->st_size;
	out->attr.blksize = st->st_blksize;
	out->attr.blocks = st->st_blocks;
	out->attr.atime = st->st_atim.tv_sec;
	out->attr.mtime = st->st_mtim.tv_sec;
	out->attr.ctime = st->st_ctim.tv_sec;
	out->attr.atimensec = st->st_atim.tv_nsec;
	out->attr.mtimensec = st->st_mtim.tv_nsec;
	out->attr.ctimensec = st->st_ctim.tv_nsec;
}

/* The kernel refuses (EIO) a passthrough open with flags outside
 * FOPEN_PASSTHROUGH_MASK (passthrough, direct_io, parallel direct writes,
 * noflush), so keep_cache and nonseekable are dropped: there is no FUSE
 * page cache to keep, and the lower layer never asks for nonseekable.
 * FOPEN_DIRECT_IO would override passthrough for read and write, and the
 * backing file already carries the open's own O_DIRECT. */
static void fill_open(struct fek_open_out *out,
		      const struct fuse_file_info *fi, int32_t backing_id)
{
	memset(out, 0, sizeof(*out));
	out->fh = fi->fh;
	out->open_flags = FEK_FOPEN_PASSTHROUGH;
	/* the reply is built here, not by libfuse: carry the no-flush
	 * decision (reply.c sets fi->noflush) or every close of a fast-path
	 * file costs a FLUSH round trip that does nothing */
	if (fi->noflush)
		out->open_flags |= FEK_FOPEN_NOFLUSH;
	out->backing_id = backing_id;
}

int fe_pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
		     int32_t backing_id)
{
	struct fek_open_out out;

	fill_open(&out, fi, backing_id);
	return fuse_reply_buf(req, (const char *)&out, sizeof(out));
}

int fe_pt_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		       const struct fuse_file_info *fi, int32_t backing_id)
{
	struct fek_create_out out;

	fill_entry(&out.entry, e);
	fill_open(&out.open, fi, backing_id);
	return fuse_reply_buf(req, (const char *)&out, sizeof(out));
}
