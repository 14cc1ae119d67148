/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor: file activity to user-mode clients, and allow/deny verdicts on
 * opens (optionally reads and writes) that never hang the volume.
 * docs/monitor.md has the behaviour; mon_int.h the files and locks.
 *
 * Cost when nobody listens: a pre-callback reads three atomic masks and
 * returns FLT_PREOP_SUCCESS_NO_CALLBACK, except for the operations that
 * name inodes (lookup, create, ...), whose post-callback records the name
 * so paths are known when a client connects later.
 */
#include "filters/monitor/monitor.h"
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* ---- process names, cached ------------------------------------------- */

#define COMM_SLOTS 256
#define COMM_TTL_NS (250ull * 1000 * 1000)

static struct {
	pid_t pid;
	uint64_t expires;
	char comm[MON_COMM_LEN];
} comm_cache[COMM_SLOTS];
static pthread_mutex_t comm_lock = PTHREAD_MUTEX_INITIALIZER;

/* /proc/PID/comm costs three syscalls; a storm of operations comes from
 * few threads. A name may be up to COMM_TTL_NS stale after an exec. */
const char *mon_comm_cached(pid_t pid, char *buf, size_t len)
{
	unsigned slot = (unsigned)pid % COMM_SLOTS;
	uint64_t now = mon_now_ns();
	struct flt_callback_data fake = { .requestor.pid = pid };

	pthread_mutex_lock(&comm_lock);
	if (comm_cache[slot].pid == pid && comm_cache[slot].expires > now) {
		snprintf(buf, len, "%s", comm_cache[slot].comm);
		pthread_mutex_unlock(&comm_lock);
		return buf;
	}
	pthread_mutex_unlock(&comm_lock);
	flt_requestor_name(&fake, buf, len);
	pthread_mutex_lock(&comm_lock);
	comm_cache[slot].pid = pid;
	comm_cache[slot].expires = now + COMM_TTL_NS;
	snprintf(comm_cache[slot].comm, sizeof(comm_cache[slot].comm), "%s",
		 buf);
	pthread_mutex_unlock(&comm_lock);
	return buf;
}

/* ---- events ------------------------------------------------------------ */

struct ev_extra {
	pid_t pid;
	bool have_comm;
	char comm[MON_COMM_LEN];
};

static const char *ev_comm(struct mon_evinfo *ev)
{
	struct ev_extra *x = ev->arg;

	if (!x->have_comm) {
		mon_comm_cached(x->pid, x->comm, sizeof(x->comm));
		x->have_comm = true;
	}
	return x->comm;
}

static bool ev_in_process(struct mon_evinfo *ev, pid_t pid)
{
	return mon_tid_in_process(ev->tid, pid);
}

/*
 * release (and releasedir) come from the kernel with no requestor (pid 0):
 * the file is closed when its last reference goes, maybe in another
 * process. When some client wants release events, each open remembers
 * who opened it in a stream handle context, and the release event names
 * that process.
 */
struct mon_opener {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[MON_COMM_LEN];
};

/* The completion context of a release with a known opener. */
struct mon_relctx {
	uint64_t start;
	bool have_who;
	struct mon_opener who;
};

static bool is_release(enum flt_op op)
{
	return op == FLT_OP_RELEASE || op == FLT_OP_RELEASEDIR;
}

static bool is_open(enum flt_op op)
{
	return op == FLT_OP_OPEN || op == FLT_OP_OPENDIR ||
	       op == FLT_OP_CREATE;
}

static bool wants_release(struct mon_inst *mi)
{
	const uint64_t rel = MON_OP_BIT(FLT_OP_RELEASE) |
			     MON_OP_BIT(FLT_OP_RELEASEDIR);

	return (atomic_load(&mi->want_pre) | atomic_load(&mi->want_post)) &
	       rel;
}

