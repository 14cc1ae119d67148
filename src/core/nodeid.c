/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Filter-owned node ids (filter.h) and the host hooks behind
 * flt_invalidate_inode/entry.
 *
 * Ids are FLT_INO_FILTER_OWNED | a 63-bit counter shared by every volume:
 * never reused, so a late operation on a freed id can never name a newer
 * object. The lower layer's ids are heap addresses (bit 63 clear on every
 * Linux ABI) or FLT_ROOT_INO, so the spaces cannot meet.
 */
#include "core/core_int.h"
#include "core/core_hooks.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <syslog.h>

static atomic_uint_fast64_t next_node_id = 1;

int flt_allocate_node_id(struct flt_instance *instance, flt_ino_t *out)
{
	if (!instance || !out)
		return -EINVAL;
	*out = FLT_INO_FILTER_OWNED |
	       (flt_ino_t)atomic_fetch_add(&next_node_id, 1);
	return 0;
}

void flt_free_node_id(struct flt_instance *instance, flt_ino_t ino)
{
	if (!instance || !(ino & FLT_INO_FILTER_OWNED))
		return;
	core_stream_gone(instance->volume, ino);
}

static bool owned(flt_ino_t ino)
{
	return (ino & FLT_INO_FILTER_OWNED) != 0;
}

bool core_names_filter_owned(const struct flt_callback_data *d)
{
	const union flt_parameters *p = &d->params;

	if (owned(d->ino))
		return true;
	switch (d->op) {
	case FLT_OP_LOOKUP: return owned(p->lookup.parent);
	case FLT_OP_MKNOD: return owned(p->mknod.parent);
	case FLT_OP_MKDIR: return owned(p->mkdir.parent);
	case FLT_OP_UNLINK:
	case FLT_OP_RMDIR: return owned(p->unlink.parent);
	case FLT_OP_SYMLINK: return owned(p->symlink.parent);
	case FLT_OP_RENAME:
		return owned(p->rename.parent) || owned(p->rename.newparent);
	case FLT_OP_LINK: return owned(p->link.newparent);
	case FLT_OP_CREATE: return owned(p->create.parent);
	case FLT_OP_COPY_FILE_RANGE: return owned(p->copy_file_range.ino_out);
	default: return false;
	}
}

bool core_guard_filter_owned(struct flt_callback_data *data)
{
	if (!core_names_filter_owned(data))
		return false;
	if (data->op == FLT_OP_FORGET) {
		data->io_status.status = 0;
	} else {
		flt_log(LOG_WARNING, "%s on filter-owned node %#llx reached "
			"the lower layer (its owner did not complete it): EIO",
			flt_op_name(data->op), (unsigned long long)data->ino);
		data->io_status.status = -EIO;
	}
	data->io_status.information = 0;
	return true;
}

/* ---- host hooks ---------------------------------------------------------- */

struct hooks_entry {
	struct flt_volume *vol;
	struct core_host_hooks h;
	struct hooks_entry *next;
};

/* A leaf lock; never held while a hook runs. Few volumes per process, so a
 * list is enough. */
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hooks_entry *hooks_list;	/* hooks_lock */

void core_volume_set_host_hooks(struct flt_volume *vol,
				const struct core_host_hooks *h)
{
	struct hooks_entry **pp, *e = NULL;

	pthread_mutex_lock(&hooks_lock);
	for (pp = &hooks_list; *pp; pp = &(*pp)->next)
		if ((*pp)->vol == vol)
			break;
	if (*pp && !h) {
		e = *pp;
		*pp = e->next;
	} else if (*pp) {
		(*pp)->h = *h;
	} else if (h) {
		struct hooks_entry *n = malloc(sizeof(*n));

		if (n) {
			n->vol = vol;
			n->h = *h;
			n->next = hooks_list;
			hooks_list = n;
		}
	}
	pthread_mutex_unlock(&hooks_lock);
	free(e);
}

static bool get_hooks(struct flt_volume *vol, struct core_host_hooks *out)
{
	bool found = false;

	pthread_mutex_lock(&hooks_lock);
	for (struct hooks_entry *e = hooks_list; e; e = e->next)
		if (e->vol == vol) {
			*out = e->h;
			found = true;
			break;
		}
	pthread_mutex_unlock(&hooks_lock);
	return found;
}

int flt_invalidate_inode(struct flt_instance *instance, flt_ino_t ino)
{
	struct core_host_hooks h;

	if (!instance)
		return -EINVAL;
	if (!get_hooks(instance->volume, &h) || !h.inval_inode)
		return -ENOSYS;
	return h.inval_inode(h.arg, ino);
}

int flt_invalidate_entry(struct flt_instance *instance, flt_ino_t parent,
			 const char *name)
{
	struct core_host_hooks h;

	if (!instance || !name)
		return -EINVAL;
	if (!get_hooks(instance->volume, &h) || !h.inval_entry)
		return -ENOSYS;
	return h.inval_entry(h.arg, parent, name);
}

int core_volume_invalidate_inode(struct flt_volume *vol, flt_ino_t ino,
				 bool data)
{
	struct core_host_hooks h;

	if (!get_hooks(vol, &h))
		return -ENOSYS;
	if (!data && h.inval_attr)
		return h.inval_attr(h.arg, ino);
	return h.inval_inode ? h.inval_inode(h.arg, ino) : -ENOSYS;
}

int core_volume_invalidate_entry(struct flt_volume *vol, flt_ino_t parent,
				 const char *name)
{
	struct core_host_hooks h;

	if (!get_hooks(vol, &h) || !h.inval_entry)
		return -ENOSYS;
	return h.inval_entry(h.arg, parent, name);
}

int core_volume_invalidate_all(struct flt_volume *vol)
{
	struct core_host_hooks h;

	if (!get_hooks(vol, &h) || !h.inval_all)
		return -ENOSYS;
	return h.inval_all(h.arg);
}
