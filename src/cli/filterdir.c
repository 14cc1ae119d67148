/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a filter NAME (not built in, no path, no .so) is NAME.so: a
 * [filter NAME] of a config file, --filter NAME, fsfilter load MNT NAME.
 * Searched in this order, first match wins:
 *
 *  1. each directory of $FSFILTER_FILTER_PATH (colon-separated, like
 *     PATH; empty entries ignored): a user's or a test's own filters;
 *  2. the installed filter directory relative to this executable
 *     (bin/../lib/<arch>/fsfilter/filters), so a staged or relocated
 *     install finds its own filters;
 *  3. the build tree, if this executable runs from one (a CMakeCache.txt
 *     at the build root next to it): the directories the example filters
 *     are built in, so `fsfilter load MNT hello` works before installing;
 *  4. the configured absolute filter directory (the install prefix of
 *     configure time).
 */
#include "cli/filterdir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FSFILTER_FILTERDIR
#define FSFILTER_FILTERDIR "/usr/local/lib/fsfilter/filters"
#endif
#ifndef FSFILTER_FILTERDIR_FROM_BIN
#define FSFILTER_FILTERDIR_FROM_BIN "../lib/fsfilter/filters"
#endif
/* relative to the build root; ':'-separated */
#ifndef FSFILTER_BUILDROOT_FROM_BIN
#define FSFILTER_BUILDROOT_FROM_BIN "../.."
#endif
#ifndef FSFILTER_BUILD_FILTERDIRS
#define FSFILTER_BUILD_FILTERDIRS "examples/filter"
#endif

static bool found(char *out, size_t len, int n)
{
	return n > 0 && (size_t)n < len && access(out, R_OK) == 0;
}

/* NAME.so in each directory of the ':'-separated @list (each prefixed
 * with @base/ if @base) */
static bool in_list(const char *base, const char *list, const char *name,
		    char *out, size_t len)
{
	while (*list) {
		size_t n = strcspn(list, ":");

		if (n && found(out, len, snprintf(out, len, "%s%s%.*s/%s.so",
						  base ? base : "",
						  base ? "/" : "", (int)n,
						  list, name)))
			return true;
		list += n;
		if (*list == ':')
			list++;
	}
	return false;
}

/* The directory of this executable in @dir; false if unknown. */
static bool self_dir(char *dir, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);
	char *slash;

	if (n <= 0)
		return false;
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (!slash)
		return false;
	*slash = '\0';
	return true;
}

int cli_filterdir_find(const char *name, char *out, size_t len)
{
	const char *env = getenv("FSFILTER_FILTER_PATH");
	char self[PATH_MAX], root[PATH_MAX + 64], cache[PATH_MAX + 96];

	if (!*name || strchr(name, '/'))
		return -ENOENT;
	if (env && in_list(NULL, env, name, out, len))
		return 0;
	if (self_dir(self, sizeof(self))) {
		if (found(out, len, snprintf(out, len, "%s/%s/%s.so", self,
					     FSFILTER_FILTERDIR_FROM_BIN,
					     name)))
			return 0;
		snprintf(root, sizeof(root), "%s/%s", self,
			 FSFILTER_BUILDROOT_FROM_BIN);
		snprintf(cache, sizeof(cache), "%s/CMakeCache.txt", root);
		if (access(cache, F_OK) == 0 &&
		    in_list(root, FSFILTER_BUILD_FILTERDIRS, name, out, len))
			return 0;
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
