/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The installed filter directory (filterdir.c). */
#ifndef FSFILTER_CLI_FILTERDIR_H
#define FSFILTER_CLI_FILTERDIR_H

#include <stddef.h>

/* Path of NAME.so in the filter directory in @out; -ENOENT if none. */
int cli_filterdir_find(const char *name, char *out, size_t len);
/* The configured (absolute) filter directory, for messages. */
const char *cli_filterdir(void);

#endif
