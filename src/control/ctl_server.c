/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control socket and its thread: accept, check the peer, read request
 * lines, answer each with one response line.
 *
 * One thread polls the listening socket, a wake-up pipe and every client.
 * Requests run on it one at a time; a detach that waits for a busy
 * instance to drain holds up other control clients, never the volume.
 * Writes of responses are bounded in time so a client that stops reading
 * cannot wedge the thread.
 */
#include "control/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <fsfilter/filter.h>

#define CTL_MAX_CLIENTS 16
#define CTL_WRITE_TIMEOUT_MS 5000

struct ctl_client {
	int fd;
	char *buf;		/* partial request line */
	size_t len;
};

struct ctl_server {
	struct ctl_volume v;
	char dir[4096];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool made_dir;
	int lfd;
	int wake[2];		/* ctl_stop writes, the thread wakes */
	pthread_t thread;
	struct ctl_client clients[CTL_MAX_CLIENTS];	/* the thread's */
};

/* mkdir -p: the ports engineer's code may create the same directory at the
 * same time, so EEXIST is never an error. The volume directory gets 0755
 * as root (other users reach their ports in it; each socket has its own
 * mode), 0700 otherwise, like src/port. */
static int mkdir_p(const char *dir, bool *made)
{
	char tmp[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, geteuid() == 0 ? 0755 : 0700)) {
		if (errno != EEXIST)
			return -errno;
		*made = false;
	} else {
		*made = true;
	}
	return 0;
}

/* A socket file left by a daemon that was killed is removed; one that a
 * live daemon answers on is not ours to take. */
static int claim_path(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	close(fd);
	return ret;
}

static void client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
}

/* Write all of @s plus a newline, waiting at most CTL_WRITE_TIMEOUT_MS for
 * the client to make room. */
