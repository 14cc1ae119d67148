// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * opcompare: differential test of a volume against the native file system.
 *
 *   opcompare [--user] NATIVE_DIR VOLUME_DIR
 *
 * Runs one fixed script of file system operations twice, once with NATIVE_DIR
 * (a plain directory) as the working directory and once with VOLUME_DIR (an
 * fsfilter mount over an empty lower directory). Every step records its return
 * value, errno and, where it is a stat, the attributes that must not depend on
 * the file system instance (mode, nlink, uid, gid, size, blocks, rdev), plus
 * booleans for relations (same inode, time changed). The two recordings must be
 * identical; each difference is printed as
 *
 *   step 37 rename(a,b): native=0 volume=-1 EXDEV
 *
 * The native run defines the truth: nothing here encodes an expected value, so
 * the test cannot be made to pass by being wrong in the same way twice.
 *
 * --user: as root, prepare fixtures owned by root in a 1777 subdirectory "pub"
 * of both trees, then run the script as uid/gid 65534 (no supplementary
 * groups) inside pub, adding the permission-denial steps.
 *
 * Both trees must be on the same kind of file system (the test harness puts
 * both under one temp dir) so that block counts are comparable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#define MAXREC 4096
#define NOBODY 65534
#define GIB (1024LL * 1024 * 1024)

enum rec_kind { K_RET, K_STAT, K_VAL };

struct rec {
	char desc[120];
	enum rec_kind kind;
	long long ret;
	int err;
	/* K_STAT */
	unsigned mode, nlink, uid, gid;
	long long size, blocks;
	unsigned long long rdev;
	/* K_VAL */
	unsigned long long val;
};

struct recording {
	int n;
	int overflow;
	struct rec r[MAXREC];
};

static struct recording *cur;
static bool g_user;

/* ---- recording ------------------------------------------------------- */

static struct rec *rec_new(enum rec_kind kind, const char *fmt, va_list ap)
{
	struct rec *r;

	if (cur->n >= MAXREC) {
		cur->overflow = 1;
		return NULL;
	}
	r = &cur->r[cur->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	return r;
}

/* Record a call result. Non-negative results are kept as they are (byte
 * counts, offsets), except where the caller normalizes (fds). */
__attribute__((format(printf, 3, 4)))
static long long rec_ret(long long ret, int err, const char *fmt, ...)
{
	va_list ap;
	struct rec *r;

	va_start(ap, fmt);
	r = rec_new(K_RET, fmt, ap);
	va_end(ap);
	if (r) {
		r->ret = ret;
		r->err = ret < 0 ? err : 0;
	}
	return ret;
}

__attribute__((format(printf, 2, 3)))
static void rec_val(unsigned long long val, const char *fmt, ...)
{
	va_list ap;
	struct rec *r;

	va_start(ap, fmt);
	r = rec_new(K_VAL, fmt, ap);
	va_end(ap);
	if (r)
		r->val = val;
}

static void rec_stat_result(int ret, int err, const struct stat *st,
			    const char *fmt, va_list ap)
{
	struct rec *r = rec_new(K_STAT, fmt, ap);

	if (!r)
		return;
	r->ret = ret;
	r->err = ret < 0 ? err : 0;
	if (ret == 0) {
		r->mode = st->st_mode;
		r->nlink = st->st_nlink;
		r->uid = st->st_uid;
		r->gid = st->st_gid;
		r->size = st->st_size;
		r->blocks = st->st_blocks;
		r->rdev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ?
				  st->st_rdev : 0;
	}
}

/* lstat a path and record the stable attributes. */
__attribute__((format(printf, 2, 3)))
static int ST(const char *path, const char *fmt, ...)
{
	struct stat st;
	va_list ap;
	int ret, err;

	errno = 0;
	ret = lstat(path, &st);
	err = errno;
	va_start(ap, fmt);
	rec_stat_result(ret, err, &st, fmt, ap);
	va_end(ap);
	return ret;
}

__attribute__((format(printf, 4, 5)))
static void rec_stat_v(int ret, int err, const struct stat *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rec_stat_result(ret, err, st, fmt, ap);
	va_end(ap);
}

static int FST(int fd, const char *what)
{
	struct stat st;
	int ret, err;

	errno = 0;
	ret = fstat(fd, &st);
	err = errno;
	rec_stat_v(ret, err, &st, "fstat(%s)", what);
	return ret;
}

/* R(expr, "desc"): evaluate a call returning -1/errno, record it. */
#define R(expr, ...)                                                           \
	({                                                                     \
		errno = 0;                                                     \
		long long _r = (long long)(expr);                              \
		rec_ret(_r, errno, __VA_ARGS__);                               \
	})

/* RFD(expr, "desc"): like R, for calls returning an fd: records 0 for any
 * valid fd (fd numbers are not part of the comparison), returns the fd. */
#define RFD(expr, ...)                                                         \
	({                                                                     \
		errno = 0;                                                     \
		int _fd = (int)(expr);                                         \
		rec_ret(_fd >= 0 ? 0 : -1, errno, __VA_ARGS__);                \
		_fd;                                                           \
	})

/* ---- small helpers --------------------------------------------------- */

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= *c++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void fill(unsigned char *buf, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* pread N bytes at OFF, record the count and a hash of what came back. */
static void rd(int fd, size_t n, off_t off, const char *what)
{
	unsigned char *buf = malloc(n ? n : 1);
	ssize_t got;
	int err;

	errno = 0;
	got = pread(fd, buf, n, off);
	err = errno;
	rec_ret(got, err, "pread(%s, %zu, %lld)", what, n, (long long)off);
	rec_val(got > 0 ? fnv(buf, (size_t)got) : 0, "data of pread(%s, %zu, %lld)",
		what, n, (long long)off);
	free(buf);
}

static void wr(int fd, size_t n, off_t off, unsigned seed, const char *what)
{
	unsigned char *buf = malloc(n ? n : 1);

	fill(buf, n, seed);
	R(pwrite(fd, buf, n, off), "pwrite(%s, %zu, %lld)", what, n, (long long)off);
	free(buf);
}

/* Hash of a whole file's content as read through a fresh open. */
static void content(const char *path)
{
	unsigned char buf[65536];
	uint64_t h = 1469598103934665603ULL;
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		rec_ret(-1, errno, "content(%s) open", path);
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 1099511628211ULL;
		}
		total += n;
	}
	rec_ret(n < 0 ? -1 : total, errno, "content(%s) length", path);
	rec_val(h, "content(%s) hash", path);
	close(fd);
}

/* Time change detection: snapshot mtime/ctime, wait long enough that a coarse
 * clock tick passes, run the operation, then record whether each changed. */
struct tsnap {
	struct timespec m, c;
	int ok;
};

static struct tsnap tsnap(const char *path)
{
	struct tsnap s = { 0 };
	struct stat st;

	if (lstat(path, &st) == 0) {
		s.m = st.st_mtim;
		s.c = st.st_ctim;
		s.ok = 1;
	}
	sleep_ms(25);
	return s;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void tcheck(struct tsnap s, const char *path, const char *op)
{
	struct stat st;

	if (!s.ok || lstat(path, &st) < 0) {
		rec_val(~0ULL, "times of %s after %s (stat failed)", path, op);
		return;
	}
	rec_val(!ts_eq(s.m, st.st_mtim), "mtime of %s changed by %s", path, op);
	rec_val(!ts_eq(s.c, st.st_ctim), "ctime of %s changed by %s", path, op);
}

static void times_exact(const char *path, const char *what)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		rec_ret(-1, errno, "times of %s (%s)", path, what);
		return;
	}
	rec_val((unsigned long long)st.st_atim.tv_sec * 1000000000ULL + st.st_atim.tv_nsec,
		"atime of %s (%s)", path, what);
	rec_val((unsigned long long)st.st_mtim.tv_sec * 1000000000ULL + st.st_mtim.tv_nsec,
		"mtime of %s (%s)", path, what);
}

static void same_inode(const char *a, const char *b)
{
	struct stat sa, sb;
	int ok = lstat(a, &sa) == 0 && lstat(b, &sb) == 0;

	rec_val(ok && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev,
		"%s and %s are one inode", a, b);
}

static int mkfile(const char *path, size_t n, unsigned seed, mode_t mode)
{
	int fd = RFD(open(path, O_CREAT | O_WRONLY | O_TRUNC, mode),
		     "open(%s, O_CREAT|O_WRONLY|O_TRUNC, %o)", path, mode);

	if (n)
		wr(fd, n, 0, seed, path);
	R(close(fd), "close(%s)", path);
	return 0;
}

/* ---- the script ------------------------------------------------------ */

