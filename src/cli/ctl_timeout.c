/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long a command waits for a volume's daemon to answer: the control
 * requests (status, load, attach, detach, unload, fault) and the
 * connection and handshake of spy and redirect. A daemon that is stopped
 * (SIGSTOP, a debugger), hung or wedged must make the command fail, not
 * wait forever; `fsfilter status` then lists that volume as not
 * responding and shows the others. The bound is on each answer, never on
 * a whole operation: a hydrate's progress polls, spy's stream and crypt
 * migrate (which works on LOWER, without a daemon) run as long as needed.
 *
 * --timeout-ctl SECONDS (anywhere on the line, like --color) or
 * FSFILTER_CTL_TIMEOUT; the option wins. 0 waits forever.
 */
#include "cli/cli.h"
#include "control/ctl.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static int timeout_ms = CTL_TIMEOUT_MS_DEFAULT;
static bool timeout_given;

/* SECONDS: a number >= 0 (fractions allowed) up to a day. */
static int set_timeout_from(const char *s, const char *from)
{
	char *end;
	double v;

	if (!s) {
		fprintf(stderr, "fsfilter: %s wants a number of seconds\n",
			from);
		return -1;
	}
	v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v < 0 || v > 86400) {
		fprintf(stderr, "fsfilter: %s wants a number of seconds from 0 "
			"(wait forever) to 86400, not '%s'\n", from, s);
		return -1;
	}
	timeout_ms = v == 0 ? -1 : v * 1000 < 1 ? 1 : (int)lround(v * 1000);
	timeout_given = true;
	return 0;
}

static int set_timeout(const char *s)
{
	return set_timeout_from(s, "--timeout-ctl");
}

int cli_timeout_parse(int *argc, char **argv)
{
	const char *env = getenv("FSFILTER_CTL_TIMEOUT");

	if (env && *env && set_timeout_from(env, "FSFILTER_CTL_TIMEOUT"))
		return -1;
	return cli_take_option(argc, argv, "--timeout-ctl", set_timeout);
}

int cli_ctl_timeout_ms(void)
{
	return timeout_ms;
}

/* A load, attach, detach or unload is answered when it is done: a detach
 * first drains the instance's operations in flight, which on a loaded
 * machine (or under a sanitizer) can take longer than a status answer
 * ever should. Their default bound is longer; a given bound is kept. */
int cli_ctl_timeout_change_ms(void)
{
	if (timeout_given || timeout_ms < 0 || timeout_ms > CTL_TIMEOUT_MS_CHANGE)
		return timeout_ms;
	return CTL_TIMEOUT_MS_CHANGE;
}
