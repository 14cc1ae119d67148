/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfilter mount: parse, validate everything, then open the lower
 * directory, build the filter stack and serve the volume over FUSE. */
#include "cli/cli.h"
#include "control/ctl.h"
#include "core/core.h"
#include "core/core_hooks.h"
#include "fuse/frontend.h"
#include "lower/lower.h"
#include "port/port.h"
#include "lib/client/runtime_dir.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

enum {
	OPT_FILTER = 256, OPT_CONFIG, OPT_THREADS, OPT_WRITEBACK, OPT_TIMEOUT,
	OPT_NEW_TIMEOUT,
	OPT_NONEMPTY, OPT_NO_PASSTHROUGH, OPT_NO_XATTR, OPT_FAULT_INJECTION,
};

static const struct option long_opts[] = {
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "foreground", no_argument, NULL, 'f' },
	{ "debug", no_argument, NULL, 'd' },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "writeback", no_argument, NULL, OPT_WRITEBACK },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "new-timeout", required_argument, NULL, OPT_NEW_TIMEOUT },
	{ "nonempty", no_argument, NULL, OPT_NONEMPTY },
	{ "no-passthrough", no_argument, NULL, OPT_NO_PASSTHROUGH },
	{ "no-xattr", no_argument, NULL, OPT_NO_XATTR },
	{ "enable-fault-injection", no_argument, NULL, OPT_FAULT_INJECTION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line says; applied over the config file. */
struct mount_args {
	const char *config;
	const char *filters[CFG_MAX_FILTERS + 1];
	size_t nfilters;
	char *options;		/* -o, joined with ',' */
	bool foreground, debug, writeback, nonempty, no_passthrough, no_xattr;
	bool fault_injection;
	bool threads_set, timeout_set, new_timeout_set;
	unsigned threads;
	double timeout, new_timeout;
	const char *lower, *mountpoint;
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "fsfilter mount: %s%s%s (see fsfilter --help)\n", msg,
		arg ? ": " : "", arg ? arg : "");
	return CLI_USAGE;
}

static int add_options(struct mount_args *a, const char *o)
{
	size_t n = a->options ? strlen(a->options) : 0;
	char *s = realloc(a->options, n + strlen(o) + 2);

	if (!s)
		return -1;
	if (n)
		s[n++] = ',';
	strcpy(s + n, o);
	a->options = s;
	return 0;
}

