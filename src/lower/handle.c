/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Open handles: the fh of open/create/opendir is the address of a struct
 * lower_handle. All live handles are on a list so lower_close() can free
 * what the kernel never released (a daemon killed mid-unmount). */
#include "lower/lower_int.h"

#include <linux/capability.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct lower_handle *lower_handle_new(struct lower_fs *fs,
				      struct lower_inode *node, int fd,
				      DIR *dp)
{
	struct lower_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	/* the node lives (and its fd stays open, see fdcache.c) as long as
	 * the handle, even if a filter's own I/O forgets the node first */
	pthread_mutex_lock(&fs->table_lock);
	node->nlookup++;
	pthread_mutex_unlock(&fs->table_lock);
	h->node = node;
	h->fd = fd;
	h->dp = dp;
	h->is_dir = dp != NULL;
	if (h->is_dir)
		pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&fs->handle_lock);
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
	fs->nhandles++;
	pthread_mutex_unlock(&fs->handle_lock);
	return h;
}

void lower_handle_free(struct lower_fs *fs, struct lower_handle *h)
{
	pthread_mutex_lock(&fs->handle_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	fs->nhandles--;
	pthread_mutex_unlock(&fs->handle_lock);

	if (h->is_dir) {
		lower_sys_closedir(h->dp); /* closes h->fd too */
		pthread_mutex_destroy(&h->lock);
	} else if (h->fd >= 0) {
		lower_sys_close(h->fd);
	}
	/* lower_close frees every node itself, after the handles */
	if (!fs->closing) {
		lower_inode_unpin(fs, h->node);
		lower_inode_unref(fs, h->node, 1);
	}
	free(h);
}

bool lower_can_defer(bool *noatime)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct cap[_LINUX_CAPABILITY_U32S_3];

#define HAS(c) ((cap[CAP_TO_INDEX(c)].effective & CAP_TO_MASK(c)) != 0)
	*noatime = false;
	if (syscall(SYS_capget, &hdr, cap) != 0)
		return false;
	*noatime = HAS(CAP_FOWNER);
	return HAS(CAP_DAC_OVERRIDE) || HAS(CAP_DAC_READ_SEARCH);
#undef HAS
}

int lower_handle_fd(struct lower_fs *fs, struct lower_handle *h)
{
	int fd = atomic_load_explicit(&h->fd, memory_order_acquire);
	int none = -1;

	if (fd >= 0)
		return fd;
	/* the handle pins its node's fd: no reopen by handle here */
	fd = lower_reopen(fs, h->node, h->flags);
	if (fd < 0)
		return fd;
	/* two first uses at once: one fd wins, the other is closed */
	if (!atomic_compare_exchange_strong_explicit(&h->fd, &none, fd,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		lower_sys_close(fd);
		return none;
	}
	return fd;
}

struct lower_handle *lower_handle_get(uint64_t fh)
{
	return (struct lower_handle *)(uintptr_t)fh;
}

void lower_handles_destroy(struct lower_fs *fs)
{
	while (fs->handles)
		lower_handle_free(fs, fs->handles);
}
