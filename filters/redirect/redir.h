/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redirect: serve selected files' content from backing files outside the
 * volume. Private header; see docs/redirect.md for the behaviour.
 *
 * Objects and who holds them:
 *   struct redir_rules   an immutable rule set; the instance holds one
 *                        reference to the current set, readers take their
 *                        own (redir_rules_get) so a swap never frees a set
 *                        in use.
 *   struct redir_target  what one redirected node is served from (backing
 *                        path, policy); refcounted, shared by the node's
 *                        stream context / virtual node and its handles.
 *   struct redir_snode   stream context of a *lower* node we care about:
 *                        directories (their volume path, to name children)
 *                        and redirected files (their target).
 *   struct redir_vnode   a virtual node (no lower object): filter-owned
 *                        node id, lookup count, path, target.
 *   struct redir_handle  one open of a redirected file: the backing fd.
 *                        Lower-backed opens keep it in a stream handle
 *                        context; virtual opens use its address as fh.
 *   struct redir_dir     one open directory that shows virtual names: a
 *                        snapshot of the listing.
 *
 * Lock order: inst->rules_lock and inst->vlock are leaves; no lock is held
 * across I/O of the lower layer or a backing file, except dir->lock around
 * the snapshot build of its own directory (the kernel serialises readdir
 * per open directory anyway).
 */
#ifndef FSFILTER_REDIR_H
#define FSFILTER_REDIR_H

#include <fsfilter/filter.h>
#include <fsfilter/scope.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Above crypt (140000): a redirected file's content comes from a plaintext
 * backing file outside the volume, which crypt below must never see. */
#define REDIR_DEFAULT_ALTITUDE 145000u

enum redir_kind { REDIR_EXACT, REDIR_PREFIX, REDIR_GLOB };
enum redir_policy { REDIR_READONLY, REDIR_COW, REDIR_HYDRATE };

/* Per-process scope of a rule (scope.c): "only=" the listed processes, or
 * everyone "except=" them. The list is a public process list
 * (include/fsfilter/scope.h: comm, pid: any thread of it, uid). */
enum redir_scope_kind { REDIR_SCOPE_ALL, REDIR_SCOPE_ONLY,
			REDIR_SCOPE_EXCEPT };
#define REDIR_SCOPE_MAX FLT_SCOPE_MAX

struct redir_scope {
	enum redir_scope_kind kind;
	struct flt_scope who;		/* kind != ALL */
};

struct redir_rule {
	struct redir_scope scope;
	enum redir_kind kind;
	enum redir_policy policy;
	int deny_errno;			/* EACCES or EROFS (positive) */
	char *path;			/* volume path, no leading or trailing
					   '/'; glob: the pattern */
	char *backing;			/* absolute; prefix: a directory, no
					   trailing '/' */
	bool watch;			/* watch=on: inotify (watch.c) */
};

struct redir_rules {
	atomic_uint refs;
	uint64_t gen;			/* set when installed (port.c) */
	size_t n;
	struct redir_rule *v;
};

/* ---- rules.c ------------------------------------------------------------ */

/* Parse one clause "rule=PATH=>BACKING[,policy=P][,errno=E]" (the "rule="
 * already stripped: @spec is "PATH=>BACKING,..."). Fills @r (strings
 * malloc'd). On error returns -EINVAL and a message in @err. */
int redir_rule_parse(const char *spec, struct redir_rule *r, char *err,
		     size_t errlen);
void redir_rule_free(struct redir_rule *r);

/* Parse instance arguments: clauses separated by ';' (rule=..., rules=FILE,
 * block=N, times=backing|lower). Rules files hold one clause per line ('#'
 * comments). The result has one reference. */
struct redir_config {
	size_t block_size;		/* 0 = read exactly what is asked */
	bool lower_times;		/* show the lower file's times */
	bool no_fastpath;		/* fastpath=off: serve every read */
	unsigned copy_delay_us;		/* copy_delay_us=N: sleep per MiB
					   materialised (crash tests) */
	unsigned hydrate_jobs;		/* hydrate_jobs=N: background
					   copies at a time (1..16) */
	bool watch_all;			/* watch=on: every rule watched */
	unsigned watch_max;		/* watch_max=N: directories watched
					   at most (default 4096) */
};
int redir_args_parse(const char *args, struct redir_rules **out,
		     struct redir_config *cfg, char *err, size_t errlen);

