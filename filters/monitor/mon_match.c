/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Subscriptions: what a client sent, validated once, then matched against
 * every candidate event. Pure functions (unit-tested without a mount); the
 * costly attributes (process name, thread group) come through callbacks
 * and are only asked for when a subscription filters on them.
 */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <string.h>

int mon_msg_type(const void *msg, size_t len)
{
	const struct mon_hdr *h = msg;

	if (len < sizeof(*h) || h->magic != MON_MAGIC ||
	    h->version != MON_VERSION || h->size != len)
		return -EPROTO;
	if (h->type == MON_MSG_VERDICT && len != sizeof(struct mon_verdict))
		return -EPROTO;
	return h->type;
}

int mon_sub_from_msg(const void *msg, size_t len, struct mon_sub *out)
{
	const struct mon_subscribe *m = msg;
	size_t n;

	if (len != sizeof(*m) || m->hdr.magic != MON_MAGIC ||
	    m->hdr.version != MON_VERSION || m->hdr.type != MON_MSG_SUBSCRIBE ||
	    m->hdr.size != sizeof(*m))
		return -EPROTO;
	if (m->flags & ~(MON_SUB_LOOKUP_MISSES | MON_SUB_VERDICT |
			 MON_SUB_FILTER_IO))
		return -EINVAL;
	if ((m->ops_pre | m->ops_post) >> FLT_OP_COUNT)
		return -EINVAL;
	if (m->verdict_ops & ~(uint64_t)MON_VERDICT_OPS_ALLOWED)
		return -EINVAL;
	if (!(m->flags & MON_SUB_VERDICT) && m->verdict_ops)
		return -EINVAL;
	if (m->pid < 0)
		return -EINVAL;
	if (!memchr(m->comm, '\0', sizeof(m->comm)) ||
	    !memchr(m->path, '\0', sizeof(m->path)))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->ops_pre = m->ops_pre;
	out->ops_post = m->ops_post;
	out->verdict_ops = m->verdict_ops;
	out->flags = m->flags;
	out->pid = m->pid;
	out->uid = (uid_t)m->uid;
	memcpy(out->comm, m->comm, sizeof(out->comm));
	n = strlen(m->path);
	if (n == 0) {
		out->path_kind = MON_PATH_ANY;
	} else {
		if (m->path[0] != '/')
			return -EINVAL;
		out->path_kind = strpbrk(m->path, "*?[") ? MON_PATH_GLOB :
							   MON_PATH_PREFIX;
		memcpy(out->path, m->path, n + 1);
		/* "/a/b/" is the prefix "/a/b" */
		while (out->path_kind == MON_PATH_PREFIX && n > 1 &&
		       out->path[n - 1] == '/')
			out->path[--n] = '\0';
	}
	return 0;
}

/* [...] at @p (after '['): sets *@ok when @c is in it; returns the
 * pattern after ']', or NULL if the class is not closed. */
static const char *glob_class(const char *p, char c, bool *ok)
{
	bool neg = false, in = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	if (*p == ']') {	/* a leading ] is literal */
		in = c == ']';
		p++;
	}
	for (; *p && *p != ']'; p++) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			if (c >= p[0] && c <= p[2])
				in = true;
			p += 2;
		} else if (*p == c) {
			in = true;
		}
	}
	if (!*p)
		return NULL;
	*ok = in != neg && c != '/';
	return p + 1;
}

bool mon_glob_match(const char *p, const char *s)
{
	/* iterative with one backtrack point per star kind, like fnmatch */
	const char *star_p = NULL, *star_s = NULL;
	bool star_any = false;

	while (*s) {
		if (p[0] == '*') {
			star_any = p[1] == '*';
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p == '?' && *s != '/') {
			p++;
			s++;
			continue;
		}
		if (*p == '[') {
			bool ok = false;
			const char *after = glob_class(p + 1, *s, &ok);

			if (after && ok) {
				p = after;
				s++;
				continue;
			}
			if (!after && *s == '[') {	/* unclosed: literal */
				p++;
				s++;
				continue;
			}
		} else if (*p && *p != '?' && *p == *s) {
			p++;
			s++;
			continue;
		}
		/* mismatch: let the last star eat one more character */
		if (!star_p || (!star_any && *star_s == '/'))
			return false;
		star_s++;
		p = star_p;
		s = star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool mon_sub_match_path(const struct mon_sub *s, const char *path)
{
	size_t n;

	switch (s->path_kind) {
	case MON_PATH_ANY:
		return true;
	case MON_PATH_GLOB:
		return mon_glob_match(s->path, path);
	case MON_PATH_PREFIX:
		n = strlen(s->path);
		if (n == 1)	/* "/" */
			return true;
		return !strncmp(path, s->path, n) &&
		       (path[n] == '\0' || path[n] == '/');
	}
	return false;
}

bool mon_sub_match(const struct mon_sub *s, int phase, struct mon_evinfo *ev)
{
	uint64_t bit = MON_OP_BIT(ev->op);
	uint64_t mask = phase == MON_PRE ? s->ops_pre :
			phase == MON_POST ? s->ops_post : s->verdict_ops;

	if (!(mask & bit))
		return false;
	if ((ev->io_flags & FLT_IO_FILTER_INITIATED) &&
	    !(s->flags & MON_SUB_FILTER_IO))
		return false;
	if (phase == MON_POST && ev->op == FLT_OP_LOOKUP &&
	    ev->result == -ENOENT && !(s->flags & MON_SUB_LOOKUP_MISSES))
		return false;
	if (s->uid != (uid_t)-1 && ev->uid != s->uid)
		return false;
	if (s->path_kind != MON_PATH_ANY &&
	    !mon_sub_match_path(s, ev->path) &&
	    !(ev->path2 && mon_sub_match_path(s, ev->path2)))
		return false;
	if (s->pid && ev->tid != s->pid &&
	    !(ev->in_process && ev->in_process(ev, s->pid)))
		return false;
	if (s->comm[0] && (!ev->comm || strcmp(ev->comm(ev), s->comm)))
		return false;
	return true;
}
