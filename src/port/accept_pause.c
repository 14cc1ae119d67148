/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* When accept(2) fails for want of fds or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM), the connection stays in the listen backlog and the
 * level-triggered listening socket stays readable: the I/O thread would
 * spin on it, logging each time, while nothing can change until some fd
 * is closed. So the listener leaves the epoll set for
 * PORT_ACCEPT_RETRY_MS and is tried again then. I/O thread only. */
#include "port/port_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static struct port_server *paused;	/* through srv->paused_next */
static atomic_ulong accept_failures;
static int64_t last_log;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned long port_accept_failures(void)
{
	return atomic_load(&accept_failures);
}

bool port_accept_pause(struct port_server *srv, int err)
{
	int64_t now = mono_ms();

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	atomic_fetch_add(&accept_failures, 1);
	if (now - last_log >= 10000) {	/* once in a while, not per retry */
		last_log = now;
		flt_log(LOG_WARNING, "port %s: accept: %s; retrying every %u ms",
			srv->name, strerror(err), PORT_ACCEPT_RETRY_MS);
	}
	if (srv->accept_retry)
		return true;	/* already off the epoll set */
	port_io_mod(srv->fd, &srv->ep, 0);
	srv->accept_retry = now + PORT_ACCEPT_RETRY_MS;
	atomic_fetch_add(&srv->refs, 1);	/* until it is back */
	srv->paused_next = paused;
	paused = srv;
	return true;
}

int port_accept_wait_ms(void)
{
	int64_t first = INT64_MAX, now;

	if (!paused)
		return -1;
	for (struct port_server *s = paused; s; s = s->paused_next)
		if (s->accept_retry < first)
			first = s->accept_retry;
	now = mono_ms();
	return first <= now ? 0 : (int)(first - now);
}

void port_accept_resume(void)
{
	int64_t now = mono_ms();
	struct port_server **pp = &paused, *s;

	while ((s = *pp)) {
		if (s->accept_retry > now) {
			pp = &s->paused_next;
			continue;
		}
		*pp = s->paused_next;
		s->accept_retry = 0;
		/* fd -1: the port was closed meanwhile (stop_listening_io) */
		if (s->fd >= 0)
			port_io_mod(s->fd, &s->ep, EPOLLIN);
		port_server_put(s);
	}
}
