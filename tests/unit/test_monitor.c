/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* monitor without a mount: subscription validation and matching, globs,
 * event record encoding, the argument parser. */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static struct mon_subscribe msg(void)
{
	struct mon_subscribe m = { .uid = (uint32_t)-1 };

	m.hdr = (struct mon_hdr){ MON_MAGIC, MON_VERSION, MON_MSG_SUBSCRIBE,
				  sizeof(m), 0 };
	m.ops_post = MON_OP_BIT(FLT_OP_OPEN);
	return m;
}

static void test_sub_validation(void **state)
{
	struct mon_subscribe m = msg();
	struct mon_sub s;

	(void)state;
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), 0);
	assert_int_equal(s.path_kind, MON_PATH_ANY);
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m) - 1, &s), -EPROTO);
	m.hdr.version = 2;
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), -EPROTO);
	m = msg();
	m.ops_pre = MON_OP_BIT(FLT_OP_COUNT);
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), -EINVAL);
	m = msg();
	m.verdict_ops = MON_OP_BIT(FLT_OP_OPEN);	/* without the flag */
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), -EINVAL);
	m.flags = MON_SUB_VERDICT;
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), 0);
	m.verdict_ops = MON_OP_BIT(FLT_OP_UNLINK);	/* not judgeable */
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), -EINVAL);
	m = msg();
	memset(m.path, 'a', sizeof(m.path));	/* no NUL */
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), -EINVAL);
	m = msg();
	strcpy(m.path, "relative");
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), -EINVAL);
	strcpy(m.path, "/a/b/");
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), 0);
	assert_int_equal(s.path_kind, MON_PATH_PREFIX);
	assert_string_equal(s.path, "/a/b");
	strcpy(m.path, "/a/*.c");
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), 0);
	assert_int_equal(s.path_kind, MON_PATH_GLOB);
}

static void test_glob(void **state)
{
	(void)state;
	assert_true(mon_glob_match("/a/*.txt", "/a/x.txt"));
	assert_false(mon_glob_match("/a/*.txt", "/a/b/x.txt"));
	assert_true(mon_glob_match("/a/**.txt", "/a/b/x.txt"));
	assert_true(mon_glob_match("/**", "/anything/at/all"));
	assert_true(mon_glob_match("/a/?.c", "/a/x.c"));
	assert_false(mon_glob_match("/a/?.c", "/a/xy.c"));
	assert_false(mon_glob_match("/a?b", "/a/b"));
	assert_true(mon_glob_match("/f[0-9]", "/f7"));
	assert_false(mon_glob_match("/f[0-9]", "/fx"));
	assert_true(mon_glob_match("/f[!0-9]", "/fx"));
	assert_false(mon_glob_match("/f[!0-9]", "/f1"));
	assert_true(mon_glob_match("*", ""));
	assert_true(mon_glob_match("/a*b*c", "/aXXbYYc"));
	assert_false(mon_glob_match("/a*b*c", "/aXXbYY"));
	assert_true(mon_glob_match("/[", "/["));	/* unclosed: literal */
	assert_false(mon_glob_match("/x", "/xy"));
}

static const char *fixed_comm(struct mon_evinfo *ev)
{
	(void)ev;
	return "mycat";
}

static bool thread_of_42(struct mon_evinfo *ev, pid_t pid)
{
	return ev->tid == 43 && pid == 42;
}

