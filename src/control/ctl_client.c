/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client side of the control channel (used by the CLI): one request
 * line out, one response line back. */
#include "control/ctl.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const struct {
	int err;
	const char *name;
} errnos[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" },
	{ ENOEXEC, "ENOEXEC" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { EINVAL, "EINVAL" },
	{ ERANGE, "ERANGE" }, { ENOTSUP, "ENOTSUP" }, { EPROTO, "EPROTO" },
	{ EMSGSIZE, "EMSGSIZE" }, { ETIMEDOUT, "ETIMEDOUT" },
	{ ENAMETOOLONG, "ENAMETOOLONG" }, { ELIBBAD, "ELIBBAD" },
};

const char *ctl_errno_name(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return "EIO";
}

static int read_line(int fd, char **out, char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		char *b;
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > 64u * 1024u * 1024u) {
				snprintf(err, errlen, "response too long");
				free(buf);
				return -EMSGSIZE;
			}
			b = realloc(buf, cap);
			if (!b) {
				free(buf);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			buf = b;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			snprintf(err, errlen, "reading the response: %s",
				 strerror(e));
			free(buf);
			return -e;
		}
		if (n == 0) {
			snprintf(err, errlen, "the daemon closed the control "
				 "connection without answering");
			free(buf);
			return -EIO;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len)) {
			*out = buf;
			return 0;
		}
	}
}

int ctl_call(const char *path, struct json_object *req,
	     struct json_object **resp, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *s;
	char *line = NULL;
	int fd, ret;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >=
	    (int)sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (errno == EACCES || errno == EPERM)
			snprintf(err, errlen, "permission denied on %s (only "
				 "root and the user who mounted the volume "
				 "may use it)", path);
		else if (errno == ENOENT || errno == ECONNREFUSED)
			snprintf(err, errlen, "no control socket at %s (is "
				 "the daemon running? a volume mounted by an "
				 "older fsfilter has none)", path);
		else
			snprintf(err, errlen, "cannot connect to %s: %s", path,
				 strerror(errno));
		goto out;
	}
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	{
		size_t n = strlen(s), off = 0;

		while (off <= n) {
			ssize_t w = off < n ? send(fd, s + off, n - off,
						   MSG_NOSIGNAL)
					    : send(fd, "\n", 1, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ret = -errno;
				snprintf(err, errlen, "sending the request: %s",
					 strerror(errno));
				goto out;
			}
			off += off < n ? (size_t)w : 1;
		}
	}
	ret = read_line(fd, &line, err, errlen);
	if (ret)
		goto out;
	*resp = json_tokener_parse(line);
	if (!*resp || !json_object_is_type(*resp, json_type_object)) {
		json_object_put(*resp);
		*resp = NULL;
		snprintf(err, errlen, "the daemon sent a response that is not "
			 "a JSON object");
		ret = -EPROTO;
	}
out:
	free(line);
	close(fd);
	return ret;
}
