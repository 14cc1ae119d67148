/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connections: accept and the security check, reading and parsing frames
 * (I/O thread), the bounded output queue (any thread, under conn->lock),
 * and teardown. */
#include "port/port_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_uint hs_timeout_ms = PORT_HANDSHAKE_TIMEOUT_MS;
/* Connections still in CONN_HANDSHAKE (or refused and flushing), oldest
 * first when the timeout does not change. I/O thread only. */
static struct port_conn *hs_head;

void port_set_handshake_timeout(unsigned ms)
{
	atomic_store(&hs_timeout_ms, ms);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hs_list(struct port_conn *c)
{
	unsigned ms = atomic_load(&hs_timeout_ms);

	if (!ms)
		return;
	c->hs_deadline = mono_ms() + ms;
	c->hs_prev = NULL;
	c->hs_next = hs_head;
	if (hs_head)
		hs_head->hs_prev = c;
	hs_head = c;
	c->hs_listed = true;
}

static void hs_unlist(struct port_conn *c)
{
	if (!c->hs_listed)
		return;
	if (c->hs_prev)
		c->hs_prev->hs_next = c->hs_next;
	else
		hs_head = c->hs_next;
	if (c->hs_next)
		c->hs_next->hs_prev = c->hs_prev;
	c->hs_listed = false;
}

void port_server_put(struct port_server *srv)
{
	if (atomic_fetch_sub(&srv->refs, 1) != 1)
		return;
	if (srv->cb.release)
		srv->cb.release(srv->cookie);
	free(srv->uids);
	free(srv->gids);
	free(srv);
}

void port_conn_put(struct port_conn *c)
{
	struct port_out *o;

	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	while ((o = c->qhead)) {
		c->qhead = o->next;
		free(o);
	}
	free(c->in);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	port_server_put(c->srv);
	free(c);
}

static void update_events_locked(struct port_conn *c)
{
	uint32_t ev = EPOLLRDHUP;

	if (c->fd_closed)
		return;
	if (!c->rd_paused)
		ev |= EPOLLIN;
	if (c->want_out)
		ev |= EPOLLOUT;
	port_io_mod(c->fd, &c->ep, ev);
}

/* Release every waiting sender with -ECONNRESET and make the I/O thread
 * see a hang-up. Any thread. */
void port_conn_kill_locked(struct port_conn *c)
{
	struct port_waiter *w;

	if (!c->dead) {
		c->dead = true;
		while ((w = c->waiters)) {
			c->waiters = w->next;
			w->status = -ECONNRESET;
			w->done = true;
			pthread_cond_signal(&w->cond);
		}
		pthread_cond_broadcast(&c->cond);
	}
	if (!c->fd_closed)
		shutdown(c->fd, SHUT_RDWR);
}

static bool queue_full_locked(const struct port_conn *c)
{
	return c->qframes >= PORT_QUEUE_MAX_FRAMES ||
	       c->qbytes >= PORT_QUEUE_MAX_BYTES;
}

/* Write what the socket takes. Any thread, under conn->lock. */
static void flush_locked(struct port_conn *c)
{
	struct port_out *o;

	while (!c->fd_closed && (o = c->qhead)) {
		ssize_t n = send(c->fd, o->data + o->off, o->len - o->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->want_out) {
				c->want_out = true;
				update_events_locked(c);
			}
			return;
		}
		if (n < 0) {	/* EPIPE, ECONNRESET: the client is gone */
			port_conn_kill_locked(c);
			return;
		}
		o->off += (size_t)n;
		if (o->off < o->len)
			continue;
		c->qhead = o->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->qframes--;
		c->qbytes -= o->len;
		free(o);
		pthread_cond_broadcast(&c->cond);
		/* reading stopped on a full queue: go on at half (if sends
		   are still in flight, the SEND handler pauses again) */
		if (c->rd_paused && c->qframes <= PORT_QUEUE_MAX_FRAMES / 2 &&
		    c->qbytes <= PORT_QUEUE_MAX_BYTES / 2)
			port_conn_resume_locked(c);
	}
	if (c->want_out) {
		c->want_out = false;
		update_events_locked(c);
	}
	if (c->close_after_flush && !c->qhead && !c->fd_closed)
		shutdown(c->fd, SHUT_RDWR);
}