static void t_create_open(void)
{
	int fd, fd2;

	fd = RFD(open("f1", O_CREAT | O_EXCL | O_RDWR, 0666), "open(f1, O_CREAT|O_EXCL)");
	ST("f1", "lstat(f1) new");
	RFD(open("f1", O_CREAT | O_EXCL | O_RDWR, 0666), "open(f1, O_CREAT|O_EXCL) again");
	FST(fd, "f1");
	R(close(fd), "close(f1)");

	fd = RFD(open("f1", O_CREAT | O_RDWR, 0600), "open(f1, O_CREAT) existing");
	wr(fd, 10000, 0, 1, "f1");
	FST(fd, "f1 after write");
	rd(fd, 10000, 0, "f1");
	rd(fd, 100, 4093, "f1");
	rd(fd, 4096, 9000, "f1 straddling EOF");
	rd(fd, 100, 10000, "f1 at EOF");
	rd(fd, 100, 50000, "f1 past EOF");
	wr(fd, 5, 20000, 2, "f1 past EOF");
	FST(fd, "f1 after write past EOF");
	rd(fd, 10005, 9000, "f1 over the gap");
	R(lseek(fd, 0, SEEK_END), "lseek(f1, 0, SEEK_END)");
	R(lseek(fd, -5, SEEK_CUR), "lseek(f1, -5, SEEK_CUR)");
	{
		char b[16];

		R(read(fd, b, sizeof(b)), "read(f1) at SEEK_END-5");
		R(read(fd, b, sizeof(b)), "read(f1) at EOF");
		R(write(fd, "xyz", 3), "write(f1) at EOF");
	}
	R(lseek(fd, 0, SEEK_CUR), "lseek(f1, 0, SEEK_CUR) after write");
	R(lseek(fd, -1, SEEK_SET), "lseek(f1, -1, SEEK_SET)");
	R(close(fd), "close(f1)");
	content("f1");

	/* O_TRUNC */
	{
		struct tsnap s = tsnap("f1");

		fd = RFD(open("f1", O_WRONLY | O_TRUNC), "open(f1, O_WRONLY|O_TRUNC)");
		tcheck(s, "f1", "open O_TRUNC");
		FST(fd, "f1 after O_TRUNC");
		R(close(fd), "close(f1)");
	}
	/* O_TRUNC on an empty file changes nothing visible but is allowed */
	fd = RFD(open("f1", O_RDONLY | O_TRUNC), "open(f1, O_RDONLY|O_TRUNC)");
	R(close(fd), "close(f1)");

	/* O_APPEND */
	mkfile("app", 1000, 3, 0644);
	fd = RFD(open("app", O_WRONLY | O_APPEND), "open(app, O_APPEND)");
	R(write(fd, "hello", 5), "write(app) appending");
	R(lseek(fd, 0, SEEK_CUR), "lseek(app, 0, SEEK_CUR) after append");
	/* Linux: pwrite on an O_APPEND fd appends regardless of the offset */
	wr(fd, 7, 0, 4, "app O_APPEND at 0");
	R(lseek(fd, 0, SEEK_SET), "lseek(app, 0, SEEK_SET)");
	R(write(fd, "again", 5), "write(app) after seek to 0");
	FST(fd, "app");
	R(close(fd), "close(app)");
	content("app");

	/* access modes */
	fd = RFD(open("app", O_RDONLY), "open(app, O_RDONLY)");
	R(write(fd, "x", 1), "write(app) on O_RDONLY fd");
	R(ftruncate(fd, 0), "ftruncate(app) on O_RDONLY fd");
	R(close(fd), "close(app)");
	fd = RFD(open("app", O_WRONLY), "open(app, O_WRONLY)");
	{
		char b[4];

		R(read(fd, b, 4), "read(app) on O_WRONLY fd");
	}
	R(close(fd), "close(app)");

	/* two fds on one file see each other's writes at once */
	fd = RFD(open("shared", O_CREAT | O_RDWR, 0644), "open(shared, O_CREAT)");
	fd2 = RFD(open("shared", O_RDWR), "open(shared) second fd");
	wr(fd, 3000, 0, 5, "shared fd1");
	rd(fd2, 3000, 0, "shared fd2");
	FST(fd2, "shared via fd2");
	R(close(fd), "close(shared fd1)");
	R(close(fd2), "close(shared fd2)");

	/* creat with restricted mode; umask applied */
	fd = RFD(open("modes", O_CREAT | O_WRONLY, 0777), "open(modes, O_CREAT, 0777)");
	ST("modes", "lstat(modes) umask 022 applied");
	R(close(fd), "close(modes)");
	fd = RFD(open("wronly", O_CREAT | O_RDWR, 0200), "open(wronly, O_CREAT|O_RDWR, 0200)");
	wr(fd, 10, 0, 6, "wronly (mode 0200, fd opened at create)");
	R(close(fd), "close(wronly)");
	ST("wronly", "lstat(wronly)");
}

static void t_direct(void)
{
	void *buf;
	int fd;

	if (posix_memalign(&buf, 4096, 16384))
		abort();
	fill(buf, 16384, 7);
	fd = RFD(open("direct", O_CREAT | O_RDWR | O_DIRECT, 0644), "open(direct, O_DIRECT)");
	rec_val(fd >= 0 && (fcntl(fd, F_GETFL) & O_DIRECT) != 0, "F_GETFL(direct) has O_DIRECT");
	R(pwrite(fd, buf, 16384, 0), "pwrite(direct, 16384, 0) O_DIRECT");
	R(pwrite(fd, buf, 4096, 16384), "pwrite(direct, 4096, 16384) O_DIRECT");
	memset(buf, 0, 16384);
	R(pread(fd, buf, 8192, 4096), "pread(direct, 8192, 4096) O_DIRECT");
	rec_val(fnv(buf, 8192), "data of O_DIRECT pread");
	R(pread(fd, buf, 8192, 16384), "pread(direct, 8192, 16384) O_DIRECT short at EOF");
	rec_val(fnv(buf, 4096), "data of O_DIRECT pread at EOF");
	R(pread(fd, buf, 4096, 1 << 20), "pread(direct) O_DIRECT past EOF");
	FST(fd, "direct");
	R(close(fd), "close(direct)");
	content("direct");
	free(buf);
}

static void t_truncate(void)
{
	struct tsnap s;
	int fd;

	mkfile("tr", 10000, 8, 0644);
	s = tsnap("tr");
	R(truncate("tr", 100), "truncate(tr, 100)");
	tcheck(s, "tr", "truncate down");
	ST("tr", "lstat(tr) after truncate down");
	content("tr");
	R(truncate("tr", 1 << 20), "truncate(tr, 1MiB)");
	ST("tr", "lstat(tr) after truncate up");
	fd = open("tr", O_RDONLY);
	rd(fd, 1000, 500000, "tr hole after truncate up");
	rd(fd, 200, 0, "tr head after truncate up");
	close(fd);
	s = tsnap("tr");
	R(truncate("tr", 1 << 20), "truncate(tr) to same size");
	tcheck(s, "tr", "truncate to same size");
	fd = RFD(open("tr", O_RDWR), "open(tr, O_RDWR)");
	R(ftruncate(fd, 12345), "ftruncate(tr, 12345)");
	FST(fd, "tr after ftruncate");
	R(ftruncate(fd, -1), "ftruncate(tr, -1)");
	R(close(fd), "close(tr)");
	R(truncate("nonexistent", 0), "truncate(nonexistent)");
	R(mkdir("trdir", 0755), "mkdir(trdir)");
	R(truncate("trdir", 0), "truncate(trdir) a directory");
}

