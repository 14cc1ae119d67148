/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Communication ports end to end, no mount: a test host registers a
 * filter, sets a runtime directory in a temp dir, creates ports and talks
 * to them through libfsfilter-client (and through raw sockets for the
 * malformed-frame cases). Root-only cases (other uids) skip otherwise.
 */
#include <fsfilter/client.h>
#include <fsfilter/filter.h>

#include "port/frame.h"
#include "port/port.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define MAXC 32

static struct flt_filter *filter;
static char tmpdir[64], rundir[128];

/* What the test's filter side saw. Slots are set by the connect
 * callback (the context blob is the slot number as text). */
struct srv_state {
	atomic_int connects, disconnects, messages;
	int refuse;			/* connect callback returns this */
	struct flt_client_port *_Atomic clients[MAXC];
	atomic_int gone[MAXC];
	struct flt_port_peer peer;	/* of the last connect */
	char ctx[64];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn_cookie {
	struct srv_state *st;
	int slot;
};

static int on_connect(struct flt_client_port *client, void *server_cookie,
		      const struct flt_port_peer *peer, const void *context,
		      size_t len, void **conn_cookie)
{
	struct srv_state *st = server_cookie;
	struct conn_cookie *cc;
	char buf[64] = "";
	int slot = 0;

	if (st->refuse)
		return st->refuse;
	memcpy(buf, context, len < 63 ? len : 63);
	snprintf(st->ctx, sizeof(st->ctx), "%s", buf);
	st->peer = *peer;
	if (len && buf[0] >= '0' && buf[0] <= '9')
		slot = atoi(buf) % MAXC;
	cc = malloc(sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	cc->st = st;
	cc->slot = slot;
	atomic_store(&st->gone[slot], 0);
	atomic_store(&st->clients[slot], client);
	atomic_fetch_add(&st->connects, 1);
	*conn_cookie = cc;
	return 0;
}

static void on_disconnect(void *conn_cookie)
{
	struct conn_cookie *cc = conn_cookie;

	atomic_store(&cc->st->clients[cc->slot], NULL);
	atomic_store(&cc->st->gone[cc->slot], 1);
	atomic_fetch_add(&cc->st->disconnects, 1);
	free(cc);
}

/* client -> filter: answer "echo:" + the message */
static int on_message(void *conn_cookie, const void *in, size_t in_len,
		      void *out, size_t out_len, size_t *out_returned)
{
	struct conn_cookie *cc = conn_cookie;
	size_t n;

	atomic_fetch_add(&cc->st->messages, 1);
	if (in_len >= 4 && !memcmp(in, "fail", 4))
		return -EPERM;
	if (in_len + 5 > out_len)
		return -EMSGSIZE;
	memcpy(out, "echo:", 5);
	memcpy((char *)out + 5, in, in_len);
	n = in_len + 5;
	*out_returned = n;
	return 0;
}

static struct flt_port *make_port(const char *name, struct srv_state *st,
				  const struct flt_port_security *sec,
				  unsigned maxc)
{
	struct flt_port *port = NULL;
	int ret = flt_create_communication_port(filter, name, sec, st,
						on_connect, on_disconnect,
						on_message, maxc, &port);

	assert_int_equal(ret, 0);
	return port;
}

static void port_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", rundir, name);

	assert_true(n > 0 && (size_t)n < len);	/* a socket path fits */
}

static int connect_slot(const char *name, int slot, struct fltc_port **out)
{
	char path[256], ctx[16];

	port_path(name, path, sizeof(path));
	snprintf(ctx, sizeof(ctx), "%d", slot);
	return fltc_connect_path(path, ctx, strlen(ctx), 2000, out);
}

static void wait_for(atomic_int *v, int want)
{
	int64_t end = now_ms() + 5000;

	while (atomic_load(v) < want && now_ms() < end)
		usleep(1000);
	assert_true(atomic_load(v) >= want);
}

static struct flt_client_port *client_of(struct srv_state *st, int slot)
{
	struct flt_client_port *c = atomic_load(&st->clients[slot]);

