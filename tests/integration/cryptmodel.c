/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Randomized data-integrity test for the crypt filter: random writes,
 * truncates (up and down), appends and reads on one file of the volume,
 * mirrored against a plain in-memory model; every read and periodically
 * the whole file and its size are compared.
 *
 *   cryptmodel model FILE SEED OPS [mmap]   one process, optional mmap I/O
 *   cryptmodel slots FILE ID NSLOTS         concurrent writer ID (0 or 1)
 *                                           writes slots i % 2 == ID
 *   cryptmodel checkslots FILE NSLOTS       after both: every slot intact
 *   cryptmodel durable FILE LOG             write+fsync chunks until killed
 *                                           or failing; LOG gets the count
 *                                           of chunks whose fsync returned
 *   cryptmodel checkdurable FILE N          chunks 0..N-1 read back intact
 *   cryptmodel holes FILE SEED OPS          sparse writes and truncates;
 *                                           SEEK_DATA / SEEK_HOLE against a
 *                                           model of never-written blocks
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXSIZE (3u << 20)	/* model bound: 3 MiB */
#define SLOT 1000u		/* not a multiple of the 4 KiB block */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what, long op)
{
	fprintf(stderr, "cryptmodel: op %ld: %s (errno %s)\n", op, what,
		strerror(errno));
	exit(1);
}

static size_t rlen(void)
{
	switch (rnd() % 4) {
	case 0: return 1 + rnd() % 16;
	case 1: return 1 + rnd() % 5000;
	case 2: return 4096 * (1 + rnd() % 4);
	default: return 1 + rnd() % 200000;
	}
}

static int model(const char *path, long ops, int use_mmap)
{
	uint8_t *m = calloc(1, MAXSIZE), *buf = malloc(MAXSIZE);
	size_t size = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int afd = open(path, O_WRONLY | O_APPEND);

	if (!m || !buf || fd < 0 || afd < 0)
		die("open", -1);
	for (long i = 0; i < ops; i++) {
		unsigned kind = (unsigned)(rnd() % 100);
		size_t off = rnd() % (size + 10000), len = rlen();
		struct stat st;

		if (off + len > MAXSIZE)
			len = off < MAXSIZE ? MAXSIZE - off : 0;
		if (!len)
			continue;
		if (kind < 40) {		/* write */
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd();
			if (use_mmap && off + len <= size && (rnd() & 1)) {
				size_t pg = off & ~(size_t)4095;
				uint8_t *p = mmap(NULL, off + len - pg,
						  PROT_READ | PROT_WRITE,
						  MAP_SHARED, fd, (off_t)pg);

				if (p == MAP_FAILED)
					die("mmap write", i);
				memcpy(p + (off - pg), buf, len);
				if (rnd() % 4 == 0 &&
				    msync(p, off + len - pg, MS_SYNC))
					die("msync", i);
				munmap(p, off + len - pg);
			} else if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
				die("pwrite", i);
			memcpy(m + off, buf, len);
			if (off + len > size)
				size = off + len;
		} else if (kind < 50) {		/* truncate */
			size_t ns = rnd() % (MAXSIZE / 2);

			if (rnd() & 1)
				ns = size ? rnd() % size : 0;
			if (ftruncate(fd, (off_t)ns))
				die("ftruncate", i);
			if (ns > size)
				memset(m + size, 0, ns - size);
			else
				memset(m + ns, 0, size - ns);
			size = ns;
		} else if (kind < 55) {		/* append */
			len = len % 9000 + 1;
			if (size + len > MAXSIZE)
				continue;
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd();
			if (write(afd, buf, len) != (ssize_t)len)
				die("append", i);
			memcpy(m + size, buf, len);
			size += len;
		} else if (kind < 95) {		/* read */
			ssize_t n;
			size_t want = off >= size ? 0
				      : (off + len > size ? size - off : len);

			if (use_mmap && want && (rnd() & 1)) {
				size_t pg = off & ~(size_t)4095;
				uint8_t *p = mmap(NULL, off + want - pg,
						  PROT_READ, MAP_SHARED, fd,
						  (off_t)pg);

				if (p == MAP_FAILED)
					die("mmap read", i);
				if (memcmp(p + (off - pg), m + off, want)) {
					fprintf(stderr, "op %ld: mmap read "
						"differs at %zu+%zu\n", i, off,
						want);
					exit(1);
				}
				munmap(p, off + want - pg);
				continue;
			}
			n = pread(fd, buf, len, (off_t)off);
			if (n != (ssize_t)want) {
				fprintf(stderr, "op %ld: pread %zu+%zu gave %zd,"
					" want %zu (size %zu)\n", i, off, len,
					n, want, size);
				exit(1);
			}
			if (memcmp(buf, m + off, want)) {
				for (size_t j = 0; j < want; j++)
					if (buf[j] != m[off + j]) {
						fprintf(stderr, "op %ld: read "
							"differs at %zu\n",
							i, off + j);
						break;
					}
				exit(1);
			}
		} else {			/* size + whole file */
			if (fstat(fd, &st))
				die("fstat", i);
			if ((size_t)st.st_size != size) {
				fprintf(stderr, "op %ld: size %jd, want %zu\n",
					i, (intmax_t)st.st_size, size);
				exit(1);
			}
			if (lseek(fd, 0, SEEK_END) != (off_t)size)
				die("lseek SEEK_END", i);
			if (size && pread(fd, buf, size, 0) != (ssize_t)size)
				die("pread all", i);
			if (memcmp(buf, m, size)) {
				fprintf(stderr, "op %ld: whole file differs\n", i);
				exit(1);
			}
		}
	}
	close(afd);
	close(fd);
	free(m);
	free(buf);
	return 0;
}

