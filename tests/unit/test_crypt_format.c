/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt format v1: known-answer tests (vectors from the independent
 * reference tests/crypt/vectors.py, also in docs/crypt-format.md), size
 * arithmetic, header parsing, tamper detection, config and keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "filters/crypt/crypt_cipher.h"
#include "filters/crypt/crypt_file.h"
#include "filters/crypt/crypt_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void seq(uint8_t *p, uint8_t a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(a + i);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static const char kat_header[] =
	"4653464352595054010001000010000000000000a0a1a2a3a4a5a6a7a8a9aaab"
	"acadaeafb0b1b2b3b4b5b6b7b8b9babbd91418e8a888fd180fb1dde98110c68d"
	"d46d1b81417bd9620697d8aa00dfac496eebde0c0a592f007aded9a7c8c4d9af";
static const char kat_block0[] =
	"c0c1c2c3c4c5c6c7c8c9cacb393756a716ee589954da564fdbd782bbaed52a34"
	"ad5a0e7e99d047035a565a24e85930ecd196977e27798b6d6d2d2a9abd4c2627"
	"7e1b";
static const char kat_block1[] =
	"c0c1c2c3c4c5c6c7c8c9cacb393756a716ee589954da564fdbd782bbaed52a34"
	"ad5a0e7e99d047035a565a24e85930ecd196ec27412b0e1c43107b41a390c5e1"
	"edce";
static const char kat_pt[] = "fsfilter crypt v1 test vector, block 0";

static void test_sizes(void **state)
{
	assert_int_equal(CRYPT_CBLOCK, 4124);
	assert_int_equal(crypt_lower_size(0), 0);
	assert_int_equal(crypt_lower_size(1), 96 + 29);
	assert_int_equal(crypt_lower_size(4096), 96 + 4124);
	assert_int_equal(crypt_lower_size(4097), 96 + 4124 + 29);
	assert_int_equal(crypt_plain_size(0), 0);
	assert_int_equal(crypt_plain_size(50), 0);	/* torn header */
	assert_int_equal(crypt_plain_size(96), 0);
	assert_int_equal(crypt_plain_size(96 + 28), 0);	/* torn block */
	assert_int_equal(crypt_plain_size(96 + 4124 + 10), 4096);
	/* round trip over every size of the first blocks, and past 4 GiB */
	for (uint64_t s = 0; s < 3 * 4096 + 5; s++)
		assert_int_equal(crypt_plain_size(crypt_lower_size(s)), s);
	for (uint64_t s = (5ull << 30) - 4100; s < (5ull << 30) + 4100; s += 7)
		assert_true(crypt_plain_size(crypt_lower_size(s)) == s);
	assert_true(crypt_block_lower_off(1048576) ==
		    96 + 1048576ull * 4124);	/* 64-bit, no overflow */
}