	assert_non_null(c);
	return c;
}

/* ---- frames ---------------------------------------------------------- */

static void test_frame_codec(void **unused)
{
	unsigned char b[PORT_HDR_SIZE + 8];
	struct port_frame f = { .len = 8, .type = PORT_F_MESSAGE,
				.flags = PORT_FF_REPLY_EXPECTED, .id = 77 },
			  g;

	port_frame_encode(&f, b);
	memcpy(b + PORT_HDR_SIZE, "abcdefgh", 8);
	/* little-endian, at the documented offsets */
	assert_int_equal(b[0], 8);
	assert_int_equal(b[4], 1);
	assert_int_equal(b[6], PORT_F_MESSAGE);
	assert_int_equal(b[16], 77);
	for (size_t n = 0; n < sizeof(b); n++)
		assert_int_equal(port_frame_parse(b, n, PORT_DIR_TO_CLIENT,
						  &g),
				 n == sizeof(b) ? (ssize_t)sizeof(b) : 0);
	assert_int_equal(port_frame_parse(b, sizeof(b), PORT_DIR_TO_CLIENT,
					  &g),
			 sizeof(b));
	assert_int_equal(g.id, 77);
	assert_int_equal(g.flags, PORT_FF_REPLY_EXPECTED);
	/* wrong direction, zero id, stray flags */
	assert_int_equal(port_frame_parse(b, sizeof(b), PORT_DIR_TO_SERVER,
					  &g),
			 -EPROTO);
	f.id = 0;
	port_frame_encode(&f, b);
	assert_int_equal(port_frame_parse(b, sizeof(b), PORT_DIR_TO_CLIENT,
					  &g),
			 -EPROTO);
	f.id = 1;
	f.flags = 2;
	port_frame_encode(&f, b);
	assert_int_equal(port_frame_parse(b, sizeof(b), PORT_DIR_TO_CLIENT,
					  &g),
			 -EPROTO);
	/* oversized is refused from the header alone */
	f.flags = 0;
	f.len = PORT_MAX_PAYLOAD + 1;
	port_frame_encode(&f, b);
	assert_int_equal(port_frame_parse(b, PORT_HDR_SIZE,
					  PORT_DIR_TO_CLIENT, &g),
			 -EMSGSIZE);
	/* another version */
	f.len = 0;
	port_frame_encode(&f, b);
	b[4] = 2;
	assert_int_equal(port_frame_parse(b, PORT_HDR_SIZE,
					  PORT_DIR_TO_CLIENT, &g),
			 -EPROTONOSUPPORT);
	/* a status must be an errno */
	f = (struct port_frame){ .type = PORT_F_REPLY, .id = 3,
				 .status = 5 };
	port_frame_encode(&f, b);
	assert_int_equal(port_frame_parse(b, PORT_HDR_SIZE,
					  PORT_DIR_TO_SERVER, &g),
			 -EPROTO);
}

/* ---- connect ----------------------------------------------------------- */

static void test_connect_context_peer(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_connect", &st, NULL, 4);
	struct fltc_port *c;
	struct stat sb;
	char path[256];

	port_path("p_connect", path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0600);	/* the default */
	assert_int_equal(sb.st_uid, geteuid());

	assert_int_equal(connect_slot("p_connect", 3, &c), 0);
	assert_int_equal(atomic_load(&st.connects), 1);
	assert_string_equal(st.ctx, "3");
	assert_int_equal(st.peer.pid, getpid());
	assert_int_equal(st.peer.uid, geteuid());
	fltc_close(c);
	wait_for(&st.disconnects, 1);

	/* the filter refuses: the client gets the filter's errno */
	st.refuse = -EPERM;
	assert_int_equal(connect_slot("p_connect", 0, &c), -EPERM);
	st.refuse = 0;
	/* a name in use */
	assert_int_equal(flt_create_communication_port(filter, "p_connect",
						       NULL, &st, NULL, NULL,
						       NULL, 1,
						       &(struct flt_port *){0}),
			 -EEXIST);
	assert_int_equal(flt_create_communication_port(filter, "a/b", NULL,
						       &st, NULL, NULL, NULL,
						       1,
						       &(struct flt_port *){0}),
			 -EINVAL);
	flt_close_communication_port(port);
	assert_int_not_equal(access(path, F_OK), 0);	/* file removed */
	assert_int_equal(connect_slot("p_connect", 0, &c), -ENOENT);
}

/* Child: become @uid, connect, exit with the errno (0 = connected). */
static int child_connect(const char *name, uid_t uid)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct fltc_port *c;
		int ret;

