/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The filter API of communication ports (filter.h): thin wrappers over
 * the port server. A struct flt_client_port is a struct port_conn. */
#include "port/port.h"

#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

struct flt_port {
	struct port_server *srv;
	struct flt_filter *filter;
	void *cookie;
	flt_port_connect_callback connect;
};

static struct port_conn *to_conn(struct flt_client_port *client)
{
	return (struct port_conn *)client;
}

static int connect_adapter(struct port_conn *conn, void *server_cookie,
			   const struct flt_port_peer *peer, const void *ctx,
			   size_t ctx_len, void **conn_cookie)
{
	struct flt_port *fp = server_cookie;

	if (!fp->connect)
		return 0;
	return fp->connect((struct flt_client_port *)conn, fp->cookie, peer,
			   ctx, ctx_len, conn_cookie);
}

/* the last connection is gone too: nothing can call the adapter now */
static void release_adapter(void *server_cookie)
{
	free(server_cookie);
}

int flt_create_communication_port(struct flt_filter *filter, const char *name,
				  const struct flt_port_security *security,
				  void *server_cookie,
				  flt_port_connect_callback connect_cb,
				  flt_port_disconnect_callback disconnect_cb,
				  flt_port_message_callback message_cb,
				  unsigned max_connections,
				  struct flt_port **out)
{
	struct port_callbacks cb = {
		.connect = connect_adapter,
		.disconnect = disconnect_cb,
		.message = message_cb,
		.release = release_adapter,
	};
	struct flt_port *fp;
	int ret;

	if (!filter || !out)
		return -EINVAL;
	fp = calloc(1, sizeof(*fp));
	if (!fp)
		return -ENOMEM;
	fp->filter = filter;
	fp->cookie = server_cookie;
	fp->connect = connect_cb;
	ret = port_server_create(name, security, fp, &cb, max_connections,
				 &fp->srv);
	if (ret) {
		free(fp);
		return ret;
	}
	flt_log(LOG_INFO, "%s: port %s created", flt_filter_name(filter),
		name);
	*out = fp;
	return 0;
}

void flt_close_communication_port(struct flt_port *port)
{
	if (port)
		port_server_close(port->srv);	/* frees port at release */
}

void flt_close_client_port(struct flt_filter *filter,
			   struct flt_client_port *client)
{
	if (client)
		port_conn_close(to_conn(client));
}

int flt_send_message(struct flt_filter *filter, struct flt_client_port *client,
		     const void *in, size_t in_len, void *out, size_t *out_len,
		     int timeout_ms)
{
	if (!client || (!in && in_len))
		return -EINVAL;
	return port_send(to_conn(client), in, in_len, out, out_len,
			 timeout_ms);
}

const char *flt_port_runtime_dir(void)
{
	return port_runtime_dir();
}
