/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: the cryptography of format v1, all of it from OpenSSL libcrypto
 * (EVP AES-256-GCM). No I/O. Key material passed in is borrowed; key
 * material kept (struct crypt_fkey, the EVP contexts) is wiped by the
 * matching free/cleanse call.
 */
#ifndef FSFILTER_CRYPT_CIPHER_H
#define FSFILTER_CRYPT_CIPHER_H

#include "filters/crypt/crypt_format.h"

#include <stddef.h>
#include <stdint.h>

/* The key of one file and the id bound into every block of it. */
struct crypt_fkey {
	uint8_t file_id[CRYPT_FILEID_LEN];
	uint8_t key[CRYPT_KEY_LEN];
};

/* AES-256-GCM contexts keyed once, reused for many blocks by one thread. */
struct crypt_aead {
	void *enc;	/* EVP_CIPHER_CTX * */
	void *dec;
};

int crypt_aead_init(struct crypt_aead *a, const uint8_t key[CRYPT_KEY_LEN]);
/* Switch @a (initialised, or zeroed: then like crypt_aead_init) to
 * another key without allocating. 0 or -EIO. */
int crypt_aead_rekey(struct crypt_aead *a, const uint8_t key[CRYPT_KEY_LEN]);
void crypt_aead_free(struct crypt_aead *a);

/* One GCM message: @out gets @len bytes, @tag 16. 0 or -EIO. */
int crypt_gcm_seal(struct crypt_aead *a, const uint8_t nonce[CRYPT_NONCE_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, uint8_t *out, uint8_t tag[CRYPT_TAG_LEN]);
/* 0, or -EBADMSG when the tag does not match (wrong key or tampering). */
int crypt_gcm_open(struct crypt_aead *a, const uint8_t nonce[CRYPT_NONCE_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, const uint8_t tag[CRYPT_TAG_LEN], uint8_t *out);

/* Cryptographically random bytes. 0 or -EIO. */
int crypt_random(void *buf, size_t len);
/* Wipe key material (OPENSSL_cleanse). */
void crypt_wipe(void *buf, size_t len);
/*
 * Keep key material out of core dumps and away from same-uid debuggers:
 * makes the process non-dumpable (prctl PR_SET_DUMPABLE 0: no core file,
 * no ptrace or /proc/PID/mem for anyone without CAP_SYS_PTRACE), and, if
 * @buf is not NULL, marks the pages holding @len bytes at @buf
 * MADV_DONTDUMP (in case something makes the process dumpable again).
 * Process-wide and not undone; called before any secret is read.
 * Returns 0 or the negative errno of prctl/madvise.
 */
int crypt_protect_memory(void *buf, size_t len);

/*
 * Encrypt block @block of a file: @len (1..4096) plaintext bytes into
 * @out = nonce | ciphertext | tag (@len + 28 bytes). @nonce NULL draws a
 * fresh random nonce (always, except in known-answer tests).
 */
int crypt_block_seal(struct crypt_aead *a, const uint8_t *file_id,
		     uint64_t block, const uint8_t *plain, size_t len,
		     const uint8_t *nonce, uint8_t *out);
/*
 * Decrypt a stored block of @in_len bytes (29..4124) into @plain. Returns
 * the plaintext length, or -EBADMSG (authentication failed, or too short).
 * A stored block of only zero bytes is a hole (left by truncate up or a
 * write past the end): it reads as @in_len - 28 zero bytes.
 */
int crypt_block_open(struct crypt_aead *a, const uint8_t *file_id,
		     uint64_t block, const uint8_t *in, size_t in_len,
		     uint8_t *plain);

/* Make a header for @fk (file id and key already chosen) wrapped by
 * @master with @nonce. 0 or -EIO. */
int crypt_header_seal(const uint8_t master[CRYPT_KEY_LEN],
		      const struct crypt_fkey *fk,
		      const uint8_t nonce[CRYPT_NONCE_LEN], uint8_t *out);
/* A new file: random file id, key and nonce; header into @out (96). */
int crypt_header_new(const uint8_t master[CRYPT_KEY_LEN],
		     struct crypt_fkey *fk, uint8_t *out);
/* Parse and unwrap a header. 0, -EINVAL (not a header),
 * -EPROTONOSUPPORT, -EBADMSG (wrong master key or tampered header). */
int crypt_header_open(const uint8_t master[CRYPT_KEY_LEN], const uint8_t *buf,
		      size_t len, struct crypt_fkey *fk);

/* The same three with the master key's contexts already keyed (a caller
 * that keeps them, e.g. per thread). */
int crypt_header_seal_aead(struct crypt_aead *master,
			   const struct crypt_fkey *fk,
			   const uint8_t nonce[CRYPT_NONCE_LEN], uint8_t *out);
int crypt_header_new_aead(struct crypt_aead *master, struct crypt_fkey *fk,
			  uint8_t *out);
int crypt_header_open_aead(struct crypt_aead *master, const uint8_t *buf,
			   size_t len, struct crypt_fkey *fk);

#endif /* FSFILTER_CRYPT_CIPHER_H */
