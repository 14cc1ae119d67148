/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rules: parsing the instance arguments and rules files, and matching
 * volume paths. A rule set is immutable once built; the instance swaps the
 * whole set, so matching needs no lock (callers hold a reference).
 *
 * Syntax (docs/redirect.md):
 *   rule=PATH=>BACKING[,policy=readonly|copy-on-write|hydrate][,errno=EACCES|EROFS]
 *        [,only=ITEM[+ITEM...] | ,except=ITEM[+ITEM...]][,watch=on|off]
 *   ITEM: NAME or comm:NAME (process name), pid:N, uid:N (scope.c)
 *   PATH: "/a/b.bin" exact, "/data/" prefix (BACKING a directory),
 *         anything with * ? [ a glob (fnmatch, FNM_PATHNAME).
 */
#include "filters/redirect/redir.h"

#include <fsfilter/text.h>

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redir_rules *redir_rules_new(void)
{
	struct redir_rules *s = calloc(1, sizeof(*s));

	if (s)
		atomic_init(&s->refs, 1);
	return s;
}

void redir_rule_free(struct redir_rule *r)
{
	free(r->path);
	free(r->backing);
	r->path = r->backing = NULL;
}

void redir_rules_put(struct redir_rules *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n; i++)
		redir_rule_free(&s->v[i]);
	free(s->v);
	free(s);
}

