/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Volume-relative paths. The callbacks see node ids, and (parent, name)
 * for namespace operations. Each inode the monitor sees named gets a
 * stream context { parent, name } (set in the post-callbacks of lookup,
 * create, mkdir, mknod, symlink, link; replaced on rename), and a path is
 * the walk up the parents to FLT_ROOT_INO. Storing the parent rather than
 * the whole path makes a directory rename correct for everything below
 * it at once. Contexts are immutable: a rename installs a new one, so a
 * reader holding the old one is never torn.
 *
 * Hard links: the first name the monitor sees for an inode stays its
 * name (a later lookup through another link does not change it) until a
 * rename of that name; an inode never seen named (cached by the kernel
 * before the monitor was attached) is "<ino N>".
 */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct mon_node {
	flt_ino_t parent;
	char name[];
};

#define MON_PATH_DEPTH 256

void mon_path_node_cleanup(void *ctx, enum flt_context_type type)
{
	(void)ctx;
	(void)type;
}

void mon_path_of(struct mon_inst *mi, flt_ino_t ino, char *buf, size_t len)
{
	struct mon_node *chain[MON_PATH_DEPTH];
	size_t depth = 0, off = 0;
	flt_ino_t cur = ino;
	void *c;

	while (cur != FLT_ROOT_INO && depth < MON_PATH_DEPTH) {
		if (flt_get_stream_context(mi->instance, cur, &c))
			break;
		chain[depth++] = c;
		cur = chain[depth - 1]->parent;
	}
	if (cur != FLT_ROOT_INO) {
		/* unnamed ancestor: say which one */
		int n = snprintf(buf, len, "<ino %" PRIu64 ">", (uint64_t)cur);

		off = n > 0 && (size_t)n < len ? (size_t)n : 0;
	} else if (depth == 0) {
		snprintf(buf, len, "/");
		return;
	}
	buf[off] = '\0';
	while (depth > 0) {
		struct mon_node *n = chain[--depth];
		int w = snprintf(buf + off, len - off, "/%s", n->name);

		if (w > 0)
			off = off + (size_t)w < len ? off + (size_t)w : len - 1;
		flt_release_context(n);
	}
}

void mon_path_join(struct mon_inst *mi, flt_ino_t parent, const char *name,
		   char *buf, size_t len)
{
	size_t n;

	mon_path_of(mi, parent, buf, len);
	n = strlen(buf);
	if (n == 1 && buf[0] == '/')
		n = 0;
	snprintf(buf + n, len - n, "/%s", name ? name : "");
}

void mon_path_note(struct mon_inst *mi, flt_ino_t parent, const char *name,
		   flt_ino_t ino, bool replace)
{
	struct mon_node *node, *old = NULL;
	size_t n;
	void *c;

	if (!ino || ino == FLT_ROOT_INO ||
	    !name || !strcmp(name, ".") || !strcmp(name, ".."))
		return;
	if (!replace && !flt_get_stream_context(mi->instance, ino, &c)) {
		flt_release_context(c);	/* known: first name stays */
		return;
	}
	n = strlen(name) + 1;
	if (flt_allocate_context(mi->filter, FLT_STREAM_CONTEXT,
				 sizeof(*node) + n, (void **)&node))
		return;
	node->parent = parent;
	memcpy(node->name, name, n);
	/* KEEP: a racing lookup set one first, fine; REPLACE: the old
	 * one comes back referenced */
	flt_set_stream_context(mi->instance, ino,
			       replace ? FLT_SET_CONTEXT_REPLACE_IF_EXISTS :
					 FLT_SET_CONTEXT_KEEP_IF_EXISTS,
			       node, (void **)&old);
	if (old)
		flt_release_context(old);
	flt_release_context(node);	/* the manager holds it now */
}

/* Which inode is @name in @parent now? A lookup below the monitor. */
static void relookup(struct mon_inst *mi, flt_ino_t parent, const char *name)
{
	struct flt_callback_data *d;
	flt_ino_t ino;

	if (flt_allocate_callback_data(mi->instance, FLT_OP_LOOKUP, &d))
		return;
	d->ino = parent;
	d->params.lookup.parent = parent;
	d->params.lookup.name = name;
	if (!flt_perform_synchronous_io(d) && d->results.entry.ino) {
		ino = d->results.entry.ino;
		mon_path_note(mi, parent, name, ino, true);
		flt_forget(mi->instance, ino, 1);
	}
	flt_free_callback_data(d);
}

void mon_path_renamed(struct mon_inst *mi, const struct flt_callback_data *d)
{
	relookup(mi, d->params.rename.newparent, d->params.rename.newname);
#ifdef RENAME_EXCHANGE
	if (d->params.rename.flags & RENAME_EXCHANGE)
		relookup(mi, d->params.rename.parent, d->params.rename.name);
#else
	if (d->params.rename.flags & 2)
		relookup(mi, d->params.rename.parent, d->params.rename.name);
#endif
}
