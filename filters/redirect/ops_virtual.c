/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The remaining operations on virtual nodes, which the lower layer must
 * never see (filter-owned node ids): forget counts references down, the
 * rest answer as a read-only file or directory would.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
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

REDIR_PRE(redir_pre_virtual)
{
	struct redir_inst *ri;
	int ret = 0;

	(void)ctx;
	if (!redir_is_virtual(d->ino))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
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
