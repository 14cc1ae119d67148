/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mount.fsfilter: what mount(8) runs for `mount -t fuse.fsfilter` and for
 * an /etc/fstab line of that type (installed also as mount.fuse.fsfilter,
 * the name mount(8) tries first). It turns mount(8)'s calling convention
 *
 *   mount.fsfilter LOWER MOUNTPOINT [-sfnv] [-t TYPE] [-o OPTIONS]
 *
 * into `fsfilter mount LOWER MOUNTPOINT --filter ... -o ...` and execs
 * it. The fsfilter options travel inside -o: those with a value
 * (filter=SPEC, config=FILE, threads=N, timeout=S, new_timeout=S) become
 * flags; options that are only for mount(8) and fstab (noauto, nofail,
 * _netdev, x-*, ...) are dropped; everything else stays in -o, where
 * fsfilter mount takes out its switches (writeback, nonempty,
 * no_passthrough, xattr=off: config.c) and gives the rest to the kernel.
 * LOWER "none" takes lower and mount point from config=FILE.
 *
 * fsfilter is found next to this program first (../bin/fsfilter from
 * sbin/, for a relocated or staged install), then in the configured
 * bindir. This program never mounts anything itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 256

/* Options for mount(8) and fstab only, and "relatime": the kernel's
 * default, which libfuse does not accept as an option. */
static const char *const dropped[] = {
	"defaults", "auto", "noauto", "user", "users", "nouser", "owner",
	"group", "nofail", "_netdev", "rw", "relatime", NULL,
};

struct cmd {
	char *argv[MAX_ARGS];
	int argc;
	char *kernel_opts;	/* what is left for -o */
	bool have_config, verbose, fake;
};

static int push(struct cmd *c, char *s)
{
	if (c->argc == MAX_ARGS - 1) {
		fprintf(stderr, "mount.fsfilter: too many options\n");
		return -1;
	}
	c->argv[c->argc++] = s;
	return 0;
}

static int add_kernel_opt(struct cmd *c, const char *o)
{
	size_t n = c->kernel_opts ? strlen(c->kernel_opts) : 0;
	char *s = realloc(c->kernel_opts, n + strlen(o) + 2);

	if (!s)
		return -1;
	if (n)
		s[n++] = ',';
	strcpy(s + n, o);
	c->kernel_opts = s;
	return 0;
}

static bool is_dropped(const char *o)
{
	if (!strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8))
		return true;
	for (size_t i = 0; dropped[i]; i++)
		if (!strcmp(o, dropped[i]))
			return true;
	return false;
}

/* One option of -o: an fsfilter option with a value becomes its command
 * line flag. */
static int one_option(struct cmd *c, char *o)
{
	static const struct {
		const char *key, *flag;
	} valued[] = {
		{ "filter=", "--filter" }, { "config=", "--config" },
		{ "threads=", "--threads" }, { "timeout=", "--timeout" },
		{ "new_timeout=", "--new-timeout" },
	};

	if (!*o || is_dropped(o))
		return 0;
	for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
		size_t n = strlen(valued[i].key);

		if (strncmp(o, valued[i].key, n))
			continue;
		if (!strcmp(valued[i].key, "config="))
			c->have_config = true;
		if (push(c, (char *)valued[i].flag) || push(c, o + n))
			return -1;
		return 0;
	}
	/* the rest, fsfilter's switches (xattr=off, writeback, ...)
	 * included, stays in -o: fsfilter mount takes those out itself */
	return add_kernel_opt(c, o);
}

/* -o a,b,c (mount(8) may give -o more than once) */
static int options(struct cmd *c, char *list)
{
	for (char *save = NULL, *o = strtok_r(list, ",", &save); o;
	     o = strtok_r(NULL, ",", &save))
		if (one_option(c, o))
			return -1;
	return 0;
}

static bool executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* fsfilter next to this program, then ../bin/, then the configured bindir. */
static int find_fsfilter(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, len, "%s/fsfilter", self) <
				    len && executable(out))
				return 0;
			if ((size_t)snprintf(out, len, "%s/../bin/fsfilter",
					     self) < len && executable(out))
				return 0;
		}
	}
	snprintf(out, len, "%s/fsfilter", FSFILTER_BINDIR);
	return executable(out) ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: mount.fsfilter LOWER MOUNTPOINT [-sfnv] [-o OPTIONS]\n"
		"  (run by mount -t fuse.fsfilter; see mount.fsfilter(8))\n"
		"  OPTIONS: filter=NAME[@ALT][:ARGS] (repeatable), config=FILE,\n"
		"  threads=N, timeout=S, new_timeout=S, writeback, nonempty,\n"
		"  no_passthrough, xattr=off, and mount options for the kernel\n"
		"  (ro, noatime, allow_other...)\n");
}

int main(int argc, char **argv)
{
	struct cmd c = { .argc = 0 };
	const char *pos[2] = { NULL, NULL };
	char exe[PATH_MAX];
	int npos = 0;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage();
		return 0;
	}
	push(&c, "fsfilter");
	push(&c, "mount");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") || !strcmp(a, "-t")) {
			if (++i == argc) {
				usage();
				return 2;
			}
			if (a[1] == 'o' && options(&c, argv[i]))
				return 1;
		} else if (!strncmp(a, "-o", 2)) {
			if (options(&c, argv[i] + 2))
				return 1;
		} else if (a[0] == '-' && a[1]) {
			/* -s sloppy, -n no mtab: nothing to do; -f fake; -v */
			for (const char *f = a + 1; *f; f++) {
				if (*f == 'v')
					c.verbose = true;
				else if (*f == 'f')
					c.fake = true;
				else if (*f != 's' && *f != 'n') {
					fprintf(stderr, "mount.fsfilter: unknown "
						"option -%c\n", *f);
					usage();
					return 2;
				}
			}
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			usage();
			return 2;
		}
	}
	if (npos != 2) {
		usage();
		return 2;
	}
	if (!strcmp(pos[0], "none")) {
		if (!c.have_config) {
			fprintf(stderr, "mount.fsfilter: LOWER \"none\" needs "
				"config=FILE (the lower directory comes from "
				"its [volume])\n");
			return 2;
		}
	} else if (push(&c, (char *)pos[0]) || push(&c, (char *)pos[1])) {
		return 1;
	}
	if (c.kernel_opts && (push(&c, "-o") || push(&c, c.kernel_opts)))
		return 1;
	c.argv[c.argc] = NULL;
	if (find_fsfilter(exe, sizeof(exe))) {
		fprintf(stderr, "mount.fsfilter: fsfilter not found (next to "
			"this program or in %s)\n", FSFILTER_BINDIR);
		free(c.kernel_opts);
		return 1;
	}
	if (c.verbose || c.fake) {
		fprintf(stderr, "mount.fsfilter: %s", exe);
		for (int i = 1; i < c.argc; i++)
			fprintf(stderr, " %s", c.argv[i]);
		fputc('\n', stderr);
	}
	if (!c.fake) {
		execv(exe, c.argv);
		fprintf(stderr, "mount.fsfilter: %s: %s\n", exe,
			strerror(errno));
	}
	free(c.kernel_opts);
	return c.fake ? 0 : 1;
}
