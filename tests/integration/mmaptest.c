// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmaptest: shared mappings on a volume.
 *
 *   mmaptest write DIR    write files through mmap (and read one via mmap)
 *   mmaptest verify DIR   check with read(2) what the mappings wrote
 *
 * `write` runs on a mounted volume; the harness unmounts and remounts it (so
 * nothing can come from the kernel's page cache of the old mount) and runs
 * `verify`, then runs `verify` on the lower directory itself.
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

#define MSIZE (3 * 4096 + 100)		/* not a multiple of the page size */
#define BIGSIZE (8 * 1024 * 1024 + 7)	/* several readahead windows */

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "mmaptest: FAIL %s:%d: ", __FILE__,    \
				__LINE__);                                     \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, " (errno %d %s)\n", errno,              \
				strerror(errno));                              \
			failures++;                                            \
		}                                                              \
	} while (0)

static unsigned char pat(size_t i, unsigned seed)
{
	uint32_t x = (uint32_t)i * 2654435761u ^ seed * 40503u;

	return (unsigned char)(x ^ (x >> 13) ^ (x >> 24));
}

static char *path(const char *dir, const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* read(2) the whole file and compare with the pattern */
static void verify_file(const char *p, size_t size, unsigned seed)
{
	unsigned char *buf = malloc(size + 1);
	size_t got = 0;
	ssize_t n;
	int fd = open(p, O_RDONLY);

	CHECK(fd >= 0, "open %s", p);
	if (fd < 0)
		goto out;
	while ((n = read(fd, buf + got, size + 1 - got)) > 0)
		got += (size_t)n;
	CHECK(n == 0, "read %s", p);
	CHECK(got == size, "%s: %zu bytes, expected %zu", p, got, size);
	for (size_t i = 0; i < got && i < size; i++)
		if (buf[i] != pat(i, seed)) {
			CHECK(0, "%s: byte %zu is 0x%02x, expected 0x%02x", p, i,
			      buf[i], pat(i, seed));
			break;
		}
	close(fd);
out:
	free(buf);
}

static void do_write(const char *dir)
{
	unsigned char *m;
	int fd;

	/* 1. a new file, sized with ftruncate, filled through MAP_SHARED */
	fd = open(path(dir, "mapped"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fd >= 0, "create mapped");
	CHECK(ftruncate(fd, MSIZE) == 0, "ftruncate mapped");
	m = mmap(NULL, MSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap mapped");
	if (m != MAP_FAILED) {
		for (size_t i = 0; i < MSIZE; i++)
			m[i] = pat(i, 1);
		CHECK(msync(m, MSIZE, MS_SYNC) == 0, "msync mapped");
		/* coherence on the same mount: read(2) sees the mapping's data */
		{
			unsigned char b[200];

			CHECK(pread(fd, b, sizeof(b), 4000) == sizeof(b), "pread mapped");
			for (size_t i = 0; i < sizeof(b); i++)
				if (b[i] != pat(4000 + i, 1)) {
					CHECK(0, "pread after msync: byte %zu differs", 4000 + i);
					break;
				}
		}
		CHECK(munmap(m, MSIZE) == 0, "munmap mapped");
	}
	close(fd);

	/* 2. overwrite part of an existing file through a mapping at an offset,
	 * and leave it to munmap+close (no msync) to write back */
	fd = open(path(dir, "partial"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fd >= 0, "create partial");
	{
		unsigned char *b = malloc(5 * 4096);

		for (size_t i = 0; i < 5 * 4096; i++)
			b[i] = pat(i, 2);
		CHECK(write(fd, b, 5 * 4096) == 5 * 4096, "write partial");
		free(b);
	}
	m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * 4096);
	CHECK(m != MAP_FAILED, "mmap partial at 8192");
	if (m != MAP_FAILED) {
		for (size_t i = 0; i < 2 * 4096; i++) {
			if (m[i] != pat(2 * 4096 + i, 2)) {
				CHECK(0, "mapping of written data, byte %zu", i);
				break;
			}
			m[i] = pat(2 * 4096 + i, 3);
		}
		CHECK(munmap(m, 2 * 4096) == 0, "munmap partial");
	}
	CHECK(fsync(fd) == 0, "fsync partial");
	close(fd);

	/* 3. a MAP_PRIVATE write must not reach the file */
	fd = open(path(dir, "private"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	{
		unsigned char b[4096];

		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = pat(i, 4);
		CHECK(write(fd, b, sizeof(b)) == sizeof(b), "write private");
	}
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED, "mmap private");
	if (m != MAP_FAILED) {
		memset(m, 0xAA, 4096);
		CHECK(msync(m, 4096, MS_SYNC) == 0, "msync private");
		munmap(m, 4096);
	}
	close(fd);

	/* 4. read a large file written by write(2) through a read-only mapping,
	 * including the zero tail of the last page */
	fd = open(path(dir, "big"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	{
		unsigned char *b = malloc(BIGSIZE);

		for (size_t i = 0; i < BIGSIZE; i++)
			b[i] = pat(i, 5);
		CHECK(write(fd, b, BIGSIZE) == BIGSIZE, "write big");
		free(b);
	}
	close(fd);
	fd = open(path(dir, "big"), O_RDONLY);
	m = mmap(NULL, BIGSIZE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap big");
	if (m != MAP_FAILED) {
		size_t bad = SIZE_MAX;
		size_t pagetail = (BIGSIZE + 4095) / 4096 * 4096;

		/* backwards, so readahead does not simply stream it */
		for (size_t i = BIGSIZE; i-- > 0;)
			if (m[i] != pat(i, 5))
				bad = i;
		CHECK(bad == SIZE_MAX, "mmap read of big: byte %zu differs", bad);
		for (size_t i = BIGSIZE; i < pagetail; i++)
			if (m[i] != 0) {
				CHECK(0, "byte %zu past EOF in the last page is not 0", i);
				break;
			}
		munmap(m, BIGSIZE);
	}
	close(fd);
}

static void do_verify(const char *dir)
{
	unsigned char *b;
	int fd;
	ssize_t n;

	verify_file(path(dir, "mapped"), MSIZE, 1);

	fd = open(path(dir, "partial"), O_RDONLY);
	CHECK(fd >= 0, "open partial");
	b = malloc(5 * 4096 + 1);
	n = read(fd, b, 5 * 4096 + 1);
	CHECK(n == 5 * 4096, "partial: read %zd bytes", n);
	for (ssize_t i = 0; i < n; i++) {
		unsigned seed = i >= 2 * 4096 && i < 4 * 4096 ? 3 : 2;

		if (b[i] != pat((size_t)i, seed)) {
			CHECK(0, "partial: byte %zd is 0x%02x, expected 0x%02x", i, b[i],
			      pat((size_t)i, seed));
			break;
		}
	}
	free(b);
	close(fd);

	verify_file(path(dir, "private"), 4096, 4);
	verify_file(path(dir, "big"), BIGSIZE, 5);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "verify"))) {
		fprintf(stderr, "usage: mmaptest write|verify DIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "write"))
		do_write(argv[2]);
	else
		do_verify(argv[2]);
	if (failures)
		fprintf(stderr, "mmaptest %s %s: %d failures\n", argv[1], argv[2], failures);
	return failures ? 1 : 0;
}
