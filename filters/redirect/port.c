/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Run-time rules: the filter's communication port "redirect" (root only,
 * 0600), which `fsfilter redirect add|remove|list|dehydrate` talks to.
 *
 * Wire format (docs/redirect.md): one request per message, text:
 *   "list"                      -> one rule per line
 *   "add PATH=>BACKING[,opts]"  -> adds, or replaces the rule of that PATH
 *   "remove PATH"               -> removes the rule of PATH (same spelling
 *                                  of exact / prefix "dir/" / glob)
 *   "dehydrate PATH"            -> an unmodified materialised file becomes
 *                                  a redirect again
 *   "hydrate PATH"              -> starts (or joins) the background copy
 *                                  of a hydrate file: "started" or
 *                                  "hydrated" (already)
 *   "progress PATH"             -> "queued|copying DONE TOTAL RATE",
 *                                  "hydrated" or "redirect" (no copy
 *                                  runs, not hydrated: cancelled/failed)
 *   "cancel PATH"               -> stops the copy of PATH (hydrate.c)
 * The reply starts with "ok\n" or "error: <text>\n".
 *
 * A change builds a new immutable rule set and swaps it in under
 * rules_lock (readers hold their own reference, so a set in use is never
 * freed); stream contexts decided with an older set are decided again at
 * their next use (redir_snode_get), virtual nodes of an older set are not
 * handed out again (vnode.c); open handles keep the backing fd and target
 * they opened. Then the kernel's caches of the affected names and nodes
 * are invalidated, from this (the port's) thread, which is no volume
 * worker and runs inside no operation: allowed by flt_invalidate_*.
 */
#include "filters/redirect/redir.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define WALK_LIMIT 20000	/* names visited per invalidation walk */

static pthread_mutex_t change_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- kernel ids of volume paths --------------------------------------- */

/* Invalidate the dentry of @path and the nodes (lower and virtual) the
 * kernel may have for it. */
static void inval_path(struct redir_inst *ri, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	const char *name = slash ? slash + 1 : path;
	struct flt_entry e;
	flt_ino_t ids[8];
	size_t n;

	if (!path[0])
		return;	/* the root: never redirected itself */
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0,
		 path);
	if (!dir[0]) {
		flt_invalidate_entry(ri->instance, FLT_ROOT_INO, name);
	} else if (!flt_lookup_path(ri->instance, dir, &e)) {
		flt_invalidate_entry(ri->instance, e.ino, name);
		flt_forget(ri->instance, e.ino, 1);
	}
	n = redir_vnode_ids(ri, dir, ids, 8);
	for (size_t i = 0; i < n; i++)
		flt_invalidate_entry(ri->instance, ids[i], name);
	if (!flt_lookup_path(ri->instance, path, &e)) {
		flt_invalidate_inode(ri->instance, e.ino);
		flt_forget(ri->instance, e.ino, 1);
	}
	n = redir_vnode_ids(ri, path, ids, 8);
	for (size_t i = 0; i < n; i++)
		flt_invalidate_inode(ri->instance, ids[i]);
}

/* Every name of backing directory @bdir, as volume paths under @vdir. */
static void walk_backing(struct redir_inst *ri, const char *bdir,
			 const char *vdir, int depth, unsigned *budget)
{
	DIR *dp = opendir(bdir);
	struct dirent *de;

	if (!dp)
		return;
	while (*budget && (de = readdir(dp))) {
		char b[4096], v[4096];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		(*budget)--;
		if (redir_path_join(vdir, de->d_name, v, sizeof(v)) ||
		    (size_t)snprintf(b, sizeof(b), "%s/%s", bdir,
				     de->d_name) >= sizeof(b))
			continue;
		inval_path(ri, v);
		if (de->d_type == DT_DIR && depth < 64)
			walk_backing(ri, b, v, depth + 1, budget);
	}
	closedir(dp);
}

