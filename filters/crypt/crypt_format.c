/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt format v1: header bytes and block/size arithmetic. */
#include "filters/crypt/crypt_format.h"

#include <errno.h>
#include <string.h>

void crypt_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void crypt_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void crypt_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t crypt_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t crypt_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t crypt_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void crypt_header_encode(const struct crypt_header *h, uint8_t *out)
{
	memcpy(out + CRYPT_HDR_OFF_MAGIC, CRYPT_MAGIC, CRYPT_MAGIC_LEN);
	crypt_put_le16(out + CRYPT_HDR_OFF_VERSION, h->version);
	crypt_put_le16(out + CRYPT_HDR_OFF_CIPHER, h->cipher);
	crypt_put_le32(out + CRYPT_HDR_OFF_BLOCK, h->block_size);
	crypt_put_le32(out + CRYPT_HDR_OFF_FLAGS, h->flags);
	memcpy(out + CRYPT_HDR_OFF_FILEID, h->file_id, CRYPT_FILEID_LEN);
	memcpy(out + CRYPT_HDR_OFF_NONCE, h->key_nonce, CRYPT_NONCE_LEN);
	memcpy(out + CRYPT_HDR_OFF_WKEY, h->wrapped_key, CRYPT_KEY_LEN);
	memcpy(out + CRYPT_HDR_OFF_TAG, h->key_tag, CRYPT_TAG_LEN);
}

int crypt_header_decode(const uint8_t *buf, size_t len, struct crypt_header *h)
{
	if (!buf || len < CRYPT_HDR_SIZE ||
	    memcmp(buf + CRYPT_HDR_OFF_MAGIC, CRYPT_MAGIC, CRYPT_MAGIC_LEN))
		return -EINVAL;
	h->version = crypt_get_le16(buf + CRYPT_HDR_OFF_VERSION);
	h->cipher = crypt_get_le16(buf + CRYPT_HDR_OFF_CIPHER);
	h->block_size = crypt_get_le32(buf + CRYPT_HDR_OFF_BLOCK);
	h->flags = crypt_get_le32(buf + CRYPT_HDR_OFF_FLAGS);
	if (h->version != CRYPT_VERSION || h->cipher != CRYPT_CIPHER_AES256GCM ||
	    h->block_size != CRYPT_BLOCK || h->flags != 0)
		return -EPROTONOSUPPORT;
	memcpy(h->file_id, buf + CRYPT_HDR_OFF_FILEID, CRYPT_FILEID_LEN);
	memcpy(h->key_nonce, buf + CRYPT_HDR_OFF_NONCE, CRYPT_NONCE_LEN);
	memcpy(h->wrapped_key, buf + CRYPT_HDR_OFF_WKEY, CRYPT_KEY_LEN);
	memcpy(h->key_tag, buf + CRYPT_HDR_OFF_TAG, CRYPT_TAG_LEN);
	return 0;
}

uint64_t crypt_plain_size(uint64_t lower_size)
{
	uint64_t data, full, rem;

	if (lower_size <= CRYPT_HDR_SIZE)
		return 0;
	data = lower_size - CRYPT_HDR_SIZE;
	full = data / CRYPT_CBLOCK;
	rem = data % CRYPT_CBLOCK;
	return full * CRYPT_BLOCK + (rem > CRYPT_OVERHEAD ? rem - CRYPT_OVERHEAD : 0);
}

uint64_t crypt_lower_size(uint64_t plain_size)
{
	uint64_t full = plain_size / CRYPT_BLOCK, rem = plain_size % CRYPT_BLOCK;

	if (!plain_size)
		return 0;
	return CRYPT_HDR_SIZE + full * CRYPT_CBLOCK +
	       (rem ? rem + CRYPT_OVERHEAD : 0);
}

void crypt_block_aad(const uint8_t *file_id, uint64_t block,
		     uint8_t aad[CRYPT_BLOCK_AAD_LEN])
{
	memcpy(aad, file_id, CRYPT_FILEID_LEN);
	crypt_put_le64(aad + CRYPT_FILEID_LEN, block);
}
