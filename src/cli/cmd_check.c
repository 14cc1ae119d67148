/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfilter check CONFIG: everything mount would check, without mounting:
 * the file, the directories, the filters and their arguments (attached to
 * a scratch volume over the lower directory that refuses every change:
 * a filter may read what it needs at setup, e.g. crypt its key config). */
#include "cli/cli.h"
#include "cli/color.h"
#include "cli/json_out.h"
#include "core/core.h"
#include "fuse/optcheck.h"
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

/* --json: what was checked and the verdict (fsfilter(1), JSON OUTPUT).
 * "error" is the message about the file itself (syntax, values); other
 * failures (a directory, a filter refusing its arguments) say why on
 * stderr. */
static void check_json(const char *file, const struct cfg_volume *c,
		       int ret, const char *err)
{
	struct json_object *o = json_object_new_object();
	struct json_object *fl = json_object_new_array();

	json_object_object_add(o, "config", json_object_new_string(file));
	json_object_object_add(o, "ok", json_object_new_boolean(!ret));
	json_object_object_add(o, "exit_code", json_object_new_int(ret));
	json_object_object_add(o, "error",
			       err[0] ? json_object_new_string(err) : NULL);
	json_object_object_add(o, "lower", c->lower ?
			       json_object_new_string(c->lower) : NULL);
	json_object_object_add(o, "mountpoint", c->mountpoint ?
			       json_object_new_string(c->mountpoint) : NULL);
	for (size_t i = 0; i < c->nfilters; i++) {
		const struct cfg_filter *f = &c->filters[i];
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "name",
				       json_object_new_string(f->name));
		/* 0: the filter's own default */
		json_object_object_add(j, "altitude",
				       json_object_new_int64(f->altitude));
		json_object_object_add(j, "args", json_object_new_string(
							  f->args ? f->args : ""));
		json_object_object_add(j, "file", f->file ?
				       json_object_new_string(f->file) : NULL);
		json_object_array_add(fl, j);
	}
	json_object_object_add(o, "filters", fl);
	cli_json_print_put(stdout, o);
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
	const char *file = NULL;
	bool json = false;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-' || file)
			file = "";	/* unknown option, or a second file */
		else
			file = argv[i];
	}
	if (!file || !*file) {
		fprintf(stderr, "fsfilter check: usage: fsfilter check CONFIG "
			"[--json] (see fsfilter --help)\n");
		return CLI_USAGE;
	}
	err[0] = '\0';
	cfg_init(&c);
	if (cfg_load(&c, file, err, sizeof(err)) ||
	    cfg_check(&c, err, sizeof(err)) ||
	    fuse_frontend_check_options(c.options, err, sizeof(err))) {
		fprintf(stderr, "%sfsfilter: %s%s\n", cli_color(stderr, CLI_C_RED),
			err, cli_color(stderr, CLI_C_RESET));
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
	if (!ret && !json)
		printf("%s: %sok%s (%zu filter%s)\n", file,
		       cli_color(stdout, CLI_C_GREEN),
		       cli_color(stdout, CLI_C_RESET), c.nfilters,
		       c.nfilters == 1 ? "" : "s");
out_lower:
	if (lower)
		lower_close(lower);
out_ports:
	port_cleanup_runtime_dir();
out_portdir:
	rmdir(portdir);
out:
	if (json)
		check_json(file, &c, ret, err);
	cfg_free(&c);
	return ret;
}