static void slot_data(uint8_t *p, unsigned slot)
{
	for (unsigned j = 0; j < SLOT; j++)
		p[j] = (uint8_t)(slot * 31 + j * 7 + 1);
}

static int slots(const char *path, unsigned id, unsigned n)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	uint8_t buf[SLOT];

	if (fd < 0)
		die("open", -1);
	for (unsigned round = 0; round < 3; round++)
		for (unsigned s = id; s < n; s += 2) {
			slot_data(buf, s);
			if (pwrite(fd, buf, SLOT, (off_t)s * SLOT) != SLOT)
				die("pwrite slot", s);
		}
	close(fd);
	return 0;
}

static int checkslots(const char *path, unsigned n)
{
	int fd = open(path, O_RDONLY);
	uint8_t buf[SLOT], want[SLOT];
	unsigned bad = 0;

	if (fd < 0)
		die("open", -1);
	for (unsigned s = 0; s < n; s++) {
		slot_data(want, s);
		if (pread(fd, buf, SLOT, (off_t)s * SLOT) != SLOT ||
		    memcmp(buf, want, SLOT))
			bad++;
	}
	close(fd);
	if (bad)
		fprintf(stderr, "cryptmodel: %u of %u slots lost or torn\n",
			bad, n);
	return bad ? 1 : 0;
}

#define CHUNK (100u * 1000u)	/* not block aligned */

static void chunk_data(uint8_t *p, unsigned c)
{
	for (unsigned j = 0; j < CHUNK; j++)
		p[j] = (uint8_t)(c * 131 + j * 3 + (j >> 9));
}

static int durable(const char *path, const char *log)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = malloc(CHUNK);
	FILE *lf = fopen(log, "w");

	if (fd < 0 || !buf || !lf)
		die("open", -1);
	for (unsigned c = 0;; c++) {
		chunk_data(buf, c);
		if (pwrite(fd, buf, CHUNK, (off_t)c * CHUNK) != CHUNK ||
		    fsync(fd))
			break;	/* the daemon is gone */
		fprintf(lf, "%u\n", c + 1);
		fflush(lf);
	}
	fclose(lf);
	close(fd);
	free(buf);
	return 0;
}

static int checkdurable(const char *path, unsigned n)
{
	uint8_t *buf = malloc(CHUNK), *want = malloc(CHUNK);
	int fd = open(path, O_RDONLY), bad = 0;

	if (fd < 0 || !buf || !want)
		die("open", -1);
	for (unsigned c = 0; c < n; c++) {
		chunk_data(want, c);
		if (pread(fd, buf, CHUNK, (off_t)c * CHUNK) != CHUNK ||
		    memcmp(buf, want, CHUNK)) {
			fprintf(stderr, "cryptmodel: fsync'ed chunk %u of %u "
				"lost or corrupt (%s)\n", c, n, strerror(errno));
			bad = 1;
			break;
		}
	}
	close(fd);
	free(buf);
	free(want);
	return bad;
}

/*
 * The holes model: which 4 KiB blocks were ever written (since they were
 * last cut off). A written block must be data; a never-written block in a
 * run of at least two must be a hole; a lone never-written block between
 * written ones may be either (its stored bytes share the lower file
 * system's blocks with its neighbours: docs/crypt-format.md, "Holes").
 */
#define HBLK 4096u
#define HMAX (MAXSIZE / HBLK)

enum { H_ANY, H_DATA, H_HOLE };

static int hole_rule(const uint8_t *w, size_t nb, size_t b)
{
	if (w[b])
		return H_DATA;
	if ((b > 0 && !w[b - 1]) || (b + 1 < nb && !w[b + 1]))
		return H_HOLE;
	return H_ANY;
}

static off_t seek_or(int fd, off_t off, int whence, off_t size, long op)
{
	off_t r = lseek(fd, off, whence);

	if (r < 0 && errno == ENXIO)
		return whence == SEEK_DATA ? size : -1;
	if (r < 0)
		die("lseek", op);
	return r;
}

