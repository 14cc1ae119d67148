/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Clients of the "monitor" port: connect/disconnect/message callbacks,
 * per-client bounded queues, and the sender thread that drains them.
 *
 * Queues: each client has two buffers of queue_bytes. Volume workers
 * append encoded events to `cur` (under qlock: a memcpy); when it is full
 * the event is dropped and counted. The sender swaps `cur` and `out`
 * once `out` is fully sent and hands `out` to the port in batches of up
 * to FLT_PORT_MAX_MESSAGE bytes, without qlock. A port queue that is full
 * (a client that does not read) gives -EAGAIN: the sender retries that
 * client every MON_STALL_NS, so the worst a slow client costs the volume
 * is its own dropped events, never a wait.
 *
 * Client lifetime: a client is in mi->clients from its connect callback
 * to its disconnect callback, which removes it under the write lock. Every
 * use of client->port (the sender, verdict requests, teardown) happens
 * under the read lock, so after the disconnect callback took the write
 * lock nobody uses the port any more (the rule of flt_port_disconnect_callback).
 * Each client holds a reference on the instance context.
 */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define MON_STALL_NS (5ull * 1000 * 1000)
#define MON_COALESCE_NS (1000 * 1000)

uint64_t mon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mon_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool mon_tid_in_process(pid_t tid, pid_t pid)
{
	char p[64];

	if (tid == pid)
		return true;
	if (pid <= 0 || tid <= 0)
		return false;
	/* FUSE reports the thread id; a thread of @pid is listed in its
	 * task directory. One stat, no parsing of /proc/TID/status. */
	snprintf(p, sizeof(p), "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(p, F_OK) == 0;
}

/* ---- queues and the sender ------------------------------------------- */

static void kick_sender(struct mon_inst *mi)
{
	if (atomic_exchange(&mi->kick, 1))
		return;		/* already kicked since its last pass */
	pthread_mutex_lock(&mi->slock);
	pthread_cond_signal(&mi->scond);
	pthread_mutex_unlock(&mi->slock);
}

void mon_emit(struct mon_inst *mi, int phase, struct mon_evinfo *ev,
	      const struct mon_event *fields)
{
	static _Thread_local _Alignas(8) char rec[MON_EVENT_MAX];
	struct mon_event f;
	size_t size = 0;
	bool queued = false;

	pthread_rwlock_rdlock(&mi->clients_lock);
	for (struct mon_client *c = mi->clients; c; c = c->next) {
		if (!c->subscribed || !mon_sub_match(&c->sub, phase, ev))
			continue;
		if (!size) {
			f = *fields;
			f.phase = (uint8_t)phase;
			f.seq = atomic_fetch_add(&mi->seq, 1) + 1;
			if (ev->comm)
				snprintf(f.comm, sizeof(f.comm), "%s",
					 ev->comm(ev));
			size = mon_event_encode(rec, &f, ev->path, ev->path2);
		}
		pthread_mutex_lock(&c->qlock);
		c->matched++;
		if (c->cur_len + size <= mi->cfg.queue_bytes) {
			memcpy(c->cur + c->cur_len, rec, size);
			c->cur_len += size;
			c->cur_count++;
			queued = true;
		} else {
			c->dropped++;
		}
		pthread_mutex_unlock(&c->qlock);
	}
	pthread_rwlock_unlock(&mi->clients_lock);
	if (queued)
		kick_sender(mi);
}

/* Send what @c has; returns true if it still has data it could not send
 * now (its port queue is full). Called with clients_lock read-held. */
static bool flush_client(struct mon_inst *mi, struct mon_client *c,
			 char *batch, uint64_t now)
{
	struct mon_batch *b = (struct mon_batch *)batch;

	if (c->stalled_until > now)
		return true;
	c->stalled_until = 0;
	for (;;) {
		size_t off, len = 0;
		uint32_t count = 0;
		int ret;

		pthread_mutex_lock(&c->qlock);
		if (c->out_off == c->out_len) {
			char *t = c->out;

			if (c->cur_len == 0) {
				pthread_mutex_unlock(&c->qlock);
				return false;
			}
			c->out = c->cur;
			c->out_len = c->cur_len;
			c->out_count = c->cur_count;
			c->out_off = 0;
			c->cur = t;
			c->cur_len = 0;
			c->cur_count = 0;
		}
		b->dropped = c->dropped;
		pthread_mutex_unlock(&c->qlock);

		/* records up to one port message, whole records only */
		off = c->out_off;
		while (off + len < c->out_len) {
			const struct mon_event *e =
				(const void *)(c->out + off + len);

			if (sizeof(*b) + len + e->size > FLT_PORT_MAX_MESSAGE)
				break;
			len += e->size;
			count++;
		}
		b->hdr = (struct mon_hdr){ MON_MAGIC, MON_VERSION,
					   MON_MSG_EVENTS,
					   (uint32_t)(sizeof(*b) + len), 0 };
		b->count = count;
		b->reserved = 0;
		memcpy(batch + sizeof(*b), c->out + off, len);
		ret = flt_send_message(mi->filter, c->port, batch,
				       sizeof(*b) + len, NULL, NULL, 0);
		if (ret == -EAGAIN) {
			c->stalled_until = now + MON_STALL_NS;
			return true;
		}
		pthread_mutex_lock(&c->qlock);
		c->out_off += len;
		c->out_count -= count;
		if (ret)	/* going away: these are lost */
			c->dropped += count;
		else
			c->sent += count;
		pthread_mutex_unlock(&c->qlock);
	}
}

static void *sender_main(void *arg)
{
	struct mon_inst *mi = arg;
	char *batch = malloc(FLT_PORT_MAX_MESSAGE);
	bool stalled = false;

	if (!batch)
		return NULL;
	for (;;) {
		uint64_t now;

		pthread_mutex_lock(&mi->slock);
		while (!mi->sstop && !atomic_load(&mi->kick)) {
			if (stalled) {
				struct timespec ts;

				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_nsec += MON_STALL_NS;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				if (pthread_cond_timedwait(&mi->scond,
							   &mi->slock, &ts))
					break;
			} else {
				pthread_cond_wait(&mi->scond, &mi->slock);
			}
		}
		if (mi->sstop) {
			pthread_mutex_unlock(&mi->slock);
			break;
		}
		pthread_mutex_unlock(&mi->slock);
		/* coalesce: a storm of events costs one wake-up and one send
		 * per MON_COALESCE_NS instead of one per event (the kick stays
		 * set meanwhile, so producers do not wake us again). Verdict
		 * requests do not go through here. */
		nanosleep(&(struct timespec){ 0, MON_COALESCE_NS }, NULL);
		atomic_store(&mi->kick, 0);
		stalled = false;
		now = mon_now_ns();
		pthread_rwlock_rdlock(&mi->clients_lock);
		for (struct mon_client *c = mi->clients; c; c = c->next)
			stalled |= flush_client(mi, c, batch, now);
		pthread_rwlock_unlock(&mi->clients_lock);
	}
	free(batch);
	return NULL;
}

int mon_sender_start(struct mon_inst *mi)
{
	int ret = pthread_create(&mi->sender, NULL, sender_main, mi);

	if (ret)
		return -ret;
	mi->sender_started = true;
	return 0;
}

void mon_sender_stop(struct mon_inst *mi)
{
	if (!mi->sender_started)
		return;
	pthread_mutex_lock(&mi->slock);
	mi->sstop = true;
	pthread_cond_signal(&mi->scond);
	pthread_mutex_unlock(&mi->slock);
	pthread_join(mi->sender, NULL);
	mi->sender_started = false;
}

/* ---- port callbacks ---------------------------------------------------- */

/* Recompute the unions of all subscriptions. clients_lock write-held. */
static void recompute_wants_locked(struct mon_inst *mi)
{
	uint64_t pre = 0, post = 0, verdict = 0;
	bool data = false;
	const uint64_t data_ops =
		MON_OP_BIT(FLT_OP_READ) | MON_OP_BIT(FLT_OP_WRITE);

	for (struct mon_client *c = mi->clients; c; c = c->next) {
		if (!c->subscribed)
			continue;
		pre |= c->sub.ops_pre;
		post |= c->sub.ops_post;
		if (c == mi->verdict_client)
			verdict |= c->sub.verdict_ops;
		if ((c->sub.ops_pre | c->sub.ops_post | c->sub.verdict_ops) &
		    data_ops)
			data = true;
	}
	atomic_store(&mi->want_pre, pre);
	atomic_store(&mi->want_post, post);
	atomic_store(&mi->want_verdict, verdict);
	atomic_store(&mi->want_data, data);
}

static int on_connect(struct flt_client_port *port, void *server_cookie,
		      const struct flt_port_peer *peer, const void *context,
		      size_t context_len, void **cookie)
{
	struct mon_inst *mi = server_cookie;
	struct mon_client *c;

	(void)context;
	(void)context_len;
	if (atomic_load(&mi->stopping))
		return -ESHUTDOWN;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cur = malloc(mi->cfg.queue_bytes);
	c->out = malloc(mi->cfg.queue_bytes);
	if (!c->cur || !c->out) {
		free(c->cur);
		free(c->out);
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->qlock, NULL);
	c->mi = mi;
	c->port = port;
	c->pid = peer->pid;
	c->uid = peer->uid;
	flt_reference_context(mi);
	pthread_rwlock_wrlock(&mi->clients_lock);
	c->id = ++mi->next_client_id;
	c->next = mi->clients;
	mi->clients = c;
	mi->nclients++;
	pthread_rwlock_unlock(&mi->clients_lock);
	flt_log(LOG_INFO, "monitor: client %llu connected (pid %d uid %u)",
		(unsigned long long)c->id, (int)c->pid, (unsigned)c->uid);
	*cookie = c;
	return 0;
}

static void on_disconnect(void *cookie)
{
	struct mon_client *c = cookie;
	struct mon_inst *mi = c->mi;
	bool was_verdict;

	pthread_rwlock_wrlock(&mi->clients_lock);
	for (struct mon_client **pp = &mi->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			mi->nclients--;
			break;
		}
	was_verdict = mi->verdict_client == c;
	if (was_verdict)
		mi->verdict_client = NULL;
	recompute_wants_locked(mi);
	pthread_rwlock_unlock(&mi->clients_lock);
	/* its waiters go at once, with the default */
	if (was_verdict)
		mon_verdict_release(mi, c->id);
	flt_log(LOG_INFO, "monitor: client %llu gone (%llu sent, %llu "
		"dropped)", (unsigned long long)c->id,
		(unsigned long long)c->sent, (unsigned long long)c->dropped);
	pthread_mutex_destroy(&c->qlock);
	free(c->cur);
	free(c->out);
	free(c);
	flt_release_context(mi);
}

static int reply_status(void *out, size_t out_len, size_t *ret_len, int st)
{
	struct mon_reply r = {
		.hdr = { MON_MAGIC, MON_VERSION, MON_MSG_REPLY, sizeof(r), 0 },
		.status = st,
	};

	if (out_len < sizeof(r))
		return -EMSGSIZE;
	memcpy(out, &r, sizeof(r));
	*ret_len = sizeof(r);
	return 0;
}

static int subscribe(struct mon_client *c, const void *in, size_t len)
{
	struct mon_inst *mi = c->mi;
	struct mon_sub sub;
	int ret = mon_sub_from_msg(in, len, &sub);

	if (ret)
		return ret;
	pthread_rwlock_wrlock(&mi->clients_lock);
	if ((sub.flags & MON_SUB_VERDICT) && mi->verdict_client &&
	    mi->verdict_client != c) {
		ret = -EBUSY;
	} else {
		c->sub = sub;
		c->subscribed = true;
		if (sub.flags & MON_SUB_VERDICT)
			mi->verdict_client = c;
		else if (mi->verdict_client == c)
			mi->verdict_client = NULL;
		recompute_wants_locked(mi);
	}
	pthread_rwlock_unlock(&mi->clients_lock);
	/* a verdict client that resubscribes without the flag: let its
	 * waiters go */
	if (!ret && !(sub.flags & MON_SUB_VERDICT))
		mon_verdict_release(mi, c->id);
	return ret;
}

static int get_stats(struct mon_client *c, void *out, size_t out_len,
		     size_t *ret_len)
{
	struct mon_inst *mi = c->mi;
	struct mon_stats s = {
		.hdr = { MON_MAGIC, MON_VERSION, MON_MSG_STATS, sizeof(s), 0 },
	};

	if (out_len < sizeof(s))
		return -EMSGSIZE;
	pthread_mutex_lock(&c->qlock);
	s.matched = c->matched;
	s.sent = c->sent;
	s.dropped = c->dropped;
	s.queued = c->cur_count + c->out_count;
	pthread_mutex_unlock(&c->qlock);
	s.verdict_requests = atomic_load(&mi->ctr.requests);
	s.verdict_allowed = atomic_load(&mi->ctr.allowed);
	s.verdict_denied = atomic_load(&mi->ctr.denied);
	s.verdict_timeouts = atomic_load(&mi->ctr.timeouts);
	s.verdict_released = atomic_load(&mi->ctr.released);
	s.verdict_excluded = atomic_load(&mi->ctr.excluded);
	s.verdict_paging_async = atomic_load(&mi->ctr.paging_async);
	s.verdict_cancelled = atomic_load(&mi->ctr.cancelled);
	memcpy(out, &s, sizeof(s));
	*ret_len = sizeof(s);
	return 0;
}

static int on_message(void *cookie, const void *in, size_t in_len, void *out,
		      size_t out_len, size_t *out_returned)
{
	struct mon_client *c = cookie;
	int st;

	*out_returned = 0;
	switch (mon_msg_type(in, in_len)) {	/* -EPROTO: default */
	case MON_MSG_SUBSCRIBE:
		st = subscribe(c, in, in_len);
		break;
	case MON_MSG_VERDICT:
		st = mon_verdict_answer(c->mi, c->id, in);
		break;
	case MON_MSG_GET_STATS:
		return get_stats(c, out, out_len, out_returned);
	default:
		return -EPROTO;
	}
	return reply_status(out, out_len, out_returned, st);
}

int mon_port_open(struct mon_inst *mi)
{
	struct flt_port_security sec = {
		.owner = geteuid(),
		.group = getegid(),
		.mode = mi->cfg.port_mode,
	};

	return flt_create_communication_port(mi->filter, MON_PORT_NAME, &sec,
					     mi, on_connect, on_disconnect,
					     on_message, mi->cfg.max_clients,
					     &mi->port);
}

void mon_port_close(struct mon_inst *mi)
{
	if (mi->port) {
		flt_close_communication_port(mi->port);
		mi->port = NULL;
	}
	/* disconnects run later on the port's callback thread */
	pthread_rwlock_rdlock(&mi->clients_lock);
	for (struct mon_client *c = mi->clients; c; c = c->next)
		flt_close_client_port(mi->filter, c->port);
	pthread_rwlock_unlock(&mi->clients_lock);
}

/* `fsfilter status`: clients with their queues and drops, verdict counts.
 * Runs on the control thread; takes the client lock for reading like an
 * event does, and each queue lock briefly. */
int mon_status(struct mon_inst *mi, struct flt_status_writer *w)
{
	uint64_t total_dropped = 0;
	char key[64];

	flt_status_add_u64(w, "verdicts.requests",
			   atomic_load(&mi->ctr.requests));
	flt_status_add_u64(w, "verdicts.allowed",
			   atomic_load(&mi->ctr.allowed));
	flt_status_add_u64(w, "verdicts.denied", atomic_load(&mi->ctr.denied));
	flt_status_add_u64(w, "verdicts.timed_out",
			   atomic_load(&mi->ctr.timeouts));
	flt_status_add_u64(w, "verdicts.released",
			   atomic_load(&mi->ctr.released));
	/* both of these got the configured default */
	flt_status_add_u64(w, "verdicts.defaulted",
			   atomic_load(&mi->ctr.timeouts) +
				   atomic_load(&mi->ctr.released));
	flt_status_add_u64(w, "verdicts.excluded",
			   atomic_load(&mi->ctr.excluded));
	flt_status_add_u64(w, "verdicts.paging_async",
			   atomic_load(&mi->ctr.paging_async));
	flt_status_add_u64(w, "verdicts.cancelled",
			   atomic_load(&mi->ctr.cancelled));
	flt_status_add_u64(w, "events.seq", atomic_load(&mi->seq));

	pthread_rwlock_rdlock(&mi->clients_lock);
	flt_status_add_u64(w, "clients", mi->nclients);
	flt_status_add_u64(w, "verdict_client",
			   mi->verdict_client ? mi->verdict_client->id : 0);

	for (struct mon_client *c = mi->clients; c; c = c->next) {
		uint64_t matched, sent, dropped, queued;

		pthread_mutex_lock(&c->qlock);
		matched = c->matched;
		sent = c->sent;
		dropped = c->dropped;
		queued = c->cur_count + c->out_count;
		pthread_mutex_unlock(&c->qlock);
		total_dropped += dropped;
#define CLIENT_FIG(name, v)                                                  \
	do {                                                                 \
		snprintf(key, sizeof(key), "client.%llu." name,              \
			 (unsigned long long)c->id);                          \
		flt_status_add_u64(w, key, v);                               \
	} while (0)
		CLIENT_FIG("pid", (uint64_t)c->pid);
		CLIENT_FIG("uid", (uint64_t)c->uid);
		CLIENT_FIG("matched", matched);
		CLIENT_FIG("sent", sent);
		CLIENT_FIG("queued", queued);
		CLIENT_FIG("dropped", dropped);
#undef CLIENT_FIG
	}
	pthread_rwlock_unlock(&mi->clients_lock);
	flt_status_add_u64(w, "events.dropped", total_dropped);
	return 0;
}
