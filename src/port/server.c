/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Server ports: create the listening socket with its owner and mode,
 * stop listening, and the list of this process's ports. */
#include "port/port_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static struct port_server *servers;	/* port_lock */

static bool valid_name(const char *name)
{
	size_t n = 0;

	for (const char *p = name; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		      *p == '-'))
			return false;
	return n >= 1 && n <= 63 && strcmp(name, ".") && strcmp(name, "..");
}

static int copy_security(struct port_server *srv,
			 const struct flt_port_security *sec)
{
	srv->owner = geteuid();
	srv->group = getegid();
	srv->mode = 0600;
	if (!sec)
		return 0;
	srv->owner = sec->owner;
	srv->group = sec->group;
	if (sec->mode)
		srv->mode = sec->mode & 0777;
	if (sec->n_allowed_uids) {
		srv->uids = malloc(sec->n_allowed_uids * sizeof(uid_t));
		if (!srv->uids)
			return -ENOMEM;
		memcpy(srv->uids, sec->allowed_uids,
		       sec->n_allowed_uids * sizeof(uid_t));
		srv->nuids = sec->n_allowed_uids;
	}
	if (sec->n_allowed_gids) {
		srv->gids = malloc(sec->n_allowed_gids * sizeof(gid_t));
		if (!srv->gids)
			return -ENOMEM;
		memcpy(srv->gids, sec->allowed_gids,
		       sec->n_allowed_gids * sizeof(gid_t));
		srv->ngids = sec->n_allowed_gids;
	}
	return 0;
}

/* Bind @fd to srv->path; a socket left by a dead process is replaced, a
 * live one is -EEXIST. Under port_lock. */
static int bind_socket(struct port_server *srv, int fd)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct stat st;
	int ret;

	ret = port_rundir_sockaddr(srv->path, &sun, &len);
	if (ret)
		return ret;
	/* the file bind makes takes the socket inode's mode (minus the
	 * umask): never more open than asked, even for an instant */
	if (fchmod(fd, srv->mode))
		return -errno;
	for (int tries = 0; bind(fd, (struct sockaddr *)&sun, len); tries++) {
		int probe;

		if (errno != EADDRINUSE || tries)
			return errno == EADDRINUSE ? -EEXIST : -errno;
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return -errno;
		ret = connect(probe, (struct sockaddr *)&sun, len);
		ret = ret && errno == ECONNREFUSED;
		close(probe);
		if (!ret || lstat(srv->path, &st) || !S_ISSOCK(st.st_mode))
			return -EEXIST;
		unlink(srv->path);	/* stale: its daemon is gone */
	}
	if (lchown(srv->path, srv->owner, srv->group) ||
	    chmod(srv->path, srv->mode) || lstat(srv->path, &st)) {
		ret = -errno;
		unlink(srv->path);
		return ret;
	}
	srv->ino = st.st_ino;
	return 0;
}

int port_server_create(const char *name, const struct flt_port_security *sec,
		       void *server_cookie, const struct port_callbacks *cb,
		       unsigned max_connections, struct port_server **out)
{
	struct port_server *srv;
	int ret;

	if (!name || !valid_name(name) || !cb || !out || !max_connections)
		return -EINVAL;
	ret = port_io_start();
	if (ret)
		return ret;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->ep.kind = EP_LISTEN;
	atomic_init(&srv->refs, 1);
	srv->fd = -1;
	snprintf(srv->name, sizeof(srv->name), "%s", name);
	srv->cookie = server_cookie;
	srv->cb = *cb;
	srv->max_conns = max_connections;
	ret = copy_security(srv, sec);
	if (ret)
		goto out_free;

	pthread_mutex_lock(&port_lock);
	ret = port_rundir_path(name, srv->path, sizeof(srv->path));
	if (ret)
		goto out_unlock;
	for (struct port_server *s = servers; s; s = s->next)
		if (!strcmp(s->name, name)) {
			ret = -EEXIST;
			goto out_unlock;
		}
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (srv->fd < 0) {
		ret = -errno;
		goto out_unlock;
	}
	ret = bind_socket(srv, srv->fd);
	if (ret)
		goto out_close;
	if (listen(srv->fd, 128)) {
		ret = -errno;
		goto out_unlink;
	}
	ret = port_io_add(srv->fd, &srv->ep, EPOLLIN);
	if (ret)
		goto out_unlink;
	srv->listening = true;
	srv->next = servers;
	servers = srv;
	pthread_mutex_unlock(&port_lock);
	*out = srv;
	return 0;

out_unlink:
	unlink(srv->path);
out_close:
	close(srv->fd);
out_unlock:
	pthread_mutex_unlock(&port_lock);
out_free:
	srv->cb.release = NULL;	/* the caller still owns its cookie */
	port_server_put(srv);
	return ret;
}

/* I/O thread: no event can name the listening socket after this. */
static void stop_listening_io(void *arg)
{
	struct port_server *srv = arg;
	struct stat st;

	port_io_del(srv->fd);
	close(srv->fd);
	srv->fd = -1;
	/* remove the file only if it is still the one we made */
	if (!lstat(srv->path, &st) && S_ISSOCK(st.st_mode) &&
	    st.st_ino == srv->ino)
		unlink(srv->path);
}

/* Take @srv off the list; true if it was still listening. port_lock. */
static bool unlist_locked(struct port_server *srv)
{
	struct port_server **pp;

	if (!srv->listening)
		return false;
	for (pp = &servers; *pp != srv; pp = &(*pp)->next)
		;
	*pp = srv->next;
	srv->listening = false;
	atomic_store(&srv->closed, true);
	return true;
}

void port_server_close(struct port_server *srv)
{
	bool was;

	if (!srv)
		return;
	pthread_mutex_lock(&port_lock);
	was = unlist_locked(srv);
	pthread_mutex_unlock(&port_lock);
	if (was)
		port_io_call(stop_listening_io, srv);
	port_server_put(srv);	/* the owner's reference */
}

void port_cleanup_runtime_dir(void)
{
	for (;;) {
		struct port_server *srv;

		pthread_mutex_lock(&port_lock);
		srv = servers;
		if (srv) {
			unlist_locked(srv);
			atomic_fetch_add(&srv->refs, 1);
		}
		pthread_mutex_unlock(&port_lock);
		if (!srv)
			break;
		/* the owner still holds (and later closes) the server */
		port_io_call(stop_listening_io, srv);
		port_server_put(srv);
	}
	pthread_mutex_lock(&port_lock);
	port_rundir_forget_locked();
	pthread_mutex_unlock(&port_lock);
}
