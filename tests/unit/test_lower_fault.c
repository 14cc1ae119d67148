/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault injection at the lower layer's syscall choke point, driven through
 * lower_perform() on a temporary directory (no mount). For every wrapped
 * syscall: arm "OP:1:EIO:0" (every call of OP fails), run a workload that
 * touches every operation, check that each failing operation reports
 * exactly the injected errno, then disarm and check that the same
 * workload succeeds, and that node references, handles and the process's
 * fds are back to their baseline (nothing leaks on an error path).
 */
#include "core/core.h"
#include "lower/lower.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];
static int dirfd_;
static struct lower_fs *fs;

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

static int setup(void **state)
{
	struct lower_options opt = { .attr_timeout = 1, .entry_timeout = 1 };

	lower_fault_disarm();
	strcpy(dir, "/tmp/test_lower_fault.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	dirfd_ = open(dir, O_PATH | O_DIRECTORY);
	if (dirfd_ < 0 || lower_open(dir, &opt, &fs))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	int bad = lower_inode_count(fs) != 1 || lower_handle_count(fs) != 0;

	lower_fault_disarm();
	if (bad)
		fprintf(stderr, "leak: %llu nodes, %llu handles\n",
			(unsigned long long)lower_inode_count(fs),
			(unsigned long long)lower_handle_count(fs));
	lower_close(fs);
	close(dirfd_);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return bad ? -1 : 0;
}

/* One operation; returns its status. The entry (if any) in @e. */
static int run(struct flt_callback_data *d)
{
	lower_perform(fs, d);
	return d->io_status.status;
}

static void forget(flt_ino_t ino)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_FORGET, ino);
	d.params.forget.nlookup = 1;
	run(&d);
}

/* The result of one step: 0, or the errno it failed with. Failing steps
 * must fail with the injected errno and nothing else. */
struct tally {
	int ok, failed, wrong;
	int want;	/* the injected errno */
	const char *wrong_step;
};

static void note(struct tally *t, const char *step, int status)
{
	if (!status)
		t->ok++;
	else if (status == t->want)
		t->failed++;
	else if (!t->wrong++)
		t->wrong_step = step;
}

/*
 * Touch every operation the lower layer has, in a fresh subdirectory
 * @sub, giving back every node reference and handle it gets, whatever
 * fails. Removes what it made (when it can).
 */