struct redir_rules *redir_rules_new(void);
/* Append a copy of @r (takes ownership of its strings). */
int redir_rules_add(struct redir_rules *set, struct redir_rule *r);
void redir_rules_put(struct redir_rules *set);

/* Join @dir ("" = root) and @name into @buf; -ENAMETOOLONG if too long. */
int redir_path_join(const char *dir, const char *name, char *buf,
		    size_t len);

/* What a volume path maps to. */
struct redir_match {
	const struct redir_rule *rule;	/* NULL: not redirected */
	uint64_t gen;			/* of the rule set */
	char backing[4096];		/* the backing path */
};
/* Match @path: exact rules first, then the longest prefix, then globs in
 * order. Returns true and fills @m on a match. */
bool redir_match_path(const struct redir_rules *set, const char *path,
		      struct redir_match *m);

/* Names rules make appear directly in directory @dir (exact rules whose
 * parent is @dir, prefix rules whose root is a child of @dir) and, if @dir
 * lies inside a prefix rule, that rule's backing directory for it.
 * @cb(name, arg) is called per name; *@backing_dir gets the backing
 * directory to list as well ("" if none). */
void redir_virtual_names(const struct redir_rules *set, const char *dir,
			 void (*cb)(const char *name, void *arg), void *arg,
			 char *backing_dir, size_t len);

/* ---- backing.c ---------------------------------------------------------- */

/* Open a backing file for reading (O_RDONLY|O_CLOEXEC|O_NOFOLLOW of the
 * last component is NOT used: backing paths are admin-chosen and may be
 * symlinks). Returns fd or negative errno. */
int redir_backing_open(const char *path);
int redir_backing_stat(const char *path, struct stat *st);

/* Block math for aligned reads: the aligned range [*start, *end) that
 * covers [off, off+len) with blocks of @bs (a power of two or any
 * positive size). */
void redir_block_range(off_t off, size_t len, size_t bs, off_t *start,
		       off_t *end);
/* Read exactly [off, off+len) of @fd into @buf (short only at EOF);
 * with @bs > 0 the file is read in whole aligned blocks through a bounce
 * buffer. Returns bytes or negative errno. */
ssize_t redir_backing_read(int fd, void *buf, size_t len, off_t off,
			   size_t bs);

/* ---- the instance -------------------------------------------------------- */

/* scope.c */
/* Parse "ITEM[+ITEM...]" (ITEM: NAME, comm:NAME, pid:N, uid:N) into @s
 * with @kind. -EINVAL and a message in @err. */
int redir_scope_parse(const char *v, enum redir_scope_kind kind,
		      struct redir_scope *s, char *err, size_t errlen);
/* ",only=..." / ",except=..." of @s ("" for everyone) into @buf. */
void redir_scope_format(const struct redir_scope *s, char *buf, size_t len);
/* Does a rule with scope @s apply to the requestor of @d? A scoped rule
 * is decided per operation, so its names, attributes and pages are never
 * cached by the kernel (timeouts 0, direct I/O, no fast path). */
bool redir_scope_applies(const struct redir_scope *s,
			 const struct flt_callback_data *d);
static inline bool redir_scoped(const struct redir_scope *s)
{
	return s->kind != REDIR_SCOPE_ALL;
}

struct redir_target {
	atomic_uint refs;
	struct redir_scope scope;	/* the rule's */
	/* copied into the lower file (materialise.c): opens of the node
	 * that still shows this target answer -ESTALE */
	atomic_bool materialised;
	uint64_t gen;			/* rule set it was made from */
	enum redir_policy policy;
	int deny_errno;
	bool is_dir;
	char backing[];			/* the backing path */
};

