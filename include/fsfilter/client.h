/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file client.h
 * @brief libfsfilter-client: the user-mode side of communication ports
 * (FilterConnectCommunicationPort, FilterGetMessage, FilterReplyMessage,
 * FilterSendMessage).
 *
 * Errors are negative errno values. Every function is thread-safe: one
 * thread may wait in fltc_get_message() while others send and reply on the
 * same port.
 */
#ifndef FSFILTER_CLIENT_H
#define FSFILTER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FLTC_API __attribute__((visibility("default")))
#else
#define FLTC_API
#endif

struct fltc_port;

/** One message from the filter (flt_send_message). */
struct fltc_message {
	uint64_t id;		/**< pass to fltc_reply_message */
	int reply_expected;	/**< the filter waits for a reply */
	size_t len;		/**< bytes in data */
	void *data;		/**< the caller's buffer */
};

/** Connect to port @p port_name of the volume mounted at @p mountpoint
 *  (the runtime directory is found from the mount point). @p context is
 *  handed to the filter's connect callback. Errors: -ENOENT (no such
 *  volume or port), -EACCES (not allowed), -EBUSY (too many clients), the
 *  filter's own refusal, -ETIMEDOUT. */
FLTC_API int fltc_connect(const char *mountpoint, const char *port_name,
			  const void *context, size_t context_len,
			  int timeout_ms, struct fltc_port **out);
/** The same with the socket path itself. */
FLTC_API int fltc_connect_path(const char *socket_path, const void *context,
			       size_t context_len, int timeout_ms,
			       struct fltc_port **out);
/** Wait up to @p timeout_ms (< 0: forever, 0: poll) for a message; its
 *  payload goes to @p buf (@p buf_len bytes; -EMSGSIZE if it does not fit:
 *  the message is dropped, and a reply-expecting sender gets -EMSGSIZE).
 *  Returns 0, -ETIMEDOUT, -ECONNRESET. */
FLTC_API int fltc_get_message(struct fltc_port *port, void *buf,
			      size_t buf_len, struct fltc_message *msg,
			      int timeout_ms);
/** Reply to message @p id. */
FLTC_API int fltc_reply_message(struct fltc_port *port, uint64_t id,
				const void *reply, size_t len);
/** Send to the filter's message callback and wait for its answer. */
FLTC_API int fltc_send_message(struct fltc_port *port, const void *in,
			       size_t in_len, void *out, size_t out_len,
			       size_t *out_returned, int timeout_ms);
/** A file descriptor that polls readable when fltc_get_message() would
 *  not block (for event loops). Owned by the port. */
FLTC_API int fltc_get_fd(struct fltc_port *port);
FLTC_API void fltc_close(struct fltc_port *port);

/** The runtime directory the daemon of @p mountpoint uses for its ports
 *  and control socket; writes it to @p buf. */
FLTC_API int fltc_runtime_dir(const char *mountpoint, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* FSFILTER_CLIENT_H */
