/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsfilter crypt init|verify|migrate LOWER [--keyfile F | --passfile F]
 *
 * Offline tools on the lower directory of an encrypted volume (never on a
 * mounted volume's path). init writes the volume config (crash-safe: temp
 * file, fsync, rename); verify checks every block's tag; migrate encrypts
 * plaintext files in place, each through a temp file in the same directory
 * that is fsync'ed and renamed over the original, so a crash leaves every
 * file either fully old or fully new.
 */
#include "cli/cli.h"
#include "cli/color.h"
#include "cli/json_out.h"
#include "filters/crypt/crypt_file.h"
#include "filters/crypt/crypt_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct crypt_cli {
	const char *lower;
	const char *keyfile, *passfile;
	unsigned log2n;
	int quiet;
	int json;
	struct json_object *problems;	/* --json: verify/migrate findings */
	uint8_t master[CRYPT_KEY_LEN];
	/* walk state */
	uint64_t files, bytes, total_files, total_bytes, bad_files, errors;
	double t0;
	int tty;
};

static struct crypt_cli *walk_cli;	/* nftw has no user argument */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse(int argc, char **argv, struct crypt_cli *c)
{
	static const struct option opts[] = {
		{ "keyfile", required_argument, NULL, 'k' },
		{ "passfile", required_argument, NULL, 'p' },
		{ "scrypt-log2n", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	c->log2n = CRYPT_SCRYPT_LOG2N_DEFAULT;
	optind = 1;
	while ((o = getopt_long(argc, argv, "k:p:n:q", opts, NULL)) != -1) {
		switch (o) {
		case 'k': c->keyfile = optarg; break;
		case 'p': c->passfile = optarg; break;
		case 'q': c->quiet = 1; break;
		case 'j': c->json = 1; break;
		case 'n':
			c->log2n = (unsigned)atoi(optarg);
			if (c->log2n < 10 || c->log2n > 24) {
				fprintf(stderr, "fsfilter crypt: --scrypt-log2n "
					"must be 10..24\n");
				return CLI_USAGE;
			}
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc || !!c->keyfile == !!c->passfile) {
		fprintf(stderr, "usage: fsfilter crypt %s LOWER (--keyfile FILE "
			"| --passfile FILE) [--scrypt-log2n N] [--quiet] [--json]\n",
			argv[0]);
		return CLI_USAGE;
	}
	c->lower = argv[optind];
	return CLI_OK;
}

static int load_secret(struct crypt_cli *c, enum crypt_kdf *kdf,
		       uint8_t *secret, size_t *len)
{
	const char *path = c->keyfile ? c->keyfile : c->passfile;
	int ret;

	*kdf = c->keyfile ? CRYPT_KDF_HKDF : CRYPT_KDF_SCRYPT;
	ret = crypt_secret_load(path, *kdf, secret, len);
	if (ret) {
		fprintf(stderr, "fsfilter crypt: %s %s: %s\n",
			c->keyfile ? "key file" : "passphrase file", path,
			ret == -EINVAL ? (c->keyfile ? "shorter than 16 bytes"
					 : "empty") : strerror(-ret));
		return CLI_USAGE;
	}
	return CLI_OK;
}

static int conf_path(const struct crypt_cli *c, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s", c->lower, CRYPT_CONF_NAME) >=
	       (int)len ? -ENAMETOOLONG : 0;
}

static int cmd_init(struct crypt_cli *c)
{
	uint8_t secret[CRYPT_SECRET_MAX];
	char path[4096], tmp[4200], text[CRYPT_CONF_MAX];
	struct crypt_conf conf;
	enum crypt_kdf kdf;
	size_t slen;
	int ret, fd, n;

	if (conf_path(c, path, sizeof(path)))
		return CLI_USAGE;
	if (!access(path, F_OK)) {
		fprintf(stderr, "fsfilter crypt: %s exists: %s is already an "
			"encrypted volume\n", path, c->lower);
		return CLI_USAGE;
	}
	if ((ret = load_secret(c, &kdf, secret, &slen)))
		return ret;
	ret = crypt_conf_create(kdf, secret, slen, c->log2n, 8, 1, &conf,
				c->master);
	crypt_wipe(secret, sizeof(secret));
	if (ret) {
		fprintf(stderr, "fsfilter crypt: key derivation: %s\n",
			strerror(-ret));
		return CLI_RUNTIME;
	}
	n = crypt_conf_format(&conf, text, sizeof(text));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || n < 0 || write(fd, text, (size_t)n) != n || fsync(fd) ||
	    close(fd) || rename(tmp, path)) {
		fprintf(stderr, "fsfilter crypt: writing %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return CLI_RUNTIME;
	}
	fd = open(c->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);	/* the rename is durable */
		close(fd);
	}
	if (!c->quiet)
		printf("%s: encrypted volume initialized (%s; keep a copy of "
		       "%s)\n", c->lower, kdf == CRYPT_KDF_SCRYPT ?
		       "passphrase, scrypt" : "key file", CRYPT_CONF_NAME);
	return CLI_OK;
}

static int unlock(struct crypt_cli *c)
{
	uint8_t secret[CRYPT_SECRET_MAX];
	char path[4096], text[CRYPT_CONF_MAX], err[128];
	struct crypt_conf conf;
	enum crypt_kdf kdf;
	ssize_t n;
	size_t slen;
	int fd, ret;

	if (conf_path(c, path, sizeof(path)))
		return CLI_USAGE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fsfilter crypt: %s: %s (run fsfilter crypt "
			"init first)\n", path, strerror(errno));
		return CLI_USAGE;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0 || crypt_conf_parse(text, (size_t)n, &conf, err, sizeof(err))) {
		fprintf(stderr, "fsfilter crypt: %s: %s\n", path,
			n < 0 ? strerror(errno) : err);
		return CLI_RUNTIME;
	}
	if ((ret = load_secret(c, &kdf, secret, &slen)))
		return ret;
	ret = crypt_conf_unlock(&conf, kdf, secret, slen, c->master);
	crypt_wipe(secret, sizeof(secret));
	if (ret == -EKEYREJECTED) {
		fprintf(stderr, "fsfilter crypt: wrong %s for %s\n",
			c->keyfile ? "key file" : "passphrase", c->lower);
		return CLI_USAGE;
	}
	if (ret == -EINVAL) {
		fprintf(stderr, "fsfilter crypt: %s is protected by a %s: use "
			"--%s\n", c->lower, conf.kdf == CRYPT_KDF_SCRYPT ?
			"passphrase" : "key file", conf.kdf == CRYPT_KDF_SCRYPT
			? "passfile" : "keyfile");
		return CLI_USAGE;
	}
	if (ret) {
		fprintf(stderr, "fsfilter crypt: unlock: %s\n", strerror(-ret));
		return CLI_RUNTIME;
	}
	return CLI_OK;
}

static int skip(const char *path, const struct stat *st, int type)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return type != FTW_F || !S_ISREG(st->st_mode) ||
	       !strcmp(base, CRYPT_CONF_NAME) ||
	       strstr(base, ".fsfilter-crypt-tmp.");
}