struct redir_target *redir_target_new(const struct redir_match *m,
				      bool is_dir);
void redir_target_get(struct redir_target *t);
void redir_target_put(struct redir_target *t);

struct redir_snode {			/* stream context */
	uint64_t gen;			/* rule set it was decided with: a
					   newer set decides again */
	struct redir_target *target;	/* NULL for a plain directory */
	bool is_dir;
	char path[];			/* volume path */
};

struct redir_vnode {
	flt_ino_t id;
	uint64_t nlookup;		/* inst->vlock */
	struct redir_target *target;
	mode_t type;			/* S_IFREG or S_IFDIR */
	struct redir_vnode *next_id, *next_path;	/* inst->vlock */
	/* the in-scope view of a lower file under a scoped rule (see
	 * redir_note_entry): the lower file's attributes at the last
	 * lookup (owner, mode, inode number shown) */
	bool has_lower;			/* inst->vlock */
	struct stat lower;		/* inst->vlock */
	char path[];
};

/* First member of every stream handle context: which kind it is. */
enum redir_hkind { REDIR_H_FILE = 0x46494c45, REDIR_H_DIR = 0x44495220 };

struct redir_handle {
	enum redir_hkind kind;		/* REDIR_H_FILE */
	int fd;				/* backing file, read-only */
	struct redir_target *target;
	bool is_virtual;
};

struct redir_dirent {
	char *name;
	unsigned type;
	uint64_t ino;
	bool lower;			/* from the lower directory */
};

struct redir_dir {
	enum redir_hkind kind;		/* REDIR_H_DIR */
	pthread_mutex_t lock;
	bool is_virtual;		/* a virtual directory: no lower fh */
	uint64_t lower_fh;
	char *backing_dir;		/* to list as well, or NULL */
	char *path;			/* the directory's volume path */
	bool built;			/* lock */
	struct redir_dirent *v;		/* lock */
	size_t n, cap;			/* lock */
};

#define REDIR_VBUCKETS_MIN 256		/* vnode.c: first table size */
#define REDIR_JOBS_MAX 16		/* hydrate_jobs= upper bound */
#define REDIR_JOBS_DEFAULT 4

/*
 * One copy of a backing file into the lower file (hydrate.c,
 * materialise.c): a background hydration, or a copy-on-write / truncate
 * materialisation that its operation waits for. At most one per volume
 * path: later requests for the path join it. Lives in ri->jobs from
 * queued to done; referenced by the list, its worker and its waiters.
 */
enum redir_job_state { REDIR_JOB_QUEUED, REDIR_JOB_RUNNING,
		       REDIR_JOB_DONE };
#define REDIR_JOB_TARGETS 4
struct redir_job {
	struct redir_job *next;			/* job_lock */
	unsigned refs;				/* job_lock */
	enum redir_job_state state;		/* job_lock */
	int result;				/* job_lock, once DONE */
	bool background;			/* a worker runs it */
	bool empty;				/* O_TRUNC: copy nothing */
	enum redir_policy policy;
	flt_ino_t kernel_ino;			/* the opener's node, or 0 */
	/* targets to mark materialised when it commits */
	struct redir_target *t[REDIR_JOB_TARGETS];	/* job_lock */
	unsigned nt;				/* job_lock */
	unsigned waiters;			/* job_lock: operations
						   waiting for it */
	atomic_bool cancel;
	atomic_uint_fast64_t done, total;	/* bytes */
	atomic_uint_fast64_t start_ns;		/* CLOCK_MONOTONIC, 0 =
						   not started */
	char backing[4096];
	char path[];				/* volume path, no '/' */
};