static void check_holes(int fd, const uint8_t *w, const uint8_t *m,
			uint8_t *buf, size_t size, long op)
{
	size_t nb = (size + HBLK - 1) / HBLK;
	uint8_t kind[HMAX];
	off_t pos = 0;

	if (size == 0)
		return;
	/* the map, walked the way cp does it */
	while ((size_t)pos < size) {
		off_t d = seek_or(fd, pos, SEEK_DATA, (off_t)size, op), h;

		if (d < pos || (size_t)d > size || ((size_t)d < size && d % HBLK &&
						    d != pos))
			die("SEEK_DATA answer out of place", op);
		for (off_t b = pos / HBLK; b * HBLK < d; b++)
			kind[b] = H_HOLE;
		if ((size_t)d >= size)
			break;
		h = seek_or(fd, d, SEEK_HOLE, (off_t)size, op);
		if (h <= d || (size_t)h > size || ((size_t)h < size && h % HBLK))
			die("SEEK_HOLE answer out of place", op);
		for (off_t b = d / HBLK; b * HBLK < h; b++)
			kind[b] = H_DATA;
		pos = h;
	}
	for (size_t b = 0; b < nb; b++) {
		int rule = hole_rule(w, nb, b);

		if (rule != H_ANY && rule != kind[b]) {
			fprintf(stderr, "cryptmodel: op %ld: block %zu of %zu "
				"reported %s, model says %s\n", op, b, nb,
				kind[b] == H_HOLE ? "hole" : "data",
				rule == H_HOLE ? "hole" : "data");
			exit(1);
		}
	}
	/* random starting points agree with the map */
	for (int i = 0; i < 8; i++) {
		off_t off = (off_t)(rnd() % size), d, h, want;

		d = seek_or(fd, off, SEEK_DATA, (off_t)size, op);
		for (want = off; (size_t)want < size && kind[want / HBLK] != H_DATA;
		     want = (want / HBLK + 1) * HBLK)
			;
		if ((size_t)want > size)
			want = (off_t)size;
		if (d != want)
			die("SEEK_DATA from a random offset", op);
		h = seek_or(fd, off, SEEK_HOLE, (off_t)size, op);
		for (want = off; (size_t)want < size && kind[want / HBLK] != H_HOLE;
		     want = (want / HBLK + 1) * HBLK)
			;
		if ((size_t)want > size)
			want = (off_t)size;
		if (h != want)
			die("SEEK_HOLE from a random offset", op);
	}
	if (pread(fd, buf, size, 0) != (ssize_t)size || memcmp(buf, m, size))
		die("holes: contents differ from the model", op);
}

static int holes(const char *path, long ops)
{
	uint8_t *m = calloc(1, MAXSIZE), *buf = malloc(MAXSIZE);
	uint8_t w[HMAX] = { 0 };
	size_t size = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || !m || !buf)
		die("open", -1);
	for (long i = 0; i < ops; i++) {
		unsigned r = (unsigned)(rnd() % 10);

		if (r < 6) {
			size_t len = rnd() % 3 ? 1 + rnd() % 6000
					       : HBLK * (1 + rnd() % 3);
			size_t off = (size_t)(rnd() % (MAXSIZE - len));

			if (rnd() % 2)	/* block aligned, often */
				off -= off % HBLK;
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd();
			if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
				die("pwrite", i);
			memcpy(m + off, buf, len);
			for (size_t b = off / HBLK; b * HBLK < off + len; b++)
				w[b] = 1;
			if (off + len > size)
				size = off + len;
		} else if (r < 9) {
			size_t ns = (size_t)(rnd() % MAXSIZE);

			if (ftruncate(fd, (off_t)ns))
				die("ftruncate", i);
			if (ns < size) {
				memset(m + ns, 0, size - ns);
				for (size_t b = (ns + HBLK - 1) / HBLK; b < HMAX; b++)
					w[b] = 0;
			}
			size = ns;
		} else {
			check_holes(fd, w, m, buf, size, i);
		}
	}
	check_holes(fd, w, m, buf, size, ops);
	close(fd);
	free(m);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "durable"))
		return durable(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "checkdurable"))
		return checkdurable(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "holes")) {
		rng = strtoull(argv[3], NULL, 0) * 2654435761u + 88172645463325252ull;
		return holes(argv[2], atol(argv[4]));
	}
	if (argc >= 5 && !strcmp(argv[1], "model")) {
		rng = strtoull(argv[3], NULL, 0) * 2654435761u + 88172645463325252ull;
		return model(argv[2], atol(argv[4]),
			     argc > 5 && !strcmp(argv[5], "mmap"));
	}
	if (argc == 5 && !strcmp(argv[1], "slots"))
		return slots(argv[2], (unsigned)atoi(argv[3]),
			     (unsigned)atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "checkslots"))
		return checkslots(argv[2], (unsigned)atoi(argv[3]));
	fprintf(stderr, "usage: see the comment at the top of cryptmodel.c\n");
	return 2;
}
