/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: the data engine. Plaintext reads, writes and size changes become
 * filter-initiated I/O on the same lower handle at ciphertext offsets
 * (docs/crypt-format.md). Callers hold the node lock (see crypt_int.h).
 */
#include "filters/crypt/crypt_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/*
 * Per-thread I/O buffers, grown on demand and kept: a 1 MiB request would
 * otherwise mmap, fault in and unmap two fresh megabytes every time (glibc
 * serves such sizes with mmap), which halved write throughput. Freed when
 * the worker thread exits.
 */
enum { BUF_CIPHER, BUF_PLAIN, BUF_COUNT };

struct tbufs {
	uint8_t *p[BUF_COUNT];
	size_t cap[BUF_COUNT];
	/* the thread's GCM contexts and the key they hold: re-keyed only
	 * when the thread moves to another file (thread_aead); slot 1
	 * holds a volume's master key (headers) */
	struct crypt_aead a[2];
	uint8_t akey[2][CRYPT_KEY_LEN];
	bool akey_ok[2];
};

static pthread_key_t tbuf_key;
static pthread_once_t tbuf_once = PTHREAD_ONCE_INIT;

static void tbuf_free(void *arg)
{
	struct tbufs *t = arg;

	for (int i = 0; i < BUF_COUNT; i++) {
		if (i == BUF_PLAIN && t->p[i])
			crypt_wipe(t->p[i], t->cap[i]);
		free(t->p[i]);
	}
	for (int i = 0; i < 2; i++)
		crypt_aead_free(&t->a[i]);	/* cleanses */
	crypt_wipe(t->akey, sizeof(t->akey));
	free(t);
}

static void tbuf_init(void)
{
	pthread_key_create(&tbuf_key, tbuf_free);
}

static struct tbufs *tls(void)
{
	struct tbufs *t;

	pthread_once(&tbuf_once, tbuf_init);
	t = pthread_getspecific(tbuf_key);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || pthread_setspecific(tbuf_key, t)) {
			free(t);
			return NULL;
		}
	}
	return t;
}

/*
 * The calling thread's GCM contexts keyed with @key. Creating contexts
 * and computing a key schedule for every request cost more than
 * decrypting a 4 KiB block; a thread keeps its contexts and re-keys them
 * only when it serves another file. NULL on failure.
 */
static struct crypt_aead *thread_aead_slot(int slot,
					   const uint8_t key[CRYPT_KEY_LEN])
{
	struct tbufs *t = tls();

	if (!t)
		return NULL;
	if (!t->akey_ok[slot] || memcmp(t->akey[slot], key, CRYPT_KEY_LEN)) {
		t->akey_ok[slot] = false;
		if (crypt_aead_rekey(&t->a[slot], key))
			return NULL;
		memcpy(t->akey[slot], key, CRYPT_KEY_LEN);
		t->akey_ok[slot] = true;
	}
	return &t->a[slot];
}

static struct crypt_aead *thread_aead(const uint8_t key[CRYPT_KEY_LEN])
{
	return thread_aead_slot(0, key);
}

/* The master key's contexts: every new or first-read file's header. */
static struct crypt_aead *master_aead(const struct crypt_op *op)
{
	return thread_aead_slot(1, op->vol->master);
}

static uint8_t *tbuf(int which, size_t size)
{
	struct tbufs *t = tls();

	if (!t)
		return NULL;
	if (t->cap[which] < size) {
		uint8_t *n = malloc(size);

		if (!n)
			return NULL;
		if (which == BUF_PLAIN && t->p[which])
			crypt_wipe(t->p[which], t->cap[which]);
		free(t->p[which]);
		t->p[which] = n;
		t->cap[which] = size;
	}
	return t->p[which];
}

int crypt_lower_stat(struct crypt_op *op, struct stat *st)
{
	return flt_query_information(op->inst, op->file.ino, st);
}

