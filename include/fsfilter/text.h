/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file
 * Names in text output: escaping and strict UTF-8.
 *
 * File names, process names and rule arguments are bytes chosen by whoever
 * makes them. A filter that prints one (a trace line, a log message, a
 * status figure) must not let a name with a newline forge a line of its
 * own: flt_escape_name() writes control bytes (0x00-0x1f, 0x7f) as \xHH,
 * lower-case hex, and optionally the backslash and the double quote too.
 * Everything else, invalid UTF-8 included, is copied as it is; what needs
 * valid UTF-8 (JSON) checks sequences with flt_utf8_len().
 *
 * Both are pure functions of their arguments: no allocation, no lock, safe
 * from any thread and from any callback.
 */
#ifndef FSFILTER_TEXT_H
#define FSFILTER_TEXT_H

#include <fsfilter/filter.h>

#include <stddef.h>

/** flt_escape_name() flags: also escape '\\' (as \x5c), so that the output
 *  reads back unambiguously: the usual choice for names. */
#define FLT_ESC_BACKSLASH 0x1u
/** ... also escape '"' (as \x22), for a name printed between quotes. */
#define FLT_ESC_QUOTE 0x2u

/** What ends an output that was cut to fit. */
#define FLT_ESC_CUT "..."
/** An out_size that holds @p n input bytes escaped whole, NUL included. */
#define FLT_ESC_SIZE(n) (4 * (size_t)(n) + 1)

/**
 * Escape the @p in_len bytes at @p in (NUL bytes among them are escaped
 * like other control bytes) into @p out, NUL-terminated, in at most
 * @p out_size bytes.
 *
 * When the escaped input does not fit in @p out_size - 1 bytes, the output
 * is its longest prefix that still leaves room for FLT_ESC_CUT, then
 * FLT_ESC_CUT (itself cut when @p out_size < 4). A cut never splits an
 * escape or a valid UTF-8 sequence, so valid UTF-8 input stays valid.
 * @p flags: FLT_ESC_* or 0 (control bytes only).
 *
 * Returns the length written, NUL not included (0 if @p out_size is 0).
 * @p in and @p out must not overlap.
 */
FLT_API size_t flt_escape_name(const char *in, size_t in_len, char *out,
			       size_t out_size, unsigned flags);

/**
 * Strict UTF-8: the length (1-4) of the valid sequence that starts at
 * @p s, within the @p n bytes there; 0 if there is none: @p n is 0, a
 * stray continuation byte, an overlong form, a surrogate (U+D800-DFFF),
 * above U+10FFFF, or a sequence cut short by @p n or by a byte that is not
 * a continuation. An ASCII byte, NUL and control bytes included, is 1.
 */
FLT_API size_t flt_utf8_len(const char *s, size_t n);

#endif /* FSFILTER_TEXT_H */
