/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The instance's invalidation thread. flt_invalidate_inode/entry must not
 * be called from a callback of an operation on the same inode or directory
 * (the kernel may hold that inode's lock, or the locked pages of a write,
 * while it waits for the operation: the notification would wait for them
 * and they for us). Callbacks queue requests here; the thread sends them.
 * Run-time rule changes (port.c) run on the port thread and call the API
 * directly, then wait here (redir_inval_flush) for what is queued.
 *
 * inst->inval_lock protects the queue and the stop flag (a leaf lock).
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct redir_inval {
	struct redir_inval *next;
	flt_ino_t parent;	/* with name: an entry */
	flt_ino_t ino;		/* != 0: an inode */
	char name[];		/* "" = no entry */
};

void redir_inval_queue(struct redir_inst *ri, flt_ino_t parent,
		       const char *name, flt_ino_t ino)
{
	size_t n = name ? strlen(name) + 1 : 1;
	struct redir_inval *iv = malloc(sizeof(*iv) + n);

	if (!iv)
		return;		/* the caches expire by themselves */
	iv->next = NULL;
	iv->parent = parent;
	iv->ino = ino;
	memcpy(iv->name, name ? name : "", n);
	pthread_mutex_lock(&ri->inval_lock);
	*ri->inval_tail = iv;
	ri->inval_tail = &iv->next;
	ri->inval_queued++;
	pthread_cond_broadcast(&ri->inval_cond);
	pthread_mutex_unlock(&ri->inval_lock);
}

static void *inval_thread(void *arg)
{
	struct redir_inst *ri = arg;

	pthread_mutex_lock(&ri->inval_lock);
	for (;;) {
		struct redir_inval *iv;

		while (!ri->inval_head && !ri->inval_stop)
			pthread_cond_wait(&ri->inval_cond, &ri->inval_lock);
		iv = ri->inval_head;
		if (!iv)
			break;	/* stopping, and nothing left */
		ri->inval_head = iv->next;
		if (!ri->inval_head)
			ri->inval_tail = &ri->inval_head;
		pthread_mutex_unlock(&ri->inval_lock);
		if (iv->name[0])
			flt_invalidate_entry(ri->instance, iv->parent,
					     iv->name);
		if (iv->ino)
			flt_invalidate_inode(ri->instance, iv->ino);
		free(iv);
		pthread_mutex_lock(&ri->inval_lock);
		ri->inval_done++;
		pthread_cond_broadcast(&ri->inval_cond);
	}
	pthread_mutex_unlock(&ri->inval_lock);
	return NULL;
}

void redir_inval_flush(struct redir_inst *ri)
{
	uint64_t target;

	pthread_mutex_lock(&ri->inval_lock);
	target = ri->inval_queued;
	while (ri->inval_done < target && !ri->inval_stop)
		pthread_cond_wait(&ri->inval_cond, &ri->inval_lock);
	pthread_mutex_unlock(&ri->inval_lock);
}

int redir_inval_start(struct redir_inst *ri)
{
	int ret;

	pthread_mutex_init(&ri->inval_lock, NULL);
	pthread_cond_init(&ri->inval_cond, NULL);
	ri->inval_tail = &ri->inval_head;
	ret = -pthread_create(&ri->inval_tid, NULL, inval_thread, ri);
	if (!ret)
		ri->inval_running = true;
	return ret;
}

void redir_inval_stop(struct redir_inst *ri)
{
	struct redir_inval *iv, *next;

	if (ri->inval_running) {
		pthread_mutex_lock(&ri->inval_lock);
		ri->inval_stop = true;
		pthread_cond_broadcast(&ri->inval_cond);
		pthread_mutex_unlock(&ri->inval_lock);
		pthread_join(ri->inval_tid, NULL);
		ri->inval_running = false;
	}
	for (iv = ri->inval_head; iv; iv = next) {
		next = iv->next;
		free(iv);
	}
	ri->inval_head = NULL;
	ri->inval_tail = &ri->inval_head;
}