static void log_bad_block(struct crypt_op *op, uint64_t block)
{
	char name[sizeof(op->node->name)];

	pthread_mutex_lock(&op->node->key_mu);
	memcpy(name, op->node->name, sizeof(name));
	pthread_mutex_unlock(&op->node->key_mu);
	flt_log(LOG_ERR, "crypt: file '%s' (node %" PRIu64 "): block %" PRIu64
		" (plaintext offset %" PRIu64 ") fails authentication: "
		"corrupt or tampered, reads of it return EIO",
		name[0] ? name : "?", op->file.ino, block,
		block * (uint64_t)CRYPT_BLOCK);
}

static int read_full(struct crypt_op *op, uint64_t off, size_t size,
		     void *buf, size_t *got)
{
	size_t done = 0, n;
	int ret;

	while (done < size) {
		ret = flt_read_file(op->inst, &op->file, (off_t)(off + done),
				    size - done, (char *)buf + done, &n);
		if (ret)
			return ret;
		if (!n)
			break;
		done += n;
	}
	*got = done;
	return 0;
}

static int write_full(struct crypt_op *op, uint64_t off, size_t size,
		      const void *buf)
{
	size_t done = 0, n;
	int ret;

	while (done < size) {
		ret = flt_write_file(op->inst, &op->file, (off_t)(off + done),
				     size - done, (const char *)buf + done, &n);
		if (ret)
			return ret;
		if (!n)
			return -EIO;
		done += n;
	}
	return 0;
}

/* Make sure the node has the file key. @lower_size 0: the file has no
 * header yet; with @create, write a new one (caller holds lock excl). */
static int node_key_hdr(struct crypt_op *op, uint64_t lower_size,
			bool create, const uint8_t *hdr_in, size_t hdr_len,
			struct crypt_fkey *fk);

static int node_key(struct crypt_op *op, uint64_t lower_size, bool create,
		    struct crypt_fkey *fk)
{
	return node_key_hdr(op, lower_size, create, NULL, 0, fk);
}

static bool node_has_key(struct crypt_node *n)
{
	bool have;

	pthread_mutex_lock(&n->key_mu);
	have = n->have_key;
	pthread_mutex_unlock(&n->key_mu);
	return have;
}

/* node_key, with the header's bytes already read (@hdr_in, @hdr_len) or
 * read here (@hdr_in NULL). */
static int node_key_hdr(struct crypt_op *op, uint64_t lower_size,
			bool create, const uint8_t *hdr_in, size_t hdr_len,
			struct crypt_fkey *fk)
{
	struct crypt_node *n = op->node;
	uint8_t hdr[CRYPT_HDR_SIZE];
	size_t got;
	int ret = 0;

	pthread_mutex_lock(&n->key_mu);
	if (lower_size < CRYPT_HDR_SIZE && create) {
		/* no header (or a torn one: then no block was ever
		 * written after it): start the file afresh */
		struct crypt_aead *ma = master_aead(op);

		ret = ma ? crypt_header_new_aead(ma, &n->fk, hdr) : -EIO;
		if (!ret)
			ret = write_full(op, 0, sizeof(hdr), hdr);
		n->have_key = !ret;
	} else if (!n->have_key) {
		if (hdr_in) {
			memcpy(hdr, hdr_in, hdr_len);
			got = hdr_len;
		} else {
			ret = read_full(op, 0, sizeof(hdr), hdr, &got);
		}
		if (!ret) {
			struct crypt_aead *ma = master_aead(op);

			ret = ma ? crypt_header_open_aead(ma, hdr, got, &n->fk)
				 : -EIO;
		}
		if (ret) {
			flt_log(LOG_ERR, "crypt: file '%s' (node %" PRIu64
				"): %s: reads and writes return EIO",
				n->name[0] ? n->name : "?", op->file.ino,
				ret == -EINVAL ? "no crypt header (a plaintext "
						 "file? see fsfilter crypt "
						 "migrate)"
				: ret == -EPROTONOSUPPORT ? "unsupported format"
				: "header fails authentication (corrupt, or "
				  "another volume's key)");
			ret = -EIO;
		}
		n->have_key = !ret;
	}
	if (!ret)
		*fk = n->fk;
	pthread_mutex_unlock(&n->key_mu);
	return ret;
}