struct redir_inst {			/* instance context */
	struct flt_instance *instance;
	struct flt_filter *filter;
	struct redir_config cfg;
	pthread_mutex_t rules_lock;
	struct redir_rules *rules;	/* rules_lock */
	atomic_uint_fast64_t gen;	/* rules->gen, readable unlocked */
	/* port.c: run-time rules */
	struct flt_port *port;
	atomic_bool closing;
	pthread_mutex_t vlock;
	/* vnode.c: two chained hash tables of vbuckets (a power of two,
	 * 0 until the first node) heads each, grown to keep vcount <=
	 * vbuckets: a listing of 100,000 redirected names makes as many
	 * nodes, and every lookup and readdirplus entry finds its node */
	struct redir_vnode **by_id, **by_path;		/* vlock */
	size_t vbuckets, vcount;			/* vlock */
	/* hydrate.c: copies queued or running (struct redir_job) */
	pthread_mutex_t job_lock;	/* leaf, never held across I/O */
	pthread_cond_t job_cond;	/* job_lock: a job changed state */
	struct redir_job *jobs;		/* job_lock */
	unsigned job_workers;		/* job_lock: threads started */
	unsigned job_busy, job_busy_max;	/* job_lock: workers copying
						   now, at most so far */
	bool job_stop;			/* job_lock */
	pthread_t job_tid[REDIR_JOBS_MAX];
	unsigned mat_delay_us;		/* copy_delay_us */
	/* spool.c: the directory of the copies' temp files */
	pthread_mutex_t spool_lock;	/* creating vs looking it up */
	atomic_uint_fast64_t spool_seq;	/* next temp name */
	atomic_bool spool_warned;	/* no spool: logged once */
	bool spool_used;		/* spool_lock: a copy used it */
	/* finished copies, for status (status.c) */
	atomic_uint_fast64_t mat_count, mat_hydrations, mat_cows, mat_failed,
		mat_bytes, mat_cancelled, hyd_started, hyd_joined;
	/* inval.c */
	pthread_mutex_t inval_lock;
	pthread_cond_t inval_cond;
	pthread_t inval_tid;
	bool inval_running;
	bool inval_stop;		/* inval_lock */
	struct redir_inval *inval_head, **inval_tail;	/* inval_lock */
	uint64_t inval_queued, inval_done;		/* inval_lock */
	/* watch.c: the inotify thread, NULL while no rule is watched */
	pthread_mutex_t watch_lock;	/* start/stop/sync; leaf */
	struct redir_watch *watch;	/* watch_lock */
};

/* The marker of a materialised lower file: value "v1 cow|hydrate
 * lower|virtual" (what the name was before). Hidden from the volume. */
#define REDIR_XATTR "trusted.fsfilter.redirect"

/* materialise.c */
/* Copy @j's backing content (nothing if j->empty) into the lower file at
 * volume path j->path, crash-safely, checking j->cancel between chunks
 * (-ECANCELED: the temp file is gone, the file stays a redirect). 0 if
 * done now or earlier; marks j's targets materialised. The caller owns
 * the job; hydrate.c runs it. */
int redir_copy_run(struct redir_inst *ri, struct redir_job *j);
/* Copy @t's backing content into the lower file at @path and wait for
 * it (copy-on-write, truncate, a write to a hydrate file): joins a copy
 * of @path already queued or running. -ECANCELED if that copy is cancelled
 * (nothing was written: the caller may retry). @kernel_ino: the node the
 * kernel has for it now (its caches get invalidated). */
int redir_materialise(struct redir_inst *ri, const char *path,
		      struct redir_target *t, flt_ino_t kernel_ino,
		      bool empty);

/* hydrate.c */
/* Start the background hydration of @path from @t, or join the one that
 * runs: never waits for the copy. 0, or a negative errno (nothing
 * started; the caller serves the backing content anyway). */
int redir_hydrate_start(struct redir_inst *ri, const char *path,
			struct redir_target *t, flt_ino_t kernel_ino);
/* Cancel the copy of @path: 0, or -ENOENT if none is queued or running.
 * Returns without waiting for the worker to notice. */
int redir_hydrate_cancel(struct redir_inst *ri, const char *path);
/* A snapshot of the copies queued or running (at most @max), oldest
 * first; *@busy_max: the most background copies that ran at once. */
