/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt: volume config file, KEK derivation (scrypt / HKDF), master key. */
#include "filters/crypt/crypt_keys.h"
#include "filters/crypt/crypt_cipher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* Associated data of the wrapped master key: binds it to this format. */
static const char master_aad[] = "fsfilter-crypt v1 master key";
static const char hkdf_info[] = "fsfilter-crypt v1 key file";

static int hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char ch = s[2 * i + j];
			int d = ch >= '0' && ch <= '9'	 ? ch - '0'
				: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
							 : -1;
			if (d < 0)
				return -EINVAL;
			v = v * 16 + d;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int parse_uint(const char *v, size_t vlen, unsigned lo, unsigned hi,
		      unsigned *out)
{
	unsigned long x = 0;

	if (!vlen || vlen > 9)
		return -EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (unsigned long)(v[i] - '0');
	}
	if (x < lo || x > hi)
		return -EINVAL;
	*out = (unsigned)x;
	return 0;
}

/* One "key = value" line. */
static int conf_line(struct crypt_conf *c, const char *k, size_t klen,
		     const char *v, size_t vlen, unsigned *seen)
{
	uint8_t mk[CRYPT_NONCE_LEN + CRYPT_KEY_LEN + CRYPT_TAG_LEN];

#define KEY_IS(s) (klen == sizeof(s) - 1 && !memcmp(k, s, klen))
	if (KEY_IS("version")) {
		*seen |= 1;
		return parse_uint(v, vlen, 1, 1, &c->version);
	}
	if (KEY_IS("cipher")) {
		*seen |= 2;
		return vlen == 11 && !memcmp(v, "aes-256-gcm", 11) ? 0 : -EINVAL;
	}
	if (KEY_IS("kdf")) {
		*seen |= 4;
		if (vlen == 6 && !memcmp(v, "scrypt", 6))
			c->kdf = CRYPT_KDF_SCRYPT;
		else if (vlen == 4 && !memcmp(v, "hkdf", 4))
			c->kdf = CRYPT_KDF_HKDF;
		else
			return -EINVAL;
		return 0;
	}
	if (KEY_IS("scrypt_log2n"))
		return parse_uint(v, vlen, 10, 24, &c->log2n);
	if (KEY_IS("scrypt_r"))
		return parse_uint(v, vlen, 1, 64, &c->r);
	if (KEY_IS("scrypt_p"))
		return parse_uint(v, vlen, 1, 64, &c->p);
	if (KEY_IS("salt")) {
		*seen |= 8;
		return hex_decode(v, vlen, c->salt, sizeof(c->salt));
	}
	if (KEY_IS("master_key")) {
		*seen |= 16;
		if (hex_decode(v, vlen, mk, sizeof(mk)))
			return -EINVAL;
		memcpy(c->master_nonce, mk, CRYPT_NONCE_LEN);
		memcpy(c->master_enc, mk + CRYPT_NONCE_LEN, CRYPT_KEY_LEN);
		memcpy(c->master_tag, mk + CRYPT_NONCE_LEN + CRYPT_KEY_LEN,
		       CRYPT_TAG_LEN);
		return 0;
	}
#undef KEY_IS
	return -EINVAL;
}

int crypt_conf_parse(const char *text, size_t len, struct crypt_conf *c,
		     char *err, size_t errlen)
{
	unsigned seen = 0, lineno = 0;
	size_t pos = 0;

	memset(c, 0, sizeof(*c));
	c->log2n = CRYPT_SCRYPT_LOG2N_DEFAULT;
	c->r = 8;
	c->p = 1;
	while (pos < len) {
		const char *line = text + pos, *eq, *k, *v;
		size_t n = 0, klen, vlen;

		while (pos + n < len && text[pos + n] != '\n')
			n++;
		pos += n + 1;
		lineno++;
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\r'))
			n--;
		while (n && *line == ' ') {
			line++;
			n--;
		}
		if (!n || *line == '#')
			continue;
		eq = memchr(line, '=', n);
		if (!eq)
			goto bad;
		k = line;
		klen = (size_t)(eq - line);
		while (klen && k[klen - 1] == ' ')
			klen--;
		v = eq + 1;
		vlen = n - (size_t)(v - line);
		while (vlen && *v == ' ') {
			v++;
			vlen--;
		}
		if (conf_line(c, k, klen, v, vlen, &seen))
			goto bad;
	}
	if (seen != 31) {
		snprintf(err, errlen, "crypt config: missing version, cipher, "
			 "kdf, salt or master_key");
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "crypt config: line %u: bad or unknown setting",
		 lineno);
	return -EINVAL;
}

