/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Colours, modestly: red for what went wrong, green for ok, yellow for
 * what waits, bold headings. Only on a terminal, never with NO_COLOR set,
 * and --color=always|never|auto (like ls and git) overrides for every
 * command. Output that goes to a pipe or a file never carries an escape
 * sequence, so scripts parse the same text as before colours existed.
 */
#include "cli/color.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum cli_color_mode mode = CLI_COLOR_AUTO;

static int set_mode(const char *when)
{
	if (!when) {
		fprintf(stderr, "fsfilter: --color wants auto, always or "
			"never\n");
		return -1;
	}
	if (!strcmp(when, "auto"))
		mode = CLI_COLOR_AUTO;
	else if (!strcmp(when, "always"))
		mode = CLI_COLOR_ALWAYS;
	else if (!strcmp(when, "never"))
		mode = CLI_COLOR_NEVER;
	else {
		fprintf(stderr, "fsfilter: --color wants auto, always or "
			"never, not '%s'\n", when);
		return -1;
	}
	return 0;
}

int cli_color_parse(int *argc, char **argv)
{
	return cli_take_option(argc, argv, "--color", set_mode);
}

bool cli_color_on(FILE *f)
{
	static signed char cached[3] = { -1, -1, -1 };	/* per std fd */
	const char *nc;
	int fd;

	if (mode != CLI_COLOR_AUTO)
		return mode == CLI_COLOR_ALWAYS;
	nc = getenv("NO_COLOR");
	if (nc && *nc)
		return false;
	fd = fileno(f);
	if (fd < 0 || fd > 2)
		return isatty(fd) == 1;
	if (cached[fd] < 0)
		cached[fd] = isatty(fd) == 1;
	return cached[fd];
}

const char *cli_color(FILE *f, enum cli_color c)
{
	static const char *const seq[] = {
		[CLI_C_RESET] = "\033[0m",
		[CLI_C_BOLD] = "\033[1m",
		[CLI_C_RED] = "\033[31m",
		[CLI_C_GREEN] = "\033[32m",
		[CLI_C_YELLOW] = "\033[33m",
		[CLI_C_DIM] = "\033[2m",
	};

	return cli_color_on(f) ? seq[c] : "";
}
