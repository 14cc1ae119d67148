/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redirect: rule parsing and matching, block math, exact block reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "filters/redirect/redir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_parse(void **state)
{
	struct redir_rules *s;
	struct redir_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(redir_args_parse("rule=/a//b.bin=>/srv/x,errno=EROFS;"
					  "rule=/d/=>/srv/d/;rule=/*.log=>/g;"
					  "block=4096;times=lower", &s, &cfg,
					  err, sizeof(err)), 0);
	assert_int_equal(s->n, 3);
	assert_string_equal(s->v[0].path, "a/b.bin");
	assert_int_equal(s->v[0].kind, REDIR_EXACT);
	assert_int_equal(s->v[0].deny_errno, EROFS);
	assert_int_equal(s->v[1].kind, REDIR_PREFIX);
	assert_string_equal(s->v[1].backing, "/srv/d");
	assert_int_equal(s->v[2].kind, REDIR_GLOB);
	assert_int_equal(cfg.block_size, 4096);
	assert_true(cfg.lower_times);
	redir_rules_put(s);
	assert_int_equal(redir_args_parse("rule=nope", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PATH=>BACKING"));
	assert_int_equal(redir_args_parse("rule=a=>/b", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(redir_args_parse("rule=/a=>b", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(redir_args_parse("rule=/../a=>/b", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(redir_args_parse("rule=/a=>/b,policy=bogus", &s,
					  &cfg, err, sizeof(err)), -EINVAL);
	assert_int_equal(redir_args_parse("frob=1", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(redir_args_parse("rules=/nonexistent/x", &s, &cfg,
					  err, sizeof(err)), -ENOENT);
}

/* Hydration clauses and the temp-file names of copies (hidden). */
static void test_hydrate_args(void **state)
{
	struct redir_rules *s;
	struct redir_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(redir_args_parse("hydrate_jobs=3;copy_delay_us=5;"
					  "rule=/h=>/srv/h,policy=hydrate",
					  &s, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.hydrate_jobs, 3);
	assert_int_equal(cfg.copy_delay_us, 5);
	assert_int_equal(s->v[0].policy, REDIR_HYDRATE);
	redir_rules_put(s);
	assert_int_equal(redir_args_parse("hydrate_jobs=0", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "hydrate_jobs"));
	assert_int_equal(redir_args_parse("hydrate_jobs=17", &s, &cfg, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(redir_args_parse("hydrate_jobs=2x", &s, &cfg, err,
					  sizeof(err)), -EINVAL);

	assert_true(redir_is_temp_name(".fsfilter-redirect-0123456789abcdef.tmp"));
	assert_false(redir_is_temp_name(".fsfilter-redirect-0123456789abcde.tmp"));
	assert_false(redir_is_temp_name(".fsfilter-redirect-0123456789abcdeF.tmp"));
	assert_false(redir_is_temp_name(".fsfilter-redirect-0123456789abcdef.tmpx"));
	assert_false(redir_is_temp_name(".fsfilter-redirect-"));
	assert_false(redir_is_temp_name("fsfilter-redirect-0123456789abcdef.tmp"));
	assert_false(redir_is_temp_name("a.txt"));
	/* the spool is hidden at the root only; temp names everywhere */
	assert_true(redir_is_hidden_name(FLT_ROOT_INO, REDIR_SPOOL_NAME));
	assert_false(redir_is_hidden_name(FLT_ROOT_INO + 1, REDIR_SPOOL_NAME));
	assert_false(redir_is_hidden_name(FLT_ROOT_INO,
					  REDIR_SPOOL_NAME "x"));
	assert_true(redir_is_hidden_name(
		FLT_ROOT_INO + 1, ".fsfilter-redirect-0123456789abcdef.tmp"));
}

/* Per-process scope: syntax, the list form, and the decision. */
static void test_scope(void **state)
{
	struct flt_callback_data d;
	struct redir_rule r;
	char err[512], buf[512], comm[32], spec[256];

	(void)state;
	assert_int_equal(redir_rule_parse("/a=>/b,except=indexer+pid:12+uid:34",
					  &r, err, sizeof(err)), 0);
	assert_int_equal(r.scope.kind, REDIR_SCOPE_EXCEPT);
	assert_int_equal(r.scope.who.n, 3);
	redir_rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "/a=>/b,policy=readonly,errno=EACCES,"
			    "except=comm:indexer+pid:12+uid:34");
	redir_rule_free(&r);
	/* the list form parses back to the same */
	assert_int_equal(redir_rule_parse(buf + 0, &r, err, sizeof(err)), 0);
	redir_rule_free(&r);
	assert_int_equal(redir_rule_parse("/a=>/b", &r, err, sizeof(err)), 0);
	assert_false(redir_scoped(&r.scope));
	redir_rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "/a=>/b,policy=readonly,errno=EACCES");
	redir_rule_free(&r);
	static const char *const bad[] = {
		"/a=>/b,only=", "/a=>/b,only=pid:x", "/a=>/b,only=pid:0",
		"/a=>/b,only=uid:-1", "/a=>/b,only=gid:3",
		"/a=>/b,only=a-name-longer-than-15",
		"/a=>/b,only=x,except=y",
		"/a=>/b,only=1+2+3+4+5+6+7+8+9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(redir_rule_parse(bad[i], &r, err, sizeof(err)),
				 -EINVAL);

	/* decisions for this process */
	memset(&d, 0, sizeof(d));
	d.requestor.pid = getpid();
	d.requestor.uid = 1234;
	flt_requestor_name(&d, comm, sizeof(comm));
	snprintf(spec, sizeof(spec), "/a=>/b,only=%s", comm);
	assert_int_equal(redir_rule_parse(spec, &r, err, sizeof(err)), 0);
	assert_true(redir_scope_applies(&r.scope, &d));
	redir_rule_free(&r);
	snprintf(spec, sizeof(spec), "/a=>/b,except=%s", comm);
	assert_int_equal(redir_rule_parse(spec, &r, err, sizeof(err)), 0);
	assert_false(redir_scope_applies(&r.scope, &d));
	redir_rule_free(&r);
	snprintf(spec, sizeof(spec), "/a=>/b,only=other+pid:%d", (int)getpid());
	assert_int_equal(redir_rule_parse(spec, &r, err, sizeof(err)), 0);
	assert_true(redir_scope_applies(&r.scope, &d));
	d.requestor.pid = getpid() + 100000;	/* no such thread of ours */
	assert_false(redir_scope_applies(&r.scope, &d));
	redir_rule_free(&r);
	assert_int_equal(redir_rule_parse("/a=>/b,except=uid:1234", &r, err,
					  sizeof(err)), 0);
	assert_false(redir_scope_applies(&r.scope, &d));
	d.requestor.uid = 1;
	assert_true(redir_scope_applies(&r.scope, &d));
	redir_rule_free(&r);
}

static void test_match(void **state)
{
	struct redir_rules *s;
	struct redir_config cfg;
	struct redir_match m;
	char err[512];

	(void)state;
	assert_int_equal(redir_args_parse("rule=/d/x=>/exact;rule=/d/=>/pd;"
					  "rule=/d/e/=>/pe;rule=/*.log=>/g",
					  &s, &cfg, err, sizeof(err)), 0);
	assert_true(redir_match_path(s, "d/x", &m));
	assert_string_equal(m.backing, "/exact");
	assert_true(redir_match_path(s, "d/y/z", &m));
	assert_string_equal(m.backing, "/pd/y/z");
	assert_true(redir_match_path(s, "d/e/f", &m));
	assert_string_equal(m.backing, "/pe/f");	/* longest prefix */
	assert_true(redir_match_path(s, "d", &m));
	assert_string_equal(m.backing, "/pd");
	assert_false(redir_match_path(s, "dd/x", &m));
	assert_true(redir_match_path(s, "a.log", &m));
	assert_string_equal(m.backing, "/g");
	assert_false(redir_match_path(s, "sub/a.log", &m)); /* FNM_PATHNAME */
	assert_false(redir_match_path(s, ".a.log", &m));	/* FNM_PERIOD */
	redir_rules_put(s);
}

static void test_block_math(void **state)
{
	off_t a, b;

	(void)state;
	redir_block_range(0, 0, 4096, &a, &b);
	assert_true(a == 0 && b == 0);
	redir_block_range(1, 1, 4096, &a, &b);
	assert_true(a == 0 && b == 4096);
	redir_block_range(4095, 2, 4096, &a, &b);
	assert_true(a == 0 && b == 8192);
	redir_block_range((off_t)5 << 30, 4096, 4096, &a, &b);
	assert_true(a == (off_t)5 << 30 && b == ((off_t)5 << 30) + 4096);
	redir_block_range(((off_t)4 << 30) - 1, 3, 1000, &a, &b);
	assert_true(a % 1000 == 0 && b % 1000 == 0);
	assert_true(a <= ((off_t)4 << 30) - 1 && b >= ((off_t)4 << 30) + 2);
	redir_block_range(7, 5, 0, &a, &b);
	assert_true(a == 7 && b == 12);
}

static void test_block_read(void **state)
{
	char tmpl[] = "/tmp/test_redirect.XXXXXX", data[10000], buf[12000];
	int fd = mkstemp(tmpl);
	size_t bss[] = { 0, 1, 512, 4096, 3000 };

	(void)state;
	assert_true(fd >= 0);
	unlink(tmpl);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 3);
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	for (size_t k = 0; k < sizeof(bss) / sizeof(*bss); k++)
		for (off_t off = 0; off < 10100; off += 997)
			for (size_t len = 0; len < 12000; len += 1499) {
				ssize_t n = redir_backing_read(fd, buf, len, off,
							       bss[k]);
				ssize_t want = off >= 10000 ? 0 :
					(ssize_t)(10000 - off < (off_t)len ?
						  10000 - off : (off_t)len);

				assert_int_equal(n, want);
				if (n > 0)
					assert_memory_equal(buf, data + off,
							    (size_t)n);
			}
	close(fd);
}

/* Names with any byte but NUL (docs/redirect.md "Names"): escapes in,
 * escapes out, and the list form parses back to the same rule. */
static void test_escapes(void **state)
{
	struct redir_rules *s;
	struct redir_config cfg;
	struct redir_match m;
	struct redir_rule r, r2;
	char err[512], buf[1024];

	(void)state;
	assert_int_equal(redir_rule_parse("/d/a\\x0ab\\,c\\=>\\*\\xff=>/b\\;"
					  "\\x20,policy=cow", &r, err,
					  sizeof(err)), 0);
	assert_int_equal(r.kind, REDIR_EXACT);
	assert_string_equal(r.path, "d/a\nb,c=>*\xff");
	assert_string_equal(r.backing, "/b; ");
	assert_int_equal(r.policy, REDIR_COW);
	redir_rule_format(&r, buf, sizeof(buf));
	assert_null(strpbrk(buf, "\n"));
	assert_int_equal(redir_rule_parse(buf, &r2, err, sizeof(err)), 0);
	assert_string_equal(r2.path, r.path);
	assert_string_equal(r2.backing, r.backing);
	redir_rule_free(&r);
	redir_rule_free(&r2);
	/* a glob keeps an escaped glob character literal for fnmatch */
	assert_int_equal(redir_args_parse("rule=/g/*\\x0a\\*=>/x;rule=/s\\;/=>/y",
					  &s, &cfg, err, sizeof(err)), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->v[0].kind, REDIR_GLOB);
	assert_int_equal(s->v[1].kind, REDIR_PREFIX);
	assert_string_equal(s->v[1].path, "s;");
	assert_true(redir_match_path(s, "g/a\n*", &m));
	assert_false(redir_match_path(s, "g/a\nb", &m));
	assert_true(redir_match_path(s, "s;/f", &m));
	assert_string_equal(m.backing, "/y/f");
	redir_rule_format(&s->v[0], buf, sizeof(buf));
	assert_string_equal(buf, "/g/*\\x0a\\*=>/x,policy=readonly,"
			    "errno=EACCES");
	redir_rules_put(s);
	/* bad escapes: a trailing backslash, \x without two hex digits, NUL */
	assert_int_not_equal(redir_rule_parse("/a\\=>/b", &r, err, sizeof(err)),
			     0);
	assert_int_not_equal(redir_rule_parse("/a\\xg1=>/b", &r, err,
					      sizeof(err)), 0);
	assert_int_not_equal(redir_rule_parse("/a\\x00=>/b", &r, err,
					      sizeof(err)), 0);
}

static struct redir_target *vtarget(uint64_t gen)
{
	struct redir_target *t = calloc(1, sizeof(*t) + 2);

	assert_non_null(t);
	atomic_init(&t->refs, 1);
	atomic_init(&t->materialised, false);
	t->gen = gen;
	t->policy = REDIR_READONLY;
	return t;
}

/* Virtual nodes (vnode.c): one node per path, also once the tables have
 * grown. A path whose node went stale (the rules changed) and that got a
 * new one has both on its chain; after a rehash the stale one may come
 * first, and a lookup must still find the live one, not make a third. */
static void test_vnode_table_growth(void **state)
{
	enum { N = 32, MORE = 4 * REDIR_VBUCKETS_MIN };
	struct redir_inst ri;
	struct redir_target *old = vtarget(1), *cur = vtarget(2);
	struct stat st = { .st_mode = S_IFREG | 0644, .st_size = 1 };
	struct flt_entry e;
	flt_ino_t live[N], ids[4];
	char path[32];
	int dummy;

	(void)state;
	memset(&ri, 0, sizeof(ri));
	ri.instance = (struct flt_instance *)&dummy; /* only tested != NULL */
	pthread_mutex_init(&ri.vlock, NULL);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "p%d", i);
		assert_int_equal(redir_vnode_ref(&ri, path, old, &st, &e), 0);
		/* the rules changed: a new node, the old one kept for the
		 * kernel's references */
		assert_int_equal(redir_vnode_ref(&ri, path, cur, &st, &e), 0);
		live[i] = e.ino;
		assert_int_equal(redir_vnode_ids(&ri, path, ids, 4), 2);
	}
	/* grow the tables a few times */
	for (int i = 0; i < MORE; i++) {
		snprintf(path, sizeof(path), "more/%d", i);
		assert_int_equal(redir_vnode_ref(&ri, path, cur, &st, &e), 0);
	}
	assert_true(ri.vbuckets >= ri.vcount);
	assert_int_equal(ri.vcount, 2 * N + MORE);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "p%d", i);
		assert_int_equal(redir_vnode_ref(&ri, path, cur, &st, &e), 0);
		assert_int_equal(e.ino, live[i]);
		assert_int_equal(redir_vnode_ids(&ri, path, ids, 4), 2);
		assert_non_null(redir_vnode_find(&ri, live[i]));
	}
	for (int i = 0; i < MORE; i += 97) {
		snprintf(path, sizeof(path), "more/%d", i);
		assert_int_equal(redir_vnode_ids(&ri, path, ids, 4), 1);
	}
	assert_int_equal(redir_vnode_ids_under(&ri, "more", NULL, 0), 0);
	redir_vnodes_destroy(&ri);
	assert_int_equal(ri.vbuckets, 0);
	redir_target_put(old);
	redir_target_put(cur);
	pthread_mutex_destroy(&ri.vlock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_hydrate_args),
		cmocka_unit_test(test_block_math),
		cmocka_unit_test(test_block_read),
		cmocka_unit_test(test_vnode_table_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
