/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * port_echo: the smallest useful user-mode half of a filter.
 *
 *   port_echo SOCKET [MESSAGE...]          connect to a port's socket path
 *   port_echo -m MOUNTPOINT PORT [MESSAGE...]
 *
 * Sends each MESSAGE to the filter (fltc_send_message) and prints the
 * answer, then serves the filter: prints every message it sends and, when
 * it waits for one, replies with the same bytes. An event loop on
 * fltc_get_fd(), as a real service would have; stops on SIGINT/SIGTERM or
 * when the volume goes away. Built against <fsfilter/client.h> and
 * libfsfilter-client alone.
 *
 * Plain ISO C17 plus POSIX (cc -std=c17 builds it): sigaction and
 * struct sigaction are POSIX, hence the feature macro.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <fsfilter/client.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_bytes(const char *what, const void *p, size_t n)
{
	const unsigned char *b = p;

	printf("%s (%zu bytes): ", what, n);
	for (size_t i = 0; i < n && i < 200; i++)
		putchar(b[i] >= 32 && b[i] < 127 ? b[i] : '.');
	putchar('\n');
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct fltc_port *port;
	struct sigaction sa = { .sa_handler = on_signal };
	int first, ret;

	if (argc >= 4 && !strcmp(argv[1], "-m")) {
		ret = fltc_connect(argv[2], argv[3], "port_echo", 9, 5000,
				   &port);
		first = 4;
	} else if (argc >= 2 && argv[1][0] != '-') {
		ret = fltc_connect_path(argv[1], "port_echo", 9, 5000, &port);
		first = 2;
	} else {
		fprintf(stderr, "usage: port_echo SOCKET [MESSAGE...]\n"
				"       port_echo -m MOUNTPOINT PORT "
				"[MESSAGE...]\n");
		return 2;
	}
	if (ret) {
		fprintf(stderr, "port_echo: connect: %s\n", strerror(-ret));
		return 1;
	}
	for (int i = first; i < argc; i++) {
		size_t n = 0;

		ret = fltc_send_message(port, argv[i], strlen(argv[i]), buf,
					sizeof(buf), &n, 5000);
		if (ret)
			fprintf(stderr, "port_echo: send: %s\n",
				strerror(-ret));
		else
			print_bytes("answer", buf, n);
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		struct pollfd pfd = { .fd = fltc_get_fd(port),
				      .events = POLLIN };
		struct fltc_message m;

		if (pfd.fd < 0 || (poll(&pfd, 1, -1) < 0 && errno != EINTR))
			break;
		ret = fltc_get_message(port, buf, sizeof(buf), &m, 0);
		if (ret == -ETIMEDOUT || ret == -EMSGSIZE)
			continue;
		if (ret) {
			fprintf(stderr, "port_echo: %s\n", strerror(-ret));
			break;
		}
		print_bytes(m.reply_expected ? "message, replying" : "message",
			    m.data, m.len);
		if (m.reply_expected)
			fltc_reply_message(port, m.id, m.data, m.len);
	}
	fltc_close(port);
	return 0;
}
