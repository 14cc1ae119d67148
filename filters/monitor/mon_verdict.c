/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verdicts. An operation the verdict client wants to judge is pended in
 * its pre-callback (FLT_PREOP_PENDING: no volume worker waits), a
 * MON_MSG_VERDICT_REQ goes to the client, and exactly one of these
 * completes it:
 *   - the client's answer (allow, deny; extend only moves the deadline,
 *     never past max_verdict_ms from the start),
 *   - the timer thread at the deadline (the configured default),
 *   - the client's disconnect, a queue-full send, teardown (the default,
 *     at once),
 *   - FUSE INTERRUPT (the cancel routine: -EINTR).
 * Ownership: whoever takes the pending entry out of the list under
 * mon_vlock, having cleared its cancel routine, completes it. If the
 * cancel routine is already running (flt_clear_cancel_routine gives
 * -EBUSY), the entry stays for the routine, which takes it the same way.
 *
 * Paging I/O (FLT_IO_PAGING reads and writes: readahead, mmap faults,
 * writeback) is never pended by default: the client gets the request
 * flagged MON_EV_NO_VERDICT and the operation goes on. With
 * paging_bound_ms=N (at most MON_PAGING_BOUND_MAX_MS) it waits up to N ms,
 * not extensible: a client that page-faults on the volume while judging a
 * page fault would otherwise deadlock.
 */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mon_pending {
	struct mon_pending *next;
	struct mon_inst *mi;
	struct flt_callback_data *data;
	uint64_t id, client_id;
	uint64_t start_ns, deadline_ns, max_deadline_ns;
	enum flt_preop_status go_status;
	void *post_ctx;
	bool owned;
};

enum finish_kind { FIN_ALLOW, FIN_DENY, FIN_CANCEL };

static pthread_mutex_t mon_vlock = PTHREAD_MUTEX_INITIALIZER;
static struct mon_pending *pendings;	/* mon_vlock */
static atomic_uint_fast64_t next_id;