static int count_one(const char *path, const struct stat *st, int type,
		     struct FTW *f)
{
	if (!skip(path, st, type)) {
		walk_cli->total_files++;
		walk_cli->total_bytes += (uint64_t)st->st_size;
	}
	return 0;
}

static void progress(void *arg)
{
	struct crypt_cli *c = arg;
	double el = now_s() - c->t0, rate = el > 0 ? (double)c->bytes / el : 0;
	double eta = rate > 0 ? (double)(c->total_bytes - c->bytes) / rate : 0;

	unsigned fill = c->total_bytes ? (unsigned)(c->bytes * 24 /
						      c->total_bytes) : 0;
	char bar[25];

	if (!c->tty || c->quiet)
		return;
	for (unsigned i = 0; i < 24; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[24] = '\0';
	fprintf(stderr, "\r[%s] %3u%% %" PRIu64 "/%" PRIu64 " files, "
		"%.1f/%.1f MiB, %.1f MiB/s, ETA %.0fs ", bar,
		c->total_bytes ? (unsigned)(c->bytes * 100 / c->total_bytes)
			       : 100u, c->files, c->total_files,
		(double)c->bytes / 1048576.0, (double)c->total_bytes / 1048576.0,
		rate / 1048576.0, eta);
}

/* One file that is not as it should be: a line (red on a terminal), or
 * with --json an entry of "problems". @kind is the stable JSON name. */
static void problem(struct crypt_cli *c, const char *path, const char *kind,
		    const char *text, const uint64_t *blocks, long nblocks)
{
	struct json_object *o, *b;

	if (!c->json) {
		/* findings on stdout, failures to read on stderr */
		FILE *out = strcmp(kind, "error") ? stdout : stderr;

		if (c->tty && !c->quiet)
			fputc('\n', stderr);	/* past the progress line */
		fprintf(out, "%s%s: %s", cli_color(out, CLI_C_RED), path, text);
		for (long i = 0; i < nblocks && i < 8; i++)
			fprintf(out, " %" PRIu64, blocks[i]);
		fprintf(out, "%s%s\n", nblocks > 8 ? " ..." : "",
			cli_color(out, CLI_C_RESET));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "problem", json_object_new_string(kind));
	json_object_object_add(o, "message", json_object_new_string(text));
	if (nblocks) {
		b = json_object_new_array();
		for (long i = 0; i < nblocks && i < 8; i++)
			json_object_array_add(b, json_object_new_uint64(
							 blocks[i]));
		json_object_object_add(o, "blocks", b);
		json_object_object_add(o, "blocks_total",
				       json_object_new_int64(nblocks));
	}
	json_object_array_add(c->problems, o);
}

static int verify_one(const char *path, const struct stat *st, int type,
		      struct FTW *f)
{
	struct crypt_cli *c = walk_cli;
	uint64_t bad[8];
	long n;
	int fd;

	if (skip(path, st, type))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		problem(c, path, "error", strerror(errno), NULL, 0);
		c->errors++;
		return 0;
	}
	n = crypt_file_verify(fd, c->master, bad, 8, &c->bytes);
	close(fd);
	c->files++;
	if (n == -EINVAL) {
		problem(c, path, "not_encrypted",
			"not encrypted (no crypt header)", NULL, 0);
		c->bad_files++;
	} else if (n == -EBADMSG || n == -EPROTONOSUPPORT) {
		problem(c, path, n == -EBADMSG ? "header_authentication" :
			"unsupported_format", n == -EBADMSG ?
			"header fails authentication" :
			"header of an unsupported format", NULL, 0);
		c->bad_files++;
	} else if (n < 0) {
		problem(c, path, "error", strerror((int)-n), NULL, 0);
		c->errors++;
	} else if (n > 0) {
		char text[64];

		snprintf(text, sizeof(text), "%ld corrupt block%s:", n,
			 n == 1 ? "" : "s");
		problem(c, path, "corrupt_blocks", text, bad, n);
		c->bad_files++;
	}
	progress(c);
	return 0;
}