/* Lower names matching glob @pat (components separated by '/') under
 * lower directory @dir (volume path @dpath). */
static void walk_glob(struct redir_inst *ri, flt_ino_t dir, const char *dpath,
		      const char *pat, unsigned *budget)
{
	const char *slash = strchr(pat, '/');
	char comp[256];
	struct flt_callback_data *d;
	uint64_t fh;
	off_t off = 0;

	snprintf(comp, sizeof(comp), "%.*s",
		 slash ? (int)(slash - pat) : (int)strlen(pat), pat);
	if (flt_allocate_callback_data(ri->instance, FLT_OP_OPENDIR, &d))
		return;
	d->ino = dir;
	if (flt_perform_synchronous_io(d)) {
		flt_free_callback_data(d);
		return;
	}
	fh = d->results.open.fh;
	flt_free_callback_data(d);
	while (*budget) {
		size_t n;

		if (flt_allocate_callback_data(ri->instance, FLT_OP_READDIR,
					       &d))
			break;
		d->ino = dir;
		d->params.readdir.fh = fh;
		d->params.readdir.offset = off;
		d->params.readdir.size = 64 * 1024;
		n = flt_perform_synchronous_io(d) ? 0 : d->results.dirents.n;
		for (size_t i = 0; i < n && *budget; i++) {
			struct flt_dirent *e = &d->results.dirents.v[i];
			char path[4096];

			off = e->next_off;
			(*budget)--;
			if (!strcmp(e->name, ".") || !strcmp(e->name, "..") ||
			    fnmatch(comp, e->name, FNM_PERIOD) ||
			    redir_path_join(dpath, e->name, path,
					    sizeof(path)))
				continue;
			if (!slash) {
				inval_path(ri, path);
			} else if (e->type == DT_DIR) {
				struct flt_entry ce;

				if (!flt_lookup_path(ri->instance, path,
						     &ce)) {
					walk_glob(ri, ce.ino, path, slash + 1,
						  budget);
					flt_forget(ri->instance, ce.ino, 1);
				}
			}
		}
		flt_free_callback_data(d);
		if (!n)
			break;
	}
	if (!flt_allocate_callback_data(ri->instance, FLT_OP_RELEASEDIR, &d)) {
		d->ino = dir;
		d->params.release.fh = fh;
		flt_perform_synchronous_io(d);
		flt_free_callback_data(d);
	}
}

/* The kernel's caches of everything rule @r covers. */
static void inval_rule(struct redir_inst *ri, const struct redir_rule *r)
{
	unsigned budget = WALK_LIMIT;
	flt_ino_t ids[64];
	size_t n;

	switch (r->kind) {
	case REDIR_EXACT:
		inval_path(ri, r->path);
		break;
	case REDIR_PREFIX:
		/* the root's dentry goes with its subtree; nodes that stay
		 * cached (open, or looked up again by node id) lose their
		 * attributes and pages */
		inval_path(ri, r->path);
		walk_backing(ri, r->backing, r->path, 0, &budget);
		n = redir_vnode_ids_under(ri, r->path, ids, 64);
		for (size_t i = 0; i < n; i++)
			flt_invalidate_inode(ri->instance, ids[i]);
		break;
	case REDIR_GLOB:
		walk_glob(ri, FLT_ROOT_INO, "", r->path, &budget);
		break;
	}
	redir_inval_flush(ri);	/* what materialisations queued */
}

void redir_inval_volume_path(struct redir_inst *ri, const char *path)
{
	inval_path(ri, path);
}

void redir_inval_rule_caches(struct redir_inst *ri,
			     const struct redir_rule *r)
{
	inval_rule(ri, r);
}

/* ---- requests ------------------------------------------------------------ */

struct reply {
	char *buf;
	size_t len, used;
};

static void say(struct reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->used >= r->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->used += (size_t)n < r->len - r->used ? (size_t)n
						       : r->len - r->used - 1;
}

