/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: instance setup. Arguments (--filter crypt:ARGS, comma separated):
 *   keyfile=/abs/path   the volume's key file, or
 *   passfile=/abs/path  a file whose first line is the passphrase.
 *   raw=LIST            processes that see the raw view (ciphertext, raw
 *                       sizes, read-only): NAME, comm:NAME, pid:N, uid:N
 *                       joined with '+' (include/fsfilter/scope.h).
 * The volume config is read from the lower directory (below the instance)
 * and the master key unlocked; a wrong key declines the instance with a
 * clear message, so nothing is mounted.
 */
#include "filters/crypt/crypt_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

struct crypt_args {
	char *keyfile;
	char *passfile;
	bool raw_on;
	struct flt_scope raw;
};

static int parse_args(const char *s, struct crypt_args *a)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		char **dst = NULL, err[160];

		if (!strncmp(tok, "raw=", 4)) {
			ret = flt_scope_parse(tok + 4, &a->raw, err,
					      sizeof(err));
			if (ret)
				flt_log(LOG_ERR, "crypt: raw=: %s", err);
			a->raw_on = !ret;
			continue;
		}
		if (!strncmp(tok, "keyfile=", 8))
			dst = &a->keyfile;
		else if (!strncmp(tok, "passfile=", 9))
			dst = &a->passfile;
		if (!dst) {
			flt_log(LOG_ERR, "crypt: unknown argument '%s' "
				"(expected keyfile=PATH, passfile=PATH or raw=LIST)", tok);
			ret = -EINVAL;
			break;
		}
		free(*dst);
		*dst = strdup(strchr(tok, '=') + 1);
		if (!*dst)
			ret = -ENOMEM;
		else if ((*dst)[0] != '/') {
			flt_log(LOG_ERR, "crypt: %s must be an absolute path "
				"(the daemon runs in /)", tok);
			ret = -EINVAL;
		}
	}
	free(copy);
	if (!ret && !!a->keyfile == !!a->passfile) {
		flt_log(LOG_ERR, "crypt: give exactly one of keyfile=PATH or "
			"passfile=PATH (e.g. --filter crypt:keyfile=/root/k)");
		ret = -EINVAL;
	}
	return ret;
}

/* Read the volume config below the instance. */
static int read_conf(struct flt_instance *inst, struct crypt_conf *c)
{
	char buf[CRYPT_CONF_MAX], err[128];
	struct flt_file f;
	size_t got = 0;
	int ret;

	ret = flt_create_file(inst, CRYPT_CONF_NAME, O_RDONLY, 0, &f);
	if (ret) {
		flt_log(LOG_ERR, "crypt: cannot open %s in the lower directory:"
			" %s%s", CRYPT_CONF_NAME, strerror(-ret),
			ret == -ENOENT ? " (not an encrypted volume: run "
					 "`fsfilter crypt init LOWER` first)"
				       : "");
		return ret;
	}
	ret = flt_read_file(inst, &f, 0, sizeof(buf), buf, &got);
	flt_close(inst, &f);
	if (ret) {
		flt_log(LOG_ERR, "crypt: reading %s: %s", CRYPT_CONF_NAME,
			strerror(-ret));
		return ret;
	}
	ret = crypt_conf_parse(buf, got, c, err, sizeof(err));
	if (ret)
		flt_log(LOG_ERR, "crypt: %s: %s", CRYPT_CONF_NAME, err);
	return ret;
}

int crypt_instance_setup(const struct flt_related_objects *objs);

int crypt_instance_setup(const struct flt_related_objects *objs)
{
	struct crypt_args a = { 0 };
	uint8_t secret[CRYPT_SECRET_MAX];
	size_t slen = 0;
	struct crypt_conf c;
	struct crypt_vol *vol = NULL;
	enum crypt_kdf kdf;
	const char *path;
	int ret;

	ret = parse_args(flt_instance_args(objs->instance), &a);
	if (ret)
		goto out;
	ret = read_conf(objs->instance, &c);
	if (ret)
		goto out;
	kdf = a.keyfile ? CRYPT_KDF_HKDF : CRYPT_KDF_SCRYPT;
	path = a.keyfile ? a.keyfile : a.passfile;
	/* before the first secret byte is in memory (docs/security.md) */
	ret = crypt_protect_memory(NULL, 0);
	if (ret)
		flt_log(LOG_WARNING, "crypt: cannot keep keys out of core "
			"dumps: %s", strerror(-ret));
	ret = crypt_secret_load(path, kdf, secret, &slen);
	if (ret) {
		flt_log(LOG_ERR, "crypt: cannot use %s %s: %s", a.keyfile ?
			"key file" : "passphrase file", path, ret == -EINVAL ?
			(a.keyfile ? "shorter than 16 bytes" : "empty")
			: strerror(-ret));
		goto out;
	}
	ret = flt_allocate_context(objs->filter, FLT_INSTANCE_CONTEXT,
				   sizeof(*vol), (void **)&vol);
	if (ret)
		goto out;
	/* the master key lives as long as the instance: its pages are
	   never dumped (the call above already made dumps impossible) */
	crypt_protect_memory(vol->master, sizeof(vol->master));
	crypt_twins_init(&vol->twins);
	vol->raw_on = a.raw_on;
	vol->raw = a.raw;
	ret = crypt_conf_unlock(&c, kdf, secret, slen, vol->master);
	if (ret == -EKEYREJECTED)
		flt_log(LOG_ERR, "crypt: wrong %s for this volume (the key "
			"check in %s fails); nothing mounted", a.keyfile ?
			"key file" : "passphrase", CRYPT_CONF_NAME);
	else if (ret == -EINVAL)
		flt_log(LOG_ERR, "crypt: this volume is protected by a %s: "
			"use %s=PATH", c.kdf == CRYPT_KDF_SCRYPT ? "passphrase"
			: "key file", c.kdf == CRYPT_KDF_SCRYPT ? "passfile"
			: "keyfile");
	else if (ret)
		flt_log(LOG_ERR, "crypt: unlocking the master key: %s",
			strerror(-ret));
	if (!ret)
		ret = flt_set_instance_context(objs->instance,
					       FLT_SET_CONTEXT_KEEP_IF_EXISTS,
					       vol, NULL);
out:
	if (vol)
		flt_release_context(vol);	/* the set holds its own */
	crypt_wipe(secret, sizeof(secret));
	free(a.keyfile);
	free(a.passfile);
	return ret;
}
