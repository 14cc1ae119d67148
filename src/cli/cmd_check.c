/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfilter check CONFIG: everything mount would check, without mounting:
 * the file, the directories, the filters and their arguments (attached to
 * a scratch volume over the lower directory that refuses every change:
 * a filter may read what it needs at setup, e.g. crypt its key config). */
#include "cli/cli.h"
#include "core/core.h"
#include "lower/lower.h"
#include "port/port.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void scratch_perform(void *ctx, struct flt_callback_data *data)
{
	data->io_status.status = -ENOSYS;
}

static bool changes_something(const struct flt_callback_data *d)
{
	switch (d->op) {
	case FLT_OP_SETATTR: case FLT_OP_MKNOD: case FLT_OP_MKDIR:
	case FLT_OP_UNLINK: case FLT_OP_RMDIR: case FLT_OP_SYMLINK:
	case FLT_OP_RENAME: case FLT_OP_LINK: case FLT_OP_WRITE:
	case FLT_OP_SETXATTR: case FLT_OP_REMOVEXATTR: case FLT_OP_CREATE:
	case FLT_OP_FALLOCATE: case FLT_OP_COPY_FILE_RANGE:
		return true;
	case FLT_OP_OPEN:
		return (d->params.open.flags & O_ACCMODE) != O_RDONLY ||
		       (d->params.open.flags & O_TRUNC);
	default:
		return false;
	}
}

/* The lower directory, read-only: a check never changes anything. */
static void readonly_perform(void *ctx, struct flt_callback_data *data)
{
	if (changes_something(data))
		data->io_status.status = -EROFS;
	else
		lower_perform(ctx, data);
}

static void stream_gone(flt_ino_t ino, void *vol)
{
	core_stream_gone(vol, ino);
}

int cmd_check(int argc, char **argv)
{
	struct core_bottom bottom = { scratch_perform, NULL };
	struct lower_options lopt = { .attr_timeout = 1, .entry_timeout = 1 };
	struct lower_fs *lower = NULL;
	char err[CFG_ERR_LEN];
	struct flt_volume *vol;
	char portdir[] = "/tmp/fsfilter-check.XXXXXX";
	struct cfg_volume c;
	int ret;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "fsfilter check: usage: fsfilter check CONFIG "
			"(see fsfilter --help)\n");
		return CLI_USAGE;
	}
	cfg_init(&c);
	if (cfg_load(&c, argv[1], err, sizeof(err)) ||
	    cfg_check(&c, err, sizeof(err))) {
		fprintf(stderr, "fsfilter: %s\n", err);
		ret = CLI_USAGE;
		goto out;
	}
	/* An existing mount at the mount point is fine here: not empty is
	 * reported only by mount. */
	if (c.lower && (ret = cli_check_lower(c.lower)))
		goto out;
	if (c.mountpoint && (ret = cli_check_mountpoint(c.mountpoint, true)))
		goto out;
	if ((ret = cli_check_filters(&c)))
		goto out;
	/* Filters create their communication ports when they attach (the
	 * monitor refuses to attach without its port): give them a private
	 * runtime directory, never the one of a volume that may be mounted. */
	if (!mkdtemp(portdir)) {
		fprintf(stderr, "fsfilter: %s: %s\n", portdir, strerror(errno));
		ret = CLI_RUNTIME;
		goto out;
	}
	ret = port_set_runtime_dir(portdir);
	if (ret) {
		fprintf(stderr, "fsfilter: %s: %s\n", portdir, strerror(-ret));
		ret = CLI_RUNTIME;
		goto out_portdir;
	}
	if (c.lower) {
		ret = lower_open(c.lower, &lopt, &lower);
		if (ret) {
			fprintf(stderr, "fsfilter: cannot open LOWER %s: %s\n",
				c.lower, strerror(-ret));
			ret = CLI_RUNTIME;
			goto out_ports;
		}
		bottom.perform = readonly_perform;
		bottom.ctx = lower;
	}
	ret = core_volume_create("check", &bottom, &vol);
	if (ret) {
		fprintf(stderr, "fsfilter: %s\n", strerror(-ret));
		ret = CLI_RUNTIME;
		goto out_lower;
	}
	if (lower)
		lower_set_inode_gone_hook(lower, stream_gone, vol);
	ret = cli_attach_filters(vol, &c);
	core_volume_destroy(vol);
	if (!ret)
		printf("%s: ok (%zu filter%s)\n", argv[1], c.nfilters,
		       c.nfilters == 1 ? "" : "s");
out_lower:
	if (lower)
		lower_close(lower);
out_ports:
	port_cleanup_runtime_dir();
out_portdir:
	rmdir(portdir);
out:
	cfg_free(&c);
	return ret;
}