static void workload(const char *sub, struct tally *t)
{
	struct flt_callback_data d;
	flt_ino_t dino = 0, fino = 0, lino = 0, sino = 0;
	uint64_t fh = 0, dh = 0;
	char buf[4096], xbuf[64];
	int s;

#define STEP(name, op, ino, ...)                                               \
	do {                                                                   \
		core_data_init(&d, op, ino);                                   \
		__VA_ARGS__;                                                   \
		s = run(&d);                                                   \
		note(t, name, s);                                              \
	} while (0)

	STEP("mkdir", FLT_OP_MKDIR, FLT_ROOT_INO,
	     d.params.mkdir.parent = FLT_ROOT_INO, d.params.mkdir.name = sub,
	     d.params.mkdir.mode = S_IFDIR | 0755);
	if (s)
		return;	/* nothing else can run */
	dino = d.results.entry.ino;
	STEP("create", FLT_OP_CREATE, dino, d.params.create.parent = dino,
	     d.params.create.name = "f", d.params.create.mode = S_IFREG | 0644,
	     d.params.create.flags = O_RDWR);
	if (!s) {
		fino = d.results.entry.ino;
		fh = d.results.open.fh;
	}
	if (fh) {
		memset(buf, 'x', sizeof(buf));
		STEP("write", FLT_OP_WRITE, fino, d.params.write.fh = fh,
		     d.params.write.buf = buf,
		     d.params.write.size = sizeof(buf));
		STEP("read", FLT_OP_READ, fino, d.params.read.fh = fh,
		     d.params.read.buf = buf, d.params.read.size = sizeof(buf));
		STEP("fsync", FLT_OP_FSYNC, fino, d.params.fsync.fh = fh);
		STEP("fallocate", FLT_OP_FALLOCATE, fino,
		     d.params.fallocate.fh = fh,
		     d.params.fallocate.length = 8192);
		STEP("lseek", FLT_OP_LSEEK, fino, d.params.lseek.fh = fh,
		     d.params.lseek.whence = SEEK_END);
		STEP("copy_file_range", FLT_OP_COPY_FILE_RANGE, fino,
		     d.params.copy_file_range.fh_in = fh,
		     d.params.copy_file_range.ino_out = fino,
		     d.params.copy_file_range.fh_out = fh,
		     d.params.copy_file_range.off_out = 65536,
		     d.params.copy_file_range.len = 100);
		STEP("truncate", FLT_OP_SETATTR, fino,
		     d.params.setattr.to_set = FLT_SET_SIZE | FLT_SET_HAS_FH,
		     d.params.setattr.fh = fh, d.params.setattr.attr.st_size = 10);
		STEP("fchmod", FLT_OP_SETATTR, fino,
		     d.params.setattr.to_set = FLT_SET_MODE | FLT_SET_HAS_FH,
		     d.params.setattr.fh = fh,
		     d.params.setattr.attr.st_mode = S_IFREG | 0640);
		STEP("flush", FLT_OP_FLUSH, fino, d.params.flush.fh = fh);
		STEP("release", FLT_OP_RELEASE, fino, d.params.release.fh = fh);
	}
	if (fino) {
		STEP("getattr", FLT_OP_GETATTR, fino);
		STEP("chmod", FLT_OP_SETATTR, fino,
		     d.params.setattr.to_set = FLT_SET_MODE,
		     d.params.setattr.attr.st_mode = S_IFREG | 0600);
		STEP("utimes", FLT_OP_SETATTR, fino,
		     d.params.setattr.to_set = FLT_SET_ATIME_NOW |
					       FLT_SET_MTIME_NOW);
		STEP("open", FLT_OP_OPEN, fino, d.params.open.flags = O_RDONLY);
		if (!s) {
			fh = d.results.open.fh;
			STEP("release", FLT_OP_RELEASE, fino,
			     d.params.release.fh = fh);
		}
		STEP("setxattr", FLT_OP_SETXATTR, fino,
		     d.params.setxattr.name = "user.t",
		     d.params.setxattr.value = "v", d.params.setxattr.size = 1);
		if (!s) {	/* the next two need it */
			STEP("getxattr", FLT_OP_GETXATTR, fino,
			     d.params.getxattr.name = "user.t",
			     d.params.getxattr.buf = xbuf,
			     d.params.getxattr.size = sizeof(xbuf));
			STEP("removexattr", FLT_OP_REMOVEXATTR, fino,
			     d.params.removexattr.name = "user.t");
		}
		STEP("listxattr", FLT_OP_LISTXATTR, fino,
		     d.params.listxattr.buf = xbuf,
		     d.params.listxattr.size = sizeof(xbuf));
		STEP("link", FLT_OP_LINK, fino, d.params.link.newparent = dino,
		     d.params.link.newname = "l");
		if (!s)
			lino = d.results.entry.ino;
	}
	STEP("symlink", FLT_OP_SYMLINK, dino, d.params.symlink.parent = dino,
	     d.params.symlink.name = "s", d.params.symlink.target = "f");
	if (!s) {
		sino = d.results.entry.ino;
		STEP("readlink", FLT_OP_READLINK, sino);
		core_data_cleanup(&d);
	}
	if (fino)
		STEP("rename", FLT_OP_RENAME, dino,
		     d.params.rename.parent = dino, d.params.rename.name = "f",
		     d.params.rename.newparent = dino,
		     d.params.rename.newname = "g");
	STEP("statfs", FLT_OP_STATFS, dino);
	STEP("access", FLT_OP_ACCESS, dino, d.params.access.mask = R_OK);
	STEP("opendir", FLT_OP_OPENDIR, dino, d.params.open.flags = O_RDONLY);
	if (!s) {
		dh = d.results.open.fh;
		STEP("readdir", FLT_OP_READDIR, dino, d.params.readdir.fh = dh,
		     d.params.readdir.size = 4096);
		core_data_cleanup(&d);
		STEP("releasedir", FLT_OP_RELEASEDIR, dino,
		     d.params.release.fh = dh);
	}
	if (sino)
		STEP("unlink", FLT_OP_UNLINK, dino,
		     d.params.unlink.parent = dino, d.params.unlink.name = "s");
	/* give back the references, then clean up with plain syscalls so
	   the next round starts from an empty directory */
	if (lino)
		forget(lino);
	if (sino)
		forget(sino);
	if (fino)
		forget(fino);
	forget(dino);
#undef STEP
}