/* One read request's decryption, shared by the threads doing its blocks. */
struct rd_job {
	struct crypt_op *op;
	const struct crypt_fkey *fk;
	uint64_t b0;		/* first block */
	const uint8_t *cbuf;	/* stored blocks from b0 */
	size_t got;		/* stored bytes in cbuf */
	size_t skip0;		/* plaintext bytes of block b0 not wanted */
	size_t size;		/* bytes wanted */
	uint8_t *buf;		/* where they go */
};

/* Decrypt blocks [i0, i1) of the job: a whole block straight into the
 * caller's buffer, the partial first or last one through a bounce. */
static int rd_chunk(void *arg, size_t i0, size_t i1)
{
	struct rd_job *j = arg;
	struct crypt_aead *a = thread_aead(j->fk->key);
	uint8_t tmp[CRYPT_BLOCK];
	int ret = 0;

	if (!a)
		return -EIO;
	for (size_t i = i0; i < i1; i++) {
		size_t stored = j->got - i * CRYPT_CBLOCK;
		size_t skip = i ? 0 : j->skip0;
		size_t pos = i ? i * CRYPT_BLOCK - j->skip0 : 0;
		size_t plen, take;
		uint8_t *dst;

		if (stored > CRYPT_CBLOCK)
			stored = CRYPT_CBLOCK;
		plen = stored - CRYPT_OVERHEAD;
		take = plen - skip;
		if (take > j->size - pos)
			take = j->size - pos;
		dst = !skip && take == plen ? j->buf + pos : tmp;
		if (crypt_block_open(a, j->fk->file_id, j->b0 + i,
				     j->cbuf + i * CRYPT_CBLOCK, stored,
				     dst) != (int)plen) {
			log_bad_block(j->op, j->b0 + i);
			ret = -EIO;
			continue;
		}
		if (dst == tmp)
			memcpy(j->buf + pos, tmp + skip, take);
	}
	crypt_wipe(tmp, sizeof(tmp));
	return ret;
}

static int do_read(struct crypt_op *op, uint64_t off, size_t size, void *buf,
		   size_t *done)
{
	uint64_t b0 = crypt_block_of(off), b1, nb, lo;
	size_t got, out = 0, n = 0, hdr = 0;
	struct crypt_fkey fk;
	struct rd_job j;
	uint8_t *cbuf;
	int ret;

	*done = 0;
	if (!size)
		return 0;
	b1 = crypt_block_of(off + size - 1);
	nb = b1 - b0 + 1;
	/* the first read of a file also needs its header: when the request
	 * starts at block 0, one lower read brings both */
	if (b0 == 0 && !node_has_key(op->node))
		hdr = CRYPT_HDR_SIZE;
	cbuf = tbuf(BUF_CIPHER, hdr + nb * CRYPT_CBLOCK);
	if (!cbuf)
		return -ENOMEM;
	lo = crypt_block_lower_off(b0) - hdr;
	ret = read_full(op, lo, hdr + nb * CRYPT_CBLOCK, cbuf, &got);
	if (ret)
		return ret;
	if (got < hdr)
		return 0;	/* empty (or a torn header): nothing to read */
	got -= hdr;
	if (got <= CRYPT_OVERHEAD)
		return 0;	/* at/after the end */
	ret = hdr ? node_key_hdr(op, 0, false, cbuf, hdr, &fk)
		  : node_key(op, 0, false, &fk);
	if (ret)
		return ret;
	/* which blocks, and how many bytes they give */
	j = (struct rd_job){ .op = op, .fk = &fk, .b0 = b0, .cbuf = cbuf + hdr,
			     .got = got, .skip0 = off % CRYPT_BLOCK,
			     .size = size, .buf = buf };
	for (uint64_t i = 0; i < nb && out < size; i++) {
		size_t stored, plen, skip = i ? 0 : j.skip0, take;

		if (i * CRYPT_CBLOCK >= got)
			break;
		stored = got - i * CRYPT_CBLOCK;
		if (stored > CRYPT_CBLOCK)
			stored = CRYPT_CBLOCK;
		if (stored <= CRYPT_OVERHEAD)
			break;	/* torn trailing bytes: not part of the file */
		plen = stored - CRYPT_OVERHEAD;
		if (plen <= skip)
			break;
		take = plen - skip;
		if (take > size - out)
			take = size - out;
		out += take;
		n++;
		if (plen < CRYPT_BLOCK)
			break;
	}
	/* 16 blocks (64 KiB) a chunk at least: below that, handing work
	 * to another thread costs more than it saves */
	ret = crypt_par_run(rd_chunk, &j, n, 16);
	if (!ret)
		*done = out;
	crypt_wipe(&fk, sizeof(fk));
	return ret;
}

