/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The remaining operations on virtual nodes, which the lower layer must
 * never see (filter-owned node ids): forget counts references down, the
 * rest answer as a read-only file or directory would.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static enum flt_preop_status complete(struct flt_callback_data *d, int err)
{
	d->io_status.status = err;
	d->io_status.information = 0;
	return FLT_PREOP_COMPLETE;
}

static int deny_errno(struct redir_inst *ri, flt_ino_t ino)
{
	struct redir_vnode *v = redir_vnode_find(ri, ino);

	return v ? v->target->deny_errno : EACCES;
}

/* The marker of materialised files (REDIR_XATTR) is ours: invisible and
 * untouchable through the volume. */
static enum flt_preop_status hide_marker(struct flt_callback_data *d)
{
	switch (d->op) {
	case FLT_OP_GETXATTR:
		if (!strcmp(d->params.getxattr.name, REDIR_XATTR))
			return complete(d, -ENODATA);
		break;
	case FLT_OP_SETXATTR:
		if (!strcmp(d->params.setxattr.name, REDIR_XATTR))
			return complete(d, -EPERM);
		break;
	case FLT_OP_REMOVEXATTR:
		if (!strcmp(d->params.removexattr.name, REDIR_XATTR))
			return complete(d, -EPERM);
		break;
	case FLT_OP_LISTXATTR:
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	default:
		break;
	}
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

REDIR_POST(redir_post_listxattr)
{
	char *buf = d->params.listxattr.buf;
	size_t n = (size_t)d->io_status.information, i = 0;
	size_t len = sizeof(REDIR_XATTR);

	(void)o;
	(void)ctx;
	(void)flags;
	/* a size query (size 0) may overestimate: the list is shorter */
	if (d->io_status.status || !d->params.listxattr.size || !buf)
		return FLT_POSTOP_FINISHED_PROCESSING;
	while (i < n) {
		size_t l = strnlen(buf + i, n - i) + 1;

		if (l == len && !memcmp(buf + i, REDIR_XATTR, len)) {
			memmove(buf + i, buf + i + l, n - i - l);
			n -= l;
			continue;
		}
		i += l;
	}
	d->io_status.information = n;
	return FLT_POSTOP_FINISHED_PROCESSING;
}

REDIR_PRE(redir_pre_virtual)
{
	struct redir_inst *ri;
	int ret = 0;

	(void)ctx;
	if (!redir_is_virtual(d->ino))
		return hide_marker(d);
	if (d->op == FLT_OP_STATFS) {
		/* the volume's numbers, from its root */
		d->ino = FLT_ROOT_INO;
		flt_set_callback_data_dirty(d);
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	}
	ri = redir_inst_get(o->instance);
	if (!ri)
		return complete(d, d->op == FLT_OP_FORGET ? 0 : -EIO);
	switch (d->op) {
	case FLT_OP_FORGET:
		redir_vnode_forget(ri, d->ino, d->params.forget.nlookup);
		break;
	case FLT_OP_READLINK:
		ret = -EINVAL;
		break;
	case FLT_OP_GETXATTR:
		ret = -ENODATA;
		break;
	case FLT_OP_LISTXATTR:
		break;		/* no names, 0 bytes */
	case FLT_OP_SETXATTR:
	case FLT_OP_REMOVEXATTR:
		ret = -deny_errno(ri, d->ino);
		break;
	case FLT_OP_ACCESS:
		if (d->params.access.mask & W_OK)
			ret = -deny_errno(ri, d->ino);
		break;
	default:		/* flush, fsync, fsyncdir */
		break;
	}
	redir_inst_put(ri);
	return complete(d, ret);
}
