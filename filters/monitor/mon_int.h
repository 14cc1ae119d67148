/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor internals. Files:
 *   monitor.c   registration, instance setup/teardown, the callbacks
 *   mon_args.c  the --filter monitor:ARGS parser
 *   mon_match.c subscriptions: validation, matching, globs (pure)
 *   mon_event.c event records (pure)
 *   mon_path.c  volume-relative paths of inodes (stream contexts)
 *   mon_client.c port callbacks, per-client queues, the sender thread
 *   mon_verdict.c pended opens waiting for a verdict, the timer thread
 *
 * Lock order: mi->clients_lock (rwlock) -> client->qlock; mon_vlock (all
 * pended verdicts of the process) is a leaf: never held while taking the
 * others, never held while completing an operation or sending. mi->slock
 * only guards the sender's sleep. No lock is held while an operation is
 * completed (flt_complete_pended_preop may run the rest of the operation).
 */
#ifndef FSFILTER_MON_INT_H
#define FSFILTER_MON_INT_H

#include <fsfilter/filter.h>
#include <fsfilter/monitor.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MON_MAX_CLIENTS 64
#define MON_PATH_MAX 4096

/* ---- mon_args.c ---- */
struct mon_config {
	unsigned verdict_timeout_ms;	/* verdict_timeout_ms=, default 1000 */
	unsigned max_verdict_ms;	/* max_verdict_ms=, default 10000 */
	bool default_deny;		/* default=allow|deny */
	int deny_errno;			/* deny_errno=, default EACCES */
	unsigned paging_bound_ms;	/* paging_bound_ms=, 0 = async */
	unsigned max_clients;		/* max_clients=, default 8 */
	size_t queue_bytes;		/* queue_kb=, per client, default 256 */
	unsigned port_mode;		/* port_mode=, default 0600 */
};
#define MON_PAGING_BOUND_MAX_MS 50u

int mon_args_parse(const char *args, struct mon_config *cfg, char *err,
		   size_t errlen);

/* ---- mon_match.c ---- */
enum mon_path_kind { MON_PATH_ANY, MON_PATH_PREFIX, MON_PATH_GLOB };

struct mon_sub {
	uint64_t ops_pre, ops_post, verdict_ops;
	uint32_t flags;
	pid_t pid;			/* 0 = any */
	uid_t uid;			/* (uid_t)-1 = any */
	char comm[MON_COMM_LEN];
	enum mon_path_kind path_kind;
	char path[MON_PATTERN_LEN];
};

/* What a subscription is matched against. Expensive attributes come
 * from callbacks, asked only when a subscription filters on them. */
struct mon_evinfo {
	enum flt_op op;
	unsigned io_flags;		/* FLT_IO_* */
	int result;			/* post */
	pid_t tid;
	uid_t uid;
	const char *path, *path2;	/* path2 may be NULL */
	/* process name of tid (cached by the caller) */
	const char *(*comm)(struct mon_evinfo *ev);
	/* is tid a thread of process pid? */
	bool (*in_process)(struct mon_evinfo *ev, pid_t pid);
	void *arg;
};

/* The type of a client message of @len bytes (enum mon_msg_type), or
 * -EPROTO if its header is not ours or its size is not the message's;
 * SUBSCRIBE's body is checked by mon_sub_from_msg. */
int mon_msg_type(const void *msg, size_t len);
/* Validate a SUBSCRIBE message of @len bytes into @out. -EINVAL/-EPROTO. */
int mon_sub_from_msg(const void *msg, size_t len, struct mon_sub *out);
/* Does @s want the event in @phase (MON_PRE, MON_POST; 0 = verdict)? */
bool mon_sub_match(const struct mon_sub *s, int phase,
		   struct mon_evinfo *ev);
bool mon_sub_match_path(const struct mon_sub *s, const char *path);
/* Glob: '*' and '?' never match '/', "**" matches anything, [a-z] [!x]. */
bool mon_glob_match(const char *pat, const char *s);
/* Ops whose verdict may be waited for. */
#define MON_VERDICT_OPS_ALLOWED                                             \
	(MON_OP_BIT(FLT_OP_OPEN) | MON_OP_BIT(FLT_OP_CREATE) |               \
	 MON_OP_BIT(FLT_OP_READ) | MON_OP_BIT(FLT_OP_WRITE))

/* ---- mon_event.c ---- */
/* Largest record: header, two paths with NULs, padding. */
#define MON_EVENT_MAX                                                       \
	((sizeof(struct mon_event) + 2 * MON_PATH_MAX + 2 + 7) & ~(size_t)7)
/* Encode into @buf (MON_EVENT_MAX bytes): fills size/path lengths from
 * @path/@path2 (NULL = none; truncated to MON_PATH_MAX - 1). Returns
 * the record size. */
size_t mon_event_encode(void *buf, const struct mon_event *fields,
			const char *path, const char *path2);
/* Check a record inside a received buffer of @avail bytes: 0 or -EPROTO. */
int mon_event_check(const void *rec, size_t avail);

