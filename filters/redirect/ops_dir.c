/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Directories that show virtual names. A directory whose listing a rule
 * changes (an exact or prefix rule has a name in it, or it lies inside a
 * prefix rule's tree) is listed from a snapshot taken at offset 0: the
 * lower entries (filter-initiated READDIR below us on the same handle)
 * merged with the rule names and the backing directory's entries, sorted
 * and without duplicates (the lower entry wins). Offsets are indices into
 * the snapshot, so they never collide with the lower file system's cookies.
 * readdirplus entries of the snapshot carry what a lookup of the name
 * would give (a virtual node for a rule's name, the lower node with its
 * redirected attributes for a lower entry), so that `ls -l` of a
 * redirected directory costs no LOOKUP per entry; an entry that cannot be
 * looked up goes as a name only (the kernel then looks it up itself).
 *
 * Every other directory is the lower one; readdirplus entries that name
 * redirected files get their stream contexts and backing attributes in the
 * post-callback, as a lookup would.
 */
#include "filters/redirect/redir.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum flt_preop_status complete(struct flt_callback_data *d, int err)
{
	d->io_status.status = err;
	d->io_status.information = 0;
	return FLT_PREOP_COMPLETE;
}

static void entries_free(struct redir_dir *dir)
{
	for (size_t i = 0; i < dir->n; i++)
		free(dir->v[i].name);
	free(dir->v);
	dir->v = NULL;
	dir->n = dir->cap = 0;
}

void redir_dir_cleanup(struct redir_dir *dir)
{
	entries_free(dir);
	free(dir->backing_dir);
	free(dir->path);
	pthread_mutex_destroy(&dir->lock);
}

static int add(struct redir_dir *dir, const char *name, unsigned type,
	       uint64_t ino)
{
	if (dir->n == dir->cap) {
		size_t nc = dir->cap ? dir->cap * 2 : 64;
		struct redir_dirent *nv = realloc(dir->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		dir->v = nv;
		dir->cap = nc;
	}
	dir->v[dir->n].name = strdup(name);
	if (!dir->v[dir->n].name)
		return -ENOMEM;
	dir->v[dir->n].type = type;
	dir->v[dir->n].ino = ino;
	dir->v[dir->n].lower = false;
	dir->n++;
	return 0;
}

struct names_arg {
	struct redir_dir *dir;
	const struct redir_rules *rules;
	const struct flt_callback_data *d;	/* who lists (scope) */
	int err;
};

static void rule_name(const char *name, void *arg)
{
	struct names_arg *a = arg;
	char path[4096];
	struct redir_match m;
	struct stat st;

	if (a->err || redir_path_join(a->dir->path, name, path, sizeof(path)))
		return;
	/* listed only if a lookup would find it */
	if (!redir_match_path(a->rules, path, &m) ||
	    !redir_scope_applies(&m.rule->scope, a->d) ||
	    redir_backing_stat(m.backing, &st) ||
	    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return;
	a->err = add(a->dir, name, S_ISDIR(st.st_mode) ? DT_DIR : DT_REG,
		     st.st_ino);
}

static int list_backing(struct redir_dir *dir, const char *bdir)
{
	DIR *dp = opendir(bdir);
	struct dirent *de;
	int ret = 0;

	if (!dp)
		return 0;	/* nothing to add: as if empty */
	while (!ret && (de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* regular files and directories only, as lookup */
		if (de->d_type != DT_REG && de->d_type != DT_DIR &&
		    de->d_type != DT_UNKNOWN)
			continue;
		ret = add(dir, de->d_name,
			  de->d_type == DT_UNKNOWN ? DT_REG : de->d_type,
			  de->d_ino);
	}
	closedir(dp);
	return ret;
}

static int list_lower(struct redir_dir *dir, struct flt_instance *inst,
		      flt_ino_t ino)
{
	off_t off = 0;

	for (;;) {
		struct flt_callback_data *d;
		size_t n;
		int ret;

		ret = flt_allocate_callback_data(inst, FLT_OP_READDIR, &d);
		if (ret)
			return ret;
		d->ino = ino;
		d->params.readdir.fh = dir->lower_fh;
		d->params.readdir.offset = off;
		d->params.readdir.size = 64 * 1024;
		ret = flt_perform_synchronous_io(d);
		n = d->results.dirents.n;
		for (size_t i = 0; !ret && i < n; i++) {
			struct flt_dirent *e = &d->results.dirents.v[i];

			off = e->next_off;
			if (!redir_is_hidden_name(ino, e->name))
				ret = add(dir, e->name, e->type, e->ino);
		}
		flt_free_callback_data(d);
		if (ret)
			return ret;
		if (!n)
			return 0;
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct redir_dirent *)a)->name,
		      ((const struct redir_dirent *)b)->name);
}

/* The snapshot is taken for the requestor of @d (the readdir at offset
 * 0): names of scoped rules that do not apply to it are left out. */
static int build(struct redir_inst *ri, struct redir_dir *dir,
		 struct flt_instance *inst, flt_ino_t ino,
		 const struct flt_callback_data *d)
{
	struct redir_match dm;
	struct redir_rules *rules;
	struct names_arg a;
	char bdir[4096];
	size_t lower_n, w;
	int ret;

	entries_free(dir);
	if (dir->is_virtual) {
		struct stat st;

		/* d_ino 0 means "deleted entry" to readdir(3) */
		if (redir_backing_stat(dir->backing_dir, &st))
			st.st_ino = 1;
		ret = add(dir, ".", DT_DIR, st.st_ino);
		if (!ret)
			ret = add(dir, "..", DT_DIR, 1);
	} else {
		ret = list_lower(dir, inst, ino);
	}
	if (ret)
		return ret;
	lower_n = dir->n;
	rules = redir_rules_get(ri);
	a = (struct names_arg){ dir, rules, d, 0 };
	redir_virtual_names(rules, dir->path, rule_name, &a, bdir,
			    sizeof(bdir));
	/* inside a prefix rule that is not for this process: only the
	 * lower entries */
	if (bdir[0] && redir_match_path(rules, dir->path, &dm) &&
	    !redir_scope_applies(&dm.rule->scope, d))
		bdir[0] = '\0';
	redir_rules_put(rules);
	ret = a.err;
	if (!ret && bdir[0])
		ret = list_backing(dir, bdir);
	if (ret)
		return ret;
	/* a stable sort keeps the lower entry first among equal names */
	for (size_t i = 0; i < dir->n; i++)
		dir->v[i].type |= (i < lower_n ? 0u : 1u) << 16;
	qsort(dir->v, dir->n, sizeof(*dir->v), by_name);
	w = 0;
	for (size_t i = 0; i < dir->n; i++) {
		if (w && !strcmp(dir->v[w - 1].name, dir->v[i].name)) {
			/* keep the one from the lower directory */
			if (!(dir->v[i].type >> 16) &&
			    (dir->v[w - 1].type >> 16)) {
				free(dir->v[w - 1].name);
				dir->v[w - 1] = dir->v[i];
			} else {
				free(dir->v[i].name);
			}
			continue;
		}
		dir->v[w++] = dir->v[i];
	}
	dir->n = w;
	for (size_t i = 0; i < dir->n; i++) {
		dir->v[i].lower = !dir->is_virtual && !(dir->v[i].type >> 16);
		dir->v[i].type &= 0xffff;
	}
	dir->built = true;
	return 0;
}

/*
 * The readdirplus entry of snapshot entry @e of @dir: what the kernel's
 * LOOKUP of the name would get from us (redir_pre_lookup and
 * redir_post_lookup), for the requestor of @d. On failure (the name went
 * meanwhile, a scoped rule not for this requestor) @out stays a name only.
 */
static void plus_entry(struct redir_inst *ri, const struct redir_rules *rules,
		       struct redir_dir *dir, const struct redir_dirent *e,
		       const struct flt_callback_data *d, struct flt_entry *out)
{
	if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
		return;
	if (e->lower) {
		if (redir_lookup_child(ri, d->ino, e->name, out)) {
			memset(out, 0, sizeof(*out));
			return;
		}
		redir_note_entry(ri, d->ino, e->name, out, d);
		return;
	}
	if (redir_rule_entry(ri, rules, dir->path, e->name, out, d))
		memset(out, 0, sizeof(*out));
}

static enum flt_preop_status serve(struct redir_inst *ri,
				   struct redir_dir *dir,
				   struct flt_callback_data *d,
				   struct flt_instance *inst)
{
	size_t budget = d->params.readdir.size, used = 0;
	off_t off = d->params.readdir.offset;
	int plus = d->params.readdir.plus, ret = 0;
	struct redir_rules *rules = NULL;

	pthread_mutex_lock(&dir->lock);
	if (off == 0 || !dir->built)
		ret = build(ri, dir, inst, d->ino, d);
	if (plus)
		rules = redir_rules_get(ri);
	for (size_t i = (size_t)off; !ret && i < dir->n; i++) {
		struct redir_dirent *e = &dir->v[i];
		size_t need = flt_dirent_size(strlen(e->name), plus);
		struct flt_dirent *de;

		if (used + need > budget)
			break;
		ret = flt_dirents_add(&d->results.dirents, e->name, e->ino,
				      e->type, (off_t)(i + 1), &de);
		/* an entry with a node holds a lookup reference: the host
		 * gives back those that do not reach the kernel */
		if (!ret && plus)
			plus_entry(ri, rules, dir, e, d, &de->entry);
		used += need;
	}
	pthread_mutex_unlock(&dir->lock);
	if (rules)
		redir_rules_put(rules);
	return complete(d, ret);
}

static int dir_new(struct redir_inst *ri, bool is_virtual, uint64_t fh,
		   const char *path, const char *bdir, struct redir_dir **out)
{
	struct redir_dir *dir;
	int ret;

	ret = flt_allocate_context(ri->filter, FLT_STREAMHANDLE_CONTEXT,
				   sizeof(*dir), (void **)&dir);
	if (ret)
		return ret;
	dir->kind = REDIR_H_DIR;
	pthread_mutex_init(&dir->lock, NULL);
	dir->is_virtual = is_virtual;
	dir->lower_fh = fh;
	dir->path = strdup(path);
	dir->backing_dir = bdir ? strdup(bdir) : NULL;
	if (!dir->path || (bdir && !dir->backing_dir)) {
		flt_release_context(dir);
		return -ENOMEM;
	}
	*out = dir;
	return 0;
}

REDIR_PRE(redir_pre_opendir)
{
	struct redir_inst *ri;
	struct redir_vnode *v;
	struct redir_dir *dir;
	int ret;

	(void)ctx;
	if (!redir_is_virtual(d->ino))
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	ri = redir_inst_get(o->instance);
	if (!ri)
		return complete(d, -EIO);
	v = redir_vnode_find(ri, d->ino);
	if (!v || !S_ISDIR(v->type))
		ret = -ENOTDIR;
	else
		ret = dir_new(ri, true, 0, v->path, v->target->backing, &dir);
	redir_inst_put(ri);
	if (ret)
		return complete(d, ret);
	memset(&d->results.open, 0, sizeof(d->results.open));
	d->results.open.fh = (uint64_t)(uintptr_t)dir;
	d->results.open.backing_fd = -1;
	return complete(d, 0);
}

struct any_arg { bool any; };

static void any_name(const char *name, void *arg)
{
	(void)name;
	((struct any_arg *)arg)->any = true;
}

REDIR_POST(redir_post_opendir)
{
	struct redir_inst *ri;
	struct redir_rules *rules;
	struct any_arg a = { false };
	char path[4096], bdir[4096];
	struct redir_dir *dir;

	(void)ctx;
	(void)flags;
	if (d->io_status.status)
		return FLT_POSTOP_FINISHED_PROCESSING;
	ri = redir_inst_get(o->instance);
	if (!ri)
		return FLT_POSTOP_FINISHED_PROCESSING;
	if (redir_dir_path(ri, d->ino, path, sizeof(path)))
		goto out;
	rules = redir_rules_get(ri);
	redir_virtual_names(rules, path, any_name, &a, bdir, sizeof(bdir));
	redir_rules_put(rules);
	if (!a.any && !bdir[0])
		goto out;
	if (dir_new(ri, false, d->results.open.fh, path, NULL, &dir))
		goto out;
	flt_set_streamhandle_context(o->instance, d->results.open.fh,
				     FLT_SET_CONTEXT_REPLACE_IF_EXISTS, dir,
				     NULL);
	flt_release_context(dir);
out:
	redir_inst_put(ri);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

REDIR_PRE(redir_pre_readdir)
{
	struct redir_inst *ri = redir_inst_get(o->instance);
	enum flt_preop_status st = FLT_PREOP_SUCCESS_WITH_CALLBACK;
	struct redir_dir *dir = NULL;
	void *c;

	(void)ctx;
	if (!ri)
		return redir_is_virtual(d->ino) ? complete(d, -EIO)
						: FLT_PREOP_SUCCESS_NO_CALLBACK;
	if (redir_is_virtual(d->ino)) {
		dir = (struct redir_dir *)(uintptr_t)d->params.readdir.fh;
		flt_reference_context(dir);
	} else if (!flt_get_streamhandle_context(o->instance,
						 d->params.readdir.fh, &c)) {
		dir = c;
		if (dir->kind != REDIR_H_DIR) {
			flt_release_context(dir);
			dir = NULL;
		}
	}
	if (dir) {
		st = serve(ri, dir, d, o->instance);
		flt_release_context(dir);
	}
	redir_inst_put(ri);
	return st;
}

/* Leave the temp files of copies and the spool out of a lower listing (a readdirplus
 * entry's lookup reference is given back). */
static void hide_temp(struct flt_instance *inst, struct flt_callback_data *d)
{
	struct flt_dirents *de = &d->results.dirents;
	size_t w = 0;

	for (size_t i = 0; i < de->n; i++) {
		struct flt_dirent *e = &de->v[i];

		if (!redir_is_hidden_name(d->ino, e->name)) {
			de->v[w++] = *e;
			continue;
		}
		if (d->params.readdir.plus && e->entry.ino)
			flt_forget(inst, e->entry.ino, 1);
	}
	de->n = w;
}

REDIR_POST(redir_post_readdir)
{
	struct flt_dirents *de = &d->results.dirents;
	struct redir_inst *ri;

	(void)ctx;
	(void)flags;
	if (d->io_status.status)
		return FLT_POSTOP_FINISHED_PROCESSING;
	hide_temp(o->instance, d);
	if (!d->params.readdir.plus)
		return FLT_POSTOP_FINISHED_PROCESSING;
	ri = redir_inst_get(o->instance);
	if (!ri)
		return FLT_POSTOP_FINISHED_PROCESSING;
	for (size_t i = 0; i < de->n; i++)
		if (de->v[i].entry.ino)
			redir_note_entry(ri, d->ino, de->v[i].name,
					 &de->v[i].entry, d);
	redir_inst_put(ri);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

REDIR_PRE(redir_pre_releasedir)
{
	(void)o;
	(void)ctx;
	if (!redir_is_virtual(d->ino))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	flt_release_context((void *)(uintptr_t)d->params.release.fh);
	return complete(d, 0);
}
