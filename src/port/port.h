/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Server side of communication ports, not tied to filters: a named Unix
 * socket in the runtime directory, connections checked with SO_PEERCRED,
 * messages both ways (docs/ports.md). flt_create_communication_port() and
 * friends (filter_port.c) are thin wrappers; the daemon's own channels may
 * use it directly.
 *
 * Threads: one I/O thread (epoll) does every accept, read and close, and
 * one callback thread runs every callback, in order per connection, with
 * no port lock held. So a callback may call port_send() (even waiting for
 * a reply: replies are read by the I/O thread) but should not block long:
 * it delays the callbacks of every port. Sends write from the sending
 * thread when the connection's queue is empty, else queue (bounded).
 *
 * Lock order: port_lock (server list, runtime dir) -> conn->lock. Nothing
 * is held while waiting for a client.
 */
#ifndef FSFILTER_PORT_H
#define FSFILTER_PORT_H

#include <fsfilter/filter.h>

#include "port/frame.h"

#include <stddef.h>

struct port_server;
struct port_conn;

struct port_callbacks {
	/* the peer passed the security check and sent its context blob;
	 * return 0 (and set *conn_cookie) to accept, or a negative errno
	 * for the client's connect to fail with */
	int (*connect)(struct port_conn *conn, void *server_cookie,
		       const struct flt_port_peer *peer, const void *ctx,
		       size_t ctx_len, void **conn_cookie);
	/* an accepted connection is gone; every port_send() on it has
	 * returned; the conn is freed after this returns */
	void (*disconnect)(void *conn_cookie);
	/* a client's send; reply into out (out_len bytes) */
	int (*message)(void *conn_cookie, const void *in, size_t in_len,
		       void *out, size_t out_len, size_t *out_returned);
	/* the server and its last connection are gone (may be NULL) */
	void (*release)(void *server_cookie);
};

/* Per-connection limits (memory bound per client). */
#define PORT_QUEUE_MAX_FRAMES 64u	/* queued filter -> client frames */
#define PORT_QUEUE_MAX_BYTES (256u * 1024u)
#define PORT_MAX_INFLIGHT_SENDS 8u	/* client -> filter sends in the
					   callback queue; more: stop reading */
/* SEND_RESULT frames skip the queue limit (a callback's answer is never
 * dropped), but no SEND is taken while the queue is full, so the queue
 * holds at most this much (frames of at most PORT_HDR_SIZE +
 * PORT_MAX_PAYLOAD bytes): */
#define PORT_QUEUE_PEAK_FRAMES (PORT_QUEUE_MAX_FRAMES + PORT_MAX_INFLIGHT_SENDS)
#define PORT_QUEUE_PEAK_BYTES                                              \
	(PORT_QUEUE_MAX_BYTES +                                            \
	 PORT_MAX_INFLIGHT_SENDS * (size_t)(PORT_HDR_SIZE + PORT_MAX_PAYLOAD))
/* What one client can make the daemon allocate, at most: its input
 * buffer (one maximal frame), its queue, and its sends waiting in the
 * callback queue (copies of at most PORT_MAX_PAYLOAD bytes each); plus
 * per-allocation overhead (struct port_out, struct cb_item, malloc's
 * header), counted generously as 256 bytes per allocation. The kernel's
 * socket buffers are not in this. */
#define PORT_CLIENT_MEM_MAX                                                \
	((size_t)(PORT_HDR_SIZE + PORT_MAX_PAYLOAD) + PORT_QUEUE_PEAK_BYTES + \
	 PORT_MAX_INFLIGHT_SENDS * (size_t)PORT_MAX_PAYLOAD +              \
	 (PORT_QUEUE_PEAK_FRAMES + PORT_MAX_INFLIGHT_SENDS + 2) * 256u +    \
	 1024u /* struct port_conn */)

/* A client must send its CONNECT frame within this many ms of being
 * accepted, or it is closed: a client that connects and stays silent does
 * not keep a connection slot (max_connections) and an fd forever. */
#define PORT_HANDSHAKE_TIMEOUT_MS 5000u
/* Change it for connections accepted from now on (tests); 0: no limit. */
void port_set_handshake_timeout(unsigned ms);

/* Create and start listening on <runtime dir>/<name>. @sec NULL: owner
 * and group of the daemon, mode 0600. -ENOENT: no runtime directory set;
 * -EEXIST: the name is in use (here or by a live process); -EINVAL. */
int port_server_create(const char *name, const struct flt_port_security *sec,
		       void *server_cookie, const struct port_callbacks *cb,
		       unsigned max_connections, struct port_server **out);
/* Stop listening and remove the socket file; connected clients stay until
 * they close or are closed. Returns after the listening socket is gone. */
void port_server_close(struct port_server *srv);

/* Send to a connection (see flt_send_message for the contract). */
int port_send(struct port_conn *conn, const void *in, size_t in_len,
	      void *out, size_t *out_len, int timeout_ms);
/* Disconnect: waiting senders return -ECONNRESET now; the disconnect
 * callback follows on the callback thread. */
void port_conn_close(struct port_conn *conn);
/* Queue occupancy, for tests and status. */
void port_conn_queue_stats(struct port_conn *conn, size_t *frames,
			   size_t *bytes);
/* The largest the queue has been, and the flt_send_message calls (no
 * reply) refused with -EAGAIN because it was full. */
void port_conn_queue_peak(struct port_conn *conn, size_t *frames,
			  size_t *bytes, unsigned long *drops);

/* accept(2) failures for want of fds or memory so far (all ports): each
 * takes the listener out for PORT_ACCEPT_RETRY_MS instead of spinning. */
unsigned long port_accept_failures(void);

/* The runtime directory: created (0755 as root, else 0700, owned by the
 * daemon, never through a symlink), stale sockets of dead daemons
 * removed. Call before any server is created. */
int port_set_runtime_dir(const char *dir);
/* Close every server, remove their sockets, rmdir the directory if it is
 * empty. */
void port_cleanup_runtime_dir(void);
const char *port_runtime_dir(void);

#endif
