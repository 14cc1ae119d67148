/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redirect: registration, instance set-up and teardown, the shared pieces
 * (targets, stream contexts, attributes). Written only against the public
 * filter API (include/fsfilter/filter.h).
 */
#include "filters/redirect/redirect.h"
#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <syslog.h>

#define FUSE_SUPER_MAGIC 0x65735546

/* ---- targets ------------------------------------------------------------- */

struct redir_target *redir_target_new(const struct redir_match *m,
				      bool is_dir)
{
	size_t n = strlen(m->backing) + 1;
	struct redir_target *t = malloc(sizeof(*t) + n);

	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	atomic_init(&t->materialised, false);
	t->gen = m->gen;
	t->policy = m->rule->policy;
	t->scope = m->rule->scope;
	t->deny_errno = m->rule->deny_errno;
	t->is_dir = is_dir;
	memcpy(t->backing, m->backing, n);
	return t;
}

void redir_target_get(struct redir_target *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void redir_target_put(struct redir_target *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}

/* ---- instance ------------------------------------------------------------ */

struct redir_inst *redir_inst_get(struct flt_instance *instance)
{
	void *c;

	return flt_get_instance_context(instance, &c) ? NULL : c;
}

void redir_inst_put(struct redir_inst *ri)
{
	if (ri)
		flt_release_context(ri);
}

struct redir_rules *redir_rules_get(struct redir_inst *ri)
{
	struct redir_rules *s;

	pthread_mutex_lock(&ri->rules_lock);
	s = ri->rules;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&ri->rules_lock);
	return s;
}

/* ---- stream contexts of lower nodes ------------------------------------- */

static void snode_cleanup(void *c, enum flt_context_type type)
{
	struct redir_snode *sn = c;

	(void)type;
	redir_target_put(sn->target);
}

static void inst_cleanup(void *c, enum flt_context_type type)
{
	struct redir_inst *ri = c;

	(void)type;
	redir_watch_stop(ri);
	redir_jobs_stop(ri);	/* copies queue invalidations */
	redir_inval_stop(ri);
	pthread_mutex_destroy(&ri->watch_lock);
	pthread_mutex_destroy(&ri->inval_lock);
	pthread_cond_destroy(&ri->inval_cond);
	redir_vnodes_destroy(ri);
	redir_rules_put(ri->rules);
	pthread_mutex_destroy(&ri->rules_lock);
	pthread_mutex_destroy(&ri->vlock);
	redir_jobs_destroy(ri);
	pthread_mutex_destroy(&ri->spool_lock);
}


int redir_dir_path(struct redir_inst *ri, flt_ino_t ino, char *buf,
		   size_t len)
{
	struct redir_snode *sn;
	int n;

	if (ino == FLT_ROOT_INO) {
		buf[0] = '\0';
		return 0;
	}
	if (redir_is_virtual(ino)) {
		struct redir_vnode *v = redir_vnode_find(ri, ino);

		if (!v)
			return -ENOENT;
		n = snprintf(buf, len, "%s", v->path);
		return (size_t)n < len ? 0 : -ENAMETOOLONG;
	}
	sn = redir_snode_get(ri, ino);
	if (!sn)
		return -ENOENT;
	n = snprintf(buf, len, "%s", sn->path);
	flt_release_context(sn);
	return (size_t)n < len ? 0 : -ENAMETOOLONG;
}

void redir_fill_attr(struct redir_inst *ri, struct stat *attr,
		     const struct stat *b, bool is_virtual,
		     const struct redir_target *t)
{
	if (is_virtual) {
		ino_t ino = attr->st_ino;

		*attr = *b;
		if (ino)
			attr->st_ino = ino;
		if (S_ISREG(b->st_mode))
			attr->st_nlink = 1;
		if (t->policy == REDIR_READONLY)
			attr->st_mode &= ~(mode_t)0222;
		return;
	}
	attr->st_size = b->st_size;
	attr->st_blocks = b->st_blocks;
	if (!ri->cfg.lower_times) {
		attr->st_atim = b->st_atim;
		attr->st_mtim = b->st_mtim;
		attr->st_ctim = b->st_ctim;
	}
}

