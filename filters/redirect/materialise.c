/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Materialisation (copy-on-write and hydrate): copy a redirected file's
 * backing content into the lower file, so that from then on it is an
 * ordinary lower file.
 *
 * Crash safety. Everything happens below the filter (filter-initiated I/O,
 * never through the volume) in the lower directory of the file:
 *   1. create a temp file ".fsfilter-redirect-<16 hex>.tmp" (O_EXCL) in the
 *      volume's spool directory (spool.c: a leftover of a crash there is
 *      removed at the next instance setup), or, when the file's directory
 *      is on another file system than the spool, next to the file under a
 *      hash of its name (a leftover is removed by the next copy of it),
 *   2. copy the backing content into it, set the marker xattr
 *      REDIR_XATTR on it, fsync it,
 *   3. rename it over the name, fsync the file's directory.
 * The rename is the commit point: a crash before it leaves the old lower
 * file (or no file, for a virtual one) and at most a temp file, and the
 * rule still applies; after it the name is the complete copy with its
 * marker. The marker is what makes the rule stop applying, persistently:
 * a lower file carrying it is never redirected again (redir_note_entry).
 * Neither "newer than the backing" nor "different from the backing" would
 * do: a lower file that a rule shadows from the start may be either.
 *
 * The file then is a *new* lower inode, while the kernel still has the old
 * node (the shadowed lower inode or the virtual node) under that name. The
 * operation that asked (open for writing, truncate; for hydrate any open)
 * is answered -ESTALE: the VFS retries the whole path walk once with
 * LOOKUP_REVAL (do_filp_open, do_sys_truncate), FUSE revalidates the
 * dentry with a LOOKUP, sees another node id, and the retry opens the new
 * file. Other cached dentries and the old node's attributes/pages are
 * invalidated from the instance's invalidation thread (inval.c): never from
 * here, the kernel may hold locks of the very inode while it waits for us.
 *
 * Who runs a copy and when (one per volume path at a time, background
 * hydrations, waiting writers, cancel) is hydrate.c's business: this file
 * does one copy for a struct redir_job, publishing its progress in
 * j->done / j->total and stopping between chunks when j->cancel is set
 * (the temp file is unlinked, the name is untouched: still a redirect).
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK (1u << 20)

struct flt_callback_data *redir_io_new(struct redir_inst *ri, enum flt_op op,
				       flt_ino_t ino)
{
	struct flt_callback_data *d;

	if (flt_allocate_callback_data(ri->instance, op, &d))
		return NULL;
	d->ino = ino;
	return d;
}

int redir_io_run(struct flt_callback_data *d)
{
	int ret;

	if (!d)
		return -ENOMEM;
	ret = flt_perform_synchronous_io(d);
	flt_free_callback_data(d);
	return ret;
}

int redir_lookup_child(struct redir_inst *ri, flt_ino_t parent,
		       const char *name, struct flt_entry *e)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_LOOKUP, parent);
	int ret;

	if (!d)
		return -ENOMEM;
	d->params.lookup.parent = parent;
	d->params.lookup.name = name;
	ret = flt_perform_synchronous_io(d);
	if (!ret && !d->results.entry.ino)
		ret = -ENOENT;
	if (!ret)
		*e = d->results.entry;
	flt_free_callback_data(d);
	return ret;
}

void redir_forget(struct redir_inst *ri, flt_ino_t ino)
{
	if (ino && ino != FLT_ROOT_INO)
		flt_forget(ri->instance, ino, 1);
}

int redir_marker_get(struct redir_inst *ri, flt_ino_t ino, char *buf,
		     size_t len)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_GETXATTR, ino);
	int ret;

	if (!d)
		return -ENOMEM;
	d->params.getxattr.name = REDIR_XATTR;
	d->params.getxattr.buf = buf;
	d->params.getxattr.size = len - 1;
	ret = flt_perform_synchronous_io(d);
	if (!ret)
		buf[d->io_status.information < len ? d->io_status.information
						   : len - 1] = '\0';
	flt_free_callback_data(d);
	return ret;
}

