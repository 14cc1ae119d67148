/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The volume configuration file (format in config.h).
 *
 * libinih parses key = value lines, but it does not tell its handler the
 * line number, does not report sections without keys, and (as built by
 * Debian) cuts lines at 200 bytes. A first pass over the file therefore
 * records sections and the line of every key in the order inih will call
 * the handler, and rejects what inih would silently mangle; the handler
 * then knows the line of each key it gets.
 */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const volume_keys[] = {
	"lower", "mountpoint", "options", "threads", "writeback", "timeout",
	"new_timeout", "nonempty", "passthrough", "xattr",
};
#define NVOLUME_KEYS (sizeof(volume_keys) / sizeof(volume_keys[0]))
#define VOLUME_KEYS_TEXT \
	"lower, mountpoint, options, threads, writeback, timeout, " \
	"new_timeout, nonempty, passthrough, xattr"

struct parse_state {
	struct cfg_volume *c;
	const char *file;
	char *err;
	size_t errlen;
	bool failed;
	unsigned *key_lines;	/* line of the n-th handler call */
	size_t nkeys, capkeys, call;
	bool volume_seen;
	unsigned volume_line;
	bool vseen[NVOLUME_KEYS];
	size_t first_filter;	/* this file's filters start here */
	bool fseen[CFG_MAX_FILTERS][2];	/* altitude, args */
	unsigned fline[CFG_MAX_FILTERS];
};

__attribute__((format(printf, 3, 4)))
static void perr(struct parse_state *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->file, line);
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
	va_end(ap);
}

void cfg_init(struct cfg_volume *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout = -1;	/* auto: long with the watch, else 1 s */
	c->new_timeout = -1;
	c->passthrough = true;
	c->xattr = true;
}

void cfg_free(struct cfg_volume *c)
{
	free(c->lower);
	free(c->mountpoint);
	free(c->options);
	for (size_t i = 0; i < c->nfilters; i++) {
		free(c->filters[i].args);
		free(c->filters[i].file);
	}
	cfg_init(c);
}

/* ---- values ------------------------------------------------------------ */

int cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int cfg_parse_threads(const char *s, unsigned *out)
{
	unsigned long v;

	if (parse_ulong(s, 1024, &v) || v < 1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int cfg_parse_timeout(const char *s, double *out)
{
	char *end;
	double v;

	if (!strcmp(s, "auto")) {	/* the default */
		*out = -1;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 ||
	    v > 86400.0 * 365)
		return -1;
	*out = v;
	return 0;
}

int cfg_parse_altitude(const char *s, uint32_t *out)
{
	unsigned long v;

	if (parse_ulong(s, UINT32_MAX, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

bool cfg_valid_filter_name(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!(islower((unsigned char)s[n]) ||
		      isdigit((unsigned char)s[n]) || s[n] == '_' ||
		      s[n] == '-'))
			return false;
	return n >= 1 && n <= 31;
}

/* ---- first pass: sections and key lines --------------------------------- */

enum section_kind { SEC_BAD, SEC_VOLUME, SEC_FILTER };

/* "[volume]" / "[filter NAME]" (blanks around words allowed) */
static enum section_kind parse_section(const char *raw, char *name,
				       size_t len)
{
	char word[32], extra[2];
	int n;

	name[0] = '\0';
	n = sscanf(raw, " %31s %31s %1s", word, name, extra);
	if (n == 1 && !strcmp(word, "volume"))
		return SEC_VOLUME;
	if (n == 2 && !strcmp(word, "filter"))
		return SEC_FILTER;
	return SEC_BAD;
}

static int find_filter(const struct cfg_volume *c, const char *name)
{
	for (size_t i = 0; i < c->nfilters; i++)
		if (!strcmp(c->filters[i].name, name))
			return (int)i;
	return -1;
}

static void add_key_line(struct parse_state *ps, unsigned line)
{
	if (ps->nkeys == ps->capkeys) {
		size_t cap = ps->capkeys ? 2 * ps->capkeys : 32;
		unsigned *v = realloc(ps->key_lines, cap * sizeof(*v));

		if (!v) {
			perr(ps, line, "out of memory");
			return;
		}
		ps->key_lines = v;
		ps->capkeys = cap;
	}
	ps->key_lines[ps->nkeys++] = line;
}

static void scan_section(struct parse_state *ps, unsigned line, char *start)
{
	char *end = strchr(start, ']');
	char name[64];
	int i;

	if (!end) {
		perr(ps, line, "missing ']' after the section name");
		return;
	}
	*end = '\0';
	switch (parse_section(start + 1, name, sizeof(name))) {
	case SEC_VOLUME:
		if (ps->volume_seen) {
			perr(ps, line, "section [volume] given twice (first at "
			     "line %u)", ps->volume_line);
			return;
		}
		ps->volume_seen = true;
		ps->volume_line = line;
		return;
	case SEC_FILTER:
		if (!cfg_valid_filter_name(name)) {
			perr(ps, line, "bad filter name '%s' in [%s] (expected "
			     "1 to 31 of a-z, 0-9, '_', '-')", name, start + 1);
			return;
		}
		i = find_filter(ps->c, name);
		if (i >= (int)ps->first_filter) {
			perr(ps, line, "section [filter %s] given twice (first "
			     "at line %u)", name, ps->fline[i]);
			return;
		}
		if (i < 0) {
			if (ps->c->nfilters == CFG_MAX_FILTERS) {
				perr(ps, line, "too many filters (at most %d)",
				     CFG_MAX_FILTERS);
				return;
			}
			i = (int)ps->c->nfilters++;
		}
		memset(&ps->c->filters[i], 0, sizeof(ps->c->filters[i]));
		strcpy(ps->c->filters[i].name, name);
		snprintf(ps->c->filters[i].origin,
			 sizeof(ps->c->filters[i].origin), "%s:%u", ps->file,
			 line);
		ps->fline[i] = line;
		return;
	default:
		perr(ps, line, "unknown section [%s] (expected: [volume], "
		     "[filter NAME])", start + 1);
	}
}

/* Mirrors the line classification of inih's ini_parse_stream(). */
static int prescan(struct parse_state *ps, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	bool prev_key = false, in_section = false;

	while (!ps->failed && (n = getline(&line, &cap, f)) >= 0) {
		char *start = line, *p;

		lineno++;
		if (lineno == 1 && !strncmp(start, "\xEF\xBB\xBF", 3))
			start += 3;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > INI_MAX_LINE - 2) {
			perr(ps, lineno, "line too long (at most %d "
			     "characters)", INI_MAX_LINE - 2);
			break;
		}
		for (p = line + n; p > start && isspace((unsigned char)p[-1]);)
			*--p = '\0';
		p = start;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ';' || *p == '#' || !*p)
			continue;
		if (prev_key && p > start) {
			add_key_line(ps, lineno);	/* continuation */
		} else if (*p == '[') {
			scan_section(ps, lineno, p);
			prev_key = false;
			in_section = true;
		} else if (strpbrk(p, "=:")) {
			if (!in_section) {
				perr(ps, lineno, "'%.*s' outside a section "
				     "(put it under [volume] or [filter "
				     "NAME])", (int)strcspn(p, " \t=:"), p);
				break;
			}
			add_key_line(ps, lineno);
			prev_key = true;
		} else {
			perr(ps, lineno, "expected 'key = value', '[section]' "
			     "or a comment, not '%s'", p);
		}
	}
	if (!ps->failed && ferror(f))
		perr(ps, lineno, "read error: %s", strerror(errno));
	free(line);
	return ps->failed ? -1 : 0;
}

/* ---- second pass: inih ---------------------------------------------------- */

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static void volume_key(struct parse_state *ps, unsigned line,
		       const char *name, const char *v)
{
	struct cfg_volume *c = ps->c;
	size_t k;

	for (k = 0; k < NVOLUME_KEYS; k++)
		if (!strcmp(name, volume_keys[k]))
			break;
	if (k == NVOLUME_KEYS) {
		perr(ps, line, "unknown key '%s' in [volume] (expected: "
		     VOLUME_KEYS_TEXT ")", name);
		return;
	}
	if (ps->vseen[k]) {
		perr(ps, line, "key '%s' given twice in [volume] (an indented "
		     "line continues the key above it)", name);
		return;
	}
	ps->vseen[k] = true;
	if (!strcmp(name, "lower") || !strcmp(name, "mountpoint")) {
		if (v[0] != '/') {
			perr(ps, line, "'%s' must be an absolute path, not "
			     "'%s'", name, v);
			return;
		}
		if (set_str(name[0] == 'l' ? &c->lower : &c->mountpoint, v))
			perr(ps, line, "out of memory");
	} else if (!strcmp(name, "options")) {
		if (set_str(&c->options, v))
			perr(ps, line, "out of memory");
	} else if (!strcmp(name, "threads")) {
		if (cfg_parse_threads(v, &c->threads))
			perr(ps, line, "'threads' must be a whole number from "
			     "1 to 1024, not '%s'", v);
	} else if (!strcmp(name, "timeout") || !strcmp(name, "new_timeout")) {
		if (cfg_parse_timeout(v, name[0] == 't' ? &c->timeout
							: &c->new_timeout))
			perr(ps, line, "'%s' must be a number of seconds "
			     ">= 0 (e.g. 1.0) or auto, not '%s'", name, v);
	} else {
		bool *b = !strcmp(name, "writeback")	 ? &c->writeback
			  : !strcmp(name, "passthrough") ? &c->passthrough
			  : !strcmp(name, "xattr")	 ? &c->xattr
							 : &c->nonempty;

		if (cfg_parse_bool(v, b))
			perr(ps, line, "'%s' must be true or false, not '%s'",
			     name, v);
	}
}

static void filter_key(struct parse_state *ps, unsigned line,
		       const char *fname, const char *name, const char *v)
{
	int i = find_filter(ps->c, fname);
	struct cfg_filter *f;
	int k = !strcmp(name, "altitude") ? 0 : !strcmp(name, "args") ? 1 : -1;

	if (i < 0) {	/* cannot happen: the prescan saw the section */
		perr(ps, line, "key '%s' outside a known section", name);
		return;
	}
	f = &ps->c->filters[i];
	if (k < 0) {
		perr(ps, line, "unknown key '%s' in [filter %s] (expected: "
		     "altitude, args)", name, fname);
		return;
	}
	if (ps->fseen[i][k]) {
		perr(ps, line, "key '%s' given twice in [filter %s]", name,
		     fname);
		return;
	}
	ps->fseen[i][k] = true;
	if (k == 0) {
		if (cfg_parse_altitude(v, &f->altitude))
			perr(ps, line, "'altitude' must be a whole number from "
			     "0 (the filter's default) to 4294967295, not "
			     "'%s'", v);
	} else if (set_str(&f->args, v)) {
		perr(ps, line, "out of memory");
	}
}

static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_state *ps = user;
	unsigned line = ps->call < ps->nkeys ? ps->key_lines[ps->call] : 0;
	char fname[64];

	ps->call++;
	if (ps->failed)
		return 1;
	switch (parse_section(section, fname, sizeof(fname))) {
	case SEC_VOLUME:
		volume_key(ps, line, name, value);
		break;
	case SEC_FILTER:
		filter_key(ps, line, fname, name, value);
		break;
	default:
		perr(ps, line, "key '%s' outside a known section", name);
	}
	return !ps->failed;
}

int cfg_load(struct cfg_volume *c, const char *file, char *err, size_t len)
{
	struct parse_state ps = {
		.c = c, .file = file, .err = err, .errlen = len,
		.first_filter = c->nfilters,
	};
	FILE *f = fopen(file, "re");
	int ret;

	if (!f) {
		snprintf(err, len, "%s: cannot open the config file: %s", file,
			 strerror(errno));
		return -1;
	}
	if (prescan(&ps, f))
		goto out;
	rewind(f);
	ret = ini_parse_file(f, on_key, &ps);
	if (!ps.failed && ret)
		perr(&ps, ret > 0 ? (unsigned)ret : 0,
		     "syntax error (expected 'key = value', '[section]' or a "
		     "comment)");
out:
	fclose(f);
	free(ps.key_lines);
	return ps.failed ? -1 : 0;
}

/* ---- the command line ----------------------------------------------------- */

/* The first @n bytes of @s are a valid filter name. */
static bool cfg_valid_filter_name_n(const char *s, size_t n)
{
	char name[32];

	if (n >= sizeof(name))
		return false;
	memcpy(name, s, n);
	name[n] = '\0';
	return cfg_valid_filter_name(name);
}

/* Length of the file part of a `--filter FILE.so[@ALT][:ARGS]`, or 0 if
 * @spec names a built-in filter. A file contains '/' or ends in ".so";
 * its path ends after ".so" when that is followed by '@', ':' or the end,
 * else at the first '@' or ':' after its last '/'. */
static size_t filter_file_len(const char *spec)
{
	const char *slash, *so = spec;
	size_t head = strcspn(spec, "@:");

	/* a built-in name first: its arguments may hold '/' and ".so"
	 * (redirect:rule=/a=>/srv/b.so) */
	if (head && cfg_valid_filter_name_n(spec, head))
		return 0;
	slash = strrchr(spec, '/');

	while ((so = strstr(so, ".so"))) {
		if (so[3] == '\0' || so[3] == '@' || so[3] == ':')
			return (size_t)(so + 3 - spec);
		so += 3;
	}
	if (!slash)
		return 0;
	return (size_t)(slash - spec) + strcspn(slash, "@:");
}

int cfg_add_filter_spec(struct cfg_volume *c, const char *spec, char *err,
			size_t len)
{
	struct cfg_filter f;
	size_t n = strcspn(spec, "@:");
	const char *p = spec + n;
	int i;

	memset(&f, 0, sizeof(f));
	f.from_cli = true;
	snprintf(f.origin, sizeof(f.origin), "--filter %s", spec);
	n = filter_file_len(spec);
	if (n) {	/* a .so: its name is known once it is loaded */
		f.file = strndup(spec, n);
		if (!f.file) {
			snprintf(err, len, "out of memory");
			return -1;
		}
		p = spec + n;
		goto suffix;
	}
	n = strcspn(spec, "@:");
	if (n == 0 || n >= sizeof(f.name)) {
		snprintf(err, len, "--filter %s: bad filter name (expected "
			 "NAME[@ALTITUDE][:ARGS], NAME of 1 to 31 of a-z, "
			 "0-9, '_', '-')", spec);
		return -1;
	}
	memcpy(f.name, spec, n);
	if (!cfg_valid_filter_name(f.name)) {
		snprintf(err, len, "--filter %s: bad filter name '%s' "
			 "(expected 1 to 31 of a-z, 0-9, '_', '-')", spec,
			 f.name);
		return -1;
	}
suffix:
	if (*p == '@') {
		char alt[16];
		size_t m = strcspn(p + 1, ":");

		if (m == 0 || m >= sizeof(alt)) {
			snprintf(err, len, "--filter %s: bad altitude (expected "
				 "NAME@ALTITUDE, a whole number)", spec);
			free(f.file);
			return -1;
		}
		memcpy(alt, p + 1, m);
		alt[m] = '\0';
		if (cfg_parse_altitude(alt, &f.altitude)) {
			snprintf(err, len, "--filter %s: bad altitude '%s' "
				 "(expected a whole number from 0 to "
				 "4294967295)", spec, alt);
			free(f.file);
			return -1;
		}
		p += 1 + m;
	}
	if (*p == ':') {
		f.args = strdup(p + 1);
		if (!f.args) {
			snprintf(err, len, "out of memory");
			free(f.file);
			return -1;
		}
	}
	if (f.file) {	/* the same file twice fails when it is attached */
		i = -1;
		goto add;
	}
	i = find_filter(c, f.name);
	if (i >= 0 && c->filters[i].from_cli) {
		snprintf(err, len, "--filter %s: filter '%s' given twice on the "
			 "command line", spec, f.name);
		free(f.args);
		return -1;
	}
add:
	if (i < 0) {
		if (c->nfilters == CFG_MAX_FILTERS) {
			snprintf(err, len, "too many filters (at most %d)",
				 CFG_MAX_FILTERS);
			free(f.args);
			free(f.file);
			return -1;
		}
		i = (int)c->nfilters++;
	} else {
		free(c->filters[i].args);	/* overrides the file */
	}
	c->filters[i] = f;
	return 0;
}

/* fsfilter's own settings inside the mount options, in mount(8)'s form
 * (mount.fsfilter(8)): libfuse would refuse them as unknown. */
static const struct {
	const char *opt;
	size_t field;	/* a bool of struct cfg_volume */
	bool value;
} own_options[] = {
	{ "writeback", offsetof(struct cfg_volume, writeback), true },
	{ "nonempty", offsetof(struct cfg_volume, nonempty), true },
	{ "no_passthrough", offsetof(struct cfg_volume, passthrough), false },
	{ "passthrough=off", offsetof(struct cfg_volume, passthrough), false },
	{ "no_xattr", offsetof(struct cfg_volume, xattr), false },
	{ "xattr=off", offsetof(struct cfg_volume, xattr), false },
};

/* One mount option (@n bytes at @o): 1 if it is fsfilter's own (applied
 * to @c), 0 if it is for libfuse and the kernel, -1 if it is refused. */
static int own_option(struct cfg_volume *c, const char *o, size_t n,
		      char *err, size_t len)
{
	/* libfuse wants INIT's max_read to repeat the mount option, and the
	 * front end sets both from what the filters ask for (session.c):
	 * a second value from the user would fail the mount. */
	if (n >= 8 && !strncmp(o, "max_read", 8) && (n == 8 || o[8] == '=')) {
		snprintf(err, len, "mount option '%.*s' is not accepted: "
			 "fsfilter sets max_read itself, from the READ size "
			 "its filters ask for (flt_registration.max_read)",
			 (int)n, o);
		return -1;
	}
	for (size_t i = 0; i < sizeof(own_options) / sizeof(own_options[0]);
	     i++)
		if (strlen(own_options[i].opt) == n &&
		    !memcmp(o, own_options[i].opt, n)) {
			*(bool *)((char *)c + own_options[i].field) =
				own_options[i].value;
			return 1;
		}
	return 0;
}

/* Takes fsfilter's own options out of c->options, in place; what is left
 * goes to libfuse. A comma escaped with a backslash (libfuse's rule)
 * does not end an option. */
static int take_own_options(struct cfg_volume *c, char *err, size_t len)
{
	char *s = c->options, *out = s;

	if (!s)
		return 0;
	while (*s) {
		size_t n = 0;
		int r;

		while (s[n] && s[n] != ',')
			n += s[n] == '\\' && s[n + 1] ? 2 : 1;
		r = own_option(c, s, n, err, len);
		if (r < 0)
			return -1;
		if (!r && n) {
			if (out != c->options)
				*out++ = ',';
			memmove(out, s, n);
			out += n;
		}
		s += n + !!s[n];
	}
	*out = '\0';
	if (!*c->options) {
		free(c->options);
		c->options = NULL;
	}
	return 0;
}

int cfg_check(struct cfg_volume *c, char *err, size_t len)
{
	if (take_own_options(c, err, len))
		return -1;
	for (size_t i = 0; i < c->nfilters; i++)
		for (size_t j = i + 1; j < c->nfilters; j++) {
			const struct cfg_filter *a = &c->filters[i];
			const struct cfg_filter *b = &c->filters[j];

			if (!a->altitude || a->altitude != b->altitude)
				continue;
			snprintf(err, len, "altitude %u given to both '%s' (%s) "
				 "and '%s' (%s): two filters never share an "
				 "altitude", a->altitude, a->name, a->origin,
				 b->name, b->origin);
			return -1;
		}
	return 0;
}
