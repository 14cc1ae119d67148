/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Options that go with every command, anywhere on the line (--color,
 * --timeout-ctl): taken out of argv before the command sees it. */
#include "cli/cli.h"

#include <string.h>

int cli_take_option(int *argc, char **argv, const char *name,
		    int (*set)(const char *value))
{
	size_t len = strlen(name);
	int i = 1, o = 1;

	while (i < *argc) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[o++] = argv[i++];
			break;
		}
		if (!strncmp(argv[i], name, len) && argv[i][len] == '=') {
			if (set(argv[i] + len + 1))
				return -1;
			i++;
		} else if (!strcmp(argv[i], name)) {
			if (set(i + 1 < *argc ? argv[i + 1] : NULL))
				return -1;
			i += 2;
		} else {
			argv[o++] = argv[i++];
		}
	}
	*argc = o;
	argv[o] = NULL;
	return 0;
}
