/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names in text output (include/fsfilter/text.h): flt_escape_name's
 * escapes and cuts, flt_utf8_len's strictness, and flt_log built on them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fsfilter/text.h>

#include <stdio.h>
#include <string.h>
#include <syslog.h>

/* flt_escape_name of the literal @in (its sizeof - 1 bytes) */
#define ESC(in, out, size, flags) \
	flt_escape_name(in, sizeof(in) - 1, out, size, flags)

static void test_control_bytes(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ESC("a\nb\tc\x1b[0m\x7f" "d", out, sizeof(out), 0),
			 23);
	assert_string_equal(out, "a\\x0ab\\x09c\\x1b[0m\\x7fd");
	/* 0x20 and 0x80 and above are not control bytes */
	assert_int_equal(ESC(" ~\xc3\xa9", out, sizeof(out), 0), 4);
	assert_string_equal(out, " ~\xc3\xa9");
	assert_int_equal(ESC("", out, sizeof(out), FLT_ESC_BACKSLASH), 0);
	assert_string_equal(out, "");
}

static void test_backslash_quote(void **state)
{
	char out[64];

	(void)state;
	ESC("a\\b\"c", out, sizeof(out), 0);
	assert_string_equal(out, "a\\b\"c");
	ESC("a\\b\"c", out, sizeof(out), FLT_ESC_BACKSLASH);
	assert_string_equal(out, "a\\x5cb\"c");
	ESC("a\\b\"c", out, sizeof(out), FLT_ESC_QUOTE);
	assert_string_equal(out, "a\\b\\x22c");
	ESC("a\\b\"c", out, sizeof(out), FLT_ESC_BACKSLASH | FLT_ESC_QUOTE);
	assert_string_equal(out, "a\\x5cb\\x22c");
	/* an escape already in the input is not taken for one */
	ESC("\\x0a", out, sizeof(out), FLT_ESC_BACKSLASH);
	assert_string_equal(out, "\\x5cx0a");
}

/* NUL is a byte like the others: in_len decides, not the terminator */
static void test_embedded_nul(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ESC("a\0b", out, sizeof(out), 0), 6);
	assert_string_equal(out, "a\\x00b");
	assert_int_equal(flt_escape_name("a\0b", 1, out, sizeof(out), 0), 1);
	assert_string_equal(out, "a");
	assert_int_equal(flt_escape_name(NULL, 0, out, sizeof(out), 0), 0);
	assert_string_equal(out, "");
}

/* invalid UTF-8 is copied as it is (JSON output escapes it itself) */
static void test_invalid_utf8(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ESC("\xff\xc3(\xed\xa0\x80\xc0\xaf", out, sizeof(out),
			     FLT_ESC_BACKSLASH), 8);
	assert_memory_equal(out, "\xff\xc3(\xed\xa0\x80\xc0\xaf", 9);
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
	char out[16];

	(void)state;
	/* 20 bytes into 16: 12 of them, the mark, NUL */
	assert_int_equal(ESC("abcdefghijklmnopqrst", out, sizeof(out), 0),
			 15);
	assert_string_equal(out, "abcdefghijkl...");
	/* an escape is never split: "\x0a" does not fit after "abcdefghij" */
	assert_int_equal(ESC("abcdefghij\nklmnopqrst", out, sizeof(out), 0),
			 13);
	assert_string_equal(out, "abcdefghij...");
	/* nor is a UTF-8 sequence: U+20AC would end at 13 */
	assert_int_equal(ESC("abcdefghij\xe2\x82\xac" "klmnop", out,
			     sizeof(out), 0), 13);
	assert_string_equal(out, "abcdefghij...");
	/* an invalid byte is one unit */
	assert_int_equal(ESC("abcdefghijk\xe2\x82" "klmnop", out, sizeof(out),
			     0), 15);
	assert_string_equal(out, "abcdefghijk\xe2...");
	/* sizes too small for the mark: as much of it as fits */
	memset(out, 'x', sizeof(out));
	assert_int_equal(ESC("abcdef", out, 0, 0), 0);
	assert_int_equal(out[0], 'x');
	assert_int_equal(ESC("abcdef", out, 1, 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(ESC("abcdef", out, 2, 0), 1);
	assert_string_equal(out, ".");
	assert_int_equal(ESC("abcdef", out, 3, 0), 2);
	assert_string_equal(out, "..");
	assert_int_equal(ESC("abcdef", out, 4, 0), 3);
	assert_string_equal(out, "...");
	assert_int_equal(ESC("abcdef", out, 5, 0), 4);
	assert_string_equal(out, "a...");
	assert_int_equal(ESC("\n\n", out, 5, 0), 3);
	assert_string_equal(out, "...");
}

/* exactly out_size - 1 bytes of output: no cut; one more: cut */
static void test_exact_fit(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(ESC("abcdefghijklmno", out, 16, 0), 15);
	assert_string_equal(out, "abcdefghijklmno");
	assert_int_equal(ESC("abcdefghijklmnop", out, 16, 0), 15);
	assert_string_equal(out, "abcdefghijkl...");
	/* ending in an escape: 11 + 4 = 15 fits, 12 + 4 does not */
	assert_int_equal(ESC("abcdefghijk\n", out, 16, 0), 15);
	assert_string_equal(out, "abcdefghijk\\x0a");
	assert_int_equal(ESC("abcdefghijkl\n", out, 16, 0), 15);
	assert_string_equal(out, "abcdefghijkl...");
	/* ending in a 4-byte sequence */
	assert_int_equal(ESC("abcdefghijk\xf0\x9f\x98\x80", out, 16, 0), 15);
	assert_string_equal(out, "abcdefghijk\xf0\x9f\x98\x80");
	/* one byte in two bytes; two in two: cut to the mark */
	assert_int_equal(ESC("a", out, 2, 0), 1);
	assert_string_equal(out, "a");
	assert_int_equal(ESC("ab", out, 2, 0), 1);
	assert_string_equal(out, ".");
	/* FLT_ESC_SIZE never cuts */
	{
		static const char all[] = "\n\n\n\n";
		char big[FLT_ESC_SIZE(sizeof(all) - 1)];

		assert_int_equal(ESC(all, big, sizeof(big), 0), 16);
		assert_string_equal(big, "\\x0a\\x0a\\x0a\\x0a");
	}
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