bool redir_is_materialised(struct redir_inst *ri, flt_ino_t ino)
{
	char buf[64];

	return !redir_marker_get(ri, ino, buf, sizeof(buf));
}

bool redir_name_materialised(struct redir_inst *ri, flt_ino_t parent,
			     const char *name)
{
	struct flt_entry e;
	bool done;

	if (redir_is_virtual(parent) || redir_lookup_child(ri, parent, name, &e))
		return false;
	done = S_ISREG(e.attr.st_mode) && redir_is_materialised(ri, e.ino);
	redir_forget(ri, e.ino);
	return done;
}

/* The lower directory @dir ("" = root) with one lookup reference (none for
 * the root); missing components are created (a virtual directory of a
 * prefix rule becomes a real one) with the mode of the backing directory
 * they stand for, or 0755. */
static int lower_dir(struct redir_inst *ri, const char *dir, flt_ino_t *out)
{
	char *copy = strdup(dir), *save = NULL, *comp;
	char sofar[4096] = "";
	flt_ino_t cur = FLT_ROOT_INO;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (comp = strtok_r(copy, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		struct flt_entry e;
		char tmp[4096];

		if (redir_path_join(sofar, comp, tmp, sizeof(tmp))) {
			ret = -ENAMETOOLONG;
			break;
		}
		memcpy(sofar, tmp, sizeof(sofar));
		ret = redir_lookup_child(ri, cur, comp, &e);
		if (ret == -ENOENT) {
			struct flt_callback_data *d =
				redir_io_new(ri, FLT_OP_MKDIR, cur);
			struct redir_rules *rules = redir_rules_get(ri);
			struct redir_match m;
			struct stat st;
			mode_t mode = 0755;

			if (redir_match_path(rules, sofar, &m) &&
			    !redir_backing_stat(m.backing, &st) &&
			    S_ISDIR(st.st_mode))
				mode = st.st_mode & 07777;
			redir_rules_put(rules);
			if (!d) {
				ret = -ENOMEM;
				break;
			}
			d->params.mkdir.parent = cur;
			d->params.mkdir.name = comp;
			d->params.mkdir.mode = S_IFDIR | mode;
			ret = flt_perform_synchronous_io(d);
			if (!ret)
				e = d->results.entry;
			flt_free_callback_data(d);
			if (ret == -EEXIST)	/* a racing mkdir */
				ret = redir_lookup_child(ri, cur, comp, &e);
			if (!ret)
				redir_inval_queue(ri, cur, comp, 0);
		}
		redir_forget(ri, cur);
		cur = 0;
		if (ret)
			break;
		if (!S_ISDIR(e.attr.st_mode)) {
			redir_forget(ri, e.ino);
			ret = -ENOTDIR;
			break;
		}
		cur = e.ino;
	}
	free(copy);
	if (!ret)
		*out = cur;
	return ret;
}

int redir_unlink_child(struct redir_inst *ri, flt_ino_t parent,
		       const char *name)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_UNLINK, parent);

	if (!d)
		return -ENOMEM;
	d->params.unlink.parent = parent;
	d->params.unlink.name = name;
	return redir_io_run(d);
}

int redir_release(struct redir_inst *ri, flt_ino_t ino, uint64_t fh, bool dir)
{
	struct flt_callback_data *d =
		redir_io_new(ri, dir ? FLT_OP_RELEASEDIR : FLT_OP_RELEASE, ino);

	if (!d)
		return -ENOMEM;
	d->params.release.fh = fh;
	return redir_io_run(d);
}

