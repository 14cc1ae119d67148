/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * port_rtt: communication port round trips, filter -> client -> reply
 * (flt_send_message with a reply, the monitor's verdict path), with 1 and
 * 16 clients at once. Each client has a thread answering through
 * libfsfilter-client and a filter-side thread sending to it; all in one
 * process, over the real sockets. Prints messages/s and p50/p99 latency.
 *
 *   port_rtt [SECONDS_PER_RUN] [PAYLOAD_BYTES]     (default 3, 64)
 */
#include <fsfilter/client.h>
#include <fsfilter/filter.h>

#include "port/port.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXN 16
#define MAXSAMPLES 2000000

static struct flt_filter *filter;
static struct flt_client_port *_Atomic clients[MAXN];
static atomic_int stop;
static size_t payload = 64;
static double seconds = 3;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int on_connect(struct flt_client_port *client, void *cookie,
		      const struct flt_port_peer *peer, const void *ctx,
		      size_t len, void **conn_cookie)
{
	int slot = len ? ((const unsigned char *)ctx)[0] : 0;

	atomic_store(&clients[slot % MAXN], client);
	return 0;
}

struct worker {
	int slot;
	struct fltc_port *c;
	uint64_t *lat;		/* ns per round trip */
	size_t n, errors;
};

static void *answer_main(void *arg)
{
	struct worker *w = arg;
	static _Thread_local char buf[FLT_PORT_MAX_MESSAGE];

	for (;;) {
		struct fltc_message m;
		int ret = fltc_get_message(w->c, buf, sizeof(buf), &m, 200);

		if (ret == -ETIMEDOUT && atomic_load(&stop))
			break;
		if (ret == 0 && m.reply_expected)
			fltc_reply_message(w->c, m.id, buf, m.len);
		else if (ret && ret != -ETIMEDOUT)
			break;
	}
	return NULL;
}

static void *send_main(void *arg)
{
	struct worker *w = arg;
	struct flt_client_port *fc = atomic_load(&clients[w->slot]);
	char *in = calloc(1, payload), *out = malloc(payload + 1);

	while (!atomic_load(&stop) && w->n < MAXSAMPLES / MAXN) {
		size_t n = payload + 1;
		uint64_t t0 = now_ns();

		if (flt_send_message(filter, fc, in, payload, out, &n, 5000)) {
			w->errors++;
			continue;
		}
		w->lat[w->n++] = now_ns() - t0;
	}
	free(in);
	free(out);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run(const char *path, int nclients)
{
	struct worker w[MAXN];
	pthread_t ta[MAXN], ts[MAXN];
	uint64_t *all, t0, t1;
	size_t total = 0, errors = 0;

	for (int i = 0; i < nclients; i++) {
		unsigned char slot = (unsigned char)i;

		w[i] = (struct worker){ .slot = i };
		w[i].lat = malloc(sizeof(uint64_t) * (MAXSAMPLES / MAXN));
		if (fltc_connect_path(path, &slot, 1, 2000, &w[i].c)) {
			fprintf(stderr, "port_rtt: connect failed\n");
			exit(1);
		}
	}
	atomic_store(&stop, 0);
	for (int i = 0; i < nclients; i++)
		pthread_create(&ta[i], NULL, answer_main, &w[i]);
	t0 = now_ns();
	for (int i = 0; i < nclients; i++)
		pthread_create(&ts[i], NULL, send_main, &w[i]);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop, 1);
	for (int i = 0; i < nclients; i++)
		pthread_join(ts[i], NULL);
	t1 = now_ns();
	for (int i = 0; i < nclients; i++) {
		pthread_join(ta[i], NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	all = malloc(sizeof(uint64_t) * (total ? total : 1));
	total = 0;
	for (int i = 0; i < nclients; i++) {
		memcpy(all + total, w[i].lat, w[i].n * sizeof(uint64_t));
		total += w[i].n;
		free(w[i].lat);
		fltc_close(w[i].c);
	}
	qsort(all, total, sizeof(uint64_t), cmp64);
	printf("clients=%-2d payload=%zuB round_trips=%zu errors=%zu "
	       "msgs/s=%.0f p50=%.1fus p99=%.1fus\n",
	       nclients, payload, total, errors,
	       (double)total * 1e9 / (double)(t1 - t0),
	       total ? all[total / 2] / 1e3 : 0.0,
	       total ? all[total * 99 / 100] / 1e3 : 0.0);
	free(all);
	usleep(100000);		/* let the disconnects run */
}

static const struct flt_operation_registration no_ops[] = {
	FLT_OPERATION_END
};

int main(int argc, char **argv)
{
	static const struct flt_registration reg = {
		FLT_REGISTRATION_INIT,
		.name = "port_rtt",
		.default_altitude = 1000,
		.operations = no_ops,
	};
	char dir[] = "/tmp/port_rtt.XXXXXX", run_dir[64], path[128], cmd[64];
	struct flt_port *port;
	int ret;

	if (argc > 1)
		seconds = atof(argv[1]);
	if (argc > 2)
		payload = (size_t)atol(argv[2]);
	if (seconds <= 0 || payload > FLT_PORT_MAX_MESSAGE) {
		fprintf(stderr, "usage: port_rtt [SECONDS] [PAYLOAD_BYTES]\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(path, sizeof(path), "%s/rtt", run_dir);
	ret = port_set_runtime_dir(run_dir);
	if (!ret)
		ret = flt_register_filter(&reg, &filter);
	if (!ret)
		ret = flt_create_communication_port(filter, "rtt", NULL, NULL,
						    on_connect, NULL, NULL,
						    MAXN, &port);
	if (ret) {
		fprintf(stderr, "port_rtt: setup: %s\n", strerror(-ret));
		return 1;
	}
	run(path, 1);
	run(path, 16);
	flt_close_communication_port(port);
	port_cleanup_runtime_dir();
	flt_unregister_filter(filter);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
