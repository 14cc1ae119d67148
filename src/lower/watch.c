/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The watch: a fanotify mark on the lower root's whole file system, so
 * that changes made in the lower directory behind the volume's back (other
 * processes, another volume over the same lower) reach the kernel's caches
 * of this volume as explicit invalidations. That is what lets the kernel
 * keep attributes, names and directory listings for a long time
 * (LOWER_LONG_TIMEOUT, FOPEN_CACHE_DIR) instead of asking again every
 * second.
 *
 * Who owns what: lower_watch_init (lower_open) makes the fanotify group
 * and the mark; lower_watch_start / lower_watch_stop (the host, around the
 * time its session can take notifications) run one thread that reads the
 * events; lower_watch_destroy (lower_close) stops it if still running and
 * frees everything. The thread is the only one that sends the host's
 * invalidations: never a request worker (KERNEL-NOTES: inval_entry from a
 * worker can deadlock on the directory's lock).
 *
 * What it does with an event:
 *  - from our own process: nothing. Those are the daemon's own lower calls
 *    on behalf of the kernel, which already knows (reacting would drop
 *    the page cache of every file written through the volume);
 *  - the object (FID record) is a node the kernel knows: invalidate its
 *    attributes, and its cached pages too for FAN_MODIFY;
 *  - a name (DFID_NAME record) was created, deleted or moved in a
 *    directory the kernel knows: invalidate that dentry and the
 *    directory's attributes and cached listing.
 * Handles map to nodes through the table's by-handle hash (inode.c): an
 * event for a file the kernel does not know (the mark sees the whole file
 * system, e.g. all of /tmp) costs one hash lookup.
 *
 * Names racing a lookup. Attributes cannot go stale that way: the kernel
 * drops a reply's attributes if an inval_inode came after it sent the
 * request (attr_version). Names have no such check: a LOOKUP or
 * READDIRPLUS that read the lower before a change, and whose dentry the
 * kernel installs after the inval_entry of that change, would keep the old
 * name for an hour. Two defences:
 *  - fs->dirent_seq: bumped before the inval_entry of every name event in
 *    a directory the kernel knows. A reply that saw it move between before
 *    its lower read and the filling of its timeouts gets the short entry
 *    timeout (lower_dirent_settle). Why that catches every stale reply
 *    whose inval may have come too early: stale means its lower read came
 *    before the change; the event is read after the change, and the bump
 *    follows; so the first load (before the lower read) cannot see the
 *    bump. If the second load does not see it either, the bump, and so
 *    the inval_entry, came after that load (seq_cst), i.e. after the reply
 *    was complete, leaving only the microseconds until the kernel installs
 *    it (next point). One counter for the volume: name events in
 *    directories the kernel knows are rare next to lookups, and a false
 *    positive only costs that one reply a LOOKUP a second later;
 *  - the re-send ring: each such inval_entry is sent again
 *    WATCH_RESEND_MS later (by this thread, poll's timeout), long after a
 *    reply written before the first one was installed.
 * The kernel also takes the directory's lock in inval_entry, which a
 * LOOKUP in a path walk and a READDIRPLUS hold (shared) until their
 * dentries are in; the two defences do not rely on that.
 *
 * Failure (queue overflow, which the unlimited queue should prevent, or a
 * read error): logged once; the watch turns unhealthy, so new replies get
 * LOWER_SHORT_TIMEOUT and no cached listings, and the group is closed
 * (an unread unlimited queue would grow without bound). What the kernel
 * already holds with the long timeout stays until it expires.
 *
 * Threads and locks: `healthy` (read by every reply) and fs->dirent_seq
 * are atomic; the re-send ring is the thread's own; everything else is
 * written before the thread starts or after it is joined. The thread
 * takes table_lock only inside lower_inode_id_by_handle.
 */
#include "lower/lower_int.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* One hour: the watch keeps every cache correct, so the timeout only
 * bounds how long something the watch cannot see stays stale (a change by
 * filter-initiated I/O of this daemon, events lost after a failure). Long
 * enough that a warm `ls -l` of 100k entries, and everything a user does
 * with a tree in a working session, costs no request per entry. */
#define LOWER_LONG_TIMEOUT 3600.0
/* Without the watch, as before: one second. */
#define LOWER_SHORT_TIMEOUT 1.0

#define WATCH_BUF (64 * 1024)
/* how long events gather before one read takes them (coalesce) */
#define WATCH_COALESCE_MS 5
/* invalidations of one read already sent (a write of 1 MiB blocks gives
 * one FAN_MODIFY per block unless the kernel merged them) */
#define WATCH_RECENT 8

#define WATCH_MASK (FAN_MODIFY | FAN_ATTRIB | FAN_CREATE | FAN_DELETE | \
		    FAN_DELETE_SELF | FAN_MOVED_FROM | FAN_MOVED_TO |     \
		    FAN_MOVE_SELF | FAN_ONDIR)
#define WATCH_DIRENT (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

/* inval_entry re-sends pending at most (fixed: ~17 KiB), and their delay:
 * far longer than the kernel takes to install a reply it has read, short
 * enough that the stale window stays below what a user would notice */
#define WATCH_RESEND 64
#define WATCH_RESEND_MS 50

struct watch_resend {
	uint64_t due_ms;		/* CLOCK_MONOTONIC */
	flt_ino_t dir;
	char name[NAME_MAX + 1];
};

struct lower_watch {
	int fan_fd;			/* the fanotify group; -1 once failed */
	int stop_fd;			/* eventfd: lower_watch_stop */
	pid_t pid;			/* ours: events to ignore */
	atomic_bool healthy;		/* long timeouts and cached listings */
	bool running;			/* the thread exists (not joined) */
	pthread_t thread;
	struct lower_watch_hooks hooks;
	struct file_handle *root_fh;	/* the root is not in the table */
	struct {
		flt_ino_t ino;
		bool data;
	} recent[WATCH_RECENT];		/* of the current read */
	unsigned nrecent;
	/* a ring, oldest at rs_head; written by the thread only */
	struct watch_resend resend[WATCH_RESEND];
	unsigned rs_head, rs_len;
	unsigned char buf[WATCH_BUF] __attribute__((aligned(8)));
};

/* Local file systems only: on NFS, CIFS, FUSE, 9p, ceph or overlay a
 * change made elsewhere (another client, the upper layer) is not an event
 * here. */
static bool watchable_fs(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC:		/* also ext2 and ext3 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case F2FS_SUPER_MAGIC:
	case 0x5346544e:		/* ntfs3 */
	case 0x2011bab0:		/* exfat */
		return true;
	default:
		return false;
	}
}