static void remember_opener(struct mon_inst *mi, struct flt_callback_data *d)
{
	struct mon_opener *o;

	if (flt_allocate_context(mi->filter, FLT_STREAMHANDLE_CONTEXT,
				 sizeof(*o), (void **)&o))
		return;
	o->pid = d->requestor.pid;
	o->uid = d->requestor.uid;
	o->gid = d->requestor.gid;
	mon_comm_cached(o->pid, o->comm, sizeof(o->comm));
	flt_set_streamhandle_context(mi->instance, d->results.open.fh,
				     FLT_SET_CONTEXT_REPLACE_IF_EXISTS, o, NULL);
	flt_release_context(o);
}

/* The opener of the handle a release closes, if remembered. */
static bool opener_of(struct mon_inst *mi, const struct flt_callback_data *d,
		      struct mon_opener *out)
{
	void *c;

	if (flt_get_streamhandle_context(mi->instance, d->params.release.fh, &c))
		return false;
	*out = *(struct mon_opener *)c;
	flt_release_context(c);
	return true;
}

/* The paths of @d, in the caller's buffers. */
static void event_paths(struct mon_inst *mi, const struct flt_callback_data *d,
			char *p1, char *p2, size_t len, bool *has2)
{
	const union flt_parameters *pa = &d->params;

	*has2 = false;
	switch (d->op) {
	case FLT_OP_LOOKUP:
		mon_path_join(mi, pa->lookup.parent, pa->lookup.name, p1, len);
		break;
	case FLT_OP_MKNOD:
		mon_path_join(mi, pa->mknod.parent, pa->mknod.name, p1, len);
		break;
	case FLT_OP_MKDIR:
		mon_path_join(mi, pa->mkdir.parent, pa->mkdir.name, p1, len);
		break;
	case FLT_OP_UNLINK:
	case FLT_OP_RMDIR:
		mon_path_join(mi, pa->unlink.parent, pa->unlink.name, p1, len);
		break;
	case FLT_OP_CREATE:
		mon_path_join(mi, pa->create.parent, pa->create.name, p1, len);
		break;
	case FLT_OP_SYMLINK:
		mon_path_join(mi, pa->symlink.parent, pa->symlink.name, p1,
			      len);
		snprintf(p2, len, "%s", pa->symlink.target);
		*has2 = true;
		break;
	case FLT_OP_RENAME:
		mon_path_join(mi, pa->rename.parent, pa->rename.name, p1, len);
		mon_path_join(mi, pa->rename.newparent, pa->rename.newname, p2,
			      len);
		*has2 = true;
		break;
	case FLT_OP_LINK:
		mon_path_of(mi, d->ino, p1, len);
		mon_path_join(mi, pa->link.newparent, pa->link.newname, p2,
			      len);
		*has2 = true;
		break;
	case FLT_OP_COPY_FILE_RANGE:
		mon_path_of(mi, d->ino, p1, len);
		mon_path_of(mi, pa->copy_file_range.ino_out, p2, len);
		*has2 = true;
		break;
	default:
		mon_path_of(mi, d->ino, p1, len);
		break;
	}
}

/* Operation-specific fields. */
static void op_fields(const struct flt_callback_data *d, struct mon_event *f)
{
	const union flt_parameters *pa = &d->params;

	switch (d->op) {
	case FLT_OP_READ:
		f->offset = pa->read.offset;
		f->length = pa->read.size;
		break;
	case FLT_OP_WRITE:
		f->offset = pa->write.offset;
		f->length = pa->write.size;
		break;
	case FLT_OP_OPEN:
	case FLT_OP_OPENDIR:
		f->op_flags = pa->open.flags;
		break;
	case FLT_OP_CREATE:
		f->op_flags = pa->create.flags;
		f->mode = pa->create.mode;
		break;
	case FLT_OP_MKDIR:
		f->mode = pa->mkdir.mode;
		break;
	case FLT_OP_MKNOD:
		f->mode = pa->mknod.mode;
		break;
	case FLT_OP_RENAME:
		f->op_flags = (int32_t)pa->rename.flags;
		break;
	case FLT_OP_SETATTR:
		f->op_flags = (int32_t)pa->setattr.to_set;
		f->mode = pa->setattr.attr.st_mode;
		if (pa->setattr.to_set & FLT_SET_SIZE)
			f->length = (uint64_t)pa->setattr.attr.st_size;
		break;
	case FLT_OP_RELEASE:
	case FLT_OP_RELEASEDIR:
		f->op_flags = pa->release.flags;
		break;
	case FLT_OP_READDIR:
		f->offset = pa->readdir.offset;
		f->length = pa->readdir.size;
		break;
	case FLT_OP_FALLOCATE:
		f->op_flags = pa->fallocate.mode;
		f->offset = pa->fallocate.offset;
		f->length = (uint64_t)pa->fallocate.length;
		break;
	case FLT_OP_COPY_FILE_RANGE:
		f->offset = pa->copy_file_range.off_in;
		f->length = pa->copy_file_range.len;
		break;
	case FLT_OP_LSEEK:
		f->offset = pa->lseek.offset;
		f->op_flags = pa->lseek.whence;
		break;
	case FLT_OP_ACCESS:
		f->op_flags = pa->access.mask;
		break;
	case FLT_OP_FSYNC:
	case FLT_OP_FSYNCDIR:
		f->op_flags = pa->fsync.datasync;
		break;
	case FLT_OP_GETXATTR:
		f->length = pa->getxattr.size;
		break;
	case FLT_OP_SETXATTR:
		f->length = pa->setxattr.size;
		f->op_flags = pa->setxattr.flags;
		break;
	default:
		break;
	}
}

