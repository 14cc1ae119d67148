/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfilter: command dispatch. */
#include "cli/cli.h"
#include "cli/color.h"

#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "mount", cmd_mount },
	{ "unmount", cmd_unmount },
	{ "umount", cmd_unmount },
	{ "check", cmd_check },
	{ "crypt", cmd_crypt },
	{ "status", cmd_status },
	{ "load", cmd_load },
	{ "attach", cmd_attach },
	{ "detach", cmd_detach },
	{ "unload", cmd_unload },
	{ "fault", cmd_fault },
	{ "spy", cmd_spy },
	{ "redirect", cmd_redirect },
};

int main(int argc, char **argv)
{
	const char *cmd;

	/* --color=WHEN goes with every command, anywhere on the line */
	if (cli_color_parse(&argc, argv) || cli_timeout_parse(&argc, argv))
		return CLI_USAGE;
	cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		cli_usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		if (argc > 2)	/* fsfilter help COMMAND */
			return cli_help_command(argv[2]);
		cli_usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("fsfilter %s\n", FSFILTER_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name)) {
			/* fsfilter CMD --help: that command's page (spy's own
			 * --help is longer: it explains every filter option) */
			if (argc == 3 && strcmp(cmd, "spy") &&
			    (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
				return cli_help_command(cmd);
			return commands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "fsfilter: unknown command '%s' (expected mount, "
		"unmount, check, status, load, attach, detach, unload, spy, redirect, "
		"crypt, help; "
		"see fsfilter --help)\n", cmd);
	return CLI_USAGE;
}