static void clean_sub(const char *sub)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_spec_parsing(void **state)
{
	static const char *const bad[] = {
		"pwrite", "pwrite:1", "pwrite:0:EIO", "nosuch:1:EIO",
		"openat:1:short", "pwrite:1:EWHAT", "pwrite:x:EIO",
		"pwrite:1:EIO:2:3", "pwrite:-1:EIO", "pwrite:1:0",
		"close:1:EIO", /* never failed, see sys.c */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lower_fault_arm(bad[i]), -EINVAL);
	assert_int_equal(lower_fault_arm("pwrite:5:EIO,openat:3:EMFILE,"
					 "pread:2:short,fsync:1:28:0"), 0);
	assert_int_equal(lower_fault_arm(""), 0);
	assert_int_equal(lower_fault_arm(NULL), 0);
	assert_int_equal(lower_fault_fired(), 0);
}

/* The Nth call fails, the ones before and after do not; "short" moves
 * half (the lower layer loops for the rest); TIMES=0 keeps failing until
 * disarmed. */
static void test_nth_and_short(void **state)
{
	struct flt_callback_data d;
	flt_ino_t ino;
	uint64_t fh;
	char buf[100];

	core_data_init(&d, FLT_OP_CREATE, FLT_ROOT_INO);
	d.params.create.parent = FLT_ROOT_INO;
	d.params.create.name = "f";
	d.params.create.mode = S_IFREG | 0644;
	d.params.create.flags = O_RDWR;
	assert_int_equal(run(&d), 0);
	ino = d.results.entry.ino;
	fh = d.results.open.fh;

	assert_int_equal(lower_fault_arm("pwrite:2:ENOSPC,pread:1:short"), 0);
	memset(buf, 'a', sizeof(buf));
	for (int i = 1; i <= 3; i++) {
		core_data_init(&d, FLT_OP_WRITE, ino);
		d.params.write.fh = fh;
		d.params.write.buf = buf;
		d.params.write.size = sizeof(buf);
		d.params.write.offset = (i - 1) * 100;
		assert_int_equal(run(&d), i == 2 ? -ENOSPC : 0);
		if (i != 2)
			assert_int_equal(d.io_status.information, 100);
	}
	core_data_init(&d, FLT_OP_READ, ino);
	d.params.read.fh = fh;
	d.params.read.buf = buf;
	d.params.read.size = sizeof(buf);
	/* the lower layer goes on after a short transfer */
	assert_int_equal(run(&d), 0);
	assert_int_equal(d.io_status.information, 100);
	assert_int_equal(lower_fault_fired(), 2);
	/* a short write then an error: the caller gets the partial count */
	assert_int_equal(lower_fault_arm("pwrite:1:short,pwrite:2:EIO"), 0);
	core_data_init(&d, FLT_OP_WRITE, ino);
	d.params.write.fh = fh;
	d.params.write.buf = buf;
	d.params.write.size = sizeof(buf);
	assert_int_equal(run(&d), 0);
	assert_int_equal(d.io_status.information, 50);
	assert_int_equal(lower_fault_fired(), 2);

	assert_int_equal(lower_fault_arm("fsync:1:EIO:0"), 0);
	for (int i = 0; i < 5; i++) {
		core_data_init(&d, FLT_OP_FSYNC, ino);
		d.params.fsync.fh = fh;
		assert_int_equal(run(&d), -EIO);
	}
	lower_fault_disarm();
	assert_int_equal(run(&d), 0);

	core_data_init(&d, FLT_OP_RELEASE, ino);
	d.params.release.fh = fh;
	assert_int_equal(run(&d), 0);
	forget(ino);
}

