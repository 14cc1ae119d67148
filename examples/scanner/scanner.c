/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scanner: the classic minifilter scanner sample, as a verdict client of
 * the monitor filter.
 *
 *   scanner MOUNTPOINT LOWER STRING [--ops open,create] [--quiet]
 *
 * Denies (EACCES) every open of a file whose content contains STRING.
 * The file is read through LOWER, the volume's lower directory, never
 * through the volume: reading a file inside the volume while its open
 * waits for our verdict is exactly the re-entrancy the monitor has to
 * survive (it does: a client's own opens are never held), but it would
 * cost a round trip through FUSE and the monitor for every block.
 *
 * A file larger than EXTEND_ABOVE bytes gets a MON_EXTEND first (a long
 * scan asks for more time; the monitor bounds the total with its
 * max_verdict_ms). Built against <fsfilter/client.h>, <fsfilter/monitor.h>
 * and libfsfilter-client only.
 */
#include <fsfilter/client.h>
#include <fsfilter/filter.h>
#include <fsfilter/monitor.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXTEND_ABOVE (8u << 20)
#define CHUNK (256u << 10)

enum { OP_OPEN = FLT_OP_OPEN, OP_CREATE = FLT_OP_CREATE };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void mhdr(struct mon_hdr *h, unsigned type, size_t size)
{
	*h = (struct mon_hdr){ MON_MAGIC, MON_VERSION, (uint16_t)type,
			       (uint32_t)size, 0 };
}

static int send_msg(struct fltc_port *p, const void *m, size_t len)
{
	struct mon_reply r;
	size_t n = 0;
	int ret = fltc_send_message(p, m, len, &r, sizeof(r), &n, 5000);

	return ret ? ret : n == sizeof(r) ? r.status : -EPROTO;
}

/*
 * 1 if the file at @path (volume-relative, "/a/b") under @lowerfd contains
 * @needle, 0 if not, a negative errno if it cannot be read (then we allow:
 * the open itself will report what is wrong).
 */
static int scan(int lowerfd, const char *path, const char *needle,
		struct fltc_port *p, uint64_t id)
{
	size_t nl = strlen(needle), keep = nl ? nl - 1 : 0;
	static char buf[CHUNK + 4096];
	size_t have = 0;
	struct stat st;
	int fd, found = 0;

	while (*path == '/')
		path++;
	fd = openat(lowerfd, *path ? path : ".",
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size > EXTEND_ABOVE) {
		struct mon_verdict v = { .verdict_id = id,
					 .verdict = MON_EXTEND,
					 .extend_ms = 10000 };

		mhdr(&v.hdr, MON_MSG_VERDICT, sizeof(v));
		send_msg(p, &v, sizeof(v));
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, CHUNK);

		if (n <= 0)
			break;
		have += (size_t)n;
		if (memmem(buf, have, needle, nl)) {
			found = 1;
			break;
		}
		/* keep the tail: the string may straddle two chunks */
		if (have > keep) {
			memmove(buf, buf + have - keep, keep);
			have = keep;
		}
	}
	close(fd);
	return found;
}

int main(int argc, char **argv)
{
	static _Alignas(8) char msgbuf[FLT_PORT_MAX_MESSAGE];
	struct mon_subscribe s = { .uid = (uint32_t)-1,
				   .flags = MON_SUB_VERDICT };
	struct sigaction sa = { .sa_handler = on_signal };
	struct fltc_port *p;
	int lowerfd, ret, quiet = 0;

	if (argc < 4 || !argv[3][0]) {
		fprintf(stderr, "usage: scanner MOUNTPOINT LOWER STRING "
			"[--quiet]\n");
		return 2;
	}
	quiet = argc > 4 && !strcmp(argv[4], "--quiet");
	lowerfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lowerfd < 0) {
		fprintf(stderr, "scanner: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	ret = fltc_connect(argv[1], MON_PORT_NAME, "scanner", 7, 5000, &p);
	if (ret) {
		fprintf(stderr, "scanner: connect to %s: %s\n", argv[1],
			strerror(-ret));
		return 1;
	}
	mhdr(&s.hdr, MON_MSG_SUBSCRIBE, sizeof(s));
	s.verdict_ops = MON_OP_BIT(OP_OPEN) | MON_OP_BIT(OP_CREATE);
	ret = send_msg(p, &s, sizeof(s));
	if (ret) {
		fprintf(stderr, "scanner: subscribe: %s\n", strerror(-ret));
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("scanner: ready\n");
	fflush(stdout);
	while (!stop) {
		const struct mon_verdict_req *r = (const void *)msgbuf;
		const struct mon_event *e = (const void *)(r + 1);
		struct mon_verdict v = { 0 };
		struct fltc_message m;
		int found;

		ret = fltc_get_message(p, msgbuf, sizeof(msgbuf), &m, 500);
		if (ret == -ETIMEDOUT || ret == -EMSGSIZE)
			continue;
		if (ret) {
			if (ret != -ECONNRESET)
				fprintf(stderr, "scanner: %s\n",
					strerror(-ret));
			break;
		}
		if (m.len < sizeof(*r) + sizeof(*e) || r->hdr.magic != MON_MAGIC ||
		    r->hdr.type != MON_MSG_VERDICT_REQ || !r->verdict_id)
			continue;
		/* a create makes an empty file: nothing to find */
		found = e->op == OP_CREATE ? 0 :
			scan(lowerfd, mon_event_path(e), argv[3], p,
			     r->verdict_id);
		mhdr(&v.hdr, MON_MSG_VERDICT, sizeof(v));
		v.verdict_id = r->verdict_id;
		v.verdict = found == 1 ? MON_DENY : MON_ALLOW;
		v.error = EACCES;
		ret = send_msg(p, &v, sizeof(v));
		if (!quiet) {
			printf("scanner: %s %s (pid %d %s)%s\n",
			       found == 1 ? "DENY " : "allow",
			       mon_event_path(e), e->pid, e->comm,
			       ret ? " (too late: the default applied)" : "");
			fflush(stdout);
		}
	}
	fltc_close(p);
	close(lowerfd);
	return 0;
}