static void unlink_locked(struct mon_pending *p)
{
	for (struct mon_pending **pp = &pendings; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

/* mon_vlock held. True if the caller now owns @p and must finish it. */
static bool take_locked(struct mon_pending *p)
{
	if (p->owned)
		return false;
	if (flt_clear_cancel_routine(p->data) == -EBUSY)
		return false;	/* the cancel routine has it */
	p->owned = true;
	unlink_locked(p);
	return true;
}

/* No lock held. Completes the operation and frees @p. */
static void finish(struct mon_pending *p, enum finish_kind kind, int err)
{
	struct flt_callback_data *d = p->data;

	if (kind == FIN_ALLOW) {
		flt_complete_pended_preop(d, p->go_status, p->post_ctx);
	} else {
		d->io_status.status = kind == FIN_CANCEL ? -EINTR : -err;
		d->io_status.information = 0;
		/* our post-callback will not run: report the result here */
		mon_emit_completed(p->mi, d, p->start_ns);
		flt_complete_pended_preop(d, FLT_PREOP_COMPLETE, NULL);
	}
	free(p);
}

static void finish_default(struct mon_pending *p)
{
	struct mon_inst *mi = p->mi;

	if (mi->cfg.default_deny)
		finish(p, FIN_DENY, mi->cfg.deny_errno);
	else
		finish(p, FIN_ALLOW, 0);
}

static void on_cancel(struct flt_callback_data *d)
{
	struct mon_pending *p;

	pthread_mutex_lock(&mon_vlock);
	for (p = pendings; p; p = p->next)
		if (p->data == d && !p->owned)
			break;
	if (p) {
		p->owned = true;
		unlink_locked(p);
	}
	pthread_mutex_unlock(&mon_vlock);
	if (p) {
		atomic_fetch_add(&p->mi->ctr.cancelled, 1);
		finish(p, FIN_CANCEL, EINTR);
	}
}

static int send_request(struct mon_inst *mi, struct mon_client *vc,
			uint64_t id, unsigned timeout_ms, unsigned max_ms,
			struct mon_evinfo *ev, const struct mon_event *fields,
			unsigned extra_flags)
{
	static _Thread_local _Alignas(8) char
		buf[sizeof(struct mon_verdict_req) + MON_EVENT_MAX];
	struct mon_verdict_req *r = (void *)buf;
	struct mon_event f = *fields;
	size_t n;

	f.phase = MON_PRE;
	f.io_flags |= extra_flags;
	f.seq = atomic_fetch_add(&mi->seq, 1) + 1;
	if (ev->comm)
		snprintf(f.comm, sizeof(f.comm), "%s", ev->comm(ev));
	n = mon_event_encode(buf + sizeof(*r), &f, ev->path, ev->path2);
	r->hdr = (struct mon_hdr){ MON_MAGIC, MON_VERSION, MON_MSG_VERDICT_REQ,
				   (uint32_t)(sizeof(*r) + n), 0 };
	r->verdict_id = id;
	r->timeout_ms = timeout_ms;
	r->max_ms = max_ms;
	return flt_send_message(mi->filter, vc->port, buf, sizeof(*r) + n,
				NULL, NULL, 0);
}

enum flt_preop_status mon_verdict_begin(struct mon_inst *mi,
					struct flt_callback_data *d,
					struct mon_evinfo *ev,
					const struct mon_event *fields,
					enum flt_preop_status go_status,
					void *post_ctx)
{
	struct mon_client *vc, *c;
	struct mon_pending *p;
	unsigned timeout_ms, max_ms;
	bool paging = d->flags & FLT_IO_PAGING;
	uint64_t id;
	int ret;

	if (d->flags & FLT_IO_FILTER_INITIATED)
		return go_status;
	pthread_rwlock_rdlock(&mi->clients_lock);
	vc = mi->verdict_client;
	if (!vc || !mon_sub_match(&vc->sub, 0, ev))
		goto out_go;
	/* a client's own operations (any of its threads) never wait: it
	 * may be the one that has to answer */
	for (c = mi->clients; c; c = c->next)
		if (mon_tid_in_process(ev->tid, c->pid)) {
			atomic_fetch_add(&mi->ctr.excluded, 1);
			goto out_go;
		}
	if (paging && mi->cfg.paging_bound_ms == 0) {
		atomic_fetch_add(&mi->ctr.paging_async, 1);
		send_request(mi, vc, 0, 0, 0, ev, fields, MON_EV_NO_VERDICT);
		goto out_go;
	}
	timeout_ms = mi->cfg.verdict_timeout_ms;
	max_ms = mi->cfg.max_verdict_ms;
	if (paging) {
		if (timeout_ms > mi->cfg.paging_bound_ms)
			timeout_ms = mi->cfg.paging_bound_ms;
		max_ms = timeout_ms;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_go;
	p->mi = mi;
	p->data = d;
	p->id = atomic_fetch_add(&next_id, 1) + 1;
	p->client_id = vc->id;
	p->start_ns = mon_now_ns();
	p->deadline_ns = p->start_ns + timeout_ms * 1000000ull;
	p->max_deadline_ns = p->start_ns + max_ms * 1000000ull;
	p->go_status = go_status;
	p->post_ctx = post_ctx;
	if (flt_set_cancel_routine(d, on_cancel) == -ECANCELED) {
		pthread_rwlock_unlock(&mi->clients_lock);
		free(p);
		d->io_status.status = -EINTR;
		return FLT_PREOP_COMPLETE;
	}
	pthread_mutex_lock(&mon_vlock);
	if (mi->vstop) {
		pthread_mutex_unlock(&mon_vlock);
		pthread_rwlock_unlock(&mi->clients_lock);
		flt_clear_cancel_routine(d);
		free(p);
		goto out_default;
	}
	id = p->id;
	p->next = pendings;
	pendings = p;
	pthread_cond_signal(&mi->vcond);
	pthread_mutex_unlock(&mon_vlock);
	atomic_fetch_add(&mi->ctr.requests, 1);
	ret = send_request(mi, vc, id, timeout_ms, max_ms, ev, fields, 0);
	pthread_rwlock_unlock(&mi->clients_lock);
	if (ret) {
		/* queue full or client going: nobody will answer. @p may be
		 * gone already (answered, timed out): find it by id. */
		bool mine = false;

		pthread_mutex_lock(&mon_vlock);
		for (p = pendings; p; p = p->next)
			if (p->id == id)
				break;
		if (p)
			mine = take_locked(p);
		pthread_mutex_unlock(&mon_vlock);
		if (mine) {
			atomic_fetch_add(&mi->ctr.released, 1);
			finish_default(p);
		}
	}
	return FLT_PREOP_PENDING;

out_go:
	pthread_rwlock_unlock(&mi->clients_lock);
	return go_status;
out_default:
	atomic_fetch_add(&mi->ctr.released, 1);
	if (!mi->cfg.default_deny)
		return go_status;
	d->io_status.status = -mi->cfg.deny_errno;
	return FLT_PREOP_COMPLETE;
}

int mon_verdict_answer(struct mon_inst *mi, uint64_t client_id,
		       const struct mon_verdict *v)
{
	struct mon_pending *p;
	bool mine = false;
	int err = v->error > 0 && v->error < 4096 ? v->error : EACCES;

	if (v->verdict < MON_ALLOW || v->verdict > MON_EXTEND)
		return -EINVAL;
	pthread_mutex_lock(&mon_vlock);
	for (p = pendings; p; p = p->next)
		if (p->id == v->verdict_id && p->mi == mi &&
		    p->client_id == client_id && !p->owned)
			break;
	if (!p) {
		pthread_mutex_unlock(&mon_vlock);
		return -ENOENT;	/* late: timed out or released */
	}
	if (v->verdict == MON_EXTEND) {
		uint64_t dl = mon_now_ns() + v->extend_ms * 1000000ull;

		p->deadline_ns = dl < p->max_deadline_ns ? dl :
							   p->max_deadline_ns;
		pthread_cond_signal(&mi->vcond);
		pthread_mutex_unlock(&mon_vlock);
		return 0;
	}
	mine = take_locked(p);
	pthread_mutex_unlock(&mon_vlock);
	if (!mine)
		return -ENOENT;
	if (v->verdict == MON_ALLOW) {
		atomic_fetch_add(&mi->ctr.allowed, 1);
		finish(p, FIN_ALLOW, 0);
	} else {
		atomic_fetch_add(&mi->ctr.denied, 1);
		finish(p, FIN_DENY, err);
	}
	return 0;
}

/* Take every pending of @mi (of @client_id if not 0, expired ones only if
 * @now) into @out. mon_vlock held. Returns the earliest other deadline. */
static uint64_t collect_locked(struct mon_inst *mi, uint64_t client_id,
			       uint64_t now, struct mon_pending **out)
{
	uint64_t next = UINT64_MAX;
	struct mon_pending *p = pendings, *n;

	for (; p; p = n) {
		n = p->next;
		if (p->mi != mi || p->owned ||
		    (client_id && p->client_id != client_id))
			continue;
		if (now && p->deadline_ns > now) {
			if (p->deadline_ns < next)
				next = p->deadline_ns;
			continue;
		}
		if (take_locked(p)) {
			p->next = *out;
			*out = p;
		}
	}
	return next;
}

static void finish_all(struct mon_pending *list, atomic_uint_fast64_t *ctr)
{
	while (list) {
		struct mon_pending *n = list->next;

		atomic_fetch_add(ctr, 1);
		finish_default(list);
		list = n;
	}
}

void mon_verdict_release(struct mon_inst *mi, uint64_t client_id)
{
	struct mon_pending *list = NULL;

	pthread_mutex_lock(&mon_vlock);
	if (!client_id)
		mi->vstop = true;
	collect_locked(mi, client_id, 0, &list);
	pthread_mutex_unlock(&mon_vlock);
	finish_all(list, &mi->ctr.released);
}

static void *timer_main(void *arg)
{
	struct mon_inst *mi = arg;

	pthread_mutex_lock(&mon_vlock);
	while (!mi->vstop) {
		struct mon_pending *list = NULL;
		uint64_t next = collect_locked(mi, 0, mon_now_ns(), &list);
		struct timespec ts;

		if (list) {
			pthread_mutex_unlock(&mon_vlock);
			finish_all(list, &mi->ctr.timeouts);
			pthread_mutex_lock(&mon_vlock);
			continue;
		}
		if (next == UINT64_MAX)
			next = mon_now_ns() + 1000000000ull;
		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		pthread_cond_timedwait(&mi->vcond, &mon_vlock, &ts);
	}
	pthread_mutex_unlock(&mon_vlock);
	return NULL;
}

int mon_timer_start(struct mon_inst *mi)
{
	int ret = pthread_create(&mi->timer, NULL, timer_main, mi);

	if (ret)
		return -ret;
	mi->timer_started = true;
	return 0;
}

void mon_timer_stop(struct mon_inst *mi)
{
	if (!mi->timer_started)
		return;
	pthread_mutex_lock(&mon_vlock);
	mi->vstop = true;
	pthread_cond_signal(&mi->vcond);
	pthread_mutex_unlock(&mon_vlock);
	pthread_join(mi->timer, NULL);
	mi->timer_started = false;
}
