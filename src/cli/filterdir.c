/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The installed filter directory (lib/<arch>/fsfilter/filters, see
 * cmake/install.cmake): a [filter NAME] of a config file, or a --filter
 * NAME, that is not a built-in filter is NAME.so there. Looked up relative
 * to this executable first (so a staged or relocated install finds its
 * own filters), then at the configured absolute path.
 */
#include "cli/filterdir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef FSFILTER_FILTERDIR
#define FSFILTER_FILTERDIR "/usr/local/lib/fsfilter/filters"
#endif
#ifndef FSFILTER_FILTERDIR_FROM_BIN
#define FSFILTER_FILTERDIR_FROM_BIN "../lib/fsfilter/filters"
#endif

static bool found(char *out, size_t len, int n)
{
	return n > 0 && (size_t)n < len && access(out, R_OK) == 0;
}

int cli_filterdir_find(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (found(out, len, snprintf(out, len, "%s/%s/%s.so",
						     self,
						     FSFILTER_FILTERDIR_FROM_BIN,
						     name)))
				return 0;
		}
	}
	if (found(out, len, snprintf(out, len, "%s/%s.so", FSFILTER_FILTERDIR,
				     name)))
		return 0;
	return -ENOENT;
}

const char *cli_filterdir(void)
{
	return FSFILTER_FILTERDIR;
}
