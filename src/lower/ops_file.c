/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File operations on handles: open, create, read, write, flush, release,
 * fsync, fallocate, copy_file_range, lseek. */
#include "lower/lower_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Alignment that satisfies O_DIRECT on every Linux file system we meet
 * (memory and length; logical block sizes are at most 4 KiB). Bouncing a
 * buffer that a finer alignment would have accepted only costs a copy. */
#define LOWER_DIO_ALIGN 4096u

static int lower_open_flags(struct lower_fs *fs, int flags)
{
	/* With the writeback cache the kernel reads pages to fill partial
	 * writes, even through write-only opens, and it sends appends at
	 * the offset it computed from the size it owns. */
	if (fs->opt.writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

static void fill_open_result(struct lower_fs *fs, struct flt_open_result *r,
			     struct lower_handle *h, int flags)
{
	memset(r, 0, sizeof(*r));
	r->fh = (uint64_t)(uintptr_t)h;
	r->direct_io = (flags & O_DIRECT) || fs->opt.direct_io;
	r->keep_cache = fs->opt.keep_cache != 0;
	/* the fast path's backing file: our handle's fd, which lives until
	 * release (the front end never closes it); for a deferred open the
	 * node's O_PATH fd, pinned by the handle just as long */
	r->backing_fd = h->fd >= 0 ? h->fd : h->node->fd;
	/* a FLUSH would only dup and close (lower_op_flush): not worth a
	 * round trip where close does nothing. Only nodes with a handle
	 * are known to be on the root's mount (fdcache.c); others may be
	 * on a mount below it of another type. */
	r->no_flush = fs->close_noop && h->node &&
		      (h->node == &fs->root || h->node->fh);
}

/*
 * A read-only open of a regular file, without O_TRUNC or O_DIRECT, cannot
 * fail for the daemon (root) once the kernel has checked the requestor's
 * permission, and has nothing to do at open time: its fd is opened at the
 * first operation that needs one (lower_handle_fd). Only for a daemon whose
 * capabilities let it open the file whatever its mode and owner are by
 * then (lower_can_defer): an fd opened by open(2) keeps working after a
 * chmod 000, and so must a deferred one; a daemon without them (a user's
 * mount) opens at once, as the kernel would. With the fast path
 * none may come: the kernel opens its own backing file, and takes the
 * node's O_PATH fd for the registration (backing_fd). A file read once
 * (a cold small-file read) then costs no reopen through /proc and no
 * close. Opens for writing stay eager: EROFS, ETXTBSY, an immutable file
 * and O_TRUNC belong to open(2).
 */
static bool open_deferrable(const struct lower_fs *fs,
			    const struct lower_inode *n, int flags)
{
	return fs->defer_ro &&
	       (!(flags & O_NOATIME) || fs->defer_noatime) &&
	       (flags & O_ACCMODE) == O_RDONLY &&
	       !(flags & (O_TRUNC | O_DIRECT | O_CREAT)) &&
	       S_ISREG(n->type);
}

void lower_op_open(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	int flags = lower_open_flags(fs, data->params.open.flags);
	struct lower_handle *h;
	bool deferred;
	int fd;

	/* pin first: the file may lose its last name while open, and an
	 * unlinked inode cannot be reopened by handle (fdcache.c) */
	fd = lower_inode_pin(fs, n);
	if (fd < 0) {
		n = NULL;
		goto out_unpin;
	}
	deferred = open_deferrable(fs, n, flags);
	if (!deferred) {
		fd = lower_reopen(fs, n, flags);
		if (fd < 0)
			goto out_unpin;
	}
	h = lower_handle_new(fs, n, deferred ? -1 : fd, NULL);
	if (!h) {
		if (!deferred)
			lower_sys_close(fd);
		fd = -ENOMEM;
		goto out_unpin;
	}
	h->flags = flags;
	h->odirect = (flags & O_DIRECT) != 0;
	fill_open_result(fs, &data->results.open, h, flags);
	data->io_status.status = 0;
	return;

out_unpin:
	if (n)
		lower_inode_unpin(fs, n);
	data->io_status.status = fd;
}

void lower_op_create(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *parent =
		lower_inode_get(fs, data->params.create.parent);
	const char *name = data->params.create.name;
	int flags = lower_open_flags(fs, data->params.create.flags);
	char fdname[LOWER_FDNAME_LEN];
	struct lower_handle *h;
	struct lower_inode *n;
	bool created = true;
	struct stat st;
	mode_t mode;
	int fd, pfd, dfd, ret;

	flags = (flags | O_CREAT) & ~O_NOFOLLOW;
	/* Try exclusively first: only a file we made gets the requestor's
	 * ownership. The kernel sends CREATE for names it believes absent,
	 * but the file may have appeared in the lower directory since. */
	dfd = lower_inode_fd(fs, parent);
	if (dfd < 0) {
		ret = dfd;
		goto out;
	}
	mode = lower_umask_apply(data->params.create.mode,
				 data->requestor.umask);
	fd = lower_sys_openat(dfd, name, flags | O_EXCL, mode);
	if (fd == -EEXIST && !(flags & O_EXCL)) {
		created = false;
		fd = lower_sys_openat(dfd, name, flags, mode);
	}
	lower_inode_fd_put(fs, parent);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	/* the node's O_PATH fd: the inode we just opened, not the name */
	pfd = lower_sys_openat(fs->proc_self_fd, lower_fd_name(fd, fdname),
			       O_PATH, 0);
	if (pfd < 0) {
		ret = pfd;
		goto out_close;
	}
	ret = lower_sys_fstatat(pfd, "", &st, AT_EMPTY_PATH);
	if (ret < 0) {
		lower_sys_close(pfd);
		goto out_close;
	}
	ret = lower_inode_from_fd(fs, pfd, &st, &data->results.entry);
	if (ret < 0)
		goto out_close;
	n = lower_inode_get(fs, data->results.entry.ino);
	/* as lower_op_open: the handle keeps the node's fd */
	ret = lower_inode_pin(fs, n);
	if (ret < 0) {
		lower_inode_unref(fs, n, 1);
		goto out_close;
	}
	/* as in finish_new() of ops_entry.c: not fatal */
	if (created &&
	    lower_set_owner(fs, parent, n, &data->requestor) > 0)
		lower_stat_inode(fs, n, &data->results.entry.attr);
	h = lower_handle_new(fs, n, fd, NULL);
	if (!h) {
		lower_inode_unpin(fs, n);
		lower_inode_unref(fs, n, 1);
		ret = -ENOMEM;
		goto out_close;
	}
	h->flags = flags;
	h->odirect = (flags & O_DIRECT) != 0;
	fill_open_result(fs, &data->results.open, h, flags);
	if (created)
		lower_new_timeouts(fs, &data->results.entry);
	ret = 0;
	goto out;

out_close:
	lower_sys_close(fd);
out:
	data->io_status.status = ret;
}

/* pread until @size bytes or EOF: a short read means EOF to the kernel
 * (unless direct_io), so it must not come from an interrupted call. */
static ssize_t read_full(int fd, void *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t r = lower_sys_pread(fd, (char *)buf + done,
					    size - done, off + (off_t)done);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static ssize_t write_full(int fd, const void *buf, size_t size, off_t off)
{
	size_t done = 0;

	while (done < size) {
		ssize_t r = lower_sys_pwrite(fd, (const char *)buf + done,
					     size - done, off + (off_t)done);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static bool dio_misaligned(const void *buf, size_t size)
{
	return (((uintptr_t)buf | size) & (LOWER_DIO_ALIGN - 1)) != 0;
}

static size_t dio_round_up(size_t size)
{
	return (size + LOWER_DIO_ALIGN - 1) & ~(size_t)(LOWER_DIO_ALIGN - 1);
}

/*
 * O_DIRECT on the lower fd needs an aligned buffer and length. The caller's
 * may not be (the kernel hands FUSE any user buffer), so read into an
 * aligned bounce buffer of the rounded-up length and copy out. A misaligned
 * offset is the lower file system's business (EINVAL, as natively). One
 * call, no loop: a short direct read is a valid answer.
 */
static ssize_t read_direct(int fd, void *buf, size_t size, off_t off)
{
	size_t len = dio_round_up(size);
	void *bounce;
	ssize_t r;

	if (!dio_misaligned(buf, size))
		return lower_sys_pread(fd, buf, size, off);
	if (posix_memalign(&bounce, LOWER_DIO_ALIGN, len ? len : 1))
		return -ENOMEM;
	r = lower_sys_pread(fd, bounce, len, off);
	if (r > 0) {
		if ((size_t)r > size)
			r = (ssize_t)size;
		memcpy(buf, bounce, (size_t)r);
	}
	free(bounce);
	return r;
}

/* Only the memory alignment can be fixed for a write: the length is what
 * the caller writes, so a misaligned one fails below as it would natively. */
static ssize_t write_direct(int fd, const void *buf, size_t size, off_t off)
{
	void *bounce;
	ssize_t r;

	if (!((uintptr_t)buf & (LOWER_DIO_ALIGN - 1)))
		return lower_sys_pwrite(fd, buf, size, off);
	if (posix_memalign(&bounce, LOWER_DIO_ALIGN, size ? size : 1))
		return -ENOMEM;
	memcpy(bounce, buf, size);
	r = lower_sys_pwrite(fd, bounce, size, off);
	free(bounce);
	return r;
}

/*
 * Readahead of the lower file for sequential reads through the daemon.
 * The kernel sends a sequential reader's READs one (1 MiB) window at a
 * time, and each waited for its lower data, then for the filters' work
 * (decryption), with the disk idle in between: a cold sequential read
 * through crypt ran at a quarter of the disk's speed. After a large read
 * that continues the previous one, the next two windows are requested
 * from the lower file system (POSIX_FADV_WILLNEED starts the I/O and
 * returns; pages already cached cost nothing).
 *
 * The kernel has several of a reader's READs in flight at once, and the
 * worker threads finish them in any order: a read that does not continue
 * the last one finished may still be part of the stream. A read that
 * starts inside the range already requested counts as sequential too,
 * and each request only asks for what lies beyond that range (strace of
 * a cold 512 MiB read through crypt: one WILLNEED per two READs and
 * preads waiting for the disk, where the stream was not recognised).
 */
#define RA_MIN (64u << 10)
#define RA_WINDOWS 2u
#define RA_AHEAD (4u << 20)

/*
 * Small READs (crypt asks for 128 KiB ones) would keep the lower file only
 * two small windows (256 KiB) ahead, less than the disk needs to stay
 * busy, with a WILLNEED per READ: the range asked for reaches at least
 * RA_AHEAD beyond the read, and is topped up only when less than half of
 * that is left. Cold 512 MiB through crypt, 20 interleaved rounds: 1.11x
 * (median; 1.14x-1.28x on a moderately loaded machine, 0.96x on a heavily
 * loaded one); 1 MiB ahead gave less.
 */
static void lower_readahead(struct lower_handle *h, int fd, off_t off,
			    ssize_t r)
{
	uint64_t o = (uint64_t)off, end = o + (uint64_t)r, expect, done, want;
	uint64_t ahead = RA_WINDOWS * (uint64_t)r;
	bool again;

	if (r <= 0)
		return;
	expect = atomic_exchange_explicit(&h->ra_next, end,
					  memory_order_relaxed);
	if ((size_t)r < RA_MIN)
		return;
	if (ahead < RA_AHEAD)
		ahead = RA_AHEAD;
	want = end + ahead;
	done = atomic_load_explicit(&h->ra_done, memory_order_relaxed);
	/* a stream again from further back (a second pass) */
	again = o == expect && done > want + ahead + (uint64_t)r;
	if (!again && o != expect && o >= done)
		return;		/* neither continues nor lies in the range */
	do {
		if (!again && done >= end + ahead / 2)
			return;	/* enough asked for (maybe by another thread) */
	} while (!atomic_compare_exchange_weak_explicit(
		&h->ra_done, &done, want, memory_order_relaxed,
		memory_order_relaxed));
	if (again || done < end)
		done = end;	/* a new stream, or one that outran it */
	posix_fadvise(fd, (off_t)done, (off_t)(want - done),
		      POSIX_FADV_WILLNEED);
}

void lower_op_read(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.read.fh);
	int fd = lower_handle_fd(fs, h);
	ssize_t r;

	if (fd < 0) {
		r = fd;
	} else if (h->odirect) {
		r = read_direct(fd, data->params.read.buf,
				data->params.read.size,
				data->params.read.offset);
	} else {
		r = read_full(fd, data->params.read.buf,
			      data->params.read.size, data->params.read.offset);
		lower_readahead(h, fd, data->params.read.offset, r);
	}
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_write(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.write.fh);
	int fd = lower_handle_fd(fs, h);
	ssize_t r;

	if (fd < 0)
		r = fd;
	else if (h->odirect)
		r = write_direct(fd, data->params.write.buf,
				 data->params.write.size,
				 data->params.write.offset);
	else
		r = write_full(fd, data->params.write.buf,
			       data->params.write.size,
			       data->params.write.offset);
	if (r > 0 && data->params.write.kill_priv)
		/* the data is written; a failure here cannot undo it and
		 * the write must still report its bytes */
		lower_kill_suidgid(fs, NULL, h);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_flush(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.flush.fh);
	int fd;

	/* close() of a duplicate gives the lower file system its close
	 * semantics (NFS writes back and reports errors at close) while
	 * the handle stays open for later I/O */
	fd = atomic_load_explicit(&h->fd, memory_order_acquire);
	if (fd < 0) {
		/* a deferred open never used: no file to close */
		data->io_status.status = 0;
		return;
	}
	fd = lower_sys_dup(fd);
	data->io_status.status = fd < 0 ? fd : lower_sys_close(fd);
}

void lower_op_release(struct lower_fs *fs, struct flt_callback_data *data)
{
	lower_handle_free(fs, lower_handle_get(data->params.release.fh));
	data->io_status.status = 0;
}

void lower_op_fsync(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.fsync.fh);
	int fd = lower_handle_fd(fs, h);

	data->io_status.status =
		fd < 0 ? fd : lower_sys_fsync(fd, data->params.fsync.datasync);
}

void lower_op_fallocate(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.fallocate.fh);
	int fd = lower_handle_fd(fs, h);

	data->io_status.status = fd < 0 ? fd : lower_sys_fallocate(
		fd, data->params.fallocate.mode,
		data->params.fallocate.offset, data->params.fallocate.length);
}

void lower_op_copy_file_range(struct lower_fs *fs,
			      struct flt_callback_data *data)
{
	struct lower_handle *in =
		lower_handle_get(data->params.copy_file_range.fh_in);
	struct lower_handle *out =
		lower_handle_get(data->params.copy_file_range.fh_out);
	off_t off_in = data->params.copy_file_range.off_in;
	off_t off_out = data->params.copy_file_range.off_out;
	int fd_in = lower_handle_fd(fs, in), fd_out;
	ssize_t r;

	fd_out = fd_in < 0 ? fd_in : lower_handle_fd(fs, out);
	if (fd_out < 0)
		r = fd_out;
	else
		r = lower_sys_copy_file_range(
			fd_in, &off_in, fd_out, &off_out,
			data->params.copy_file_range.len,
			(unsigned)data->params.copy_file_range.flags);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->io_status.information = r < 0 ? 0 : (uint64_t)r;
}

void lower_op_lseek(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.lseek.fh);
	int fd = lower_handle_fd(fs, h);
	off_t r;

	/* the fd's own position is never used for I/O (pread/pwrite), so
	 * moving it here disturbs nothing */
	r = fd < 0 ? fd : lower_sys_lseek(fd, data->params.lseek.offset,
					  data->params.lseek.whence);
	data->io_status.status = r < 0 ? (int)r : 0;
	data->results.offset = r < 0 ? 0 : r;
}
