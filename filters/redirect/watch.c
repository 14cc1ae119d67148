/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Optional coherency with backing files (watch=on for a rule, or for the
 * whole instance): when a backing file changes behind our back, the
 * kernel's cached attributes, pages and dentries of the volume name it
 * shows as are invalidated, so readers see the new size and content
 * without a remount. Open handles keep their backing fd (a file replaced
 * by rename keeps being read through the handles opened before).
 *
 * One inotify instance and one thread per filter instance, started when
 * the first watched rule appears (instance setup, or a run-time add) and
 * stopped at teardown. Directories are watched, not files: a file replaced
 * by rename(2) is a new inode that a watch on the old one would never
 * report, while its directory sees the rename. Exact and glob rules watch
 * the backing file's directory, prefix rules every directory of the
 * backing tree (new subdirectories as they appear). Watches are bounded
 * (watch_max=, and the kernel's fs.inotify.max_user_watches): beyond the
 * bound, directories are not watched (logged once). IN_Q_OVERFLOW (the
 * kernel dropped events) invalidates everything the watched rules cover.
 *
 * The thread owns the watch table (no lock); others only ask it, through
 * an eventfd, to resynchronise with the rules (redir_watch_sync) or to
 * stop. ri->watch_lock serialises start, sync requests and stop. The
 * invalidations run on this thread, which is no volume worker and runs
 * inside no operation, as flt_invalidate_* requires.
 */
#include "filters/redirect/redir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <unistd.h>

#define WATCH_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM | \
		    IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF |    \
		    IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define WATCH_DEPTH 64		/* prefix trees: directory levels watched */

struct wdir {
	int wd;
	bool seen;		/* wanted by the rules at the last sync */
	char *dir;		/* the watched backing directory */
};

struct redir_watch {
	struct redir_inst *ri;
	int ifd, efd;
	pthread_t tid;
	atomic_bool stop;
	/* figures for status (written by the thread) */
	atomic_uint_fast64_t dirs, events, refreshed, overflows;
	/* the thread's own */
	struct wdir *v;
	size_t n, cap;
	bool warned_full;
};

static bool watched(const struct redir_inst *ri, const struct redir_rule *r)
{
	return r->watch || ri->cfg.watch_all;
}

/* ---- the watch table ------------------------------------------------------ */

static struct wdir *find_wd(struct redir_watch *w, int wd)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].wd == wd)
			return &w->v[i];
	return NULL;
}

static void add_dir(struct redir_watch *w, const char *dir)
{
	struct wdir *e;
	int wd;

	if (w->n >= w->ri->cfg.watch_max) {
		if (!w->warned_full) {
			flt_log(LOG_WARNING, "redirect: watch_max=%u "
				"directories reached; %s and further ones "
				"are not watched", w->ri->cfg.watch_max, dir);
			w->warned_full = true;
		}
		return;
	}
	wd = inotify_add_watch(w->ifd, dir, WATCH_MASK);
	if (wd < 0) {
		if (errno == ENOSPC && !w->warned_full) {
			flt_log(LOG_WARNING, "redirect: inotify watches "
				"exhausted (fs.inotify.max_user_watches); %s "
				"and further directories are not watched", dir);
			w->warned_full = true;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			flt_log(LOG_WARNING, "redirect: cannot watch %s: %s",
				dir, strerror(errno));
		}
		return;
	}
	e = find_wd(w, wd);	/* the same directory (inode) again */
	if (e) {
		e->seen = true;
		return;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct wdir *nv = realloc(w->v, cap * sizeof(*nv));

		if (!nv) {
			inotify_rm_watch(w->ifd, wd);
			return;
		}
		w->v = nv;
		w->cap = cap;
	}
	e = &w->v[w->n];
	e->dir = strdup(dir);
	if (!e->dir) {
		inotify_rm_watch(w->ifd, wd);
		return;
	}
	e->wd = wd;
	e->seen = true;
	w->n++;
}

static void add_tree(struct redir_watch *w, const char *dir, int depth)
{
	DIR *dp;
	struct dirent *de;

	add_dir(w, dir);
	if (depth >= WATCH_DEPTH || w->warned_full)
		return;		/* full: the next add_dir says so */
	dp = opendir(dir);
	if (!dp)
		return;
	while ((de = readdir(dp)) && !w->warned_full) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, "..") ||
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", dir,
				     de->d_name) >= sizeof(sub))
			continue;
		add_tree(w, sub, depth + 1);
	}
	closedir(dp);
}

static void remove_at(struct redir_watch *w, size_t i)
{
	/* clang-analyzer assumes the entry moved into slot i may share the
	 * freed dir; every entry's dir is its own strdup */
	free(w->v[i].dir); /* NOLINT(clang-analyzer-unix.Malloc) */
	w->v[i] = w->v[--w->n];
}

/* The directory part of backing file @path into @buf ("/" for "/x"). */
static void dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	snprintf(buf, len, "%.*s", (int)n, path);
}

