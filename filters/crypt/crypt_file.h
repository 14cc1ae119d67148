/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt: whole-file operations on plain fds, for the offline tools
 * (fsfilter crypt verify / migrate) and the tests. Never used on a path
 * inside a mounted volume. */
#ifndef FSFILTER_CRYPT_FILE_H
#define FSFILTER_CRYPT_FILE_H

#include "filters/crypt/crypt_cipher.h"

#include <stdint.h>

/* Encrypt all of @in (plaintext, read from offset 0) into @out (empty,
 * written from 0). Adds the bytes read to *@bytes (may be NULL) as it
 * goes, calling @progress (may be NULL) after every MiB. 0 or -errno. */
int crypt_file_encrypt(int in, int out, const uint8_t master[CRYPT_KEY_LEN],
		       uint64_t *bytes, void (*progress)(void *), void *arg);

/* Check every block of encrypted file @fd. Returns the number of blocks
 * that fail authentication (their numbers go to @bad, up to @nbad), or
 * -EINVAL (no crypt header: a plaintext file), -EBADMSG (header fails:
 * corrupt or another key), -EPROTONOSUPPORT, another -errno. */
long crypt_file_verify(int fd, const uint8_t master[CRYPT_KEY_LEN],
		       uint64_t *bad, size_t nbad, uint64_t *bytes);

/* Decrypt all of @in into @out (tests, golden files). */
int crypt_file_decrypt(int in, int out, const uint8_t master[CRYPT_KEY_LEN]);

/* 1 if @fd starts with a crypt header magic (or is empty), else 0. */
int crypt_file_is_encrypted(int fd);

#endif
