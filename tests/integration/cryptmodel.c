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

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "durable"))
		return durable(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "checkdurable"))
		return checkdurable(argv[2], (unsigned)atoi(argv[3]));
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
