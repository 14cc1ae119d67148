/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * redirtest: compare every read path of a redirected file in the volume
 * with its backing file.
 *   redirtest compare VOLFILE BACKING ITERATIONS SEED
 *     pread at random offsets and lengths (unaligned, zero-length,
 *     straddling and past EOF), read(2) streaming, mmap MAP_PRIVATE and
 *     MAP_SHARED, sendfile, copy_file_range out of the file.
 *   redirtest threads VOLFILE BACKING THREADS ITERATIONS
 *     THREADS threads mixing pread and mmap reads for ITERATIONS each.
 *   redirtest map shared|private FILE [WAITFILE]
 *     map FILE and print what the mapping reads; with WAITFILE, then
 *     read WAITFILE to its end (a fifo: wait for another process), drop
 *     the mapping's page table entries (MADV_DONTNEED: the next access
 *     faults again, from the page cache) and print the mapping again.
 * Exit 0 if every byte matched, 1 with a message otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *volpath, *backpath;
static off_t fsize;

#define FAIL(...) do { fprintf(stderr, "redirtest: " __VA_ARGS__); \
		       fputc('\n', stderr); exit(1); } while (0)

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static ssize_t pread_all(int fd, char *b, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, b + done, n - done, off + (off_t)done);

		if (r < 0)
			return -1;
		if (!r)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* A random (offset, length): mostly inside, some at the edges. */
static void pick(uint64_t *s, off_t *off, size_t *len, size_t maxlen)
{
	switch (rnd(s) % 8) {
	case 0: *off = fsize - (off_t)(rnd(s) % 5000); break;	/* EOF */
	case 1: *off = fsize + (off_t)(rnd(s) % 100000); break;	/* past */
	case 2: *off = (off_t)(rnd(s) % 4096); break;
	default: *off = fsize ? (off_t)(rnd(s) % (uint64_t)fsize) : 0;
	}
	if (*off < 0)
		*off = 0;
	*len = rnd(s) % 7 == 0 ? 0 : (size_t)(rnd(s) % maxlen);
}

static void check_pread(int vf, int bf, off_t off, size_t len, char *a,
			char *b)
{
	ssize_t x = pread_all(vf, a, len, off), y = pread_all(bf, b, len, off);

	if (x != y)
		FAIL("pread off=%jd len=%zu: volume %zd bytes, backing %zd",
		     (intmax_t)off, len, x, y);
	if (x > 0 && memcmp(a, b, (size_t)x))
		FAIL("pread off=%jd len=%zu: contents differ", (intmax_t)off,
		     len);
}

static void check_mmap(int vf, int bf, int flags, off_t off, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	off_t base = off - off % pg;
	size_t span;
	char *m, *b;
	ssize_t y;

	if (off >= fsize || !len)
		return;
	if ((off_t)len > fsize - off)
		len = (size_t)(fsize - off);
	span = (size_t)(off - base) + len;
	m = mmap(NULL, span, PROT_READ, flags, vf, base);
	if (m == MAP_FAILED)
		FAIL("mmap off=%jd: %s", (intmax_t)base, strerror(errno));
	b = malloc(len);
	y = pread_all(bf, b, len, off);
	if (y != (ssize_t)len || memcmp(m + (off - base), b, len))
		FAIL("mmap %s off=%jd len=%zu: contents differ",
		     flags == MAP_SHARED ? "shared" : "private",
		     (intmax_t)off, len);
	free(b);
	munmap(m, span);
}