int crypt_conf_format(const struct crypt_conf *c, char *buf, size_t len)
{
	char salt[2 * CRYPT_SALT_LEN + 1];
	uint8_t mk[CRYPT_NONCE_LEN + CRYPT_KEY_LEN + CRYPT_TAG_LEN];
	char mkhex[2 * sizeof(mk) + 1];
	int n;

	memcpy(mk, c->master_nonce, CRYPT_NONCE_LEN);
	memcpy(mk + CRYPT_NONCE_LEN, c->master_enc, CRYPT_KEY_LEN);
	memcpy(mk + CRYPT_NONCE_LEN + CRYPT_KEY_LEN, c->master_tag,
	       CRYPT_TAG_LEN);
	hex_encode(c->salt, sizeof(c->salt), salt);
	hex_encode(mk, sizeof(mk), mkhex);
	n = snprintf(buf, len,
		     "# fsfilter crypt volume (docs/crypt-format.md).\n"
		     "# Without this file the data cannot be decrypted: "
		     "keep a copy.\n"
		     "version = %u\ncipher = aes-256-gcm\nkdf = %s\n"
		     "scrypt_log2n = %u\nscrypt_r = %u\nscrypt_p = %u\n"
		     "salt = %s\nmaster_key = %s\n",
		     c->version, c->kdf == CRYPT_KDF_SCRYPT ? "scrypt" : "hkdf",
		     c->log2n, c->r, c->p, salt, mkhex);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int crypt_secret_load(const char *path, enum crypt_kdf kdf, uint8_t *buf,
		      size_t *len)
{
	size_t n = 0;
	ssize_t r;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (n < CRYPT_SECRET_MAX) {
		r = read(fd, buf + n, CRYPT_SECRET_MAX - n);
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	if (!ret && n == CRYPT_SECRET_MAX) {
		char extra;

		if (read(fd, &extra, 1) > 0)
			ret = -EFBIG;
	}
	close(fd);
	if (ret) {
		crypt_wipe(buf, n);
		return ret;
	}
	if (kdf == CRYPT_KDF_SCRYPT) {
		uint8_t *nl = memchr(buf, '\n', n);

		if (nl)
			n = (size_t)(nl - buf);
		if (n && buf[n - 1] == '\r')
			n--;
		if (!n)
			return -EINVAL;
	} else if (n < CRYPT_KEYFILE_MIN) {
		crypt_wipe(buf, n);
		return -EINVAL;
	}
	*len = n;
	return 0;
}

int crypt_kek_derive(const struct crypt_conf *c, const uint8_t *secret,
		     size_t len, uint8_t kek[CRYPT_KEY_LEN])
{
	OSSL_PARAM params[7], *p = params;
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;
	uint64_t n = (uint64_t)1 << c->log2n;
	uint32_t r = c->r, par = c->p;
	uint64_t maxmem = (uint64_t)2 << 30;
	int ret = 0;

	kdf = EVP_KDF_fetch(NULL, c->kdf == CRYPT_KDF_SCRYPT ? "SCRYPT" : "HKDF",
			    NULL);
	if (!kdf)
		return -EIO;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return -ENOMEM;
	if (c->kdf == CRYPT_KDF_SCRYPT) {
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_PASSWORD, (void *)secret, len);
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)c->salt, sizeof(c->salt));
		*p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
		*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
		*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &par);
		*p++ = OSSL_PARAM_construct_uint64(
			OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	} else {
		*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
							(char *)"SHA256", 0);
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_KEY, (void *)secret, len);
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)c->salt, sizeof(c->salt));
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_INFO, (void *)hkdf_info,
			sizeof(hkdf_info) - 1);
	}
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, kek, CRYPT_KEY_LEN, params) != 1)
		ret = -ENOMEM;	/* scrypt fails this way when over maxmem */
	EVP_KDF_CTX_free(kctx);
	return ret;
}

int crypt_conf_create(enum crypt_kdf kdf, const uint8_t *secret, size_t len,
		      unsigned log2n, unsigned r, unsigned p,
		      struct crypt_conf *c, uint8_t master[CRYPT_KEY_LEN])
{
	uint8_t kek[CRYPT_KEY_LEN];
	struct crypt_aead a;
	int ret;

	memset(c, 0, sizeof(*c));
	c->version = CRYPT_VERSION;
	c->kdf = kdf;
	c->log2n = log2n;
	c->r = r;
	c->p = p;
	if ((ret = crypt_random(c->salt, sizeof(c->salt))) ||
	    (ret = crypt_random(c->master_nonce, sizeof(c->master_nonce))) ||
	    (ret = crypt_random(master, CRYPT_KEY_LEN)))
		return ret;
	ret = crypt_kek_derive(c, secret, len, kek);
	if (ret)
		goto out;
	ret = crypt_aead_init(&a, kek);
	if (ret)
		goto out;
	ret = crypt_gcm_seal(&a, c->master_nonce, (const uint8_t *)master_aad,
			     sizeof(master_aad) - 1, master, CRYPT_KEY_LEN,
			     c->master_enc, c->master_tag);
	crypt_aead_free(&a);
out:
	crypt_wipe(kek, sizeof(kek));
	if (ret)
		crypt_wipe(master, CRYPT_KEY_LEN);
	return ret;
}

int crypt_conf_unlock(const struct crypt_conf *c, enum crypt_kdf kdf,
		      const uint8_t *secret, size_t len,
		      uint8_t master[CRYPT_KEY_LEN])
{
	uint8_t kek[CRYPT_KEY_LEN];
	struct crypt_aead a;
	int ret;

	if (kdf != c->kdf)
		return -EINVAL;
	ret = crypt_kek_derive(c, secret, len, kek);
	if (ret)
		goto out;
	ret = crypt_aead_init(&a, kek);
	if (ret)
		goto out;
	ret = crypt_gcm_open(&a, c->master_nonce, (const uint8_t *)master_aad,
			     sizeof(master_aad) - 1, c->master_enc,
			     CRYPT_KEY_LEN, c->master_tag, master);
	crypt_aead_free(&a);
	if (ret == -EBADMSG)
		ret = -EKEYREJECTED;
out:
	crypt_wipe(kek, sizeof(kek));
	return ret;
}
