/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file handles the kernel holds. After a lazy unmount with files still
 * open the kernel never sends their RELEASE; the session end frees them. */
#include "fuse/fuse_int.h"

#include <stdlib.h>

void fe_handle_track(struct fe *fe, struct fe_handle *h)
{
	pthread_mutex_lock(&fe->handles_lock);
	h->prev = NULL;
	h->next = fe->handles;
	if (fe->handles)
		fe->handles->prev = h;
	fe->handles = h;
	pthread_mutex_unlock(&fe->handles_lock);
}

void fe_handle_untrack(struct fe *fe, struct fe_handle *h)
{
	pthread_mutex_lock(&fe->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		fe->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
	pthread_mutex_unlock(&fe->handles_lock);
}

void fe_handles_free_all(struct fe *fe)
{
	struct fe_handle *h, *next;

	/* the lower layer closes its own handles when it is closed */
	pthread_mutex_lock(&fe->handles_lock);
	h = fe->handles;
	fe->handles = NULL;
	pthread_mutex_unlock(&fe->handles_lock);
	for (; h; h = next) {
		next = h->next;
		free(h);
	}
}
