/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filter -> client messages: queue (bounded), then wait for the reply on
 * a condition of the sender's own. Nothing but conn->lock is taken, and
 * it is never held while blocked: condition waits release it. */
#include "port/port_int.h"

#include <errno.h>
#include <time.h>

static void deadline_of(int timeout_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* 0, or ETIMEDOUT once the deadline (NULL: none) has passed */
static int wait_on(pthread_cond_t *cond, pthread_mutex_t *lock,
		   const struct timespec *deadline)
{
	if (!deadline)
		return pthread_cond_wait(cond, lock);
	return pthread_cond_timedwait(cond, lock, deadline);
}

void port_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &a);
	pthread_condattr_destroy(&a);
}

int port_send(struct port_conn *c, const void *in, size_t in_len, void *out,
	      size_t *out_len, int timeout_ms)
{
	struct port_frame f = { .type = PORT_F_MESSAGE, .len = (uint32_t)in_len };
	struct port_waiter w = { 0 };
	struct timespec ts, *deadline = NULL;
	int ret;

	if (in_len > PORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (out && !out_len)
		return -EINVAL;
	if (timeout_ms >= 0) {
		deadline_of(timeout_ms, &ts);
		deadline = &ts;
	}
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		ret = c->accepted ? -ECONNRESET : -ENOTCONN;
		goto out_unlock;
	}
	if (c->state != CONN_OPEN) {
		ret = -ENOTCONN;
		goto out_unlock;
	}
	c->users++;
	/* a full queue: a message without reply is dropped (the caller
	 * counts it), one with a reply waits for room within its time */
	for (;;) {
		f.id = ++c->next_id;
		f.flags = out ? PORT_FF_REPLY_EXPECTED : 0;
		ret = port_conn_queue_locked(c, &f, in, false);
		if (ret == -EAGAIN && !out)
			c->drops++;
		if (ret != -EAGAIN || !out)
			break;
		if (wait_on(&c->cond, &c->lock, deadline) == ETIMEDOUT) {
			ret = c->dead ? -ECONNRESET : -ETIMEDOUT;
			break;
		}
	}
	if (ret || !out)
		goto out_user;

	if (c->dead) {		/* the write found the client gone */
		ret = -ECONNRESET;
		goto out_user;
	}
	port_cond_init(&w.cond);
	w.id = f.id;
	w.out = out;
	w.cap = *out_len;
	w.next = c->waiters;
	c->waiters = &w;
	/* if the frame already failed to go out, the kill released us */
	while (!w.done) {
		if (wait_on(&w.cond, &c->lock, deadline) == ETIMEDOUT &&
		    !w.done) {
			struct port_waiter **pp;

			for (pp = &c->waiters; *pp != &w; pp = &(*pp)->next)
				;
			*pp = w.next;	/* a late reply is dropped */
			w.status = -ETIMEDOUT;
			break;
		}
	}
	ret = w.status;
	*out_len = w.status ? 0 : w.len;
	pthread_cond_destroy(&w.cond);
out_user:
	if (!--c->users)
		pthread_cond_broadcast(&c->cond);
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void port_conn_close(struct port_conn *c)
{
	pthread_mutex_lock(&c->lock);
	port_conn_kill_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void port_conn_queue_stats(struct port_conn *c, size_t *frames, size_t *bytes)
{
	pthread_mutex_lock(&c->lock);
	*frames = c->qframes;
	*bytes = c->qbytes;
	pthread_mutex_unlock(&c->lock);
}

void port_conn_queue_peak(struct port_conn *c, size_t *frames, size_t *bytes,
			  unsigned long *drops)
{
	pthread_mutex_lock(&c->lock);
	*frames = c->qframes_peak;
	*bytes = c->qbytes_peak;
	*drops = c->drops;
	pthread_mutex_unlock(&c->lock);
}
