/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a volume's daemon keeps its sockets: /run/fsfilter/<id>/ as root,
 * $XDG_RUNTIME_DIR/fsfilter/<id>/ otherwise, where <id> is the mount
 * point's absolute path escaped like systemd-escape --path ("/mnt/data" ->
 * "mnt-data"). Shared by the daemon and the client library so both sides
 * always agree.
 */
#include "lib/client/runtime_dir.h"

#include <fsfilter/client.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int escape_path(const char *abs, char *out, size_t len)
{
	size_t n = 0;

	while (*abs == '/')
		abs++;
	if (!*abs)
		return snprintf(out, len, "-") < (int)len ? 0 : -ENAMETOOLONG;
	for (const char *p = abs; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char tmp[5];
		size_t t;

		if (c == '/') {
			while (p[1] == '/')
				p++;
			if (!p[1])
				break;	/* trailing slash */
			tmp[0] = '-';
			t = 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' ||
			   (c == '.' && p != abs)) {
			tmp[0] = (char)c;
			t = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			t = 4;
		}
		if (n + t + 1 > len)
			return -ENAMETOOLONG;
		memcpy(out + n, tmp, t);
		n += t;
	}
	out[n] = '\0';
	return 0;
}

/* The directory a daemon running as root (@as_root) or as an ordinary user
 * uses for @mountpoint. Exported to the daemon through runtime_dir.h. */
int fsf_runtime_dir_for(const char *mountpoint, int as_root, char *buf,
			size_t len)
{
	char abs[PATH_MAX], id[NAME_MAX + 1];
	const char *xdg;
	int ret;

	/* realpath only stats the mount root, never anything inside it */
	if (!realpath(mountpoint, abs))
		return -errno;
	ret = escape_path(abs, id, sizeof(id));
	if (ret)
		return ret;
	if (as_root)
		ret = snprintf(buf, len, "/run/fsfilter/%s", id);
	else if ((xdg = getenv("XDG_RUNTIME_DIR")) && xdg[0] == '/')
		ret = snprintf(buf, len, "%s/fsfilter/%s", xdg, id);
	else
		return -ENOENT;
	return ret < (int)len ? 0 : -ENAMETOOLONG;
}

int fltc_runtime_dir(const char *mountpoint, char *buf, size_t len)
{
	int ret;

	/* a volume mounted by root serves ordinary users too: look there
	 * first, then in the caller's own runtime directory */
	ret = fsf_runtime_dir_for(mountpoint, 1, buf, len);
	if (ret || geteuid() == 0 || access(buf, F_OK) == 0)
		return ret;
	return fsf_runtime_dir_for(mountpoint, 0, buf, len);
}
