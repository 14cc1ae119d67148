/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the volume config file (src/cli/config.c over
 * inih), end to end through what `fsfilter check FILE` and `fsfilter
 * mount --config FILE` call: cfg_load() on a file holding the input, then
 * cfg_check(). cfg_load() takes a path, so the bytes go to a memfd read
 * back as /proc/self/fd/N. Input layout: config text, then optionally
 * "\n\0" and `--filter` specs separated by '\0' (cfg_add_filter_spec(),
 * the command line merged over the file). Contract besides "no crash, no
 * UB, no leak":
 *  - a refused config or spec always comes with a message;
 *  - an accepted config has absolute lower/mountpoint, valid filter
 *    names, at most CFG_MAX_FILTERS filters.
 */
#include "cli/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_volume(const struct cfg_volume *c)
{
	check(c->nfilters <= CFG_MAX_FILTERS);
	check(!c->lower || c->lower[0] == '/');
	check(!c->mountpoint || c->mountpoint[0] == '/');
	check(c->threads <= 1024);
	check(c->timeout >= 0 || c->timeout == -1);	/* -1: auto */
	check(c->new_timeout >= 0 || c->new_timeout == -1);
	for (size_t i = 0; i < c->nfilters; i++)
		check(c->filters[i].file ||
		      cfg_valid_filter_name(c->filters[i].name));
}

/* The '\0'-separated specs after the config text. */
static void add_specs(struct cfg_volume *c, const char *p, const char *end)
{
	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));
		char *spec = strndup(p, n);
		char err[CFG_ERR_LEN];

		check(spec != NULL);
		err[0] = '\0';
		if (cfg_add_filter_spec(c, spec, err, sizeof(err)))
			check(err[0] != '\0');
		free(spec);
		p += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *specs = NULL;
	size_t tlen = size;
	char path[64], err[CFG_ERR_LEN];
	struct cfg_volume c;
	int fd;

	for (size_t i = 0; i + 1 < size; i++)
		if (data[i] == '\n' && data[i + 1] == '\0') {
			tlen = i + 1;
			specs = text + i + 2;
			break;
		}
	fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	check(fd >= 0);
	check(write(fd, text, tlen) == (ssize_t)tlen);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg_init(&c);
	err[0] = '\0';
	if (cfg_load(&c, path, err, sizeof(err))) {
		check(err[0] != '\0');
		goto out;
	}
	check_volume(&c);
	if (specs)
		add_specs(&c, specs, text + size);
	check_volume(&c);
	err[0] = '\0';
	if (cfg_check(&c, err, sizeof(err)))
		check(err[0] != '\0');
out:
	cfg_free(&c);
	close(fd);
	return 0;
}
