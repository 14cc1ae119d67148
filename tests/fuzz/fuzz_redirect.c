/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for what redirect parses from its users: instance
 * arguments (`--filter redirect:ARGS`, `[filter redirect] args =`), one
 * rule with its escapes and process scope, and the text requests of its
 * port (`fsfilter redirect add|remove|list|hydrate|progress|cancel|
 * dehydrate`, decoded as on_message() in filters/redirect/port.c does:
 * "VERB ARG", a rule spec for add, "PATH=>/" for remove, an escaped path
 * for the others). The first input byte picks the parser (mod 4). Contract
 * besides "no crash, no UB, no leak":
 *  - a refused rule or argument string comes with a message;
 *  - round trip: a rule that parses, formatted as `redirect list` shows
 *    it, parses back to the same rule (kind, path, backing, policy,
 *    errno, watch, scope), and formats to the same text;
 *  - a parsed rule set matches each of its exact and prefix rules' own
 *    paths, to a backing path under the rule's backing.
 * Mode 3 is a rules file (rules=FILE: one clause per line, '#' comments),
 * written to a memfd read back as /proc/self/fd/N. rules= clauses inside
 * the input are skipped: they would read files named by the input.
 */
#include "filters/redirect/redir.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* as do_list() in port.c: escaped names take up to 4 bytes a byte */
#define LINE_LEN (8 * PATH_MAX + 512)

static void check(int cond)
{
	if (!cond)
		abort();
}

static void same_rule(const struct redir_rule *a, const struct redir_rule *b)
{
	check(a->kind == b->kind && a->policy == b->policy &&
	      a->deny_errno == b->deny_errno && a->watch == b->watch);
	check(!strcmp(a->path, b->path) && !strcmp(a->backing, b->backing));
	check(a->scope.kind == b->scope.kind);
	if (a->scope.kind != REDIR_SCOPE_ALL)
		check(!memcmp(&a->scope.who, &b->scope.who,
			      sizeof(a->scope.who)));
}

/* format -> parse -> same rule -> same text */
static void round_trip(const struct redir_rule *r)
{
	char *line = malloc(LINE_LEN), *again = malloc(LINE_LEN), err[1024];
	struct redir_rule r2;
	size_t n;

	check(line && again);
	n = redir_rule_format(r, line, LINE_LEN);
	check(n < LINE_LEN && strlen(line) == n);
	err[0] = '\0';
	if (redir_rule_parse(line, &r2, err, sizeof(err))) {
		/* what `list` shows must be accepted by `add` */
		abort();
	}
	same_rule(r, &r2);
	redir_rule_format(&r2, again, LINE_LEN);
	check(!strcmp(line, again));
	redir_rule_free(&r2);
	free(line);
	free(again);
}

/* a name shown in a directory listing: one component */
static void one_name(const char *name, void *arg)
{
	(void)arg;
	check(name[0] != '\0' && !strchr(name, '/'));
}

static void parse_one(const char *spec)
{
	struct redir_rule r;
	char err[1024];

	err[0] = '\0';
	if (redir_rule_parse(spec, &r, err, sizeof(err))) {
		check(err[0] != '\0');
		return;
	}
	round_trip(&r);
	redir_rule_free(&r);
}

static void parse_args(const char *args)
{
	struct redir_rules *set;
	struct redir_config cfg;
	struct redir_match *m = malloc(sizeof(*m));
	char err[1024], bdir[PATH_MAX];

	check(m != NULL);
	err[0] = '\0';
	if (redir_args_parse(args, &set, &cfg, err, sizeof(err))) {
		check(set == NULL && err[0] != '\0');
		free(m);
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct redir_rule *r = &set->v[i];

		round_trip(r);
		if (r->kind == REDIR_GLOB)
			continue;
		/* a rule's own path is redirected, somewhere under its
		 * backing (an exact rule of the same path may win) */
		check(redir_match_path(set, r->path, m));
		check(m->rule && m->backing[0] == '/');
		redir_virtual_names(set, "", one_name, NULL, bdir,
				    sizeof(bdir));
		redir_virtual_names(set, r->path, one_name, NULL, bdir,
				    sizeof(bdir));
	}
	redir_rules_put(set);
	free(m);
}

static void request(char *req)
{
	char *arg = strchr(req, ' '), path[4096], spec[4200];

	if (arg)
		*arg++ = '\0';
	if (!arg)
		return;
	if (!strcmp(req, "add")) {
		parse_one(arg);
	} else if (!strcmp(req, "remove")) {
		snprintf(spec, sizeof(spec), "%s=>/", arg);
		parse_one(spec);
	} else if (!redir_unescape_path(arg, path, sizeof(path))) {
		check(strlen(path) < sizeof(path));
	}
}

/* the input as the content of a rules=FILE */
static void rules_file(const uint8_t *data, size_t size)
{
	char args[64];
	int fd;

	if (memmem(data, size, "rules", 5))
		return;
	fd = memfd_create("fuzz-rules", MFD_CLOEXEC);
	check(fd >= 0);
	check(write(fd, data, size) == (ssize_t)size);
	snprintf(args, sizeof(args), "block=4096;rules=/proc/self/fd/%d", fd);
	parse_args(args);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (!size)
		return 0;
	if (data[0] % 4 == 3) {
		rules_file(data + 1, size - 1);
		return 0;
	}
	text = strndup((const char *)data + 1, size - 1);
	check(text != NULL);
	switch (data[0] % 4) {
	case 0:
		parse_one(text);
		break;
	case 1:
		if (!strstr(text, "rules"))
			parse_args(text);
		break;
	default:
		request(text);
		break;
	}
	free(text);
	return 0;
}