/* Install a copy of the current set without rule @skip (index, or -1)
 * plus @add (may be NULL). On success the rule moves into the new set
 * (redir_rules_add leaves *@add zeroed); on failure the caller still owns
 * it and frees it. */
static int swap_rules(struct redir_inst *ri, long skip, struct redir_rule *add)
{
	struct redir_rules *cur = redir_rules_get(ri), *set = redir_rules_new();
	int ret = set ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < cur->n; i++) {
		struct redir_rule c;

		if ((long)i == skip)
			continue;
		ret = redir_rule_dup(&cur->v[i], &c);
		if (!ret && (ret = redir_rules_add(set, &c)))
			redir_rule_free(&c);
	}
	if (!ret && add)
		ret = redir_rules_add(set, add);
	if (ret) {
		redir_rules_put(set);
		redir_rules_put(cur);
		return ret;
	}
	pthread_mutex_lock(&ri->rules_lock);
	set->gen = ri->rules->gen + 1;
	redir_rules_put(ri->rules);	/* the instance's reference */
	ri->rules = set;
	atomic_store(&ri->gen, set->gen);
	pthread_mutex_unlock(&ri->rules_lock);
	redir_rules_put(cur);
	redir_watch_sync(ri);	/* watch=on rules added or gone */
	return 0;
}

/* Index of the rule with @r's kind and path, or -1. */
static long find_rule(struct redir_inst *ri, const struct redir_rule *r)
{
	struct redir_rules *cur = redir_rules_get(ri);
	long found = -1;

	for (size_t i = 0; i < cur->n; i++)
		if (cur->v[i].kind == r->kind &&
		    !strcmp(cur->v[i].path, r->path))
			found = (long)i;
	redir_rules_put(cur);
	return found;
}

static void do_list(struct redir_inst *ri, struct reply *out)
{
	struct redir_rules *cur = redir_rules_get(ri);
	/* escaped names take up to 4 bytes a byte */
	size_t len = 8 * PATH_MAX + 512;
	char *line = malloc(len);

	if (!line) {
		redir_rules_put(cur);
		say(out, "error: %s\n", strerror(ENOMEM));
		return;
	}
	say(out, "ok\n");
	for (size_t i = 0; i < cur->n; i++) {
		redir_rule_format(&cur->v[i], line, len);
		say(out, "%s\n", line);
	}
	free(line);
	redir_rules_put(cur);
}

static void do_add(struct redir_inst *ri, const char *spec, struct reply *out)
{
	struct redir_rule r, old;
	char err[1024] = "";
	long idx;
	int ret;

	if (redir_rule_parse(spec, &r, err, sizeof(err))) {
		say(out, "error: %s\n", err);
		return;
	}
	if (redir_check_backing(&r)) {
		say(out, "error: rule '%s': backing %s refused (see the "
		    "daemon log)\n", spec, r.backing);
		redir_rule_free(&r);
		return;
	}
	idx = find_rule(ri, &r);
	memset(&old, 0, sizeof(old));
	if (idx >= 0) {
		struct redir_rules *cur = redir_rules_get(ri);

		ret = redir_rule_dup(&cur->v[idx], &old);
		redir_rules_put(cur);
		if (ret) {
			say(out, "error: %s\n", strerror(-ret));
			redir_rule_free(&r);
			return;
		}
	}
	{
		struct redir_rule keep;

		ret = redir_rule_dup(&r, &keep);
		if (!ret)
			ret = swap_rules(ri, idx, &keep);
		if (ret)
			redir_rule_free(&keep);
	}
	if (ret) {
		say(out, "error: %s\n", strerror(-ret));
	} else {
		if (old.path)
			inval_rule(ri, &old);
		inval_rule(ri, &r);
		flt_log(LOG_NOTICE, "redirect: rule added: %s", spec);
		say(out, "ok\n");
	}
	redir_rule_free(&old);
	redir_rule_free(&r);
}

