/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fsfilter command line: commands and their shared checks. */
#ifndef FSFILTER_CLI_H
#define FSFILTER_CLI_H

#include "cli/config.h"

#include <stdio.h>

struct flt_volume;

/* Exit codes (documented in --help) */
#define CLI_OK 0
#define CLI_RUNTIME 1	/* the command was valid but failed */
#define CLI_USAGE 2	/* bad command line or configuration */

/* usage.c */
void cli_usage(FILE *f);
/* help.c: fsfilter help COMMAND; CLI_USAGE for an unknown one */
int cli_help_command(const char *cmd);

/* cmd_*.c: argv[0] is the command name */
int cmd_mount(int argc, char **argv);
int cmd_unmount(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* cmd_crypt.c: fsfilter crypt init|verify|migrate */
int cmd_crypt(int argc, char **argv);
/* cmd_control.c: talk to a running volume's control channel */
int cmd_status(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_fault(int argc, char **argv);
/* cmd_spy.c: live events of the monitor filter */
int cmd_spy(int argc, char **argv);
/* cmd_redirect.c: run-time rules of the redirect filter */
int cmd_redirect(int argc, char **argv);

/* global_opt.c: take every NAME=VALUE and NAME VALUE out of argv (anywhere
 * before "--"), calling @set with VALUE (NULL: NAME came last, without
 * one); -1 as soon as @set returns non-zero (it says why). */
int cli_take_option(int *argc, char **argv, const char *name,
		    int (*set)(const char *value));

/* ctl_timeout.c: take --timeout-ctl SECONDS / --timeout-ctl=SECONDS out of
 * argv (anywhere before "--"; FSFILTER_CTL_TIMEOUT is the default); -1
 * after printing why for a bad value. cli_ctl_timeout_ms(): how long to
 * wait for a daemon's answer, -1 for no bound (SECONDS 0);
 * cli_ctl_timeout_change_ms(): the same for a request that changes the
 * stack (load, attach, detach, unload: CTL_TIMEOUT_MS_CHANGE unless a
 * bound was given). */
int cli_timeout_parse(int *argc, char **argv);
int cli_ctl_timeout_ms(void);
int cli_ctl_timeout_change_ms(void);

/* mounts.c: mount points of fuse.fsfilter mounts (mountinfo order) */
int cli_fsfilter_mounts(char ***out, size_t *n);
void cli_free_mounts(char **v, size_t n);
bool cli_is_fsfilter_mount(const char *path);

/* daemon.c: fork before anything is created. Returns 0 in the child with
 * the fd to pass to cli_daemon_ready() (the mounted callback of the front
 * end), -1 on failure; the parent never returns. */
int cli_daemon_start(int *ready_fd);
void cli_daemon_ready(void *arg);

/* validate.c: checks before anything is mounted. Each prints what is wrong
 * and what to do on stderr and returns CLI_OK or an exit code. */
int cli_check_lower(const char *path);
int cli_check_mountpoint(const char *path, bool nonempty);
int cli_check_fuse_device(void);
/* Register the built-in filters and load the filter .so files given
 * (their names are filled in); every configured filter must exist. */
int cli_check_filters(struct cfg_volume *c);
/* Attach the configured filters to @vol, in order. */
int cli_attach_filters(struct flt_volume *vol, const struct cfg_volume *c);
/* realpath() that also works on the mount point of a dead FUSE mount
 * (stat gives ENOTCONN there). malloc'd, or NULL with errno. */
char *cli_realpath(const char *path);

#endif /* FSFILTER_CLI_H */