static void t_attrs(void)
{
	struct timespec ts[2];
	struct tsnap s;

	mkfile("at", 100, 9, 0644);
	s = tsnap("at");
	R(chmod("at", 0751), "chmod(at, 0751)");
	tcheck(s, "at", "chmod");
	ST("at", "lstat(at) after chmod");
	R(chmod("at", 07777), "chmod(at, 07777)");
	ST("at", "lstat(at) after chmod 07777");
	R(chmod("at", 0644), "chmod(at, 0644)");

	if (!g_user) {
		s = tsnap("at");
		R(chown("at", 1234, 5678), "chown(at, 1234, 5678)");
		tcheck(s, "at", "chown");
		ST("at", "lstat(at) after chown");
		R(chown("at", -1, 42), "chown(at, -1, 42)");
		ST("at", "lstat(at) after chown gid only");
		R(chmod("at", 06755), "chmod(at, 06755)");
		R(chown("at", 0, 0), "chown(at, 0, 0) of a setuid/setgid file");
		ST("at", "lstat(at) setuid/setgid after chown");
		R(chmod("at", 0644), "chmod(at, 0644)");
	} else {
		R(chown("at", NOBODY, NOBODY), "chown(at) to self");
		R(chown("at", -1, -1), "chown(at, -1, -1)");
		R(chown("at", 0, -1), "chown(at) to root as user");
		R(chown("at", -1, 0), "chown(at) to group 0 as non-member");
		ST("at", "lstat(at) after refused chowns");
	}

	ts[0].tv_sec = 1000000000;
	ts[0].tv_nsec = 123456789;
	ts[1].tv_sec = 1500000000;
	ts[1].tv_nsec = 987654321;
	s = tsnap("at");
	R(utimensat(AT_FDCWD, "at", ts, 0), "utimensat(at, explicit times)");
	tcheck(s, "at", "utimensat explicit");
	times_exact("at", "after explicit utimensat");

	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	R(utimensat(AT_FDCWD, "at", ts, 0), "utimensat(at, UTIME_NOW, UTIME_OMIT)");
	{
		struct stat st;

		lstat("at", &st);
		rec_val(st.st_atim.tv_sec > 1000000000 + 86400, "atime of at moved to now");
		rec_val(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 987654321,
			"mtime of at kept by UTIME_OMIT");
	}
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	R(utimensat(AT_FDCWD, "at", ts, 0), "utimensat(at, UTIME_OMIT, UTIME_NOW)");
	{
		struct stat st;

		lstat("at", &st);
		rec_val(st.st_mtim.tv_sec > 1500000000 + 86400, "mtime of at moved to now");
	}
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	s = tsnap("at");
	R(utimensat(AT_FDCWD, "at", ts, 0), "utimensat(at, UTIME_OMIT, UTIME_OMIT)");
	tcheck(s, "at", "utimensat omit/omit");
	R(utimensat(AT_FDCWD, "at", NULL, 0), "utimensat(at, NULL)");

	/* times of a symlink itself */
	R(symlink("at", "at-link"), "symlink(at, at-link)");
	ts[0].tv_sec = 1100000000;
	ts[0].tv_nsec = 5;
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 6;
	R(utimensat(AT_FDCWD, "at-link", ts, AT_SYMLINK_NOFOLLOW),
	  "utimensat(at-link, AT_SYMLINK_NOFOLLOW)");
	times_exact("at-link", "symlink after utimensat NOFOLLOW");
	ST("at-link", "lstat(at-link)");

	/* write changes mtime and ctime; read does not change them */
	{
		int fd = open("at", O_RDWR);
		char b[10];

		s = tsnap("at");
		R(pwrite(fd, "abc", 3, 0), "pwrite(at, 3, 0)");
		tcheck(s, "at", "write");
		s = tsnap("at");
		R(pread(fd, b, 10, 0), "pread(at, 10, 0)");
		tcheck(s, "at", "read");
		close(fd);
	}
}

static void t_dirs(void)
{
	struct tsnap s;
	int fd;

	s = tsnap(".");
	R(mkdir("d", 0777), "mkdir(d, 0777)");
	tcheck(s, ".", "mkdir d");
	ST("d", "lstat(d)");
	R(mkdir("d", 0755), "mkdir(d) again");
	R(mkdir("d/sub", 0700), "mkdir(d/sub)");
	ST("d", "lstat(d) with a subdir (nlink)");
	ST("d/sub", "lstat(d/sub)");
	s = tsnap("d");
	mkfile("d/file", 10, 10, 0644);
	tcheck(s, "d", "create in d");
	R(rmdir("d"), "rmdir(d) not empty");
	R(rmdir("d/file"), "rmdir(d/file) a file");
	R(unlink("d/sub"), "unlink(d/sub) a directory");
	R(rmdir("d/sub/."), "rmdir(d/sub/.)");
	R(rmdir("d/nonexistent"), "rmdir(d/nonexistent)");
	s = tsnap("d");
	R(unlink("d/file"), "unlink(d/file)");
	tcheck(s, "d", "unlink in d");
	R(unlink("d/file"), "unlink(d/file) again");
	R(rmdir("d/sub"), "rmdir(d/sub)");
	ST("d", "lstat(d) after rmdir sub (nlink)");
	R(rmdir("d"), "rmdir(d)");
	ST("d", "lstat(d) after rmdir");

	/* a directory opened, removed, read */
	R(mkdir("gone", 0755), "mkdir(gone)");
	fd = RFD(open("gone", O_RDONLY | O_DIRECTORY), "open(gone, O_DIRECTORY)");
	R(rmdir("gone"), "rmdir(gone) while open");
	R(openat(fd, "x", O_CREAT | O_WRONLY, 0644), "openat(removed dir, x, O_CREAT)");
	FST(fd, "removed dir");
	R(close(fd), "close(gone)");

	/* mode bits of mkdir with umask, sticky and setgid */
	R(mkdir("dm", 01777), "mkdir(dm, 01777)");
	ST("dm", "lstat(dm) sticky");
	R(rmdir("dm"), "rmdir(dm)");
}

static void t_setgid_dir(const char *sgdir)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/f", sgdir);
	fd = RFD(open(p, O_CREAT | O_WRONLY, 0666), "open(%s, O_CREAT) in setgid dir", p);
	close(fd);
	ST(p, "lstat(%s) group inherited", p);
	snprintf(p, sizeof(p), "%s/d", sgdir);
	R(mkdir(p, 0777), "mkdir(%s) in setgid dir", p);
	ST(p, "lstat(%s) group and setgid inherited", p);
	snprintf(p, sizeof(p), "%s/n", sgdir);
	R(mknod(p, S_IFIFO | 0666, 0), "mknod(%s) fifo in setgid dir", p);
	ST(p, "lstat(%s) group inherited", p);
	snprintf(p, sizeof(p), "%s/s", sgdir);
	R(symlink("f", p), "symlink(%s) in setgid dir", p);
	ST(p, "lstat(%s) group inherited", p);
}

static void t_rename(void)
{
	struct tsnap s;
	struct stat st;

	mkfile("ra", 11, 11, 0644);
	s = tsnap(".");
	R(rename("ra", "rb"), "rename(ra, rb)");
	tcheck(s, ".", "rename");
	ST("ra", "lstat(ra) after rename");
	ST("rb", "lstat(rb) after rename");
	content("rb");

	mkfile("rc", 22, 12, 0600);
	R(rename("rb", "rc"), "rename(rb, rc) over an existing file");
	ST("rb", "lstat(rb)");
	ST("rc", "lstat(rc) (content of rb)");
	content("rc");

	mkfile("rd", 33, 13, 0644);
	R(renameat2(AT_FDCWD, "rc", AT_FDCWD, "rd", RENAME_NOREPLACE),
	  "renameat2(rc, rd, RENAME_NOREPLACE) target exists");
	R(renameat2(AT_FDCWD, "rc", AT_FDCWD, "re", RENAME_NOREPLACE),
	  "renameat2(rc, re, RENAME_NOREPLACE)");
	content("re");

	R(mkdir("rdir", 0755), "mkdir(rdir)");
	mkfile("rdir/inner", 44, 14, 0644);
	R(renameat2(AT_FDCWD, "re", AT_FDCWD, "rdir", RENAME_EXCHANGE),
	  "renameat2(re, rdir, RENAME_EXCHANGE)");
	ST("re", "lstat(re) now the dir");
	ST("rdir", "lstat(rdir) now the file");
	ST("re/inner", "lstat(re/inner)");
	content("rdir");
	R(renameat2(AT_FDCWD, "re", AT_FDCWD, "nothere", RENAME_EXCHANGE),
	  "renameat2(re, nothere, RENAME_EXCHANGE) missing target");
	R(renameat2(AT_FDCWD, "re", AT_FDCWD, "rdir", RENAME_EXCHANGE | RENAME_NOREPLACE),
	  "renameat2(EXCHANGE|NOREPLACE)");

	/* directory renames */
	R(mkdir("empty", 0755), "mkdir(empty)");
	R(rename("re", "empty"), "rename(re, empty) dir over empty dir");
	ST("re", "lstat(re)");
	ST("empty/inner", "lstat(empty/inner)");
	R(mkdir("full", 0755), "mkdir(full)");
	mkfile("full/x", 1, 15, 0644);
	R(rename("empty", "full"), "rename(empty, full) over non-empty dir");
	R(rename("rdir", "full"), "rename(rdir, full) file over dir");
	R(rename("full", "rdir"), "rename(full, rdir) dir over file");
	R(rename("full", "full/x/y"), "rename(full, full/x/y)");
	R(rename("full", "full/sub"), "rename(full, full/sub) into itself");
	R(rename("full", "full"), "rename(full, full)");
	R(rename("nothing", "x"), "rename(nothing, x)");
	R(rename("full/x", "full/x"), "rename(full/x, full/x)");
	R(mkdir("full/deeper", 0755), "mkdir(full/deeper)");
	s = tsnap("full/deeper");
	R(rename("empty/inner", "full/deeper/inner"), "rename across dirs");
	tcheck(s, "full/deeper", "rename into it");
	ST("full/deeper/inner", "lstat(full/deeper/inner)");
	R(rename("full/deeper", "moved"), "rename(full/deeper, moved) dir to other parent");
	ST("full", "lstat(full) nlink after moving a subdir out");
	ST("moved", "lstat(moved)");
	ST("moved/inner", "lstat(moved/inner)");
	/* a renamed directory keeps working through its new name */
	R(lstat("moved/..", &st), "lstat(moved/..)");
	mkfile("moved/new", 5, 16, 0644);
	content("moved/new");
	/* a file renamed while open keeps its fd */
	{
		int fd = RFD(open("moved/new", O_RDWR), "open(moved/new)");

		R(rename("moved/new", "renamed-open"), "rename(moved/new) while open");
		wr(fd, 5, 5, 17, "renamed-open via old fd");
		R(close(fd), "close(renamed-open)");
		content("renamed-open");
	}
}

