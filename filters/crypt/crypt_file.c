/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt: whole-file encrypt / verify / decrypt on plain fds. */
#include "filters/crypt/crypt_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!r)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)r;
	}
	return 0;
}

int crypt_file_is_encrypted(int fd)
{
	uint8_t m[CRYPT_MAGIC_LEN];
	ssize_t n = pread_full(fd, m, sizeof(m), 0);

	if (n == 0)
		return 1;
	return n == (ssize_t)sizeof(m) && !memcmp(m, CRYPT_MAGIC, sizeof(m));
}

int crypt_file_encrypt(int in, int out, const uint8_t master[CRYPT_KEY_LEN],
		       uint64_t *bytes, void (*progress)(void *), void *arg)
{
	uint8_t hdr[CRYPT_HDR_SIZE], plain[CRYPT_BLOCK], cb[CRYPT_CBLOCK];
	struct crypt_fkey fk;
	struct crypt_aead a = { 0 };
	uint64_t b = 0, since = 0;
	ssize_t n;
	int ret;

	n = pread_full(in, plain, sizeof(plain), 0);
	if (n <= 0)
		return (int)n;	/* empty stays empty (no header) */
	ret = crypt_header_new(master, &fk, hdr);
	if (!ret)
		ret = pwrite_full(out, hdr, sizeof(hdr), 0);
	if (!ret)
		ret = crypt_aead_init(&a, fk.key);
	while (!ret && n > 0) {
		ret = crypt_block_seal(&a, fk.file_id, b, plain, (size_t)n,
				       NULL, cb);
		if (!ret)
			ret = pwrite_full(out, cb, (size_t)n + CRYPT_OVERHEAD,
					  (off_t)crypt_block_lower_off(b));
		if (bytes)
			*bytes += (uint64_t)n;
		since += (uint64_t)n;
		if (progress && since >= (1u << 20)) {
			since = 0;
			progress(arg);
		}
		if (ret || n < (ssize_t)CRYPT_BLOCK)
			break;
		b++;
		n = pread_full(in, plain, sizeof(plain),
			       (off_t)(b * CRYPT_BLOCK));
		if (n < 0)
			ret = (int)n;
	}
	crypt_aead_free(&a);
	crypt_wipe(&fk, sizeof(fk));
	crypt_wipe(plain, sizeof(plain));
	return ret;
}

static int open_header(int fd, const uint8_t master[CRYPT_KEY_LEN],
		       struct crypt_fkey *fk, uint64_t *lsize)
{
	uint8_t hdr[CRYPT_HDR_SIZE];
	struct stat st;
	ssize_t n;

	/* set on every path: gcc cannot know that -errno is never 0 */
	*lsize = 0;
	if (fstat(fd, &st))
		return -errno;
	*lsize = (uint64_t)st.st_size;
	if (!st.st_size)
		return 1;	/* empty file */
	n = pread_full(fd, hdr, sizeof(hdr), 0);
	if (n < 0)
		return (int)n;
	return crypt_header_open(master, hdr, (size_t)n, fk);
}

long crypt_file_verify(int fd, const uint8_t master[CRYPT_KEY_LEN],
		       uint64_t *bad, size_t nbad, uint64_t *bytes)
{
	uint8_t plain[CRYPT_BLOCK], cb[CRYPT_CBLOCK];
	struct crypt_aead a = { 0 };
	struct crypt_fkey fk;
	uint64_t lsize, psize;
	long nbadfound = 0;
	int ret;

	ret = open_header(fd, master, &fk, &lsize);
	if (ret)
		return ret > 0 ? 0 : ret;
	psize = crypt_plain_size(lsize);
	ret = crypt_aead_init(&a, fk.key);
	for (uint64_t b = 0; !ret && b * CRYPT_BLOCK < psize; b++) {
		uint64_t left = psize - b * CRYPT_BLOCK;
		size_t len = left < CRYPT_BLOCK ? (size_t)left : CRYPT_BLOCK;
		ssize_t n = pread_full(fd, cb, len + CRYPT_OVERHEAD,
				       (off_t)crypt_block_lower_off(b));

		if (n < 0) {
			ret = (int)n;
			break;
		}
		if (crypt_block_open(&a, fk.file_id, b, cb, (size_t)n, plain) !=
		    (int)len) {
			if ((size_t)nbadfound < nbad)
				bad[nbadfound] = b;
			nbadfound++;
		}
		if (bytes)
			*bytes += len;
	}
	crypt_aead_free(&a);
	crypt_wipe(&fk, sizeof(fk));
	crypt_wipe(plain, sizeof(plain));
	return ret ? ret : nbadfound;
}

int crypt_file_decrypt(int in, int out, const uint8_t master[CRYPT_KEY_LEN])
{
	uint8_t plain[CRYPT_BLOCK], cb[CRYPT_CBLOCK];
	struct crypt_aead a = { 0 };
	struct crypt_fkey fk;
	uint64_t lsize, psize;
	int ret;

	ret = open_header(in, master, &fk, &lsize);
	if (ret)
		return ret > 0 ? 0 : ret;
	psize = crypt_plain_size(lsize);
	ret = crypt_aead_init(&a, fk.key);
	for (uint64_t b = 0; !ret && b * CRYPT_BLOCK < psize; b++) {
		uint64_t left = psize - b * CRYPT_BLOCK;
		size_t len = left < CRYPT_BLOCK ? (size_t)left : CRYPT_BLOCK;
		ssize_t n = pread_full(in, cb, len + CRYPT_OVERHEAD,
				       (off_t)crypt_block_lower_off(b));

		if (n < 0)
			ret = (int)n;
		else if (crypt_block_open(&a, fk.file_id, b, cb, (size_t)n,
					  plain) != (int)len)
			ret = -EBADMSG;
		else
			ret = pwrite_full(out, plain, len,
					  (off_t)(b * CRYPT_BLOCK));
	}
	crypt_aead_free(&a);
	crypt_wipe(&fk, sizeof(fk));
	crypt_wipe(plain, sizeof(plain));
	return ret;
}