/* A lookup whose open fails leaves no node behind; a create whose open
 * fails leaves no handle. */
static void test_openat_emfile(void **state)
{
	struct flt_callback_data d;
	uint64_t nodes = lower_inode_count(fs);

	assert_int_equal(mkdirat(dirfd_, "x", 0755), 0);
	assert_int_equal(lower_fault_arm("openat:1:EMFILE"), 0);
	core_data_init(&d, FLT_OP_LOOKUP, FLT_ROOT_INO);
	d.params.lookup.parent = FLT_ROOT_INO;
	d.params.lookup.name = "x";
	assert_int_equal(run(&d), -EMFILE);
	assert_int_equal(lower_inode_count(fs), nodes);
	assert_int_equal(run(&d), 0);
	assert_int_equal(lower_inode_count(fs), nodes + 1);
	forget(d.results.entry.ino);
}

/* Every syscall, failing every time: each operation fails with the
 * injected errno or succeeds (if it does not use that syscall), never
 * another errno; nothing leaks; afterwards everything works. */
static void test_every_syscall(void **state)
{
	static const char *const ops[] = {
		"openat", "dup", "fstatat", "fstatvfs", "mkdirat",
		"symlinkat", "linkat", "unlinkat", "renameat2", "readlinkat",
		"fchmodat", "fchmod", "ftruncate", "utimensat", "faccessat",
		"pread", "pwrite", "fsync", "fallocate", "copy_file_range",
		"lseek", "fdopendir", "readdir", "getxattr", "setxattr",
		"listxattr", "removexattr",
	};
	static const struct { const char *name; int err; } errs[] = {
		{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EMFILE", EMFILE },
	};
	int fds0 = count_fds();
	uint64_t nodes0 = lower_inode_count(fs);
	char spec[64], sub[64];
	int injected_somewhere = 0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
			struct tally t = { .want = -errs[e].err };
			struct tally clean = { .want = 0 };

			snprintf(sub, sizeof(sub), "d_%s_%s", ops[i],
				 errs[e].name);
			snprintf(spec, sizeof(spec), "%s:1:%s:0", ops[i],
				 errs[e].name);
			assert_int_equal(lower_fault_arm(spec), 0);
			workload(sub, &t);
			if (t.wrong)
				fail_msg("%s: step %s failed with another "
					 "errno", spec, t.wrong_step);
			if (lower_fault_fired())
				injected_somewhere++;
			else
				fprintf(stderr, "not reached: %s\n", spec);
			lower_fault_disarm();
			assert_int_equal(lower_handle_count(fs), 0);
			assert_int_equal(lower_inode_count(fs), nodes0);
			assert_int_equal(count_fds(), fds0);

			/* the same work, now clean, succeeds in full */
			clean_sub(sub);
			workload(sub, &clean);
			if (clean.wrong)
				fail_msg("after %s: step %s still fails",
					 spec, clean.wrong_step);
			assert_int_equal(lower_handle_count(fs), 0);
			assert_int_equal(lower_inode_count(fs), nodes0);
			assert_int_equal(count_fds(), fds0);
			clean_sub(sub);
		}
	}
	/* the workload reaches every syscall in the list */
	assert_int_equal(injected_somewhere, 3 * (int)(sizeof(ops) /
						       sizeof(ops[0])));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_spec_parsing),
		T(test_nth_and_short),
		T(test_openat_emfile),
		T(test_every_syscall),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