/* Copy the backing file of @j into (@ino, @fh). */
static int copy_backing(struct redir_inst *ri, struct redir_job *j,
			flt_ino_t ino, uint64_t fh)
{
	char *buf = malloc(COPY_CHUNK);
	off_t off = 0;
	struct stat st;
	int fd, ret = 0;

	if (!buf)
		return -ENOMEM;
	fd = redir_backing_open(j->backing);
	if (fd < 0) {
		free(buf);
		return fd;
	}
	if (!fstat(fd, &st))
		atomic_store(&j->total, (uint64_t)st.st_size);
	for (;;) {
		ssize_t n;
		size_t done = 0;

		if (atomic_load(&j->cancel)) {
			ret = -ECANCELED;
			break;
		}
		n = redir_backing_read(fd, buf, COPY_CHUNK, off, 0);
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		while (!ret && done < (size_t)n) {
			struct flt_callback_data *d =
				redir_io_new(ri, FLT_OP_WRITE, ino);

			if (!d) {
				ret = -ENOMEM;
				break;
			}
			d->params.write.fh = fh;
			d->params.write.offset = off + (off_t)done;
			d->params.write.size = (size_t)n - done;
			d->params.write.buf = buf + done;
			ret = flt_perform_synchronous_io(d);
			if (!ret && !d->io_status.information)
				ret = -EIO;
			done += (size_t)d->io_status.information;
			flt_free_callback_data(d);
		}
		if (ret)
			break;
		off += n;
		atomic_store(&j->done, (uint64_t)off);
		if (ri->mat_delay_us)	/* tests: a window for kill -9,
					   cancel, readers */
			usleep(ri->mat_delay_us);
	}
	close(fd);
	free(buf);
	return ret;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Create the temp file @tmp in @dir, owned and moded like what the name
 * showed (@shown). */
static int create_temp(struct redir_inst *ri, flt_ino_t dir, const char *tmp,
		       const struct stat *shown, flt_ino_t *ino, uint64_t *fh)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_CREATE, dir);
	int ret;

	if (!d)
		return -ENOMEM;
	d->params.create.parent = dir;
	d->params.create.name = tmp;
	d->params.create.mode = S_IFREG | (shown->st_mode & 07777);
	d->params.create.flags = O_WRONLY | O_CREAT | O_EXCL;
	/* the copy belongs to whoever owned what the name showed */
	d->requestor.uid = shown->st_uid;
	d->requestor.gid = shown->st_gid;
	d->requestor.umask = 0;
	ret = flt_perform_synchronous_io(d);
	if (!ret) {
		*ino = d->results.entry.ino;
		*fh = d->results.open.fh;
	}
	flt_free_callback_data(d);
	return ret;
}

/* Step 1: the temp file, in the spool (spool.c) under a fresh name, or,
 * without a spool on @parent's file system (or with @spool false), in
 * @parent under a name that is a hash of @name (a leftover of a crash is
 * removed first). */
static int make_temp(struct redir_inst *ri, flt_ino_t parent,
		     const char *name, const struct stat *shown, bool spool,
		     flt_ino_t *tmpdir, char *tmp, size_t len, flt_ino_t *ino,
		     uint64_t *fh)
{
	int ret;

	*tmpdir = parent;
	if (spool && !redir_spool_get(ri, parent, tmpdir)) {
		for (int tries = 0; tries < 4; tries++) {
			redir_spool_name(ri, tmp, len);
			ret = create_temp(ri, *tmpdir, tmp, shown, ino, fh);
			if (ret != -EEXIST)
				break;
		}
		return ret;
	}
	snprintf(tmp, len, REDIR_TEMP_PREFIX "%016llx.tmp",
		 (unsigned long long)name_hash(name));
	ret = redir_unlink_child(ri, parent, tmp);
	if (ret && ret != -ENOENT)
		return ret;
	return create_temp(ri, parent, tmp, shown, ino, fh);
}

/* Steps 1-3 with the directory @parent and @name resolved, the temp file
 * in the spool if @spool. */
