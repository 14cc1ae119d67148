/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mount options checked by libfuse itself, without mounting (optcheck.h):
 * fuse_session_new parses them all (its own, the mount's and the
 * kernel's) and refuses unknown ones before any mount. */
#include "fuse/optcheck.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* libfuse's complaint, which it logs in pieces; only this thread runs
 * while the log function is ours (a CLI command, not the daemon) */
static char *log_buf;
static size_t log_len;

static void capture(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t used;

	(void)level;
	if (!log_buf)
		return;
	used = strlen(log_buf);
	if (used + 1 < log_len)
		vsnprintf(log_buf + used, log_len - used, fmt, ap);
}

int fuse_frontend_check_options(const char *opts, char *err, size_t len)
{
	static const struct fuse_lowlevel_ops ops;
	char *argv[] = { "fsfilter", "-o", (char *)opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;
	char msg[512] = "";

	if (!opts || !*opts)
		return 0;
	log_buf = msg;
	log_len = sizeof(msg);
	fuse_set_log_func(capture);
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	fuse_set_log_func(NULL);
	log_buf = NULL;		/* msg goes with this frame */
	log_len = 0;
	fuse_opt_free_args(&args);
	if (se) {
		fuse_session_destroy(se);
		return 0;
	}
	msg[strcspn(msg, "\n")] = '\0';
	snprintf(err, len, "mount options '%s' refused by libfuse%s%s", opts,
		 *msg ? ": " : "", msg);
	return -EINVAL;
}