/* Encrypt one plaintext file: temp file in the same directory, same
 * owner, mode and times, fsync, rename over the original. */
static int migrate_one(const char *path, const struct stat *st, int type,
		       struct FTW *f)
{
	struct crypt_cli *c = walk_cli;
	char tmp[4200];
	const char *slash = strrchr(path, '/');
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	int in, out, ret;

	if (skip(path, st, type))
		return 0;
	in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0) {
		problem(c, path, "error", strerror(errno), NULL, 0);
		c->errors++;
		return 0;
	}
	c->files++;
	if (crypt_file_is_encrypted(in)) {
		c->bytes += (uint64_t)st->st_size;
		close(in);
		progress(c);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%.*s/.fsfilter-crypt-tmp.%s.XXXXXX",
		 slash ? (int)(slash - path) : 1, slash ? path : ".",
		 slash ? slash + 1 : path);
	out = mkstemp(tmp);
	if (out < 0) {
		char text[160];

		snprintf(text, sizeof(text), "temp file: %s", strerror(errno));
		problem(c, path, "error", text, NULL, 0);
		close(in);
		c->errors++;
		return 0;
	}
	ret = crypt_file_encrypt(in, out, c->master, &c->bytes, progress, c);
	if (!ret && (fchown(out, st->st_uid, st->st_gid) ||
		     fchmod(out, st->st_mode & 07777) ||
		     futimens(out, times) || fsync(out)))
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		char text[160];

		unlink(tmp);
		snprintf(text, sizeof(text), "%s (left unchanged)",
			 strerror(-ret));
		problem(c, path, "error", text, NULL, 0);
		c->errors++;
	}
	progress(c);
	return 0;
}