struct redir_job_info {
	char path[256];				/* "/..." */
	enum redir_policy policy;
	bool running;
	bool background;
	unsigned waiters;			/* operations waiting */
	uint64_t done, total, rate;		/* rate: bytes/s so far */
	uint64_t elapsed_ms;
};
size_t redir_jobs_snapshot(struct redir_inst *ri, struct redir_job_info *v,
			   size_t max, unsigned *busy_max);
/* The copy of @path now, if any (@path without leading '/'). */
bool redir_job_find_info(struct redir_inst *ri, const char *path,
			 struct redir_job_info *out);
void redir_jobs_init(struct redir_inst *ri);
/* Cancel every copy, wake its waiters, join the workers (teardown). */
void redir_jobs_stop(struct redir_inst *ri);
void redir_jobs_destroy(struct redir_inst *ri);

/* Is @name the temp file of a copy (".fsfilter-redirect-<16 hex>.tmp")?
 * Such names are hidden from the volume: lookup ENOENT, left out of
 * listings, not creatable. */
#define REDIR_TEMP_PREFIX ".fsfilter-redirect-"
static inline bool redir_is_temp_name(const char *name)
{
	size_t n = sizeof(REDIR_TEMP_PREFIX) - 1;

	if (strncmp(name, REDIR_TEMP_PREFIX, n))
		return false;
	for (size_t i = 0; i < 16; i++)
		if (!name[n + i] || !strchr("0123456789abcdef", name[n + i]))
			return false;
	return !strcmp(name + n + 16, ".tmp");
}
/* The spool (spool.c): the lower directory of the copies' temp files, at
 * the lower root. Hidden from the volume like the temp files. */
#define REDIR_SPOOL_NAME ".fsfilter-redirect-spool"
static inline bool redir_is_hidden_name(flt_ino_t parent, const char *name)
{
	return redir_is_temp_name(name) ||
	       (parent == FLT_ROOT_INO && !strcmp(name, REDIR_SPOOL_NAME));
}
void redir_spool_init(struct redir_inst *ri);
/* Instance setup, before any copy can run: remove the temp files left in
 * the spool by a crash, and the spool. */
void redir_spool_sweep(struct redir_inst *ri);
/* Teardown, nothing running: remove the spool if this instance used it
 * and it is empty. */
void redir_spool_destroy(struct redir_inst *ri);
/* The directory for the temp file of a copy into lower directory
 * @parent: *@out = the spool (one lookup reference; 0 returned) if it is
 * ours and on @parent's file system; else *@out = @parent and a negative
 * errno (the caller then uses a temp file next to the file). */
int redir_spool_get(struct redir_inst *ri, flt_ino_t parent, flt_ino_t *out);
/* A fresh temp name for the spool (unique per instance, random start). */
void redir_spool_name(struct redir_inst *ri, char *buf, size_t len);

/* materialise.c: filter-initiated I/O helpers, below the instance */
struct flt_callback_data *redir_io_new(struct redir_inst *ri, enum flt_op op,
				       flt_ino_t ino);
/* Run @d (NULL: -ENOMEM), free it, return its status. */
int redir_io_run(struct flt_callback_data *d);
/* Lookup below: @e holds one lookup reference (drop with redir_forget). */
int redir_lookup_child(struct redir_inst *ri, flt_ino_t parent,
		       const char *name, struct flt_entry *e);
void redir_forget(struct redir_inst *ri, flt_ino_t ino);
int redir_unlink_child(struct redir_inst *ri, flt_ino_t parent,
		       const char *name);
int redir_release(struct redir_inst *ri, flt_ino_t ino, uint64_t fh, bool dir);

/* Is lower name (@parent, @name) a materialised file? */
bool redir_name_materialised(struct redir_inst *ri, flt_ino_t parent,
			     const char *name);
/* Does lower node @ino carry the marker? */
bool redir_is_materialised(struct redir_inst *ri, flt_ino_t ino);
int redir_marker_get(struct redir_inst *ri, flt_ino_t ino, char *buf,
		     size_t len);

/* port.c: the "redirect" port (fsfilter redirect add|remove|list|
 * dehydrate) */
