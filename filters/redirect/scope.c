/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-process scope of rules: "only=indexer+uid:34" applies a rule to the
 * listed processes only, "except=..." to everyone but them. The list, its
 * syntax and the matching are the public process lists
 * (include/fsfilter/scope.h), shared with crypt's raw view.
 *
 * The decision is made per operation from its requestor (FUSE reports the
 * calling thread: a pid item matches every thread of that process). The
 * kernel caches names, attributes and pages per inode for all processes
 * alike, so the callers make every answer about a scoped file uncacheable
 * (entry and attribute timeouts 0, direct I/O, no fast path); see
 * docs/redirect.md, "Per-process scope".
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <string.h>

int redir_scope_parse(const char *v, enum redir_scope_kind kind,
		      struct redir_scope *s, char *err, size_t errlen)
{
	if (s->kind != REDIR_SCOPE_ALL) {
		snprintf(err, errlen, "only one of only= and except= per rule");
		return -EINVAL;
	}
	if (flt_scope_parse(v, &s->who, err, errlen))
		return -EINVAL;
	s->kind = kind;
	return 0;
}

void redir_scope_format(const struct redir_scope *s, char *buf, size_t len)
{
	size_t off;

	if (!len)
		return;
	buf[0] = '\0';
	if (!redir_scoped(s))
		return;
	off = (size_t)snprintf(buf, len, ",%s=",
			       s->kind == REDIR_SCOPE_ONLY ? "only" : "except");
	if (off < len)
		flt_scope_format(&s->who, buf + off, len - off);
}

bool redir_scope_applies(const struct redir_scope *s,
			 const struct flt_callback_data *d)
{
	bool listed;

	if (!redir_scoped(s))
		return true;
	listed = flt_scope_match(&s->who, d);
	return s->kind == REDIR_SCOPE_ONLY ? listed : !listed;
}