int redir_rules_add(struct redir_rules *s, struct redir_rule *r)
{
	struct redir_rule *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	s->v = nv;
	s->v[s->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Names in rules (docs/redirect.md, "Names"): PATH and BACKING may hold
 * any byte but NUL, written as \xHH (or \n, \t, \r); a backslash before
 * any other character takes it literally (\, \; \= \\ and, in an exact or
 * prefix PATH, \* \? \[). So names with newlines, commas, semicolons,
 * "=>", glob characters or invalid UTF-8 can be named, and `list` prints
 * every rule on one line in a form `add` takes back.
 */

/* The first occurrence of @needle in @s that is not escaped, or NULL. */
static char *find_plain(char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (char *p = s; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return NULL;
			p++;
			continue;
		}
		if (!strncmp(p, needle, n))
			return p;
	}
	return NULL;
}

static bool has_plain_glob(char *s)
{
	return find_plain(s, "*") || find_plain(s, "?") || find_plain(s, "[");
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' :
	       tolower((unsigned char)c) - 'a' + 10;
}

/*
 * Decode the escapes of @in into @out (@len bytes). In a glob, an escaped
 * glob character or backslash stays escaped for fnmatch (a literal there).
 */
static int unescape(const char *in, char *out, size_t len, bool glob)
{
	size_t o = 0;

	while (*in) {
		unsigned char c = (unsigned char)*in++;
		bool esc = c == '\\';

		if (esc) {
			switch (*in) {
			case '\0':
				return -EINVAL;
			case 'n': c = '\n'; in++; break;
			case 't': c = '\t'; in++; break;
			case 'r': c = '\r'; in++; break;
			case 'x':
				if (!isxdigit((unsigned char)in[1]) ||
				    !isxdigit((unsigned char)in[2]))
					return -EINVAL;
				c = (unsigned char)(hexval(in[1]) << 4 |
						    hexval(in[2]));
				in += 3;
				break;
			default:
				c = (unsigned char)*in++;
				break;
			}
			if (!c)
				return -EINVAL;
		}
		if (o + 3 > len)
			return -ENAMETOOLONG;
		if (glob && esc && strchr("*?[]\\", c))
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int redir_unescape_path(const char *in, char *out, size_t len)
{
	return unescape(in, out, len, false);
}

/*
 * Append @s escaped (the inverse of unescape) to @buf at @o; returns the
 * new length (which may exceed @len: the caller checks). Valid UTF-8 stays
 * as it is; a glob's own escapes are kept.
 */
static size_t escape(char *buf, size_t len, size_t o, const char *str,
		     bool glob)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *end = s + strlen(str);

	while (*s) {
		unsigned char c = *s;
		size_t n = flt_utf8_len((const char *)s, (size_t)(end - s));
		char tmp[8];

		if (glob && c == '\\' && s[1]) {
			snprintf(tmp, sizeof(tmp), "\\%c", s[1]);
			n = 2;
		} else if (c < 0x20 || c == 0x7f || !n ||
			   (c == ' ' && !s[1])) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			n = 1;
		} else if (strchr("\\,;=", c) ||
			   (!glob && strchr("*?[]", c))) {
			snprintf(tmp, sizeof(tmp), "\\%c", c);
		} else {
			memcpy(tmp, s, n);
			tmp[n] = '\0';
		}
		for (const char *t = tmp; *t; t++, o++)
			if (o + 1 < len)
				buf[o] = *t;
		s += n;
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
	return o;
}

/* "/a//b/" -> "a/b" (and whether it ended in '/'); rejects "." and ".." */
static int norm_volume_path(const char *in, char *out, size_t len,
			    bool *trailing)
{
	size_t o = 0;
	const char *p = in;

	if (*p != '/')
		return -EINVAL;
	*trailing = in[strlen(in) - 1] == '/';
	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if ((n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (o + n + 2 > len)
			return -ENAMETOOLONG;
		if (o)
			out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

int redir_rule_parse(const char *spec, struct redir_rule *r, char *err,
		     size_t errlen)
{
	char *copy = strdup(spec), *arrow, *opts, *path, *backing, *tok,
	     *save = NULL;
	char npath[PATH_MAX], raw[PATH_MAX], rawb[PATH_MAX];
	bool trailing, glob;
	int ret = -EINVAL;

	memset(r, 0, sizeof(*r));
	r->deny_errno = EACCES;
	if (!copy)
		return -ENOMEM;
	arrow = find_plain(copy, "=>");
	if (!arrow) {
		snprintf(err, errlen, "rule '%s': expected PATH=>BACKING", spec);
		goto out;
	}
	*arrow = '\0';
	path = trim(copy);
	backing = arrow + 2;
	opts = find_plain(backing, ",");
	if (opts)
		*opts++ = '\0';
	backing = trim(backing);
	glob = has_plain_glob(path);
	if (unescape(path, raw, sizeof(raw), glob) ||
	    unescape(backing, rawb, sizeof(rawb), false)) {
		snprintf(err, errlen, "rule '%s': a bad escape (\\xHH, \\n, "
			 "\\t, \\r or \\ before a character) or a name too "
			 "long", spec);
		goto out;
	}
	backing = rawb;
	if (!raw[0] || norm_volume_path(raw, npath, sizeof(npath), &trailing)) {
		snprintf(err, errlen, "rule '%s': the volume path must be "
			 "absolute (start with /), without . or ..", spec);
		goto out;
	}
	if (backing[0] != '/') {
		snprintf(err, errlen, "rule '%s': the backing path must be "
			 "absolute", spec);
		goto out;
	}
	if (glob)
		r->kind = REDIR_GLOB;
	else if (trailing)
		r->kind = REDIR_PREFIX;
	else
		r->kind = REDIR_EXACT;
	if (r->kind != REDIR_GLOB && !npath[0] && r->kind != REDIR_PREFIX) {
		snprintf(err, errlen, "rule '%s': the root cannot be a file",
			 spec);
		goto out;
	}
	for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *k = trim(tok), *v = strchr(k, '=');

		if (!v) {
			snprintf(err, errlen, "rule '%s': option '%s' needs "
				 "a value", spec, k);
			goto out;
		}
		*v++ = '\0';
		k = trim(k);
		v = trim(v);
		if (!strcmp(k, "policy")) {
			if (!strcmp(v, "readonly"))
				r->policy = REDIR_READONLY;
			else if (!strcmp(v, "copy-on-write") || !strcmp(v, "cow"))
				r->policy = REDIR_COW;
			else if (!strcmp(v, "hydrate"))
				r->policy = REDIR_HYDRATE;
			else {
				snprintf(err, errlen, "rule '%s': unknown "
					 "policy '%s' (readonly, copy-on-write, "
					 "hydrate)", spec, v);
				goto out;
			}
		} else if (!strcmp(k, "errno")) {
			if (!strcasecmp(v, "EACCES"))
				r->deny_errno = EACCES;
			else if (!strcasecmp(v, "EROFS"))
				r->deny_errno = EROFS;
			else {
				snprintf(err, errlen, "rule '%s': errno must "
					 "be EACCES or EROFS", spec);
				goto out;
			}
		} else if (!strcmp(k, "watch")) {
			if (strcmp(v, "on") && strcmp(v, "off")) {
				snprintf(err, errlen, "rule '%s': watch must "
					 "be on or off", spec);
				goto out;
			}
			r->watch = !strcmp(v, "on");
		} else if (!strcmp(k, "only") || !strcmp(k, "except")) {
			char why[160];

			if (redir_scope_parse(v, k[0] == 'o'
						      ? REDIR_SCOPE_ONLY
						      : REDIR_SCOPE_EXCEPT,
					      &r->scope, why, sizeof(why))) {
				snprintf(err, errlen, "rule '%s': %s", spec,
					 why);
				goto out;
			}
		} else {
			snprintf(err, errlen, "rule '%s': unknown option '%s'",
				 spec, k);
			goto out;
		}
	}
	r->path = strdup(npath);
	r->backing = strdup(backing);
	if (!r->path || !r->backing) {
		ret = -ENOMEM;
		goto out;
	}
	/* no trailing '/' on backing directories */
	for (size_t n = strlen(r->backing); n > 1 && r->backing[n - 1] == '/';
	     n--)
		r->backing[n - 1] = '\0';
	ret = 0;
out:
	if (ret)
		redir_rule_free(r);
	free(copy);
	return ret;
}

static int parse_clause(char *clause, struct redir_rules *set,
			struct redir_config *cfg, char *err, size_t errlen,
			int depth);

static int parse_file(const char *file, struct redir_rules *set,
		      struct redir_config *cfg, char *err, size_t errlen,
		      int depth)
{
	FILE *f;
	char line[8192];
	int lineno = 0, ret = 0;

	if (depth > 4) {
		snprintf(err, errlen, "rules file %s: nested too deep", file);
		return -ELOOP;
	}
	f = fopen(file, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "rules file %s: %s", file,
			 strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		char sub[1024];

		lineno++;
		if (!*s || *s == '#')
			continue;
		ret = parse_clause(s, set, cfg, sub, sizeof(sub), depth + 1);
		if (ret) {
			snprintf(err, errlen, "%s:%d: %s", file, lineno, sub);
			break;
		}
	}
	fclose(f);
	return ret;
}

static int parse_clause(char *clause, struct redir_rules *set,
			struct redir_config *cfg, char *err, size_t errlen,
			int depth)
{
	char *s = trim(clause);
	struct redir_rule r;
	int ret;

	if (!*s)
		return 0;
	if (!strncmp(s, "rule=", 5)) {
		ret = redir_rule_parse(s + 5, &r, err, errlen);
		if (ret)
			return ret;
		ret = redir_rules_add(set, &r);
		if (ret)
			redir_rule_free(&r);
		return ret;
	}
	if (!strncmp(s, "rules=", 6))
		return parse_file(trim(s + 6), set, cfg, err, errlen, depth);
	if (!strncmp(s, "block=", 6)) {
		char *end;
		unsigned long long v = strtoull(s + 6, &end, 0);

		if (*end || v > (64u << 20)) {
			snprintf(err, errlen, "block=%s: expected a size in "
				 "bytes up to 64 MiB (0 = exact reads)", s + 6);
			return -EINVAL;
		}
		cfg->block_size = (size_t)v;
		return 0;
	}
	if (!strncmp(s, "copy_delay_us=", 14)) {
		char *end;
		unsigned long v = strtoul(s + 14, &end, 0);

		if (*end || v > 10000000) {
			snprintf(err, errlen, "copy_delay_us=%s: expected "
				 "microseconds up to 10 s", s + 14);
			return -EINVAL;
		}
		cfg->copy_delay_us = (unsigned)v;
		return 0;
	}
	if (!strncmp(s, "hydrate_jobs=", 13)) {
		char *end;
		unsigned long v = strtoul(s + 13, &end, 0);

		if (*end || v < 1 || v > REDIR_JOBS_MAX) {
			snprintf(err, errlen, "hydrate_jobs=%s: expected 1 to "
				 "%d copies at a time", s + 13, REDIR_JOBS_MAX);
			return -EINVAL;
		}
		cfg->hydrate_jobs = (unsigned)v;
		return 0;
	}
	if (!strncmp(s, "watch=", 6)) {
		if (strcmp(s + 6, "on") && strcmp(s + 6, "off")) {
			snprintf(err, errlen, "watch=%s: expected on or off",
				 s + 6);
			return -EINVAL;
		}
		cfg->watch_all = !strcmp(s + 6, "on");
		return 0;
	}
	if (!strncmp(s, "watch_max=", 10)) {
		char *end;
		unsigned long v = strtoul(s + 10, &end, 0);

		if (*end || v < 1 || v > 1000000) {
			snprintf(err, errlen, "watch_max=%s: expected 1 to "
				 "1000000 directories", s + 10);
			return -EINVAL;
		}
		cfg->watch_max = (unsigned)v;
		return 0;
	}
	if (!strncmp(s, "fastpath=", 9)) {
		if (!strcmp(s + 9, "off"))
			cfg->no_fastpath = true;
		else if (!strcmp(s + 9, "on"))
			cfg->no_fastpath = false;
		else {
			snprintf(err, errlen, "fastpath=%s: expected on or "
				 "off", s + 9);
			return -EINVAL;
		}
		return 0;
	}
	if (!strncmp(s, "times=", 6)) {
		if (!strcmp(s + 6, "lower"))
			cfg->lower_times = true;
		else if (!strcmp(s + 6, "backing"))
			cfg->lower_times = false;
		else {
			snprintf(err, errlen, "times=%s: expected backing or "
				 "lower", s + 6);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown clause '%s' (expected rule=, rules=, "
		 "block=, times=, fastpath=, copy_delay_us=, "
		 "hydrate_jobs=, watch= or watch_max=)", s);
	return -EINVAL;
}

int redir_args_parse(const char *args, struct redir_rules **out,
		     struct redir_config *cfg, char *err, size_t errlen)
{
	struct redir_rules *set = redir_rules_new();
	char *copy = strdup(args ? args : ""), *tok, *save = NULL;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->watch_max = REDIR_WATCH_MAX_DEFAULT;
	if (!set || !copy) {
		ret = -ENOMEM;
		goto out;
	}
	for (tok = copy; tok; tok = save) {
		char *semi = find_plain(tok, ";");

		save = NULL;
		if (semi) {
			*semi = '\0';
			save = semi + 1;
		}
		ret = parse_clause(tok, set, cfg, err, errlen, 0);
		if (ret)
			goto out;
	}
out:
	free(copy);
	if (ret) {
		redir_rules_put(set);
		set = NULL;
	}
	*out = set;
	return ret;
}

int redir_path_join(const char *dir, const char *name, char *buf,
		    size_t len)
{
	int n = dir[0] ? snprintf(buf, len, "%s/%s", dir, name)
		       : snprintf(buf, len, "%s", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* @path inside prefix @pre ("" = the root): the rest, or NULL. */
static const char *under_prefix(const char *pre, const char *path)
{
	size_t n = strlen(pre);

	if (!n)
		return path;
	/* clang-analyzer infers path == NULL from the `return path` above
	 * reaching a caller that tests the result for NULL; every caller
	 * passes a string */
	/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	if (strncmp(pre, path, n))
		return NULL;
	if (path[n] == '\0')
		return path + n;
	if (path[n] == '/')
		return path + n + 1;
	return NULL;
}

bool redir_match_path(const struct redir_rules *s, const char *path,
		      struct redir_match *m)
{
	const struct redir_rule *best = NULL;
	const char *rest = NULL;
	size_t best_len = 0;
	int n;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == REDIR_EXACT && !strcmp(s->v[i].path, path)) {
			m->rule = &s->v[i];
			m->gen = s->gen;
			n = snprintf(m->backing, sizeof(m->backing), "%s",
				     s->v[i].backing);
			return n > 0 && (size_t)n < sizeof(m->backing);
		}
	for (size_t i = 0; i < s->n; i++) {
		const char *r;

		if (s->v[i].kind != REDIR_PREFIX)
			continue;
		r = under_prefix(s->v[i].path, path);
		if (r && (!best || strlen(s->v[i].path) >= best_len)) {
			best = &s->v[i];
			best_len = strlen(best->path);
			rest = r;
		}
	}
	if (best) {
		m->rule = best;
		m->gen = s->gen;
		n = *rest ? snprintf(m->backing, sizeof(m->backing), "%s/%s",
				     best->backing, rest)
			  : snprintf(m->backing, sizeof(m->backing), "%s",
				     best->backing);
		return n > 0 && (size_t)n < sizeof(m->backing);
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == REDIR_GLOB &&
		    !fnmatch(s->v[i].path, path, FNM_PATHNAME | FNM_PERIOD)) {
			m->rule = &s->v[i];
			m->gen = s->gen;
			n = snprintf(m->backing, sizeof(m->backing), "%s",
				     s->v[i].backing);
			return n > 0 && (size_t)n < sizeof(m->backing);
		}
	m->rule = NULL;
	return false;
}

/* The parent of volume path @p is @dir, and its last component is @name. */
static const char *child_of(const char *dir, const char *p)
{
	size_t n = strlen(dir);
	const char *slash;

	if (n) {
		if (strncmp(dir, p, n) || p[n] != '/')
			return NULL;
		p += n + 1;
	}
	slash = strchr(p, '/');
	return *p && !slash ? p : NULL;
}

void redir_virtual_names(const struct redir_rules *s, const char *dir,
			 void (*cb)(const char *name, void *arg), void *arg,
			 char *backing_dir, size_t len)
{
	struct redir_match m;

	backing_dir[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		const char *name;

		if (s->v[i].kind == REDIR_GLOB || !s->v[i].path[0])
			continue;
		name = child_of(dir, s->v[i].path);
		if (name)
			cb(name, arg);
	}
	if (redir_match_path(s, dir, &m) && m.rule->kind == REDIR_PREFIX)
		snprintf(backing_dir, len, "%s", m.backing);
}

int redir_rule_dup(const struct redir_rule *r, struct redir_rule *out)
{
	*out = *r;
	out->path = strdup(r->path);
	out->backing = strdup(r->backing);
	if (!out->path || !out->backing) {
		redir_rule_free(out);
		return -ENOMEM;
	}
	return 0;
}

size_t redir_rule_format(const struct redir_rule *r, char *buf, size_t len)
{
	static const char *const pol[] = { "readonly", "copy-on-write",
					   "hydrate" };
	char scope[REDIR_SCOPE_MAX * 24 + 16];
	size_t o = escape(buf, len, 0, "/", false);
	int n;

	redir_scope_format(&r->scope, scope, sizeof(scope));
	o = escape(buf, len, o, r->path, r->kind == REDIR_GLOB);
	if (r->kind == REDIR_PREFIX && r->path[0])
		o = escape(buf, len, o, "/", false);
	if (o + 2 < len)
		memcpy(buf + o, "=>", 3);
	o = escape(buf, len, o + 2, r->backing, false);
	n = snprintf(o < len ? buf + o : NULL, o < len ? len - o : 0,
		     ",policy=%s,errno=%s%s%s", pol[r->policy],
		     r->deny_errno == EROFS ? "EROFS" : "EACCES", scope,
		     r->watch ? ",watch=on" : "");
	return o + (size_t)(n > 0 ? n : 0);
}