/*
 * What lower node @ino at volume path @path is under the current rules: a
 * new stream context (one reference), or NULL when there is nothing to
 * remember (a regular file no rule matches). Directories are remembered
 * for their paths; a matched file gets its target, or none once it is
 * materialised (so the marker is read once per node and rule set).
 */
static struct redir_snode *snode_decide(struct redir_inst *ri, flt_ino_t ino,
					const char *path, bool is_dir)
{
	struct redir_rules *rules = redir_rules_get(ri);
	struct redir_target *t = NULL;
	struct redir_snode *sn;
	struct redir_match m;
	bool matched = false;
	uint64_t gen = rules->gen;
	struct stat st;
	size_t n;

	if (redir_match_path(rules, path, &m)) {
		int r = redir_backing_stat(m.backing, &st);

		matched = true;
		if (is_dir) {
			/* a lower directory under a prefix rule: its backing
			 * directory adds names (ops_dir.c) */
			if (!r && S_ISDIR(st.st_mode))
				t = redir_target_new(&m, true);
		} else if (redir_is_materialised(ri, ino)) {
			/* copied by copy-on-write or hydrate: an ordinary
			 * lower file for good */
		} else if (!r && S_ISREG(st.st_mode)) {
			t = redir_target_new(&m, false);
		} else if (m.rule->kind != REDIR_PREFIX) {
			/* exact or glob: the file is redirected even if its
			 * backing is missing (open fails with EIO) */
			t = redir_target_new(&m, false);
			flt_log(LOG_WARNING, "redirect: /%s: backing file %s "
				"%s; opens fail with EIO", path, m.backing,
				r ? strerror(-r) : "is not a regular file");
		}
	}
	redir_rules_put(rules);
	if (!t && !is_dir && !matched)
		return NULL;
	n = strlen(path) + 1;
	if (flt_allocate_context(ri->filter, FLT_STREAM_CONTEXT,
				 sizeof(*sn) + n, (void **)&sn)) {
		redir_target_put(t);
		return NULL;
	}
	sn->gen = gen;
	sn->target = t;
	sn->is_dir = is_dir;
	memcpy(sn->path, path, n);
	return sn;
}

struct redir_snode *redir_snode_get(struct redir_inst *ri, flt_ino_t ino)
{
	struct redir_snode *sn, *ns;
	void *c;

	if (flt_get_stream_context(ri->instance, ino, &c))
		return NULL;
	sn = c;
	if (sn->gen == atomic_load(&ri->gen))
		return sn;
	/* the rules changed since: decide again (a racing thread may do
	 * the same; the last replacement wins, both are equal) */
	ns = snode_decide(ri, ino, sn->path, sn->is_dir);
	flt_release_context(sn);
	if (!ns) {
		flt_delete_stream_context(ri->instance, ino);
		return NULL;
	}
	flt_set_stream_context(ri->instance, ino,
			       FLT_SET_CONTEXT_REPLACE_IF_EXISTS, ns, NULL);
	return ns;
}

void redir_snode_refresh(struct redir_inst *ri, flt_ino_t ino)
{
	struct redir_snode *sn, *ns;
	void *c;

	if (flt_get_stream_context(ri->instance, ino, &c))
		return;		/* never decided: the next lookup decides */
	sn = c;
	ns = snode_decide(ri, ino, sn->path, sn->is_dir);
	flt_release_context(sn);
	if (!ns) {
		flt_delete_stream_context(ri->instance, ino);
		return;
	}
	flt_set_stream_context(ri->instance, ino,
			       FLT_SET_CONTEXT_REPLACE_IF_EXISTS, ns, NULL);
	flt_release_context(ns);
}

