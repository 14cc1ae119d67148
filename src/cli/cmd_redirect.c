/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter redirect add|remove|list|dehydrate|hydrate|cancel MOUNTPOINT
 * ...: run-time rules and hydrations of the redirect filter, through its
 * communication port "redirect" (filters/redirect/port.c; wire format in
 * docs/redirect.md). hydrate starts (or joins) the background copy and
 * waits for it, polling "progress" and drawing a bar on a terminal.
 */
#include "cli/cli.h"
#include "cli/json_out.h"

#include <fsfilter/client.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char redirect_usage[] =
"usage: fsfilter redirect list MOUNTPOINT [--json]\n"
"       fsfilter redirect add MOUNTPOINT 'PATH=>BACKING[,policy=P][,errno=E]"
"[,only=WHO|,except=WHO][,watch=on]' [--watch]\n"
"         WHO: NAME, comm:NAME, pid:N or uid:N, joined with +\n"
"         --watch (= ,watch=on): follow changes of the backing file(s)\n"
"       fsfilter redirect remove MOUNTPOINT PATH\n"
"       fsfilter redirect dehydrate MOUNTPOINT PATH\n"
"       fsfilter redirect hydrate MOUNTPOINT PATH [--no-wait]\n"
"       fsfilter redirect cancel MOUNTPOINT PATH\n";

/*
 * The longest request the CLI sends (verb, space, argument, NUL). The
 * longest valid rule: PATH and BACKING each decode to less than PATH_MAX
 * bytes (filters/redirect/rules.c) and each byte may be written as \xHH
 * (4 bytes), so 2 x 4 x PATH_MAX, plus 1 KiB for "=>", the options (a
 * scope list is at most FLT_SCOPE_MAX items) and the verb. Well inside
 * the port's message bound (FLT_PORT_MAX_MESSAGE, 64 KiB). Before, the
 * CLI's buffer was 8 KiB and cut longer rules with "argument too long".
 */
#define REDIRECT_REQ_MAX (8u * PATH_MAX + 1024u)

/* One request on @port; the reply (after "ok\n") in @reply. 0, or
 * CLI_RUNTIME with the message printed. */
static int request(struct fltc_port *port, const char *verb, const char *req,
		   char *reply, size_t len)
{
	size_t n = 0;
	int ret;

	ret = fltc_send_message(port, req, strlen(req), reply, len - 1, &n,
				60000);
	if (ret) {
		fprintf(stderr, "fsfilter redirect %s: %s\n", verb,
			strerror(-ret));
		return CLI_RUNTIME;
	}
	reply[n] = '\0';
	if (!strncmp(reply, "ok\n", 3)) {
		memmove(reply, reply + 3, n - 2);
		return 0;
	}
	fprintf(stderr, "fsfilter redirect %s: %s", verb,
		!strncmp(reply, "error: ", 7) ? reply + 7 : reply);
	return CLI_RUNTIME;
}

static void bar(unsigned long long done, unsigned long long total,
		unsigned long long rate)
{
	char b[31];
	unsigned fill = total ? (unsigned)(done * 30 / total) : 0;

	for (unsigned i = 0; i < 30; i++)
		b[i] = i < fill ? '#' : '.';
	b[30] = '\0';
	fprintf(stderr, "\r[%s] %3llu%% %8.1f / %.1f MiB  %6.1f MiB/s ", b,
		total ? done * 100 / total : 0, done / 1048576.0,
		total / 1048576.0, rate / 1048576.0);
	fflush(stderr);
}

/* hydrate: start, then poll until hydrated or no longer copying. */
static int hydrate_wait(struct fltc_port *port, const char *path, bool wait)
{
	static char reply[4096];
	static char req[REDIRECT_REQ_MAX];
	bool tty = isatty(2), drawn = false;
	struct timespec tick = { 0, 100 * 1000 * 1000 };

	snprintf(req, sizeof(req), "hydrate %s", path);
	if (request(port, "hydrate", req, reply, sizeof(reply)))
		return CLI_RUNTIME;
	if (!strcmp(reply, "hydrated\n") || !wait)
		return CLI_OK;
	if ((size_t)snprintf(req, sizeof(req), "progress %s", path) >=
	    sizeof(req)) {
		fprintf(stderr, "fsfilter redirect hydrate: PATH too long\n");
		return CLI_USAGE;
	}
	for (;;) {
		unsigned long long done, total, rate;
		char state[16];

		if (request(port, "hydrate", req, reply, sizeof(reply)))
			return CLI_RUNTIME;
		if (sscanf(reply, "%15s %llu %llu %llu", state, &done, &total,
			   &rate) == 4) {
			if (tty) {
				bar(done, total, rate);
				drawn = true;
			}
			nanosleep(&tick, NULL);
			continue;
		}
		if (drawn)
			fputc('\n', stderr);
		if (!strcmp(reply, "hydrated\n"))
			return CLI_OK;
		fprintf(stderr, "fsfilter redirect hydrate: %s was not "
			"hydrated (cancelled, or the copy failed: see the "
			"daemon log)\n", path);
		return CLI_RUNTIME;
	}
}

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
	static char req[REDIRECT_REQ_MAX];
	struct fltc_port *port;
	const char *verb = argc > 1 ? argv[1] : "";
	size_t n = 0;
	int ret, need;
	bool json = false;
	bool no_wait = false;
	bool watch = false;

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
	if (!strcmp(verb, "hydrate") && argc == 5 &&
	    !strcmp(argv[4], "--no-wait")) {
		no_wait = true;
		argc--;
	}
	if (!strcmp(verb, "add") && argc == 5 && !strcmp(argv[4], "--watch")) {
		watch = true;	/* the rule option watch=on */
		argc--;
	}
	if ((strcmp(verb, "list") && strcmp(verb, "add") &&
	     strcmp(verb, "remove") && strcmp(verb, "dehydrate") &&
	     strcmp(verb, "hydrate") && strcmp(verb, "cancel")) ||
	    argc != need) {
		fputs(redirect_usage, stderr);
		return CLI_USAGE;
	}
	if (need == 4)
		ret = snprintf(req, sizeof(req), "%s %s%s", verb, argv[3],
			       watch ? ",watch=on" : "");
	else
		ret = snprintf(req, sizeof(req), "%s", verb);
	if (ret < 0 || (size_t)ret >= sizeof(req)) {
		fprintf(stderr, "fsfilter redirect %s: the request is %d "
			"bytes, longer than the limit of %u bytes (PATH and "
			"BACKING: under PATH_MAX = %d bytes each once "
			"unescaped, 4 bytes per \\xHH escape)\n", verb, ret,
			REDIRECT_REQ_MAX - 1, PATH_MAX);
		return CLI_USAGE;
	}
	ret = fltc_connect(argv[2], "redirect", NULL, 0, cli_ctl_timeout_ms(),
			   &port);
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "fsfilter redirect: %s: not responding: no "
			"answer within %g s (the daemon is stopped, hung or "
			"busy; wait longer with --timeout-ctl SECONDS)\n",
			argv[2], cli_ctl_timeout_ms() / 1000.0);
		return CLI_RUNTIME;
	}
	if (ret) {
		fprintf(stderr, "fsfilter redirect: %s: %s%s\n", argv[2],
			strerror(-ret), ret == -ENOENT ?
			" (not an fsfilter volume, or no redirect filter "
			"attached: --filter redirect:...)" : "");
		return CLI_RUNTIME;
	}
	if (!strcmp(verb, "hydrate")) {
		ret = hydrate_wait(port, argv[3], !no_wait);
		fltc_close(port);
		return ret;
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
