/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fsfilter volumes mounted right now, from /proc/self/mountinfo. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* mountinfo escapes blank, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

int cli_fsfilter_mounts(char ***out, size_t *n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, **v = NULL;
	size_t cap = 0, count = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mp[4096], fstype[256], *sep, **nv;

		if (sscanf(line, "%*u %*u %*s %*s %4095s", mp) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep, " - %255s", fstype) != 1 ||
		    strcmp(fstype, "fuse.fsfilter"))
			continue;
		unescape_octal(mp);
		nv = realloc(v, (count + 1) * sizeof(*v));
		if (!nv || !(nv[count] = strdup(mp))) {
			v = nv ? nv : v;
			ret = -ENOMEM;
			break;
		}
		v = nv;
		count++;
	}
	free(line);
	fclose(f);
	if (ret) {
		cli_free_mounts(v, count);
		return ret;
	}
	*out = v;
	*n = count;
	return 0;
}

void cli_free_mounts(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool cli_is_fsfilter_mount(const char *path)
{
	char **v;
	size_t n;
	bool found = false;

	if (cli_fsfilter_mounts(&v, &n))
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = !strcmp(v[i], path);
	cli_free_mounts(v, n);
	return found;
}
