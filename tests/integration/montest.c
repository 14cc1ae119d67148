/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * montest: the client side of the monitor's mounted tests (monitor.sh).
 *
 *   montest verdict MNT [--ops open,create,read,write] [--deny SUBSTR]
 *                       [--sleep-ms N] [--extend-ms N] [--open PATH]
 *       the verdict client: prints "ready", then for each request a line
 *       "req OP PATH [paging] [async]" and answers (deny when the path
 *       contains SUBSTR), after sleeping N ms (with --extend-ms, asking
 *       for more time first; --random-sleep-ms N: a random 0..N ms per
 *       verdict instead). --open PATH: before answering, a second
 *       thread of this process opens and reads PATH (inside the volume).
 *   montest noread MNT TRIGGER
 *       subscribes to every operation, never reads until the file TRIGGER
 *       exists, then checks the dropped-event accounting: prints
 *       "matched M sent S dropped D queued Q received R" and exits 0 iff
 *       D > 0, M == S + D + Q and R == S (+ what was queued meanwhile).
 *   montest stats MNT
 *       prints the volume's verdict counters, one "name value" a line.
 *   montest mmapread FILE
 *       maps FILE and reads one byte of every page; prints milliseconds.
 */
#include <fsfilter/client.h>
#include <fsfilter/filter.h>
#include <fsfilter/monitor.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Alignas(8) char buf[FLT_PORT_MAX_MESSAGE];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static _Noreturn void die(const char *what, int err)
{
	fprintf(stderr, "montest: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static struct fltc_port *connect_to(const char *mnt)
{
	struct fltc_port *p;
	int ret = fltc_connect(mnt, MON_PORT_NAME, "montest", 7, 5000, &p);

	if (ret)
		die("connect", ret);
	return p;
}

static void hdr(struct mon_hdr *h, unsigned type, size_t size)
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

static int subscribe(struct fltc_port *p, uint64_t pre, uint64_t post,
		     uint64_t verdict)
{
	struct mon_subscribe s = { .ops_pre = pre, .ops_post = post,
				   .verdict_ops = verdict,
				   .uid = (uint32_t)-1 };

	hdr(&s.hdr, MON_MSG_SUBSCRIBE, sizeof(s));
	if (verdict)
		s.flags = MON_SUB_VERDICT;
	return send_msg(p, &s, sizeof(s));
}

static int get_stats(struct fltc_port *p, struct mon_stats *st)
{
	struct mon_hdr h;
	size_t n = 0;
	int ret;

	hdr(&h, MON_MSG_GET_STATS, sizeof(h));
	ret = fltc_send_message(p, &h, sizeof(h), st, sizeof(*st), &n, 5000);
	return ret ? ret : n == sizeof(*st) ? 0 : -EPROTO;
}

static uint64_t parse_ops(const char *list)
{
	char tmp[256], *save = NULL, *t;
	uint64_t m = 0;

	snprintf(tmp, sizeof(tmp), "%s", list);
	for (t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
		for (int i = 0; i < FLT_OP_COUNT; i++)
			if (!strcmp(t, flt_op_name((enum flt_op)i)))
				m |= MON_OP_BIT(i);
	return m;
}

/* flt_op_name lives in the daemon; a copy of the few names we use */
const char *flt_op_name(enum flt_op op)
{
	switch (op) {
	case FLT_OP_OPEN: return "open";
	case FLT_OP_CREATE: return "create";
	case FLT_OP_READ: return "read";
	case FLT_OP_WRITE: return "write";
	default: return "?";
	}
}

static void *open_thread(void *arg)
{
	char c;
	int fd = open(arg, O_RDONLY);

	if (fd < 0) {
		perror("montest: --open");
		return NULL;
	}
	if (read(fd, &c, 1) < 0)
		perror("montest: --open read");
	close(fd);
	return NULL;
}

static int cmd_verdict(int argc, char **argv)
{
	const char *mnt = argv[2], *deny = NULL, *open_path = NULL;
	uint64_t ops = MON_OP_BIT(FLT_OP_OPEN) | MON_OP_BIT(FLT_OP_CREATE);
	long sleep_ms = 0, extend_ms = 0, random_ms = 0;
	unsigned seed = (unsigned)getpid();
	struct fltc_port *p;
	int ret;

	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--ops"))
			ops = parse_ops(argv[i + 1]);
		else if (!strcmp(argv[i], "--deny"))
			deny = argv[i + 1];
		else if (!strcmp(argv[i], "--sleep-ms"))
			sleep_ms = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--random-sleep-ms"))
			random_ms = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--extend-ms"))
			extend_ms = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--open"))
			open_path = argv[i + 1];
	}
	p = connect_to(mnt);
	ret = subscribe(p, 0, 0, ops);
	if (ret)
		die("subscribe", ret);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		const struct mon_verdict_req *r = (const void *)buf;
		const struct mon_event *e = (const void *)(r + 1);
		struct mon_verdict v = { 0 };
		struct fltc_message m;

		ret = fltc_get_message(p, buf, sizeof(buf), &m, -1);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret)
			die("get_message", ret);
		if (r->hdr.type != MON_MSG_VERDICT_REQ)
			continue;
		printf("req %s %s%s%s\n", flt_op_name((enum flt_op)e->op),
		       mon_event_path(e),
		       (e->io_flags & FLT_IO_PAGING) ? " paging" : "",
		       (e->io_flags & MON_EV_NO_VERDICT) ? " async" : "");
		fflush(stdout);
		if (!r->verdict_id)
			continue;	/* notification only */
		if (open_path) {
			pthread_t t;

			pthread_create(&t, NULL, open_thread, (void *)open_path);
			pthread_join(t, NULL);
		}
		hdr(&v.hdr, MON_MSG_VERDICT, sizeof(v));
		v.verdict_id = r->verdict_id;
		if (extend_ms) {
			v.verdict = MON_EXTEND;
			v.extend_ms = (uint32_t)extend_ms;
			send_msg(p, &v, sizeof(v));
		}
		if (sleep_ms)
			usleep((useconds_t)sleep_ms * 1000);
		if (random_ms > 0)
			usleep((useconds_t)(rand_r(&seed) % (random_ms * 1000 + 1)));
		v.verdict = deny && strstr(mon_event_path(e), deny) ? MON_DENY :
								     MON_ALLOW;
		ret = send_msg(p, &v, sizeof(v));
		printf("answer %s %d\n", v.verdict == MON_DENY ? "deny" : "allow",
		       ret);
		fflush(stdout);
	}
}