static void test_match(void **state)
{
	struct mon_subscribe m = msg();
	struct mon_sub s;
	struct mon_evinfo ev = { .op = FLT_OP_OPEN, .tid = 43, .uid = 1000,
				 .path = "/sub/a.txt", .comm = fixed_comm,
				 .in_process = thread_of_42 };

	(void)state;
	assert_int_equal(mon_sub_from_msg(&m, sizeof(m), &s), 0);
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	assert_false(mon_sub_match(&s, MON_PRE, &ev));
	ev.op = FLT_OP_READ;
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	ev.op = FLT_OP_OPEN;
	/* filter-initiated I/O only with the flag */
	ev.io_flags = FLT_IO_FILTER_INITIATED;
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	m.flags = MON_SUB_FILTER_IO;
	mon_sub_from_msg(&m, sizeof(m), &s);
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	ev.io_flags = 0;
	/* uid, pid (thread of), comm, path */
	m = msg();
	m.uid = 1000;
	m.pid = 42;
	strcpy(m.comm, "mycat");
	strcpy(m.path, "/sub");
	mon_sub_from_msg(&m, sizeof(m), &s);
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	ev.uid = 0;
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	ev.uid = 1000;
	ev.tid = 44;
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	ev.tid = 42;
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	ev.path = "/subway/x";	/* a prefix is a directory, not a string */
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	ev.path2 = "/sub/x";	/* rename into the prefix */
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	ev.path2 = NULL;
	ev.path = "/sub";
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	strcpy(m.comm, "cat");
	mon_sub_from_msg(&m, sizeof(m), &s);
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	/* lookup misses */
	m = msg();
	m.ops_post = MON_OP_BIT(FLT_OP_LOOKUP);
	mon_sub_from_msg(&m, sizeof(m), &s);
	ev.op = FLT_OP_LOOKUP;
	ev.result = -ENOENT;
	assert_false(mon_sub_match(&s, MON_POST, &ev));
	m.flags = MON_SUB_LOOKUP_MISSES;
	mon_sub_from_msg(&m, sizeof(m), &s);
	assert_true(mon_sub_match(&s, MON_POST, &ev));
	/* verdict phase uses verdict_ops */
	m = msg();
	m.flags = MON_SUB_VERDICT;
	m.verdict_ops = MON_OP_BIT(FLT_OP_CREATE);
	mon_sub_from_msg(&m, sizeof(m), &s);
	ev.op = FLT_OP_CREATE;
	ev.result = 0;
	assert_true(mon_sub_match(&s, 0, &ev));
	ev.op = FLT_OP_OPEN;
	assert_false(mon_sub_match(&s, 0, &ev));
}

static void test_event_encoding(void **state)
{
	_Alignas(8) char buf[MON_EVENT_MAX];
	struct mon_event f = { .op = FLT_OP_RENAME, .phase = MON_POST,
			       .seq = 7 };
	struct mon_event *e = (void *)buf;
	char longp[MON_PATH_MAX + 100];
	size_t n;

	(void)state;
	n = mon_event_encode(buf, &f, "/a", "/bc");
	assert_int_equal(n, e->size);
	assert_int_equal(n % 8, 0);
	assert_int_equal(n, sizeof(*e) + 8);	/* "/a\0/bc\0" + pad */
	assert_string_equal(mon_event_path(e), "/a");
	assert_string_equal(mon_event_path2(e), "/bc");
	assert_int_equal(mon_event_check(buf, n), 0);
	assert_int_equal(mon_event_check(buf, n - 8), -EPROTO);
	n = mon_event_encode(buf, &f, NULL, NULL);
	assert_int_equal(e->path_len, 0);
	assert_int_equal(mon_event_check(buf, n), 0);
	memset(longp, 'x', sizeof(longp));
	longp[sizeof(longp) - 1] = '\0';
	n = mon_event_encode(buf, &f, longp, longp);
	assert_true(n <= MON_EVENT_MAX);
	assert_int_equal(e->path_len, MON_PATH_MAX - 1);
	assert_int_equal(mon_event_check(buf, n), 0);
	e->path_len = 3;	/* NUL no longer where it says */
	assert_int_equal(mon_event_check(buf, n), -EPROTO);
}

static void test_args(void **state)
{
	struct mon_config c;
	char err[256];

	(void)state;
	assert_int_equal(mon_args_parse("", &c, err, sizeof(err)), 0);
	assert_int_equal(c.verdict_timeout_ms, 1000);
	assert_false(c.default_deny);
	assert_int_equal(c.paging_bound_ms, 0);
	assert_int_equal(mon_args_parse("verdict_timeout_ms=500,default=deny,"
					"paging_bound_ms=20,max_clients=8",
					&c, err, sizeof(err)), 0);
	assert_int_equal(c.verdict_timeout_ms, 500);
	assert_true(c.default_deny);
	assert_int_equal(c.paging_bound_ms, 20);
	assert_int_equal(c.max_verdict_ms, 10000);
	assert_int_equal(mon_args_parse("paging_bound_ms=51", &c, err,
					sizeof(err)), -EINVAL);
	assert_int_equal(mon_args_parse("default=maybe", &c, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(mon_args_parse("bogus=1", &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(mon_args_parse("verdict_timeout_ms=-1", &c, err,
					sizeof(err)), -EINVAL);
	assert_int_equal(mon_args_parse("max_clients=0", &c, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(mon_args_parse("verdict_timeout_ms=5000,"
					"max_verdict_ms=100", &c, err,
					sizeof(err)), 0);
	assert_int_equal(c.max_verdict_ms, 5000);	/* never below */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sub_validation),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_event_encoding),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