/* ---- mon_path.c ---- */
struct mon_inst;
/* The path of @ino ("/" for the root, "<ino N>" if never seen). */
void mon_path_of(struct mon_inst *mi, flt_ino_t ino, char *buf, size_t len);
/* path of @parent + "/" + @name */
void mon_path_join(struct mon_inst *mi, flt_ino_t parent, const char *name,
		   char *buf, size_t len);
/* @ino is now known as @name in @parent: @replace for renames. */
void mon_path_note(struct mon_inst *mi, flt_ino_t parent, const char *name,
		   flt_ino_t ino, bool replace);
/* After a successful rename: look the new name(s) up below us. */
void mon_path_renamed(struct mon_inst *mi, const struct flt_callback_data *d);
void mon_path_node_cleanup(void *ctx, enum flt_context_type type);

/* ---- mon_client.c ---- */
struct mon_client {
	struct mon_inst *mi;
	struct flt_client_port *port;
	uint64_t id;
	pid_t pid;			/* peer process (SO_PEERCRED) */
	uid_t uid;
	struct mon_sub sub;		/* clients_lock */
	bool subscribed;		/* clients_lock */
	struct mon_client *next;	/* clients_lock */

	pthread_mutex_t qlock;
	char *cur, *out;		/* two buffers of queue_bytes */
	size_t cur_len;			/* qlock */
	uint64_t cur_count;		/* qlock */
	size_t out_len, out_off;	/* the sender's; out_count under qlock */
	uint64_t out_count;
	uint64_t matched, sent, dropped;	/* qlock */
	uint64_t stalled_until;		/* sender only (monotonic ns) */
};

struct mon_counters {
	atomic_uint_fast64_t requests, allowed, denied, timeouts, released,
		excluded, paging_async, cancelled;
};

struct mon_inst {
	struct flt_filter *filter;
	struct flt_instance *instance;
	struct mon_config cfg;
	struct flt_port *port;

	pthread_rwlock_t clients_lock;
	struct mon_client *clients;		/* clients_lock */
	unsigned nclients;			/* clients_lock */
	struct mon_client *verdict_client;	/* clients_lock */
	uint64_t next_client_id;		/* clients_lock */
	/* unions of the subscriptions (written under clients_lock) */
	atomic_uint_fast64_t want_pre, want_post, want_verdict;
	/* some subscription wants read or write events or verdicts: opens
	 * of matching files leave the fast path */
	atomic_bool want_data;
	atomic_bool stopping;
	atomic_uint_fast64_t seq;

	pthread_t sender;
	bool sender_started;
	pthread_mutex_t slock;
	pthread_cond_t scond;
	bool sstop;				/* slock */
	atomic_int kick;

	pthread_t timer;
	bool timer_started;
	pthread_cond_t vcond;			/* with mon_vlock */
	bool vstop;				/* mon_vlock */
	struct mon_counters ctr;
};

int mon_port_open(struct mon_inst *mi);
/* Stop listening, disconnect every client (teardown). */
void mon_port_close(struct mon_inst *mi);
/* `fsfilter status` figures (flt_registration.instance_status). */
int mon_status(struct mon_inst *mi, struct flt_status_writer *w);
int mon_sender_start(struct mon_inst *mi);
void mon_sender_stop(struct mon_inst *mi);
/* Queue the event for every client whose subscription matches. @fields
 * and the paths of @ev are encoded once, on the first match. */
void mon_emit(struct mon_inst *mi, int phase, struct mon_evinfo *ev,
	      const struct mon_event *fields);
/* Is @tid (a thread id, as FUSE reports it) a thread of process @pid? */
bool mon_tid_in_process(pid_t tid, pid_t pid);
uint64_t mon_now_ns(void);
uint64_t mon_realtime_ns(void);

/* ---- mon_verdict.c ---- */
/* Wait for a verdict on @d if the verdict client wants it: returns
 * FLT_PREOP_PENDING (the operation completes later), or the status to
 * return now (COMPLETE with io_status set when denied at once). */
enum flt_preop_status mon_verdict_begin(struct mon_inst *mi,
					struct flt_callback_data *d,
					struct mon_evinfo *ev,
					const struct mon_event *fields,
					enum flt_preop_status go_status,
					void *post_ctx);
/* A client's MON_MSG_VERDICT. */
int mon_verdict_answer(struct mon_inst *mi, uint64_t client_id,
		       const struct mon_verdict *v);
/* Release every waiter of @client_id (0 = all of @mi) with the default. */
void mon_verdict_release(struct mon_inst *mi, uint64_t client_id);
int mon_timer_start(struct mon_inst *mi);
void mon_timer_stop(struct mon_inst *mi);
/* Post event of an operation the monitor itself completed (deny). */
void mon_emit_completed(struct mon_inst *mi, struct flt_callback_data *d,
			uint64_t start_ns);

/* monitor.c: fill the common fields of an event for @d. */
void mon_fields(const struct flt_callback_data *d, struct mon_evinfo *ev,
		struct mon_event *f);
const char *mon_comm_cached(pid_t pid, char *buf, size_t len);

#endif