void lower_watch_init(struct lower_fs *fs)
{
	struct lower_watch *w;
	struct statfs sfs;
	const char *why;
	int ret;

	/* nodes must have handles to be found from events (fdcache.c) */
	if (!fs->use_handles) {
		why = "the lower file system has no file handles";
		goto out_no;
	}
	if (lower_sys_fstatfs(fs->root.fd, &sfs) < 0 ||
	    !watchable_fs((long)sfs.f_type)) {
		why = "not a local file system";
		goto out_no;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		why = "out of memory";
		goto out_no;
	}
	w->fan_fd = -1;
	w->stop_fd = -1;
	w->root_fh = lower_fdc_get_handle(fs->root.fd, &(int){ 0 });
	if (!w->root_fh) {
		why = "no handle for the root";
		goto out_free;
	}
	/* FID records need no fd per event; DFID_NAME gives the directory
	 * and name of a dirent change, FID the object itself */
	w->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME |
				  FAN_REPORT_FID | FAN_UNLIMITED_QUEUE |
				  FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
	if (w->fan_fd < 0) {
		why = errno == EPERM ? "fanotify needs CAP_SYS_ADMIN"
				     : "fanotify_init failed";
		goto out_free;
	}
	/* the mark needs an fd that is not O_PATH on older kernels:
	 * mount_fd is the root, O_RDONLY (use_handles implies it) */
	ret = fanotify_mark(w->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
			    WATCH_MASK, fs->mount_fd, NULL);
	if (ret < 0) {
		why = "fanotify_mark refused the file system";
		goto out_free;
	}
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0) {
		why = "no eventfd";
		goto out_free;
	}
	w->pid = getpid();
	atomic_store(&w->healthy, true);
	fs->watch = w;
	flt_log(LOG_DEBUG, "lower: watching the lower file system: long "
		"timeouts (%g s) and cached listings", LOWER_LONG_TIMEOUT);
	return;

