/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt on-disk format, version 1 (docs/crypt-format.md is the byte-by-byte
 * specification; this header is its C form). Pure arithmetic and byte
 * layout: no I/O, no crypto, no locks.
 *
 * A lower file is either empty (0 bytes: an empty plaintext file, no header
 * yet) or a 96-byte header followed by blocks. Block i holds plaintext
 * bytes [4096 i, 4096 (i + 1)) as nonce(12) | ciphertext | tag(16), so a
 * full block takes 4124 bytes and only the last block may be short.
 */
#ifndef FSFILTER_CRYPT_FORMAT_H
#define FSFILTER_CRYPT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define CRYPT_MAGIC		"FSFCRYPT"	/* 8 bytes, no NUL */
#define CRYPT_MAGIC_LEN		8u
#define CRYPT_VERSION		1u
#define CRYPT_CIPHER_AES256GCM	1u

#define CRYPT_KEY_LEN		32u	/* AES-256 */
#define CRYPT_FILEID_LEN	16u
#define CRYPT_NONCE_LEN		12u
#define CRYPT_TAG_LEN		16u
#define CRYPT_OVERHEAD		(CRYPT_NONCE_LEN + CRYPT_TAG_LEN)	/* 28 */

#define CRYPT_BLOCK		4096u	/* plaintext bytes per block */
#define CRYPT_CBLOCK		(CRYPT_BLOCK + CRYPT_OVERHEAD)	/* 4124 */

/* Header layout (offsets) */
#define CRYPT_HDR_OFF_MAGIC	0u
#define CRYPT_HDR_OFF_VERSION	8u	/* u16 little endian */
#define CRYPT_HDR_OFF_CIPHER	10u	/* u16 little endian */
#define CRYPT_HDR_OFF_BLOCK	12u	/* u32 little endian */
#define CRYPT_HDR_OFF_FLAGS	16u	/* u32 little endian, 0 */
#define CRYPT_HDR_OFF_FILEID	20u	/* 16 bytes */
#define CRYPT_HDR_AAD_LEN	36u	/* bytes 0..35 authenticate the key */
#define CRYPT_HDR_OFF_NONCE	36u	/* 12 bytes */
#define CRYPT_HDR_OFF_WKEY	48u	/* 32 bytes: file key, encrypted */
#define CRYPT_HDR_OFF_TAG	80u	/* 16 bytes */
#define CRYPT_HDR_SIZE		96u

/* Associated data of a block: file id | block number (u64 LE). */
#define CRYPT_BLOCK_AAD_LEN	(CRYPT_FILEID_LEN + 8u)

struct crypt_header {
	uint16_t version;
	uint16_t cipher;
	uint32_t block_size;
	uint32_t flags;
	uint8_t file_id[CRYPT_FILEID_LEN];
	uint8_t key_nonce[CRYPT_NONCE_LEN];
	uint8_t wrapped_key[CRYPT_KEY_LEN];
	uint8_t key_tag[CRYPT_TAG_LEN];
};

/* Serialise @h into exactly CRYPT_HDR_SIZE bytes. */
void crypt_header_encode(const struct crypt_header *h, uint8_t *out);
/*
 * Parse untrusted bytes. Returns 0, -EINVAL (shorter than a header, or not
 * our magic: not an encrypted file), -EPROTONOSUPPORT (our magic but an
 * unknown version, cipher, block size or flags).
 */
int crypt_header_decode(const uint8_t *buf, size_t len, struct crypt_header *h);

/* Block of a plaintext offset, and the lower offset of a block. */
static inline uint64_t crypt_block_of(uint64_t off)
{
	return off / CRYPT_BLOCK;
}

static inline uint64_t crypt_block_lower_off(uint64_t block)
{
	return CRYPT_HDR_SIZE + block * (uint64_t)CRYPT_CBLOCK;
}

/*
 * Plaintext size of a lower file of @lower_size bytes. A trailing stored
 * block too short to hold a nonce, a tag and one byte (1..28 bytes, only
 * left by a crash in the middle of an append) adds nothing; a lower size
 * of 1..96 (a torn header) gives 0.
 */
uint64_t crypt_plain_size(uint64_t lower_size);
/* Lower size for @plain_size plaintext bytes (0 for 0: no header). */
uint64_t crypt_lower_size(uint64_t plain_size);

/* Fill the associated data of block @block of file @file_id. */
void crypt_block_aad(const uint8_t *file_id, uint64_t block,
		     uint8_t aad[CRYPT_BLOCK_AAD_LEN]);

/* Little-endian helpers (the format is little endian throughout). */
void crypt_put_le16(uint8_t *p, uint16_t v);
void crypt_put_le32(uint8_t *p, uint32_t v);
void crypt_put_le64(uint8_t *p, uint64_t v);
uint16_t crypt_get_le16(const uint8_t *p);
uint32_t crypt_get_le32(const uint8_t *p);
uint64_t crypt_get_le64(const uint8_t *p);

#endif /* FSFILTER_CRYPT_FORMAT_H */