int redir_port_open(struct redir_inst *ri);
void redir_port_close(struct redir_inst *ri);
/* redirect.c: refuse backing files on FUSE, wrong types (logged) */
int redir_check_backing(const struct redir_rule *r);
/* rules.c */
/* a PATH of the rule syntax with its escapes decoded (dehydrate PATH) */
int redir_unescape_path(const char *in, char *out, size_t len);
int redir_rule_dup(const struct redir_rule *r, struct redir_rule *out);
/* "PATH=>BACKING,policy=...,errno=..." of @r into @buf, names escaped
 * (docs/redirect.md "Names"); returns the length it needs (>= @len: cut) */
size_t redir_rule_format(const struct redir_rule *r, char *buf, size_t len);

/* status.c: figures for `fsfilter status` */
int redir_instance_status(const struct flt_related_objects *objs,
			  struct flt_status_writer *w);

/* inval.c: kernel cache invalidation from the instance's own thread */
struct redir_inval;
int redir_inval_start(struct redir_inst *ri);
void redir_inval_stop(struct redir_inst *ri);
/* Queue: entry (@parent, @name) if @name, inode @ino if nonzero. */
void redir_inval_queue(struct redir_inst *ri, flt_ino_t parent,
		       const char *name, flt_ino_t ino);
/* Wait until everything queued so far was sent. */
void redir_inval_flush(struct redir_inst *ri);

/* port.c: drop the kernel's caches of volume path @path (its dentry, the
 * lower and virtual nodes it may have) / of everything rule @r covers.
 * From a thread of the filter's own, never from a callback. */
void redir_inval_volume_path(struct redir_inst *ri, const char *path);
void redir_inval_rule_caches(struct redir_inst *ri,
			     const struct redir_rule *r);

/* watch.c: optional coherency with backing files (watch=on). */
#define REDIR_WATCH_MAX_DEFAULT 4096u
struct redir_watch;
/* Watch what the current rules ask for: starts the instance's inotify
 * thread if needed, or makes it resynchronise its watches (after a rule
 * change). Returns at once. */
void redir_watch_sync(struct redir_inst *ri);
/* Stop and join the thread (teardown). Idempotent. */
void redir_watch_stop(struct redir_inst *ri);
/* status.c: watch.dirs, watch.events, watch.refreshed, watch.overflows
 * while the thread runs (nothing otherwise). */
void redir_watch_status(struct redir_inst *ri, struct flt_status_writer *w);

/* redirect.c */
struct redir_inst *redir_inst_get(struct flt_instance *instance);
void redir_inst_put(struct redir_inst *ri);
struct redir_rules *redir_rules_get(struct redir_inst *ri);
/* The volume path of lower directory @ino into @buf; -ENOENT if unknown. */
int redir_dir_path(struct redir_inst *ri, flt_ino_t ino, char *buf,
		   size_t len);

/* vnode.c */
/* Find or create the virtual node for @path (one more lookup reference),
 * fill @e from @st. */
int redir_vnode_ref(struct redir_inst *ri, const char *path,
		    struct redir_target *t, const struct stat *st,
		    struct flt_entry *e);
/* The node of @id with a borrowed target reference (caller must
 * redir_target_get it if kept past the operation): only valid while the
 * kernel holds a reference, i.e. during an operation naming @id. */
struct redir_vnode *redir_vnode_find(struct redir_inst *ri, flt_ino_t id);
/* Like redir_vnode_ref, for the in-scope view of a lower file whose
 * attributes are @lower: its own node, so its page cache never mixes
 * with the lower node's (docs/redirect.md, "Per-process scope"). */
int redir_vnode_ref_lower(struct redir_inst *ri, const char *path,
			  struct redir_target *t, const struct stat *st,
			  const struct stat *lower, struct flt_entry *e);
/* The attributes of virtual node @id given its backing's @st; false if
 * the node is unknown. */
bool redir_vnode_attr(struct redir_inst *ri, flt_ino_t id,
		      const struct stat *st, struct stat *attr);
