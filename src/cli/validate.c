/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Everything `fsfilter mount` checks before it mounts, so a mistake gets a
 * clear message instead of a half-started volume. */
#include "cli/cli.h"
#include "cli/filterdir.h"
#include "core/core.h"
#include "filters/builtin.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cli_realpath(const char *path)
{
	char *copy1, *copy2, *dir, *out = NULL;
	int err;

	out = realpath(path, NULL);
	if (out || errno != ENOTCONN)
		return out;
	/* the last component is a dead mount: resolve its parent */
	copy1 = strdup(path);
	copy2 = strdup(path);
	if (!copy1 || !copy2)
		goto out;
	dir = realpath(dirname(copy1), NULL);
	if (!dir)
		goto out;
	if (asprintf(&out, "%s/%s", strcmp(dir, "/") ? dir : "",
		     basename(copy2)) < 0)
		out = NULL;
	free(dir);
out:
	err = errno;
	free(copy1);
	free(copy2);
	errno = err;
	return out;
}

int cli_check_lower(const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		fprintf(stderr, "fsfilter: LOWER %s: %s (give an existing "
			"directory)\n", path, strerror(errno));
		return CLI_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fsfilter: LOWER %s is not a directory (give "
			"the directory whose files the volume shows)\n", path);
		return CLI_USAGE;
	}
	return CLI_OK;
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static int dead_mount(const char *path)
{
	fprintf(stderr, "fsfilter: MOUNTPOINT %s is a dead FUSE mount (its "
		"daemon is gone): run 'fsfilter unmount %s' first\n", path,
		path);
	return CLI_USAGE;
}

int cli_check_mountpoint(const char *path, bool nonempty)
{
	struct stat st;
	int empty;

	if (stat(path, &st)) {
		if (errno == ENOTCONN)
			return dead_mount(path);
		else
			fprintf(stderr, "fsfilter: MOUNTPOINT %s: %s (create "
				"the directory first)\n", path,
				strerror(errno));
		return CLI_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fsfilter: MOUNTPOINT %s is not a directory\n",
			path);
		return CLI_USAGE;
	}
	if (nonempty)
		return CLI_OK;
	empty = dir_is_empty(path);
	if (empty == -ENOTCONN)
		return dead_mount(path);
	if (empty < 0) {
		fprintf(stderr, "fsfilter: MOUNTPOINT %s: %s\n", path,
			strerror(-empty));
		return CLI_USAGE;
	}
	if (!empty) {
		fprintf(stderr, "fsfilter: MOUNTPOINT %s is not empty (its "
			"files would be hidden while mounted; use --nonempty "
			"to mount anyway)\n", path);
		return CLI_USAGE;
	}
	return CLI_OK;
}

static bool in_path(const char *prog, struct stat *st)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (!stat(buf, st))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

int cli_check_fuse_device(void)
{
	struct stat st;

	if (access("/dev/fuse", R_OK | W_OK)) {
		if (errno == ENOENT)
			fprintf(stderr, "fsfilter: /dev/fuse is missing (load "
				"the module with 'modprobe fuse'; in a "
				"container, pass the device in)\n");
		else
			fprintf(stderr, "fsfilter: cannot use /dev/fuse: %s "
				"(run as root, or fix the device's "
				"permissions)\n", strerror(errno));
		return CLI_RUNTIME;
	}
	if (geteuid() == 0)
		return CLI_OK;
	/* libfuse mounts through fusermount3 when not root */
	if (!in_path("fusermount3", &st)) {
		fprintf(stderr, "fsfilter: not root and fusermount3 not found "
			"(install the fuse3 package, or run as root)\n");
		return CLI_RUNTIME;
	}
	if (!(st.st_mode & S_ISUID) || st.st_uid != 0)
		fprintf(stderr, "fsfilter: warning: fusermount3 is not setuid "
			"root; mounting as a normal user will probably fail\n");
	return CLI_OK;
}

static void list_filters(void)
{
	const char *name;

	fprintf(stderr, "fsfilter: available filters:");
	for (size_t i = 0; (name = builtin_filter_name(i)); i++)
		fprintf(stderr, " %s", name);
	fprintf(stderr, ", or NAME.so in $FSFILTER_FILTER_PATH or %s\n",
		cli_filterdir());
}

/* --filter FILE.so: load it now, so the rest knows it by name. */
static int load_filter_file(struct cfg_filter *f)
{
	char err[1024];
	int ret = core_load_filter_file_msg(f->file, f->name, sizeof(f->name),
					    err, sizeof(err));

	if (!ret)
		return CLI_OK;
	fprintf(stderr, "fsfilter: %s: %s\n", f->origin, err);
	return CLI_USAGE;
}

/* [filter NAME] / --filter NAME that is no built-in: NAME.so from the
 * installed filter directory, which must register as NAME. -ENOENT if
 * there is no such file. */
static int load_from_filterdir(struct cfg_filter *f)
{
	char path[PATH_MAX], loaded[sizeof(f->name)], err[1024];
	int ret;

	if (cli_filterdir_find(f->name, path, sizeof(path)))
		return -ENOENT;
	ret = core_load_filter_file_msg(path, loaded, sizeof(loaded), err,
					sizeof(err));
	if (ret) {
		fprintf(stderr, "fsfilter: %s: %s\n", f->origin, err);
		return CLI_USAGE;
	}
	if (strcmp(loaded, f->name)) {
		fprintf(stderr, "fsfilter: %s: %s registers the filter '%s', "
			"not '%s'\n", f->origin, path, loaded, f->name);
		return CLI_USAGE;
	}
	return CLI_OK;
}

int cli_check_filters(struct cfg_volume *c)
{
	int ret = builtin_filters_register();

	if (ret) {
		fprintf(stderr, "fsfilter: cannot register the built-in "
			"filters: %s\n", strerror(-ret));
		return CLI_RUNTIME;
	}
	for (size_t i = 0; i < c->nfilters; i++) {
		if (c->filters[i].file &&
		    (ret = load_filter_file(&c->filters[i])))
			return ret;
		if (core_find_filter(c->filters[i].name))
			continue;
		if (!c->filters[i].file &&
		    (ret = load_from_filterdir(&c->filters[i])) != -ENOENT) {
			if (ret)
				return ret;
			continue;
		}
		fprintf(stderr, "fsfilter: %s: unknown filter '%s'\n",
			c->filters[i].origin, c->filters[i].name);
		list_filters();
		return CLI_USAGE;
	}
	return CLI_OK;
}

int cli_attach_filters(struct flt_volume *vol, const struct cfg_volume *c)
{
	for (size_t i = 0; i < c->nfilters; i++) {
		const struct cfg_filter *f = &c->filters[i];
		int ret = core_volume_attach(vol, f->name, f->altitude,
					     f->args, NULL);

		if (!ret)
			continue;
		if (ret == -EEXIST)
			fprintf(stderr, "fsfilter: %s: cannot attach '%s': its "
				"altitude is taken by another filter (give "
				"each filter its own altitude, e.g. "
				"--filter %s@ALTITUDE)\n", f->origin, f->name,
				f->name);
		else if (ret == -EINVAL)
			fprintf(stderr, "fsfilter: %s: filter '%s' refused its "
				"arguments '%s' (see fsfilter --help)\n",
				f->origin, f->name, f->args ? f->args : "");
		else
			fprintf(stderr, "fsfilter: %s: cannot attach '%s': "
				"%s\n", f->origin, f->name, strerror(-ret));
		return CLI_USAGE;
	}
	return CLI_OK;
}
