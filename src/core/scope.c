/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Process lists (include/fsfilter/scope.h): parse, format, match. */
#include <fsfilter/scope.h>

#include <errno.h>
#include <stdio.h>
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

static int parse_item(const char *item, struct flt_scope *s)
{
	const char *colon = strchr(item, ':');
	const char *val = colon ? colon + 1 : item;
	size_t klen = colon ? (size_t)(colon - item) : 0;
	unsigned i = s->n;

	if (s->n == FLT_SCOPE_MAX)
		return -E2BIG;
	memset(&s->v[i], 0, sizeof(s->v[i]));
	if (!colon || (klen == 4 && !strncmp(item, "comm", 4))) {
		/* comm is at most 15 bytes: a longer name never matches */
		if (!*val || strlen(val) >= FLT_SCOPE_COMM_LEN)
			return -EINVAL;
		s->v[i].who = FLT_SCOPE_COMM;
		strcpy(s->v[i].comm, val);
	} else if (klen == 3 && !strncmp(item, "pid", 3)) {
		s->v[i].who = FLT_SCOPE_PID;
		if (parse_num(val, &s->v[i].id) || !s->v[i].id)
			return -EINVAL;
	} else if (klen == 3 && !strncmp(item, "uid", 3)) {
		s->v[i].who = FLT_SCOPE_UID;
		if (parse_num(val, &s->v[i].id))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	s->n++;
	return 0;
}

int flt_scope_parse(const char *list, struct flt_scope *s, char *err,
		    size_t errlen)
{
	char *copy, *tok, *save = NULL;
	int ret = 0;

	if (!err)
		errlen = 0;
	s->n = 0;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, "+", &save); !ret && tok;
	     tok = strtok_r(NULL, "+", &save)) {
		ret = parse_item(tok, s);
		if (ret == -E2BIG && errlen)
			snprintf(err, errlen, "at most %d processes per list",
				 FLT_SCOPE_MAX);
		else if (ret && errlen)
			snprintf(err, errlen, "process item '%s': expected "
				 "NAME (at most 15 bytes), comm:NAME, pid:N or "
				 "uid:N", tok);
	}
	if (!ret && !s->n) {
		if (errlen)
			snprintf(err, errlen, "empty process list '%s'", list);
		ret = -EINVAL;
	}
	free(copy);
	if (ret)
		s->n = 0;
	return ret;
}

void flt_scope_format(const struct flt_scope *s, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; i < s->n && off < len; i++) {
		const char *sep = i ? "+" : "";

		if (s->v[i].who == FLT_SCOPE_COMM)
			off += (size_t)snprintf(buf + off, len - off,
						"%scomm:%s", sep, s->v[i].comm);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%s:%u",
						sep,
						s->v[i].who == FLT_SCOPE_PID
							? "pid" : "uid",
						(unsigned)s->v[i].id);
	}
}

/* Is thread @tid one of process @pid? (FUSE reports the calling thread.) */
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

bool flt_scope_match(const struct flt_scope *s,
		     const struct flt_callback_data *d)
{
	char comm[32];
	bool have_comm = false;

	for (unsigned i = 0; i < s->n; i++) {
		switch (s->v[i].who) {
		case FLT_SCOPE_COMM:
			if (!have_comm) {
				flt_requestor_name(d, comm, sizeof(comm));
				have_comm = true;
			}
			if (!strcmp(comm, s->v[i].comm))
				return true;
			break;
		case FLT_SCOPE_PID:
			if (in_process(d->requestor.pid, (pid_t)s->v[i].id))
				return true;
			break;
		case FLT_SCOPE_UID:
			if (d->requestor.uid == s->v[i].id)
				return true;
			break;
		}
	}
	return false;
}