/* Watch what the current rules want, drop the rest. */
static void sync_watches(struct redir_watch *w)
{
	struct redir_rules *rules = redir_rules_get(w->ri);
	char dir[PATH_MAX];

	for (size_t i = 0; i < w->n; i++)
		w->v[i].seen = false;
	w->warned_full = false;
	for (size_t i = 0; i < rules->n; i++) {
		const struct redir_rule *r = &rules->v[i];

		if (!watched(w->ri, r))
			continue;
		if (r->kind == REDIR_PREFIX) {
			add_tree(w, r->backing, 0);
		} else {
			dir_of(r->backing, dir, sizeof(dir));
			add_dir(w, dir);
		}
	}
	redir_rules_put(rules);
	for (size_t i = 0; i < w->n;) {
		if (w->v[i].seen) {
			i++;
			continue;
		}
		inotify_rm_watch(w->ifd, w->v[i].wd);
		remove_at(w, i);
	}
	atomic_store(&w->dirs, w->n);
}

/* ---- events ----------------------------------------------------------------- */

/* Everything the watched rules cover (events were lost). */
static void inval_all(struct redir_watch *w)
{
	struct redir_rules *rules = redir_rules_get(w->ri);

	for (size_t i = 0; i < rules->n; i++)
		if (watched(w->ri, &rules->v[i]))
			redir_inval_rule_caches(w->ri, &rules->v[i]);
	redir_rules_put(rules);
}

/* Volume path @vpath shows something else now: the lower node there (if
 * any) decides again whether and from what it is redirected (a prefix
 * rule shadows a lower file only while the backing tree has the name),
 * and the kernel's caches of the name go. */
static void refresh(struct redir_watch *w, const char *vpath)
{
	struct redir_inst *ri = w->ri;
	struct flt_entry e;

	atomic_fetch_add(&w->refreshed, 1);
	if (!flt_lookup_path(ri->instance, vpath, &e)) {
		if (!redir_is_virtual(e.ino))
			redir_snode_refresh(ri, e.ino);
		flt_forget(ri->instance, e.ino, 1);
	}
	redir_inval_volume_path(ri, vpath);
}

static void scan_new_dir(struct redir_watch *w, const char *dir, int depth);

/* Name @name changed in watched backing directory @dir: invalidate the
 * volume names it shows as. A directory that appeared in a prefix tree
 * is watched at once and then scanned (what was created in it before the
 * watch existed gets no event). */
static void changed(struct redir_watch *w, const char *dir, const char *name,
		    uint32_t mask, int depth)
{
	struct redir_rules *rules = redir_rules_get(w->ri);
	char path[PATH_MAX], vpath[PATH_MAX];
	bool new_dir = false;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s",
			     strcmp(dir, "/") ? dir : "", name) >= sizeof(path))
		goto out;
	for (size_t i = 0; i < rules->n; i++) {
		const struct redir_rule *r = &rules->v[i];
		size_t bl = strlen(r->backing);
		const char *rel;

		if (!watched(w->ri, r))
			continue;
		if (r->kind != REDIR_PREFIX) {
			if (strcmp(r->backing, path))
				continue;
			if (r->kind == REDIR_EXACT)
				refresh(w, r->path);
			else
				redir_inval_rule_caches(w->ri, r);
			continue;
		}
		/* prefix: @path inside the backing tree, at rel */
		if (strncmp(path, r->backing, bl) || path[bl] != '/')
			continue;
		rel = path + bl + 1;
		if ((size_t)snprintf(vpath, sizeof(vpath), "%s%s%s", r->path,
				     r->path[0] ? "/" : "", rel) >=
		    sizeof(vpath))
			continue;
		refresh(w, vpath);
		if ((mask & IN_ISDIR) && (mask & (IN_CREATE | IN_MOVED_TO)))
			new_dir = true;
	}
out:
	redir_rules_put(rules);
	if (new_dir && depth < WATCH_DEPTH) {
		add_tree(w, path, depth);
		scan_new_dir(w, path, depth + 1);
	}
}

static void scan_new_dir(struct redir_watch *w, const char *dir, int depth)
{
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (!dp)
		return;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* a directory in it is new as well */
		changed(w, dir, de->d_name,
			de->d_type == DT_DIR ? IN_CREATE | IN_ISDIR : IN_CREATE,
			depth);
	}
	closedir(dp);
}

/* One read's worth of events; identical (directory, name) pairs in it are
 * handled once (a large write reports IN_MODIFY per write). */
