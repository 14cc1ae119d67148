/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The I/O thread: one epoll set for every listening socket and every
 * connection of every port. It alone accepts, reads and closes sockets,
 * so an epoll event can never name a freed object: objects it releases
 * are put only after the whole batch of events is handled. */
#include "port/port_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct io_job {
	struct io_job *next;
	void (*fn)(void *);
	void *arg;
	bool wait, done;
};

static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static int io_err;
static int epfd = -1;
static int wakefd = -1;
static pthread_t io_thread;
static struct port_ep wake_ep = { EP_WAKE };
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_cond = PTHREAD_COND_INITIALIZER;
static struct io_job *jobs, **jobs_tail = &jobs;	/* job_lock */
static struct port_conn *graveyard;	/* I/O thread only */

void port_io_defer_put(struct port_conn *c)
{
	c->grave_next = graveyard;
	graveyard = c;
}

static void run_jobs(void)
{
	struct io_job *j;
	uint64_t v;

	if (read(wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&job_lock);
	while ((j = jobs)) {
		jobs = j->next;
		if (!jobs)
			jobs_tail = &jobs;
		pthread_mutex_unlock(&job_lock);
		j->fn(j->arg);
		pthread_mutex_lock(&job_lock);
		if (j->wait) {
			j->done = true;
			pthread_cond_broadcast(&job_cond);
		} else {
			free(j);
		}
	}
	pthread_mutex_unlock(&job_lock);
}

static void *io_main(void *unused)
{
	struct epoll_event ev[64];

	for (;;) {
		int hs = port_hs_wait_ms(), ac = port_accept_wait_ms();
		int n = epoll_wait(epfd, ev, 64,
				   hs < 0 || (ac >= 0 && ac < hs) ? ac : hs);

		for (int i = 0; i < n; i++) {
			struct port_ep *ep = ev[i].data.ptr;

			if (ep->kind == EP_WAKE)
				continue;	/* after the batch */
			if (ep->kind == EP_LISTEN)
				port_accept((struct port_server *)ep);
			else
				port_conn_event((struct port_conn *)ep,
						ev[i].events);
		}
		/* jobs last: a job may release what this batch named */
		for (int i = 0; i < n; i++)
			if (((struct port_ep *)ev[i].data.ptr)->kind == EP_WAKE)
				run_jobs();
		port_hs_expire();
		port_accept_resume();
		while (graveyard) {
			struct port_conn *c = graveyard;

			graveyard = c->grave_next;
			port_conn_put(c);
		}
	}
	return NULL;
}

/* Threads of the port layer take no signals: the daemon's handlers run
 * on its own threads. */
int port_thread_create(pthread_t *t, void *(*fn)(void *))
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(t, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret)
		pthread_detach(*t);
	return ret;
}

static void io_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (epfd < 0 || wakefd < 0) {
		io_err = -errno;
		return;
	}
	io_err = port_io_add(wakefd, &wake_ep, EPOLLIN);
	if (!io_err)
		io_err = port_cb_start();
	if (!io_err)
		io_err = port_thread_create(&io_thread, io_main);
}

int port_io_start(void)
{
	pthread_once(&io_once, io_init);
	return io_err;
}

int port_io_add(int fd, struct port_ep *ep, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ep };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void port_io_mod(int fd, struct port_ep *ep, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ep };

	epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

void port_io_del(int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void enqueue(struct io_job *j)
{
	uint64_t one = 1;

	pthread_mutex_lock(&job_lock);
	*jobs_tail = j;
	jobs_tail = &j->next;
	pthread_mutex_unlock(&job_lock);
	/* cannot fail short of a counter overflow: EAGAIN still wakes */
	(void)!write(wakefd, &one, sizeof(one));
}

void port_io_call(void (*fn)(void *), void *arg)
{
	struct io_job j = { .fn = fn, .arg = arg, .wait = true };

	if (pthread_equal(pthread_self(), io_thread)) {
		fn(arg);
		return;
	}
	enqueue(&j);
	pthread_mutex_lock(&job_lock);
	while (!j.done)
		pthread_cond_wait(&job_cond, &job_lock);
	pthread_mutex_unlock(&job_lock);
}

int port_io_post(void (*fn)(void *), void *arg)
{
	struct io_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	enqueue(j);
	return 0;
}
