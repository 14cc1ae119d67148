/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The callback thread: every connect, message and disconnect callback of
 * every port runs here, in FIFO order, with no port lock held. Its queue
 * is bounded by the connections: at most one connect, one disconnect and
 * PORT_MAX_INFLIGHT_SENDS messages each. */
#include "port/port_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cb_item {
	struct cb_item *next;
	enum port_cb_kind kind;
	struct port_conn *c;
	uint64_t id;
	uint32_t reply_cap;
	size_t len;
	unsigned char data[];
};

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cond = PTHREAD_COND_INITIALIZER;
static struct cb_item *cb_head, **cb_tail = &cb_head;	/* cb_lock */
static pthread_t cb_thread;
/* the reply buffer of message callbacks (one thread, one buffer) */
static unsigned char cb_out[PORT_MAX_PAYLOAD];

int port_cb_queue(enum port_cb_kind kind, struct port_conn *c, uint64_t id,
		  uint32_t reply_cap, const void *data, size_t len)
{
	struct cb_item *it = malloc(sizeof(*it) + len);

	if (!it)
		return -ENOMEM;
	it->next = NULL;
	it->kind = kind;
	it->c = c;
	it->id = id;
	it->reply_cap = reply_cap;
	it->len = len;
	if (len)
		memcpy(it->data, data, len);
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_lock(&cb_lock);
	*cb_tail = it;
	cb_tail = &it->next;
	pthread_cond_signal(&cb_cond);
	pthread_mutex_unlock(&cb_lock);
	return 0;
}

static void do_connect(struct port_conn *c, const struct cb_item *it)
{
	struct port_server *srv = c->srv;
	struct port_frame f = { .type = PORT_F_CONNECT_RESULT };
	void *cookie = NULL;
	int ret = -ECONNREFUSED;	/* the port was closed meanwhile */
	bool dead;

	pthread_mutex_lock(&c->lock);
	dead = c->dead;
	pthread_mutex_unlock(&c->lock);
	if (dead)
		return;
	if (!atomic_load(&srv->closed))
		ret = srv->cb.connect ? srv->cb.connect(c, srv->cookie,
							&c->peer, it->data,
							it->len, &cookie)
				      : 0;
	if (ret > 0 || ret < -4095)
		ret = -ECONNREFUSED;	/* not an errno: refuse anyway */
	pthread_mutex_lock(&c->lock);
	f.status = ret;
	if (!ret) {
		c->accepted = true;
		c->cookie = cookie;
		c->state = CONN_OPEN;
	} else {
		c->state = CONN_REFUSED;
		c->close_after_flush = true;
	}
	if (port_conn_queue_locked(c, &f, NULL, true))
		port_conn_kill_locked(c);
	pthread_mutex_unlock(&c->lock);
}

static void do_message(struct port_conn *c, const struct cb_item *it)
{
	struct port_server *srv = c->srv;
	struct port_frame f = { .type = PORT_F_SEND_RESULT, .id = it->id };
	size_t out = 0;
	int ret = -ENOSYS;
	bool dead;

	pthread_mutex_lock(&c->lock);
	dead = c->dead;
	pthread_mutex_unlock(&c->lock);
	if (!dead && srv->cb.message)
		ret = srv->cb.message(c->cookie, it->data, it->len, cb_out,
				      it->reply_cap, &out);
	if (ret > 0 || ret < -4095)
		ret = -EIO;
	if (!ret && out > it->reply_cap)
		ret = -EMSGSIZE;	/* the callback overran its buffer */
	f.status = ret;
	f.len = ret ? 0 : (uint32_t)out;
	pthread_mutex_lock(&c->lock);
	c->inflight--;
	/* past the queue limit by at most PORT_MAX_INFLIGHT_SENDS answers:
	   no SEND is taken while the queue is full (PORT_QUEUE_PEAK_BYTES) */
	if (port_conn_queue_locked(c, &f, cb_out, true))
		port_conn_kill_locked(c);
	port_conn_resume_locked(c);
	pthread_mutex_unlock(&c->lock);
}

static void do_disconnect(struct port_conn *c)
{
	bool accepted;

	pthread_mutex_lock(&c->lock);
	/* the contract: every sender has returned before the callback */
	while (c->users)
		pthread_cond_wait(&c->cond, &c->lock);
	accepted = c->accepted;
	pthread_mutex_unlock(&c->lock);
	if (accepted && c->srv->cb.disconnect)
		c->srv->cb.disconnect(c->cookie);
}

static void *cb_main(void *unused)
{
	for (;;) {
		struct cb_item *it;

		pthread_mutex_lock(&cb_lock);
		while (!cb_head)
			pthread_cond_wait(&cb_cond, &cb_lock);
		it = cb_head;
		cb_head = it->next;
		if (!cb_head)
			cb_tail = &cb_head;
		pthread_mutex_unlock(&cb_lock);

		switch (it->kind) {
		case CB_CONNECT:
			do_connect(it->c, it);
			break;
		case CB_MESSAGE:
			do_message(it->c, it);
			break;
		case CB_DISCONNECT:
			do_disconnect(it->c);
			break;
		}
		port_conn_put(it->c);
		free(it);
	}
	return NULL;
}

int port_cb_start(void)
{
	return port_thread_create(&cb_thread, cb_main);
}
