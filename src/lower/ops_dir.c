/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory handles: opendir, readdir (and readdirplus), releasedir,
 * fsyncdir. */
#include "lower/lower_int.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

void lower_op_opendir(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_inode *n = lower_inode_get(fs, data->ino);
	struct lower_handle *h;
	DIR *dp;
	int fd, ret;

	/* pinned while open: a removed directory cannot be reopened by
	 * handle (fdcache.c) */
	ret = lower_inode_pin(fs, n);
	if (ret < 0)
		goto out;
	fd = lower_reopen(fs, n, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		ret = fd;
		goto out_unpin;
	}
	ret = lower_sys_fdopendir(fd, &dp);
	if (ret < 0) {
		lower_sys_close(fd);
		goto out_unpin;
	}
	h = lower_handle_new(fs, n, fd, dp);
	if (!h) {
		lower_sys_closedir(dp);
		ret = -ENOMEM;
		goto out_unpin;
	}
	memset(&data->results.open, 0, sizeof(data->results.open));
	data->results.open.fh = (uint64_t)(uintptr_t)h;
	/* the watch invalidates the listing when the directory changes
	 * (watch.c), so the kernel may keep it across opens; the manager
	 * clears this when an instance wants to see every listing */
	if (lower_watch_covers(fs, n->dev)) {
		data->results.open.cache_readdir = 1;
		data->results.open.keep_cache = 1;
	}
	data->io_status.status = 0;
	return;

out_unpin:
	lower_inode_unpin(fs, n);
out:
	data->io_status.status = ret;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (!name[1] || (name[1] == '.' && !name[2]));
}

/*
 * Turn the pending entry of @h into a dirent of @d. For readdirplus, look
 * it up (one lookup reference, dropped again if the add fails), except
 * "." and "..", which the kernel does not take nodes for: those get only
 * st_ino and the type in entry.attr, entry.ino 0.
 */
static int emit_pending(struct lower_fs *fs, struct lower_inode *dir,
			struct lower_handle *h, struct flt_dirents *d, int plus)
{
	struct flt_entry e;
	struct flt_dirent *de;
	unsigned type = h->pending_ent.type;
	bool ref = false;
	int ret;

	memset(&e, 0, sizeof(e));
	if (plus && !is_dot_or_dotdot(h->pending_ent.name)) {
		/* the name's node is what the lookup's stat by name finds
		 * (an entry removed since the readdir is skipped) */
		uint64_t seq = lower_dirent_seq(fs);

		ret = lower_lookup_dirent(fs, dir, h->fd, h->pending_ent.name,
					  h->pending_ent.ino, &e);
		if (ret < 0)
			return ret;
		lower_dirent_settle(fs, seq, &e);
		ref = true;
		type = IFTODT(e.attr.st_mode);
	} else if (plus) {
		e.attr.st_ino = h->pending_ent.ino;
		e.attr.st_mode = DTTOIF(type);
	}
	ret = flt_dirents_add(d, h->pending_ent.name,
			      ref ? (uint64_t)e.attr.st_ino : h->pending_ent.ino,
			      type, h->pending_ent.next_off, &de);
	if (ret < 0) {
		if (ref)
			lower_inode_unref(fs, lower_inode_get(fs, e.ino), 1);
		return ret;
	}
	de->entry = e;
	return 0;
}

/*
 * Entries from params.readdir.offset on, until the next one would pass the
 * byte budget (at least one if any remain). The stream position and one
 * read-but-unreturned entry stay in the handle, so a continuation at the
 * offset we returned costs no seek and loses nothing. Offsets are the lower
 * file system's telldir cookies, stable across seekdir.
 */
void lower_op_readdir(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.readdir.fh);
	struct lower_inode *dir = lower_inode_get(fs, data->ino);
	struct flt_dirents *d = &data->results.dirents;
	size_t budget = data->params.readdir.size, used = 0, added = 0;
	int plus = data->params.readdir.plus;
	int err = 0;

	pthread_mutex_lock(&h->lock);
	if (data->params.readdir.offset != h->offset) {
		lower_sys_seekdir(h->dp, data->params.readdir.offset);
		h->offset = data->params.readdir.offset;
		h->pending = false;
	}
	for (;;) {
		size_t sz;
		int ret;

		if (!h->pending) {
			struct dirent *de;
			size_t len;

			ret = lower_sys_readdir(h->dp, &de);
			if (ret < 0) {
				err = ret;
				break;
			}
			if (!de)
				break; /* end of directory */
			h->pending_ent.ino = de->d_ino;
			h->pending_ent.type = de->d_type;
			h->pending_ent.next_off = lower_sys_telldir(h->dp);
			/* d_name holds at most NAME_MAX bytes + NUL */
			len = strnlen(de->d_name,
				      sizeof(h->pending_ent.name) - 1);
			memcpy(h->pending_ent.name, de->d_name, len);
			h->pending_ent.name[len] = '\0';
			h->pending = true;
		}
		sz = flt_dirent_size(strlen(h->pending_ent.name), plus);
		if (added && used + sz > budget)
			break; /* stays pending for the next call */
		ret = emit_pending(fs, dir, h, d, plus);
		if (ret == -ENOENT) {
			/* removed since readdir saw it: skip, as a later
			 * readdir of the directory would */
			h->pending = false;
			h->offset = h->pending_ent.next_off;
			continue;
		}
		if (ret < 0) {
			err = ret; /* stays pending: retried next call */
			break;
		}
		used += sz;
		added++;
		h->pending = false;
		h->offset = h->pending_ent.next_off;
	}
	pthread_mutex_unlock(&h->lock);
	/* what was read is returned; the error only if there is nothing */
	data->io_status.status = added ? 0 : err;
}

void lower_op_releasedir(struct lower_fs *fs, struct flt_callback_data *data)
{
	lower_handle_free(fs, lower_handle_get(data->params.release.fh));
	data->io_status.status = 0;
}

void lower_op_fsyncdir(struct lower_fs *fs, struct flt_callback_data *data)
{
	struct lower_handle *h = lower_handle_get(data->params.fsync.fh);

	data->io_status.status =
		lower_sys_fsync(h->fd, data->params.fsync.datasync);
}