static void do_remove(struct redir_inst *ri, const char *path,
		      struct reply *out)
{
	char spec[4200], err[1024];
	struct redir_rule r, old;
	long idx;
	int ret;

	/* the same parser decides exact / prefix / glob and normalises */
	snprintf(spec, sizeof(spec), "%s=>/", path);
	if (redir_rule_parse(spec, &r, err, sizeof(err))) {
		say(out, "error: %s\n", err);
		return;
	}
	idx = find_rule(ri, &r);
	if (idx < 0) {
		say(out, "error: no rule for %s (fsfilter redirect list shows "
		    "them)\n", path);
		redir_rule_free(&r);
		return;
	}
	{
		struct redir_rules *cur = redir_rules_get(ri);

		ret = redir_rule_dup(&cur->v[idx], &old);
		redir_rules_put(cur);
	}
	if (!ret)
		ret = swap_rules(ri, idx, NULL);
	if (ret) {
		say(out, "error: %s\n", strerror(-ret));
	} else {
		inval_rule(ri, &old);
		redir_rule_free(&old);
		flt_log(LOG_NOTICE, "redirect: rule removed: %s", path);
		say(out, "ok\n");
	}
	redir_rule_free(&r);
}

/* Is the lower file @f the same bytes as backing file @backing? */
static int same_content(struct redir_inst *ri, struct flt_file *f,
			const char *backing, off_t size)
{
	size_t chunk = 1u << 20;
	char *a = malloc(chunk), *b = malloc(chunk);
	int fd = redir_backing_open(backing), ret = 0;

	if (!a || !b || fd < 0) {
		ret = fd < 0 ? fd : -ENOMEM;
		goto out;
	}
	for (off_t off = 0; off < size && !ret;) {
		size_t got = 0;
		ssize_t n;

		ret = flt_read_file(ri->instance, f, off, chunk, a, &got);
		if (ret)
			break;
		n = redir_backing_read(fd, b, chunk, off, 0);
		if (n < 0 || (size_t)n != got || !got ||
		    memcmp(a, b, got))
			ret = n < 0 ? (int)n : 1;
		off += (off_t)got;
	}
out:
	if (fd >= 0)
		close(fd);
	free(a);
	free(b);
	return ret;
}

static void do_dehydrate(struct redir_inst *ri, const char *vpath,
			 struct reply *out)
{
	struct redir_rules *rules = redir_rules_get(ri);
	struct redir_match m;
	char marker[64], path[4096];
	struct flt_callback_data *d;
	struct flt_file f;
	struct stat st, bst;
	bool matched;
	int ret;

