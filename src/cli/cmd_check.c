/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfilter check CONFIG: everything mount would check, without mounting:
 * the file, the directories, the filters and their arguments (attached to
 * a scratch volume whose bottom performs nothing). */
#include "cli/cli.h"
#include "core/core.h"
#include "port/port.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void scratch_perform(void *ctx, struct flt_callback_data *data)
{
	data->io_status.status = -ENOSYS;
}

int cmd_check(int argc, char **argv)
{
	struct core_bottom bottom = { scratch_perform, NULL };
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
	ret = core_volume_create("check", &bottom, &vol);
	if (ret) {
		fprintf(stderr, "fsfilter: %s\n", strerror(-ret));
		ret = CLI_RUNTIME;
		goto out_ports;
	}
	ret = cli_attach_filters(vol, &c);
	core_volume_destroy(vol);
	if (!ret)
		printf("%s: ok (%zu filter%s)\n", argv[1], c.nfilters,
		       c.nfilters == 1 ? "" : "s");
out_ports:
	port_cleanup_runtime_dir();
out_portdir:
	rmdir(portdir);
out:
	cfg_free(&c);
	return ret;
}