		if (setgid(uid) || setuid(uid))
			_exit(100);
		ret = connect_slot(name, 5, &c);
		_exit(ret == 0 ? 0 : ret < 0 && -ret < 100 ? -ret : 101);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_auth(void **unused)
{
	static const uid_t allowed[] = { 1234 };
	struct flt_port_security open_sec = {
		.owner = 0, .group = 0, .mode = 0666,
		.allowed_uids = allowed, .n_allowed_uids = 1,
	};
	struct srv_state st = { 0 }, st2 = { 0 };
	struct flt_port *p1, *p2;
	int64_t t0;

	if (geteuid() != 0)
		skip();
	p1 = make_port("p_auth", &st, &open_sec, 8);
	p2 = make_port("p_auth_default", &st2, NULL, 8);

	/* the file lets anyone in, SO_PEERCRED and the list do not: a clear
	 * error frame, promptly */
	t0 = now_ms();
	assert_int_equal(child_connect("p_auth", 65534), EACCES);
	assert_true(now_ms() - t0 < 1500);
	assert_int_equal(child_connect("p_auth", 1234), 0);
	/* 0600 root: the file system already says no */
	assert_int_equal(child_connect("p_auth_default", 1234), EACCES);
	assert_int_equal(child_connect("p_auth_default", 0), 0);
	wait_for(&st.disconnects, 1);
	wait_for(&st2.disconnects, 1);
	assert_int_equal(atomic_load(&st.connects), 1);
	flt_close_communication_port(p1);
	flt_close_communication_port(p2);
}

/* ---- request / reply ---------------------------------------------------- */

struct responder {
	struct fltc_port *c;
	int count;		/* messages to answer, -1: until error */
	int answered;
	int delay_ms;		/* before each reply */
};

/* Client side: answer every message with "re:" + the message. */
static void *responder_main(void *arg)
{
	struct responder *r = arg;
	char buf[FLT_PORT_MAX_MESSAGE], out[FLT_PORT_MAX_MESSAGE + 3];

	while (r->count < 0 || r->answered < r->count) {
		struct fltc_message m;

		if (fltc_get_message(r->c, buf, sizeof(buf), &m, 5000))
			break;
		if (r->delay_ms)
			usleep(r->delay_ms * 1000);
		if (m.reply_expected) {
			memcpy(out, "re:", 3);
			memcpy(out + 3, m.data, m.len);
			fltc_reply_message(r->c, m.id, out,
					   m.len + 3 > FLT_PORT_MAX_MESSAGE
						   ? FLT_PORT_MAX_MESSAGE
						   : m.len + 3);
		}
		r->answered++;
	}
	return NULL;
}

static void test_request_reply(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_rr", &st, NULL, 4);
	struct responder r = { .count = 3 };
	struct fltc_message m;
	char out[64], big[FLT_PORT_MAX_MESSAGE + 1];
	size_t n = sizeof(out);
	pthread_t t;
	struct fltc_port *c;
	struct flt_client_port *fc;

	assert_int_equal(connect_slot("p_rr", 1, &c), 0);
	fc = client_of(&st, 1);

	/* filter -> client without reply, seen through the pollable fd */
	assert_int_equal(flt_send_message(filter, fc, "note", 4, NULL, NULL,
					  1000), 0);
	{
		struct pollfd pfd = { .fd = fltc_get_fd(c), .events = POLLIN };

		assert_true(pfd.fd >= 0);
		assert_int_equal(poll(&pfd, 1, 2000), 1);
	}
	assert_int_equal(fltc_get_message(c, out, sizeof(out), &m, 0), 0);
	assert_int_equal(m.len, 4);
	assert_false(m.reply_expected);
	assert_memory_equal(out, "note", 4);
	assert_int_equal(fltc_get_message(c, out, sizeof(out), &m, 0),
			 -ETIMEDOUT);

	/* filter -> client with reply */
	r.c = c;
	pthread_create(&t, NULL, responder_main, &r);
	assert_int_equal(flt_send_message(filter, fc, "ping", 4, out, &n,
					  2000), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(out, "re:ping", 7);
	/* a short reply buffer truncates */
	n = 4;
	assert_int_equal(flt_send_message(filter, fc, "ping", 4, out, &n,
					  2000), 0);
	assert_int_equal(n, 4);
	/* a message larger than the client's buffer: -EMSGSIZE to both */
	n = sizeof(out);
	{
		char *huge = calloc(1, FLT_PORT_MAX_MESSAGE);

		assert_int_equal(flt_send_message(filter, fc, huge,
						  FLT_PORT_MAX_MESSAGE, out,
						  &n, 2000),
				 0);
		assert_int_equal(n, sizeof(out));
		free(huge);
	}
	pthread_join(t, NULL);
	assert_int_equal(flt_send_message(filter, fc, big, sizeof(big), NULL,
					  NULL, 0),
			 -EMSGSIZE);

	/* client -> filter */
	assert_int_equal(fltc_send_message(c, "hi", 2, out, sizeof(out), &n,
					   2000), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(out, "echo:hi", 7);
	assert_int_equal(fltc_send_message(c, "fail", 4, out, sizeof(out),
					   &n, 2000), -EPERM);
	/* the reply does not fit what the client offered */
	assert_int_equal(fltc_send_message(c, "hello", 5, out, 4, &n, 2000),
			 -EMSGSIZE);
	assert_int_equal(fltc_send_message(c, big, sizeof(big), out,
					   sizeof(out), &n, 2000),
			 -EMSGSIZE);
	assert_int_equal(atomic_load(&st.messages), 3);
	fltc_close(c);
	wait_for(&st.disconnects, 1);
	flt_close_communication_port(port);
}

static void test_get_message_too_small(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_small", &st, NULL, 4);
	struct fltc_port *c;
	struct fltc_message m;
	char buf[4], out[16];
	size_t n = sizeof(out);
	int ret;

	assert_int_equal(connect_slot("p_small", 2, &c), 0);
	/* the client's buffer is 4 bytes: the waiting filter hears why */
	{
		struct flt_client_port *fc = client_of(&st, 2);
		pid_t pid = fork();

		if (pid == 0) {
			/* the child reads with a small buffer; the parent
			 * is the filter waiting for the reply */
			_exit(fltc_get_message(c, buf, sizeof(buf), &m, 3000) ==
				      -EMSGSIZE
			      ? 0
			      : 1);
		}
		ret = flt_send_message(filter, fc, "too long", 8, out, &n,
				       3000);
		assert_int_equal(ret, -EMSGSIZE);
		int status;

		waitpid(pid, &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	fltc_close(c);
	wait_for(&st.disconnects, 1);
	flt_close_communication_port(port);
}

/* ---- timeouts, limits, failures ----------------------------------------- */

static void test_timeout(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_timeout", &st, NULL, 4);
	struct fltc_port *c;
	struct flt_client_port *fc;
	struct fltc_message m;
	char out[64], buf[64];
	size_t n = sizeof(out);
	int64_t t0;

	assert_int_equal(connect_slot("p_timeout", 4, &c), 0);
	fc = client_of(&st, 4);
	t0 = now_ms();
	assert_int_equal(flt_send_message(filter, fc, "x", 1, out, &n, 100),
			 -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 90 && now_ms() - t0 < 1000);
	/* the late reply is discarded; the next exchange is not confused */
	assert_int_equal(fltc_get_message(c, buf, sizeof(buf), &m, 1000), 0);
	assert_int_equal(fltc_reply_message(c, m.id, "late", 4), 0);
	{
		struct responder r = { .c = c, .count = 1 };
		pthread_t t;

		pthread_create(&t, NULL, responder_main, &r);
		n = sizeof(out);
		assert_int_equal(flt_send_message(filter, fc, "y", 1, out, &n,
						  2000), 0);
		assert_int_equal(n, 4);
		assert_memory_equal(out, "re:y", 4);
		pthread_join(t, NULL);
	}
	/* client side timeouts */
	t0 = now_ms();
	assert_int_equal(fltc_get_message(c, buf, sizeof(buf), &m, 50),
			 -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 45);
	fltc_close(c);
	wait_for(&st.disconnects, 1);
	/* a closed client: not a timeout */
	flt_close_communication_port(port);
}

static void test_max_connections(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_max", &st, NULL, 2);
	struct fltc_port *a, *b, *c = NULL;
	int64_t end;
	int ret;

	assert_int_equal(connect_slot("p_max", 1, &a), 0);
	assert_int_equal(connect_slot("p_max", 2, &b), 0);
	assert_int_equal(connect_slot("p_max", 3, &c), -EBUSY);
	fltc_close(a);
	end = now_ms() + 3000;
	while ((ret = connect_slot("p_max", 3, &c)) == -EBUSY &&
	       now_ms() < end)
		usleep(2000);
	assert_int_equal(ret, 0);
	fltc_close(b);
	fltc_close(c);
	wait_for(&st.disconnects, 3);
	flt_close_communication_port(port);
}

struct sender {
	struct flt_client_port *fc;
	int timeout;
	int ret;
	int64_t done_at;
	struct srv_state *st;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	char out[16];
	size_t n = sizeof(out);

	s->ret = flt_send_message(filter, s->fc, "wait", 4, out, &n,
				  s->timeout);
	s->done_at = now_ms();
	return NULL;
}

static void test_disconnect_releases_senders(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_die", &st, NULL, 4);
	struct sender s[4];
	pthread_t t[4];
	pid_t pid;
	int64_t t0;
	int status;

	pid = fork();
	if (pid == 0) {
		struct fltc_port *c;

		if (connect_slot("p_die", 6, &c))
			_exit(1);
		pause();	/* never answers */
		_exit(0);
	}
	wait_for(&st.connects, 1);
	for (int i = 0; i < 4; i++) {
		s[i] = (struct sender){ .fc = client_of(&st, 6),
					.timeout = 20000, .st = &st };
		pthread_create(&t[i], NULL, sender_main, &s[i]);
	}
	usleep(100 * 1000);
	t0 = now_ms();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(s[i].ret, -ECONNRESET);
		assert_true(s[i].done_at - t0 < 1000);	/* at once */
	}
	wait_for(&st.disconnects, 1);

	/* flt_close_client_port does the same from the filter side */
	{
		struct fltc_port *c;
		struct fltc_message m;
		char buf[8];

		assert_int_equal(connect_slot("p_die", 7, &c), 0);
		s[0] = (struct sender){ .fc = client_of(&st, 7),
					.timeout = 20000, .st = &st };
		pthread_create(&t[0], NULL, sender_main, &s[0]);
		usleep(50 * 1000);
		t0 = now_ms();
		flt_close_client_port(filter, client_of(&st, 7));
		pthread_join(t[0], NULL);
		assert_int_equal(s[0].ret, -ECONNRESET);
		assert_true(s[0].done_at - t0 < 1000);
		wait_for(&st.disconnects, 2);
		/* the client sees the message that was sent, then the end */
		int ret = fltc_get_message(c, buf, sizeof(buf), &m, 1000);

		if (ret == 0)
			ret = fltc_get_message(c, buf, sizeof(buf), &m, 1000);
		assert_int_equal(ret, -ECONNRESET);
		assert_int_equal(fltc_send_message(c, "x", 1, NULL, 0, NULL,
						   1000),
				 -ECONNRESET);
		fltc_close(c);
	}
	flt_close_communication_port(port);
}

/* 16 clients, each with its own responder thread, each with a filter
 * thread sending to it and a thread sending to the filter. */
struct pair {
	struct srv_state *st;
	int slot;
	int errors;
	struct fltc_port *c;
};

static void *filter_sender_main(void *arg)
{
	struct pair *p = arg;
	struct flt_client_port *fc = atomic_load(&p->st->clients[p->slot]);

	for (int i = 0; i < 200; i++) {
		char in[32], out[40], want[40];
		size_t n = sizeof(out);
		int len = snprintf(in, sizeof(in), "%d/%d", p->slot, i);

		snprintf(want, sizeof(want), "re:%s", in);
		if (flt_send_message(filter, fc, in, (size_t)len, out, &n,
				     5000) ||
		    n != strlen(want) || memcmp(out, want, n))
			p->errors++;
	}
	return NULL;
}

static void *client_sender_main(void *arg)
{
	struct pair *p = arg;

	for (int i = 0; i < 200; i++) {
		char in[32], out[40], want[40];
		size_t n;
		int len = snprintf(in, sizeof(in), "c%d/%d", p->slot, i);

		snprintf(want, sizeof(want), "echo:%s", in);
		if (fltc_send_message(p->c, in, (size_t)len, out, sizeof(out),
				      &n, 5000) ||
		    n != strlen(want) || memcmp(out, want, n))
			p->errors++;
	}
	return NULL;
}

static void test_16_clients(void **unused)
{
	enum { N = 16 };
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_16", &st, NULL, N);
	struct pair p[N];
	struct responder r[N];
	pthread_t tr[N], tf[N], tc[N];

	for (int i = 0; i < N; i++) {
		p[i] = (struct pair){ .st = &st, .slot = i };
		assert_int_equal(connect_slot("p_16", i, &p[i].c), 0);
		r[i] = (struct responder){ .c = p[i].c, .count = 200 };
	}
	for (int i = 0; i < N; i++) {
		pthread_create(&tr[i], NULL, responder_main, &r[i]);
		pthread_create(&tf[i], NULL, filter_sender_main, &p[i]);
		pthread_create(&tc[i], NULL, client_sender_main, &p[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(tf[i], NULL);
		pthread_join(tc[i], NULL);
		pthread_join(tr[i], NULL);
		assert_int_equal(p[i].errors, 0);
		assert_int_equal(r[i].answered, 200);
	}
	assert_int_equal(atomic_load(&st.messages), N * 200);
	for (int i = 0; i < N; i++)
		fltc_close(p[i].c);
	wait_for(&st.disconnects, N);
	flt_close_communication_port(port);
}

static void test_stalled_client(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_stall", &st, NULL, 4);
	struct fltc_port *stalled, *good;
	struct responder r;
	pthread_t t;
	char payload[4096] = { 0 }, out[64];
	size_t frames, bytes, n;
	int sent = 0, ret;
	int64_t t0;

	assert_int_equal(connect_slot("p_stall", 1, &stalled), 0);
	assert_int_equal(connect_slot("p_stall", 2, &good), 0);
	/* never read: the socket buffer fills, then the queue */
	t0 = now_ms();
	while ((ret = flt_send_message(filter, client_of(&st, 1), payload,
				       sizeof(payload), NULL, NULL, 0)) == 0)
		sent++;
	assert_int_equal(ret, -EAGAIN);
	assert_true(now_ms() - t0 < 2000);	/* never blocked */
	port_conn_queue_stats((struct port_conn *)client_of(&st, 1), &frames,
			      &bytes);
	assert_true(frames <= PORT_QUEUE_MAX_FRAMES);
	assert_true(bytes <= PORT_QUEUE_MAX_BYTES);
	assert_true(frames > 0);
	/* a send that wants a reply times out, promptly */
	n = sizeof(out);
	t0 = now_ms();
	assert_int_equal(flt_send_message(filter, client_of(&st, 1), "q", 1,
					  out, &n, 200),
			 -ETIMEDOUT);
	assert_true(now_ms() - t0 < 1500);
	/* the other client does not notice */
	r = (struct responder){ .c = good, .count = 50 };
	pthread_create(&t, NULL, responder_main, &r);
	t0 = now_ms();
	for (int i = 0; i < 50; i++) {
		n = sizeof(out);
		assert_int_equal(flt_send_message(filter, client_of(&st, 2),
						  "ok", 2, out, &n, 2000),
				 0);
	}
	assert_true(now_ms() - t0 < 2000);
	pthread_join(t, NULL);
	/* the stalled client still works once it reads */
	{
		static char buf[FLT_PORT_MAX_MESSAGE];
		struct fltc_message m;
		int got = 0;

		while (fltc_get_message(stalled, buf, sizeof(buf), &m, 200) ==
		       0)
			got++;
		assert_true(got >= sent);	/* + the timed-out one */
	}
	fltc_close(stalled);
	fltc_close(good);
	wait_for(&st.disconnects, 2);
	flt_close_communication_port(port);
}

/* ---- malformed input ------------------------------------------------------ */

static int raw_connect(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	port_path(name, sun.sun_path, sizeof(sun.sun_path));
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	return fd;
}

/* The daemon hangs up on us: read returns 0 (after any frames). */
static void assert_closed(int fd)
{
	char buf[256];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	do {
		assert_int_equal(poll(&pfd, 1, 3000), 1);
		n = read(fd, buf, sizeof(buf));
	} while (n > 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
}

static void test_malformed(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_bad", &st, NULL, 8);
	struct fltc_port *good;
	struct responder r;
	pthread_t t;
	unsigned char hdr[PORT_HDR_SIZE];
	struct port_frame f;
	char out[64];
	size_t n;
	int fd;

	assert_int_equal(connect_slot("p_bad", 1, &good), 0);
	r = (struct responder){ .c = good, .count = 1 };
	pthread_create(&t, NULL, responder_main, &r);

	/* garbage */
	fd = raw_connect("p_bad");
	{
		static const char junk[24] = "GET / HTTP/1.1\r\nHost: x";

		assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	}
	assert_closed(fd);
	/* an oversized frame: refused from its header */
	fd = raw_connect("p_bad");
	f = (struct port_frame){ .type = PORT_F_CONNECT,
				 .len = 16u << 20 };
	port_frame_encode(&f, hdr);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	assert_closed(fd);
	/* a valid connect, then a SEND with id 0: connected, then closed */
	fd = raw_connect("p_bad");
	f = (struct port_frame){ .type = PORT_F_CONNECT, .len = 2 };
	port_frame_encode(&f, hdr);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	assert_int_equal(write(fd, "9\0", 2), 2);
	wait_for(&st.connects, 2);
	f = (struct port_frame){ .type = PORT_F_SEND, .id = 0 };
	port_frame_encode(&f, hdr);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	assert_closed(fd);
	wait_for(&st.disconnects, 1);
	/* a frame for the other direction */
	fd = raw_connect("p_bad");
	f = (struct port_frame){ .type = PORT_F_CONNECT_RESULT };
	port_frame_encode(&f, hdr);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	assert_closed(fd);
	/* another protocol version: told so, then closed */
	fd = raw_connect("p_bad");
	f = (struct port_frame){ .type = PORT_F_CONNECT };
	port_frame_encode(&f, hdr);
	hdr[4] = 9;
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	{
		unsigned char res[PORT_HDR_SIZE];
		struct port_frame g;

		assert_int_equal(read(fd, res, sizeof(res)), sizeof(res));
		assert_int_equal(port_frame_parse(res, sizeof(res),
						  PORT_DIR_TO_CLIENT, &g),
				 PORT_HDR_SIZE);
		assert_int_equal(g.type, PORT_F_CONNECT_RESULT);
		assert_int_equal(g.status, -EPROTONOSUPPORT);
	}
	assert_closed(fd);
	/* a half frame and a hang-up */
	fd = raw_connect("p_bad");
	assert_int_equal(write(fd, hdr, 10), 10);
	close(fd);

	/* the good client never noticed */
	n = sizeof(out);
	assert_int_equal(flt_send_message(filter, client_of(&st, 1), "still",
					  5, out, &n, 2000),
			 0);
	assert_memory_equal(out, "re:still", 8);
	pthread_join(t, NULL);
	fltc_close(good);
	wait_for(&st.disconnects, 2);
	flt_close_communication_port(port);
}

/* Clients that connect and never finish the CONNECT frame (nothing, or
 * half a header) are closed at the handshake deadline and give their
 * connection slots back; a connected client is not affected by it. */
static void test_handshake_deadline(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port;
	struct fltc_port *good, *c = NULL;
	unsigned char hdr[PORT_HDR_SIZE];
	struct port_frame f = { .type = PORT_F_CONNECT };
	int64_t start, took;
	int silent, half;

	port_set_handshake_timeout(400);
	port = make_port("p_hs", &st, NULL, 3);
	assert_int_equal(connect_slot("p_hs", 1, &good), 0);
	start = now_ms();
	silent = raw_connect("p_hs");
	half = raw_connect("p_hs");
	port_frame_encode(&f, hdr);
	assert_int_equal(write(half, hdr, 10), 10);
	/* both hold a slot: a third client is refused for now */
	assert_int_equal(connect_slot("p_hs", 2, &c), -EBUSY);
	assert_closed(silent);
	assert_closed(half);
	took = now_ms() - start;
	assert_true(took >= 350 && took < 2500);
	/* the slots are free again; the good client is still there */
	assert_int_equal(connect_slot("p_hs", 2, &c), 0);
	usleep(600 * 1000);	/* past the deadline of c too */
	{
		struct fltc_message m;
		char out[64];

		assert_int_equal(flt_send_message(filter, client_of(&st, 2),
						  "x", 1, NULL, NULL, 1000),
				 0);
		assert_int_equal(fltc_get_message(c, out, sizeof(out), &m,
						  2000),
				 0);
		assert_int_equal(m.len, 1);
	}
	assert_int_equal(atomic_load(&st.disconnects), 0);
	assert_int_equal(atomic_load(&st.connects), 2);
	fltc_close(good);
	fltc_close(c);
	wait_for(&st.disconnects, 2);
	flt_close_communication_port(port);
	port_set_handshake_timeout(PORT_HANDSHAKE_TIMEOUT_MS);
}

/* Out of fds, accept(2) fails with EMFILE while the connection waits in
 * the backlog: the listener is taken out and tried again every
 * PORT_ACCEPT_RETRY_MS instead of spinning (a spinning I/O thread fails
 * thousands of times in half a second even on a loaded machine), and
 * clients get in again once fds are free. */
static void test_accept_emfile(void **unused)
{
	struct srv_state st = { 0 };
	struct flt_port *port = make_port("p_emfile", &st, NULL, 1000);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct fltc_port *c = NULL;
	struct rlimit rl, low;
	static int fds[4096];
	int nfds = 0, maxfd = 0, closed = 0, dir_fd;
	unsigned long f0, f1;
	struct dirent *de;
	DIR *d;

	port_path("p_emfile", sun.sun_path, sizeof(sun.sun_path));
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_non_null(d = opendir("/proc/self/fd"));
	dir_fd = dirfd(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dir_fd &&
		    atoi(de->d_name) > maxfd)
			maxfd = atoi(de->d_name);
	closedir(d);
	low = rl;
	low.rlim_cur = (rlim_t)maxfd + 1 + 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* use every fd; connections the daemon cannot accept stay in the
	   backlog (our raw clients never send CONNECT: the handshake
	   deadline, 5 s, does not free theirs during the test) */
	f0 = port_accept_failures();
	for (int round = 0; round < 400 && port_accept_failures() == f0;
	     round++) {
		int fd;

		while (nfds < 4096 &&
		       (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
				    0)) >= 0) {
			fds[nfds++] = fd;
			assert_int_equal(connect(fd, (struct sockaddr *)&sun,
						 sizeof(sun)),
					 0);
		}
		usleep(5000);
		if (port_accept_failures() == f0 && closed < nfds)
			close(fds[closed++]);	/* the daemon took the last fd */
	}
	assert_true(port_accept_failures() > f0);
	f0 = port_accept_failures();
	usleep(500 * 1000);
	f1 = port_accept_failures();
	print_message("accept EMFILE: %lu failures in 500 ms\n", f1 - f0);
	assert_true(f1 - f0 < 50);	/* ~5 at one per 100 ms */
	/* fds back: the listener is tried again and takes clients */
	for (int i = closed; i < nfds; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(connect_slot("p_emfile", 1, &c), 0);
	fltc_close(c);
	wait_for(&st.disconnects, 1);
	flt_close_communication_port(port);
}

/* ---- many clients: memory bounded per client ----------------------------- */

#define MANY_MAX 500
#define MANY_GOOD 8
#define MANY_FLOOD 4
#define MANY_GARBAGE 16
#define FLOOD_CAP 600		/* SEND frames a flooder tries to write */
/* the test's own client side of one connection: struct fltc_port and its
 * input buffer (lib/client/client.c; slow clients never read, so they
 * stash nothing) */
#define CLIENT_SIDE_MAX ((size_t)(PORT_HDR_SIZE + PORT_MAX_PAYLOAD) + 4096)

/* per slot (the context blob): connected, then gone */
static struct many_state {
	struct flt_client_port *_Atomic c[MANY_MAX];
	atomic_int gone[MANY_MAX];
	int slot[MANY_MAX];
} many;

static int many_connect(struct flt_client_port *client, void *server_cookie,
			const struct flt_port_peer *peer, const void *context,
			size_t len, void **conn_cookie)
{
	char buf[16] = "";
	int slot;

	(void)server_cookie, (void)peer;
	memcpy(buf, context, len < 15 ? len : 15);
	slot = atoi(buf);
	if (!len || slot < 0 || slot >= MANY_MAX)
		return -EINVAL;
	many.slot[slot] = slot;
	atomic_store(&many.c[slot], client);
	*conn_cookie = &many.slot[slot];
	return 0;
}

static void many_disconnect(void *conn_cookie)
{
	int slot = *(int *)conn_cookie;

	atomic_store(&many.c[slot], NULL);
	atomic_store(&many.gone[slot], 1);
}

static struct flt_client_port *many_client(int slot)
{
	struct flt_client_port *c = atomic_load(&many.c[slot]);

	assert_non_null(c);
	assert_int_equal(atomic_load(&many.gone[slot]), 0);
	return c;
}

/* the largest answer the client takes: 1 KiB in, 64 KiB out */
static int many_message(void *conn_cookie, const void *in, size_t in_len,
			void *out, size_t out_len, size_t *out_returned)
{
	(void)conn_cookie, (void)in, (void)in_len;
	memset(out, 'r', out_len);
	*out_returned = out_len;
	return 0;
}

static size_t vm_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kb = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %zu", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A raw client that connects properly, then sends SEND frames (1 KiB,
 * asking for 64 KiB answers) as fast as the daemon reads them and never
 * reads anything. Returns how many it wrote before the daemon stopped
 * reading (FLOOD_CAP: never stopped). */
static int flood(int fd, int slot)
{
	unsigned char buf[PORT_HDR_SIZE + 1024];
	char ctx[16];
	struct port_frame f = { .type = PORT_F_CONNECT };
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int n;

	f.len = (uint32_t)snprintf(ctx, sizeof(ctx), "%d", slot);
	port_frame_encode(&f, buf);
	memcpy(buf + PORT_HDR_SIZE, ctx, f.len);
	assert_int_equal(write(fd, buf, PORT_HDR_SIZE + f.len),
			 (ssize_t)(PORT_HDR_SIZE + f.len));
	/* the CONNECT_RESULT: the daemon must take SENDs now */
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 3000), 1);
	assert_int_equal(read(fd, buf, PORT_HDR_SIZE), PORT_HDR_SIZE);
	pfd.events = POLLOUT;
	memset(buf, 'g', sizeof(buf));
	for (n = 0; n < FLOOD_CAP; n++) {
		f = (struct port_frame){ .type = PORT_F_SEND, .len = 1024,
					 .flags = PORT_MAX_PAYLOAD,
					 .id = (uint64_t)n + 1 };
		port_frame_encode(&f, buf);
		/* a frame is written whole or the daemon stopped reading */
		if (poll(&pfd, 1, 300) != 1)
			break;
		assert_int_equal(send(fd, buf, sizeof(buf), MSG_NOSIGNAL),
				 (ssize_t)sizeof(buf));
	}
	return n;
}

/* As many clients as the fd limit allows (at most MANY_MAX): most never
 * read while the filter sends to them, some flood SENDs and never read
 * the answers, some send garbage, a few behave. The queue of each client
 * stays within its bound (drops counted), the well-behaved ones are
 * served, and the process grows by less than the per-client bound
 * (PORT_CLIENT_MEM_MAX, plus this test's client side) times the clients. */
static void test_many_clients(void **unused)
{
	static struct fltc_port *cl[MANY_MAX];
	int raw[MANY_MAX];
	struct responder r[MANY_GOOD];
	pthread_t t[MANY_GOOD];
	struct rlimit rl;
	struct flt_port *port = NULL;
	char payload[16384] = { 0 }, path[256], ctx[16];
	size_t rss0, rss1, frames, bytes, qf, qb, bound;
	unsigned long drops, total_drops = 0;
	int n, slow_end, flood_end, ret;
	long sent = 0;

	memset(&many, 0, sizeof(many));
	/* two fds per client (both ends live here), plus a margin */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * MANY_MAX + 128 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 2 * MANY_MAX + 128
				      ? rl.rlim_max
				      : 2 * MANY_MAX + 128;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	n = ((int)rl.rlim_cur - 128) / 2;
	if (n > MANY_MAX)
		n = MANY_MAX;
	assert_true(n >= MANY_GOOD + MANY_FLOOD + MANY_GARBAGE + 16);
	slow_end = n - MANY_FLOOD - MANY_GARBAGE;	/* [GOOD, slow_end) */
	flood_end = slow_end + MANY_FLOOD;		/* then garbage */

	assert_int_equal(flt_create_communication_port(
				 filter, "p_many", NULL, NULL, many_connect,
				 many_disconnect, many_message, (unsigned)n,
				 &port),
			 0);
	port_path("p_many", path, sizeof(path));
	rss0 = vm_rss_kb();
	for (int i = 0; i < slow_end; i++) {
		snprintf(ctx, sizeof(ctx), "%d", i);
		assert_int_equal(fltc_connect_path(path, ctx, strlen(ctx), 3000,
						   &cl[i]),
				 0);
	}
	for (int i = slow_end; i < n; i++)
		raw[i] = raw_connect("p_many");

	/* garbage: a bad header first, or after a proper CONNECT */
	for (int i = flood_end; i < n; i++) {
		unsigned char junk[64];

		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (unsigned char)(i * 131 + k * 7);
		if (i % 2) {	/* a CONNECT with its slot, then junk */
			struct port_frame f = { .type = PORT_F_CONNECT, .len = 3 };

			char slot[16];

			port_frame_encode(&f, junk);
			snprintf(slot, sizeof(slot), "%03d", i % 1000);
			memcpy(junk + PORT_HDR_SIZE, slot, 3);
		}
		assert_int_equal(write(raw[i], junk, sizeof(junk)),
				 (ssize_t)sizeof(junk));
	}
	/* floods: the daemon must stop reading them */
	for (int i = slow_end; i < flood_end; i++)
		assert_true(flood(raw[i], i) < FLOOD_CAP);
	/* slow readers: fill their socket and queue, then drops */
	for (int i = MANY_GOOD; i < slow_end; i++) {
		struct flt_client_port *c = many_client(i);

		while ((ret = flt_send_message(filter, c, payload,
					       sizeof(payload), NULL, NULL,
					       0)) == 0)
			sent++;
		assert_int_equal(ret, -EAGAIN);
		/* a few more: each one is dropped and counted */
		for (int k = 0; k < 3; k++)
			assert_int_equal(flt_send_message(filter, c, payload,
							  sizeof(payload), NULL,
							  NULL, 0),
					 -EAGAIN);
	}
	/* the well-behaved clients are served (their readers start now: they
	   give up after 5 s without a message) */
	for (int i = 0; i < MANY_GOOD; i++) {
		r[i] = (struct responder){ .c = cl[i], .count = 20 };
		pthread_create(&t[i], NULL, responder_main, &r[i]);
	}
	for (int k = 0; k < 20; k++)
		for (int i = 0; i < MANY_GOOD; i++) {
			char out[64];
			size_t len = sizeof(out);

			assert_int_equal(flt_send_message(
						 filter, many_client(i),
						 "ok", 2, out, &len, 3000),
					 0);
			assert_int_equal(len, 5);
			assert_memory_equal(out, "re:ok", 5);
		}
	rss1 = vm_rss_kb();

	/* every queue within its bound */
	for (int i = MANY_GOOD; i < flood_end; i++) {
		struct port_conn *c = (struct port_conn *)many_client(i);

		port_conn_queue_peak(c, &frames, &bytes, &drops);
		port_conn_queue_stats(c, &qf, &qb);
		if (i < slow_end) {
			assert_true(frames <= PORT_QUEUE_MAX_FRAMES);
			assert_true(bytes <= PORT_QUEUE_MAX_BYTES);
			assert_true(bytes + sizeof(payload) + PORT_HDR_SIZE >
				    PORT_QUEUE_MAX_BYTES);	/* filled */
			assert_true(drops >= 4);
			total_drops += drops;
		} else {
			/* the answers skip the limit, by at most the sends in
			   flight */
			assert_true(frames <= PORT_QUEUE_PEAK_FRAMES);
			assert_true(bytes <= PORT_QUEUE_PEAK_BYTES);
			assert_true(bytes >= PORT_QUEUE_MAX_BYTES);
		}
		assert_true(qf <= frames && qb <= bytes);
	}
	/* the garbage ones are closed, and only them */
	for (int i = flood_end; i < n; i++)
		assert_closed(raw[i]);
	for (int i = 0; i < flood_end; i++)
		many_client(i);

	bound = (size_t)n * (PORT_CLIENT_MEM_MAX + CLIENT_SIDE_MAX) / 1024 +
		16 * 1024;	/* KiB: + 16 MiB of threads and the rest */
	print_message("many clients: %d (%d slow readers, %d floods, %d "
		      "garbage), fd limit %lu; %ld messages queued, %lu "
		      "dropped; RSS %zu -> %zu kB (+%zu), bound %zu kB "
		      "(%zu B per client)\n",
		      n, slow_end - MANY_GOOD, MANY_FLOOD, MANY_GARBAGE,
		      (unsigned long)rl.rlim_cur, sent, total_drops, rss0,
		      rss1, rss1 - rss0, bound,
		      PORT_CLIENT_MEM_MAX + CLIENT_SIDE_MAX);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (ASan's shadow and quarantine are not the daemon's) */
	assert_true(rss1 - rss0 < bound);
#endif

	for (int i = 0; i < MANY_GOOD; i++) {
		pthread_join(t[i], NULL);	/* answered its 20 */
		assert_int_equal(r[i].answered, 20);
	}
	for (int i = 0; i < slow_end; i++)
		fltc_close(cl[i]);
	for (int i = slow_end; i < flood_end; i++)
		close(raw[i]);
	for (int i = 0; i < flood_end; i++) {
		int64_t end = now_ms() + 5000;

		while (!atomic_load(&many.gone[i]) && now_ms() < end)
			usleep(1000);
		assert_int_equal(atomic_load(&many.gone[i]), 1);
	}
	flt_close_communication_port(port);
}

/* ---- runtime directory --------------------------------------------------- */

static void test_runtime_dir(void **unused)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct srv_state st = { 0 };
	struct flt_port *port;
	struct fltc_port *c;
	struct stat sb;
	int fd;

	assert_string_equal(flt_port_runtime_dir(), rundir);
	assert_int_equal(stat(rundir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, geteuid() == 0 ? 0755 : 0700);
	/* a socket left by a dead daemon under a port's name */
	port_path("p_stale", sun.sun_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	port = make_port("p_stale", &st, NULL, 1);
	assert_int_equal(connect_slot("p_stale", 0, &c), 0);
	fltc_close(c);
	wait_for(&st.disconnects, 1);
	/* a live listener's name is refused */
	port_path("p_live", sun.sun_path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(flt_create_communication_port(filter, "p_live",
						       NULL, &st, NULL, NULL,
						       NULL, 1,
						       &(struct flt_port *){0}),
			 -EEXIST);
	/* setting the directory again sweeps stale sockets, keeps live */
	{
		char stale[256];
		struct sockaddr_un s2 = { .sun_family = AF_UNIX };
		int fd2 = socket(AF_UNIX, SOCK_STREAM, 0);

		port_path("leftover", s2.sun_path, sizeof(s2.sun_path));
		snprintf(stale, sizeof(stale), "%s", s2.sun_path);
		assert_int_equal(bind(fd2, (struct sockaddr *)&s2, sizeof(s2)),
				 0);
		close(fd2);
		assert_int_equal(port_set_runtime_dir(rundir), 0);
		assert_int_not_equal(access(stale, F_OK), 0);
		assert_int_equal(access(sun.sun_path, F_OK), 0);
	}
	close(fd);
	unlink(sun.sun_path);
	flt_close_communication_port(port);
	/* a symlink is never used as the directory */
	{
		char link[200];

		snprintf(link, sizeof(link), "%s/link", tmpdir);
		assert_int_equal(symlink(rundir, link), 0);
		assert_int_not_equal(port_set_runtime_dir(link), 0);
		unlink(link);
		assert_string_equal(flt_port_runtime_dir(), rundir);
	}
}

static const struct flt_operation_registration no_ops[] = {
	FLT_OPERATION_END
};

static const struct flt_registration reg = {
	FLT_REGISTRATION_INIT,
	.name = "porttest",
	.default_altitude = 1000,
	.operations = no_ops,
};

static int group_setup(void **unused)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ports.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	chmod(tmpdir, 0755);	/* other uids must reach the sockets */
	snprintf(rundir, sizeof(rundir), "%s/run/vol", tmpdir);
	if (port_set_runtime_dir(rundir))
		return -1;
	return flt_register_filter(&reg, &filter);
}

static int group_teardown(void **unused)
{
	char cmd[128];

	port_cleanup_runtime_dir();
	flt_unregister_filter(filter);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_codec),
		cmocka_unit_test(test_connect_context_peer),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_request_reply),
		cmocka_unit_test(test_get_message_too_small),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_max_connections),
		cmocka_unit_test(test_disconnect_releases_senders),
		cmocka_unit_test(test_16_clients),
		cmocka_unit_test(test_stalled_client),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_handshake_deadline),
		cmocka_unit_test(test_many_clients),
		cmocka_unit_test(test_accept_emfile),
		cmocka_unit_test(test_runtime_dir),
	};

	signal(SIGPIPE, SIG_IGN);	/* only for the raw-socket writes */
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
