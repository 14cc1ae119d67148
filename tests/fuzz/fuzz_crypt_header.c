/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for what the crypt filter reads from an untrusted lower
 * directory: the file header, stored blocks and the volume config text.
 * The first input byte picks the parser. Contract checked besides "no
 * crash, no UB, no out-of-bounds read":
 *  - a decoded header re-encodes to the same 96 bytes;
 *  - a header never unwraps under the fixed fuzz key unless it was made
 *    with it (random bytes must fail authentication);
 *  - a stored block either is a hole (all zero) or fails authentication;
 *  - a parsed config re-formats and re-parses to the same values.
 */
#include "filters/crypt/crypt_cipher.h"
#include "filters/crypt/crypt_keys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = { 1, 2, 3 };
	uint8_t plain[CRYPT_BLOCK], re[CRYPT_HDR_SIZE];
	struct crypt_header h;
	struct crypt_fkey fk;
	struct crypt_aead a;

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		data++, size--;
		if (!crypt_header_decode(data, size, &h)) {
			crypt_header_encode(&h, re);
			check(!memcmp(re, data, CRYPT_HDR_SIZE));
			/* a random header does not authenticate */
			check(crypt_header_open(key, data, size, &fk) != 0);
		}
		break;
	case 1: {
		int r;

		data++, size--;
		if (size > CRYPT_CBLOCK)
			size = CRYPT_CBLOCK;
		check(!crypt_aead_init(&a, key));
		r = crypt_block_open(&a, key, 0, data, size, plain);
		crypt_aead_free(&a);
		if (r >= 0)
			check(size > CRYPT_OVERHEAD && all_zero(data, size) &&
			      (size_t)r == size - CRYPT_OVERHEAD);
		break;
	}
	default: {
		struct crypt_conf c, c2;
		char err[128], text[CRYPT_CONF_MAX];
		int n;

		data++, size--;
		if (crypt_conf_parse((const char *)data, size, &c, err,
				     sizeof(err)))
			break;
		n = crypt_conf_format(&c, text, sizeof(text));
		check(n > 0);
		check(!crypt_conf_parse(text, (size_t)n, &c2, err, sizeof(err)));
		check(c.kdf == c2.kdf && c.log2n == c2.log2n && c.r == c2.r &&
		      c.p == c2.p && !memcmp(c.salt, c2.salt, sizeof(c.salt)) &&
		      !memcmp(c.master_enc, c2.master_enc,
			      sizeof(c.master_enc)) &&
		      !memcmp(c.master_tag, c2.master_tag,
			      sizeof(c.master_tag)));
		break;
	}
	}
	return 0;
}