	if (redir_unescape_path(vpath, path, sizeof(path))) {
		redir_rules_put(rules);
		say(out, "error: %s: a bad escape or too long\n", vpath);
		return;
	}
	memmove(path, path + strspn(path, "/"), strlen(path + strspn(path, "/")) + 1);
	matched = redir_match_path(rules, path, &m);
	redir_rules_put(rules);
	if (!matched) {
		say(out, "error: no rule covers /%s\n", path);
		return;
	}
	ret = flt_create_file(ri->instance, path, O_RDONLY, 0, &f);
	if (ret) {
		say(out, "error: /%s: %s\n", path, strerror(-ret));
		return;
	}
	ret = redir_marker_get(ri, f.ino, marker, sizeof(marker));
	if (ret || strncmp(marker, "v1 hydrate ", 11)) {
		say(out, "error: /%s was not hydrated (%s)\n", path,
		    ret ? "no marker: an ordinary lower file"
			: "copied by a write: it has its own content");
		goto out_close;
	}
	ret = flt_query_information(ri->instance, f.ino, &st);
	if (!ret)
		ret = redir_backing_stat(m.backing, &bst);
	if (!ret && st.st_size != bst.st_size)
		ret = 1;
	if (!ret)
		ret = same_content(ri, &f, m.backing, st.st_size);
	if (ret) {
		say(out, "error: /%s %s\n", path, ret > 0 ?
		    "was modified since it was hydrated: not dehydrated" :
		    strerror(-ret));
		goto out_close;
	}
	if (!strcmp(marker + 11, "virtual")) {
		/* it was a virtual file: the lower copy goes */
		struct flt_entry pe;
		char *slash = strrchr(path, '/');
		flt_ino_t parent = FLT_ROOT_INO;

		if (slash) {
			*slash = '\0';
			ret = flt_lookup_path(ri->instance, path, &pe);
			*slash = '/';
			parent = ret ? 0 : pe.ino;
		}
		if (!ret && !flt_allocate_callback_data(ri->instance,
							FLT_OP_UNLINK, &d)) {
			d->ino = parent;
			d->params.unlink.parent = parent;
			d->params.unlink.name = slash ? slash + 1 : path;
			ret = flt_perform_synchronous_io(d);
			flt_free_callback_data(d);
		}
		if (slash && parent)
			flt_forget(ri->instance, parent, 1);
	} else if (!(ret = flt_allocate_callback_data(ri->instance,
						      FLT_OP_REMOVEXATTR,
						      &d))) {
		/* it was a lower file: without the marker the rule applies
		 * again (its content is the backing's) */
		d->ino = f.ino;
		d->params.removexattr.name = REDIR_XATTR;
		ret = flt_perform_synchronous_io(d);
		flt_free_callback_data(d);
	}
	if (ret) {
		say(out, "error: /%s: %s\n", path, strerror(-ret));
		goto out_close;
	}
	flt_close(ri->instance, &f);
	inval_path(ri, path);
	flt_log(LOG_NOTICE, "redirect: /%s dehydrated", path);
	say(out, "ok\n");
	return;
out_close:
	flt_close(ri->instance, &f);
}

/* Is the lower file of volume path @path hydrated (carries the marker)? */
static bool hydrated(struct redir_inst *ri, const char *path)
{
	struct flt_entry e;
	bool done;

	if (flt_lookup_path(ri->instance, path, &e))
		return false;
	done = S_ISREG(e.attr.st_mode) && redir_is_materialised(ri, e.ino);
	flt_forget(ri->instance, e.ino, 1);
	return done;
}

/* The PATH of a hydrate/progress/cancel request (rule syntax, escapes
 * decoded, no leading '/') into @path; false (and the error said) if it
 * cannot be decoded. */
static bool request_path(const char *vpath, char *path, size_t len,
			 struct reply *out)
{
	if (redir_unescape_path(vpath, path, len)) {
		say(out, "error: %s: a bad escape or too long\n", vpath);
		return false;
	}
	memmove(path, path + strspn(path, "/"),
		strlen(path + strspn(path, "/")) + 1);
	return true;
}

static void do_hydrate(struct redir_inst *ri, const char *vpath,
		       struct reply *out)
{
	struct redir_rules *rules;
	struct redir_target *t = NULL;
	struct redir_match m;
	char path[4096];
	bool matched;
	int ret;

	if (!request_path(vpath, path, sizeof(path), out))
		return;
	rules = redir_rules_get(ri);
	matched = redir_match_path(rules, path, &m);
	if (matched && m.rule->policy == REDIR_HYDRATE)
		t = redir_target_new(&m, false);
	redir_rules_put(rules);
	if (!matched || !t) {
		say(out, "error: %s /%s\n", matched ?
		    "no hydrate rule (policy=hydrate) covers" :
		    "no rule covers", path);
		return;
	}
	if (hydrated(ri, path)) {
		say(out, "ok\nhydrated\n");
	} else {
		ret = redir_hydrate_start(ri, path, t, 0);
		if (ret)
			say(out, "error: /%s: %s\n", path, strerror(-ret));
		else
			say(out, "ok\nstarted\n");
	}
	redir_target_put(t);
}

