/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared with the daemon: where a volume's sockets live. */
#ifndef FSFILTER_RUNTIME_DIR_H
#define FSFILTER_RUNTIME_DIR_H

#include <stddef.h>

/* The runtime directory for @mountpoint of a daemon running as root
 * (@as_root) or as an ordinary user ($XDG_RUNTIME_DIR). Call before
 * mounting (it resolves the mount point's path). */
int fsf_runtime_dir_for(const char *mountpoint, int as_root, char *buf,
			size_t len);

#endif
