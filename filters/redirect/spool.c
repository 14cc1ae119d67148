/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The spool: one directory per volume, REDIR_SPOOL_NAME at the lower root,
 * where copies (materialise.c) build their temp files before renaming them
 * over the name.
 *
 * Why one place: a kill -9 (or a power cut) in the middle of a copy leaves
 * its temp file behind. Next to the file it stayed until the next copy of
 * that very name, which may never come (the file never opened again, the
 * rule removed), and finding such leftovers would take a walk of the whole
 * tree. In the spool, the next instance setup finds every one with one
 * lookup and the listing of a directory that is normally absent or empty,
 * and removes them before any copy can start.
 *
 * Whose files: the spool carries the marker REDIR_XATTR "v1 spool", set
 * when we create it. A directory of that name without it is not ours: it is
 * never used or emptied (copies then keep their temp files next to the
 * file, as below). In the spool only names of the temp pattern
 * (redir_is_temp_name) are removed; temp names are unique per copy (a
 * random 64-bit start per instance, counted up, created O_EXCL). The volume
 * never shows the spool (lookup ENOENT, left out of the root's listings,
 * not creatable: redir_is_hidden_name).
 *
 * When not: a file whose lower directory is on another file system than
 * the spool (a mount inside the lower directory: the rename would be EXDEV)
 * is copied through a temp file in its own directory, named by a hash of
 * its name; a leftover of a crash there is removed by the next copy of
 * that name, as before the spool. So is one under a bind mount of the
 * spool's own file system, which no st_dev tells apart: its rename out of
 * the spool fails with EXDEV and the copy is made again next to the file
 * (materialise.c, replace()).
 *
 * Life: created by the first copy that needs it, removed at teardown when
 * empty (the copies are cancelled and drained by then), so a cleanly
 * unmounted lower directory keeps no trace of it; after a crash it is swept
 * and removed at the next setup. Two instances on one lower directory at
 * once (two mounts of it) share it: the second's setup removes the first's
 * running temp files, whose copies then fail (the files stay redirects;
 * nothing is lost).
 *
 * Locks: ri->spool_lock serialises creating the spool (mkdir, then the
 * marker) with looking it up, so no copy sees it unmarked; held across
 * that I/O, taken by copies only (never on a read or lookup path).
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_MARKER "v1 spool"

static bool marked(struct redir_inst *ri, const struct flt_entry *e)
{
	char buf[32];

	return S_ISDIR(e->attr.st_mode) &&
	       !redir_marker_get(ri, e->ino, buf, sizeof(buf)) &&
	       !strcmp(buf, SPOOL_MARKER);
}

static void remove_spool(struct redir_inst *ri)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_RMDIR,
						   FLT_ROOT_INO);

	if (d) {
		d->params.unlink.parent = FLT_ROOT_INO;
		d->params.unlink.name = REDIR_SPOOL_NAME;
	}
	redir_io_run(d);	/* ENOTEMPTY: something else is in it */
}

static int create_locked(struct redir_inst *ri, struct flt_entry *e)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_MKDIR,
						   FLT_ROOT_INO);
	int ret;

	if (!d)
		return -ENOMEM;
	d->params.mkdir.parent = FLT_ROOT_INO;
	d->params.mkdir.name = REDIR_SPOOL_NAME;
	d->params.mkdir.mode = S_IFDIR | 0700;
	ret = flt_perform_synchronous_io(d);
	if (!ret)
		*e = d->results.entry;
	flt_free_callback_data(d);
	if (ret)
		return ret;
	d = redir_io_new(ri, FLT_OP_SETXATTR, e->ino);
	if (d) {
		d->params.setxattr.name = REDIR_XATTR;
		d->params.setxattr.value = SPOOL_MARKER;
		d->params.setxattr.size = strlen(SPOOL_MARKER);
	}
	ret = redir_io_run(d);
	if (ret) {		/* no xattrs: copies could not commit anyway */
		redir_forget(ri, e->ino);
		remove_spool(ri);
	}
	return ret;
}