/*
 * A scoped rule applies to the requestor of a lookup (or readdirplus) of a
 * lower file: answer with a virtual node for its view instead of the lower
 * node. The kernel keeps attributes and pages per node, so the two views
 * of the name never share a page cache: read(2), MAP_PRIVATE and
 * MAP_SHARED each see the content of their own side, whoever maps the
 * file at the same time. The entry timeout is 0, so every path walk asks
 * again, and a walk that gets the other node replaces the dentry (FUSE
 * revalidation compares node ids). The lower lookup reference is dropped;
 * on failure the lower node stays (and its open fails: pre_open).
 */
static void scoped_view(struct redir_inst *ri, struct redir_snode *sn,
			const struct stat *st, struct flt_entry *e)
{
	flt_ino_t lower = e->ino;
	struct flt_entry ve;

	if (redir_vnode_ref_lower(ri, sn->path, sn->target, st, &e->attr,
				  &ve))
		return;
	*e = ve;
	e->entry_timeout = 0;
	e->attr_timeout = 0;
	flt_forget(ri->instance, lower, 1);
}

/*
 * A name now refers to lower node @e->ino: remember directories' paths (to
 * name their children) and redirected files' targets, and show a
 * redirected file with its backing attributes. A node already known keeps
 * its context (hard links: the first name seen decides).
 */