static void do_progress(struct redir_inst *ri, const char *vpath,
			struct reply *out)
{
	struct redir_job_info info;
	char path[4096];

	if (!request_path(vpath, path, sizeof(path), out))
		return;
	if (redir_job_find_info(ri, path, &info))
		say(out, "ok\n%s %llu %llu %llu\n",
		    info.running ? "copying" : "queued",
		    (unsigned long long)info.done,
		    (unsigned long long)info.total,
		    (unsigned long long)info.rate);
	else
		say(out, "ok\n%s\n",
		    hydrated(ri, path) ? "hydrated" : "redirect");
}

static void do_cancel(struct redir_inst *ri, const char *vpath,
		      struct reply *out)
{
	char path[4096];

	if (!request_path(vpath, path, sizeof(path), out))
		return;
	if (redir_hydrate_cancel(ri, path))
		say(out, "error: no copy of %s is queued or running\n",
		    vpath);
	else
		say(out, "ok\n");
}

static int on_message(void *cookie, const void *in, size_t in_len, void *out,
		      size_t out_len, size_t *returned)
{
	struct redir_inst *ri = cookie;
	struct reply r = { out, out_len, 0 };
	char *req = malloc(in_len + 1), *arg;

	*returned = 0;
	if (!req)
		return -ENOMEM;
	memcpy(req, in, in_len);
	req[in_len] = '\0';
	arg = strchr(req, ' ');
	if (arg)
		*arg++ = '\0';
	pthread_mutex_lock(&change_lock);
	if (atomic_load(&ri->closing))
		say(&r, "error: the volume is going away\n");
	else if (!strcmp(req, "list"))
		do_list(ri, &r);
	else if (!strcmp(req, "add") && arg)
		do_add(ri, arg, &r);
	else if (!strcmp(req, "remove") && arg)
		do_remove(ri, arg, &r);
	else if (!strcmp(req, "dehydrate") && arg)
		do_dehydrate(ri, arg, &r);
	else if (!strcmp(req, "hydrate") && arg)
		do_hydrate(ri, arg, &r);
	else if (!strcmp(req, "progress") && arg)
		do_progress(ri, arg, &r);
	else if (!strcmp(req, "cancel") && arg)
		do_cancel(ri, arg, &r);
	else
		say(&r, "error: unknown request '%s' (list, add SPEC, remove "
		    "PATH, dehydrate PATH, hydrate PATH, progress PATH, "
		    "cancel PATH)\n", req);
	pthread_mutex_unlock(&change_lock);
	free(req);
	*returned = r.used;
	return 0;
}

static int on_connect(struct flt_client_port *client, void *server_cookie,
		      const struct flt_port_peer *peer, const void *context,
		      size_t context_len, void **cookie)
{
	(void)client;
	(void)peer;
	(void)context;
	(void)context_len;
	/* each connection holds the instance context until it goes */
	flt_reference_context(server_cookie);
	*cookie = server_cookie;
	return 0;
}

static void on_disconnect(void *cookie)
{
	flt_release_context(cookie);
}

int redir_port_open(struct redir_inst *ri)
{
	struct flt_port_security sec = { .owner = 0, .group = 0,
					 .mode = 0600 };
	int ret;

	ret = flt_create_communication_port(ri->filter, "redirect", &sec, ri,
					    on_connect, on_disconnect,
					    on_message, 8, &ri->port);
	if (ret) {
		/* run-time rules are an extra: the volume works without */
		flt_log(LOG_WARNING, "redirect: no port for run-time rules: "
			"%s", strerror(-ret));
		ri->port = NULL;
	}
	return 0;
}

void redir_port_close(struct redir_inst *ri)
{
	struct flt_port *p = ri->port;

	ri->port = NULL;
	flt_close_communication_port(p);
}