static void t_link(void)
{
	struct tsnap s;
	int fd;

	mkfile("la", 100, 18, 0644);
	s = tsnap("la");
	R(link("la", "lb"), "link(la, lb)");
	tcheck(s, "la", "link");
	same_inode("la", "lb");
	ST("la", "lstat(la) nlink 2");
	ST("lb", "lstat(lb) nlink 2");
	R(chmod("la", 0600), "chmod(la, 0600)");
	ST("lb", "lstat(lb) sees chmod through la");
	fd = open("lb", O_WRONLY | O_APPEND);
	R(write(fd, "more", 4), "write(lb) append");
	close(fd);
	ST("la", "lstat(la) sees size written through lb");
	content("la");
	R(link("la", "lb"), "link(la, lb) target exists");
	R(mkdir("ldir", 0755), "mkdir(ldir)");
	R(link("la", "ldir/lc"), "link(la, ldir/lc)");
	ST("lb", "lstat(lb) nlink 3");
	same_inode("lb", "ldir/lc");
	R(rename("la", "lb"), "rename(la, lb) two names of one inode");
	ST("la", "lstat(la) still there");
	ST("lb", "lstat(lb) still there");
	R(unlink("la"), "unlink(la)");
	ST("lb", "lstat(lb) nlink 2 after unlink");
	ST("ldir/lc", "lstat(ldir/lc) nlink 2 after unlink");
	R(link("ldir", "ldir2"), "link(ldir) a directory");
	R(link("nothing", "x"), "link(nothing, x)");
	R(link("lb", "nodir/x"), "link(lb, nodir/x)");
	R(symlink("lb", "lsym"), "symlink(lb, lsym)");
	R(linkat(AT_FDCWD, "lsym", AT_FDCWD, "lsym-hard", 0), "linkat(lsym) no follow");
	ST("lsym-hard", "lstat(lsym-hard) the symlink itself");
	R(linkat(AT_FDCWD, "lsym", AT_FDCWD, "lsym-follow", AT_SYMLINK_FOLLOW),
	  "linkat(lsym, AT_SYMLINK_FOLLOW)");
	same_inode("lsym-follow", "lb");
	ST("lb", "lstat(lb) nlink 3 after linkat follow");

	/* unlinked while open */
	fd = RFD(open("ul", O_CREAT | O_RDWR, 0644), "open(ul, O_CREAT)");
	wr(fd, 1000, 0, 19, "ul");
	R(unlink("ul"), "unlink(ul) while open");
	ST("ul", "lstat(ul) after unlink");
	wr(fd, 1000, 1000, 20, "ul after unlink");
	rd(fd, 2000, 0, "ul after unlink");
	FST(fd, "ul after unlink");
	R(ftruncate(fd, 10), "ftruncate(ul) after unlink");
	FST(fd, "ul after unlink and ftruncate");
	R(close(fd), "close(ul)");
}

static void t_symlink(void)
{
	char buf[300];
	ssize_t n;
	int fd;

	R(symlink("target-file", "sl"), "symlink(target-file, sl)");
	ST("sl", "lstat(sl)");
	R(stat("sl", &(struct stat){ 0 }), "stat(sl) dangling");
	R(symlink("x", "sl"), "symlink(x, sl) exists");
	n = R(readlink("sl", buf, sizeof(buf)), "readlink(sl)");
	rec_val(n > 0 ? fnv(buf, (size_t)n) : 0, "readlink(sl) content");
	R(readlink("sl", buf, 3), "readlink(sl) short buffer");
	rec_val(fnv(buf, 3), "readlink(sl) short content");
	mkfile("target-file", 50, 21, 0644);
	fd = RFD(open("sl", O_RDONLY), "open(sl) follows");
	rd(fd, 50, 0, "via sl");
	R(close(fd), "close(sl)");
	RFD(open("sl", O_RDONLY | O_NOFOLLOW), "open(sl, O_NOFOLLOW)");
	fd = RFD(open("sl", O_RDONLY | O_NOFOLLOW | O_PATH), "open(sl, O_PATH|O_NOFOLLOW)");
	R(close(fd), "close(sl O_PATH)");
	R(readlink("target-file", buf, sizeof(buf)), "readlink(target-file) not a link");
	R(readlink("nothing", buf, sizeof(buf)), "readlink(nothing)");
	R(symlink("l2", "l1"), "symlink(l2, l1)");
	R(symlink("l1", "l2"), "symlink(l1, l2)");
	RFD(open("l1", O_RDONLY), "open(l1) loop");
	R(stat("l1", &(struct stat){ 0 }), "stat(l1) loop");
	RFD(open("l1/x", O_RDONLY), "open(l1/x) loop in path");
	/* long symlink targets */
	memset(buf, 'a', 255);
	buf[255] = 0;
	R(symlink(buf, "sl-long"), "symlink(255 x a, sl-long)");
	ST("sl-long", "lstat(sl-long)");
	{
		char *big = malloc(5000);

		memset(big, 'b', 4095);
		big[4095] = 0;
		R(symlink(big, "sl-4095"), "symlink(4095 bytes)");
		ST("sl-4095", "lstat(sl-4095)");
		n = R(readlink("sl-4095", big, 5000), "readlink(sl-4095)");
		memset(big, 'b', 4096);
		big[4096] = 0;
		R(symlink(big, "sl-4096"), "symlink(4096 bytes)");
		free(big);
	}
	R(symlink("d/../target-file", "sl-rel"), "symlink(d/../target-file)");
	R(mkdir("sldir", 0755), "mkdir(sldir)");
	R(symlink("sldir", "sl-dir"), "symlink(sldir, sl-dir)");
	mkfile("sl-dir/via", 3, 22, 0644);
	ST("sldir/via", "lstat(sldir/via) created through a dir symlink");
	R(rmdir("sl-dir"), "rmdir(sl-dir) a symlink");
	R(unlink("sl-dir"), "unlink(sl-dir)");
	ST("sldir", "lstat(sldir) survives");
}

static void t_special(void)
{
	R(mknod("fifo", S_IFIFO | 0640, 0), "mknod(fifo, S_IFIFO)");
	ST("fifo", "lstat(fifo)");
	R(mkfifo("fifo2", 0600), "mkfifo(fifo2)");
	ST("fifo2", "lstat(fifo2)");
	R(mknod("sock", S_IFSOCK | 0644, 0), "mknod(sock, S_IFSOCK)");
	ST("sock", "lstat(sock)");
	R(mknod("reg", S_IFREG | 0644, 0), "mknod(reg, S_IFREG)");
	ST("reg", "lstat(reg)");
	R(mknod("fifo", S_IFIFO | 0640, 0), "mknod(fifo) exists");
	R(mknod("chr", S_IFCHR | 0644, makedev(1, 3)), "mknod(chr, S_IFCHR 1:3)");
	ST("chr", "lstat(chr) with rdev");
	R(mknod("blk", S_IFBLK | 0644, makedev(7, 200)), "mknod(blk, S_IFBLK 7:200)");
	ST("blk", "lstat(blk) with rdev");
	/* a fifo on the volume carries data between two processes */
	{
		int pid = fork(), fd;
		char b[6] = { 0 };

		if (pid == 0) {
			int w = open("fifo", O_WRONLY);

			_exit(w >= 0 && write(w, "piped", 5) == 5 ? 0 : 1);
		}
		fd = RFD(open("fifo", O_RDONLY), "open(fifo, O_RDONLY)");
		R(read(fd, b, 5), "read(fifo)");
		rec_val(fnv(b, 5), "data read from fifo");
		close(fd);
		waitpid(pid, NULL, 0);
	}
}

static void t_statfs(void)
{
	struct statfs sf;
	int fd;

	R(statfs(".", &sf), "statfs(.)");
	rec_val(sf.f_bsize > 0 && sf.f_namelen > 0, "statfs(.) has f_bsize and f_namelen");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	R(fstatfs(fd, &sf), "fstatfs(.)");
	close(fd);
}