void redir_note_entry(struct redir_inst *ri, flt_ino_t parent,
		      const char *name, struct flt_entry *e,
		      const struct flt_callback_data *d)
{
	char dir[4096], path[4096];
	struct redir_snode *sn, *old = NULL;
	bool is_dir = S_ISDIR(e->attr.st_mode);
	struct stat st;

	if (!e->ino || redir_is_virtual(e->ino) || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return;
	sn = redir_snode_get(ri, e->ino);
	if (!sn) {
		if (!is_dir && !S_ISREG(e->attr.st_mode))
			return;	/* symlinks, devices: never redirected */
		if (redir_dir_path(ri, parent, dir, sizeof(dir)) ||
		    redir_path_join(dir, name, path, sizeof(path)))
			return;
		sn = snode_decide(ri, e->ino, path, is_dir);
		if (!sn)
			return;
		if (flt_set_stream_context(ri->instance, e->ino,
					   FLT_SET_CONTEXT_KEEP_IF_EXISTS, sn,
					   (void **)&old) && old) {
			flt_release_context(sn);
			sn = old;	/* a racing lookup was first */
		}
	}
	if (sn->target && redir_scoped(&sn->target->scope))
		e->entry_timeout = e->attr_timeout = 0;	/* per process */
	if (sn->target && !sn->target->is_dir &&
	    redir_scope_applies(&sn->target->scope, d) &&
	    !redir_backing_stat(sn->target->backing, &st) &&
	    S_ISREG(st.st_mode)) {
		if (redir_scoped(&sn->target->scope))
			scoped_view(ri, sn, &st, e);
		else
			redir_fill_attr(ri, &e->attr, &st, false, sn->target);
	}
	flt_release_context(sn);
}

/* ---- registration -------------------------------------------------------- */

int redir_check_backing(const struct redir_rule *r)
{
	struct statfs sfs;
	struct stat st;
	int ret;

	if (r->kind == REDIR_GLOB && r->path[0] == '\0')
		return 0;
	ret = redir_backing_stat(r->backing, &st);
	if (ret) {
		flt_log(LOG_WARNING, "redirect: rule /%s%s: backing %s: %s "
			"(the redirected path fails until it appears)",
			r->path, r->kind == REDIR_PREFIX ? "/" : "",
			r->backing, strerror(-ret));
		return 0;
	}
	if (!statfs(r->backing, &sfs) && sfs.f_type == FUSE_SUPER_MAGIC) {
		flt_log(LOG_ERR, "redirect: rule /%s: backing %s is on a FUSE "
			"file system (inside an fsfilter volume?): refused, "
			"reading it from a callback could deadlock",
			r->path, r->backing);
		return -EINVAL;
	}
	if (r->kind == REDIR_PREFIX && !S_ISDIR(st.st_mode)) {
		flt_log(LOG_ERR, "redirect: prefix rule /%s/ needs a backing "
			"directory; %s is not one", r->path, r->backing);
		return -EINVAL;
	}
	if (r->kind != REDIR_PREFIX && !S_ISREG(st.st_mode)) {
		flt_log(LOG_ERR, "redirect: rule /%s needs a regular backing "
			"file; %s is not one", r->path, r->backing);
		return -EINVAL;
	}
	return 0;
}

static int redir_instance_setup(const struct flt_related_objects *objs)
{
	struct redir_rules *rules;
	struct redir_config cfg;
	struct redir_inst *ri;
	char err[1024] = "";
	int ret;

	ret = redir_args_parse(flt_instance_args(objs->instance), &rules,
			       &cfg, err, sizeof(err));
	if (ret) {
		flt_log(LOG_ERR, "redirect: %s", err[0] ? err : strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < rules->n; i++) {
		ret = redir_check_backing(&rules->v[i]);
		if (ret)
			goto out_rules;
	}
	ret = flt_allocate_context(objs->filter, FLT_INSTANCE_CONTEXT,
				   sizeof(*ri), (void **)&ri);
	if (ret)
		goto out_rules;
	ri->instance = objs->instance;
	ri->filter = objs->filter;
	ri->cfg = cfg;
	rules->gen = 1;
	ri->rules = rules;
	atomic_init(&ri->gen, 1);
	pthread_mutex_init(&ri->rules_lock, NULL);
	pthread_mutex_init(&ri->vlock, NULL);
	pthread_mutex_init(&ri->watch_lock, NULL);
	redir_jobs_init(ri);
	redir_spool_init(ri);
	ri->mat_delay_us = cfg.copy_delay_us;
	/* before any copy can run: a crash's leftover temp files go */
	redir_spool_sweep(ri);
	ret = redir_inval_start(ri);
	if (ret) {
		flt_release_context(ri);	/* cleanup frees the rules */
		return ret;
	}
	ret = flt_set_instance_context(objs->instance,
				       FLT_SET_CONTEXT_REPLACE_IF_EXISTS, ri,
				       NULL);
	if (!ret)
		ret = redir_port_open(ri);	/* logs its errors */
	if (!ret)
		redir_watch_sync(ri);	/* watch=on: the inotify thread */
	flt_release_context(ri);	/* the manager holds it now */
	if (!ret)
		flt_log(LOG_INFO, "redirect: %zu rule(s), block size %zu",
			rules->n, cfg.block_size);
	return ret;
out_rules:
	redir_rules_put(rules);
	return ret;
}

static void redir_teardown_start(const struct flt_related_objects *objs)
{
	struct redir_inst *ri = redir_inst_get(objs->instance);

	if (ri) {
		atomic_store(&ri->closing, true);
		redir_port_close(ri);
		redir_watch_stop(ri);	/* no rule changes any more */
		redir_jobs_stop(ri);	/* cancels copies, joins workers */
		redir_inval_stop(ri);
		redir_inst_put(ri);
	}
}

/* Nothing of the instance runs any more (copies run by operations are
 * drained too): the spool goes if empty. */
static void redir_teardown_complete(const struct flt_related_objects *objs)
{
	struct redir_inst *ri = redir_inst_get(objs->instance);

	if (ri) {
		redir_spool_destroy(ri);
		redir_inst_put(ri);
	}
}

static const struct flt_context_registration redir_contexts[] = {
	{ FLT_INSTANCE_CONTEXT, 0, inst_cleanup, sizeof(struct redir_inst) },
	{ FLT_STREAM_CONTEXT, 0, snode_cleanup, sizeof(struct redir_snode) },
	{ FLT_STREAMHANDLE_CONTEXT, 0, redir_handle_cleanup,
	  sizeof(struct redir_handle) },
	FLT_CONTEXT_END
};

static const struct flt_operation_registration redir_ops[] = {
	{ FLT_OP_LOOKUP, 0, redir_pre_lookup, redir_post_lookup },
	{ FLT_OP_FORGET, 0, redir_pre_virtual, NULL },
	{ FLT_OP_GETATTR, 0, redir_pre_getattr, redir_post_getattr },
	{ FLT_OP_SETATTR, 0, redir_pre_setattr, redir_post_setattr },
	{ FLT_OP_READLINK, 0, redir_pre_virtual, NULL },
	{ FLT_OP_MKNOD, 0, redir_pre_namespace, redir_post_newentry },
	{ FLT_OP_MKDIR, 0, redir_pre_namespace, redir_post_newentry },
	{ FLT_OP_UNLINK, 0, redir_pre_namespace, NULL },
	{ FLT_OP_RMDIR, 0, redir_pre_namespace, NULL },
	{ FLT_OP_SYMLINK, 0, redir_pre_namespace, redir_post_newentry },
	{ FLT_OP_RENAME, 0, redir_pre_namespace, NULL },
	{ FLT_OP_LINK, 0, redir_pre_namespace, redir_post_newentry },
	{ FLT_OP_CREATE, 0, redir_pre_namespace, redir_post_newentry },
	{ FLT_OP_OPEN, 0, redir_pre_open, redir_post_open },
	{ FLT_OP_READ, FLT_OPREG_SKIP_FASTPATH_FILES, redir_pre_read, NULL },
	{ FLT_OP_WRITE, FLT_OPREG_SKIP_FASTPATH_FILES, redir_pre_write,
	  NULL },
	/* a virtual node's flush is a no-op (its opens say no_flush) and
	 * a lower node's is not ours: only the ones the kernel sends */
	{ FLT_OP_FLUSH, FLT_OPREG_FLUSH_IF_SENT, redir_pre_virtual, NULL },
	{ FLT_OP_RELEASE, 0, redir_pre_release, NULL },
	{ FLT_OP_FSYNC, 0, redir_pre_virtual, NULL },
	{ FLT_OP_OPENDIR, 0, redir_pre_opendir, redir_post_opendir },
	{ FLT_OP_READDIR, 0, redir_pre_readdir, redir_post_readdir },
	{ FLT_OP_RELEASEDIR, 0, redir_pre_releasedir, NULL },
	{ FLT_OP_FSYNCDIR, 0, redir_pre_virtual, NULL },
	{ FLT_OP_STATFS, 0, redir_pre_virtual, NULL },
	{ FLT_OP_SETXATTR, 0, redir_pre_virtual, NULL },
	{ FLT_OP_GETXATTR, 0, redir_pre_virtual, NULL },
	{ FLT_OP_LISTXATTR, 0, redir_pre_virtual, redir_post_listxattr },
	{ FLT_OP_REMOVEXATTR, 0, redir_pre_virtual, NULL },
	{ FLT_OP_ACCESS, 0, redir_pre_virtual, NULL },
	{ FLT_OP_FALLOCATE, 0, redir_pre_fallocate, NULL },
	{ FLT_OP_COPY_FILE_RANGE, 0, redir_pre_copy_file_range, NULL },
	{ FLT_OP_LSEEK, 0, redir_pre_lseek, NULL },
	FLT_OPERATION_END
};

static const struct flt_registration redir_registration = {
	FLT_REGISTRATION_INIT,
	.name = "redirect",
	.default_altitude = REDIR_DEFAULT_ALTITUDE,
	.operations = redir_ops,
	.instance_setup = redir_instance_setup,
	.instance_teardown_start = redir_teardown_start,
	.instance_teardown_complete = redir_teardown_complete,
	.instance_status = redir_instance_status,
	.contexts = redir_contexts,
};

const struct flt_registration *redirect_filter_registration(void)
{
	return &redir_registration;
}
