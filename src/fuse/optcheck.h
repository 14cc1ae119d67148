/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef FSFILTER_FUSE_OPTCHECK_H
#define FSFILTER_FUSE_OPTCHECK_H

#include <stddef.h>

/* Whether libfuse takes the mount options @opts (what is left of -o after
 * fsfilter's own, cfg_check) as fuse_frontend_run would give them, without
 * mounting: 0, or -EINVAL with libfuse's complaint in @err. For `fsfilter
 * check`, so that a config mount would refuse is refused there too. */
int fuse_frontend_check_options(const char *opts, char *err, size_t len);

#endif