static int cmd_noread(char **argv)
{
	struct fltc_port *p = connect_to(argv[2]);
	const uint64_t all = (MON_OP_BIT(FLT_OP_COUNT) - 1);
	struct mon_stats st;
	uint64_t received = 0;
	struct stat sb;
	int ret;

	ret = subscribe(p, all, all, 0);
	if (ret)
		die("subscribe", ret);
	printf("ready\n");
	fflush(stdout);
	while (stat(argv[3], &sb))
		usleep(50000);
	usleep(200000);	/* let the sender settle */
	ret = get_stats(p, &st);
	if (ret)
		die("stats", ret);
	for (;;) {
		const struct mon_batch *b = (const void *)buf;
		struct fltc_message m;

		ret = fltc_get_message(p, buf, sizeof(buf), &m, 1000);
		if (ret == -ETIMEDOUT)
			break;
		if (ret)
			die("get_message", ret);
		if (b->hdr.type == MON_MSG_EVENTS)
			received += b->count;
	}
	printf("matched %" PRIu64 " sent %" PRIu64 " dropped %" PRIu64
	       " queued %" PRIu64 " received %" PRIu64 "\n", st.matched,
	       st.sent, st.dropped, st.queued, received);
	fltc_close(p);
	/* what was queued at the stats call went out afterwards */
	return st.dropped > 0 && st.matched == st.sent + st.dropped + st.queued &&
			       received >= st.sent &&
			       received <= st.sent + st.queued ? 0 : 1;
}

static int cmd_stats(char **argv)
{
	struct fltc_port *p = connect_to(argv[2]);
	struct mon_stats st;
	int ret = get_stats(p, &st);

	if (ret)
		die("stats", ret);
	printf("requests %" PRIu64 "\nallowed %" PRIu64 "\ndenied %" PRIu64
	       "\ntimeouts %" PRIu64 "\nreleased %" PRIu64 "\nexcluded %" PRIu64
	       "\npaging_async %" PRIu64 "\ncancelled %" PRIu64 "\n",
	       st.verdict_requests, st.verdict_allowed, st.verdict_denied,
	       st.verdict_timeouts, st.verdict_released, st.verdict_excluded,
	       st.verdict_paging_async, st.verdict_cancelled);
	fltc_close(p);
	return 0;
}

static int cmd_mmapread(char **argv)
{
	int fd = open(argv[2], O_RDONLY);
	volatile unsigned char sum = 0;
	struct stat st;
	unsigned char *m;
	double t0;

	if (fd < 0 || fstat(fd, &st))
		die("open", errno);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap", errno);
	t0 = now_ms();
	for (off_t o = 0; o < st.st_size; o += 4096)
		sum += m[o];
	printf("%.0f\n", now_ms() - t0);
	munmap(m, (size_t)st.st_size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "verdict"))
		return cmd_verdict(argc, argv);
	if (argc == 4 && !strcmp(argv[1], "noread"))
		return cmd_noread(argv);
	if (argc == 3 && !strcmp(argv[1], "stats"))
		return cmd_stats(argv);
	if (argc == 3 && !strcmp(argv[1], "mmapread"))
		return cmd_mmapread(argv);
	fprintf(stderr, "usage: see the comment at the top of montest.c\n");
	return 2;
}