out_free:
	if (w->fan_fd >= 0)
		close(w->fan_fd);
	free(w->root_fh);
	free(w);
out_no:
	flt_log(LOG_INFO, "lower: no watch of the lower directory (%s): "
		"attributes and names are cached for %g s", why,
		LOWER_SHORT_TIMEOUT);
}

static bool healthy(struct lower_fs *fs)
{
	return fs->watch && atomic_load_explicit(&fs->watch->healthy,
						 memory_order_relaxed);
}

double lower_timeout(struct lower_fs *fs, bool entry, dev_t dev)
{
	double t = entry ? fs->opt.entry_timeout : fs->opt.attr_timeout;

	if (t >= 0)
		return t;
	/* the mark sees the root's file system only, not mounts below */
	return healthy(fs) && dev == fs->root.dev ? LOWER_LONG_TIMEOUT
						  : LOWER_SHORT_TIMEOUT;
}

bool lower_watch_covers(struct lower_fs *fs, dev_t dev)
{
	return healthy(fs) && dev == fs->root.dev;
}

bool lower_watching(struct lower_fs *fs)
{
	return healthy(fs);
}

double lower_effective_timeout(struct lower_fs *fs)
{
	return lower_timeout(fs, false, fs->root.dev);
}

uint64_t lower_dirent_seq(struct lower_fs *fs)
{
	return atomic_load(&fs->dirent_seq);
}

void lower_dirent_settle(struct lower_fs *fs, uint64_t seq,
			 struct flt_entry *e)
{
	if (atomic_load(&fs->dirent_seq) != seq &&
	    e->entry_timeout > LOWER_SHORT_TIMEOUT)
		e->entry_timeout = LOWER_SHORT_TIMEOUT;
}

static void fail(struct lower_fs *fs, const char *why, int err)
{
	struct lower_watch *w = fs->watch;

	atomic_store(&w->healthy, false);
	flt_log(LOG_ERR, "lower: the watch of the lower directory stopped "
		"(%s%s%s): short timeouts from now on, and changes made "
		"directly in the lower directory may show late", why,
		err ? ": " : "", err ? strerror(err) : "");
	close(w->fan_fd);
	w->fan_fd = -1;
}

static flt_ino_t node_of(struct lower_fs *fs, const struct file_handle *fh)
{
	const struct file_handle *r = fs->watch->root_fh;

	if (fh->handle_type == r->handle_type &&
	    fh->handle_bytes == r->handle_bytes &&
	    !memcmp(fh->f_handle, r->f_handle, r->handle_bytes))
		return FLT_ROOT_INO;
	return lower_inode_id_by_handle(fs, fh);
}

