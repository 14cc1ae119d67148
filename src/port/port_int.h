/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to src/port. See port.h for threads and lock order. */
#ifndef FSFILTER_PORT_INT_H
#define FSFILTER_PORT_INT_H

#include "port/frame.h"
#include "port/port.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <syslog.h>

/* What an epoll event's data.ptr points at. */
enum port_ep_kind { EP_WAKE, EP_LISTEN, EP_CONN };
struct port_ep {
	enum port_ep_kind kind;
};

struct port_server {
	struct port_ep ep;		/* EP_LISTEN */
	atomic_int refs;		/* owner + one per connection */
	int fd;				/* listening; closed by the I/O thread */
	char name[64];
	char path[PATH_MAX];
	uid_t owner;
	gid_t group;
	mode_t mode;
	uid_t *uids;			/* copies of the allowed lists */
	size_t nuids;
	gid_t *gids;
	size_t ngids;
	void *cookie;
	struct port_callbacks cb;
	unsigned max_conns;
	unsigned nconns;		/* I/O thread only */
	int64_t accept_retry;		/* I/O thread only: out of the epoll
					   set until then (0: not paused) */
	struct port_server *paused_next;	/* accept_pause.c's list */
	atomic_bool closed;
	bool listening;			/* port_lock */
	ino_t ino;			/* of the socket file we made */
	struct port_server *next;	/* server list, port_lock */
};

/* One queued filter -> client frame (header included). */
struct port_out {
	struct port_out *next;
	size_t len, off;
	unsigned char data[];
};

/* A sender waiting for a reply. Lives on the sender's stack. */
struct port_waiter {
	struct port_waiter *next;
	uint64_t id;
	void *out;
	size_t cap, len;
	int status;
	bool done;
	pthread_cond_t cond;
};

enum conn_state {
	CONN_HANDSHAKE,		/* waiting for the CONNECT frame */
	CONN_CONNECTING,	/* connect callback queued or running */
	CONN_OPEN,
	CONN_REFUSED,		/* error frame queued, closing after it */
};

struct port_conn {
	struct port_ep ep;		/* EP_CONN */
	atomic_int refs;		/* I/O thread + queued callback items +
					   pending kicks */
	struct port_server *srv;	/* holds a server reference */
	struct flt_port_peer peer;
	int fd;				/* closed only by the I/O thread */
	bool counted;			/* in srv->nconns; I/O thread only */

	pthread_mutex_t lock;
	/* protected by lock: */
	pthread_cond_t cond;		/* queue space, users == 0 */
	enum conn_state state;
	bool dead;			/* no more sends, waiters released */
	bool fd_closed;
	bool accepted;			/* the connect callback said yes */
	bool close_after_flush;
	bool want_out;			/* EPOLLOUT armed */
	bool rd_paused;			/* too many sends in flight */
	struct port_out *qhead, *qtail;
	size_t qframes, qbytes;
	size_t qframes_peak, qbytes_peak;	/* largest ever (tests) */
	unsigned long drops;		/* sends refused -EAGAIN: full */
	struct port_waiter *waiters;
	uint64_t next_id;
	unsigned users;			/* threads inside port_send */
	unsigned inflight;		/* SEND frames not yet answered */
	void *cookie;			/* the connect callback's */

	/* I/O thread only: the partial input frame */
	unsigned char *in;
	size_t in_len;
	struct port_conn *grave_next;	/* put after the epoll batch */
	/* I/O thread only: on the handshake list until the CONNECT frame */
	bool hs_listed;
	int64_t hs_deadline;		/* CLOCK_MONOTONIC ms */
	struct port_conn *hs_prev, *hs_next;
};

extern pthread_mutex_t port_lock;

/* io.c: the I/O thread */
int port_io_start(void);
int port_io_add(int fd, struct port_ep *ep, uint32_t events);
void port_io_mod(int fd, struct port_ep *ep, uint32_t events);
void port_io_del(int fd);
/* Run @fn(@arg) on the I/O thread: port_io_call waits for it,
 * port_io_post does not. */
void port_io_call(void (*fn)(void *), void *arg);
int port_io_post(void (*fn)(void *), void *arg);
/* I/O thread: drop the I/O thread's reference on @c after this batch */
void port_io_defer_put(struct port_conn *c);
/* a detached thread with every signal blocked */
int port_thread_create(pthread_t *t, void *(*fn)(void *));

/* conn.c */
void port_accept(struct port_server *srv);
void port_conn_event(struct port_conn *c, uint32_t events);
int port_conn_queue_locked(struct port_conn *c, const struct port_frame *f,
			   const void *payload, bool bypass_limit);
void port_conn_kill_locked(struct port_conn *c);
void port_conn_resume_locked(struct port_conn *c);
void port_conn_put(struct port_conn *c);
/* I/O thread: ms until the next handshake deadline (-1: none), and close
 * every connection past its deadline. */
int port_hs_wait_ms(void);
void port_hs_expire(void);
void port_server_put(struct port_server *srv);

/* accept_pause.c (I/O thread): accept(2) failed with @err; if for want of
 * fds or memory, take @srv's listener out of the epoll set for
 * PORT_ACCEPT_RETRY_MS and return true. */
#define PORT_ACCEPT_RETRY_MS 100u
bool port_accept_pause(struct port_server *srv, int err);
/* ms until a paused listener is due (-1: none); put the due ones back. */
int port_accept_wait_ms(void);
void port_accept_resume(void);

/* callback.c: the callback thread */
enum port_cb_kind { CB_CONNECT, CB_MESSAGE, CB_DISCONNECT };
int port_cb_start(void);
/* Queue a callback for @c (takes a reference on it); copies @data.
 * @reply_cap: CB_MESSAGE, the most reply bytes the client takes. */
int port_cb_queue(enum port_cb_kind kind, struct port_conn *c, uint64_t id,
		  uint32_t reply_cap, const void *data, size_t len);

/* send.c: a condition variable on CLOCK_MONOTONIC */
void port_cond_init(pthread_cond_t *cond);

/* security.c */
int port_peer_allowed(const struct port_server *srv, int fd,
		      const struct flt_port_peer *peer);

/* rundir.c */
int port_rundir_path(const char *name, char *buf, size_t len);
int port_rundir_sockaddr(const char *path, void *sun, socklen_t *sunlen);
void port_rundir_forget_locked(void);

#endif