int crypt_do_read(struct crypt_op *op, uint64_t off, size_t size, void *buf,
		  size_t *done)
{
	int ret;

	crypt_par_enter();
	ret = do_read(op, off, size, buf, done);
	crypt_par_leave();
	return ret;
}

/* Read and decrypt block @b, whose plaintext is @len bytes (1..4096), into
 * @plain. */
static int load_block(struct crypt_op *op, struct crypt_aead *a,
		      const struct crypt_fkey *fk, uint64_t b, size_t len,
		      uint8_t *plain)
{
	uint8_t cb[CRYPT_CBLOCK];
	size_t got;
	int ret;

	ret = read_full(op, crypt_block_lower_off(b), len + CRYPT_OVERHEAD, cb,
			&got);
	if (ret)
		return ret;
	if (got != len + CRYPT_OVERHEAD ||
	    crypt_block_open(a, fk->file_id, b, cb, got, plain) != (int)len) {
		log_bad_block(op, b);
		return -EIO;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Re-encrypt block @b from @old_len to @new_len plaintext bytes (zero
 * extended or cut). A hole (stored bytes all zero: never written) stays
 * one: the caller's change of the lower size makes it the new length of
 * zeros, which reads as zeros and keeps SEEK_HOLE's answer. */
static int resize_block(struct crypt_op *op, struct crypt_aead *a,
			const struct crypt_fkey *fk, uint64_t b, size_t old_len,
			size_t new_len)
{
	uint8_t plain[CRYPT_BLOCK] = { 0 }, cb[CRYPT_CBLOCK];
	size_t got;
	int ret;

	ret = read_full(op, crypt_block_lower_off(b), old_len + CRYPT_OVERHEAD,
			cb, &got);
	if (ret)
		return ret;
	if (got == old_len + CRYPT_OVERHEAD && all_zero(cb, got))
		return 0;
	if (got != old_len + CRYPT_OVERHEAD ||
	    crypt_block_open(a, fk->file_id, b, cb, got, plain) !=
		    (int)old_len) {
		log_bad_block(op, b);
		ret = -EIO;
	}
	if (!ret)
		ret = crypt_block_seal(a, fk->file_id, b, plain, new_len, NULL, cb);
	if (!ret)
		ret = write_full(op, crypt_block_lower_off(b),
				 new_len + CRYPT_OVERHEAD, cb);
	crypt_wipe(plain, sizeof(plain));
	return ret;
}

static size_t min_sz(uint64_t a, uint64_t b)
{
	return (size_t)(a < b ? a : b);
}

/* Plaintext bytes of block @b in a file of @size bytes. */
static size_t block_len(uint64_t b, uint64_t size)
{
	uint64_t start = b * CRYPT_BLOCK;

	return size <= start ? 0 : min_sz(size - start, CRYPT_BLOCK);
}

/* One write request's encryption, shared by the threads doing its blocks:
 * block i's plaintext is src[i] (nlen[i] bytes: the caller's buffer for a
 * block the write covers whole, else a merged copy), sealed with nonce
 * nonces + 12 i into cbuf + 4124 i (only the last block may be short). */
struct wr_job {
	const struct crypt_fkey *fk;
	uint64_t b0;
	const uint8_t **src;
	const size_t *nlen;
	const uint8_t *nonces;
	uint8_t *cbuf;
};

static int wr_chunk(void *arg, size_t i0, size_t i1)
{
	struct wr_job *j = arg;
	struct crypt_aead *a = thread_aead(j->fk->key);

	if (!a)
		return -EIO;
	for (size_t i = i0; i < i1; i++) {
		int ret = crypt_block_seal(a, j->fk->file_id, j->b0 + i,
					   j->src[i], j->nlen[i],
					   j->nonces + i * CRYPT_NONCE_LEN,
					   j->cbuf + i * CRYPT_CBLOCK);

		if (ret)
			return ret;
	}
	return 0;
}

/* Largest request: FE_MAX_IO (1 MiB), unaligned: 257 blocks. Larger
 * writes (not from FUSE) go in pieces. */
#define WR_MAX_BLOCKS 260u

static int write_piece(struct crypt_op *op, const struct crypt_fkey *fk,
		       struct crypt_aead *a, uint64_t osize, uint64_t off,
		       size_t size, const uint8_t *buf)
{
	uint64_t end = off + size, b0, nb;
	const uint8_t *src[WR_MAX_BLOCKS];
	size_t nlen[WR_MAX_BLOCKS], in = 0, cpos = 0;
	uint8_t *pbuf, *cbuf, *nonces;
	struct wr_job j;
	int ret;

	b0 = crypt_block_of(off);
	nb = crypt_block_of(end - 1) - b0 + 1;
	pbuf = tbuf(BUF_PLAIN, 2 * CRYPT_BLOCK);
	cbuf = tbuf(BUF_CIPHER, nb * (CRYPT_CBLOCK + CRYPT_NONCE_LEN));
	if (!pbuf || !cbuf)
		return -ENOMEM;
	nonces = cbuf + nb * CRYPT_CBLOCK;
	/* one draw for every nonce of the request */
	ret = crypt_random(nonces, nb * CRYPT_NONCE_LEN);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < nb; i++) {
		uint64_t b = b0 + i, bstart = b * CRYPT_BLOCK;
		size_t olen = block_len(b, osize);
		size_t from = off > bstart ? (size_t)(off - bstart) : 0;
		size_t to = min_sz(end - bstart, CRYPT_BLOCK);
		uint8_t *p;

		nlen[i] = olen > to ? olen : to;
		cpos += nlen[i] + CRYPT_OVERHEAD;
		if (!from && to == nlen[i]) {
			/* covered whole: sealed straight from the caller */
			src[i] = buf + in;
			in += to;
			continue;
		}
		/* a partial first or last block: old data (read-modify-
		 * write) or zeros around the written bytes */
		p = pbuf + (i ? CRYPT_BLOCK : 0);
		memset(p, 0, CRYPT_BLOCK);
		if (olen && (from > 0 || to < olen)) {
			ret = load_block(op, a, fk, b, olen, p);
			if (ret)
				return ret;
		}
		memcpy(p + from, buf + in, to - from);
		in += to - from;
		src[i] = p;
	}
	j = (struct wr_job){ .fk = fk, .b0 = b0, .src = src, .nlen = nlen,
			     .nonces = nonces, .cbuf = cbuf };
	ret = crypt_par_run(wr_chunk, &j, nb, 16);
	if (!ret)
		ret = write_full(op, crypt_block_lower_off(b0), cpos, cbuf);
	return ret;
}

static int do_write(struct crypt_op *op, uint64_t off, size_t size,
		    const void *buf)
{
	const size_t piece = (WR_MAX_BLOCKS - 2) * (size_t)CRYPT_BLOCK;
	struct crypt_aead *a;
	struct crypt_fkey fk;
	uint64_t osize, bs;
	struct stat st;
	size_t done = 0;
	int ret;

	if (!size)
		return 0;
	ret = crypt_lower_stat(op, &st);
	if (ret)
		return ret;
	osize = crypt_plain_size((uint64_t)st.st_size);
	ret = node_key(op, (uint64_t)st.st_size, true, &fk);
	if (ret)
		return ret;
	a = thread_aead(fk.key);
	if (!a) {
		ret = -EIO;
		goto out;
	}
	/* A partial last block before the written range becomes a full one
	 * (the bytes up to the range are zeros: a hole). */
	bs = crypt_block_of(osize);
	if (osize % CRYPT_BLOCK && bs < crypt_block_of(off)) {
		ret = resize_block(op, a, &fk, bs, osize % CRYPT_BLOCK,
				   CRYPT_BLOCK);
		if (ret)
			goto out;
		osize = (bs + 1) * (uint64_t)CRYPT_BLOCK;
	}
	while (!ret && done < size) {
		size_t n = size - done < piece ? size - done : piece;

		ret = write_piece(op, &fk, a, osize, off + done, n,
				  (const uint8_t *)buf + done);
		done += n;
		if (off + done > osize)
			osize = off + done;
	}
out:
	crypt_wipe(&fk, sizeof(fk));
	/* pbuf (plaintext) is wiped when the thread's buffer is freed or
	 * grown; it holds only data the volume serves in clear anyway */
	return ret;
}

int crypt_do_write(struct crypt_op *op, uint64_t off, size_t size,
		   const void *buf)
{
	int ret;

	crypt_par_enter();
	ret = do_write(op, off, size, buf);
	crypt_par_leave();
	return ret;
}

static int lower_truncate(struct crypt_op *op, uint64_t lsize, bool has_fh)
{
	struct flt_callback_data *d;
	int ret;

	ret = flt_allocate_callback_data(op->inst, FLT_OP_SETATTR, &d);
	if (ret)
		return ret;
	d->ino = op->file.ino;
	d->params.setattr.attr.st_size = (off_t)lsize;
	d->params.setattr.to_set = FLT_SET_SIZE;
	if (has_fh) {
		d->params.setattr.to_set |= FLT_SET_HAS_FH;
		d->params.setattr.fh = op->file.fh;
	}
	ret = flt_perform_synchronous_io(d);
	flt_free_callback_data(d);
	return ret;
}

int crypt_do_truncate(struct crypt_op *op, uint64_t size, bool has_fh)
{
	struct crypt_aead a = { 0 };
	struct crypt_fkey fk;
	uint64_t osize;
	struct stat st;
	int ret;

	ret = crypt_lower_stat(op, &st);
	if (ret)
		return ret;
	osize = crypt_plain_size((uint64_t)st.st_size);
	if (!size) {
		/* an empty file has no header: the next write makes a new
		 * one, with a new file id and key */
		ret = lower_truncate(op, 0, has_fh);
		if (!ret) {
			pthread_mutex_lock(&op->node->key_mu);
			op->node->have_key = false;
			crypt_wipe(&op->node->fk, sizeof(op->node->fk));
			pthread_mutex_unlock(&op->node->key_mu);
		}
		return ret;
	}
	if (size == osize && (uint64_t)st.st_size == crypt_lower_size(size))
		return 0;
	ret = node_key(op, (uint64_t)st.st_size, true, &fk);
	if (ret)
		return ret;
	ret = crypt_aead_init(&a, fk.key);
	if (ret)
		goto out;
	if (size < osize && size % CRYPT_BLOCK) {
		/* cut the new last block: drop what follows it first, so a
		 * crash leaves at most that block unreadable */
		uint64_t b = crypt_block_of(size);

		ret = lower_truncate(op, crypt_block_lower_off(b) +
					 block_len(b, osize) + CRYPT_OVERHEAD,
				     has_fh);
		if (!ret)
			ret = resize_block(op, &a, &fk, b, block_len(b, osize),
					   size % CRYPT_BLOCK);
	} else if (size > osize && osize % CRYPT_BLOCK) {
		/* the old partial last block grows (zeros: a hole) */
		uint64_t b = crypt_block_of(osize);

		ret = resize_block(op, &a, &fk, b, osize % CRYPT_BLOCK,
				   block_len(b, size));
	}
	if (!ret)
		ret = lower_truncate(op, crypt_lower_size(size), has_fh);
out:
	crypt_aead_free(&a);
	crypt_wipe(&fk, sizeof(fk));
	return ret;
}

/* ---- holes --------------------------------------------------------------- */

static int lower_seek(struct crypt_op *op, uint64_t off, int whence,
		      uint64_t *res)
{
	struct flt_callback_data *d;
	int ret;

	ret = flt_allocate_callback_data(op->inst, FLT_OP_LSEEK, &d);
	if (ret)
		return ret;
	d->ino = op->file.ino;
	d->params.lseek.fh = op->file.fh;
	d->params.lseek.offset = (off_t)off;
	d->params.lseek.whence = whence;
	ret = flt_perform_synchronous_io(d);
	*res = (uint64_t)d->results.offset;
	flt_free_callback_data(d);
	return ret;
}

/* Stored range [*s, *e) of block @b in a file of @size plaintext bytes. */
static void stored_range(uint64_t b, uint64_t size, uint64_t *s, uint64_t *e)
{
	*s = crypt_block_lower_off(b);
	*e = *s + block_len(b, size) + CRYPT_OVERHEAD;
}

/* Block whose stored range holds lower offset @loff (the header: 0). */
static uint64_t block_at(uint64_t loff)
{
	return loff < CRYPT_HDR_SIZE ? 0
				     : (loff - CRYPT_HDR_SIZE) / CRYPT_CBLOCK;
}

/*
 * Is block @b a hole: does its stored range touch a lower hole, and are
 * all its stored bytes zero? Stored blocks (4124 bytes) straddle the lower
 * file system's blocks, so the edges of a run of never-written blocks sit
 * in lower blocks shared with written neighbours: those are read. A block
 * wholly inside lower data counts as data without a read (a single
 * never-written block between two written ones, or zeros a tool wrote).
 * 1: hole, 0: data; *@next: first block that may differ from @b's kind
 * when known (else @b + 1).
 */
static int block_is_hole(struct crypt_op *op, uint64_t b, uint64_t size,
			 uint64_t *next)
{
	uint8_t cb[CRYPT_CBLOCK];
	uint64_t s, e, d, h;
	size_t got;
	int ret;

	*next = b + 1;
	stored_range(b, size, &s, &e);
	ret = lower_seek(op, s, SEEK_DATA, &d);
	if (ret == -ENXIO || (!ret && d >= e)) {
		/* all hole up to d: so are the blocks before d's */
		if (ret == -ENXIO)
			*next = UINT64_MAX;
		else if (block_at(d) > b)
			*next = block_at(d);
		return 1;
	}
	if (ret)
		return ret;
	ret = lower_seek(op, s, SEEK_HOLE, &h);
	if (ret)
		return ret;
	if (h >= e) {
		/* all data up to h: so are the blocks before h's */
		if (block_at(h) > b)
			*next = block_at(h);
		return 0;
	}
	ret = read_full(op, s, (size_t)(e - s), cb, &got);
	if (ret)
		return ret;
	return all_zero(cb, got);
}

int crypt_do_seek(struct crypt_op *op, int whence, uint64_t off,
		  uint64_t size, uint64_t *res)
{
	bool want_hole = whence == SEEK_HOLE;
	uint64_t b, next, nblocks;
	int ret;

	if (off >= size)
		return -ENXIO;
	nblocks = (size + CRYPT_BLOCK - 1) / CRYPT_BLOCK;
	for (b = crypt_block_of(off); b < nblocks; b = next) {
		ret = block_is_hole(op, b, size, &next);
		if (ret < 0)
			return ret;
		if (ret == want_hole) {
			uint64_t at = b * (uint64_t)CRYPT_BLOCK;

			*res = at > off ? at : off;
			return 0;
		}
		if (next <= b)
			next = b + 1;
	}
	if (want_hole) {
		*res = size;	/* the end of the file is a hole */
		return 0;
	}
	return -ENXIO;
}
