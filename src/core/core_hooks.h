/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host hooks and filter-owned node ids (nodeid.c).
 *
 * Some filter API calls need the host: flt_invalidate_inode/entry ask the
 * kernel to drop cached attributes, pages and dentries, which only the FUSE
 * front end can do. The host registers its hooks per volume once its
 * session exists, and clears them before the session goes.
 */
#ifndef FSFILTER_CORE_HOOKS_H
#define FSFILTER_CORE_HOOKS_H

#include <fsfilter/filter.h>
#include <stdbool.h>

struct core_host_hooks {
	/* 0 or a negative errno (-ENOENT: the kernel does not know it) */
	int (*inval_inode)(void *arg, flt_ino_t ino);
	int (*inval_entry)(void *arg, flt_ino_t parent, const char *name);
	/* attributes only, cached pages kept (NULL: inval_inode) */
	int (*inval_attr)(void *arg, flt_ino_t ino);
	/* every cached name (NULL or -EINVAL: the kernel cannot) */
	int (*inval_all)(void *arg);
	void *arg;
};

/* Register (@h copied) or, with @h NULL, remove the hooks of @vol. */
void core_volume_set_host_hooks(struct flt_volume *vol,
				const struct core_host_hooks *h);

/* The host's invalidations for a caller that is not a filter (the lower
 * layer's watch): inval_inode, or inval_attr with @data false. -ENOSYS
 * without hooks. Same rules as flt_invalidate_inode/entry: never from a
 * callback of an operation on the same inode or directory. */
int core_volume_invalidate_inode(struct flt_volume *vol, flt_ino_t ino,
				 bool data);
int core_volume_invalidate_entry(struct flt_volume *vol, flt_ino_t parent,
				 const char *name);

/* Every name the kernel caches (the stack changed: a filter attached or
 * detached must see, or no longer shape, the lookups of names cached
 * before). 0, -ENOSYS without the hook, or the host's errno. */
int core_volume_invalidate_all(struct flt_volume *vol);

/* Does the operation name a filter-owned node id anywhere (target, parent,
 * new parent, copy_file_range's output)? */
bool core_names_filter_owned(const struct flt_callback_data *data);

/* Called by dispatch just before the bottom: an operation on a filter-owned
 * id that no filter completed is completed here (FORGET with 0, anything
 * else with -EIO). Returns true if it did. */
bool core_guard_filter_owned(struct flt_callback_data *data);

#endif /* FSFILTER_CORE_HOOKS_H */
