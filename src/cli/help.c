/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter help COMMAND: one command's usage, options and an example.
 * The full picture stays in usage.c (--help) and fsfilter(1); these are
 * the short pages a user reaches for in the middle of typing a command.
 * tests/install/help.sh checks that every command of --help has one.
 */
#include "cli/cli.h"

#include <string.h>

static const struct {
	const char *name;
	const char *text;
} pages[] = {
	{ "mount",
"Usage: fsfilter mount LOWER MOUNTPOINT [OPTIONS]\n"
"       fsfilter mount --config FILE [LOWER MOUNTPOINT] [OPTIONS]\n"
"\n"
"Mount a volume showing LOWER at MOUNTPOINT through a stack of filters.\n"
"Everything is checked before anything is mounted; without -f the command\n"
"returns once the volume is mounted and the daemon runs on.\n"
"\n"
"  --filter NAME[@ALTITUDE][:ARGS]   attach a filter (repeatable); a NAME\n"
"                   with '/' or ending in .so is a filter file to load\n"
"  --config FILE    read the volume from FILE (fsfilter.conf(5))\n"
"  -f, --foreground stay in the foreground\n"
"  -d, --debug      the trace view: each request as it passes each filter,\n"
"                   down and up, on stderr (implies -f; see man fsfilter)\n"
"  -o OPTS          mount options, e.g. -o ro,noatime,allow_other; also\n"
"                   xattr=off, no_passthrough, writeback, nonempty\n"
"  --threads N      request threads\n"
"  --writeback      kernel writeback cache\n"
"  --timeout SEC    name and attribute cache lifetime (default 1.0)\n"
"  --new-timeout SEC  the same for what the mount creates (10 x timeout)\n"
"  --nonempty       allow a non-empty MOUNTPOINT\n"
"  --no-passthrough no FUSE passthrough fast path\n"
"  --no-xattr       no extended attributes (faster ls -l; see man fsfilter)\n"
"\n"
"Example: fsfilter mount /srv/data /mnt/data --filter monitor\n"
"See also: fsfilter help check, man fsfilter, man fsfilter.conf\n" },
	{ "unmount",
"Usage: fsfilter unmount MOUNTPOINT [--lazy]   (also: fsfilter umount)\n"
"       fsfilter unmount --config FILE [--lazy]\n"
"\n"
"Unmount an fsfilter volume: the daemon completes the operations in\n"
"flight, tears its filters down and exits. A volume whose daemon died is\n"
"detached too. Only fsfilter mounts are unmounted.\n"
"\n"
"  --lazy, -z       detach now even if files are still open\n"
"  --config FILE    the volume of a config file (its mountpoint)\n"
"\n"
"Example: fsfilter unmount /mnt/data\n" },
	{ "check",
"Usage: fsfilter check CONFIG [--json]\n"
"\n"
"Validate a volume configuration file as mount would, without mounting:\n"
"the syntax (errors name FILE:LINE and what is expected), the directories,\n"
"every filter and its arguments. Prints 'CONFIG: ok (N filters)'.\n"
"\n"
"  --json           the verdict and the volume as JSON\n"
"\n"
"Example: fsfilter check /etc/fsfilter/data.conf\n"
"See also: man fsfilter.conf\n" },
	{ "status",
"Usage: fsfilter status [MOUNTPOINT] [--json]\n"
"\n"
"Filters and altitudes of a running volume, counters per operation and\n"
"instance, each filter's own figures, and every operation in flight with\n"
"its age and requestor. Without MOUNTPOINT: every mounted fsfilter volume;\n"
"one whose daemon does not answer in time (stopped, hung, busy) is listed\n"
"as not responding (--json: \"responding\": false), the others are shown,\n"
"and the exit status is 1.\n"
"\n"
"  --json           machine-readable output (stable field names)\n"
"  --timeout-ctl S  wait up to S seconds for each daemon (default 5, or\n"
"                   $FSFILTER_CTL_TIMEOUT; 0: no bound)\n"
"\n"
"Example: fsfilter status --json | jq '.[].instances'\n" },
	{ "load",
"Usage: fsfilter load MOUNTPOINT NAME|FILE.so [--altitude N] [--args S]\n"
"\n"
"Load a filter shared object into the daemon of a running volume (once)\n"
"and attach it. An object built for another filter ABI is refused. A NAME\n"
"(no '/', no .so) is NAME.so from $FSFILTER_FILTER_PATH (directories\n"
"separated by ':'), the filter directory next to fsfilter, or the\n"
"installed filter directory.\n"
"\n"
"  --altitude N     where in the stack (default: the filter's own)\n"
"  --args S         the filter's argument string\n"
"  --json           the answer as JSON\n"
"\n"
"Example: fsfilter load /mnt/data hello --args deny\n"
"         fsfilter load /mnt/data ./myfilter.so\n"
"See also: man fsfilter-filter-api\n" },
	{ "attach",
"Usage: fsfilter attach MOUNTPOINT NAME [--altitude N] [--args S]\n"
"\n"
"Attach a built-in filter (noop, redirect, monitor, crypt) or a loaded\n"
"one to a running volume. A NAME the volume's daemon does not know is\n"
"NAME.so, loaded as by fsfilter load MOUNTPOINT NAME: from\n"
"$FSFILTER_FILTER_PATH (directories separated by ':'), the filter\n"
"directory next to fsfilter, or the installed filter directory; if there\n"
"is none, attach fails (exit code 2).\n"
"\n"
"  --altitude N     where in the stack (default: the filter's own)\n"
"  --args S         the filter's argument string\n"
"  --json           the answer as JSON\n"
"\n"
"Example: fsfilter attach /mnt/data monitor --args default=deny\n"
"         fsfilter attach /mnt/data hello\n" },
	{ "detach",
"Usage: fsfilter detach MOUNTPOINT NAME [--force]\n"
"\n"
"Detach a filter from a running volume: new operations stop reaching it,\n"
"the ones in flight drain, then it is torn down. The filter may refuse.\n"
"Operations held long (a verdict client that pends them) can make the\n"
"drain outlast --timeout-ctl (default 60 s): the command then says \"not\n"
"responding\" and exits 1 while the daemon finishes the detach; see\n"
"fsfilter status, or give --timeout-ctl 0 to wait for it.\n"
"\n"
"  --force          detach even if the filter refuses\n"
"  --json           the answer as JSON\n"
"\n"
"Example: fsfilter detach /mnt/data monitor\n" },
	{ "unload",
"Usage: fsfilter unload MOUNTPOINT NAME [--force]\n"
"\n"
"Detach a loaded filter everywhere in the daemon and unload its object.\n"
"\n"
"  --force          unload even if the filter refuses\n"
"  --json           the answer as JSON\n"
"\n"
"Example: fsfilter unload /mnt/data hello\n" },
	{ "fault",
"Usage: fsfilter fault MOUNTPOINT SPEC [--json]\n"
"\n"
"Tests only: arm fault injection (chosen lower system calls fail) in a\n"
"daemon started with --enable-fault-injection; SPEC \"\" disarms.\n" },
	{ "spy",
"Usage: fsfilter spy MOUNTPOINT [OPTIONS]\n"
"\n"
"Live file activity of a volume mounted with --filter monitor, one line\n"
"per operation like Process Monitor. Prints the dropped count on exit.\n"
"\n"
"  --json           one JSON object per line\n"
"  --ops LIST       operations (open,read,... or all)\n"
"  --pre, --post    phase(s) to show (default --post, with results)\n"
"  --comm NAME, --pid N, --uid N   only this process name, process, user\n"
"  --path PATTERN   path prefix (/dir) or glob (/dir/*.txt, /**.so)\n"
"  --misses         also lookups that find nothing\n"
"  --filter-io      also operations issued by filters\n"
"  --count N, --timeout SEC        stop after N events or SEC seconds\n"
"\n"
"Example: fsfilter spy /mnt/data --comm vim --ops open,write\n"
"See also: fsfilter spy --help, man fsfilter-monitor\n" },
	{ "redirect",
"Usage: fsfilter redirect list MOUNTPOINT [--json]\n"
"       fsfilter redirect add MOUNTPOINT 'PATH=>BACKING[,policy=P][,errno=E]'\n"
"                             [--watch]\n"
"       fsfilter redirect remove MOUNTPOINT PATH\n"
"       fsfilter redirect dehydrate MOUNTPOINT PATH\n"
"       fsfilter redirect hydrate MOUNTPOINT PATH [--no-wait]\n"
"       fsfilter redirect cancel MOUNTPOINT PATH\n"
"\n"
"Change the rules of the redirect filter of a running volume. P is\n"
"readonly, copy-on-write or hydrate; E is EACCES or EROFS. hydrate copies\n"
"a hydrate file into the lower directory now and waits (a progress bar on\n"
"a terminal); cancel stops a running hydration (the file stays a redirect).\n"
"--watch (the rule option watch=on) makes the volume follow changes of the\n"
"rule's backing files (inotify): new size and content without a remount.\n"
"\n"
"Example: fsfilter redirect add /mnt/app '/etc/app.conf=>/srv/golden/app.conf'\n"
"See also: man fsfilter-redirect\n" },
	{ "crypt",
"Usage: fsfilter crypt init|verify|migrate LOWER\n"
"                      (--keyfile FILE | --passfile FILE) [OPTIONS]\n"
"\n"
"Offline tools on the lower directory of an encrypted volume (never on a\n"
"mounted path): init creates the volume's keys, verify checks every\n"
"block, migrate encrypts the plaintext files already there.\n"
"\n"
"  --scrypt-log2n N scrypt cost for a passphrase (init; 10..24)\n"
"  --quiet          no progress output\n"
"  --json           verify, migrate: the counts and every file with a\n"
"                   problem as JSON (exit 1 if there is one)\n"
"\n"
"Example: fsfilter crypt init /srv/vault --keyfile /root/vault.key\n"
"See also: man fsfilter-crypt\n" },
	{ "help",
"Usage: fsfilter help [COMMAND]\n"
"\n"
"The usage of every command, or the help of one.\n"
"\n"
"Every command takes --color=auto|always|never: colours only on a\n"
"terminal and without NO_COLOR (auto, the default), always, or never;\n"
"and --timeout-ctl SECONDS: how long to wait for a volume's daemon to\n"
"answer (default 5, and 60 for load, attach, detach and unload; or\n"
"$FSFILTER_CTL_TIMEOUT for every command; 0 waits forever).\n"
"Exit status: 0 success, 1 runtime failure, 2 usage or configuration\n"
"error.\n" },
};

int cli_help_command(const char *cmd)
{
	if (!strcmp(cmd, "umount"))
		cmd = "unmount";
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (!strcmp(cmd, pages[i].name)) {
			fputs(pages[i].text, stdout);
			return CLI_OK;
		}
	fprintf(stderr, "fsfilter help: unknown command '%s' (see fsfilter "
		"--help)\n", cmd);
	return CLI_USAGE;
}
