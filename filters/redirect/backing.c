/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backing files: open, stat and read. Backing files live outside the
 * volume (refused at setup otherwise), so plain open(2)/pread(2) never
 * re-enter it.
 */
#include "filters/redirect/redir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int redir_backing_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}

int redir_backing_stat(const char *path, struct stat *st)
{
	return stat(path, st) ? -errno : 0;
}

void redir_block_range(off_t off, size_t len, size_t bs, off_t *start,
		       off_t *end)
{
	uint64_t s = (uint64_t)off, e = (uint64_t)off + len;

	if (!bs) {
		*start = off;
		*end = (off_t)e;
		return;
	}
	s -= s % bs;
	if (e % bs)
		e += bs - e % bs;
	*start = (off_t)s;
	*end = (off_t)e;
}

/* pread until @len bytes or EOF; EINTR retried. */
static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done,
				  off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t redir_backing_read(int fd, void *buf, size_t len, off_t off,
			   size_t bs)
{
	off_t start, end;
	char *bounce;
	ssize_t n;
	size_t skip;

	if (!len)
		return 0;
	if (off < 0)
		return -EINVAL;
	if (!bs)
		return pread_full(fd, buf, len, off);	/* no copy */
	redir_block_range(off, len, bs, &start, &end);
	if (start == off && (size_t)(end - start) == len)
		return pread_full(fd, buf, len, off);	/* already aligned */
	bounce = malloc((size_t)(end - start));
	if (!bounce)
		return -ENOMEM;
	n = pread_full(fd, bounce, (size_t)(end - start), start);
	skip = (size_t)(off - start);
	if (n < 0)
		goto out;
	n = (size_t)n > skip ? n - (ssize_t)skip : 0;
	if ((size_t)n > len)
		n = (ssize_t)len;
	memcpy(buf, bounce + skip, (size_t)n);
out:
	free(bounce);
	return n;
}
