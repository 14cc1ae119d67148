/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter spy MOUNTPOINT: a live view of the monitor filter's events
 * (minispy / Process Monitor), human columns or JSON lines, filters on the
 * command line, and a summary with the dropped count on exit.
 */
#include "cli/cli.h"
#include "cli/color.h"
#include "cli/json_out.h"

#include <fsfilter/client.h>
#include <fsfilter/filter.h>
#include <fsfilter/monitor.h>
#include <fsfilter/text.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t spy_stop;

static void on_signal(int sig)
{
	(void)sig;
	spy_stop = 1;
}

static const char spy_usage[] =
	"usage: fsfilter spy MOUNTPOINT [options]\n"
	"  --json            one JSON object per line\n"
	"  --ops LIST        operations (comma-separated: open,read,... or "
	"all);\n"
	"                    default: open,create,read,write,release and the "
	"namespace ops\n"
	"  --pre, --post     phase(s) to show (default: --post, which has "
	"results)\n"
	"  --comm NAME       only this process name\n"
	"  --pid N           only this process (and its threads)\n"
	"  --uid N           only this user\n"
	"  --path PATTERN    path prefix (/dir) or glob (/dir/*.txt, /**.so)\n"
	"  --misses          also lookups that find nothing\n"
	"  --filter-io       also operations issued by filters\n"
	"  --count N         exit after N events\n"
	"  --timeout SEC     exit after SEC seconds\n";

static const uint64_t default_ops =
	MON_OP_BIT(FLT_OP_OPEN) | MON_OP_BIT(FLT_OP_CREATE) |
	MON_OP_BIT(FLT_OP_READ) | MON_OP_BIT(FLT_OP_WRITE) |
	MON_OP_BIT(FLT_OP_RELEASE) | MON_OP_BIT(FLT_OP_LOOKUP) |
	MON_OP_BIT(FLT_OP_MKDIR) | MON_OP_BIT(FLT_OP_MKNOD) |
	MON_OP_BIT(FLT_OP_UNLINK) | MON_OP_BIT(FLT_OP_RMDIR) |
	MON_OP_BIT(FLT_OP_RENAME) | MON_OP_BIT(FLT_OP_LINK) |
	MON_OP_BIT(FLT_OP_SYMLINK) | MON_OP_BIT(FLT_OP_SETATTR) |
	MON_OP_BIT(FLT_OP_SETXATTR) | MON_OP_BIT(FLT_OP_REMOVEXATTR);

static int parse_ops(const char *list, uint64_t *out)
{
	char buf[1024], *save = NULL, *t;

	*out = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i;

		if (!strcmp(t, "all")) {
			*out |= (MON_OP_BIT(FLT_OP_COUNT) - 1) &
				~MON_OP_BIT(FLT_OP_FORGET);
			continue;
		}
		for (i = 0; i < FLT_OP_COUNT; i++)
			if (!strcmp(t, flt_op_name((enum flt_op)i)))
				break;
		if (i == FLT_OP_COUNT) {
			fprintf(stderr, "fsfilter spy: unknown operation '%s' "
				"(names as in fsfilter status: open, read, "
				"lookup, ...)\n", t);
			return -EINVAL;
		}
		*out |= MON_OP_BIT(i);
	}
	return 0;
}

/* A name in the text output: control bytes and the backslash as \xHH, so
 * a name with a newline cannot forge an event line. */
static const char *text_str(const char *in, char *out, size_t len)
{
	flt_escape_name(in, strlen(in), out, len, FLT_ESC_BACKSLASH);
	return out;
}

static void detail(const struct mon_event *e, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (e->op) {
	case FLT_OP_READ:
	case FLT_OP_WRITE:
	case FLT_OP_READDIR:
	case FLT_OP_FALLOCATE:
	case FLT_OP_COPY_FILE_RANGE:
		snprintf(buf, len, "off=%" PRId64 " len=%" PRIu64, e->offset,
			 e->length);
		if (e->phase == MON_POST && e->result >= 0) {
			size_t n = strlen(buf);

			snprintf(buf + n, len - n, " done=%" PRIu64,
				 e->information);
		}
		break;
	case FLT_OP_OPEN:
	case FLT_OP_CREATE:
		snprintf(buf, len, "flags=0%o", (unsigned)e->op_flags);
		break;
	default:
		break;
	}
	if (e->io_flags & FLT_IO_PAGING) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, "%spaging", n ? " " : "");
	}
	if (e->path2_len) {
		size_t n = strlen(buf);

		char p2[4 * 4096 + 8];

		snprintf(buf + n, len - n, "%s-> %s", n ? " " : "",
			 text_str(mon_event_path2(e), p2, sizeof(p2)));
	}
}

