/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter status | load | attach | detach | unload: requests to the
 * control channel of a running volume (src/control/ctl.h).
 */
#include "cli/cli.h"
#include "cli/color.h"
#include "cli/filterdir.h"
#include "cli/json_out.h"
#include "cli/status_print.h"
#include "control/ctl.h"
#include "lib/client/runtime_dir.h"

#include <fsfilter/client.h>

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct ctl_args {
	const char *cmd;
	bool json, force;
	uint32_t altitude;
	const char *args;
	const char *pos[3];
	size_t npos;
};

/* fsfilter status without MOUNTPOINT: a volume unmounted between reading
 * the mount table and connecting to it is skipped, so the first attempt
 * is silent (see status_all). */
static bool quiet;

/* How the last call() failed at the control socket (negative errno, 0
 * if it did not get that far) and why: a daemon that did not answer in
 * time (-ETIMEDOUT) is "not responding", in the listing and in --json. */
static int last_err;
static char last_msg[1024];

#define complain(...)                                                        \
	do {                                                                 \
		if (!quiet)                                                  \
			fprintf(stderr, __VA_ARGS__);                        \
	} while (0)

static int usage_error(const char *cmd, const char *msg, const char *arg)
{
	fprintf(stderr, "fsfilter %s: %s%s%s (see fsfilter --help)\n", cmd,
		msg, arg ? ": " : "", arg ? arg : "");
	return CLI_USAGE;
}

enum { OPT_JSON = 256, OPT_ALTITUDE, OPT_ARGS, OPT_FORCE };

static int parse(int argc, char **argv, struct ctl_args *a, bool json,
		 bool attach_opts, bool force)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "altitude", required_argument, NULL, OPT_ALTITUDE },
		{ "args", required_argument, NULL, OPT_ARGS },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	a->cmd = argv[0];
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			if (!json)
				goto unknown;
			a->json = true;
			break;
		case OPT_ALTITUDE:
			if (!attach_opts)
				goto unknown;
			if (cfg_parse_altitude(optarg, &a->altitude))
				return usage_error(a->cmd, "--altitude wants a "
						   "whole number from 0 to "
						   "4294967295", optarg);
			break;
		case OPT_ARGS:
			if (!attach_opts)
				goto unknown;
			a->args = optarg;
			break;
		case OPT_FORCE:
			if (!force)
				goto unknown;
			a->force = true;
			break;
		case 'h':
			cli_usage(stdout);
			exit(CLI_OK);
		case ':':
			return usage_error(a->cmd, "option needs a value",
					   argv[optind - 1]);
		default:
unknown:
			return usage_error(a->cmd, "unknown option",
					   argv[optind - 1]);
		}
	}
	while (optind < argc) {
		if (a->npos == sizeof(a->pos) / sizeof(a->pos[0]))
			return usage_error(a->cmd, "too many arguments",
					   argv[optind]);
		a->pos[a->npos++] = argv[optind++];
	}
	return CLI_OK;
}

/* The control socket of the volume at @arg; the canonical mount point
 * goes to @mnt. Prints why not and returns an exit code on failure. */