static int replace_via(struct redir_inst *ri, flt_ino_t parent,
		       const char *name, struct redir_job *j,
		       const struct stat *shown, const char *marker, bool spool)
{
	char tmp[64];
	struct flt_callback_data *d;
	flt_ino_t ino = 0, tmpdir = parent;
	uint64_t fh = 0;
	int ret;

	ret = make_temp(ri, parent, name, shown, spool, &tmpdir, tmp,
			sizeof(tmp), &ino, &fh);
	if (ret)
		goto out_tmpdir;
	if (!j->empty)
		ret = copy_backing(ri, j, ino, fh);
	if (!ret) {
		d = redir_io_new(ri, FLT_OP_SETXATTR, ino);
		if (d) {
			d->params.setxattr.name = REDIR_XATTR;
			d->params.setxattr.value = marker;
			d->params.setxattr.size = strlen(marker);
		}
		ret = redir_io_run(d);
		if (ret)
			flt_log(LOG_ERR, "redirect: cannot set %s in the lower "
				"directory (%s): materialising needs xattrs",
				REDIR_XATTR, strerror(-ret));
	}
	if (!ret) {
		d = redir_io_new(ri, FLT_OP_FSYNC, ino);
		if (d)
			d->params.fsync.fh = fh;
		ret = redir_io_run(d);
	}
	redir_release(ri, ino, fh, false);
	if (!ret && atomic_load(&j->cancel))
		ret = -ECANCELED;	/* the last moment to stop */
	if (!ret) {
		d = redir_io_new(ri, FLT_OP_RENAME, tmpdir);
		if (d) {
			d->params.rename.parent = tmpdir;
			d->params.rename.name = tmp;
			d->params.rename.newparent = parent;
			d->params.rename.newname = name;
		}
		ret = redir_io_run(d);	/* the commit point */
	}
	redir_forget(ri, ino);
	if (ret) {
		redir_unlink_child(ri, tmpdir, tmp);
		/* said apart from an EXDEV of the per-directory temp */
		if (ret == -EXDEV && tmpdir != parent)
			ret = -EREMOTE;
		goto out_tmpdir;
	}
	/* make the rename durable (best effort: the data already is) */
	d = redir_io_new(ri, FLT_OP_OPENDIR, parent);
	if (d && !flt_perform_synchronous_io(d)) {
		fh = d->results.open.fh;
		flt_free_callback_data(d);
		d = redir_io_new(ri, FLT_OP_FSYNCDIR, parent);
		if (d)
			d->params.fsync.fh = fh;
		redir_io_run(d);
		redir_release(ri, parent, fh, true);
	} else if (d) {
		flt_free_callback_data(d);
	}
out_tmpdir:
	if (tmpdir != parent)
		redir_forget(ri, tmpdir);
	return ret;
}

static int replace(struct redir_inst *ri, flt_ino_t parent, const char *name,
		   struct redir_job *j, const struct stat *shown,
		   const char *marker)
{
	int ret = replace_via(ri, parent, name, j, shown, marker, true);

	/* The spool's st_dev but another mount (a bind mount inside the
	 * lower directory): the rename out of the spool crossed mounts,
	 * which no stat tells before. Copied again next to the file. */
	if (ret == -EREMOTE)
		ret = replace_via(ri, parent, name, j, shown, marker, false);
	return ret;
}

/* The kernel's caches of the name and the node(s) it had: the lower
 * entry, the old lower node, the virtual node(s) of the path and their
 * entries in virtual parents. Queued for the invalidation thread. */