static void inval_inode(struct lower_watch *w, flt_ino_t ino, bool data)
{
	for (unsigned i = 0; i < w->nrecent; i++)
		if (w->recent[i].ino == ino && (w->recent[i].data || !data))
			return;
	/* -ENOENT (the kernel forgot it) and the rest: nothing to do */
	w->hooks.inval_inode(w->hooks.arg, ino, data);
	w->recent[w->nrecent % WATCH_RECENT].ino = ino;
	w->recent[w->nrecent % WATCH_RECENT].data = data;
	if (w->nrecent < WATCH_RECENT)
		w->nrecent++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether the ring holds (@dir, @name) again after its oldest entry. */
static bool resend_later(struct lower_watch *w, flt_ino_t dir,
			 const char *name)
{
	for (unsigned i = 1; i < w->rs_len; i++) {
		const struct watch_resend *r =
			&w->resend[(w->rs_head + i) % WATCH_RESEND];

		if (r->dir == dir && !strcmp(r->name, name))
			return true;
	}
	return false;
}

/* Send the re-sends that are due (all of them with @all): the oldest is
 * due first. One whose name is queued again later is left to that one
 * (its own delay counts from the later event). Their directory may have
 * been forgotten since, and its node id reused: an inval_entry of a name
 * the kernel does not have there is a no-op, and of one it has only costs
 * a LOOKUP. */
static void resend_due(struct lower_watch *w, bool all)
{
	uint64_t now = all ? UINT64_MAX : now_ms();

	while (w->rs_len && w->resend[w->rs_head].due_ms <= now) {
		struct watch_resend *r = &w->resend[w->rs_head];

		if (all || !resend_later(w, r->dir, r->name))
			w->hooks.inval_entry(w->hooks.arg, r->dir, r->name);
		w->rs_head = (w->rs_head + 1) % WATCH_RESEND;
		w->rs_len--;
	}
}

/* Queue a re-send of inval_entry(@dir, @name). A full ring sends its
 * oldest now, before its delay: that name was invalidated once already,
 * this is only its second chance, and the ring stays bounded (more than
 * WATCH_RESEND name changes within WATCH_RESEND_MS is a bulk operation;
 * lower_dirent_settle still shortens every reply that raced one). */
static void resend_queue(struct lower_watch *w, flt_ino_t dir,
			 const char *name)
{
	struct watch_resend *r;
	size_t len = strlen(name);

	if (len > NAME_MAX)
		return;
	if (w->rs_len == WATCH_RESEND) {
		w->resend[w->rs_head].due_ms = 0;
		resend_due(w, false);
	}
	r = &w->resend[(w->rs_head + w->rs_len) % WATCH_RESEND];
	r->due_ms = now_ms() + WATCH_RESEND_MS;
	r->dir = dir;
	memcpy(r->name, name, len + 1);
	w->rs_len++;
}

/* @m: a copy of the metadata at @ev (the event's bytes in the buffer) */
static void handle_event(struct lower_fs *fs,
			 const struct fanotify_event_metadata *m,
			 const unsigned char *ev)
{
	struct lower_watch *w = fs->watch;
	const struct file_handle *obj = NULL, *dir = NULL;
	const char *name = NULL;
	const unsigned char *p = ev + m->metadata_len;
	const unsigned char *end = ev + m->event_len;
	flt_ino_t ino;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;
		const struct fanotify_event_info_fid *f = (const void *)p;

		if (h->len < sizeof(*h) || p + h->len > end)
			break;
		if (h->info_type == FAN_EVENT_INFO_TYPE_FID) {
			obj = (const struct file_handle *)f->handle;
		} else if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			dir = (const struct file_handle *)f->handle;
			name = (const char *)dir->f_handle + dir->handle_bytes;
		}
		p += h->len;
	}
	if (obj) {
		ino = node_of(fs, obj);
		if (ino)
			inval_inode(w, ino, m->mask & FAN_MODIFY);
	}
	if (!dir)
		return;
	ino = node_of(fs, dir);
	if (!ino)
		return;
	/* an event on a directory itself names it "." */
	if (!strcmp(name, ".")) {
		inval_inode(w, ino, m->mask & FAN_MODIFY);
		return;
	}
	if (m->mask & WATCH_DIRENT) {
		/* before the inval: see "Names racing a lookup" above */
		atomic_fetch_add(&fs->dirent_seq, 1);
		w->hooks.inval_entry(w->hooks.arg, ino, name);
		resend_queue(w, ino, name);
		/* its attributes (mtime, nlink) and its cached listing */
		inval_inode(w, ino, true);
	}
}

/* Handle one read's events: false when the watch failed. Records are
 * only 4-byte aligned (names pad to 4): the metadata, which holds a 64-bit
 * mask, is copied out before use. */