static void t_xattr(void)
{
	char buf[256];
	ssize_t n;

	mkfile("xa", 10, 23, 0644);
	R(setxattr("xa", "user.foo", "bar", 3, 0), "setxattr(xa, user.foo)");
	R(getxattr("xa", "user.foo", NULL, 0), "getxattr(xa, user.foo) size query");
	n = R(getxattr("xa", "user.foo", buf, sizeof(buf)), "getxattr(xa, user.foo)");
	rec_val(n > 0 ? fnv(buf, (size_t)n) : 0, "getxattr(xa, user.foo) value");
	R(getxattr("xa", "user.foo", buf, 2), "getxattr(xa, user.foo) small buffer");
	R(getxattr("xa", "user.none", buf, sizeof(buf)), "getxattr(xa, user.none)");
	R(setxattr("xa", "user.foo", "x", 1, XATTR_CREATE), "setxattr(XATTR_CREATE) exists");
	R(setxattr("xa", "user.new", "x", 1, XATTR_REPLACE), "setxattr(XATTR_REPLACE) missing");
	R(setxattr("xa", "user.foo", "longer value", 12, XATTR_REPLACE),
	  "setxattr(user.foo, XATTR_REPLACE)");
	R(setxattr("xa", "user.empty", "", 0, 0), "setxattr(xa, user.empty, empty value)");
	R(getxattr("xa", "user.empty", buf, sizeof(buf)), "getxattr(xa, user.empty)");
	R(setxattr("xa", "user.second", "2", 1, 0), "setxattr(xa, user.second)");
	R(listxattr("xa", NULL, 0), "listxattr(xa) size query");
	n = R(listxattr("xa", buf, sizeof(buf)), "listxattr(xa)");
	{
		/* order of names is the file system's business: compare the set */
		uint64_t h = 0;

		for (ssize_t i = 0; i < n;) {
			size_t l = strlen(buf + i);

			h += fnv(buf + i, l) * 0x9e3779b97f4a7c15ULL;
			i += (ssize_t)l + 1;
		}
		rec_val(h, "listxattr(xa) set of names");
	}
	R(listxattr("xa", buf, 3), "listxattr(xa) small buffer");
	{
		char big[70000];

		memset(big, 'v', sizeof(big));
		R(setxattr("xa", "user.big", big, 4000, 0), "setxattr(xa, user.big, 4000 bytes)");
		R(getxattr("xa", "user.big", NULL, 0), "getxattr(xa, user.big) size");
		R(setxattr("xa", "user.huge", big, 65537, 0), "setxattr(65537 bytes) too big");
	}
	R(setxattr("xa", "nonamespace", "x", 1, 0), "setxattr(xa, nonamespace)");
	R(setxattr("xa", "user.", "x", 1, 0), "setxattr(xa, user.) empty name");
	R(removexattr("xa", "user.foo"), "removexattr(xa, user.foo)");
	R(removexattr("xa", "user.foo"), "removexattr(xa, user.foo) again");
	R(getxattr("xa", "user.foo", buf, sizeof(buf)), "getxattr(xa, user.foo) removed");
	R(getxattr("nothing", "user.foo", buf, sizeof(buf)), "getxattr(nothing)");
	R(symlink("xa", "xa-link"), "symlink(xa, xa-link)");
	R(lsetxattr("xa-link", "user.foo", "bar", 3, 0), "lsetxattr(xa-link) user.* on a symlink");
	R(setxattr("xa-link", "user.via", "link", 4, 0), "setxattr(xa-link) follows");
	R(getxattr("xa", "user.via", buf, sizeof(buf)), "getxattr(xa, user.via)");
	R(mkdir("xdir", 0755), "mkdir(xdir)");
	R(setxattr("xdir", "user.d", "dir", 3, 0), "setxattr(xdir, user.d)");
	R(getxattr("xdir", "user.d", buf, sizeof(buf)), "getxattr(xdir, user.d)");
	{
		int fd = open("xa", O_RDONLY);

		R(fsetxattr(fd, "user.fd", "1", 1, 0), "fsetxattr(xa, user.fd)");
		R(fgetxattr(fd, "user.fd", buf, sizeof(buf)), "fgetxattr(xa, user.fd)");
		R(fremovexattr(fd, "user.fd"), "fremovexattr(xa, user.fd)");
		close(fd);
	}
	{
		struct tsnap s = tsnap("xa");

		R(setxattr("xa", "user.t", "t", 1, 0), "setxattr(xa, user.t)");
		tcheck(s, "xa", "setxattr");
	}
}

static void t_fallocate(void)
{
	int fd = RFD(open("fa", O_CREAT | O_RDWR, 0644), "open(fa, O_CREAT)");

	R(fallocate(fd, 0, 0, 1 << 20), "fallocate(fa, 0, 0, 1MiB)");
	FST(fd, "fa after fallocate");
	rd(fd, 4096, 4096, "fa preallocated");
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20),
	  "fallocate(fa, KEEP_SIZE, 1MiB, 1MiB)");
	FST(fd, "fa after KEEP_SIZE");
	wr(fd, 65536, 0, 24, "fa data");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192),
	  "fallocate(fa, PUNCH_HOLE|KEEP_SIZE, 4096, 8192)");
	FST(fd, "fa after punch");
	rd(fd, 16384, 0, "fa around the hole");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), "fallocate(fa, PUNCH_HOLE without KEEP_SIZE)");
	R(fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 1000), "fallocate(fa, ZERO_RANGE, 100, 1000)");
	rd(fd, 2000, 0, "fa after zero range");
	R(fallocate(fd, 0, 0, 0), "fallocate(fa, len 0)");
	R(fallocate(fd, 0, -1, 10), "fallocate(fa, offset -1)");
	R(fallocate(fd, 0, (3LL << 20) - 10, 20), "fallocate(fa) extending unaligned");
	FST(fd, "fa after extending fallocate");
	R(close(fd), "close(fa)");
	fd = open("fa", O_RDONLY);
	R(fallocate(fd, 0, 0, 4096), "fallocate(fa) on O_RDONLY fd");
	close(fd);
}

static void t_copy_file_range(void)
{
	int in, out;
	loff_t oi, oo;

	mkfile("cfr-src", 100000, 25, 0644);
	in = RFD(open("cfr-src", O_RDONLY), "open(cfr-src)");
	out = RFD(open("cfr-dst", O_CREAT | O_RDWR, 0644), "open(cfr-dst, O_CREAT)");
	oi = 1000;
	oo = 0;
	R(copy_file_range(in, &oi, out, &oo, 50000, 0), "copy_file_range(1000 -> 0, 50000)");
	rec_val((unsigned long long)oi, "copy_file_range in offset");
	rec_val((unsigned long long)oo, "copy_file_range out offset");
	oi = 99990;
	oo = 70000;
	R(copy_file_range(in, &oi, out, &oo, 1000, 0), "copy_file_range at source EOF");
	oi = 200000;
	R(copy_file_range(in, &oi, out, &oo, 1000, 0), "copy_file_range past source EOF");
	/* without offsets: uses and advances the file positions */
	lseek(in, 10, SEEK_SET);
	lseek(out, 0, SEEK_END);
	R(copy_file_range(in, NULL, out, NULL, 4096, 0), "copy_file_range(NULL offsets)");
	R(lseek(in, 0, SEEK_CUR), "lseek(cfr-src) position after copy_file_range");
	R(copy_file_range(out, NULL, in, NULL, 10, 0), "copy_file_range into O_RDONLY fd");
	FST(out, "cfr-dst");
	R(close(in), "close(cfr-src)");
	R(close(out), "close(cfr-dst)");
	content("cfr-dst");
}

