/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Colours of the command line's output (color.c). */
#ifndef FSFILTER_CLI_COLOR_H
#define FSFILTER_CLI_COLOR_H

#include <stdbool.h>
#include <stdio.h>

enum cli_color_mode { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };

enum cli_color {
	CLI_C_RESET,
	CLI_C_BOLD,	/* headings */
	CLI_C_RED,	/* errors, failures, corruption */
	CLI_C_GREEN,	/* ok */
	CLI_C_YELLOW,	/* warnings, pended, cancelled */
	CLI_C_DIM,	/* secondary detail */
};

/* Take --color=WHEN / --color WHEN out of argv (anywhere before "--");
 * returns -1 after printing why for a bad WHEN. */
int cli_color_parse(int *argc, char **argv);
/* Does @f get colours? --color=always: yes; never: no; auto (default):
 * only if @f is a terminal and NO_COLOR is unset or empty
 * (https://no-color.org). */
bool cli_color_on(FILE *f);
/* The escape sequence of @c for @f, or "" when @f gets no colours. */
const char *cli_color(FILE *f, enum cli_color c);

#endif
