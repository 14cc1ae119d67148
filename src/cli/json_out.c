/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One way to print --json: every command's JSON looks the same (pretty,
 * paths with plain slashes), and the field names are the contract
 * documented in fsfilter(1) ("JSON OUTPUT").
 *
 * Names are bytes, JSON text is Unicode: a byte that is not part of valid
 * UTF-8 (flt_utf8_len) is written as the lone surrogate \udcXX (XX the
 * byte), the convention of Python's "surrogateescape" (docs/monitor.md),
 * so clients get the exact bytes back and the output stays valid UTF-8.
 */
#include "cli/json_out.h"

#include <fsfilter/text.h>

#include <stdbool.h>
#include <string.h>

/* The @n bytes at @s, invalid UTF-8 as \udcXX; with @quote also '"', '\\'
 * and control bytes escaped (JSON string content). Runs of bytes that need
 * nothing go out in one fwrite. */
static void put_utf8(FILE *f, const char *s, size_t n, bool quote)
{
	size_t run = 0, i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = flt_utf8_len(s + i, n - i);

		if (len && !(quote && (c == '"' || c == '\\' || c < 0x20 ||
				       c == 0x7f))) {
			i += len;
			continue;
		}
		fwrite(s + run, 1, i - run, f);
		if (!len)
			fprintf(f, "\\udc%02x", c);
		else if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else
			fprintf(f, "\\u%04x", c);
		run = ++i;
	}
	fwrite(s + run, 1, i - run, f);
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	put_utf8(f, s, strlen(s), true);
	fputc('"', f);
}

/* json-c copies the bytes of strings as they are; everything else it
 * writes is ASCII, so an invalid byte is always inside a string, where
 * \udcXX is a valid escape. */
void cli_json_print(FILE *f, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			   JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		s = "null";	/* out of memory */
	put_utf8(f, s, strlen(s), false);
	fputc('\n', f);
}

void cli_json_print_put(FILE *f, struct json_object *o)
{
	cli_json_print(f, o);
	json_object_put(o);
}
