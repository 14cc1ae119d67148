/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libfsfilter-client: one Unix socket per port (docs/ports.md).
 *
 * Threads: any thread may read the socket, one at a time (the "reader",
 * port->reading). It parses whatever arrived and hands it out under
 * port->lock: filter messages to the stash that fltc_get_message() pops,
 * send results to the waiting fltc_send_message(). Threads that need
 * something while another reads wait on port->cond and take over when the
 * reader leaves. Writes are serialised by wlock, never under lock.
 *
 * Memory: the input buffer is one maximal frame; the stash holds at most
 * STASH_MAX messages (a thread that only sends while nobody gets
 * messages drops the excess; a filter waiting for a reply then times out).
 */
#include <fsfilter/client.h>
#include <fsfilter/filter.h>

#include "port/frame.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STASH_MAX 1024u
#define IN_CAP (PORT_HDR_SIZE + PORT_MAX_PAYLOAD)

struct stashed {
	struct stashed *next;
	uint64_t id;
	bool reply_expected;
	size_t len;
	unsigned char data[];
};

struct send_waiter {
	struct send_waiter *next;
	uint64_t id;
	void *out;
	size_t cap, len;
	int status;
	bool done;
};

struct fltc_port {
	int fd;
	pthread_mutex_t wlock;		/* one writer at a time */
	pthread_mutex_t lock;
	/* protected by lock: */
	pthread_cond_t cond;		/* reader left, results arrived */
	bool reading;
	int dead;			/* 0, or why (negative errno) */
	bool handshake_done;
	int connect_status;
	struct stashed *shead, *stail;
	size_t nstash;
	struct send_waiter *waiters;
	uint64_t next_id;
	int epfd, evfd;			/* fltc_get_fd, made on demand */
	/* the reader's only: */
	unsigned char *in;
	size_t in_len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: no deadline */
static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int remaining(int64_t deadline)
{
	int64_t r;

	if (deadline < 0)
		return -1;
	r = deadline - now_ms();
	return r < 0 ? 0 : r > INT_MAX ? INT_MAX : (int)r;
}

static void cond_wait_until(struct fltc_port *p, int64_t deadline)
{
	struct timespec ts;

	if (deadline < 0) {
		pthread_cond_wait(&p->cond, &p->lock);
		return;
	}
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000;
	pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static void mark_dead_locked(struct fltc_port *p, int why)
{
	struct send_waiter *w;

	if (p->dead)
		return;
	p->dead = why;
	for (w = p->waiters; w; w = w->next) {
		w->status = why;
		w->done = true;
	}
	p->waiters = NULL;
	shutdown(p->fd, SHUT_RDWR);
	if (p->evfd >= 0)	/* pollers must come and see */
		eventfd_write(p->evfd, 1);
	pthread_cond_broadcast(&p->cond);
}

static void stash_locked(struct fltc_port *p, const struct port_frame *f,
			 const unsigned char *payload)
{
	struct stashed *s;

	if (p->nstash >= STASH_MAX)
		return;		/* see the memory note above */
	s = malloc(sizeof(*s) + f->len);
	if (!s)
		return;
	s->next = NULL;
	s->id = f->id;
	s->reply_expected = f->flags & PORT_FF_REPLY_EXPECTED;
	s->len = f->len;
	memcpy(s->data, payload, f->len);
	if (p->stail)
		p->stail->next = s;
	else
		p->shead = s;
	p->stail = s;
	if (!p->nstash++ && p->evfd >= 0)
		eventfd_write(p->evfd, 1);
}

/* One complete frame, under lock. */
static void dispatch_locked(struct fltc_port *p, const struct port_frame *f,
			    const unsigned char *payload)
{
	struct send_waiter *w, **pp;

	if (f->type == PORT_F_CONNECT_RESULT) {
		if (p->handshake_done) {
			mark_dead_locked(p, -EPROTO);
			return;
		}
		p->handshake_done = true;
		p->connect_status = f->status;
	} else if (!p->handshake_done) {
		mark_dead_locked(p, -EPROTO);
	} else if (f->type == PORT_F_MESSAGE) {
		stash_locked(p, f, payload);
	} else {		/* PORT_F_SEND_RESULT */
		for (pp = &p->waiters; (w = *pp); pp = &w->next)
			if (w->id == f->id)
				break;
		if (!w)
			return;	/* its sender timed out */
		*pp = w->next;
		w->status = f->status;
		w->len = f->len < w->cap ? f->len : w->cap;
		if (w->len)
			memcpy(w->out, payload, w->len);
		w->done = true;
	}
}

/* Called with lock held and nobody reading: become the reader, wait up
 * to @deadline for input, hand out every complete frame. Returns with
 * lock held, 0 or -ETIMEDOUT. */
static int read_some(struct fltc_port *p, int64_t deadline)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	int ret = 0, why = 0, n;
	ssize_t got = 0;

	p->reading = true;
	pthread_mutex_unlock(&p->lock);
	n = poll(&pfd, 1, remaining(deadline));
	if (n == 0)
		ret = -ETIMEDOUT;
	else if (n > 0) {
		got = recv(p->fd, p->in + p->in_len, IN_CAP - p->in_len,
			   MSG_DONTWAIT);
		if (got == 0)
			why = -ECONNRESET;
		else if (got < 0 && errno != EAGAIN && errno != EINTR)
			why = -errno == -EPIPE ? -ECONNRESET : -errno;
		else if (got > 0)
			p->in_len += (size_t)got;
	}
	pthread_mutex_lock(&p->lock);
	for (size_t used = 0;;) {
		struct port_frame f;
		ssize_t fl = port_frame_parse(p->in + used, p->in_len - used,
					      PORT_DIR_TO_CLIENT, &f);

		if (fl < 0) {
			why = -EPROTO;	/* a broken daemon: give up */
			p->in_len = 0;
			break;
		}
		if (fl == 0) {
			memmove(p->in, p->in + used, p->in_len - used);
			p->in_len -= used;
			break;
		}
		dispatch_locked(p, &f, p->in + used + PORT_HDR_SIZE);
		used += (size_t)fl;
	}
	if (why)
		mark_dead_locked(p, why);
	p->reading = false;
	pthread_cond_broadcast(&p->cond);
	return ret;
}

/* Write one whole frame. A frame is never left half written: if the
 * deadline passes mid-frame the port is broken (-ETIMEDOUT). */
static int write_frame(struct fltc_port *p, const struct port_frame *f,
		       const void *payload, int64_t deadline)
{
	unsigned char hdr[PORT_HDR_SIZE];
	size_t total = PORT_HDR_SIZE + f->len, off = 0;
	int ret = 0;

	port_frame_encode(f, hdr);
	pthread_mutex_lock(&p->wlock);
	while (off < total) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov };
		struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
		ssize_t n;

