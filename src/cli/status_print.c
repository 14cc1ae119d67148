/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter status, for people:
 *
 *   Volume /mnt/data (lower /srv/data, daemon pid 812, mounted by uid 0)
 *     dispatched 10412, in flight 1, live callback data 0,
 *     lower inodes 12, open handles 1
 *
 *   Instances (top first):
 *     ALTITUDE  FILTER  ARGS   SOURCE
 *     370000    noop    trace  builtin
 *     320000    hello   deny   /usr/lib/fsfilter/hello.so
 *
 *   Operations (pre/post, non-zero):
 *     noop@370000   lookup 12/12  open 3/3  read 40/40
 *
 *   Figures of monitor@385100:         (filters' own, if they report any)
 *     clients                                  1
 *
 *   In flight (1):
 *     read ino 5  cat[1234] uid 0  age 12.3 ms  pre  paging
 *       pended by: hello
 *       completion nodes (top first): noop@370000 (sync)
 *
 * The JSON field names are the contract (--json); this is only a view.
 * On a terminal (cli/color.h) headings are bold, a cancelled operation red
 * and a pended one yellow.
 */
#include "cli/status_print.h"
#include "cli/color.h"

#include <fsfilter/text.h>

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * @s as one printable line: names in status (mount points, rule arguments,
 * process names of operations in flight) may hold control bytes, which
 * would forge lines of this output; they are written as \xHH
 * (flt_escape_name; backslashes stay as rules write them). Returns @s
 * itself when it has none, else a copy that lives until 8 later calls.
 */
static const char *printable(const char *s)
{
	static char *ring[8];
	static unsigned next;
	size_t len, o;
	char *out;

	if (!s)
		return NULL;
	len = strlen(s);
	out = malloc(FLT_ESC_SIZE(len));
	if (!out)
		return "?";
	o = flt_escape_name(s, len, out, FLT_ESC_SIZE(len), 0);
	if (o == len) {	/* nothing escaped: every escape is longer */
		free(out);
		return s;
	}
	free(ring[next]);
	ring[next] = out;
	next = (next + 1) % 8;
	return out;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return printable(json_object_get_string(v));
}

static unsigned long long num(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	return (unsigned long long)json_object_get_uint64(v);
}

static void print_volume(FILE *f, struct json_object *vol)
{
	struct json_object *t, *w;

	fprintf(f, "%sVolume %s%s (lower %s, daemon pid %llu, mounted by uid "
		"%llu)\n", cli_color(f, CLI_C_BOLD), str(vol, "mountpoint"),
		cli_color(f, CLI_C_RESET),
		str(vol, "lower") ? str(vol, "lower") : "?",
		num(vol, "pid"), num(vol, "owner_uid"));
	fprintf(f, "  dispatched %llu, in flight %llu, live callback data "
		"%llu", num(vol, "dispatched"), num(vol, "inflight"),
		num(vol, "live_callback_data"));
	if (json_object_object_get_ex(vol, "lower_inodes", NULL))
		fprintf(f, ",\n  lower inodes %llu, open handles %llu",
			num(vol, "lower_inodes"), num(vol, "lower_handles"));
	if (json_object_object_get_ex(vol, "timeout", &t))
		fprintf(f, ",\n  cache timeout %g s, lower watch %s",
			json_object_get_double(t),
			json_object_object_get_ex(vol, "lower_watch", &w) &&
			json_object_get_boolean(w) ? "on" : "off");
	fprintf(f, "\n");
}

/* The filters' own figures (flt_status_add_*), one per line. */
static void print_figures(FILE *f, struct json_object *insts)
{
	size_t n = json_object_array_length(insts);

	for (size_t i = 0; i < n; i++) {
		struct json_object *in = json_object_array_get_idx(insts, i);
		struct json_object *figs;

		if (!json_object_object_get_ex(in, "figures", &figs))
			continue;
		fprintf(f, "\n%sFigures of %s@%llu:%s\n",
			cli_color(f, CLI_C_BOLD), str(in, "filter"),
			num(in, "altitude"), cli_color(f, CLI_C_RESET));
		json_object_object_foreach(figs, key, v)
			fprintf(f, "  %-40s %s\n", printable(key),
				printable(json_object_get_string(v)));
		if (str(in, "figures_error"))
			fprintf(f, "  (incomplete: %s)\n",
				str(in, "figures_error"));
	}
}

static void print_instances(FILE *f, struct json_object *insts)
{
	size_t n = json_object_array_length(insts), wf = 6, wa = 4;

	fprintf(f, "\n%sInstances (top first):%s\n", cli_color(f, CLI_C_BOLD),
		cli_color(f, CLI_C_RESET));
	if (!n) {
		fprintf(f, "  none: operations go straight to the lower "
			"directory\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *in = json_object_array_get_idx(insts, i);
		size_t lf = strlen(str(in, "filter")), la = strlen(
							  str(in, "args"));

		wf = lf > wf ? lf : wf;
		wa = la > wa ? la : wa;
	}
	fprintf(f, "  %-10s %-*s  %-*s  %s\n", "ALTITUDE", (int)wf, "FILTER",
		(int)wa, "ARGS", "SOURCE");
	for (size_t i = 0; i < n; i++) {
		struct json_object *in = json_object_array_get_idx(insts, i);

		fprintf(f, "  %-10llu %-*s  %-*s  %s\n", num(in, "altitude"),
			(int)wf, str(in, "filter"), (int)wa, str(in, "args"),
			str(in, "source"));
	}
	fprintf(f, "\n%sOperations per instance (pre/post, non-zero):%s\n",
		cli_color(f, CLI_C_BOLD), cli_color(f, CLI_C_RESET));
	for (size_t i = 0; i < n; i++) {
		struct json_object *in = json_object_array_get_idx(insts, i);
		struct json_object *pre = json_object_object_get(in, "pre");
		struct json_object *post = json_object_object_get(in, "post");
		int col = fprintf(f, "  %s@%llu:", str(in, "filter"),
				  num(in, "altitude"));
		bool any = false;

		json_object_object_foreach(pre, op, v) {
			char item[96];
			int len = snprintf(item, sizeof(item), " %s %llu/%llu",
					   op, (unsigned long long)
						   json_object_get_uint64(v),
					   num(post, op));

			if (col + len > 78) {
				fprintf(f, "\n   ");
				col = 3;
			}
			fputs(item, f);
			col += len;
			any = true;
		}
		fprintf(f, "%s\n", any ? "" : " none yet");
	}
	print_figures(f, insts);
}

static void print_op(FILE *f, struct json_object *op)
{
	struct json_object *flags = json_object_object_get(op, "flags");
	struct json_object *nodes = json_object_object_get(op,
							    "completion_nodes");
	size_t nn = json_object_array_length(nodes);

	fprintf(f, "  %s ino %llu  %s[%llu] uid %llu  age %.1f ms  %s",
		str(op, "op"), num(op, "ino"), str(op, "process"),
		num(op, "pid"), num(op, "uid"),
		json_object_get_double(json_object_object_get(op, "age_ms")),
		str(op, "phase"));
	for (size_t i = 0; i < json_object_array_length(flags); i++)
		fprintf(f, " %s", printable(json_object_get_string(
					  json_object_array_get_idx(flags, i))));
	if (json_object_get_boolean(json_object_object_get(op, "cancelled")))
		fprintf(f, " %sCANCELLED%s", cli_color(f, CLI_C_RED),
			cli_color(f, CLI_C_RESET));
	fprintf(f, "\n");
	if (str(op, "pended_by"))
		fprintf(f, "    %spended by: %s%s\n",
			cli_color(f, CLI_C_YELLOW), str(op, "pended_by"),
			cli_color(f, CLI_C_RESET));
	fprintf(f, "    completion nodes (top first):");
	if (!nn)
		fprintf(f, " none");
	for (size_t i = 0; i < nn; i++) {
		struct json_object *n = json_object_array_get_idx(nodes, i);

		fprintf(f, " %s@%llu%s", str(n, "filter"), num(n, "altitude"),
			json_object_get_boolean(json_object_object_get(n, "sync"))
				? " (sync)" : "");
	}
	if (num(op, "completion_nodes_total") > nn)
		fprintf(f, " ... (%llu in all)",
			num(op, "completion_nodes_total"));
	fprintf(f, "\n");
}

void status_print(FILE *f, struct json_object *status)
{
	struct json_object *ops = json_object_object_get(status, "operations");
	size_t n = json_object_array_length(ops);

	print_volume(f, json_object_object_get(status, "volume"));
	print_instances(f, json_object_object_get(status, "instances"));
	fprintf(f, "\n%sIn flight (%llu):%s\n", cli_color(f, CLI_C_BOLD),
		num(status, "operations_total"), cli_color(f, CLI_C_RESET));
	if (!n)
		fprintf(f, "  nothing\n");
	for (size_t i = 0; i < n; i++)
		print_op(f, json_object_array_get_idx(ops, i));
	if (num(status, "operations_total") > n)
		fprintf(f, "  ... and %llu more\n",
			num(status, "operations_total") - n);
}
