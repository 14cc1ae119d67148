/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The --filter monitor:KEY=VALUE,... arguments (docs/monitor.md). */
#include "filters/monitor/mon_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *v, unsigned long max, int base,
		      unsigned long *out)
{
	char *end;

	errno = 0;
	if (!*v || *v == '-')
		return -EINVAL;
	*out = strtoul(v, &end, base);
	if (errno || *end || *out > max)
		return -EINVAL;
	return 0;
}

int mon_args_parse(const char *args, struct mon_config *cfg, char *err,
		   size_t errlen)
{
	char buf[1024], *save = NULL, *tok;
	unsigned long v = 0;

	*cfg = (struct mon_config){
		.verdict_timeout_ms = 1000,
		.max_verdict_ms = 10000,
		.deny_errno = EACCES,
		.max_clients = 8,
		.queue_bytes = 256 * 1024,
		.port_mode = 0600,
	};
	if (!args)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s", args) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "arguments too long");
		return -EINVAL;
	}
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');
		int ret = 0;

		if (!val) {
			snprintf(err, errlen, "'%s': expected KEY=VALUE", tok);
			return -EINVAL;
		}
		*val++ = '\0';
		if (!strcmp(tok, "verdict_timeout_ms")) {
			ret = parse_uint(val, 3600000, 10, &v);
			if (!ret && v == 0)
				ret = -EINVAL;
			cfg->verdict_timeout_ms = (unsigned)v;
		} else if (!strcmp(tok, "max_verdict_ms")) {
			ret = parse_uint(val, 3600000, 10, &v);
			cfg->max_verdict_ms = (unsigned)v;
		} else if (!strcmp(tok, "default")) {
			if (!strcmp(val, "allow"))
				cfg->default_deny = false;
			else if (!strcmp(val, "deny"))
				cfg->default_deny = true;
			else
				ret = -EINVAL;
		} else if (!strcmp(tok, "deny_errno")) {
			ret = parse_uint(val, 4095, 10, &v);
			if (!ret && v == 0)
				ret = -EINVAL;
			cfg->deny_errno = (int)v;
		} else if (!strcmp(tok, "paging_bound_ms")) {
			ret = parse_uint(val, MON_PAGING_BOUND_MAX_MS, 10, &v);
			cfg->paging_bound_ms = (unsigned)v;
		} else if (!strcmp(tok, "max_clients")) {
			ret = parse_uint(val, MON_MAX_CLIENTS, 10, &v);
			if (!ret && v == 0)
				ret = -EINVAL;
			cfg->max_clients = (unsigned)v;
		} else if (!strcmp(tok, "queue_kb")) {
			ret = parse_uint(val, 64 * 1024, 10, &v);
			if (!ret && v < 64)
				ret = -EINVAL;
			cfg->queue_bytes = (size_t)v * 1024;
		} else if (!strcmp(tok, "port_mode")) {
			ret = parse_uint(val, 0777, 8, &v);
			cfg->port_mode = (unsigned)v;
		} else {
			snprintf(err, errlen, "unknown argument '%s' (expected "
				 "verdict_timeout_ms, max_verdict_ms, default, "
				 "deny_errno, paging_bound_ms, max_clients, "
				 "queue_kb, port_mode)", tok);
			return -EINVAL;
		}
		if (ret) {
			snprintf(err, errlen, "bad value '%s' for %s (see "
				 "docs/monitor.md for the ranges)", val, tok);
			return -EINVAL;
		}
	}
	if (cfg->max_verdict_ms < cfg->verdict_timeout_ms)
		cfg->max_verdict_ms = cfg->verdict_timeout_ms;
	return 0;
}