/* Everything to describe @d, with paths in thread-local buffers. */
struct ev_build {
	struct mon_evinfo ev;
	struct mon_event f;
	struct ev_extra x;
};

static void build(struct mon_inst *mi, const struct flt_callback_data *d,
		  struct ev_build *b, const struct mon_opener *who)
{
	static _Thread_local char p1[MON_PATH_MAX], p2[MON_PATH_MAX];
	bool has2;

	memset(b, 0, sizeof(*b));
	event_paths(mi, d, p1, p2, sizeof(p1), &has2);
	b->x.pid = d->requestor.pid;
	b->ev = (struct mon_evinfo){
		.op = d->op,
		.io_flags = d->flags,
		.tid = d->requestor.pid,
		.uid = d->requestor.uid,
		.path = p1,
		.path2 = has2 ? p2 : NULL,
		.comm = ev_comm,
		.in_process = ev_in_process,
		.arg = &b->x,
	};
	b->f.op = (uint8_t)d->op;
	b->f.io_flags = d->flags & 0xffu;
	b->f.pid = d->requestor.pid;
	b->f.uid = d->requestor.uid;
	b->f.gid = d->requestor.gid;
	b->f.ino = d->ino;
	op_fields(d, &b->f);
	if (who) {
		b->x.pid = who->pid;
		b->x.have_comm = true;
		memcpy(b->x.comm, who->comm, sizeof(b->x.comm));
		b->ev.tid = who->pid;
		b->ev.uid = who->uid;
		b->f.pid = who->pid;
		b->f.uid = who->uid;
		b->f.gid = who->gid;
	}
}

static void emit_post(struct mon_inst *mi, struct flt_callback_data *d,
		      uint64_t start_ns, const struct mon_opener *who)
{
	struct ev_build b;
	uint64_t now = mon_now_ns();

	build(mi, d, &b, who);
	b.ev.result = d->io_status.status;
	b.f.result = d->io_status.status;
	b.f.information = d->io_status.information;
	if (d->op == FLT_OP_LOOKUP || d->op == FLT_OP_CREATE ||
	    d->op == FLT_OP_MKDIR || d->op == FLT_OP_MKNOD ||
	    d->op == FLT_OP_SYMLINK || d->op == FLT_OP_LINK) {
		if (!d->io_status.status)
			b.f.information = d->results.entry.ino;
	}
	b.f.duration_ns = now - start_ns;
	b.f.time_ns = mon_realtime_ns() - b.f.duration_ns;
	mon_emit(mi, MON_POST, &b.ev, &b.f);
}

void mon_emit_completed(struct mon_inst *mi, struct flt_callback_data *d,
			uint64_t start_ns)
{
	if (atomic_load(&mi->want_post) & MON_OP_BIT(d->op))
		emit_post(mi, d, start_ns, NULL);
}

/* ---- callbacks ----------------------------------------------------------- */

