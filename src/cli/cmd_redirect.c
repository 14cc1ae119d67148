/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter redirect add|remove|list|dehydrate MOUNTPOINT ...: run-time
 * rules of the redirect filter, through its communication port "redirect"
 * (filters/redirect/port.c; wire format in docs/redirect.md).
 */
#include "cli/cli.h"

#include <fsfilter/client.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char redirect_usage[] =
"usage: fsfilter redirect list MOUNTPOINT\n"
"       fsfilter redirect add MOUNTPOINT 'PATH=>BACKING[,policy=P][,errno=E]"
"[,only=WHO|,except=WHO]'\n"
"         WHO: NAME, comm:NAME, pid:N or uid:N, joined with +\n"
"       fsfilter redirect remove MOUNTPOINT PATH\n"
"       fsfilter redirect dehydrate MOUNTPOINT PATH\n";

int cmd_redirect(int argc, char **argv)
{
	static char reply[65536];
	char req[8192];
	struct fltc_port *port;
	const char *verb = argc > 1 ? argv[1] : "";
	size_t n = 0;
	int ret, need;

	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		fputs(redirect_usage, stdout);
		return CLI_OK;
	}
	need = !strcmp(verb, "list") ? 3 : 4;
	if ((strcmp(verb, "list") && strcmp(verb, "add") &&
	     strcmp(verb, "remove") && strcmp(verb, "dehydrate")) ||
	    argc != need) {
		fputs(redirect_usage, stderr);
		return CLI_USAGE;
	}
	if (need == 4)
		ret = snprintf(req, sizeof(req), "%s %s", verb, argv[3]);
	else
		ret = snprintf(req, sizeof(req), "%s", verb);
	if (ret < 0 || (size_t)ret >= sizeof(req)) {
		fprintf(stderr, "fsfilter redirect: argument too long\n");
		return CLI_USAGE;
	}
	ret = fltc_connect(argv[2], "redirect", NULL, 0, 5000, &port);
	if (ret) {
		fprintf(stderr, "fsfilter redirect: %s: %s%s\n", argv[2],
			strerror(-ret), ret == -ENOENT ?
			" (not an fsfilter volume, or no redirect filter "
			"attached: --filter redirect:...)" : "");
		return CLI_RUNTIME;
	}
	ret = fltc_send_message(port, req, strlen(req), reply,
				sizeof(reply) - 1, &n, 60000);
	fltc_close(port);
	if (ret) {
		fprintf(stderr, "fsfilter redirect %s: %s\n", verb,
			strerror(-ret));
		return CLI_RUNTIME;
	}
	reply[n] = '\0';
	if (!strncmp(reply, "ok\n", 3)) {
		fputs(reply + 3, stdout);
		return CLI_OK;
	}
	fprintf(stderr, "fsfilter redirect %s: %s", verb,
		!strncmp(reply, "error: ", 7) ? reply + 7 : reply);
	return CLI_RUNTIME;
}
