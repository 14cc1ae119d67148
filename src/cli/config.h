/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The volume configuration: what `fsfilter mount` needs, from an INI file
 * (--config FILE, `fsfilter check FILE`) and/or the command line.
 *
 *   [volume]
 *   lower = /srv/data
 *   mountpoint = /mnt/data
 *   options = ro,noatime        ; extra -o options
 *   threads = 4
 *   writeback = false
 *   timeout = auto             ; or seconds (then no watch of the lower)
 *   new_timeout = 10.0         ; names/attributes of what the mount made
 *   nonempty = false
 *   passthrough = true         ; the kernel reads/writes unfiltered files
 *   xattr = true               ; false: no extended attributes (ENOSYS)
 *   [filter noop]
 *   altitude = 370000
 *   args = trace
 *
 * Errors are reported as "FILE:LINE: what is wrong (what is expected)".
 */
#ifndef FSFILTER_CLI_CONFIG_H
#define FSFILTER_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_FILTERS 32
#define CFG_ERR_LEN 512

struct cfg_filter {
	char name[32];
	uint32_t altitude;	/* 0: the filter's default */
	char *args;		/* NULL: none */
	char *file;		/* a filter .so (--filter /x/y.so): NULL for
				   built-in filters; @name is filled in when
				   it is loaded (cli_check_filters) */
	char origin[256];	/* "FILE:LINE" or "--filter SPEC", for errors */
	bool from_cli;
};

struct cfg_volume {
	char *lower;
	char *mountpoint;
	char *options;		/* -o string, NULL if none */
	unsigned threads;	/* 0: default */
	bool writeback;
	double timeout;		/* attr/entry timeout, seconds; < 0:
				   auto (lower.h: long while the lower
				   layer watches the lower directory,
				   else 1 s) */
	double new_timeout;	/* the same for objects made through the
				   mount; < 0: 10 x timeout (10 s with
				   auto, or the long timeout if longer) */
	bool nonempty;
	bool passthrough;	/* default true: offer the fast path */
	bool xattr;		/* default true; false: the kernel is told
				   ENOSYS and stops asking (frontend.h) */
	struct cfg_filter filters[CFG_MAX_FILTERS];
	size_t nfilters;
};

void cfg_init(struct cfg_volume *c);
void cfg_free(struct cfg_volume *c);

/* Read @file into @c (values it sets replace those in @c). Returns 0, or
 * -1 with a message in @err. */
int cfg_load(struct cfg_volume *c, const char *file, char *err, size_t len);

/* Add a `--filter NAME[@ALTITUDE][:ARGS]` (NAME may be the path of a
 * filter .so: it contains '/' or ends in ".so"). A filter of the same name from
 * the config file is replaced (the command line overrides the file); the
 * same name twice on the command line is an error. Returns 0 or -1. */
int cfg_add_filter_spec(struct cfg_volume *c, const char *spec, char *err,
			size_t len);

/* Checks that need no file system: altitudes given twice, and the mount
 * options: fsfilter's own ones in mount(8)'s form (xattr=off, no_xattr,
 * no_passthrough, passthrough=off, writeback, nonempty) are taken out of
 * @c->options and applied; max_read is refused (the front end sets it
 * from the filters). 0 or -1. */
int cfg_check(struct cfg_volume *c, char *err, size_t len);

/* Value parsers shared with the command line. 0 or -1. */
int cfg_parse_bool(const char *s, bool *out);
int cfg_parse_threads(const char *s, unsigned *out);
int cfg_parse_timeout(const char *s, double *out);
int cfg_parse_altitude(const char *s, uint32_t *out);
bool cfg_valid_filter_name(const char *s);

#endif /* FSFILTER_CLI_CONFIG_H */
