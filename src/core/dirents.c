/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory entry lists: filled by the lower layer, edited by filters,
 * packed by the front end. Names live in one growing buffer; entries keep
 * offsets into it until the list is final, so growth never leaves a
 * dangling name pointer. */
#include <fsfilter/filter.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* struct fuse_dirent is 24 bytes + name, 8-aligned; fuse_direntplus adds a
 * 128-byte fuse_entry_out in front of it. Kept here (not from libfuse) so
 * the core stays free of FUSE headers. */
#define DIRENT_ALIGN(x) (((x) + 7u) & ~(size_t)7u)

size_t flt_dirent_size(size_t namelen, int plus)
{
	return DIRENT_ALIGN(24 + namelen) + (plus ? 128 : 0);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int flt_dirents_add(struct flt_dirents *d, const char *name, uint64_t ino,
		    unsigned type, off_t next_off, struct flt_dirent **out)
{
	size_t len = strlen(name) + 1;
	uintptr_t old = (uintptr_t)d->names, old_end = old + d->names_len;
	struct flt_dirent *e;
	int ret;

	ret = grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v));
	if (ret)
		return ret;
	ret = grow((void **)&d->names, &d->names_cap, d->names_len + len, 1);
	if (ret)
		return ret;
	if ((uintptr_t)d->names != old) {
		/* the name buffer moved: rebase the names that pointed into it
		 * (a filter may point an entry at a string of its own) */
		for (size_t i = 0; i < d->n; i++) {
			uintptr_t p = (uintptr_t)d->v[i].name;

			if (p >= old && p < old_end)
				d->v[i].name = d->names + (p - old);
		}
	}
	memcpy(d->names + d->names_len, name, len);
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->name = d->names + d->names_len;
	e->ino = ino;
	e->type = type;
	e->next_off = next_off;
	d->names_len += len;
	if (out)
		*out = e;
	return 0;
}