static void check_sendfile(int vf, int bf, off_t off, size_t len)
{
	char tmpl[] = "/tmp/redirtest.XXXXXX";
	int t = mkstemp(tmpl);
	off_t o = off;
	ssize_t n;
	char *a, *b;

	if (t < 0)
		FAIL("mkstemp: %s", strerror(errno));
	unlink(tmpl);
	n = sendfile(t, vf, &o, len);
	if (n < 0)
		FAIL("sendfile off=%jd: %s", (intmax_t)off, strerror(errno));
	a = malloc(len + 1);
	b = malloc(len + 1);
	if (pread_all(t, a, (size_t)n, 0) != n ||
	    pread_all(bf, b, len, off) < n || memcmp(a, b, (size_t)n))
		FAIL("sendfile off=%jd len=%zu: contents differ", (intmax_t)off,
		     len);
	if (off < fsize && (off_t)n != (fsize - off < (off_t)len ?
					fsize - off : (off_t)len))
		FAIL("sendfile off=%jd len=%zu: short (%zd)", (intmax_t)off,
		     len, n);
	free(a);
	free(b);
	close(t);
}

/* copy_file_range into a file next to the volume file (same mount, so the
 * kernel's fallback copy runs) and into /tmp (another file system). */
static void check_cfr(int vf, int bf, const char *dst, off_t off, size_t len)
{
	int t = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0600);
	off_t o = off, done = 0;
	char *a, *b;

	if (t < 0)
		FAIL("open %s: %s", dst, strerror(errno));
	while ((size_t)done < len) {
		ssize_t n = copy_file_range(vf, &o, t, NULL, len - (size_t)done,
					    0);

		if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP ||
			      errno == ENOSYS))
			goto out;	/* the caller would copy itself */
		if (n < 0)
			FAIL("copy_file_range off=%jd: %s", (intmax_t)off,
			     strerror(errno));
		if (!n)
			break;
		done += n;
	}
	a = malloc(len + 1);
	b = malloc(len + 1);
	if (pread_all(t, a, (size_t)done, 0) != done ||
	    pread_all(bf, b, (size_t)done, off) != done ||
	    memcmp(a, b, (size_t)done))
		FAIL("copy_file_range off=%jd len=%zu: contents differ",
		     (intmax_t)off, len);
	if (off < fsize && done != (fsize - off < (off_t)len ? fsize - off
							     : (off_t)len))
		FAIL("copy_file_range off=%jd len=%zu: short (%jd)",
		     (intmax_t)off, len, (intmax_t)done);
	free(a);
	free(b);
out:
	close(t);
	unlink(dst);
}

static void open_both(int *vf, int *bf)
{
	struct stat vs, bs;

	*vf = open(volpath, O_RDONLY);
	*bf = open(backpath, O_RDONLY);
	if (*vf < 0 || *bf < 0)
		FAIL("open: %s", strerror(errno));
	if (fstat(*vf, &vs) || fstat(*bf, &bs))
		FAIL("fstat: %s", strerror(errno));
	if (vs.st_size != bs.st_size)
		FAIL("st_size: volume %jd, backing %jd", (intmax_t)vs.st_size,
		     (intmax_t)bs.st_size);
	fsize = bs.st_size;
}

static int cmd_compare(const char *cfrdst, long iters, uint64_t seed)
{
	size_t maxlen = 1 << 20;
	char *a = malloc(maxlen), *b = malloc(maxlen);
	int vf, bf;
	uint64_t s = seed | 1;

	open_both(&vf, &bf);
	/* streaming read(2) of the first 16 MiB */
	for (off_t off = 0; off < fsize && off < (16 << 20);) {
		ssize_t x = read(vf, a, 65536 + 17), y;

		if (x < 0)
			FAIL("read: %s", strerror(errno));
		y = pread_all(bf, b, (size_t)x, off);
		if (y != x || memcmp(a, b, (size_t)x))
			FAIL("read(2) at %jd differs", (intmax_t)off);
		if (!x)
			break;
		off += x;
	}
	for (long i = 0; i < iters; i++) {
		off_t off;
		size_t len;

		pick(&s, &off, &len, maxlen);
		check_pread(vf, bf, off, len, a, b);
		switch (i % 4) {
		case 0: check_mmap(vf, bf, MAP_PRIVATE, off, len); break;
		case 1: check_mmap(vf, bf, MAP_SHARED, off, len); break;
		case 2: check_sendfile(vf, bf, off, len % 300000); break;
		case 3: check_cfr(vf, bf, cfrdst, off, len % 300000); break;
		}
	}
	printf("compare: %ld iterations ok (size %jd)\n", iters,
	       (intmax_t)fsize);
	close(vf);
	close(bf);
	free(a);
	free(b);
	return 0;
}

