/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-process scope of rules: "only=indexer+uid:34" applies a rule to the
 * listed processes only, "except=..." to everyone but them.
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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_num(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_item(const char *item, struct redir_scope *s)
{
	const char *colon = strchr(item, ':');
	const char *val = colon ? colon + 1 : item;
	size_t klen = colon ? (size_t)(colon - item) : 0;
	unsigned i = s->n;

	if (s->n == REDIR_SCOPE_MAX)
		return -E2BIG;
	memset(&s->v[i], 0, sizeof(s->v[i]));
	if (!colon || (klen == 4 && !strncmp(item, "comm", 4))) {
		/* comm is at most 15 bytes: a longer name never matches */
		if (!*val || strlen(val) >= REDIR_COMM_LEN)
			return -EINVAL;
		s->v[i].who = REDIR_WHO_COMM;
		strcpy(s->v[i].comm, val);
	} else if (klen == 3 && !strncmp(item, "pid", 3)) {
		s->v[i].who = REDIR_WHO_PID;
		if (parse_num(val, &s->v[i].id) || !s->v[i].id)
			return -EINVAL;
	} else if (klen == 3 && !strncmp(item, "uid", 3)) {
		s->v[i].who = REDIR_WHO_UID;
		if (parse_num(val, &s->v[i].id))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	s->n++;
	return 0;
}

int redir_scope_parse(const char *v, enum redir_scope_kind kind,
		      struct redir_scope *s, char *err, size_t errlen)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	if (s->kind != REDIR_SCOPE_ALL) {
		snprintf(err, errlen, "only one of only= and except= per rule");
		return -EINVAL;
	}
	copy = strdup(v);
	if (!copy)
		return -ENOMEM;
	s->kind = kind;
	s->n = 0;
	for (tok = strtok_r(copy, "+", &save); !ret && tok;
	     tok = strtok_r(NULL, "+", &save)) {
		ret = parse_item(tok, s);
		if (ret == -E2BIG)
			snprintf(err, errlen, "at most %d processes per "
				 "scope", REDIR_SCOPE_MAX);
		else if (ret)
			snprintf(err, errlen, "scope item '%s': expected NAME "
				 "(at most 15 bytes), comm:NAME, pid:N or "
				 "uid:N", tok);
	}
	if (!ret && !s->n) {
		snprintf(err, errlen, "empty scope '%s'", v);
		ret = -EINVAL;
	}
	free(copy);
	if (ret) {
		s->kind = REDIR_SCOPE_ALL;
		return -EINVAL;
	}
	return 0;
}

void redir_scope_format(const struct redir_scope *s, char *buf, size_t len)
{
	size_t off;

	buf[0] = '\0';
	if (!redir_scoped(s) || !len)
		return;
	off = (size_t)snprintf(buf, len, ",%s=",
			       s->kind == REDIR_SCOPE_ONLY ? "only" : "except");
	for (unsigned i = 0; i < s->n && off < len; i++) {
		const char *sep = i ? "+" : "";

		if (s->v[i].who == REDIR_WHO_COMM)
			off += (size_t)snprintf(buf + off, len - off,
						"%scomm:%s", sep,
						s->v[i].comm);
		else
			off += (size_t)snprintf(buf + off, len - off,
						"%s%s:%u", sep,
						s->v[i].who == REDIR_WHO_PID
							? "pid" : "uid",
						(unsigned)s->v[i].id);
	}
}

/* Is thread @tid one of process @pid? */
static bool in_process(pid_t tid, pid_t pid)
{
	char p[64];

	if (tid == pid)
		return true;
	if (tid <= 0)
		return false;
	snprintf(p, sizeof(p), "/proc/%d/task/%d", (int)pid, (int)tid);
	return access(p, F_OK) == 0;
}

bool redir_scope_applies(const struct redir_scope *s,
			 const struct flt_callback_data *d)
{
	char comm[32];
	bool have_comm = false, listed = false;

	if (!redir_scoped(s))
		return true;
	for (unsigned i = 0; i < s->n && !listed; i++) {
		switch (s->v[i].who) {
		case REDIR_WHO_COMM:
			if (!have_comm) {
				flt_requestor_name(d, comm, sizeof(comm));
				have_comm = true;
			}
			listed = !strcmp(comm, s->v[i].comm);
			break;
		case REDIR_WHO_PID:
			listed = in_process(d->requestor.pid,
					    (pid_t)s->v[i].id);
			break;
		case REDIR_WHO_UID:
			listed = d->requestor.uid == s->v[i].id;
			break;
		}
	}
	return s->kind == REDIR_SCOPE_ONLY ? listed : !listed;
}