static void print_event(const struct mon_event *e, bool json)
{
	static _Thread_local char det[4 * 4096 + 100], path[4 * 4096 + 8];
	char ts[32], comm[4 * MON_COMM_LEN + 8];
	time_t sec = (time_t)(e->time_ns / 1000000000ull);
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	if (json) {
		printf("{\"seq\":%" PRIu64 ",\"time_ns\":%" PRIu64
		       ",\"phase\":\"%s\",\"op\":\"%s\",\"pid\":%d,\"uid\":%u,"
		       "\"gid\":%u,\"comm\":",
		       e->seq, e->time_ns, e->phase == MON_PRE ? "pre" : "post",
		       flt_op_name((enum flt_op)e->op), e->pid, e->uid, e->gid);
		cli_json_str(stdout, e->comm);
		printf(",\"path\":");
		cli_json_str(stdout, mon_event_path(e));
		if (e->path2_len) {
			printf(",\"path2\":");
			cli_json_str(stdout, mon_event_path2(e));
		}
		printf(",\"ino\":%" PRIu64 ",\"offset\":%" PRId64
		       ",\"length\":%" PRIu64 ",\"flags\":%d,\"mode\":%u"
		       ",\"paging\":%s,\"filter_io\":%s",
		       e->ino, e->offset, e->length, e->op_flags, e->mode,
		       (e->io_flags & FLT_IO_PAGING) ? "true" : "false",
		       (e->io_flags & FLT_IO_FILTER_INITIATED) ? "true" :
								  "false");
		if (e->phase == MON_POST)
			printf(",\"result\":%d,\"information\":%" PRIu64
			       ",\"duration_ns\":%" PRIu64,
			       e->result, e->information, e->duration_ns);
		printf("}\n");
		return;
	}
	detail(e, det, sizeof(det));
	/* a failed operation in red, on a terminal (cli/color.h) */
	bool failed = e->phase == MON_POST && e->result;

	if (failed)
		fputs(cli_color(stdout, CLI_C_RED), stdout);
	printf("%s.%06u %8" PRIu64 " %-15s %7d %-4s %-11s %-40s %-14s %s",
	       ts, (unsigned)(e->time_ns % 1000000000ull / 1000), e->seq,
	       text_str(e->comm, comm, sizeof(comm)), e->pid,
	       e->phase == MON_PRE ? "pre" : "post",
	       flt_op_name((enum flt_op)e->op),
	       text_str(mon_event_path(e), path, sizeof(path)),
	       e->phase == MON_PRE ? "" :
	       e->result ? strerror(-e->result) : "SUCCESS",
	       det);
	if (e->phase == MON_POST)
		printf(" %.1fus", (double)e->duration_ns / 1000.0);
	if (failed)
		fputs(cli_color(stdout, CLI_C_RESET), stdout);
	putchar('\n');
}

struct spy_opts {
	bool json;
	uint64_t ops;
	bool pre, post;
	struct mon_subscribe sub;
	long count;
	long timeout_s;
};

static int spy_parse(int argc, char **argv, struct spy_opts *o,
		     const char **mnt)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "ops", required_argument, NULL, 'o' },
		{ "pre", no_argument, NULL, 'P' },
		{ "post", no_argument, NULL, 'Q' },
		{ "comm", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "uid", required_argument, NULL, 'u' },
		{ "path", required_argument, NULL, 'f' },
		{ "misses", no_argument, NULL, 'm' },
		{ "filter-io", no_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->ops = default_ops;
	o->sub.uid = (uint32_t)-1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jo:c:p:u:f:n:t:h", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'o':
			if (parse_ops(optarg, &o->ops))
				return CLI_USAGE;
			break;
		case 'P': o->pre = true; break;
		case 'Q': o->post = true; break;
		case 'c':
			if (strlen(optarg) >= MON_COMM_LEN) {
				fprintf(stderr, "fsfilter spy: --comm: process "
					"names have at most %d characters\n",
					MON_COMM_LEN - 1);
				return CLI_USAGE;
			}
			snprintf(o->sub.comm, sizeof(o->sub.comm), "%s",
				 optarg);
			break;
		case 'p': o->sub.pid = atoi(optarg); break;
		case 'u': o->sub.uid = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			if (optarg[0] != '/' ||
			    strlen(optarg) >= MON_PATTERN_LEN) {
				fprintf(stderr, "fsfilter spy: --path must "
					"start with / (relative to the volume) "
					"and be shorter than %d bytes\n",
					MON_PATTERN_LEN);
				return CLI_USAGE;
			}
			snprintf(o->sub.path, sizeof(o->sub.path), "%s",
				 optarg);
			break;
		case 'm': o->sub.flags |= MON_SUB_LOOKUP_MISSES; break;
		case 'F': o->sub.flags |= MON_SUB_FILTER_IO; break;
		case 'n': o->count = atol(optarg); break;
		case 't': o->timeout_s = atol(optarg); break;
		case 'h':
			fputs(spy_usage, stdout);
			exit(CLI_OK);
		default:
			fputs(spy_usage, stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(spy_usage, stderr);
		return CLI_USAGE;
	}
	*mnt = argv[optind];
	if (!o->pre && !o->post)
		o->post = true;
	return CLI_OK;
}