int port_conn_queue_locked(struct port_conn *c, const struct port_frame *f,
			   const void *payload, bool bypass_limit)
{
	struct port_out *o;

	if (c->dead)
		return -ECONNRESET;
	if (!bypass_limit && (c->qframes >= PORT_QUEUE_MAX_FRAMES ||
			      c->qbytes + PORT_HDR_SIZE + f->len >
				      PORT_QUEUE_MAX_BYTES))
		return -EAGAIN;
	o = malloc(sizeof(*o) + PORT_HDR_SIZE + f->len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->off = 0;
	o->len = PORT_HDR_SIZE + f->len;
	port_frame_encode(f, o->data);
	if (f->len)
		memcpy(o->data + PORT_HDR_SIZE, payload, f->len);
	if (c->qtail)
		c->qtail->next = o;
	else
		c->qhead = o;
	c->qtail = o;
	c->qframes++;
	c->qbytes += o->len;
	if (c->qframes > c->qframes_peak)
		c->qframes_peak = c->qframes;
	if (c->qbytes > c->qbytes_peak)
		c->qbytes_peak = c->qbytes;
	if (!c->want_out)
		flush_locked(c);
	return 0;
}

/* The callback thread answered a SEND: read again if we had stopped. */
static void resume_job(void *arg)
{
	struct port_conn *c = arg;

	port_conn_event(c, EPOLLIN);
	port_conn_put(c);
}

void port_conn_resume_locked(struct port_conn *c)
{
	if (!c->rd_paused || c->fd_closed)
		return;
	c->rd_paused = false;
	update_events_locked(c);
	/* frames may already wait in c->in with nothing left in the socket
	 * to wake epoll: have the I/O thread look */
	atomic_fetch_add(&c->refs, 1);
	if (port_io_post(resume_job, c))
		atomic_fetch_sub(&c->refs, 1);	/* epoll still wakes on
						   new input */
}

/* I/O thread: the connection is over. */
static void teardown(struct port_conn *c)
{
	enum conn_state st;

	hs_unlist(c);
	pthread_mutex_lock(&c->lock);
	if (c->fd_closed) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	port_conn_kill_locked(c);
	port_io_del(c->fd);
	close(c->fd);
	c->fd_closed = true;
	st = c->state;
	pthread_mutex_unlock(&c->lock);
	free(c->in);
	c->in = NULL;
	if (c->counted) {
		c->srv->nconns--;
		c->counted = false;
	}
	if (st == CONN_CONNECTING || st == CONN_OPEN)
		port_cb_queue(CB_DISCONNECT, c, 0, 0, NULL, 0);
	port_io_defer_put(c);
}

/* Refuse with @status: an error frame, then close. */
static void refuse_locked(struct port_conn *c, int status)
{
	struct port_frame f = { .type = PORT_F_CONNECT_RESULT,
				.status = status };

	c->state = CONN_REFUSED;
	c->close_after_flush = true;
	if (port_conn_queue_locked(c, &f, NULL, true))
		shutdown(c->fd, SHUT_RDWR);
}

/* One complete frame from the client. Returns 0, 1 to stop reading for
 * now (the frame stays buffered), or a negative errno to close. */
static int handle_frame(struct port_conn *c, const struct port_frame *f,
			const unsigned char *payload)
{
	struct port_waiter *w, **pp;
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	switch (c->state) {
	case CONN_HANDSHAKE:
		if (f->type != PORT_F_CONNECT) {
			ret = -EPROTO;
			break;
		}
		c->state = CONN_CONNECTING;
		hs_unlist(c);	/* the connect callback decides now */
		ret = port_cb_queue(CB_CONNECT, c, 0, 0, payload, f->len);
		if (ret)
			refuse_locked(c, ret);
		ret = 0;
		break;
	case CONN_OPEN:
		if (f->type == PORT_F_REPLY) {
			for (pp = &c->waiters; (w = *pp); pp = &w->next)
				if (w->id == f->id)
					break;
			if (!w)
				break;	/* timed out: a late reply */
			*pp = w->next;
			w->len = f->len < w->cap ? f->len : w->cap;
			if (w->len)
				memcpy(w->out, payload, w->len);
			w->status = f->status;
			w->done = true;
			pthread_cond_signal(&w->cond);
		} else if (f->type == PORT_F_SEND) {
			/* their results bypass the queue limit: take no more
			   while the queue is full, so a client that sends and
			   never reads cannot grow it past the limit plus
			   PORT_MAX_INFLIGHT_SENDS results */
			if (c->inflight >= PORT_MAX_INFLIGHT_SENDS ||
			    queue_full_locked(c)) {
				c->rd_paused = true;
				update_events_locked(c);
				ret = 1;
				break;
			}
			c->inflight++;
			ret = port_cb_queue(CB_MESSAGE, c, f->id, f->flags,
					    payload, f->len);
			if (ret)
				c->inflight--;
		} else {
			ret = -EPROTO;
		}
		break;
	case CONN_CONNECTING:	/* the client must wait for the result */
		ret = -EPROTO;
		break;
	case CONN_REFUSED:
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* Parse and handle what is buffered. Returns < 0 to close. */
static int process_input(struct port_conn *c)
{
	size_t used = 0;
	int ret = 0;

	while (c->in_len - used >= PORT_HDR_SIZE) {
		struct port_frame f;
		ssize_t n = port_frame_parse(c->in + used, c->in_len - used,
					     PORT_DIR_TO_SERVER, &f);

		if (n < 0) {
			pthread_mutex_lock(&c->lock);
			if (n == -EPROTONOSUPPORT &&
			    c->state == CONN_HANDSHAKE) {
				/* tell an old or new client why */
				refuse_locked(c, -EPROTONOSUPPORT);
				pthread_mutex_unlock(&c->lock);
				c->in_len = 0;
				return 0;
			}
			pthread_mutex_unlock(&c->lock);
			return (int)n;
		}
		if (n == 0)
			break;
		ret = handle_frame(c, &f, c->in + used + PORT_HDR_SIZE);
		if (ret < 0)
			return ret;
		if (ret > 0)
			break;
		used += (size_t)n;
	}
	if (used) {
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	return 0;
}

void port_conn_event(struct port_conn *c, uint32_t events)
{
	const size_t cap = PORT_HDR_SIZE + PORT_MAX_PAYLOAD;
	bool eof = false;

	if (c->fd_closed)
		return;
	if (events & EPOLLOUT) {
		pthread_mutex_lock(&c->lock);
		flush_locked(c);
		pthread_mutex_unlock(&c->lock);
	}
	if (!c->in && !(c->in = malloc(cap))) {
		teardown(c);
		return;
	}
	for (;;) {
		ssize_t n;
		bool paused;

		if (process_input(c) < 0) {
			teardown(c);	/* malformed: this client only */
			return;
		}
		pthread_mutex_lock(&c->lock);
		paused = c->rd_paused;
		pthread_mutex_unlock(&c->lock);
		if (paused || eof || c->in_len == cap)
			break;
		n = recv(c->fd, c->in + c->in_len, cap - c->in_len,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			eof = true;
			continue;	/* handle what came before the end */
		}
		c->in_len += (size_t)n;
	}
	if (eof || (events & (EPOLLHUP | EPOLLERR)))
		teardown(c);
}

void port_accept(struct port_server *srv)
{
	for (;;) {
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		struct port_conn *c;
		int fd, ret;

		fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (port_accept_pause(srv, errno))
				return;
			if (errno != EAGAIN)
				flt_log(LOG_WARNING, "port %s: accept: %s",
					srv->name, strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr,
				     &crlen)) {
			free(c);
			close(fd);
			continue;
		}
		c->ep.kind = EP_CONN;
		atomic_init(&c->refs, 1);
		c->fd = fd;
		c->peer = (struct flt_port_peer){ cr.pid, cr.uid, cr.gid };
		pthread_mutex_init(&c->lock, NULL);
		port_cond_init(&c->cond);
		atomic_fetch_add(&srv->refs, 1);
		c->srv = srv;
		if (port_io_add(fd, &c->ep, EPOLLIN | EPOLLRDHUP)) {
			close(fd);
			c->fd_closed = true;
			port_conn_put(c);
			continue;
		}
		ret = port_peer_allowed(srv, fd, &c->peer);
		if (!ret && srv->nconns >= srv->max_conns)
			ret = -EBUSY;
		pthread_mutex_lock(&c->lock);
		if (ret) {
			flt_log(LOG_INFO, "port %s: refused pid %d uid %u: %s",
				srv->name, (int)cr.pid, (unsigned)cr.uid,
				strerror(-ret));
			refuse_locked(c, ret);
		} else {
			c->counted = true;
			srv->nconns++;
		}
		pthread_mutex_unlock(&c->lock);
		/* refused ones too: a client that never reads its refusal
		   must not keep the fd */
		hs_list(c);
	}
}

int port_hs_wait_ms(void)
{
	int64_t first = INT64_MAX, now;

	if (!hs_head)
		return -1;
	for (struct port_conn *c = hs_head; c; c = c->hs_next)
		if (c->hs_deadline < first)
			first = c->hs_deadline;
	now = mono_ms();
	if (first <= now)
		return 0;
	return first - now > 60000 ? 60000 : (int)(first - now);
}

void port_hs_expire(void)
{
	int64_t now = mono_ms();
	struct port_conn *c, *next;

	for (c = hs_head; c; c = next) {
		next = c->hs_next;
		if (c->hs_deadline > now)
			continue;
		flt_log(LOG_INFO, "port %s: pid %d uid %u sent no CONNECT "
			"within %u ms: closed", c->srv->name, (int)c->peer.pid,
			(unsigned)c->peer.uid, atomic_load(&hs_timeout_ms));
		teardown(c);	/* unlists it */
	}
}