static struct mon_inst *inst_of(const struct flt_related_objects *objs)
{
	void *c;

	return flt_get_instance_context(objs->instance, &c) ? NULL : c;
}

static bool names_inode(enum flt_op op)
{
	switch (op) {
	case FLT_OP_LOOKUP:
	case FLT_OP_MKNOD:
	case FLT_OP_MKDIR:
	case FLT_OP_SYMLINK:
	case FLT_OP_LINK:
	case FLT_OP_CREATE:
	case FLT_OP_RENAME:
		return true;
	default:
		return false;
	}
}

/* Does a subscription that wants data operations cover @path? */
static bool data_wanted_for(struct mon_inst *mi, const char *path)
{
	const uint64_t data_ops =
		MON_OP_BIT(FLT_OP_READ) | MON_OP_BIT(FLT_OP_WRITE);
	bool yes = false;

	pthread_rwlock_rdlock(&mi->clients_lock);
	for (struct mon_client *c = mi->clients; c && !yes; c = c->next)
		yes = c->subscribed &&
		      ((c->sub.ops_pre | c->sub.ops_post | c->sub.verdict_ops) &
		       data_ops) &&
		      mon_sub_match_path(&c->sub, path);
	pthread_rwlock_unlock(&mi->clients_lock);
	return yes;
}

static enum flt_preop_status mon_pre(struct flt_callback_data *d,
				     const struct flt_related_objects *objs,
				     void **ctx)
{
	struct mon_inst *mi = inst_of(objs);
	uint64_t bit = MON_OP_BIT(d->op);
	bool pre, post, verdict, data, track = names_inode(d->op);
	enum flt_preop_status go, st;
	struct mon_opener who = { 0 };
	bool have_who = false;
	struct ev_build b;
	uint64_t start;

	*ctx = NULL;
	if (!mi)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	pre = atomic_load(&mi->want_pre) & bit;
	post = atomic_load(&mi->want_post) & bit;
	verdict = atomic_load(&mi->want_verdict) & bit;
	data = (d->op == FLT_OP_OPEN || d->op == FLT_OP_CREATE) &&
	       atomic_load(&mi->want_data);
	if (is_open(d->op) && wants_release(mi))
		track = true;	/* remember the opener in post */
	if (!pre && !post && !verdict && !data) {
		flt_release_context(mi);
		return track ? FLT_PREOP_SUCCESS_WITH_CALLBACK :
			       FLT_PREOP_SUCCESS_NO_CALLBACK;
	}
	start = mon_now_ns();
	if (is_release(d->op))
		have_who = opener_of(mi, d, &who);
	build(mi, d, &b, have_who ? &who : NULL);
	if (pre) {
		b.f.time_ns = mon_realtime_ns();
		mon_emit(mi, MON_PRE, &b.ev, &b.f);
	}
	if (data && data_wanted_for(mi, b.ev.path))
		flt_disallow_fastpath(d);
	go = post || track ? FLT_PREOP_SUCCESS_WITH_CALLBACK :
			     FLT_PREOP_SUCCESS_NO_CALLBACK;
	if (post && is_release(d->op)) {
		struct mon_relctx *rc = malloc(sizeof(*rc));

		if (rc) {
			rc->start = start;
			rc->have_who = have_who;
			rc->who = who;
		}
		*ctx = rc;
		go = rc ? go : FLT_PREOP_SUCCESS_NO_CALLBACK;
	} else if (post) {
		*ctx = (void *)(uintptr_t)start;
	}
	st = go;
	if (verdict) {
		b.f.time_ns = mon_realtime_ns();
		st = mon_verdict_begin(mi, d, &b.ev, &b.f, go, *ctx);
		if (st == FLT_PREOP_COMPLETE && post)
			emit_post(mi, d, start, NULL);
	}
	flt_release_context(mi);
	return st;
}