int redir_spool_get(struct redir_inst *ri, flt_ino_t parent, flt_ino_t *out)
{
	struct flt_entry e;
	struct stat pst;
	int ret;

	*out = parent;
	pthread_mutex_lock(&ri->spool_lock);
	ret = redir_lookup_child(ri, FLT_ROOT_INO, REDIR_SPOOL_NAME, &e);
	if (ret == -ENOENT)
		ret = create_locked(ri, &e);
	if (!ret && !marked(ri, &e)) {
		redir_forget(ri, e.ino);
		ret = -EEXIST;
	}
	if (!ret)
		ri->spool_used = true;
	pthread_mutex_unlock(&ri->spool_lock);
	if (ret) {
		if (!atomic_exchange(&ri->spool_warned, true))
			flt_log(LOG_WARNING, "redirect: no spool /%s in the "
				"lower directory (%s): copies keep their temp "
				"files next to the file", REDIR_SPOOL_NAME,
				ret == -EEXIST ? "a name that is not ours"
					       : strerror(-ret));
		return ret;
	}
	/* the rename out of the spool must not cross file systems */
	ret = flt_query_information(ri->instance, parent, &pst);
	if (ret || pst.st_dev != e.attr.st_dev) {
		redir_forget(ri, e.ino);
		return ret ? ret : -EXDEV;
	}
	*out = e.ino;
	return 0;
}

void redir_spool_name(struct redir_inst *ri, char *buf, size_t len)
{
	snprintf(buf, len, REDIR_TEMP_PREFIX "%016llx.tmp",
		 (unsigned long long)atomic_fetch_add(&ri->spool_seq, 1));
}

/* The temp names in the spool @ino (malloc'd, NULL-terminated), or NULL. */
static char **list_temps(struct redir_inst *ri, flt_ino_t ino)
{
	struct flt_callback_data *d = redir_io_new(ri, FLT_OP_OPENDIR, ino);
	char **v = NULL;
	size_t n = 0, cap = 0;
	uint64_t fh;
	off_t off = 0;
	int ret;

	if (!d)
		return NULL;
	ret = flt_perform_synchronous_io(d);
	fh = d->results.open.fh;
	flt_free_callback_data(d);
	if (ret)
		return NULL;
	for (;;) {
		size_t got;

		d = redir_io_new(ri, FLT_OP_READDIR, ino);
		if (!d)
			break;
		d->params.readdir.fh = fh;
		d->params.readdir.offset = off;
		d->params.readdir.size = 64 * 1024;
		ret = flt_perform_synchronous_io(d);
		got = ret ? 0 : d->results.dirents.n;
		for (size_t i = 0; i < got; i++) {
			struct flt_dirent *de = &d->results.dirents.v[i];
			char **nv;

			off = de->next_off;
			if (!redir_is_temp_name(de->name))
				continue;
			if (n + 2 > cap) {
				cap = cap ? 2 * cap : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					got = 0;
					break;
				}
				v = nv;
			}
			v[n] = strdup(de->name);
			if (v[n])
				v[++n] = NULL;
		}
		flt_free_callback_data(d);
		if (!got)
			break;
	}
	redir_release(ri, ino, fh, true);
	return v;
}

void redir_spool_init(struct redir_inst *ri)
{
	uint64_t seed;

	pthread_mutex_init(&ri->spool_lock, NULL);
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	atomic_init(&ri->spool_seq, seed);
	atomic_init(&ri->spool_warned, false);
	ri->spool_used = false;
}

void redir_spool_sweep(struct redir_inst *ri)
{
	struct flt_entry e;
	size_t n = 0;
	char **v;

	if (redir_lookup_child(ri, FLT_ROOT_INO, REDIR_SPOOL_NAME, &e))
		return;		/* the common case: no spool */
	if (!marked(ri, &e)) {
		flt_log(LOG_WARNING, "redirect: /%s in the lower directory "
			"is not the filter's spool (no marker): left alone",
			REDIR_SPOOL_NAME);
		redir_forget(ri, e.ino);
		return;
	}
	v = list_temps(ri, e.ino);
	for (size_t i = 0; v && v[i]; i++) {
		if (!redir_unlink_child(ri, e.ino, v[i]))
			n++;
		free(v[i]);
	}
	free(v);
	redir_forget(ri, e.ino);
	remove_spool(ri);
	if (n)
		flt_log(LOG_NOTICE, "redirect: removed %zu temp file(s) of "
			"copies interrupted by a crash from /%s", n,
			REDIR_SPOOL_NAME);
}

void redir_spool_destroy(struct redir_inst *ri)
{
	struct flt_entry e;
	bool used;

	pthread_mutex_lock(&ri->spool_lock);
	used = ri->spool_used;
	pthread_mutex_unlock(&ri->spool_lock);
	/* only a spool of ours, and only when empty */
	if (used &&
	    !redir_lookup_child(ri, FLT_ROOT_INO, REDIR_SPOOL_NAME, &e)) {
		bool ours = marked(ri, &e);

		redir_forget(ri, e.ino);
		if (ours)
			remove_spool(ri);
	}
}
