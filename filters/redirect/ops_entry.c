/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names and attributes: lookup (virtual names appear), getattr/setattr
 * (the backing size and times), and the write policy for namespace
 * operations on redirected names.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <string.h>
#include <syslog.h>

static enum flt_preop_status complete(struct flt_callback_data *d, int err)
{
	d->io_status.status = err;
	d->io_status.information = 0;
	return FLT_PREOP_COMPLETE;
}

int redir_rule_entry(struct redir_inst *ri, const struct redir_rules *rules,
		     const char *dir, const char *name, struct flt_entry *e,
		     const struct flt_callback_data *d)
{
	char path[4096];
	struct redir_target *t;
	struct redir_match m;
	struct stat st;
	int ret;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -ENOENT;
	ret = redir_path_join(dir, name, path, sizeof(path));
	if (ret)
		return ret;
	if (!redir_match_path(rules, path, &m) ||
	    m.rule->kind == REDIR_GLOB)
		return -ENOENT;	/* globs only apply to existing files */
	if (!redir_scope_applies(&m.rule->scope, d))
		return -ENOENT;	/* not for this process: no such name */
	if (redir_backing_stat(m.backing, &st) ||
	    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return -ENOENT;
	t = redir_target_new(&m, S_ISDIR(st.st_mode));
	if (!t)
		return -ENOMEM;
	ret = redir_vnode_ref(ri, path, t, &st, e);
	if (!ret && redir_scoped(&t->scope))
		e->entry_timeout = e->attr_timeout = 0;	/* per process */
	redir_target_put(t);
	return ret;
}

/* (parent, name) is a name a rule makes exist (virtual): fill @e. */
static int virtual_entry(struct redir_inst *ri, flt_ino_t parent,
			 const char *name, struct flt_entry *e,
			 const struct flt_callback_data *d)
{
	struct redir_rules *rules;
	char dir[4096];
	int ret;

	if (redir_dir_path(ri, parent, dir, sizeof(dir)))
		return -ENOENT;
	rules = redir_rules_get(ri);
	ret = redir_rule_entry(ri, rules, dir, name, e, d);
	redir_rules_put(rules);
	return ret;
}

REDIR_PRE(redir_pre_lookup)
{
	struct redir_inst *ri;
	int ret;

	(void)ctx;
	if (redir_is_hidden_name(d->params.lookup.parent,
				 d->params.lookup.name))
		return complete(d, -ENOENT);	/* a copy's temp file, the spool */
	if (!redir_is_virtual(d->params.lookup.parent))
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	ri = redir_inst_get(o->instance);
	if (!ri)
		return complete(d, -EIO);
	ret = virtual_entry(ri, d->params.lookup.parent, d->params.lookup.name,
			    &d->results.entry, d);
	redir_inst_put(ri);
	return complete(d, ret);
}

REDIR_POST(redir_post_lookup)
{
	struct redir_inst *ri = redir_inst_get(o->instance);

	(void)ctx;
	(void)flags;
	if (!ri)
		return FLT_POSTOP_FINISHED_PROCESSING;
	if (!d->io_status.status && d->results.entry.ino) {
		redir_note_entry(ri, d->params.lookup.parent,
				 d->params.lookup.name, &d->results.entry, d);
	} else if (d->io_status.status == -ENOENT ||
		   (!d->io_status.status && !d->results.entry.ino)) {
		struct flt_entry e;

		if (!virtual_entry(ri, d->params.lookup.parent,
				   d->params.lookup.name, &e, d)) {
			d->results.entry = e;
			d->io_status.status = 0;
		}
	}
	redir_inst_put(ri);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

REDIR_PRE(redir_pre_getattr)
{
	struct redir_inst *ri;
	struct redir_vnode *v;
	struct stat st;
	int ret;

	(void)ctx;
	if (!redir_is_virtual(d->ino))
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	ri = redir_inst_get(o->instance);
	if (!ri)
		return complete(d, -EIO);
	v = redir_vnode_find(ri, d->ino);
	if (v && !redir_scope_applies(&v->target->scope, d)) {
		redir_inst_put(ri);
		return complete(d, -ENOENT);	/* not for this process */
	}
	ret = v ? redir_backing_stat(v->target->backing, &st) : -ENOENT;
	if (!ret) {
		redir_vnode_attr(ri, d->ino, &st, &d->results.attr);
		d->results.attr_timeout =
			redir_scoped(&v->target->scope) ? 0 : 1.0;
	} else {
		ret = -EIO;	/* the backing went away under a known name */
	}
	redir_inst_put(ri);
	return complete(d, ret);
}

/* Fix attributes in @attr of lower node @ino if it is redirected (and
 * not scoped: the lower node of a scoped file is the lower view). True if the node is under a scoped rule: then the
 * answer must not be cached. */
static bool fix_attr(struct redir_inst *ri, flt_ino_t ino, struct stat *attr,
		     const struct flt_callback_data *d)
{
	struct redir_snode *sn = redir_snode_get(ri, ino);
	bool scoped = false;
	struct stat st;

	(void)d;
	if (!sn)
		return false;
	if (sn->target)
		scoped = redir_scoped(&sn->target->scope);
	/* scoped: the lower node is the lower view for everyone (the
	 * backing view has nodes of its own, redir_note_entry) */
	if (sn->target && !sn->target->is_dir && !scoped &&
	    !redir_backing_stat(sn->target->backing, &st) &&
	    S_ISREG(st.st_mode))
		redir_fill_attr(ri, attr, &st, false, sn->target);
	flt_release_context(sn);
	return scoped;
}

REDIR_POST(redir_post_getattr)
{
	struct redir_inst *ri;

	(void)ctx;
	(void)flags;
	if (d->io_status.status)
		return FLT_POSTOP_FINISHED_PROCESSING;
	ri = redir_inst_get(o->instance);
	if (ri) {
		if (fix_attr(ri, d->ino, &d->results.attr, d))
			d->results.attr_timeout = 0;
		redir_inst_put(ri);
	}
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* The deny errno for a name that a rule covers, or 0. A prefix rule covers
 * only names its backing directory has (the rest of the subtree is plain
 * lower content). */
static int name_denied(struct redir_inst *ri, flt_ino_t parent,
		       const char *name, const struct flt_callback_data *d)
{
	char dir[4096], path[4096];
	struct redir_rules *rules;
	struct redir_match m;
	struct stat st;
	int err = 0;

	if (redir_is_hidden_name(parent, name))
		return EPERM;	/* a copy's temp file, the spool: ours, hidden */
	if (redir_is_virtual(parent)) {
		struct redir_vnode *v = redir_vnode_find(ri, parent);

		return v ? v->target->deny_errno : EACCES;
	}
	if (redir_dir_path(ri, parent, dir, sizeof(dir)) ||
	    redir_path_join(dir, name, path, sizeof(path)))
		return 0;
	rules = redir_rules_get(ri);
	if (redir_match_path(rules, path, &m) &&
	    (m.rule->kind != REDIR_PREFIX || !lstat(m.backing, &st)) &&
	    redir_scope_applies(&m.rule->scope, d))
		err = m.rule->deny_errno;
	redir_rules_put(rules);
	/* a materialised file is an ordinary lower file (after an unlink,
	 * an exact or prefix rule shows the backing content again) */
	if (err && redir_name_materialised(ri, parent, name))
		err = 0;
	return err;
}

/* The deny errno if lower or virtual node @ino is a redirected file. */
static int node_denied(struct redir_inst *ri, flt_ino_t ino,
		       const struct flt_callback_data *d)
{
	struct redir_snode *sn;
	int err = 0;

	(void)d;
	if (redir_is_virtual(ino)) {
		struct redir_vnode *v = redir_vnode_find(ri, ino);

		return v ? v->target->deny_errno : EACCES;
	}
	sn = redir_snode_get(ri, ino);
	if (sn) {
		/* scoped: the lower node shows the lower file (fix_attr) */
		if (sn->target && !sn->target->is_dir &&
		    !redir_scoped(&sn->target->scope))
			err = sn->target->deny_errno;
		flt_release_context(sn);
	}
	return err;
}

REDIR_PRE(redir_pre_namespace)
{
	const union flt_parameters *p = &d->params;
	struct redir_inst *ri = redir_inst_get(o->instance);
	int err = 0;

	(void)ctx;
	if (!ri)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	switch (d->op) {
	case FLT_OP_CREATE:
		err = name_denied(ri, p->create.parent, p->create.name, d);
		break;
	case FLT_OP_MKNOD:
		err = name_denied(ri, p->mknod.parent, p->mknod.name, d);
		break;
	case FLT_OP_MKDIR:
		err = name_denied(ri, p->mkdir.parent, p->mkdir.name, d);
		break;
	case FLT_OP_SYMLINK:
		err = name_denied(ri, p->symlink.parent, p->symlink.name, d);
		break;
	case FLT_OP_UNLINK:
	case FLT_OP_RMDIR:
		err = name_denied(ri, p->unlink.parent, p->unlink.name, d);
		break;
	case FLT_OP_RENAME:
		err = name_denied(ri, p->rename.parent, p->rename.name, d);
		if (!err)
			err = name_denied(ri, p->rename.newparent,
					  p->rename.newname, d);
		break;
	case FLT_OP_LINK:
		err = node_denied(ri, d->ino, d);
		if (!err)
			err = name_denied(ri, p->link.newparent,
					  p->link.newname, d);
		break;
	default:
		break;
	}
	redir_inst_put(ri);
	if (err)
		return complete(d, -err);
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

REDIR_POST(redir_post_newentry)
{
	const union flt_parameters *p = &d->params;
	struct redir_inst *ri;

	(void)ctx;
	(void)flags;
	if (d->io_status.status || !d->results.entry.ino)
		return FLT_POSTOP_FINISHED_PROCESSING;
	ri = redir_inst_get(o->instance);
	if (!ri)
		return FLT_POSTOP_FINISHED_PROCESSING;
	switch (d->op) {
	case FLT_OP_CREATE:
		redir_note_entry(ri, p->create.parent, p->create.name,
				 &d->results.entry, d);
		break;
	case FLT_OP_MKNOD:
		redir_note_entry(ri, p->mknod.parent, p->mknod.name,
				 &d->results.entry, d);
		break;
	case FLT_OP_MKDIR:
		redir_note_entry(ri, p->mkdir.parent, p->mkdir.name,
				 &d->results.entry, d);
		break;
	case FLT_OP_SYMLINK:
		redir_note_entry(ri, p->symlink.parent, p->symlink.name,
				 &d->results.entry, d);
		break;
	case FLT_OP_LINK:
		redir_note_entry(ri, p->link.newparent, p->link.newname,
				 &d->results.entry, d);
		break;
	default:
		break;
	}
	redir_inst_put(ri);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* truncate(2) of a copy-on-write or hydrate file: materialise it (empty
 * for a truncate to 0) and answer -ESTALE, which makes do_sys_truncate
 * look the path up again and truncate the new lower file. 1: not such a
 * file. */
static int truncate_policy(struct redir_inst *ri, struct flt_callback_data *d)
{
	struct redir_target *t = NULL;
	struct redir_snode *sn = NULL;
	const char *path = NULL;
	int ret = 1;

	if (!(d->params.setattr.to_set & FLT_SET_SIZE))
		return 1;
	if (redir_is_virtual(d->ino)) {
		struct redir_vnode *v = redir_vnode_find(ri, d->ino);

		if (v && S_ISREG(v->type)) {
			t = v->target;
			path = v->path;
		}
	} else {
		sn = redir_snode_get(ri, d->ino);
		if (sn && sn->target && !sn->target->is_dir) {
			t = sn->target;
			path = sn->path;
		}
	}
	if (t && (!redir_scope_applies(&t->scope, d) ||
		  (sn && redir_scoped(&t->scope)))) {
		/* the lower file, for this process or on this node */
		ret = 1;
	} else if (t && atomic_load(&t->materialised)) {
		ret = -ESTALE;
	} else if (t && t->policy != REDIR_READONLY) {
		ret = redir_materialise(ri, path, t, d->ino,
					d->params.setattr.attr.st_size == 0);
		if (ret == -ENOENT)
			ret = -EIO;
		if (!ret)
			ret = -ESTALE;
	}
	if (sn)
		flt_release_context(sn);
	return ret;
}

REDIR_PRE(redir_pre_setattr)
{
	struct redir_inst *ri = redir_inst_get(o->instance);
	int err = 0;

	(void)ctx;
	if (!ri)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	err = truncate_policy(ri, d);
	if (err <= 0) {
		redir_inst_put(ri);
		return complete(d, err);
	}
	err = 0;
	if (redir_is_virtual(d->ino))
		err = node_denied(ri, d->ino, d);	/* nothing to change */
	else if (d->params.setattr.to_set & FLT_SET_SIZE)
		err = node_denied(ri, d->ino, d);
	redir_inst_put(ri);
	if (err)
		return complete(d, -err);
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

REDIR_POST(redir_post_setattr)
{
	return redir_post_getattr(d, o, ctx, flags);
}
