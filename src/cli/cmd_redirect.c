/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter redirect add|remove|list|dehydrate MOUNTPOINT ...: run-time
 * rules of the redirect filter, through its communication port "redirect"
 * (filters/redirect/port.c; wire format in docs/redirect.md).
 */
#include "cli/cli.h"
#include "cli/json_out.h"

#include <fsfilter/client.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char redirect_usage[] =
"usage: fsfilter redirect list MOUNTPOINT [--json]\n"
"       fsfilter redirect add MOUNTPOINT 'PATH=>BACKING[,policy=P][,errno=E]"
"[,only=WHO|,except=WHO]'\n"
"         WHO: NAME, comm:NAME, pid:N or uid:N, joined with +\n"
"       fsfilter redirect remove MOUNTPOINT PATH\n"
"       fsfilter redirect dehydrate MOUNTPOINT PATH\n";

/* --json of "list": the rules as the filter formats them ("spec", the
 * syntax of fsfilter redirect add) and split into their parts. PATH and
 * BACKING keep the rule syntax's escapes (\, \= \; \\ \xHH), so every
 * string is valid UTF-8 and round-trips into "redirect add". */
static int print_rules_json(const char *mnt, char *lines)
{
	struct json_object *o = json_object_new_object();
	struct json_object *rules = json_object_new_array();

	for (char *line = strtok(lines, "\n"); line;
	     line = strtok(NULL, "\n")) {
		struct json_object *r = json_object_new_object();
		char *p = line, *arrow = NULL, *comma = NULL;

		json_object_object_add(r, "spec", json_object_new_string(line));
		for (; *p; p++) {	/* unescaped "=>", then ',' */
			if (*p == '\\' && p[1]) {
				p++;
				continue;
			}
			if (!arrow && p[0] == '=' && p[1] == '>')
				arrow = p;
			else if (arrow && *p == ',') {
				comma = p;
				break;
			}
		}
		if (arrow) {
			json_object_object_add(r, "path",
				json_object_new_string_len(line,
							   (int)(arrow - line)));
			json_object_object_add(r, "backing",
				json_object_new_string_len(arrow + 2,
					(int)((comma ? comma : p) - arrow - 2)));
		}
		/* ,policy=P,errno=E[,only=WHO|,except=WHO] */
		for (char *kv = comma; kv && *kv == ',';) {
			char *next = strchr(kv + 1, ','), *eq;

			if (next)
				*next = '\0';
			eq = strchr(kv + 1, '=');
			if (eq) {
				*eq = '\0';
				json_object_object_add(r, kv + 1,
					json_object_new_string(eq + 1));
			}
			if (!next)
				break;
			*next = ',';
			kv = next;
		}
		json_object_array_add(rules, r);
	}
	json_object_object_add(o, "mountpoint", json_object_new_string(mnt));
	json_object_object_add(o, "rules", rules);
	cli_json_print_put(stdout, o);
	return CLI_OK;
}

int cmd_redirect(int argc, char **argv)
{
	static char reply[65536];
	char req[8192];
	struct fltc_port *port;
	const char *verb = argc > 1 ? argv[1] : "";
	size_t n = 0;
	int ret, need;
	bool json = false;

	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		fputs(redirect_usage, stdout);
		return CLI_OK;
	}
	/* list --json (before or after MOUNTPOINT) */
	for (int i = 2; !strcmp(verb, "list") && i < argc; i++)
		if (!strcmp(argv[i], "--json")) {
			json = true;
			for (int k = i; k < argc; k++)
				argv[k] = argv[k + 1];
			argc--;
			break;
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
		if (json)
			return print_rules_json(argv[2], reply + 3);
		fputs(reply + 3, stdout);
		return CLI_OK;
	}
	fprintf(stderr, "fsfilter redirect %s: %s", verb,
		!strncmp(reply, "error: ", 7) ? reply + 7 : reply);
	return CLI_RUNTIME;
}