static int find_socket(const char *cmd, const char *arg, char *mnt,
		       size_t mntlen, char *sock, size_t socklen)
{
	char dir[PATH_MAX], *real = cli_realpath(arg);
	int ret;

	if (!real) {
		complain("fsfilter %s: %s: %s\n", cmd, arg, strerror(errno));
		return CLI_USAGE;
	}
	snprintf(mnt, mntlen, "%s", real);
	free(real);
	if (!cli_is_fsfilter_mount(mnt)) {
		complain("fsfilter %s: %s is not a mounted fsfilter volume "
			 "(see fsfilter status for the mounted ones)\n", cmd,
			 mnt);
		return CLI_USAGE;
	}
	ret = fltc_runtime_dir(mnt, dir, sizeof(dir));
	if (ret == -ENOTCONN) {
		complain("fsfilter %s: %s is a dead mount (its daemon is "
			 "gone): run 'fsfilter unmount %s'\n", cmd, mnt, mnt);
		return CLI_RUNTIME;
	}
	if (ret) {
		complain("fsfilter %s: cannot find the runtime directory of "
			 "%s: %s\n", cmd, mnt, strerror(-ret));
		return CLI_RUNTIME;
	}
	if (snprintf(sock, socklen, "%s/%s", dir, CTL_SOCKET_NAME) >=
	    (int)socklen) {
		fprintf(stderr, "fsfilter %s: runtime path too long\n", cmd);
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

/* Requests that change the stack are answered when done (see
 * cli_ctl_timeout_change_ms). */
static bool changes(const char *cmd)
{
	return !strcmp(cmd, "load") || !strcmp(cmd, "attach") ||
	       !strcmp(cmd, "detach") || !strcmp(cmd, "unload");
}

/* Send @req to the volume at @arg. On success the response (ok or not)
 * is in @resp; CLI_RUNTIME after printing why the call failed. */
static int call(const char *cmd, const char *arg, struct json_object *req,
		struct json_object **resp, char *mnt, size_t mntlen)
{
	char sock[PATH_MAX];
	int ret;

	last_err = 0;
	last_msg[0] = '\0';
	ret = find_socket(cmd, arg, mnt, mntlen, sock, sizeof(sock));
	if (ret)
		return ret;
	last_err = ctl_call(sock, req, resp, last_msg, sizeof(last_msg),
			    changes(cmd) ? cli_ctl_timeout_change_ms() :
					   cli_ctl_timeout_ms());
	if (last_err == -ETIMEDOUT) {
		/* a detach may be waiting for operations to drain: it goes
		 * on in the daemon, only this command stops waiting */
		complain("fsfilter %s: %s: not responding: %s (%swait longer "
			 "with --timeout-ctl SECONDS)\n", cmd, mnt, last_msg,
			 strcmp(cmd, "status") ? "the request may still be "
			 "carried out, see fsfilter status; " : "");
		return CLI_RUNTIME;
	}
	if (last_err) {
		complain("fsfilter %s: %s: %s\n", cmd, mnt, last_msg);
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

/* Print the daemon's refusal, if it refused. */
static int check_ok(const char *cmd, const char *mnt,
		    struct json_object *resp)
{
	struct json_object *e;

	if (json_object_get_boolean(json_object_object_get(resp, "ok")))
		return CLI_OK;
	e = json_object_object_get(resp, "error");
	complain("%sfsfilter %s: %s: %s%s\n", cli_color(stderr, CLI_C_RED), cmd,
		 mnt, e ? json_object_get_string(e) : "the daemon refused",
		 cli_color(stderr, CLI_C_RESET));
	return CLI_RUNTIME;
}

/* --json of a command that failed before or at the daemon: the same
 * object shape as on success, "ok": false and what went wrong. */
static void json_failure(const char *mnt, struct json_object *resp,
			 int code)
{
	struct json_object *o = json_object_new_object(), *e = NULL;

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "mountpoint", json_object_new_string(mnt));
	if (resp)
		e = json_object_object_get(resp, "error");
	json_object_object_add(o, "error", e ? json_object_get(e)
					   : last_msg[0] ? json_object_new_string(
							last_msg) : NULL);
	if (last_err == -ETIMEDOUT)
		json_object_object_add(o, "responding",
				       json_object_new_boolean(0));
	json_object_object_add(o, "exit_code", json_object_new_int(code));
	cli_json_print_put(stdout, o);
}

/* One volume's status; @all collects the --json array of every volume. */
static int status_one(const char *arg, bool json, struct json_object *all)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	char mnt[PATH_MAX];
	int ret;

	json_object_object_add(req, "cmd", json_object_new_string("status"));
	ret = call("status", arg, req, &resp, mnt, sizeof(mnt));
	json_object_put(req);
	if (ret) {
		if (all) {	/* keep the list complete */
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "ok",
					       json_object_new_boolean(0));
			json_object_object_add(o, "mountpoint",
					       json_object_new_string(arg));
			json_object_object_add(o, "responding",
					       json_object_new_boolean(0));
			if (last_msg[0])
				json_object_object_add(
					o, "error",
					json_object_new_string(last_msg));
			if (last_err)
				json_object_object_add(
					o, "errno", json_object_new_string(
							    ctl_errno_name(last_err)));
			json_object_array_add(all, o);
		} else if (json) {
			json_failure(arg, NULL, ret);
		}
		return ret;
	}
	ret = check_ok("status", mnt, resp);
	if (all) {
		json_object_object_add(resp, "responding",
				       json_object_new_boolean(1));
		json_object_array_add(all, json_object_get(resp));
	}
	else if (json)
		cli_json_print(stdout, resp);
	if (!ret && !json)
		status_print(stdout, resp);
	json_object_put(resp);
	return ret;
}

/* Every mounted volume. One that is gone by the time we connect (unmounted
 * after the mount table was read) is skipped: the first attempt is quiet,
 * and only a volume that is still mounted has its failure reported (by a
 * second attempt, which says why). One whose daemon does not answer in
 * time is listed as not responding (no second attempt: it would only
 * double the wait) and the others are still shown; the exit status is
 * then 1, as for any volume that failed. */
static int status_all(bool json)
{
	struct json_object *all = json ? json_object_new_array() : NULL;
	size_t n, shown = 0;
	char **mounts;
	int ret = CLI_OK, r;

	if (cli_fsfilter_mounts(&mounts, &n)) {
		fprintf(stderr, "fsfilter status: cannot read "
			"/proc/self/mountinfo: %s\n", strerror(errno));
		json_object_put(all);
		return CLI_RUNTIME;
	}
	for (size_t i = 0; i < n; i++) {
		if (shown && !json)
			printf("\n");
		quiet = true;
		r = status_one(mounts[i], json, all);
		quiet = false;
		if (!r) {
			shown++;
			continue;
		}
		if (last_err == -ETIMEDOUT) {	/* its entry stays */
			if (!json)
				printf("%sVolume %s%s: %snot responding%s: %s\n",
				       cli_color(stdout, CLI_C_BOLD), mounts[i],
				       cli_color(stdout, CLI_C_RESET),
				       cli_color(stdout, CLI_C_RED),
				       cli_color(stdout, CLI_C_RESET),
				       last_msg);
			shown++;
			ret = CLI_RUNTIME;
			continue;
		}
		if (all)	/* its {"ok": false} entry, for now */
			json_object_array_del_idx(
				all, json_object_array_length(all) - 1, 1);
		if (!cli_is_fsfilter_mount(mounts[i]))
			continue;	/* gone meanwhile */
		/* still there: this time say why it fails */
		shown++;
		r = status_one(mounts[i], json, all);
		if (r && !ret)
			ret = r;
	}
	if (!shown && !json)
		printf("no fsfilter volumes are mounted\n");
	if (all)
		cli_json_print_put(stdout, all);
	cli_free_mounts(mounts, n);
	return ret;
}

int cmd_status(int argc, char **argv)
{
	struct ctl_args a = { 0 };
	int ret = parse(argc, argv, &a, true, false, false);

	if (ret)
		return ret;
	if (a.npos > 1)
		return usage_error(a.cmd, "too many arguments", a.pos[1]);
	if (a.npos == 1)
		return status_one(a.pos[0], a.json, NULL);
	return status_all(a.json);
}

/* A filter's name, not the path of a file: no '/', no .so at the end. */
static bool is_filter_name(const char *arg)
{
	size_t n = strlen(arg);

	return !strchr(arg, '/') && !(n > 3 && !strcmp(arg + n - 3, ".so"));
}

/* fsfilter load MOUNTPOINT NAME|FILE.so: a NAME (no '/', no .so) is NAME.so
 * in the filter directories (filterdir.c); the daemon runs in / and gets
 * an absolute path. malloc'd, or NULL after printing why. */
static char *load_path(const char *arg)
{
	char found[PATH_MAX], *path;

	if (is_filter_name(arg)) {
		if (cli_filterdir_find(arg, found, sizeof(found))) {
			fprintf(stderr, "fsfilter load: no filter '%s': no "
				"%s.so in $FSFILTER_FILTER_PATH, next to "
				"fsfilter or in %s (give the path of a .so "
				"file, e.g. ./%s.so)\n", arg, arg,
				cli_filterdir(), arg);
			return NULL;
		}
		arg = found;
	}
	path = realpath(arg, NULL);
	if (!path)
		fprintf(stderr, "fsfilter load: %s: %s\n", arg,
			strerror(errno));
	return path;
}

/* The daemon answered "no filter named ..." (not built in, not loaded). */
static bool unknown_filter(struct json_object *resp)
{
	struct json_object *e = json_object_object_get(resp, "errno");

	return !json_object_get_boolean(json_object_object_get(resp, "ok")) &&
	       e && !strcmp(json_object_get_string(e), "ENOENT");
}

/* fsfilter attach MOUNTPOINT NAME of a NAME the daemon does not know: like
 * `load MOUNTPOINT NAME` and `mount --filter NAME`, NAME.so from the filter
 * directories (filterdir.c), loaded and attached by a load request with
 * the same altitude and arguments. Its answer replaces @resp; the file's
 * path (malloc'd) goes to @path. CLI_USAGE after saying why if there is
 * no such file. */
static int attach_from_filterdir(const char *name, const char *mnt,
				 struct json_object *req,
				 struct json_object **resp, char **path,
				 char *canon, size_t canonlen)
{
	char found[PATH_MAX];

	if (!is_filter_name(name)) {
		fprintf(stderr, "fsfilter attach: %s: no filter named '%s' "
			"(attach takes a filter's name; load a .so file with "
			"fsfilter load %s FILE.so)\n", mnt, name, mnt);
		return CLI_USAGE;
	}
	if (cli_filterdir_find(name, found, sizeof(found))) {
		fprintf(stderr, "fsfilter attach: %s: no filter '%s': not "
			"built in, not loaded into this volume, and no %s.so "
			"in $FSFILTER_FILTER_PATH, next to fsfilter or in %s "
			"(load a .so file with fsfilter load %s FILE.so)\n",
			mnt, name, name, cli_filterdir(), mnt);
		return CLI_USAGE;
	}
	*path = realpath(found, NULL);
	if (!*path) {
		fprintf(stderr, "fsfilter attach: %s: %s\n", found,
			strerror(errno));
		return CLI_USAGE;
	}
	json_object_put(*resp);
	*resp = NULL;
	/* "name" stays: the daemon refuses a file registering another name */
	json_object_object_add(req, "cmd", json_object_new_string("load"));
	json_object_object_add(req, "path", json_object_new_string(*path));
	return call("attach", mnt, req, resp, canon, canonlen);
}

/* load, attach, detach, unload: one request, a one-line answer (or with
 * --json the daemon's answer object plus "mountpoint") */
static int simple(int argc, char **argv, const char *what, bool attach_opts,
		  bool force)
{
	struct ctl_args a = { 0 };
	struct json_object *req, *resp = NULL;
	char mnt[PATH_MAX], *path = NULL;
	int ret = parse(argc, argv, &a, true, attach_opts, force);

	if (ret)
		return ret;
	if (a.npos < 2)
		return usage_error(a.cmd, a.npos ? "missing" : "missing "
				   "MOUNTPOINT and", what);
	if (a.npos > 2)
		return usage_error(a.cmd, "too many arguments", a.pos[2]);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(a.cmd));
	if (!strcmp(a.cmd, "load")) {
		path = load_path(a.pos[1]);
		if (!path) {
			json_object_put(req);
			if (a.json)
				json_failure(a.pos[0], NULL, CLI_USAGE);
			return CLI_USAGE;
		}
		json_object_object_add(req, "path",
				       json_object_new_string(path));
	} else {
		json_object_object_add(req, "name",
				       json_object_new_string(a.pos[1]));
	}
	if (attach_opts) {
		json_object_object_add(req, "altitude",
				       json_object_new_int64(a.altitude));
		json_object_object_add(req, "args", json_object_new_string(
							    a.args ? a.args : ""));
	}
	if (force)
		json_object_object_add(req, "force",
				       json_object_new_boolean(a.force));
	ret = call(a.cmd, a.pos[0], req, &resp, mnt, sizeof(mnt));
	if (!ret && !strcmp(a.cmd, "attach") && unknown_filter(resp))
		ret = attach_from_filterdir(a.pos[1], mnt, req, &resp, &path,
					    mnt, sizeof(mnt));
	json_object_put(req);
	if (ret) {
		if (a.json)
			json_failure(a.pos[0], NULL, ret);
		goto out;
	}
	ret = check_ok(a.cmd, mnt, resp);
	if (a.json) {
		if (ret) {
			json_failure(mnt, resp, ret);
		} else {
			json_object_object_add(resp, "mountpoint",
					       json_object_new_string(mnt));
			if (!attach_opts)
				json_object_object_add(
					resp, "filter",
					json_object_new_string(a.pos[1]));
			cli_json_print(stdout, resp);
		}
	} else if (!ret && attach_opts) {
		printf("%s: %s attached at altitude %s\n", mnt,
		       json_object_get_string(json_object_object_get(
			       resp, "filter")),
		       json_object_get_string(json_object_object_get(
			       resp, "altitude")));
	} else if (!ret) {
		printf("%s: %s %s\n", mnt, a.pos[1],
		       !strcmp(a.cmd, "unload") ? "unloaded" : "detached");
	}
out:
	json_object_put(resp);
	free(path);
	return ret;
}