static enum flt_postop_status mon_post(struct flt_callback_data *d,
				       const struct flt_related_objects *objs,
				       void *ctx, unsigned flags)
{
	struct mon_inst *mi = inst_of(objs);
	const union flt_parameters *pa = &d->params;

	(void)flags;
	if (!mi)
		return FLT_POSTOP_FINISHED_PROCESSING;
	if (!d->io_status.status) {
		switch (d->op) {
		case FLT_OP_LOOKUP:
			mon_path_note(mi, pa->lookup.parent, pa->lookup.name,
				      d->results.entry.ino, false);
			break;
		case FLT_OP_MKNOD:
			mon_path_note(mi, pa->mknod.parent, pa->mknod.name,
				      d->results.entry.ino, false);
			break;
		case FLT_OP_MKDIR:
			mon_path_note(mi, pa->mkdir.parent, pa->mkdir.name,
				      d->results.entry.ino, false);
			break;
		case FLT_OP_SYMLINK:
			mon_path_note(mi, pa->symlink.parent, pa->symlink.name,
				      d->results.entry.ino, false);
			break;
		case FLT_OP_CREATE:
			mon_path_note(mi, pa->create.parent, pa->create.name,
				      d->results.entry.ino, false);
			break;
		case FLT_OP_LINK:
			mon_path_note(mi, pa->link.newparent, pa->link.newname,
				      d->results.entry.ino, false);
			break;
		default:
			break;
		}
		if (is_open(d->op) && wants_release(mi))
			remember_opener(mi, d);
	}
	if (is_release(d->op) && ctx) {
		struct mon_relctx *rc = ctx;

		if (atomic_load(&mi->want_post) & MON_OP_BIT(d->op))
			emit_post(mi, d, rc->start,
				  rc->have_who ? &rc->who : NULL);
		free(rc);
	} else if (ctx && (atomic_load(&mi->want_post) & MON_OP_BIT(d->op))) {
		emit_post(mi, d, (uint64_t)(uintptr_t)ctx, NULL);
	}
	/* after the event: it names the old path */
	if (d->op == FLT_OP_RENAME && !d->io_status.status)
		mon_path_renamed(mi, d);
	flt_release_context(mi);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* ---- instances ------------------------------------------------------------ */

static void inst_cleanup(void *c, enum flt_context_type type)
{
	struct mon_inst *mi = c;

	(void)type;
	pthread_rwlock_destroy(&mi->clients_lock);
	pthread_mutex_destroy(&mi->slock);
	pthread_cond_destroy(&mi->scond);
	pthread_cond_destroy(&mi->vcond);
}

static int mon_instance_setup(const struct flt_related_objects *objs)
{
	pthread_rwlockattr_t ra;
	pthread_condattr_t ca;
	struct mon_config cfg;
	struct mon_inst *mi;
	char err[512] = "";
	int ret;

	ret = mon_args_parse(flt_instance_args(objs->instance), &cfg, err,
			     sizeof(err));
	if (ret) {
		flt_log(LOG_ERR, "monitor: %s", err);
		return ret;
	}
	ret = flt_allocate_context(objs->filter, FLT_INSTANCE_CONTEXT,
				   sizeof(*mi), (void **)&mi);
	if (ret)
		return ret;
	mi->filter = objs->filter;
	mi->instance = objs->instance;
	mi->cfg = cfg;
	/* workers read-lock it for every event; a subscribe or disconnect
	 * must not starve behind them (nobody read-locks it recursively) */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&mi->clients_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&mi->slock, NULL);
	/* both threads compute deadlines on CLOCK_MONOTONIC */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mi->scond, &ca);
	pthread_cond_init(&mi->vcond, &ca);
	pthread_condattr_destroy(&ca);
	ret = flt_set_instance_context(objs->instance,
				       FLT_SET_CONTEXT_REPLACE_IF_EXISTS, mi,
				       NULL);
	if (ret)
		goto out_release;
	ret = mon_sender_start(mi);
	if (ret)
		goto out_stop;
	ret = mon_timer_start(mi);
	if (ret)
		goto out_stop;
	ret = mon_port_open(mi);
	if (ret) {
		flt_log(LOG_ERR, "monitor: cannot create port %s: %s",
			MON_PORT_NAME, strerror(-ret));
		goto out_stop;
	}
	flt_log(LOG_INFO, "monitor: verdict timeout %u ms (max %u), default "
		"%s, paging %s", cfg.verdict_timeout_ms, cfg.max_verdict_ms,
		cfg.default_deny ? "deny" : "allow",
		cfg.paging_bound_ms ? "bounded" : "async");
	flt_release_context(mi);
	return 0;
