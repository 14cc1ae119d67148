/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FUSE INTERRUPT -> core_cancel(), on a thread of its own (see struct
 * fe_canceller for why). */
#include "fuse/fuse_int.h"

#include <errno.h>

void fe_canceller_queue(struct fe *fe, struct fe_req *r)
{
	struct fe_canceller *c = &fe->canceller;

	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_lock(&c->lock);
	r->cancel_next = c->head;
	c->head = r;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void *canceller_main(void *arg)
{
	struct fe *fe = arg;
	struct fe_canceller *c = &fe->canceller;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct fe_req *r = c->head;

		if (!r) {
			if (c->stop)
				break;
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		c->head = r->cancel_next;
		pthread_mutex_unlock(&c->lock);
		/* safe if the operation completed meanwhile: our reference
		 * keeps @r, and the manager checks it is still in flight */
		core_cancel(fe->vol, &r->data);
		fe_req_put(r);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int fe_canceller_start(struct fe *fe)
{
	struct fe_canceller *c = &fe->canceller;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->head = NULL;
	c->stop = false;
	if (pthread_create(&c->thread, NULL, canceller_main, fe))
		return -EAGAIN;
	c->started = true;
	return 0;
}

void fe_canceller_stop(struct fe *fe)
{
	struct fe_canceller *c = &fe->canceller;

	if (!c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	c->started = false;
}