static int parse_args(int argc, char **argv, struct mount_args *a)
{
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fdo:h", long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_FILTER:
			if (a->nfilters == CFG_MAX_FILTERS)
				return usage_error("too many --filter", NULL);
			a->filters[a->nfilters++] = optarg;
			break;
		case OPT_CONFIG:
			a->config = optarg;
			break;
		case 'f':
			a->foreground = true;
			break;
		case 'd':	/* as with libfuse: debug output needs the
				   terminal, so -d implies -f */
			a->debug = true;
			a->foreground = true;
			break;
		case 'o':
			if (add_options(a, optarg))
				return usage_error("out of memory", NULL);
			break;
		case OPT_THREADS:
			if (cfg_parse_threads(optarg, &a->threads))
				return usage_error("--threads wants a whole "
						   "number from 1 to 1024",
						   optarg);
			a->threads_set = true;
			break;
		case OPT_WRITEBACK:
			a->writeback = true;
			break;
		case OPT_TIMEOUT:
			if (cfg_parse_timeout(optarg, &a->timeout))
				return usage_error("--timeout wants seconds >= "
						   "0, e.g. 1.0, or auto",
						   optarg);
			a->timeout_set = true;
			break;
		case OPT_NEW_TIMEOUT:
			if (cfg_parse_timeout(optarg, &a->new_timeout))
				return usage_error("--new-timeout wants "
						   "seconds >= 0, e.g. 10",
						   optarg);
			a->new_timeout_set = true;
			break;
		case OPT_NONEMPTY:
			a->nonempty = true;
			break;
		case OPT_FAULT_INJECTION:
			a->fault_injection = true;
			break;
		case OPT_NO_PASSTHROUGH:
			a->no_passthrough = true;
			break;
		case OPT_NO_XATTR:
			a->no_xattr = true;
			break;
		case 'h':
			cli_usage(stdout);
			exit(CLI_OK);
		case ':':
			return usage_error("option needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		a->lower = argv[optind++];
	if (optind < argc)
		a->mountpoint = argv[optind++];
	if (optind < argc)
		return usage_error("too many arguments", argv[optind]);
	if (a->lower && !a->mountpoint)
		return usage_error("missing MOUNTPOINT", NULL);
	if (!a->lower && !a->config)
		return usage_error("missing LOWER and MOUNTPOINT", NULL);
	return CLI_OK;
}

/* Config file first, the command line over it. */
static int build_config(const struct mount_args *a, struct cfg_volume *c)
{
	char err[CFG_ERR_LEN];

	if (a->config && cfg_load(c, a->config, err, sizeof(err))) {
		fprintf(stderr, "fsfilter: %s\n", err);
		return CLI_USAGE;
	}
	if (a->lower) {
		free(c->lower);
		free(c->mountpoint);
		c->lower = strdup(a->lower);
		c->mountpoint = strdup(a->mountpoint);
	}
	if (a->options) {
		free(c->options);
		c->options = strdup(a->options);
	}
	if (a->threads_set)
		c->threads = a->threads;
	if (a->timeout_set)
		c->timeout = a->timeout;
	if (a->new_timeout_set)
		c->new_timeout = a->new_timeout;
	c->writeback |= a->writeback;
	c->nonempty |= a->nonempty;
	if (a->no_passthrough)
		c->passthrough = false;
	if (a->no_xattr)
		c->xattr = false;
	for (size_t i = 0; i < a->nfilters; i++)
		if (cfg_add_filter_spec(c, a->filters[i], err, sizeof(err))) {
			fprintf(stderr, "fsfilter: %s\n", err);
			return CLI_USAGE;
		}
	if (!c->lower || !c->mountpoint) {
		fprintf(stderr, "fsfilter: %s: no %s (give LOWER MOUNTPOINT on "
			"the command line, or set it in [volume])\n",
			a->config, c->lower ? "mountpoint" : "lower");
		return CLI_USAGE;
	}
	if ((a->options && !c->options) || !c->lower || !c->mountpoint) {
		fprintf(stderr, "fsfilter: out of memory\n");
		return CLI_RUNTIME;
	}
	if (cfg_check(c, err, sizeof(err))) {
		fprintf(stderr, "fsfilter: %s\n", err);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* Absolute, canonical paths: the daemon changes its directory to / and
 * mountinfo shows canonical paths. */
static int canonical(char **path, const char *what)
{
	char *r = cli_realpath(*path);

	if (!r) {
		fprintf(stderr, "fsfilter: %s %s: %s (give an existing "
			"directory)\n", what, *path, strerror(errno));
		return CLI_USAGE;
	}
	free(*path);
	*path = r;
	return CLI_OK;
}

static int validate(struct cfg_volume *c)
{
	int ret;

	if ((ret = canonical(&c->lower, "LOWER")) ||
	    (ret = cli_check_lower(c->lower)) ||
	    (ret = canonical(&c->mountpoint, "MOUNTPOINT")) ||
	    (ret = cli_check_mountpoint(c->mountpoint, c->nonempty)) ||
	    (ret = cli_check_fuse_device()) || (ret = cli_check_filters(c)))
		return ret;
	return CLI_OK;
}

static void stream_gone(flt_ino_t ino, void *vol)
{
	core_stream_gone(vol, ino);
}

/* Communication ports (src/port) live in the volume's runtime directory:
 * set it before filters attach (they create their ports then), computed
 * before mounting. Without it filters get -ENOENT for their ports. */
static void start_ports(const struct cfg_volume *c)
{
	char dir[PATH_MAX];
	int ret = fsf_runtime_dir_for(c->mountpoint, geteuid() == 0, dir,
				      sizeof(dir));

	if (!ret)
		ret = port_set_runtime_dir(dir);
	if (ret)
		fprintf(stderr, "fsfilter: warning: no communication ports "
			"(runtime directory: %s)\n", strerror(-ret));
}

/* The control channel (fsfilter status/load/attach/detach/unload). The
 * volume works without it, so a failure is a warning. The runtime dir is
 * computed before mounting: it resolves the mount point's path. */
static struct ctl_server *start_control(const struct cfg_volume *c,
					struct flt_volume *vol,
					struct lower_fs *lower,
					bool fault_injection)
{
	struct ctl_volume cv = {
		.vol = vol,
		.lower = lower,
		.mountpoint = c->mountpoint,
		.lower_path = c->lower,
		.owner = geteuid(),
		.fault_injection = fault_injection,
	};
	struct ctl_server *srv = NULL;
	char dir[PATH_MAX] = "";
	int ret = fsf_runtime_dir_for(c->mountpoint, geteuid() == 0, dir,
				      sizeof(dir));

	if (!ret)
		ret = ctl_start(dir, &cv, &srv);
	if (ret == -ENOENT && !dir[0])
		fprintf(stderr, "fsfilter: warning: no control channel "
			"($XDG_RUNTIME_DIR is not set): fsfilter status and "
			"load will not reach this volume\n");
	else if (ret)
		fprintf(stderr, "fsfilter: warning: no control channel in "
			"%s: %s: fsfilter status and load will not reach this "
			"volume\n", dir, strerror(-ret));
	return srv;
}

/* The lower layer's watch (lower.h) sends its invalidations through the
 * core's host hooks, from its own thread, while the session is up. */
static int watch_inval_inode(void *arg, flt_ino_t ino, bool data)
{
	return core_volume_invalidate_inode(arg, ino, data);
}

static int watch_inval_entry(void *arg, flt_ino_t parent, const char *name)
{
	return core_volume_invalidate_entry(arg, parent, name);
}

struct watch_arg {
	struct lower_fs *lower;
	struct flt_volume *vol;
};

static void watch_up(void *arg)
{
	struct watch_arg *w = arg;

	lower_watch_start(w->lower, &(struct lower_watch_hooks){
		.inval_inode = watch_inval_inode,
		.inval_entry = watch_inval_entry,
		.arg = w->vol });
}

static void watch_down(void *arg)
{
	lower_watch_stop(((struct watch_arg *)arg)->lower);
}

static int serve(const struct cfg_volume *c, const struct mount_args *a)
{
	struct ctl_server *ctl;
	struct lower_options lopt = {
		.attr_timeout = c->timeout,
		.entry_timeout = c->timeout,
		/* never shorter than timeout (lower_new_timeouts); with
		 * auto, as with 1 s */
		.new_timeout = c->new_timeout >= 0 ? c->new_timeout
			       : 10 * (c->timeout >= 0 ? c->timeout : 1.0),
		.keep_cache = 1,
	};
	struct fuse_frontend_options fo = {
		.mountpoint = c->mountpoint,
		.foreground = a->foreground,
		.debug = a->debug,
		.writeback = c->writeback,
		.no_passthrough = !c->passthrough,
		.no_xattr = !c->xattr,
		.max_threads = c->threads,
		.extra_opts = c->options,
		.read_ahead_kb = 1024,
	};
	int ready_fd = -1;
	struct watch_arg wa;
	struct lower_fs *lower;
	struct flt_volume *vol;
	struct core_bottom bottom;
	char *fsname = NULL;
	int ret;

	if (!a->foreground) {
		if (cli_daemon_start(&ready_fd))
			return CLI_RUNTIME;
		fo.foreground = 1;	/* done here, see daemon.c */
		fo.mounted = cli_daemon_ready;
		fo.mounted_arg = &ready_fd;
	}
	if (a->debug)	/* -d: the daemon's own debug lines too */
		flt_set_log_level(LOG_DEBUG);
	ret = lower_open(c->lower, &lopt, &lower);
	if (ret) {
		fprintf(stderr, "fsfilter: cannot open LOWER %s: %s\n",
			c->lower, strerror(-ret));
		return CLI_RUNTIME;
	}
	/* the kernel enforces and caches ACLs only if the lower has them */
	fo.posix_acl = c->xattr && lower_posix_acl(lower);
	bottom.perform = lower_perform;
	bottom.ctx = lower;
	ret = core_volume_create(c->mountpoint, &bottom, &vol);
	if (ret) {
		fprintf(stderr, "fsfilter: cannot create the volume: %s\n",
			strerror(-ret));
		ret = CLI_RUNTIME;
		goto out_lower;
	}
	/* stream contexts die with their lower inode */
	lower_set_inode_gone_hook(lower, stream_gone, vol);
	start_ports(c);
	ret = cli_attach_filters(vol, c);
	if (ret)
		goto out_volume;
	if (asprintf(&fsname, "fsfilter:%s", c->lower) < 0) {
		fsname = NULL;
		ret = CLI_RUNTIME;
		goto out_volume;
	}
	fo.fsname = fsname;
	ctl = start_control(c, vol, lower, a->fault_injection);
	wa.lower = lower;
	wa.vol = vol;
	fo.session_up = watch_up;
	fo.session_down = watch_down;
	fo.session_arg = &wa;
	ret = fuse_frontend_run(vol, &fo);
	ctl_stop(ctl);
	if (ret == -EINVAL)
		ret = CLI_USAGE;	/* libfuse refused an -o option */
	else
		ret = ret ? CLI_RUNTIME : CLI_OK;
	free(fsname);
out_volume:
	core_volume_destroy(vol);
	port_cleanup_runtime_dir();
out_lower:
	lower_close(lower);
	return ret;
}

int cmd_mount(int argc, char **argv)
{
	struct mount_args a = { 0 };
	struct cfg_volume c;
	int ret;

	cfg_init(&c);
	ret = parse_args(argc, argv, &a);
	if (!ret)
		ret = build_config(&a, &c);
	if (!ret)
		ret = validate(&c);
	if (!ret)
		ret = serve(&c, &a);
	cfg_free(&c);
	free(a.options);
	return ret;
}
