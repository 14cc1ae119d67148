/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names in text output (include/fsfilter/text.h): flt_escape_name's
 * escapes and cuts, flt_utf8_len's strictness, and flt_log built on them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fsfilter/text.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/*
 * flt_escape_name of the @n bytes at @in into exactly @size bytes of the
 * heap (so ASan sees a write past them) gives @want, and returns its
 * length.
 */
static void expect(const char *in, size_t n, size_t size, unsigned flags,
		   const char *want)
{
	char *out = malloc(size ? size : 1);

	assert_non_null(out);
	assert_int_equal(flt_escape_name(in, n, out, size, flags),
			 strlen(want));
	assert_string_equal(out, want);
	free(out);
}

/* the literal @in (its sizeof - 1 bytes, NULs included) */
#define EXPECT(in, size, flags, want) \
	expect(in, sizeof(in) - 1, size, flags, want)

static void test_control_bytes(void **state)
{
	(void)state;
	EXPECT("a\nb\tc\x1b[0m\x7f" "d", 64, 0,
	       "a\\x0ab\\x09c\\x1b[0m\\x7fd");
	/* 0x20 and 0x80 and above are not control bytes */
	EXPECT(" ~\xc3\xa9", 64, 0, " ~\xc3\xa9");
	EXPECT("", 64, FLT_ESC_BACKSLASH, "");
}

static void test_backslash_quote(void **state)
{
	(void)state;
	EXPECT("a\\b\"c", 64, 0, "a\\b\"c");
	EXPECT("a\\b\"c", 64, FLT_ESC_BACKSLASH, "a\\x5cb\"c");
	EXPECT("a\\b\"c", 64, FLT_ESC_QUOTE, "a\\b\\x22c");
	EXPECT("a\\b\"c", 64, FLT_ESC_BACKSLASH | FLT_ESC_QUOTE,
	       "a\\x5cb\\x22c");
	/* an escape already in the input is not taken for one */
	EXPECT("\\x0a", 64, FLT_ESC_BACKSLASH, "\\x5cx0a");
}

/* NUL is a byte like the others: in_len decides, not the terminator */
static void test_embedded_nul(void **state)
{
	(void)state;
	EXPECT("a\0b", 64, 0, "a\\x00b");
	expect("a\0b", 1, 64, 0, "a");
	expect(NULL, 0, 64, 0, "");
}

