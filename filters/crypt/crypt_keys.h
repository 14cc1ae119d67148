/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: volume keys. The volume config file (CRYPT_CONF_NAME in the root
 * of the lower directory, hidden from the volume) holds a random 32-byte
 * master key encrypted (AES-256-GCM) under a key-encryption key (KEK)
 * derived from a secret: a passphrase through scrypt, or a key file
 * through HKDF-SHA256. The GCM tag is the key check value: a wrong secret
 * is refused before anything is mounted. Changing the secret only
 * re-wraps the master key; files are never re-encrypted for it.
 */
#ifndef FSFILTER_CRYPT_KEYS_H
#define FSFILTER_CRYPT_KEYS_H

#include "filters/crypt/crypt_format.h"

#include <stddef.h>
#include <stdint.h>

#define CRYPT_CONF_NAME		".fsfilter-crypt.conf"
#define CRYPT_CONF_MAX		4096u	/* bytes; the file is far smaller */
#define CRYPT_SALT_LEN		32u
#define CRYPT_SECRET_MAX	4096u
#define CRYPT_KEYFILE_MIN	16u	/* bytes of a key file */
#define CRYPT_SCRYPT_LOG2N_DEFAULT 16	/* 64 MiB with r = 8 */

enum crypt_kdf {
	CRYPT_KDF_SCRYPT = 1,	/* passphrase */
	CRYPT_KDF_HKDF = 2,	/* key file */
};

struct crypt_conf {
	unsigned version;
	enum crypt_kdf kdf;
	unsigned log2n, r, p;			/* scrypt only */
	uint8_t salt[CRYPT_SALT_LEN];
	uint8_t master_nonce[CRYPT_NONCE_LEN];
	uint8_t master_enc[CRYPT_KEY_LEN];	/* master key, encrypted */
	uint8_t master_tag[CRYPT_TAG_LEN];
};

/* Parse the config file text. 0, or -EINVAL with a message in @err. */
int crypt_conf_parse(const char *text, size_t len, struct crypt_conf *c,
		     char *err, size_t errlen);
/* Format it; returns the length written (< @len) or -ENOSPC. */
int crypt_conf_format(const struct crypt_conf *c, char *buf, size_t len);

/* Read a key file (@kdf HKDF: its bytes, at least 16) or a passphrase file
 * (@kdf SCRYPT: its first line, not empty) into @buf (CRYPT_SECRET_MAX).
 * 0 or a negative errno (-EINVAL: empty or too short/long). */
int crypt_secret_load(const char *path, enum crypt_kdf kdf, uint8_t *buf,
		      size_t *len);

/* New volume config with a fresh random master key (returned in @master)
 * protected by @secret. @log2n/@r/@p: scrypt cost (ignored for HKDF). */
int crypt_conf_create(enum crypt_kdf kdf, const uint8_t *secret, size_t len,
		      unsigned log2n, unsigned r, unsigned p,
		      struct crypt_conf *c, uint8_t master[CRYPT_KEY_LEN]);
/* Unlock the master key. 0, -EKEYREJECTED (wrong secret), -EINVAL (the
 * volume uses the other kind of secret), -ENOMEM/-EIO. */
int crypt_conf_unlock(const struct crypt_conf *c, enum crypt_kdf kdf,
		      const uint8_t *secret, size_t len,
		      uint8_t master[CRYPT_KEY_LEN]);

/* The KEK (exposed for known-answer tests). */
int crypt_kek_derive(const struct crypt_conf *c, const uint8_t *secret,
		     size_t len, uint8_t kek[CRYPT_KEY_LEN]);

#endif /* FSFILTER_CRYPT_KEYS_H */
