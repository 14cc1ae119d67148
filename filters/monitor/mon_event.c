/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event records (include/fsfilter/monitor.h): encoding, and the checks a
 * reader makes before trusting one. Pure functions. */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <string.h>

static size_t put_str(char *dst, const char *s, uint16_t *len_out)
{
	size_t n = s ? strnlen(s, MON_PATH_MAX - 1) : 0;

	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
	*len_out = (uint16_t)n;
	return n + 1;
}

size_t mon_event_encode(void *buf, const struct mon_event *fields,
			const char *path, const char *path2)
{
	struct mon_event *e = buf;
	char *p = (char *)(e + 1);
	size_t size;

	*e = *fields;
	p += put_str(p, path, &e->path_len);
	p += put_str(p, path2, &e->path2_len);
	size = (size_t)(p - (char *)buf);
	while (size & 7)
		((char *)buf)[size++] = '\0';
	e->size = (uint16_t)size;
	return size;
}

int mon_event_check(const void *rec, size_t avail)
{
	const struct mon_event *e = rec;
	size_t need;

	if (avail < sizeof(*e) || e->size < sizeof(*e) || e->size > avail ||
	    (e->size & 7))
		return -EPROTO;
	need = sizeof(*e) + (size_t)e->path_len + 1 + e->path2_len + 1;
	if (need > e->size)
		return -EPROTO;
	if (mon_event_path(e)[e->path_len] != '\0' ||
	    mon_event_path2(e)[e->path2_len] != '\0')
		return -EPROTO;
	if (e->op >= FLT_OP_COUNT || (e->phase != MON_PRE &&
				      e->phase != MON_POST))
		return -EPROTO;
	return 0;
}