static void t_seek_sparse(void)
{
	int fd = RFD(open("sparse", O_CREAT | O_RDWR, 0644), "open(sparse, O_CREAT)");

	wr(fd, 4096, 0, 26, "sparse head");
	wr(fd, 4096, 1 << 20, 27, "sparse at 1MiB");
	R(ftruncate(fd, 2 << 20), "ftruncate(sparse, 2MiB)");
	R(fsync(fd), "fsync(sparse)");
	R(lseek(fd, 0, SEEK_DATA), "lseek(sparse, 0, SEEK_DATA)");
	R(lseek(fd, 0, SEEK_HOLE), "lseek(sparse, 0, SEEK_HOLE)");
	R(lseek(fd, 8192, SEEK_DATA), "lseek(sparse, 8192, SEEK_DATA)");
	R(lseek(fd, (1 << 20) + 10, SEEK_HOLE), "lseek(sparse, 1MiB+10, SEEK_HOLE)");
	R(lseek(fd, (1 << 20) + 8192, SEEK_DATA), "lseek(sparse, after last data, SEEK_DATA)");
	R(lseek(fd, 2 << 20, SEEK_HOLE), "lseek(sparse, EOF, SEEK_HOLE)");
	R(lseek(fd, 3 << 20, SEEK_DATA), "lseek(sparse, past EOF, SEEK_DATA)");
	R(lseek(fd, 0, SEEK_CUR), "lseek(sparse, 0, SEEK_CUR) after SEEK_DATA failed");
	FST(fd, "sparse");
	R(close(fd), "close(sparse)");

	/* a write far beyond 4 GiB leaves a hole: 64-bit offsets everywhere */
	fd = RFD(open("big", O_CREAT | O_RDWR, 0644), "open(big, O_CREAT)");
	wr(fd, 5, 5 * GIB, 28, "big at 5GiB");
	wr(fd, 3, 4 * GIB - 1, 29, "big across 4GiB");
	FST(fd, "big");
	{
		struct stat st;

		fstat(fd, &st);
		rec_val(st.st_size == 5 * GIB + 5, "big has size 5GiB+5");
		rec_val(st.st_blocks <= 128, "big st_blocks small (sparse)");
	}
	rd(fd, 5, 5 * GIB, "big at 5GiB");
	rd(fd, 10, 5 * GIB - 2, "big straddling 5GiB and EOF");
	rd(fd, 8, 4 * GIB - 4, "big across 4GiB");
	rd(fd, 4096, 1 * GIB, "big hole at 1GiB");
	R(lseek(fd, 0, SEEK_DATA), "lseek(big, 0, SEEK_DATA)");
	R(lseek(fd, 4 * GIB + 4096, SEEK_DATA), "lseek(big, 4GiB+4096, SEEK_DATA)");
	R(ftruncate(fd, 4 * GIB), "ftruncate(big, 4GiB)");
	FST(fd, "big after truncate to 4GiB");
	R(close(fd), "close(big)");
	R(unlink("big"), "unlink(big)");
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Record the set of names (and, separately, their d_type) in a directory. */
static void listing(const char *dir, bool types)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int dot = 0, dotdot = 0;
	uint64_t h = 1469598103934665603ULL, ht = 0;

	rec_ret(d ? 0 : -1, errno, "opendir(%s)", dir);
	if (!d)
		return;
	errno = 0;
	while ((e = readdir(d))) {
		char *s;

		if (!strcmp(e->d_name, ".")) {
			dot++;
			continue;
		}
		if (!strcmp(e->d_name, "..")) {
			dotdot++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
		}
		if (asprintf(&s, "%s/%d", e->d_name, types ? e->d_type : 0) < 0)
			abort();
		names[n++] = s;
		errno = 0;
	}
	rec_ret(errno ? -1 : 0, errno, "readdir(%s) to the end", dir);
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmpstr);
	for (size_t i = 0; i < n; i++) {
		char *slash = strrchr(names[i], '/');

		h ^= fnv(names[i], (size_t)(slash - names[i]));
		h *= 1099511628211ULL;
		ht = ht * 31 + (unsigned)atoi(slash + 1);
		free(names[i]);
	}
	free(names);
	rec_val(n, "readdir(%s) number of entries", dir);
	rec_val(h, "readdir(%s) set of names", dir);
	rec_val(dot == 1 && dotdot == 1, "readdir(%s) has . and .. once", dir);
	if (types)
		rec_val(ht, "readdir(%s) d_type of each entry", dir);
}

static void t_readdir(void)
{
	char p[64];
	int fd;

	R(mkdir("many", 0755), "mkdir(many)");
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "many/entry-%04d-%s", i, i % 3 ? "file" : "x");
		fd = open(p, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			rec_ret(-1, errno, "create %s", p);
		else
			close(fd);
	}
	listing("many", false);
	/* remove every other entry and list again */
	for (int i = 0; i < 1000; i += 2) {
		snprintf(p, sizeof(p), "many/entry-%04d-%s", i, i % 3 ? "file" : "x");
		if (unlink(p) < 0)
			rec_ret(-1, errno, "unlink %s", p);
	}
	listing("many", false);

	R(mkdir("types", 0755), "mkdir(types)");
	mkfile("types/file", 1, 30, 0644);
	R(mkdir("types/dir", 0755), "mkdir(types/dir)");
	R(symlink("file", "types/link"), "symlink(types/link)");
	R(mkfifo("types/fifo", 0644), "mkfifo(types/fifo)");
	listing("types", true);
	R(mkdir("emptydir", 0755), "mkdir(emptydir)");
	listing("emptydir", false);

	/* readdir while entries are added: rewinddir sees the new one */
	{
		DIR *d = opendir("types");
		int cnt = 0;

		while (readdir(d))
			cnt++;
		mkfile("types/late", 1, 31, 0644);
		rewinddir(d);
		cnt = 0;
		while (readdir(d))
			cnt++;
		rec_val(cnt, "readdir(types) after rewinddir sees the new entry");
		closedir(d);
	}
}

/* Two-process locking: a child holds a lock; the parent's attempts must
 * conflict the way they do natively. */
static void t_locks(void)
{
	int ctl[2], go[2], fd, pid, status;
	struct flock fl;
	char c;

	mkfile("lk", 1000, 32, 0666);
	if (pipe(ctl) || pipe(go))
		abort();
	pid = fork();
	if (pid == 0) {
		int cfd = open("lk", O_RDWR);
		struct flock cl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				    .l_start = 0, .l_len = 100 };
		char r = 'f';

		if (cfd >= 0 && fcntl(cfd, F_SETLK, &cl) == 0 &&
		    flock(cfd, LOCK_EX | LOCK_NB) == 0)
			r = 'k';
		if (write(ctl[1], &r, 1) != 1 || read(go[0], &r, 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(ctl[1]);
	close(go[0]);
	R(read(ctl[0], &c, 1), "child took the locks (read)");
	rec_val(c, "child locks F_SETLK + flock succeeded");

	fd = RFD(open("lk", O_RDWR), "open(lk) parent");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
	R(fcntl(fd, F_SETLK, &fl), "fcntl(F_SETLK write 50..60) conflicting");
	fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	R(fcntl(fd, F_SETLK, &fl), "fcntl(F_SETLK read 0..1) conflicting");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 100 };
	R(fcntl(fd, F_SETLK, &fl), "fcntl(F_SETLK write 200..300) free range");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5 };
	R(fcntl(fd, F_GETLK, &fl), "fcntl(F_GETLK 10..15)");
	rec_val(fl.l_type, "F_GETLK l_type");
	rec_val(fl.l_pid == pid, "F_GETLK l_pid is the child");
	rec_val((unsigned long long)fl.l_start << 32 | (unsigned long long)fl.l_len,
		"F_GETLK l_start/l_len");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 500, .l_len = 5 };
	R(fcntl(fd, F_GETLK, &fl), "fcntl(F_GETLK 500..505) free");
	rec_val(fl.l_type, "F_GETLK free range l_type is F_UNLCK");
	R(flock(fd, LOCK_EX | LOCK_NB), "flock(LOCK_EX|LOCK_NB) conflicting");
	R(flock(fd, LOCK_SH | LOCK_NB), "flock(LOCK_SH|LOCK_NB) conflicting");

	if (write(go[1], "x", 1) != 1)
		abort();
	waitpid(pid, &status, 0);
	rec_val(status, "lock child exit status");
	close(ctl[0]);
	close(go[1]);

	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	R(fcntl(fd, F_SETLK, &fl), "fcntl(F_SETLK 0..100) after the child exited");
	R(flock(fd, LOCK_EX | LOCK_NB), "flock(LOCK_EX|LOCK_NB) after the child exited");
	R(flock(fd, LOCK_UN), "flock(LOCK_UN)");
	fl = (struct flock){ .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	R(fcntl(fd, F_SETLK, &fl), "fcntl(F_SETLK unlock all)");

	/* OFD locks conflict between two fds of one process */
	{
		int fd2 = open("lk", O_RDWR);

		fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		R(fcntl(fd, F_OFD_SETLK, &fl), "fcntl(F_OFD_SETLK) fd1");
		fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 10 };
		R(fcntl(fd2, F_OFD_SETLK, &fl), "fcntl(F_OFD_SETLK) fd2 conflicting");
		close(fd2);
	}
	R(close(fd), "close(lk)");
}