		if (off < PORT_HDR_SIZE) {
			iov[0] = (struct iovec){ hdr + off, PORT_HDR_SIZE - off };
			iov[1] = (struct iovec){ (void *)payload, f->len };
			mh.msg_iovlen = f->len ? 2 : 1;
		} else {
			iov[0] = (struct iovec){
				(unsigned char *)payload + off - PORT_HDR_SIZE,
				total - off };
			mh.msg_iovlen = 1;
		}
		n = sendmsg(p->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			ret = errno == EPIPE ? -ECONNRESET : -errno;
			break;
		}
		n = poll(&pfd, 1, remaining(deadline));
		if (n == 0) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->wlock);
	if (ret && off) {
		pthread_mutex_lock(&p->lock);
		mark_dead_locked(p, ret);
		pthread_mutex_unlock(&p->lock);
	}
	return ret;
}

static int sockaddr_for(const char *path, struct sockaddr_un *sun, int *dfd)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	*dfd = -1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) < sizeof(sun->sun_path)) {
		strcpy(sun->sun_path, path);
		return 0;
	}
	/* too long for sun_path: go through the directory's fd */
	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*dfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return -errno;
	if (snprintf(sun->sun_path, sizeof(sun->sun_path),
		     "/proc/self/fd/%d/%s", *dfd, slash + 1) >=
	    (int)sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int open_socket(const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	int fd, dfd, ret;

	ret = sockaddr_for(path, &sun, &dfd);
	if (ret)
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (timeout_ms > 0) {	/* a full backlog blocks connect(2) */
		struct timeval tv = { timeout_ms / 1000,
				      (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT
							      : -errno;
		close(fd);
		goto out;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ret = fd;
out:
	if (dfd >= 0)
		close(dfd);
	return ret;
}

int fltc_connect_path(const char *socket_path, const void *context,
		      size_t context_len, int timeout_ms, struct fltc_port **out)
{
	struct port_frame f = { .type = PORT_F_CONNECT,
				.len = (uint32_t)context_len };
	int64_t deadline = deadline_of(timeout_ms);
	struct fltc_port *p;
	int ret, wret;

	if (!socket_path || !out || (context_len && !context))
		return -EINVAL;
	if (context_len > PORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->epfd = p->evfd = -1;
	pthread_mutex_init(&p->wlock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	{
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&p->cond, &a);
		pthread_condattr_destroy(&a);
	}
	p->in = malloc(IN_CAP);
	if (!p->in) {
		ret = -ENOMEM;
		goto out_free;
	}
	p->fd = open_socket(socket_path, timeout_ms);
	if (p->fd < 0) {
		ret = p->fd;
		goto out_free;
	}
	/* a refused client may find the socket closed before it could
	 * write: the answer is still there to read, so read on */
	wret = write_frame(p, &f, context, deadline);
	pthread_mutex_lock(&p->lock);
	while (!p->handshake_done && !p->dead)
		if (read_some(p, deadline) == -ETIMEDOUT)
			break;
	ret = p->handshake_done ? p->connect_status
	      : p->dead	       ? (wret ? wret : p->dead)
	      : wret	       ? wret
			       : -ETIMEDOUT;
	pthread_mutex_unlock(&p->lock);
	if (ret)
		goto out_close;
	*out = p;
	return 0;

out_close:
	close(p->fd);
out_free:
	free(p->in);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->wlock);
	free(p);
	return ret;
}

int fltc_connect(const char *mountpoint, const char *port_name,
		 const void *context, size_t context_len, int timeout_ms,
		 struct fltc_port **out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int ret;

	if (!mountpoint || !port_name || !port_name[0] ||
	    strchr(port_name, '/'))
		return -EINVAL;
	ret = fltc_runtime_dir(mountpoint, dir, sizeof(dir));
	if (ret)
		return ret;
	if (snprintf(path, sizeof(path), "%s/%s", dir, port_name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return fltc_connect_path(path, context, context_len, timeout_ms, out);
}

static struct stashed *pop_locked(struct fltc_port *p)
{
	struct stashed *s = p->shead;
	eventfd_t v;

	p->shead = s->next;
	if (!p->shead) {
		p->stail = NULL;
		if (p->evfd >= 0 && !p->dead)
			eventfd_read(p->evfd, &v);
	}
	p->nstash--;
	return s;
}

int fltc_get_message(struct fltc_port *port, void *buf, size_t buf_len,
		     struct fltc_message *msg, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct stashed *s = NULL;
	int ret = 0;

	if (!port || !msg || (buf_len && !buf))
		return -EINVAL;
	pthread_mutex_lock(&port->lock);
	while (!port->shead) {
		if (port->dead) {
			ret = -ECONNRESET;
			break;
		}
		if (!port->reading) {
			if (read_some(port, deadline) == -ETIMEDOUT &&
			    !port->shead) {
				ret = -ETIMEDOUT;
				break;
			}
		} else if (remaining(deadline) == 0) {
			ret = -ETIMEDOUT;
			break;
		} else {
			cond_wait_until(port, deadline);
		}
	}
	if (!ret)
		s = pop_locked(port);
	pthread_mutex_unlock(&port->lock);
	if (ret)
		return ret;
	if (s->len > buf_len) {
		/* dropped; the filter learns why instead of timing out */
		if (s->reply_expected) {
			struct port_frame f = { .type = PORT_F_REPLY,
						.id = s->id,
						.status = -EMSGSIZE };

			write_frame(port, &f, NULL, deadline_of(1000));
		}
		free(s);
		return -EMSGSIZE;
	}
	if (s->len)
		memcpy(buf, s->data, s->len);
	msg->id = s->id;
	msg->reply_expected = s->reply_expected;
	msg->len = s->len;
	msg->data = buf;
	free(s);
	return 0;
}

int fltc_reply_message(struct fltc_port *port, uint64_t id, const void *reply,
		       size_t len)
{
	struct port_frame f = { .type = PORT_F_REPLY, .id = id,
				.len = (uint32_t)len };

	if (!port || !id || (len && !reply))
		return -EINVAL;
	if (len > PORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	pthread_mutex_lock(&port->lock);
	if (port->dead) {
		pthread_mutex_unlock(&port->lock);
		return -ECONNRESET;
	}
	pthread_mutex_unlock(&port->lock);
	return write_frame(port, &f, reply, -1);
}

static void unlink_waiter_locked(struct fltc_port *p, struct send_waiter *w)
{
	for (struct send_waiter **pp = &p->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

int fltc_send_message(struct fltc_port *port, const void *in, size_t in_len,
		      void *out, size_t out_len, size_t *out_returned,
		      int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct send_waiter w = { .out = out, .cap = out ? out_len : 0 };
	struct port_frame f = { .type = PORT_F_SEND, .len = (uint32_t)in_len };
	int ret;

	if (!port || (in_len && !in))
		return -EINVAL;
	if (in_len > PORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (out_returned)
		*out_returned = 0;
	f.flags = (uint32_t)(w.cap < PORT_MAX_PAYLOAD ? w.cap
						       : PORT_MAX_PAYLOAD);
	pthread_mutex_lock(&port->lock);
	if (port->dead) {
		pthread_mutex_unlock(&port->lock);
		return -ECONNRESET;
	}
	f.id = w.id = ++port->next_id;
	w.next = port->waiters;
	port->waiters = &w;
	pthread_mutex_unlock(&port->lock);

	ret = write_frame(port, &f, in, deadline);
	pthread_mutex_lock(&port->lock);
	if (ret && !w.done) {
		unlink_waiter_locked(port, &w);
		goto out_unlock;
	}
	while (!w.done) {
		if (!port->reading) {
			if (read_some(port, deadline) == -ETIMEDOUT &&
			    !w.done) {
				unlink_waiter_locked(port, &w);
				ret = -ETIMEDOUT;
				goto out_unlock;
			}
		} else if (remaining(deadline) == 0) {
			unlink_waiter_locked(port, &w);
			ret = -ETIMEDOUT;
			goto out_unlock;
		} else {
			cond_wait_until(port, deadline);
		}
	}
	ret = w.status;
	if (!ret && out_returned)
		*out_returned = w.len;
out_unlock:
	pthread_mutex_unlock(&port->lock);
	return ret;
}

int fltc_get_fd(struct fltc_port *port)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	if (!port)
		return -EINVAL;
	pthread_mutex_lock(&port->lock);
	if (port->epfd >= 0) {
		ret = port->epfd;
		goto out;
	}
	/* readable when the socket is, or when messages wait in the stash
	 * (a sender may have read them off the socket) */
	port->evfd = eventfd(port->nstash || port->dead ? 1 : 0,
			     EFD_CLOEXEC | EFD_NONBLOCK);
	port->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (port->evfd < 0 || port->epfd < 0 ||
	    epoll_ctl(port->epfd, EPOLL_CTL_ADD, port->fd, &ev) ||
	    epoll_ctl(port->epfd, EPOLL_CTL_ADD, port->evfd, &ev)) {
		ret = -errno;
		if (port->evfd >= 0)
			close(port->evfd);
		if (port->epfd >= 0)
			close(port->epfd);
		port->evfd = port->epfd = -1;
		goto out;
	}
	ret = port->epfd;
out:
	pthread_mutex_unlock(&port->lock);
	return ret;
}

void fltc_close(struct fltc_port *port)
{
	struct stashed *s;

	if (!port)
		return;
	close(port->fd);
	if (port->epfd >= 0)
		close(port->epfd);
	if (port->evfd >= 0)
		close(port->evfd);
	while ((s = port->shead)) {
		port->shead = s->next;
		free(s);
	}
	free(port->in);
	pthread_cond_destroy(&port->cond);
	pthread_mutex_destroy(&port->lock);
	pthread_mutex_destroy(&port->wlock);
	free(port);
}
