/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter status | load | attach | detach | unload: requests to the
 * control channel of a running volume (src/control/ctl.h).
 */
#include "cli/cli.h"
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
		fprintf(stderr, "fsfilter %s: %s: %s\n", cmd, arg,
			strerror(errno));
		return CLI_USAGE;
	}
	snprintf(mnt, mntlen, "%s", real);
	free(real);
	if (!cli_is_fsfilter_mount(mnt)) {
		fprintf(stderr, "fsfilter %s: %s is not a mounted fsfilter "
			"volume (see fsfilter status for the mounted ones)\n",
			cmd, mnt);
		return CLI_USAGE;
	}
	ret = fltc_runtime_dir(mnt, dir, sizeof(dir));
	if (ret == -ENOTCONN) {
		fprintf(stderr, "fsfilter %s: %s is a dead mount (its daemon "
			"is gone): run 'fsfilter unmount %s'\n", cmd, mnt, mnt);
		return CLI_RUNTIME;
	}
	if (ret) {
		fprintf(stderr, "fsfilter %s: cannot find the runtime "
			"directory of %s: %s\n", cmd, mnt, strerror(-ret));
		return CLI_RUNTIME;
	}
	if (snprintf(sock, socklen, "%s/%s", dir, CTL_SOCKET_NAME) >=
	    (int)socklen) {
		fprintf(stderr, "fsfilter %s: runtime path too long\n", cmd);
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

/* Send @req to the volume at @arg. On success the response (ok or not)
 * is in @resp; CLI_RUNTIME after printing why the call failed. */
static int call(const char *cmd, const char *arg, struct json_object *req,
		struct json_object **resp, char *mnt, size_t mntlen)
{
	char sock[PATH_MAX], err[1024];
	int ret = find_socket(cmd, arg, mnt, mntlen, sock, sizeof(sock));

	if (ret)
		return ret;
	if (ctl_call(sock, req, resp, err, sizeof(err))) {
		fprintf(stderr, "fsfilter %s: %s: %s\n", cmd, mnt, err);
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
	fprintf(stderr, "fsfilter %s: %s: %s\n", cmd, mnt,
		e ? json_object_get_string(e) : "the daemon refused");
	return CLI_RUNTIME;
}

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
			json_object_array_add(all, o);
		}
		return ret;
	}
	ret = check_ok("status", mnt, resp);
	if (all)
		json_object_array_add(all, json_object_get(resp));
	else if (json)
		printf("%s\n", json_object_to_json_string_ext(
				       resp, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED |
					     JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!ret && !json)
		status_print(stdout, resp);
	json_object_put(resp);
	return ret;
}

int cmd_status(int argc, char **argv)
{
	struct ctl_args a = { 0 };
	struct json_object *all;
	char **mounts;
	size_t n;
	int ret = parse(argc, argv, &a, true, false, false), r;

	if (ret)
		return ret;
	if (a.npos > 1)
		return usage_error(a.cmd, "too many arguments", a.pos[1]);
	if (a.npos == 1)
		return status_one(a.pos[0], a.json, NULL);
	if (cli_fsfilter_mounts(&mounts, &n)) {
		fprintf(stderr, "fsfilter status: cannot read "
			"/proc/self/mountinfo: %s\n", strerror(errno));
		return CLI_RUNTIME;
	}
	all = a.json ? json_object_new_array() : NULL;
	if (!n && !a.json)
		printf("no fsfilter volumes are mounted\n");
	for (size_t i = 0; i < n; i++) {
		if (i && !a.json)
			printf("\n");
		r = status_one(mounts[i], a.json, all);
		if (r && !ret)
			ret = r;
	}
	if (all) {
		printf("%s\n", json_object_to_json_string_ext(
				       all, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_SPACED |
					     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(all);
	}
	cli_free_mounts(mounts, n);
	return ret;
}

/* load, attach, detach, unload: one request, a one-line answer */
static int simple(int argc, char **argv, const char *what, bool attach_opts,
		  bool force)
{
	struct ctl_args a = { 0 };
	struct json_object *req, *resp = NULL;
	char mnt[PATH_MAX], *path = NULL;
	int ret = parse(argc, argv, &a, false, attach_opts, force);

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
		/* the daemon runs in / : send an absolute path */
		path = realpath(a.pos[1], NULL);
		if (!path) {
			fprintf(stderr, "fsfilter load: %s: %s\n", a.pos[1],
				strerror(errno));
			json_object_put(req);
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
	json_object_put(req);
	if (!ret)
		ret = check_ok(a.cmd, mnt, resp);
	if (!ret && attach_opts)
		printf("%s: %s attached at altitude %s\n", mnt,
		       json_object_get_string(json_object_object_get(
			       resp, "filter")),
		       json_object_get_string(json_object_object_get(
			       resp, "altitude")));
	else if (!ret)
		printf("%s: %s %s\n", mnt, a.pos[1],
		       !strcmp(a.cmd, "unload") ? "unloaded" : "detached");
	json_object_put(resp);
	free(path);
	return ret;
}

int cmd_load(int argc, char **argv)
{
	return simple(argc, argv, "FILE.so", true, false);
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
	int ret = parse(argc, argv, &a, false, false, false);

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
	if (!ret)
		printf("%s\n", json_object_get_string(json_object_object_get(
					resp, "fired")));
	json_object_put(resp);
	return ret;
}