static void t_errors(void)
{
	char name[300];
	struct stat st;
	int fd;

	RFD(open("nothing", O_RDONLY), "open(nothing)");
	R(lstat("nothing", &st), "lstat(nothing)");
	RFD(open("nodir/x", O_CREAT | O_WRONLY, 0644), "open(nodir/x, O_CREAT)");
	mkfile("ef", 10, 33, 0644);
	RFD(open("ef", O_CREAT | O_EXCL | O_WRONLY, 0644), "open(ef, O_CREAT|O_EXCL) exists");
	R(mkdir("ef", 0755), "mkdir(ef) exists as file");
	R(lstat("ef/x", &st), "lstat(ef/x) through a file");
	RFD(open("ef/x", O_CREAT | O_WRONLY, 0644), "open(ef/x, O_CREAT) through a file");
	R(mkdir("ef/x", 0755), "mkdir(ef/x) through a file");
	RFD(open("ef", O_RDONLY | O_DIRECTORY), "open(ef, O_DIRECTORY) a file");
	RFD(open("ef/", O_RDONLY), "open(ef/) trailing slash");
	R(mkdir("edir", 0755), "mkdir(edir)");
	RFD(open("edir", O_WRONLY), "open(edir, O_WRONLY)");
	RFD(open("edir", O_RDWR), "open(edir, O_RDWR)");
	RFD(open("edir", O_CREAT | O_WRONLY, 0644), "open(edir, O_CREAT)");
	RFD(open("edir", O_CREAT | O_EXCL | O_RDONLY, 0644), "open(edir, O_CREAT|O_EXCL)");
	fd = RFD(open("edir", O_RDONLY), "open(edir, O_RDONLY)");
	{
		char b[10];

		R(read(fd, b, 10), "read(edir) a directory");
	}
	R(close(fd), "close(edir)");
	R(unlink("edir"), "unlink(edir)");
	R(rmdir("."), "rmdir(.)");
	R(rmdir("edir/.."), "rmdir(edir/..)");

	memset(name, 'n', 255);
	name[255] = 0;
	fd = RFD(open(name, O_CREAT | O_WRONLY, 0644), "open(255-char name, O_CREAT)");
	R(close(fd), "close(255-char name)");
	ST(name, "lstat(255-char name)");
	R(unlink(name), "unlink(255-char name)");
	memset(name, 'n', 256);
	name[256] = 0;
	RFD(open(name, O_CREAT | O_WRONLY, 0644), "open(256-char name, O_CREAT)");
	R(lstat(name, &st), "lstat(256-char name)");
	R(mkdir(name, 0755), "mkdir(256-char name)");
	R(symlink("x", name), "symlink(x, 256-char name)");
	R(rename("ef", name), "rename(ef, 256-char name)");
	R(setxattr("ef", "user.x", "", 0, 0) < 0 ? -1 : 0, "setxattr(ef) sanity");
	{
		char xname[300];

		memcpy(xname, "user.", 5);
		memset(xname + 5, 'x', 260);
		xname[265] = 0;
		R(setxattr("ef", xname, "v", 1, 0), "setxattr(ef, 265-char name)");
		R(getxattr("ef", xname, NULL, 0), "getxattr(ef, 265-char name)");
	}
	/* deep path near the native limits: relative components of 200 chars */
	{
		char comp[201];
		char path[8192] = "deep";
		int ok = 0;

		memset(comp, 'c', 200);
		comp[200] = 0;
		R(mkdir("deep", 0755), "mkdir(deep)");
		for (int i = 0; i < 18; i++) {
			strcat(path, "/");
			strcat(path, comp);
			if (mkdir(path, 0755) == 0)
				ok++;
		}
		rec_val(ok, "mkdir of 18 nested 200-char components");
		strcat(path, "/f");
		fd = RFD(open(path, O_CREAT | O_WRONLY, 0644), "open(path of %zu bytes, O_CREAT)",
			 strlen(path));
		close(fd);
		ST(path, "lstat(path of %zu bytes)", strlen(path));
		path[strlen(path) - 2] = 0;
		for (int i = 0; i < 3; i++) {
			strcat(path, "/");
			strcat(path, comp);
		}
		R(lstat(path, &st), "lstat(path of %zu bytes) over PATH_MAX", strlen(path));
	}
}

/* Permission checks as uid 65534 against root's fixtures in pub/. */
static void t_perm_user(void)
{
	struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };
	char b[16];
	int fd;

	RFD(open("secret", O_RDONLY), "open(secret 0600 root) as user");
	RFD(open("ro", O_WRONLY), "open(ro 0444 root, O_WRONLY) as user");
	RFD(open("ro", O_RDWR | O_TRUNC), "open(ro 0444 root, O_RDWR|O_TRUNC) as user");
	fd = RFD(open("ro", O_RDONLY), "open(ro 0444 root, O_RDONLY) as user");
	R(read(fd, b, sizeof(b)), "read(ro) as user");
	R(close(fd), "close(ro)");
	R(truncate("ro", 0), "truncate(ro 0444 root) as user");
	R(unlink("rootfile"), "unlink(rootfile) in sticky dir as user");
	R(rename("rootfile", "mine"), "rename(rootfile) in sticky dir as user");
	R(rmdir("rootdir"), "rmdir(rootdir) in sticky dir as user");
	R(chmod("rootfile", 0777), "chmod(rootfile) not owner");
	R(chown("rootfile", NOBODY, NOBODY), "chown(rootfile) not owner");
	R(utimensat(AT_FDCWD, "rootfile", ts, 0), "utimensat(rootfile, explicit) not owner");
	R(utimensat(AT_FDCWD, "rootfile", NULL, 0), "utimensat(rootfile, NOW) not owner, writable");
	R(utimensat(AT_FDCWD, "ro", NULL, 0), "utimensat(ro, NOW) not owner, not writable");
	fd = RFD(open("rootfile", O_WRONLY), "open(rootfile 0666, O_WRONLY) as user");
	R(write(fd, "user", 4), "write(rootfile) as user");
	R(close(fd), "close(rootfile)");
	ST("rootfile", "lstat(rootfile) owner unchanged after user write");
	fd = RFD(open("rootfile", O_CREAT | O_WRONLY, 0644),
		 "open(rootfile, O_CREAT) existing root file in sticky dir");
	if (fd >= 0)
		close(fd);
	R(mkdir("rootdir/x", 0755), "mkdir(rootdir/x) in root's 0755 dir");
	RFD(open("rootdir/f", O_CREAT | O_WRONLY, 0644), "open(rootdir/f, O_CREAT) in root's 0755 dir");
	R(unlink("rootdir/inside"), "unlink(rootdir/inside) in root's 0755 dir");
	fd = RFD(open("rootdir/inside", O_RDONLY), "open(rootdir/inside) readable");
	if (fd >= 0)
		close(fd);
	RFD(open("closed/x", O_RDONLY), "open(closed/x) through a 0700 root dir");
	R(lstat("closed/x", &(struct stat){ 0 }), "lstat(closed/x) through a 0700 root dir");
	R(opendir("closed") ? 0 : -1, "opendir(closed) 0700 root dir");
	R(setxattr("rootfile", "user.u", "1", 1, 0), "setxattr(rootfile, user.u) writable, not owner");
	R(setxattr("ro", "user.u", "1", 1, 0), "setxattr(ro, user.u) not writable");
	R(getxattr("secret", "user.s", b, sizeof(b)), "getxattr(secret) not readable");
	R(link("secret", "secret-link"), "link(secret) protected_hardlinks");
	R(link("rootfile", "rootfile-link"), "link(rootfile 0666) as user");

	/* a write by a non-owner clears setuid/setgid */
	fd = RFD(open("suid", O_WRONLY), "open(suid 04777 root, O_WRONLY) as user");
	R(write(fd, "w", 1), "write(suid) as user");
	FST(fd, "suid after a write by a non-owner");
	R(close(fd), "close(suid)");
	ST("suid", "lstat(suid) after a write by a non-owner");
	fd = RFD(open("sgid", O_WRONLY), "open(sgid 02777 root, O_WRONLY) as user");
	R(ftruncate(fd, 1), "ftruncate(sgid) as user");
	R(close(fd), "close(sgid)");
	ST("sgid", "lstat(sgid) after truncate by a non-owner");

	/* own file made read-only: no override for a user */
	mkfile("mine-ro", 5, 40, 0644);
	R(chmod("mine-ro", 0444), "chmod(mine-ro, 0444)");
	RFD(open("mine-ro", O_WRONLY), "open(mine-ro 0444 own, O_WRONLY)");
	R(chmod("mine-ro", 0000), "chmod(mine-ro, 0000)");
	RFD(open("mine-ro", O_RDONLY), "open(mine-ro 0000 own, O_RDONLY)");
	R(access("mine-ro", R_OK), "access(mine-ro 0000, R_OK)");
	R(access("mine-ro", F_OK), "access(mine-ro 0000, F_OK)");
	R(chmod("mine-ro", 0644), "chmod(mine-ro, 0644)");
	R(access("mine-ro", W_OK), "access(mine-ro, W_OK)");
	R(access("rootfile", X_OK), "access(rootfile, X_OK) no x bit");
	/* own dir without write permission */
	R(mkdir("mine-d", 0555), "mkdir(mine-d, 0555)");
	RFD(open("mine-d/f", O_CREAT | O_WRONLY, 0644), "open(mine-d/f, O_CREAT) in own 0555 dir");
	R(chmod("mine-d", 0755), "chmod(mine-d, 0755)");
	R(mkdir("mine-d/sub", 0755), "mkdir(mine-d/sub)");
	R(chmod("mine-d", 0644), "chmod(mine-d, 0644) no x");
	R(lstat("mine-d/sub", &(struct stat){ 0 }), "lstat(mine-d/sub) in dir without x");
	R(chmod("mine-d", 0755), "chmod(mine-d, 0755)");
	/* setgid bit on own file with a group the user is not in: kernel drops it */
	mkfile("mine-sg", 1, 41, 0644);
	R(chmod("mine-sg", 02755), "chmod(mine-sg, 02755) group is own");
	ST("mine-sg", "lstat(mine-sg)");
	if (mknod("mine-chr", S_IFCHR | 0644, makedev(1, 3)) < 0)
		rec_ret(-1, errno, "mknod(chr) as user");
	else
		rec_ret(0, 0, "mknod(chr) as user");
}

