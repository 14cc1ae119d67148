/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names in text output (include/fsfilter/text.h): one escaping rule for
 * the trace view, the log, noop, spy and status, one UTF-8 check. */
#include <fsfilter/text.h>

#include <string.h>

size_t flt_utf8_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned c, cp;
	size_t len;

	if (!n)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;	/* continuation, 0xc0/0xc1 (overlong), > 0xf4 */
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static int needs_escape(unsigned char c, unsigned flags)
{
	return c < 0x20 || c == 0x7f ||
	       (c == '\\' && (flags & FLT_ESC_BACKSLASH)) ||
	       (c == '"' && (flags & FLT_ESC_QUOTE));
}

size_t flt_escape_name(const char *in, size_t in_len, char *out,
		       size_t out_size, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const size_t mark = sizeof(FLT_ESC_CUT) - 1;
	size_t i = 0, o = 0, cut = 0;	/* cut: where the mark would go */

	if (!out_size)
		return 0;
	while (i < in_len) {
		unsigned char c = (unsigned char)in[i];
		size_t n = flt_utf8_len(in + i, in_len - i), w;
		int esc = needs_escape(c, flags);	/* ASCII: n is 1 */

		if (!n)
			n = 1;	/* an invalid byte: copied alone */
		w = esc ? 4 : n;
		if (o + w >= out_size)
			goto out_cut;
		if (esc) {
			out[o] = '\\';
			out[o + 1] = 'x';
			out[o + 2] = hex[c >> 4];
			out[o + 3] = hex[c & 15];
		} else {
			memcpy(out + o, in + i, n);
		}
		o += w;
		i += n;
		if (o + mark < out_size)
			cut = o;
	}
	out[o] = '\0';
	return o;

out_cut:
	/* whole units up to @cut, then as much of the mark as fits */
	o = cut + (mark < out_size - 1 - cut ? mark : out_size - 1 - cut);
	memcpy(out + cut, FLT_ESC_CUT, o - cut);
	out[o] = '\0';
	return o;
}