int cmd_load(int argc, char **argv)
{
	return simple(argc, argv, "NAME or FILE.so", true, false);
}

int cmd_attach(int argc, char **argv)
{
	return simple(argc, argv, "NAME", true, false);
}

int cmd_detach(int argc, char **argv)
{
	return simple(argc, argv, "NAME", false, true);
}

int cmd_unload(int argc, char **argv)
{
	return simple(argc, argv, "NAME", false, true);
}

/* fsfilter fault MOUNTPOINT SPEC: arm the lower layer's fault injector of
 * a daemon started with --enable-fault-injection; prints how many faults
 * the previous spec fired. */
int cmd_fault(int argc, char **argv)
{
	struct json_object *req, *resp = NULL;
	struct ctl_args a = { 0 };
	char mnt[PATH_MAX];
	int ret = parse(argc, argv, &a, true, false, false);

	if (ret)
		return ret;
	if (a.npos != 2)
		return usage_error(a.cmd, "wants MOUNTPOINT SPEC", NULL);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("fault"));
	json_object_object_add(req, "spec", json_object_new_string(a.pos[1]));
	ret = call(a.cmd, a.pos[0], req, &resp, mnt, sizeof(mnt));
	json_object_put(req);
	if (!ret)
		ret = check_ok(a.cmd, mnt, resp);
	if (a.json && ret) {
		json_failure(a.pos[0], resp, ret);
	} else if (a.json) {
		json_object_object_add(resp, "mountpoint",
				       json_object_new_string(mnt));
		json_object_object_add(resp, "spec",
				       json_object_new_string(a.pos[1]));
		cli_json_print(stdout, resp);
	} else if (!ret) {
		printf("%s\n", json_object_get_string(json_object_object_get(
					resp, "fired")));
	}
	json_object_put(resp);
	return ret;
}