/* Fixtures for the user run, created as root in DIR/pub. */
static int prepare_user_fixtures(const char *dir)
{
	char p[4096];
	int fd;

#define P(x) (snprintf(p, sizeof(p), "%s/pub/%s", dir, x), p)
	snprintf(p, sizeof(p), "%s/pub", dir);
	if (mkdir(p, 0777) || chmod(p, 01777))
		return -1;
	if ((fd = open(P("secret"), O_CREAT | O_WRONLY, 0600)) < 0 ||
	    write(fd, "secret", 6) != 6 || close(fd))
		return -1;
	if (setxattr(p, "user.s", "1", 1, 0))
		return -1;
	if ((fd = open(P("ro"), O_CREAT | O_WRONLY, 0444)) < 0 ||
	    write(fd, "readonly", 8) != 8 || close(fd))
		return -1;
	if ((fd = open(P("rootfile"), O_CREAT | O_WRONLY, 0666)) < 0 || close(fd) ||
	    chmod(p, 0666))
		return -1;
	if ((fd = open(P("suid"), O_CREAT | O_WRONLY, 0755)) < 0 ||
	    write(fd, "#!/bin/sh\n", 10) != 10 || close(fd) || chmod(p, 04777))
		return -1;
	if ((fd = open(P("sgid"), O_CREAT | O_WRONLY, 0755)) < 0 ||
	    write(fd, "#!/bin/sh\n", 10) != 10 || close(fd) || chmod(p, 02777))
		return -1;
	if (mkdir(P("rootdir"), 0755))
		return -1;
	if ((fd = open(P("rootdir/inside"), O_CREAT | O_WRONLY, 0644)) < 0 || close(fd))
		return -1;
	if (mkdir(P("closed"), 0700))
		return -1;
	if ((fd = open(P("closed/x"), O_CREAT | O_WRONLY, 0644)) < 0 || close(fd))
		return -1;
	if (mkdir(P("sgdir"), 0777) || chown(p, 0, 4321) || chmod(p, 02777))
		return -1;
#undef P
	return 0;
}

static void run_script(void)
{
	umask(022);
	t_create_open();
	t_direct();
	t_truncate();
	t_attrs();
	t_dirs();
	if (!g_user) {
		R(mkdir("sgdir", 0777), "mkdir(sgdir)");
		R(chown("sgdir", 0, 4321), "chown(sgdir, 0, 4321)");
		R(chmod("sgdir", 02777), "chmod(sgdir, 02777)");
	}
	t_setgid_dir("sgdir");
	t_rename();
	t_link();
	t_symlink();
	if (!g_user)
		t_special();
	else {
		R(mknod("fifo", S_IFIFO | 0640, 0), "mknod(fifo) as user");
		ST("fifo", "lstat(fifo)");
		R(mknod("sock", S_IFSOCK | 0644, 0), "mknod(sock) as user");
		ST("sock", "lstat(sock)");
	}
	t_statfs();
	t_xattr();
	t_fallocate();
	t_copy_file_range();
	t_seek_sparse();
	t_readdir();
	t_locks();
	t_errors();
	if (g_user)
		t_perm_user();
}

/* ---- driver ---------------------------------------------------------- */

static struct recording *run_in(const char *dir)
{
	struct recording *rc;
	char work[4096];
	int status;
	pid_t pid;

	rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rc == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	if (g_user && prepare_user_fixtures(dir) < 0) {
		fprintf(stderr, "opcompare: preparing fixtures in %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	snprintf(work, sizeof(work), "%s%s", dir, g_user ? "/pub" : "");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		cur = rc;
		if (g_user && (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
			       setresuid(NOBODY, NOBODY, NOBODY))) {
			perror("opcompare: dropping to uid 65534");
			_exit(2);
		}
		if (chdir(work)) {
			perror(work);
			_exit(2);
		}
		alarm(240);
		run_script();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "opcompare: script in %s died (status 0x%x) after %d steps%s%s\n",
			dir, status, rc->n, rc->n ? ", last: " : "",
			rc->n ? rc->r[rc->n - 1].desc : "");
		exit(1);
	}
	if (rc->overflow) {
		fprintf(stderr, "opcompare: more than %d steps\n", MAXREC);
		exit(2);
	}
	return rc;
}

static void fmt_res(char *out, size_t sz, const struct rec *r)
{
	if (r->kind == K_VAL)
		snprintf(out, sz, "%llu (0x%llx)", r->val, r->val);
	else if (r->ret < 0)
		snprintf(out, sz, "%lld %s", r->ret,
			 strerrorname_np(r->err) ? strerrorname_np(r->err) : "?");
	else
		snprintf(out, sz, "%lld", r->ret);
}

/*
 * With the kernel writeback cache (--writeback, OPCOMPARE_WRITEBACK=1) the
 * kernel keeps written data in its own dirty pages and owns size and times
 * of open files, so three things are known to differ from a native file
 * system, by design of that mode (documented in README, "writeback"):
 *  - st_blocks of data not yet written back is not counted;
 *  - SEEK_DATA/SEEK_HOLE are answered by the kernel itself with "the whole
 *    file is data" (the POSIX-permitted answer; the front end declines
 *    LSEEK so unwritten data is never reported as a hole);
 *  - truncate to the same size does not touch mtime/ctime (POSIX only
 *    requires it when the size changes).
 * Everything else must match. Tolerated steps are still printed.
 */
static bool g_writeback;

static bool writeback_tolerated(const char *desc)
{
	return g_writeback &&
	       (strstr(desc, "SEEK_DATA") || strstr(desc, "SEEK_HOLE") ||
		strstr(desc, "truncate to same size"));
}

static int compare(const struct recording *a, const struct recording *b)
{
	int bad = 0, n = a->n > b->n ? a->n : b->n;

	for (int i = 0; i < n; i++) {
		const struct rec *x = &a->r[i], *y = &b->r[i];
		char ra[64], rb[64];

		if (i >= a->n || i >= b->n || strcmp(x->desc, y->desc)) {
			fprintf(stderr, "step %d: scripts diverged (native %d steps, volume %d)\n",
				i + 1, a->n, b->n);
			return bad + 1;
		}
		fmt_res(ra, sizeof(ra), x);
		fmt_res(rb, sizeof(rb), y);
		if (x->ret != y->ret || x->err != y->err || x->val != y->val) {
			bool ok = writeback_tolerated(x->desc);

			fprintf(stderr, "step %d %s: native=%s volume=%s%s\n", i + 1,
				x->desc, ra, rb, ok ? " (tolerated: writeback)" : "");
			bad += !ok;
			continue;
		}
		if (x->kind != K_STAT || x->ret < 0)
			continue;
#define FIELD(f, fmt)                                                           \
	if (x->f != y->f) {                                                    \
		fprintf(stderr, "step %d %s: " #f " native=" fmt " volume=" fmt "\n", \
			i + 1, x->desc, x->f, y->f);                           \
		bad++;                                                         \
	}
		FIELD(mode, "0%o")
		FIELD(nlink, "%u")
		FIELD(uid, "%u")
		FIELD(gid, "%u")
		FIELD(size, "%lld")
		if (!g_writeback)
			FIELD(blocks, "%lld")
		FIELD(rdev, "0x%llx")
#undef FIELD
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct recording *a, *b;
	int bad;

	if (argc == 4 && !strcmp(argv[1], "--user")) {
		g_user = true;
		argv++;
		argc--;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: opcompare [--user] NATIVE_DIR VOLUME_DIR\n");
		return 2;
	}
	if (g_user && geteuid() != 0) {
		fprintf(stderr, "opcompare: --user needs root to prepare fixtures\n");
		return 77;
	}
	a = run_in(argv[1]);
	b = run_in(argv[2]);
	g_writeback = getenv("OPCOMPARE_WRITEBACK") &&
		      !strcmp(getenv("OPCOMPARE_WRITEBACK"), "1");
	if (getenv("OPCOMPARE_DUMP")) {
		/* every native step, to review what the script exercises */
		for (int i = 0; i < a->n; i++) {
			char r[64];

			fmt_res(r, sizeof(r), &a->r[i]);
			printf("step %d %s: %s", i + 1, a->r[i].desc, r);
			if (a->r[i].kind == K_STAT && a->r[i].ret == 0)
				printf(" mode=0%o nlink=%u uid=%u gid=%u size=%lld blocks=%lld",
				       a->r[i].mode, a->r[i].nlink, a->r[i].uid, a->r[i].gid,
				       a->r[i].size, a->r[i].blocks);
			printf("\n");
		}
	}
	bad = compare(a, b);
	printf("opcompare%s: %d steps, %d mismatches\n", g_user ? " --user" : "", a->n, bad);
	return bad ? 1 : 0;
}
