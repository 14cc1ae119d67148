/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for what the monitor filter decodes from its users and
 * clients: instance arguments (`--filter monitor:ARGS`), client message
 * headers (mon_msg_type, on_message()'s dispatch in mon_client.c),
 * SUBSCRIBE messages (mon_sub_from_msg) and the path glob they carry,
 * VERDICT messages
 * (mon_verdict_answer, with no operation waiting: every answer must be
 * refused, never crash), and the event records a client library checks
 * before reading them (mon_event_check). The first input byte picks the
 * parser. Contract besides "no crash, no UB":
 *  - refused arguments come with a message; accepted ones are in range;
 *  - an accepted subscription's path is "", or absolute and terminated;
 *  - a glob without special characters matches exactly itself;
 *  - an event record accepted by mon_event_check has both paths inside
 *    the record.
 */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void args(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size), err[512];
	struct mon_config cfg;

	check(text != NULL);
	err[0] = '\0';
	if (mon_args_parse(text, &cfg, err, sizeof(err))) {
		check(err[0] != '\0');
	} else {
		check(cfg.verdict_timeout_ms > 0 && cfg.max_clients > 0);
		check(cfg.deny_errno > 0 && cfg.deny_errno < 4096);
		check(cfg.paging_bound_ms <= MON_PAGING_BOUND_MAX_MS);
		check(cfg.port_mode <= 07777);
	}
	free(text);
}

static const char *ev_comm(struct mon_evinfo *ev)
{
	return ev->arg;
}

static bool ev_in_process(struct mon_evinfo *ev, pid_t pid)
{
	return ev->tid == pid;
}

/* a SUBSCRIBE message, then the path of an event to match it against */
static void subscribe(const uint8_t *data, size_t size)
{
	struct mon_subscribe *m = malloc(sizeof(*m) + 1);
	size_t mlen = size < sizeof(*m) ? size : sizeof(*m);
	char *path = strndup((const char *)data + mlen, size - mlen);
	struct mon_sub sub;

	check(m && path);
	memcpy(m, data, mlen);
	if (!mon_sub_from_msg(m, mlen, &sub)) {
		/* on_message() hands it to mon_sub_from_msg */
		check(mon_msg_type(m, mlen) == MON_MSG_SUBSCRIBE);
		struct mon_evinfo ev = {
			.op = FLT_OP_OPEN, .tid = 42, .uid = 0, .path = path,
			.comm = ev_comm, .in_process = ev_in_process,
			.arg = "fuzz",
		};

		check(sub.path_kind == MON_PATH_ANY ||
		      (sub.path[0] == '/' &&
		       memchr(sub.path, '\0', sizeof(sub.path))));
		mon_sub_match_path(&sub, path);
		mon_sub_match(&sub, MON_PRE, &ev);
		mon_sub_match(&sub, MON_POST, &ev);
		mon_sub_match(&sub, 0, &ev);
	}
	free(m);
	free(path);
}

/* PATTERN '\0' STRING */
static void glob(const uint8_t *data, size_t size)
{
	char *pat = strndup((const char *)data, size);
	size_t n = strlen(pat);
	char *s = strndup((const char *)data + (n < size ? n + 1 : size),
			  n < size ? size - n - 1 : 0);
	bool match;

	check(pat && s);
	match = mon_glob_match(pat, s);
	if (!strpbrk(pat, "*?["))
		check(match == !strcmp(pat, s));
	check(mon_glob_match(pat, pat) || strpbrk(pat, "*?["));
	free(pat);
	free(s);
}

static void verdict(const uint8_t *data, size_t size)
{
	static struct mon_inst *mi;
	struct mon_verdict v;
	int ret;

	if (!mi)
		mi = calloc(1, sizeof(*mi));	/* never attached: no waiter */
	check(mi != NULL);
	memset(&v, 0, sizeof(v));
	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	/* as on_message() dispatches it */
	if (mon_msg_type(&v, size) != MON_MSG_VERDICT)
		return;
	ret = mon_verdict_answer(mi, 1, &v);
	check(ret == -EINVAL || ret == -ENOENT);
}

static void event(const uint8_t *data, size_t size)
{
	/* records are 8-byte aligned in a batch */
	uint64_t *buf = malloc(size + 8);
	const struct mon_event *e = (const void *)buf;

	check(buf != NULL);
	memcpy(buf, data, size);
	if (!mon_event_check(buf, size)) {
		check(e->size <= size && e->size >= sizeof(*e));
		check((const char *)mon_event_path2(e) + e->path2_len <
		      (const char *)buf + e->size);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 5) {
	case 0: args(data + 1, size - 1); break;
	case 1: subscribe(data + 1, size - 1); break;
	case 2: glob(data + 1, size - 1); break;
	case 3: verdict(data + 1, size - 1); break;
	default: event(data + 1, size - 1); break;
	}
	return 0;
}
