/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control channel of a volume's daemon: what `fsfilter status`, `load`,
 * `attach`, `detach` and `unload` talk to.
 *
 * A Unix stream socket <runtime dir>/control (mode 0600; the directory is
 * shared with the communication ports of src/port, whoever comes first
 * creates it). Protocol: JSON lines, one request object per line, one
 * response object per line, in order, on the same connection:
 *
 *   {"cmd":"status"}
 *   {"cmd":"load","path":"/abs/x.so","altitude":0,"args":"","name":"x"}
 *     ("name" optional: the filter the file must register, else refused)
 *   {"cmd":"attach","name":"hello","altitude":0,"args":""}
 *   {"cmd":"detach","name":"hello","force":false}
 *   {"cmd":"unload","name":"hello","force":false}
 *
 * Every response has "ok" (bool); failures add "error" (one line saying
 * what went wrong and what to do) and "errno" (the symbolic name, e.g.
 * "EBUSY"). The status response: docs/writing-a-filter.md, "Inspecting".
 *
 * Only root and the uid that mounted the volume (SO_PEERCRED) are served;
 * anyone else gets one refusal line and the connection is closed.
 *
 * Threads: one thread of its own serves every connection (never a FUSE
 * worker: a detach that waits for operations to drain must not hold up
 * the operations it waits for).
 */
#ifndef FSFILTER_CONTROL_CTL_H
#define FSFILTER_CONTROL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct flt_volume;
struct lower_fs;
struct json_object;
struct ctl_server;

/* The volume a control server serves. Strings are borrowed for the
 * server's life. */
struct ctl_volume {
	struct flt_volume *vol;
	struct lower_fs *lower;		/* NULL: no lower counts in status */
	const char *mountpoint;
	const char *lower_path;
	uid_t owner;			/* may use the channel besides root */
	bool fault_injection;		/* accept "fault" requests (tests;
					   mount --enable-fault-injection) */
};

#define CTL_SOCKET_NAME "control"
/* Longest request line accepted. */
#define CTL_MAX_LINE (64u * 1024u)

/* Create @runtime_dir if needed (mkdir -p; an existing one is fine), bind
 * <runtime_dir>/control and start the control thread. -EADDRINUSE if a
 * live daemon already serves that socket; -ENAMETOOLONG if the path does
 * not fit a socket address. */
int ctl_start(const char *runtime_dir, const struct ctl_volume *v,
	      struct ctl_server **out);
/* Stop the thread, close every connection, remove the socket and the
 * runtime directory (unless other files are still in it). */
void ctl_stop(struct ctl_server *s);

/* Run one request (a parsed JSON object) against @v and return the
 * response object (never NULL except out of memory). For the server and
 * the unit tests. */
struct json_object *ctl_handle(const struct ctl_volume *v,
			       struct json_object *req);

/* ---- client side (the CLI) ---- */

/* How long the CLI waits for a daemon by default (fsfilter --timeout-ctl). */
#define CTL_TIMEOUT_MS_DEFAULT 5000
#define CTL_TIMEOUT_MS_CHANGE 60000

/* Send @req to the control socket at @path and read one response.
 * Returns 0 and the response in @resp, or a negative errno with a
 * message in @err (no such socket, permission denied, bad response).
 * @timeout_ms (< 0: no bound) bounds the whole call: connect (a stopped
 * daemon's full backlog blocks it), send and the wait for the answer
 * line. -ETIMEDOUT if the daemon did not answer in time: it is stopped,
 * hung, or busy with another client's request (one control thread serves
 * them all; a detach waits for the instance's operations to drain). */
int ctl_call(const char *path, struct json_object *req,
	     struct json_object **resp, char *err, size_t errlen,
	     int timeout_ms);

/* errno <-> name, for "errno" fields */
const char *ctl_errno_name(int err);

#endif /* FSFILTER_CONTROL_CTL_H */