/* invalid UTF-8 is copied as it is (JSON output escapes it itself) */
static void test_invalid_utf8(void **state)
{
	(void)state;
	EXPECT("\xff\xc3(\xed\xa0\x80\xc0\xaf", 64, FLT_ESC_BACKSLASH,
	       "\xff\xc3(\xed\xa0\x80\xc0\xaf");
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(flt_utf8_len("a", 1), 1);
	assert_int_equal(flt_utf8_len("", 1), 1);	/* NUL */
	assert_int_equal(flt_utf8_len("\x7f", 1), 1);
	assert_int_equal(flt_utf8_len("a", 0), 0);
	assert_int_equal(flt_utf8_len("\xc3\xa9", 2), 2);	/* U+00E9 */
	assert_int_equal(flt_utf8_len("\xe2\x82\xac", 3), 3);	/* U+20AC */
	assert_int_equal(flt_utf8_len("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(flt_utf8_len("\xf4\x8f\xbf\xbf", 4), 4); /* max */
	assert_int_equal(flt_utf8_len("\xef\xbf\xbf", 3), 3);	/* U+FFFF */
	assert_int_equal(flt_utf8_len("\xed\x9f\xbf", 3), 3);	/* U+D7FF */
	/* not: stray continuation, overlong, surrogate, > U+10FFFF */
	assert_int_equal(flt_utf8_len("\x80", 1), 0);
	assert_int_equal(flt_utf8_len("\xbf", 1), 0);
	assert_int_equal(flt_utf8_len("\xc0\xaf", 2), 0);
	assert_int_equal(flt_utf8_len("\xc1\xbf", 2), 0);
	assert_int_equal(flt_utf8_len("\xe0\x9f\xbf", 3), 0);
	assert_int_equal(flt_utf8_len("\xf0\x8f\xbf\xbf", 4), 0);
	assert_int_equal(flt_utf8_len("\xed\xa0\x80", 3), 0);
	assert_int_equal(flt_utf8_len("\xed\xbf\xbf", 3), 0);
	assert_int_equal(flt_utf8_len("\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(flt_utf8_len("\xf5\x80\x80\x80", 4), 0);
	assert_int_equal(flt_utf8_len("\xff", 1), 0);
	/* cut short: by @n, or by a byte that is not a continuation */
	assert_int_equal(flt_utf8_len("\xe2\x82\xac", 2), 0);
	assert_int_equal(flt_utf8_len("\xf0\x9f\x98\x80", 3), 0);
	assert_int_equal(flt_utf8_len("\xc3", 1), 0);
	assert_int_equal(flt_utf8_len("\xc3" "a", 2), 0);
	assert_int_equal(flt_utf8_len("\xe2\x82", 3), 0);	/* then NUL */
}

static void test_cut(void **state)
{
	char out[4] = "xyz";

	(void)state;
	/* 20 bytes into 16: 12 of them, the mark, NUL */
	EXPECT("abcdefghijklmnopqrst", 16, 0, "abcdefghijkl...");
	/* an escape is never split: "\x0a" does not fit after "abcdefghij" */
	EXPECT("abcdefghij\nklmnopqrst", 16, 0, "abcdefghij...");
	/* nor is a UTF-8 sequence: U+20AC would end at 13 */
	EXPECT("abcdefghij\xe2\x82\xac" "klmnop", 16, 0, "abcdefghij...");
	/* an invalid byte is one unit */
	EXPECT("abcdefghijk\xe2\x82" "klmnop", 16, 0, "abcdefghijk\xe2...");
	/* sizes too small for the mark: as much of it as fits */
	assert_int_equal(flt_escape_name("abcdef", 6, out, 0, 0), 0);
	assert_string_equal(out, "xyz");	/* untouched */
	EXPECT("abcdef", 1, 0, "");
	EXPECT("abcdef", 2, 0, ".");
	EXPECT("abcdef", 3, 0, "..");
	EXPECT("abcdef", 4, 0, "...");
	EXPECT("abcdef", 5, 0, "a...");
	EXPECT("\n\n", 5, 0, "...");
}

/* exactly out_size - 1 bytes of output: no cut; one more: cut */
static void test_exact_fit(void **state)
{
	(void)state;
	EXPECT("abcdefghijklmno", 16, 0, "abcdefghijklmno");
	EXPECT("abcdefghijklmnop", 16, 0, "abcdefghijkl...");
	/* ending in an escape: 11 + 4 = 15 fits, 12 + 4 does not */
	EXPECT("abcdefghijk\n", 16, 0, "abcdefghijk\\x0a");
	EXPECT("abcdefghijkl\n", 16, 0, "abcdefghijkl...");
	/* ending in a 4-byte sequence */
	EXPECT("abcdefghijk\xf0\x9f\x98\x80", 16, 0,
	       "abcdefghijk\xf0\x9f\x98\x80");
	/* one byte in two bytes; two in two: cut to the mark */
	EXPECT("a", 2, 0, "a");
	EXPECT("ab", 2, 0, ".");
	/* FLT_ESC_SIZE never cuts */
	EXPECT("\n\n\n\n", FLT_ESC_SIZE(4), 0, "\\x0a\\x0a\\x0a\\x0a");
	EXPECT("\n\n\n\n\n", FLT_ESC_SIZE(5) - 1, 0,
	       "\\x0a\\x0a\\x0a\\x0a...");
}

static char logged[2048];
static int logged_prio;

static void sink(int priority, const char *line, void *arg)
{
	(void)arg;
	logged_prio = priority;
	snprintf(logged, sizeof(logged), "%s", line);
}

/* flt_log: one message, one line; the backslash of rules stays as it is */
static void test_log_line(void **state)
{
	char name[1100];

	(void)state;
	flt_set_log_sink(sink, NULL);
	flt_log(LOG_ERR, "rule %s: %s", "/a\\,b", "bad\nforged: line\x7f");
	assert_int_equal(logged_prio, LOG_ERR);
	assert_string_equal(logged, "rule /a\\,b: bad\\x0aforged: line\\x7f");
	/* a line that grows past the buffer when escaped is cut, marked */
	memset(name, '\n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	flt_log(LOG_ERR, "x%s", name);
	assert_int_equal(strlen(logged), 1020);	/* x, 254 escapes, ... */
	assert_int_equal(strncmp(logged, "x\\x0a\\x0a", 9), 0);
	assert_string_equal(logged + 1017, "...");
	flt_set_log_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_backslash_quote),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_exact_fit),
		cmocka_unit_test(test_log_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
