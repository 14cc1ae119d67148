/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fsfilter/filter.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Read lazily: most operations never need the name, and /proc costs a
 * syscall round trip. The process may be gone: then "?". */
const char *flt_requestor_name(const struct flt_callback_data *data,
			       char *buf, size_t len)
{
	char path[32];
	ssize_t n;
	int fd;

	if (!buf || len == 0)
		return "";
	snprintf(buf, len, "?");
	if (data->requestor.pid <= 0)
		return buf;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)data->requestor.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}
