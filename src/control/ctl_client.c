/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client side of the control channel (used by the CLI): one request
 * line out, one response line back, all of it within a deadline so that a
 * stopped or hung daemon makes the CLI fail instead of wait forever. */
#include "control/ctl.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
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

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until @deadline (-1: none), at least 1 while some
 * remain, 0 once it has passed. */
static int left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int timed_out(char *err, size_t errlen, int timeout_ms,
		     const char *what)
{
	snprintf(err, errlen, "no answer within %g s (%s): the daemon is "
		 "stopped, hung, or busy with another request", timeout_ms /
		 1000.0, what);
	return -ETIMEDOUT;
}

/* SO_SNDTIMEO bounds a blocking connect(2) on a Unix socket whose backlog
 * is full, and send(2); both then fail with EAGAIN. */
static void set_send_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int read_line(int fd, char **out, char *err, size_t errlen,
		     int64_t deadline, int timeout_ms)
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
		if (deadline >= 0) {
			struct pollfd p = { fd, POLLIN, 0 };
			int r = poll(&p, 1, left_ms(deadline));

			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				free(buf);
				return timed_out(err, errlen, timeout_ms,
						 "waiting for the response");
			}
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
	     struct json_object **resp, char *err, size_t errlen,
	     int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
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
	set_send_timeout(fd, timeout_ms < 0 ? 0 : timeout_ms);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (errno == EAGAIN)
			ret = timed_out(err, errlen, timeout_ms,
					"connecting: the daemon does not "
					"accept connections");
		else if (errno == EACCES || errno == EPERM)
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
	if (deadline >= 0) {	/* what connect left of the time */
		if (!left_ms(deadline)) {
			ret = timed_out(err, errlen, timeout_ms, "connecting");
			goto out;
		}
		set_send_timeout(fd, left_ms(deadline));
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
			if (w < 0 && errno == EAGAIN) {
				ret = timed_out(err, errlen, timeout_ms,
						"sending the request");
				goto out;
			}
			if (w <= 0) {
				ret = -errno;
				snprintf(err, errlen, "sending the request: %s",
					 strerror(errno));
				goto out;
			}
			off += off < n ? (size_t)w : 1;
		}
	}
	ret = read_line(fd, &line, err, errlen, deadline, timeout_ms);
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