static void test_header_kat(void **state)
{
	uint8_t master[32], hdr[96], want[96], nonce[12];
	struct crypt_fkey fk, got;
	struct crypt_header h;

	seq(master, 0x00, 32);
	seq(fk.file_id, 0xa0, 16);
	seq(fk.key, 0x40, 32);
	seq(nonce, 0xb0, 12);
	unhex(kat_header, want, 96);
	assert_int_equal(crypt_header_seal(master, &fk, nonce, hdr), 0);
	assert_memory_equal(hdr, want, 96);
	assert_int_equal(crypt_header_open(master, want, 96, &got), 0);
	assert_memory_equal(&got, &fk, sizeof(fk));
	assert_int_equal(crypt_header_decode(want, 96, &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.block_size, 4096);

	/* every single bit flip is caught */
	for (size_t bit = 0; bit < 96 * 8; bit++) {
		int r;

		hdr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		r = crypt_header_open(master, hdr, 96, &got);
		assert_true(r == -EINVAL || r == -EPROTONOSUPPORT ||
			    r == -EBADMSG);
		hdr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* wrong master key */
	master[0] ^= 1;
	assert_int_equal(crypt_header_open(master, want, 96, &got), -EBADMSG);
	/* short and foreign input */
	assert_int_equal(crypt_header_decode(want, 95, &h), -EINVAL);
	assert_int_equal(crypt_header_decode((const uint8_t *)
		"hello world, not a header at all, no no no no no no no no no "
		"no no no no no no no no no no no no no no no", 96, &h), -EINVAL);
	memcpy(hdr, want, 96);
	hdr[8] = 2;	/* version 2 */
	assert_int_equal(crypt_header_decode(hdr, 96, &h), -EPROTONOSUPPORT);
}

static void test_block_kat(void **state)
{
	uint8_t key[32], fid[16], nonce[12], out[CRYPT_CBLOCK], want[100];
	uint8_t plain[CRYPT_BLOCK];
	size_t len = strlen(kat_pt), clen = len + CRYPT_OVERHEAD;
	struct crypt_aead a;

	seq(key, 0x40, 32);
	seq(fid, 0xa0, 16);
	seq(nonce, 0xc0, 12);
	assert_int_equal(crypt_aead_init(&a, key), 0);
	assert_int_equal(crypt_block_seal(&a, fid, 0, (const uint8_t *)kat_pt,
					  len, nonce, out), 0);
	unhex(kat_block0, want, clen);
	assert_memory_equal(out, want, clen);
	assert_int_equal(crypt_block_open(&a, fid, 0, want, clen, plain),
			 (int)len);
	assert_memory_equal(plain, kat_pt, len);
	/* block 1: same nonce and text, other AAD: other tag */
	assert_int_equal(crypt_block_seal(&a, fid, 1, (const uint8_t *)kat_pt,
					  len, nonce, out), 0);
	unhex(kat_block1, want, clen);
	assert_memory_equal(out, want, clen);
	/* moved to another block number or file: refused */
	assert_int_equal(crypt_block_open(&a, fid, 0, want, clen, plain),
			 -EBADMSG);
	fid[0] ^= 1;
	assert_int_equal(crypt_block_open(&a, fid, 1, want, clen, plain),
			 -EBADMSG);
	fid[0] ^= 1;
	/* any flipped bit */
	for (size_t bit = 0; bit < clen * 8; bit += 3) {
		want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(crypt_block_open(&a, fid, 1, want, clen,
						  plain), -EBADMSG);
		want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* truncated or too short */
	assert_int_equal(crypt_block_open(&a, fid, 1, want, clen - 1, plain),
			 -EBADMSG);
	assert_int_equal(crypt_block_open(&a, fid, 1, want, 28, plain),
			 -EBADMSG);
	/* an all-zero stored block is a hole */
	memset(out, 0, sizeof(out));
	memset(plain, 0xff, sizeof(plain));
	assert_int_equal(crypt_block_open(&a, fid, 7, out, CRYPT_CBLOCK, plain),
			 CRYPT_BLOCK);
	for (size_t i = 0; i < CRYPT_BLOCK; i++)
		assert_int_equal(plain[i], 0);
	/* random nonces differ */
	{
		uint8_t o1[64], o2[64];

		assert_int_equal(crypt_block_seal(&a, fid, 0, key, 32, NULL, o1), 0);
		assert_int_equal(crypt_block_seal(&a, fid, 0, key, 32, NULL, o2), 0);
		assert_memory_not_equal(o1, o2, 12);
	}
	crypt_aead_free(&a);
}

static void test_keys_kat(void **state)
{
	struct crypt_conf c = { 0 }, c2;
	uint8_t secret[32], kek[32], want[32], master[32], mk[60];
	char text[CRYPT_CONF_MAX], err[128];
	int n;

	c.version = 1;
	c.kdf = CRYPT_KDF_HKDF;
	seq(c.salt, 0x60, 32);
	seq(secret, 0x00, 32);
	assert_int_equal(crypt_kek_derive(&c, secret, 32, kek), 0);
	unhex("d0c940a07a684f98d00544b43391ce90595dc76d29ebaf06e9916f37c4b12127",
	      want, 32);
	assert_memory_equal(kek, want, 32);

	c.kdf = CRYPT_KDF_SCRYPT;
	c.log2n = 10;
	c.r = 8;
	c.p = 1;
	assert_int_equal(crypt_kek_derive(&c, (const uint8_t *)"correct horse",
					  13, kek), 0);
	unhex("19f03fc0c02f2222e8e988c363112eb5f21cc06d1fb42cf7a492e596ebee56d9",
	      want, 32);
	assert_memory_equal(kek, want, 32);

	/* the wrapped master key vector unlocks with the key file */
	c.kdf = CRYPT_KDF_HKDF;
	unhex("d0d1d2d3d4d5d6d7d8d9dadb85e2644eb13eee266197b0f1423e8dc9a7f41ca1"
	      "ea61f6b9e5aaa1cae69c7f1df15151ca754fac337230ac04a8bf4582", mk, 60);
	memcpy(c.master_nonce, mk, 12);
	memcpy(c.master_enc, mk + 12, 32);
	memcpy(c.master_tag, mk + 44, 16);
	assert_int_equal(crypt_conf_unlock(&c, CRYPT_KDF_HKDF, secret, 32,
					   master), 0);
	seq(want, 0x00, 32);
	assert_memory_equal(master, want, 32);
	secret[5] ^= 1;
	assert_int_equal(crypt_conf_unlock(&c, CRYPT_KDF_HKDF, secret, 32,
					   master), -EKEYREJECTED);
	assert_int_equal(crypt_conf_unlock(&c, CRYPT_KDF_SCRYPT, secret, 32,
					   master), -EINVAL);

	/* format / parse round trip, then create + unlock */
	n = crypt_conf_format(&c, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(crypt_conf_parse(text, (size_t)n, &c2, err,
					  sizeof(err)), 0);
	assert_memory_equal(c2.salt, c.salt, 32);
	assert_memory_equal(c2.master_tag, c.master_tag, 16);
	assert_int_equal(crypt_conf_parse("version = 1\n", 12, &c2, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(crypt_conf_parse("bogus\n", 6, &c2, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(crypt_conf_create(CRYPT_KDF_SCRYPT,
					   (const uint8_t *)"pw", 2, 10, 8, 1,
					   &c2, master), 0);
	assert_int_equal(crypt_conf_unlock(&c2, CRYPT_KDF_SCRYPT,
					   (const uint8_t *)"pw", 2, want), 0);
	assert_memory_equal(master, want, 32);
	assert_int_equal(crypt_conf_unlock(&c2, CRYPT_KDF_SCRYPT,
					   (const uint8_t *)"pW", 2, want),
			 -EKEYREJECTED);
}

/* Whole-file tools: encrypt, verify, flip one bit, verify names it. */
static void test_file_roundtrip(void **state)
{
	char pin[] = "/tmp/crypt-ut-in.XXXXXX", pout[] = "/tmp/crypt-ut-out.XXXXXX";
	char pback[] = "/tmp/crypt-ut-back.XXXXXX";
	int in = mkstemp(pin), out = mkstemp(pout), back = mkstemp(pback);
	uint8_t master[32], buf[3 * 4096 + 77], chk[sizeof(buf)], b;
	uint64_t bad[4], bytes = 0;

	assert_true(in >= 0 && out >= 0 && back >= 0);
	unlink(pin);
	unlink(pout);
	unlink(pback);
	seq(master, 0x11, 32);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(pwrite(in, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(crypt_file_encrypt(in, out, master, &bytes, NULL, NULL),
			 0);
	assert_int_equal(bytes, sizeof(buf));
	assert_int_equal(lseek(out, 0, SEEK_END),
			 (off_t)crypt_lower_size(sizeof(buf)));
	assert_int_equal(crypt_file_verify(out, master, bad, 4, NULL), 0);
	assert_int_equal(crypt_file_decrypt(out, back, master), 0);
	assert_int_equal(pread(back, chk, sizeof(chk), 0), (ssize_t)sizeof(chk));
	assert_memory_equal(chk, buf, sizeof(buf));
	/* tamper with block 2 */
	assert_int_equal(pread(out, &b, 1, (off_t)crypt_block_lower_off(2) + 40), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(out, &b, 1, (off_t)crypt_block_lower_off(2) + 40), 1);
	assert_int_equal(crypt_file_verify(out, master, bad, 4, NULL), 1);
	assert_int_equal(bad[0], 2);
	assert_int_equal(crypt_file_is_encrypted(out), 1);
	assert_int_equal(crypt_file_is_encrypted(in), 0);
	assert_int_equal(crypt_file_verify(in, master, bad, 4, NULL), -EINVAL);
	close(in);
	close(out);
	close(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_header_kat),
		cmocka_unit_test(test_block_kat),
		cmocka_unit_test(test_keys_kat),
		cmocka_unit_test(test_file_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