static void inval_after(struct redir_inst *ri, struct redir_job *j,
			flt_ino_t parent, const char *dir, const char *name,
			flt_ino_t old_ino)
{
	flt_ino_t ids[8];
	size_t n;

	redir_inval_queue(ri, parent, name, j->kernel_ino);
	if (old_ino && old_ino != j->kernel_ino)
		redir_inval_queue(ri, 0, NULL, old_ino);
	n = redir_vnode_ids(ri, dir, ids, 8);
	for (size_t i = 0; i < n; i++)
		redir_inval_queue(ri, ids[i], name, 0);
	n = redir_vnode_ids(ri, j->path, ids, 8);
	for (size_t i = 0; i < n; i++)
		if (ids[i] != j->kernel_ino)
			redir_inval_queue(ri, 0, NULL, ids[i]);
}

static void mark_targets(struct redir_inst *ri, struct redir_job *j)
{
	pthread_mutex_lock(&ri->job_lock);
	for (unsigned i = 0; i < j->nt; i++)
		atomic_store(&j->t[i]->materialised, true);
	pthread_mutex_unlock(&ri->job_lock);
}

int redir_copy_run(struct redir_inst *ri, struct redir_job *j)
{
	char dir[4096], marker[64];
	const char *name, *path = j->path, *slash = strrchr(path, '/');
	flt_ino_t parent = 0, old_ino = 0;
	struct flt_entry e;
	struct stat shown;
	bool is_virtual = true;
	struct timespec ts;
	int ret;

	if (slash) {
		if ((size_t)(slash - path) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		name = slash + 1;
	} else {
		dir[0] = '\0';
		name = path;
	}
	ret = redir_backing_stat(j->backing, &shown);
	if (ret)
		return ret;
	ret = lower_dir(ri, dir, &parent);
	if (ret)
		return ret;
	ret = redir_lookup_child(ri, parent, name, &e);
	if (!ret) {
		bool done = redir_is_materialised(ri, e.ino);

		old_ino = e.ino;
		redir_forget(ri, e.ino);
		if (done) {	/* by an earlier run, or another target */
			mark_targets(ri, j);
			goto out_parent;
		}
		if (!S_ISREG(e.attr.st_mode)) {
			ret = -EISDIR;
			goto out_parent;
		}
		/* a lower file: keep its owner and mode */
		shown.st_mode = e.attr.st_mode;
		shown.st_uid = e.attr.st_uid;
		shown.st_gid = e.attr.st_gid;
		is_virtual = false;
	} else if (ret != -ENOENT) {
		goto out_parent;
	}
	snprintf(marker, sizeof(marker), "v1 %s %s",
		 j->policy == REDIR_HYDRATE ? "hydrate" : "cow",
		 is_virtual ? "virtual" : "lower");
	atomic_store(&j->done, 0);
	atomic_store(&j->total, j->empty ? 0 : (uint64_t)shown.st_size);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	atomic_store(&j->start_ns, (uint64_t)ts.tv_sec * 1000000000u +
					   (uint64_t)ts.tv_nsec);
	ret = replace(ri, parent, name, j, &shown, marker);
	if (ret == -ECANCELED) {
		atomic_fetch_add(&ri->mat_cancelled, 1);
		flt_log(LOG_NOTICE, "redirect: copy of /%s cancelled after "
			"%llu bytes; it stays a redirect", path,
			(unsigned long long)atomic_load(&j->done));
		goto out_parent;
	}
	if (ret) {
		atomic_fetch_add(&ri->mat_failed, 1);
		flt_log(LOG_ERR, "redirect: materialising /%s from %s failed: "
			"%s", path, j->backing, strerror(-ret));
		goto out_parent;
	}
	mark_targets(ri, j);
	atomic_fetch_add(&ri->mat_count, 1);
	atomic_fetch_add(j->policy == REDIR_HYDRATE ? &ri->mat_hydrations
						    : &ri->mat_cows, 1);
	atomic_fetch_add(&ri->mat_bytes, atomic_load(&j->done));
	flt_log(LOG_INFO, "redirect: /%s is now an ordinary lower file "
		"(%s of %s)", path, marker, j->backing);
	inval_after(ri, j, parent, dir, name, old_ino);
out_parent:
	redir_forget(ri, parent);
	return ret;
}