static int write_line(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;
	char *line = malloc(n + 1);
	int ret = 0;

	if (!line)
		return -ENOMEM;
	memcpy(line, s, n);
	line[n++] = '\n';
	while (off < n) {
		ssize_t w = send(fd, line + off, n - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		struct pollfd p = { fd, POLLOUT, 0 };

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN) {
			ret = -errno;
			break;
		}
		if (poll(&p, 1, CTL_WRITE_TIMEOUT_MS) <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	free(line);
	return ret;
}

static void respond(struct ctl_client *c, struct json_object *resp)
{
	const char *s = resp ? json_object_to_json_string_ext(
				       resp, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE)
			     : "{\"ok\":false,\"error\":\"out of memory\","
			       "\"errno\":\"ENOMEM\"}";

	if (write_line(c->fd, s))
		client_close(c);
}

static void refuse(int fd, uid_t uid, const struct ctl_server *s)
{
	char msg[256];
	struct json_object *o = json_object_new_object();

	snprintf(msg, sizeof(msg), "permission denied: uid %u may not use "
		 "the control channel of %s (only root and uid %u, who "
		 "mounted it)", (unsigned)uid, s->v.mountpoint,
		 (unsigned)s->v.owner);
	if (o) {
		json_object_object_add(o, "ok", json_object_new_boolean(0));
		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_object_add(o, "errno",
				       json_object_new_string("EACCES"));
		write_line(fd, json_object_to_json_string_ext(
				       o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	flt_log(LOG_NOTICE, "control: refused uid %u", (unsigned)uid);
}

static void accept_one(struct ctl_server *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	size_t i;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    (cred.uid != 0 && cred.uid != s->v.owner)) {
		refuse(fd, len == sizeof(cred) ? cred.uid : (uid_t)-1, s);
		close(fd);
		return;
	}
	for (i = 0; i < CTL_MAX_CLIENTS && s->clients[i].fd >= 0; i++)
		;
	if (i == CTL_MAX_CLIENTS) {
		write_line(fd, "{\"ok\":false,\"error\":\"too many control "
			   "clients; try again\",\"errno\":\"EBUSY\"}");
		close(fd);
		return;
	}
	s->clients[i].fd = fd;
}

static void handle_line(struct ctl_server *s, struct ctl_client *c,
			const char *line)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req = NULL, *resp;

	if (tok) {
		req = json_tokener_parse_ex(tok, line, (int)strlen(line));
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(req);
			req = NULL;
		}
		json_tokener_free(tok);
	}
	resp = ctl_handle(&s->v, req);
	respond(c, resp);
	json_object_put(resp);
	json_object_put(req);
}

static void read_client(struct ctl_server *s, struct ctl_client *c)
{
	char chunk[4096], *nl;
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	if (c->len + (size_t)n + 1 > CTL_MAX_LINE) {
		write_line(c->fd, "{\"ok\":false,\"error\":\"request line too "
			   "long\",\"errno\":\"EMSGSIZE\"}");
		client_close(c);
		return;
	}
	{
		char *b = realloc(c->buf, c->len + (size_t)n + 1);

		if (!b) {
			client_close(c);
			return;
		}
		c->buf = b;
	}
	memcpy(c->buf + c->len, chunk, (size_t)n);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		size_t used = (size_t)(nl - c->buf) + 1;

		*nl = '\0';
		if (nl > c->buf)
			handle_line(s, c, c->buf);
		if (c->fd < 0)
			return;		/* closed by a failed write */
		memmove(c->buf, c->buf + used, c->len - used + 1);
		c->len -= used;
	}
}

static void *ctl_thread(void *arg)
{
	struct ctl_server *s = arg;
	struct pollfd p[2 + CTL_MAX_CLIENTS];
	struct ctl_client *who[2 + CTL_MAX_CLIENTS];

	for (;;) {
		nfds_t n = 2;

		p[0] = (struct pollfd){ s->wake[0], POLLIN, 0 };
		p[1] = (struct pollfd){ s->lfd, POLLIN, 0 };
		for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
			if (s->clients[i].fd >= 0) {
				p[n] = (struct pollfd){ s->clients[i].fd,
							POLLIN, 0 };
				who[n++] = &s->clients[i];
			}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			flt_log(LOG_ERR, "control: poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN)
			accept_one(s);
		for (nfds_t i = 2; i < n; i++)
			if (p[i].revents)
				read_client(s, who[i]);
	}
	return NULL;
}

int ctl_start(const char *runtime_dir, const struct ctl_volume *v,
	      struct ctl_server **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->v = *v;
	s->lfd = -1;
	s->wake[0] = s->wake[1] = -1;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	if (snprintf(s->dir, sizeof(s->dir), "%s", runtime_dir) >=
		    (int)sizeof(s->dir) ||
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", runtime_dir,
		     CTL_SOCKET_NAME) >= (int)sizeof(sa.sun_path)) {
		ret = -ENAMETOOLONG;
		goto out_free;
	}
	memcpy(s->path, sa.sun_path, sizeof(s->path));
	ret = mkdir_p(s->dir, &s->made_dir);
	if (ret)
		goto out_free;
	ret = claim_path(&sa);
	if (ret)
		goto out_dir;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		ret = -errno;
		goto out_dir;
	}
	/* Not umask(): it is per process, and the lower layer creates files
	 * meanwhile. Until the chmod the socket has the umask's mode (never
	 * writable by others with the usual 022, and connecting needs write);
	 * the SO_PEERCRED check is the real gate in any case. */
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		goto out_sock;
	}
	if (chmod(sa.sun_path, 0600) || listen(s->lfd, 16)) {
		ret = -errno;
		goto out_unlink;
	}
	if (pipe2(s->wake, O_CLOEXEC)) {
		ret = -errno;
		goto out_unlink;
	}
	ret = -pthread_create(&s->thread, NULL, ctl_thread, s);
	if (ret)
		goto out_pipe;
	*out = s;
	return 0;

out_pipe:
	close(s->wake[0]);
	close(s->wake[1]);
out_unlink:
	unlink(s->path);
out_sock:
	close(s->lfd);
out_dir:
	rmdir(s->dir);		/* only if empty: the ports may be there */
out_free:
	free(s);
	return ret;
}

void ctl_stop(struct ctl_server *s)
{
	if (!s)
		return;
	if (write(s->wake[1], "x", 1) != 1) {
		/* a pipe with room: cannot fail; join anyway */
	}
	pthread_join(s->thread, NULL);
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(&s->clients[i]);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	unlink(s->path);
	/* ENOTEMPTY while ports are still there: their owner removes it */
	rmdir(s->dir);
	free(s);
}