out_stop:
	mon_timer_stop(mi);
	mon_sender_stop(mi);
	flt_delete_instance_context(objs->instance);
out_release:
	flt_release_context(mi);
	return ret;
}

static void mon_teardown_start(const struct flt_related_objects *objs)
{
	struct mon_inst *mi = inst_of(objs);

	if (!mi)
		return;
	atomic_store(&mi->stopping, true);
	mon_port_close(mi);
	mon_verdict_release(mi, 0);
	flt_release_context(mi);
}

static void mon_teardown_complete(const struct flt_related_objects *objs)
{
	struct mon_inst *mi = inst_of(objs);

	if (!mi)
		return;
	mon_timer_stop(mi);
	mon_sender_stop(mi);
	flt_release_context(mi);
}

static const struct flt_context_registration mon_contexts[] = {
	{ FLT_INSTANCE_CONTEXT, 0, inst_cleanup, sizeof(struct mon_inst) },
	{ FLT_STREAM_CONTEXT, 0, mon_path_node_cleanup, 0 },
	{ FLT_STREAMHANDLE_CONTEXT, 0, NULL, sizeof(struct mon_opener) },
	FLT_CONTEXT_END
};

#define MON_OP(o) { o, 0, mon_pre, mon_post }
#define MON_DATA_OP(o) { o, FLT_OPREG_SKIP_FASTPATH_FILES, mon_pre, mon_post }
static const struct flt_operation_registration mon_ops[] = {
	MON_OP(FLT_OP_LOOKUP), MON_OP(FLT_OP_GETATTR),
	MON_OP(FLT_OP_SETATTR), MON_OP(FLT_OP_READLINK),
	MON_OP(FLT_OP_MKNOD), MON_OP(FLT_OP_MKDIR),
	MON_OP(FLT_OP_UNLINK), MON_OP(FLT_OP_RMDIR),
	MON_OP(FLT_OP_SYMLINK), MON_OP(FLT_OP_RENAME),
	MON_OP(FLT_OP_LINK), MON_OP(FLT_OP_OPEN),
	MON_DATA_OP(FLT_OP_READ), MON_DATA_OP(FLT_OP_WRITE),
	MON_OP(FLT_OP_FLUSH), MON_OP(FLT_OP_RELEASE),
	MON_OP(FLT_OP_FSYNC), MON_OP(FLT_OP_OPENDIR),
	MON_OP(FLT_OP_READDIR), MON_OP(FLT_OP_RELEASEDIR),
	MON_OP(FLT_OP_FSYNCDIR), MON_OP(FLT_OP_STATFS),
	MON_OP(FLT_OP_SETXATTR), MON_OP(FLT_OP_GETXATTR),
	MON_OP(FLT_OP_LISTXATTR), MON_OP(FLT_OP_REMOVEXATTR),
	MON_OP(FLT_OP_ACCESS), MON_OP(FLT_OP_CREATE),
	MON_OP(FLT_OP_FALLOCATE), MON_OP(FLT_OP_COPY_FILE_RANGE),
	MON_OP(FLT_OP_LSEEK),
	FLT_OPERATION_END
};

static int mon_instance_status(const struct flt_related_objects *objs,
			       struct flt_status_writer *w)
{
	struct mon_inst *mi = inst_of(objs);
	int ret;

	if (!mi)
		return -ENOENT;
	ret = mon_status(mi, w);
	flt_release_context(mi);
	return ret;
}

static const struct flt_registration mon_registration = {
	FLT_REGISTRATION_INIT,
	.name = "monitor",
	.default_altitude = MON_DEFAULT_ALTITUDE,
	.operations = mon_ops,
	.instance_setup = mon_instance_setup,
	.instance_teardown_start = mon_teardown_start,
	.instance_status = mon_instance_status,
	.instance_teardown_complete = mon_teardown_complete,
	.contexts = mon_contexts,
};

const struct flt_registration *monitor_filter_registration(void)
{
	return &mon_registration;
}