static void handle_events(struct redir_watch *w, char *buf, ssize_t len)
{
	bool resync = false;

	for (char *p = buf; p < buf + len;) {
		struct inotify_event *ev = (struct inotify_event *)p;
		struct wdir *e;
		bool dup = false;

		p += sizeof(*ev) + ev->len;
		atomic_fetch_add(&w->events, 1);
		if (ev->mask & IN_Q_OVERFLOW) {
			atomic_fetch_add(&w->overflows, 1);
			flt_log(LOG_WARNING, "redirect: inotify queue "
				"overflow; invalidating everything the watched "
				"rules cover");
			inval_all(w);
			resync = true;
			continue;
		}
		e = find_wd(w, ev->wd);
		if (!e)
			continue;	/* removed since */
		if (ev->mask & IN_IGNORED) {
			remove_at(w, (size_t)(e - w->v));
			resync = true;	/* the directory went away */
			continue;
		}
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
			/* the directory itself: what it held is gone */
			inval_all(w);
			resync = true;
			continue;
		}
		if (!ev->len)
			continue;
		for (char *q = buf; q < (char *)ev; ) {
			struct inotify_event *o = (struct inotify_event *)q;

			q += sizeof(*o) + o->len;
			if (o->wd == ev->wd && o->len && o != ev &&
			    !(o->mask & (IN_IGNORED | IN_Q_OVERFLOW)) &&
			    !strcmp(o->name, ev->name) &&
			    !((ev->mask & IN_ISDIR) &&
			      (ev->mask & (IN_CREATE | IN_MOVED_TO)))) {
				dup = true;
				break;
			}
		}
		if (!dup) {
			/* copied: a resync may move the table */
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%s", e->dir);
			changed(w, dir, ev->name, ev->mask, 0);
		}
	}
	if (resync)
		sync_watches(w);
	atomic_store(&w->dirs, w->n);
}

static void *watch_thread(void *arg)
{
	struct redir_watch *w = arg;
	size_t blen = 64 * 1024;
	char *buf = malloc(blen);	/* aligned for struct inotify_event */

	if (!buf) {
		flt_log(LOG_ERR, "redirect: watch thread: out of memory");
		return NULL;
	}
	sync_watches(w);
	while (!atomic_load(&w->stop)) {
		struct pollfd pfd[2] = { { .fd = w->ifd, .events = POLLIN },
					 { .fd = w->efd, .events = POLLIN } };
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			flt_log(LOG_ERR, "redirect: watch thread: poll: %s",
				strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t v;

			if (read(w->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			if (atomic_load(&w->stop))
				break;
			sync_watches(w);
		}
		if (pfd[0].revents & POLLIN) {
			n = read(w->ifd, buf, blen);
			if (n > 0)
				handle_events(w, buf, n);
		}
	}
	free(buf);
	return NULL;
}

/* ---- start, sync, stop ------------------------------------------------------ */

static bool wanted(struct redir_inst *ri)
{
	struct redir_rules *rules;
	bool any = ri->cfg.watch_all;

	rules = redir_rules_get(ri);
	for (size_t i = 0; !any && i < rules->n; i++)
		any = rules->v[i].watch;
	redir_rules_put(rules);
	return any;
}

static struct redir_watch *watch_start(struct redir_inst *ri)
{
	struct redir_watch *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return NULL;
	w->ri = ri;
	w->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ifd < 0 || w->efd < 0) {
		flt_log(LOG_WARNING, "redirect: no inotify (%s); watch=on "
			"rules are not watched", strerror(errno));
		goto fail;
	}
	ret = pthread_create(&w->tid, NULL, watch_thread, w);
	if (ret) {
		flt_log(LOG_WARNING, "redirect: no watch thread (%s)",
			strerror(ret));
		goto fail;
	}
	return w;
fail:
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->efd >= 0)
		close(w->efd);
	free(w);
	return NULL;
}

void redir_watch_sync(struct redir_inst *ri)
{
	pthread_mutex_lock(&ri->watch_lock);
	if (atomic_load(&ri->closing)) {
		/* teardown stops the thread */
	} else if (ri->watch) {
		uint64_t one = 1;

		/* the thread syncs (and drops every watch if none is
		 * wanted any more; it stays, idle, until teardown) */
		if (write(ri->watch->efd, &one, sizeof(one)) < 0)
			flt_log(LOG_WARNING, "redirect: watch sync: %s",
				strerror(errno));
	} else if (wanted(ri)) {
		ri->watch = watch_start(ri);	/* syncs first thing */
	}
	pthread_mutex_unlock(&ri->watch_lock);
}

void redir_watch_status(struct redir_inst *ri, struct flt_status_writer *sw)
{
	pthread_mutex_lock(&ri->watch_lock);
	if (ri->watch) {
		struct redir_watch *w = ri->watch;

		flt_status_add_u64(sw, "watch.dirs", atomic_load(&w->dirs));
		flt_status_add_u64(sw, "watch.events", atomic_load(&w->events));
		flt_status_add_u64(sw, "watch.refreshed",
				   atomic_load(&w->refreshed));
		flt_status_add_u64(sw, "watch.overflows",
				   atomic_load(&w->overflows));
	}
	pthread_mutex_unlock(&ri->watch_lock);
}

void redir_watch_stop(struct redir_inst *ri)
{
	struct redir_watch *w;
	uint64_t one = 1;

	pthread_mutex_lock(&ri->watch_lock);
	w = ri->watch;
	ri->watch = NULL;
	pthread_mutex_unlock(&ri->watch_lock);
	if (!w)
		return;
	atomic_store(&w->stop, true);
	if (write(w->efd, &one, sizeof(one)) < 0)
		flt_log(LOG_WARNING, "redirect: watch stop: %s",
			strerror(errno));
	pthread_join(w->tid, NULL);
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].dir);
	free(w->v);
	close(w->ifd);
	close(w->efd);
	free(w);
}