static bool handle_batch(struct lower_fs *fs, size_t len)
{
	struct lower_watch *w = fs->watch;
	size_t off = 0;

	w->nrecent = 0;
	while (len - off >= sizeof(struct fanotify_event_metadata)) {
		struct fanotify_event_metadata m;

		memcpy(&m, w->buf + off, sizeof(m));
		if (m.event_len < sizeof(m) || m.event_len > len - off ||
		    m.metadata_len < sizeof(m) ||
		    m.metadata_len > m.event_len)
			break;
		if (m.vers != FANOTIFY_METADATA_VERSION) {
			fail(fs, "unknown fanotify metadata version", 0);
			return false;
		}
		if (m.mask & FAN_Q_OVERFLOW) {
			fail(fs, "event queue overflow", 0);
			return false;
		}
		if (m.pid != w->pid)
			handle_event(fs, &m, w->buf + off);
		off += m.event_len;
	}
	return true;
}

/*
 * Let events gather for WATCH_COALESCE_MS before reading them: the mark
 * sees the whole file system, and a thread that wakes for every event
 * costs a context switch each (a native `dd bs=4k` elsewhere on the file
 * system: one FAN_MODIFY per write). Waiting lets the kernel merge repeats
 * for one object in its queue and one read take hundreds of events; an
 * invalidation comes that much later, well within what a path walk racing
 * the change could see anyway. True when asked to stop.
 */
static bool coalesce(struct lower_watch *w)
{
	struct pollfd p = { .fd = w->stop_fd, .events = POLLIN };

	return poll(&p, 1, WATCH_COALESCE_MS) > 0;
}

static void *watch_thread(void *arg)
{
	struct lower_fs *fs = arg;
	struct lower_watch *w = fs->watch;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = w->stop_fd, .events = POLLIN },
			{ .fd = w->fan_fd, .events = POLLIN },
		};
		int wait = -1;

		resend_due(w, false);
		if (w->rs_len) {
			uint64_t due = w->resend[w->rs_head].due_ms;
			uint64_t now = now_ms();

			wait = due > now ? (int)(due - now) : 0;
		}
		if (poll(pfd, 2, wait) < 0) {
			if (errno == EINTR)
				continue;
			fail(fs, "poll", errno);
			goto out_failed;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents && coalesce(w))
			break;
		for (;;) {
			ssize_t n = read(w->fan_fd, w->buf, sizeof(w->buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				fail(fs, "read", n < 0 ? errno : EIO);
				goto out_failed;
			}
			if (!handle_batch(fs, (size_t)n))
				goto out_failed;
		}
	}
	/* stopped: the session goes, pending re-sends with it */
	return NULL;

out_failed:
	/* no later chance: early is better than never */
	resend_due(w, true);
	return NULL;
}

int lower_watch_start(struct lower_fs *fs, const struct lower_watch_hooks *h)
{
	struct lower_watch *w = fs->watch;
	int ret;

	if (!w || w->running || w->fan_fd < 0)
		return 0;
	w->hooks = *h;
	w->rs_len = 0;
	ret = pthread_create(&w->thread, NULL, watch_thread, fs);
	if (ret) {
		fail(fs, "cannot start its thread", ret);
		return -ret;
	}
	w->running = true;
	return 0;
}

void lower_watch_stop(struct lower_fs *fs)
{
	struct lower_watch *w = fs->watch;
	uint64_t one = 1;

	if (!w || !w->running)
		return;
	if (write(w->stop_fd, &one, sizeof(one)) < 0)
		flt_log(LOG_ERR, "lower: cannot stop the watch: %s",
			strerror(errno));
	pthread_join(w->thread, NULL);
	w->running = false;
}

void lower_watch_destroy(struct lower_fs *fs)
{
	struct lower_watch *w = fs->watch;

	if (!w)
		return;
	lower_watch_stop(fs);
	if (w->fan_fd >= 0)
		close(w->fan_fd);
	close(w->stop_fd);
	free(w->root_fh);
	free(w);
	fs->watch = NULL;
}