void redir_vnode_forget(struct redir_inst *ri, flt_ino_t id, uint64_t n);
void redir_vnodes_destroy(struct redir_inst *ri);
/* Ids of the virtual nodes of @path / of every path under @prefix
 * (at most @max). */
size_t redir_vnode_ids(struct redir_inst *ri, const char *path,
		       flt_ino_t *ids, size_t max);
size_t redir_vnode_ids_under(struct redir_inst *ri, const char *prefix,
			     flt_ino_t *ids, size_t max);

/* ops_file.c: cleanup of a struct redir_handle context */
void redir_handle_cleanup(void *c, enum flt_context_type type);
/* ops_dir.c: free what a struct redir_dir holds (not the struct) */
void redir_dir_cleanup(struct redir_dir *dir);

/* attributes */
void redir_fill_attr(struct redir_inst *ri, struct stat *attr,
		     const struct stat *backing, bool is_virtual,
		     const struct redir_target *t);

/* ops: pre/post callbacks (ops_entry.c, ops_file.c, ops_dir.c,
 * ops_virtual.c) */
#define REDIR_PRE(name) enum flt_preop_status name(struct flt_callback_data *d, \
	const struct flt_related_objects *o, void **ctx)
#define REDIR_POST(name) enum flt_postop_status name(struct flt_callback_data *d, \
	const struct flt_related_objects *o, void *ctx, unsigned flags)

REDIR_PRE(redir_pre_lookup);
REDIR_POST(redir_post_lookup);
REDIR_PRE(redir_pre_getattr);
REDIR_POST(redir_post_getattr);
REDIR_PRE(redir_pre_namespace);	/* create, mknod, mkdir, ... policy */
REDIR_POST(redir_post_newentry);	/* mkdir/create: dir contexts */
REDIR_PRE(redir_pre_open);
REDIR_POST(redir_post_open);
REDIR_PRE(redir_pre_read);
REDIR_PRE(redir_pre_release);
REDIR_PRE(redir_pre_write);
REDIR_PRE(redir_pre_setattr);
REDIR_POST(redir_post_setattr);
REDIR_PRE(redir_pre_lseek);
REDIR_PRE(redir_pre_copy_file_range);
REDIR_PRE(redir_pre_fallocate);
REDIR_PRE(redir_pre_opendir);
REDIR_POST(redir_post_opendir);
REDIR_PRE(redir_pre_readdir);
REDIR_POST(redir_post_readdir);
REDIR_PRE(redir_pre_releasedir);
REDIR_PRE(redir_pre_virtual);	/* everything else on a virtual node */
REDIR_POST(redir_post_listxattr);	/* hides REDIR_XATTR */

/* ops_entry.c: the entry a lookup of @name in the directory at volume
 * path @dir gives when a rule of @rules makes the name exist (a virtual
 * node, one lookup reference), as the requestor of @d sees it; -ENOENT if
 * no rule does (or not for this requestor), ".", "..". Lookups and
 * readdirplus of snapshot directories (ops_dir.c) share it. */
int redir_rule_entry(struct redir_inst *ri, const struct redir_rules *rules,
		     const char *dir, const char *name, struct flt_entry *e,
		     const struct flt_callback_data *d);

/* The stream context of a lower node, referenced, or NULL. */
struct redir_snode *redir_snode_get(struct redir_inst *ri, flt_ino_t ino);
/* Decide lower node @ino again (its backing file or directory appeared,
 * went or changed type: watch.c), as a rule change would. */
void redir_snode_refresh(struct redir_inst *ri, flt_ino_t ino);
/* Decide what the new name (@parent, @name) is and remember it for node
 * @e->ino; fix @e->attr for redirected files (as the requestor of @d sees
 * them; under a scoped rule with timeouts 0). */
void redir_note_entry(struct redir_inst *ri, flt_ino_t parent,
		      const char *name, struct flt_entry *e,
		      const struct flt_callback_data *d);

static inline bool redir_is_virtual(flt_ino_t ino)
{
	return (ino & FLT_INO_FILTER_OWNED) != 0;
}

#endif /* FSFILTER_REDIR_H */
