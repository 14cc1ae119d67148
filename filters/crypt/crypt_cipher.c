/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt: AES-256-GCM for headers and blocks, through OpenSSL EVP. */
#include "filters/crypt/crypt_cipher.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int crypt_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

void crypt_wipe(void *buf, size_t len)
{
	OPENSSL_cleanse(buf, len);
}

int crypt_protect_memory(void *buf, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start, end;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return -errno;
	if (!buf || !len)
		return 0;
	/* heap memory: the whole pages around it (neighbours too, which
	   only makes a dump smaller) */
	start = (uintptr_t)buf & ~(page - 1);
	end = ((uintptr_t)buf + len + page - 1) & ~(page - 1);
	if (madvise((void *)start, end - start, MADV_DONTDUMP))
		return -errno;
	return 0;
}

/* Fetched once: the implicit fetch behind EVP_aes_256_gcm() looks the
 * algorithm up in the provider store (a lock and a hash lookup) on every
 * context initialisation. Never freed (process lifetime). */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *gcm(void)
{
	pthread_once(&gcm_once, gcm_fetch);
	return gcm_cipher ? gcm_cipher : EVP_aes_256_gcm();
}

int crypt_aead_init(struct crypt_aead *a, const uint8_t key[CRYPT_KEY_LEN])
{
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new(), *d = EVP_CIPHER_CTX_new();

	a->enc = a->dec = NULL;
	/* The key schedule is computed once here; each message then only
	 * sets its nonce (EVP_*Init_ex with a NULL key keeps the key). */
	if (!e || !d ||
	    EVP_EncryptInit_ex(e, gcm(), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(d, gcm(), NULL, key, NULL) != 1) {
		EVP_CIPHER_CTX_free(e);	/* cleanses */
		EVP_CIPHER_CTX_free(d);
		return -EIO;
	}
	a->enc = e;
	a->dec = d;
	return 0;
}

int crypt_aead_rekey(struct crypt_aead *a, const uint8_t key[CRYPT_KEY_LEN])
{
	if (!a->enc)
		return crypt_aead_init(a, key);
	if (EVP_EncryptInit_ex(a->enc, NULL, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->dec, NULL, NULL, key, NULL) != 1)
		return -EIO;
	return 0;
}

void crypt_aead_free(struct crypt_aead *a)
{
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	a->enc = a->dec = NULL;
}

int crypt_gcm_seal(struct crypt_aead *a, const uint8_t nonce[CRYPT_NONCE_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, uint8_t *out, uint8_t tag[CRYPT_TAG_LEN])
{
	EVP_CIPHER_CTX *c = a->enc;
	int n;

	if (len > INT_MAX || aad_len > INT_MAX ||
	    EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, out + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPT_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

int crypt_gcm_open(struct crypt_aead *a, const uint8_t nonce[CRYPT_NONCE_LEN],
		   const uint8_t *aad, size_t aad_len, const uint8_t *in,
		   size_t len, const uint8_t tag[CRYPT_TAG_LEN], uint8_t *out)
{
	EVP_CIPHER_CTX *c = a->dec;
	int n;

	if (len > INT_MAX || aad_len > INT_MAX ||
	    EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(c, out, &n, in, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPT_TAG_LEN,
				(void *)tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(c, out + n, &n) != 1) {
		/* never hand out unauthenticated plaintext */
		OPENSSL_cleanse(out, len);
		return -EBADMSG;
	}
	return 0;
}

int crypt_block_seal(struct crypt_aead *a, const uint8_t *file_id,
		     uint64_t block, const uint8_t *plain, size_t len,
		     const uint8_t *nonce, uint8_t *out)
{
	uint8_t aad[CRYPT_BLOCK_AAD_LEN];
	int ret;

	if (!len || len > CRYPT_BLOCK)
		return -EINVAL;
	if (nonce)
		memcpy(out, nonce, CRYPT_NONCE_LEN);
	else if ((ret = crypt_random(out, CRYPT_NONCE_LEN)))
		return ret;
	crypt_block_aad(file_id, block, aad);
	return crypt_gcm_seal(a, out, aad, sizeof(aad), plain, len,
			      out + CRYPT_NONCE_LEN,
			      out + CRYPT_NONCE_LEN + len);
}

static int all_zero(const uint8_t *p, size_t len)
{
	/* word-wise would be faster; this only runs on blocks that already
	 * start with a zero byte */
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int crypt_block_open(struct crypt_aead *a, const uint8_t *file_id,
		     uint64_t block, const uint8_t *in, size_t in_len,
		     uint8_t *plain)
{
	uint8_t aad[CRYPT_BLOCK_AAD_LEN];
	size_t len;
	int ret;

	if (in_len <= CRYPT_OVERHEAD || in_len > CRYPT_CBLOCK)
		return -EBADMSG;
	len = in_len - CRYPT_OVERHEAD;
	if (!in[0] && all_zero(in, in_len)) {
		memset(plain, 0, len);
		return (int)len;
	}
	crypt_block_aad(file_id, block, aad);
	ret = crypt_gcm_open(a, in, aad, sizeof(aad), in + CRYPT_NONCE_LEN, len,
			     in + CRYPT_NONCE_LEN + len, plain);
	return ret ? ret : (int)len;
}

int crypt_header_seal_aead(struct crypt_aead *master,
			   const struct crypt_fkey *fk,
			   const uint8_t nonce[CRYPT_NONCE_LEN], uint8_t *out)
{
	struct crypt_header h = {
		.version = CRYPT_VERSION,
		.cipher = CRYPT_CIPHER_AES256GCM,
		.block_size = CRYPT_BLOCK,
		.flags = 0,
	};

	memcpy(h.file_id, fk->file_id, CRYPT_FILEID_LEN);
	memcpy(h.key_nonce, nonce, CRYPT_NONCE_LEN);
	crypt_header_encode(&h, out);	/* AAD part; key filled below */
	return crypt_gcm_seal(master, nonce, out, CRYPT_HDR_AAD_LEN, fk->key,
			      CRYPT_KEY_LEN, out + CRYPT_HDR_OFF_WKEY,
			      out + CRYPT_HDR_OFF_TAG);
}

int crypt_header_seal(const uint8_t master[CRYPT_KEY_LEN],
		      const struct crypt_fkey *fk,
		      const uint8_t nonce[CRYPT_NONCE_LEN], uint8_t *out)
{
	struct crypt_aead a;
	int ret;

	ret = crypt_aead_init(&a, master);
	if (ret)
		return ret;
	ret = crypt_header_seal_aead(&a, fk, nonce, out);
	crypt_aead_free(&a);
	return ret;
}

int crypt_header_new_aead(struct crypt_aead *master, struct crypt_fkey *fk,
			  uint8_t *out)
{
	uint8_t nonce[CRYPT_NONCE_LEN];
	int ret;

	if ((ret = crypt_random(fk->file_id, sizeof(fk->file_id))) ||
	    (ret = crypt_random(fk->key, sizeof(fk->key))) ||
	    (ret = crypt_random(nonce, sizeof(nonce))))
		return ret;
	return crypt_header_seal_aead(master, fk, nonce, out);
}

int crypt_header_new(const uint8_t master[CRYPT_KEY_LEN],
		     struct crypt_fkey *fk, uint8_t *out)
{
	struct crypt_aead a;
	int ret;

	ret = crypt_aead_init(&a, master);
	if (ret)
		return ret;
	ret = crypt_header_new_aead(&a, fk, out);
	crypt_aead_free(&a);
	return ret;
}

int crypt_header_open_aead(struct crypt_aead *master, const uint8_t *buf,
			   size_t len, struct crypt_fkey *fk)
{
	struct crypt_header h;
	int ret;

	ret = crypt_header_decode(buf, len, &h);
	if (ret)
		return ret;
	ret = crypt_gcm_open(master, h.key_nonce, buf, CRYPT_HDR_AAD_LEN,
			     h.wrapped_key, CRYPT_KEY_LEN, h.key_tag, fk->key);
	if (!ret)
		memcpy(fk->file_id, h.file_id, CRYPT_FILEID_LEN);
	return ret;
}

int crypt_header_open(const uint8_t master[CRYPT_KEY_LEN], const uint8_t *buf,
		      size_t len, struct crypt_fkey *fk)
{
	struct crypt_aead a;
	int ret;

	ret = crypt_aead_init(&a, master);
	if (ret)
		return ret;
	ret = crypt_header_open_aead(&a, buf, len, fk);
	crypt_aead_free(&a);
	return ret;
}