static int get_stats(struct fltc_port *port, struct mon_stats *st)
{
	struct mon_hdr h = { MON_MAGIC, MON_VERSION, MON_MSG_GET_STATS,
			     sizeof(h), 0 };
	size_t n = 0;
	int ret = fltc_send_message(port, &h, sizeof(h), st, sizeof(*st), &n,
				    2000);

	if (!ret && (n != sizeof(*st) || st->hdr.magic != MON_MAGIC))
		ret = -EPROTO;
	return ret;
}

int cmd_spy(int argc, char **argv)
{
	static _Alignas(8) char buf[FLT_PORT_MAX_MESSAGE];
	struct sigaction sa = { .sa_handler = on_signal };
	struct spy_opts o;
	struct fltc_port *port;
	struct mon_reply rep;
	struct mon_stats st;
	const char *mnt;
	uint64_t shown = 0, dropped = 0;
	size_t n = 0;
	time_t end;
	int ret;

	ret = spy_parse(argc, argv, &o, &mnt);
	if (ret)
		return ret;
	ret = fltc_connect(mnt, MON_PORT_NAME, "spy", 3, cli_ctl_timeout_ms(),
			   &port);
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "fsfilter spy: %s: not responding: no answer "
			"within %g s (the daemon is stopped, hung or busy; wait "
			"longer with --timeout-ctl SECONDS)\n", mnt,
			cli_ctl_timeout_ms() / 1000.0);
		return CLI_RUNTIME;
	}
	if (ret) {
		fprintf(stderr, "fsfilter spy: cannot connect to the monitor "
			"of %s: %s (is it an fsfilter volume mounted with "
			"--filter monitor?)\n", mnt, strerror(-ret));
		return CLI_RUNTIME;
	}
	o.sub.hdr = (struct mon_hdr){ MON_MAGIC, MON_VERSION, MON_MSG_SUBSCRIBE,
				      sizeof(o.sub), 0 };
	o.sub.ops_pre = o.pre ? o.ops : 0;
	o.sub.ops_post = o.post ? o.ops : 0;
	ret = fltc_send_message(port, &o.sub, sizeof(o.sub), &rep, sizeof(rep),
				&n, cli_ctl_timeout_ms());
	if (!ret)
		ret = n == sizeof(rep) ? rep.status : -EPROTO;
	if (ret) {
		fprintf(stderr, "fsfilter spy: subscription refused: %s\n",
			strerror(-ret));
		fltc_close(port);
		return CLI_RUNTIME;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	fprintf(stderr, "fsfilter spy: listening on %s\n", mnt);
	if (!o.json)
		printf("%-15s %8s %-15s %7s %-4s %-11s %-40s %-14s %s\n",
		       "TIME", "SEQ", "PROCESS", "PID", "", "OPERATION",
		       "PATH", "RESULT", "DETAIL");
	fflush(stdout);
	end = o.timeout_s > 0 ? time(NULL) + o.timeout_s : 0;
	while (!spy_stop && (!o.count || shown < (uint64_t)o.count)) {
		struct pollfd pfd = { .fd = fltc_get_fd(port),
				      .events = POLLIN };
		const struct mon_batch *b = (const void *)buf;
		struct fltc_message m;
		size_t off;

		if (end && time(NULL) >= end)
			break;
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			break;
		ret = fltc_get_message(port, buf, sizeof(buf), &m, 0);
		if (ret == -ETIMEDOUT || ret == -EMSGSIZE)
			continue;
		if (ret) {
			if (ret != -ECONNRESET)
				fprintf(stderr, "fsfilter spy: %s\n",
					strerror(-ret));
			break;
		}
		if (m.len < sizeof(*b) || b->hdr.magic != MON_MAGIC ||
		    b->hdr.type != MON_MSG_EVENTS || b->hdr.size != m.len)
			continue;
		dropped = b->dropped;
		off = sizeof(*b);
		for (uint32_t i = 0; i < b->count; i++) {
			const struct mon_event *e = (const void *)(buf + off);

			if (off + sizeof(*e) > m.len || e->size < sizeof(*e) ||
			    off + e->size > m.len)
				break;
			if (o.count && shown >= (uint64_t)o.count)
				break;
			print_event(e, o.json);
			shown++;
			off += e->size;
		}
		fflush(stdout);
	}
	if (!get_stats(port, &st))
		dropped = st.dropped;
	fprintf(stderr, "fsfilter spy: %" PRIu64 " events shown, %" PRIu64
		" dropped\n", shown, dropped);
	fltc_close(port);
	return CLI_OK;
}