struct tharg { long iters; uint64_t seed; };

static void *reader(void *p)
{
	struct tharg *t = p;
	size_t maxlen = 256 << 10;
	char *a = malloc(maxlen), *b = malloc(maxlen);
	uint64_t s = t->seed | 1;
	int vf, bf;

	vf = open(volpath, O_RDONLY);
	bf = open(backpath, O_RDONLY);
	if (vf < 0 || bf < 0)
		FAIL("thread open: %s", strerror(errno));
	for (long i = 0; i < t->iters; i++) {
		off_t off;
		size_t len;

		pick(&s, &off, &len, maxlen);
		if (i % 2)
			check_mmap(vf, bf, MAP_SHARED, off, len);
		else
			check_pread(vf, bf, off, len, a, b);
	}
	close(vf);
	close(bf);
	free(a);
	free(b);
	return NULL;
}

static int cmd_threads(int n, long iters)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	struct tharg *ta = calloc((size_t)n, sizeof(*ta));
	int vf, bf;

	open_both(&vf, &bf);
	close(vf);
	close(bf);
	for (int i = 0; i < n; i++) {
		ta[i] = (struct tharg){ iters, 0x9e3779b9u * (uint64_t)(i + 1) };
		if (pthread_create(&th[i], NULL, reader, &ta[i]))
			FAIL("pthread_create");
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("threads: %d x %ld ok\n", n, iters);
	free(th);
	free(ta);
	return 0;
}

/* Print the mapping's bytes (what a reader of the mapping sees). */
static void map_print(const char *p, size_t n)
{
	if (n && fwrite(p, 1, n, stdout) != n)
		FAIL("write: %s", strerror(errno));
	fflush(stdout);
}

static int cmd_map(const char *mode, const char *path, const char *wait)
{
	int shared = !strcmp(mode, "shared");
	struct stat st;
	char *p;
	int fd;

	if (!shared && strcmp(mode, "private"))
		FAIL("map: mode %s", mode);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		FAIL("%s: %s", path, strerror(errno));
	if (!st.st_size)
		return 0;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ,
		 shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		FAIL("mmap %s %s: %s", mode, path, strerror(errno));
	map_print(p, (size_t)st.st_size);
	if (wait) {
		char buf[256];
		int w = open(wait, O_RDONLY);

		if (w < 0)
			FAIL("%s: %s", wait, strerror(errno));
		while (read(w, buf, sizeof(buf)) > 0)
			;
		close(w);
		if (madvise(p, (size_t)st.st_size, MADV_DONTNEED))
			FAIL("madvise: %s", strerror(errno));
		map_print(p, (size_t)st.st_size);
	}
	munmap(p, (size_t)st.st_size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "map"))
		return cmd_map(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 7 && !strcmp(argv[1], "compare")) {
		volpath = argv[2];
		backpath = argv[3];
		return cmd_compare(argv[4], atol(argv[5]),
				   strtoull(argv[6], NULL, 0));
	}
	if (argc == 6 && !strcmp(argv[1], "threads")) {
		volpath = argv[2];
		backpath = argv[3];
		return cmd_threads(atoi(argv[4]), atol(argv[5]));
	}
	fprintf(stderr, "usage: redirtest compare VOLFILE BACKING CFRDST "
		"ITERATIONS SEED\n       redirtest threads VOLFILE BACKING "
		"THREADS ITERATIONS\n       redirtest map shared|private "
		"FILE [WAITFILE]\n");
	return 2;
}