int cmd_crypt(int argc, char **argv)
{
	struct crypt_cli c = { 0 };
	const char *sub = argc > 1 ? argv[1] : "";
	int ret;

	if (strcmp(sub, "init") && strcmp(sub, "verify") &&
	    strcmp(sub, "migrate")) {
		fprintf(stderr, "usage: fsfilter crypt init|verify|migrate "
			"LOWER (--keyfile FILE | --passfile FILE)\n");
		return CLI_USAGE;
	}
	ret = parse(argc - 1, argv + 1, &c);
	if (ret)
		return ret;
	if (!strcmp(sub, "init")) {
		ret = cmd_init(&c);
		goto out;
	}
	ret = unlock(&c);
	if (ret)
		goto out;
	walk_cli = &c;
	c.tty = isatty(2);
	if (c.json)
		c.problems = json_object_new_array();
	c.t0 = now_s();
	nftw(c.lower, count_one, 64, FTW_PHYS | FTW_MOUNT);
	if (nftw(c.lower, !strcmp(sub, "verify") ? verify_one : migrate_one,
		 64, FTW_PHYS | FTW_MOUNT)) {
		fprintf(stderr, "fsfilter crypt: walking %s: %s\n", c.lower,
			strerror(errno));
		ret = CLI_RUNTIME;
	}
	if (c.tty && !c.quiet)
		fprintf(stderr, "\n");
	if (!ret && (c.bad_files || c.errors))
		ret = CLI_RUNTIME;
	if (c.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "command",
				       json_object_new_string(sub));
		json_object_object_add(o, "lower",
				       json_object_new_string(c.lower));
		json_object_object_add(o, "ok", json_object_new_boolean(!ret));
		json_object_object_add(o, "files",
				       json_object_new_uint64(c.files));
		json_object_object_add(o, "bytes",
				       json_object_new_uint64(c.bytes));
		json_object_object_add(o, "bad_files",
				       json_object_new_uint64(c.bad_files));
		json_object_object_add(o, "errors",
				       json_object_new_uint64(c.errors));
		json_object_object_add(o, "problems", c.problems);
		cli_json_print_put(stdout, o);
	} else if (!c.quiet) {
		bool bad = c.bad_files || c.errors;

		printf("%s: %" PRIu64 " files, %.1f MiB %s, %s%" PRIu64
		       " bad, %" PRIu64 " errors%s\n", c.lower, c.files,
		       (double)c.bytes / 1048576.0, !strcmp(sub, "verify") ?
		       "checked" : "processed",
		       cli_color(stdout, bad ? CLI_C_RED : CLI_C_GREEN),
		       c.bad_files, c.errors, cli_color(stdout, CLI_C_RESET));
	}
out:
	crypt_wipe(c.master, sizeof(c.master));
	return ret;
}
