/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lower layer driven directly through lower_perform() on a temporary
 * directory: no mount, no manager. Each test gets a fresh directory and
 * lower_fs, and checks at teardown that every node reference and handle it
 * took was given back (inode count at baseline, no handle left).
 */
#include "core/core.h"
#include "lower/lower.h"
#include "lower/lower_int.h"
#include "lower/xattrat_nr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <pthread.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
	char dir[64];
	int dirfd;
	struct lower_fs *fs;
};

static struct fixture *fx;

/* lower_options.fd_cache of the next setup: 0 (the default bound) or a
 * tiny one, so that every operation runs on evicted nodes (reopened by
 * file handle) */
static unsigned fd_cache;
#define TINY_CACHE 8

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct lower_options opt = { .attr_timeout = 1.5,
				     .entry_timeout = 2.5,
				     .new_timeout = 7.5,
				     .keep_cache = 1,
				     .fd_cache = fd_cache };

	fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/test_lower.XXXXXX");
	if (!fx || !mkdtemp(fx->dir))
		return -1;
	fx->dirfd = open(fx->dir, O_PATH | O_DIRECTORY);
	if (fx->dirfd < 0 || lower_open(fx->dir, &opt, &fx->fs) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int setup_tiny(void **state)
{
	int ret;

	fd_cache = TINY_CACHE;
	ret = setup(state);
	fd_cache = 0;
	return ret;
}

static int teardown(void **state)
{
	int leaked = 0;

	/* every test gives back what it took */
	if (lower_inode_count(fx->fs) != 1 || lower_handle_count(fx->fs)) {
		fprintf(stderr, "leak: %llu inodes, %llu handles\n",
			(unsigned long long)lower_inode_count(fx->fs),
			(unsigned long long)lower_handle_count(fx->fs));
		leaked = -1;
	}
	/* with only the root left, only the root's fd is open */
	if (lower_fd_count(fx->fs) != 1) {
		fprintf(stderr, "leak: %llu inode fds\n",
			(unsigned long long)lower_fd_count(fx->fs));
		leaked = -1;
	}
	lower_close(fx->fs);
	close(fx->dirfd);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return leaked;
}

/* ---- helpers: one operation each, returning its status ---------------- */

static int perform(struct flt_callback_data *d)
{
	lower_perform(fx->fs, d);
	return d->io_status.status;
}

static int do_lookup(flt_ino_t parent, const char *name, struct flt_entry *e)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_LOOKUP, parent);
	d.params.lookup.parent = parent;
	d.params.lookup.name = name;
	perform(&d);
	if (e)
		*e = d.results.entry;
	return d.io_status.status;
}

static void do_forget(flt_ino_t ino, uint64_t n)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_FORGET, ino);
	d.params.forget.nlookup = n;
	perform(&d);
}

static int do_getattr(flt_ino_t ino, struct stat *st)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_GETATTR, ino);
	perform(&d);
	if (st)
		*st = d.results.attr;
	return d.io_status.status;
}

static void set_req(struct flt_callback_data *d, uid_t uid, gid_t gid)
{
	d->requestor.pid = getpid();
	d->requestor.uid = uid;
	d->requestor.gid = gid;
}

static int do_create(flt_ino_t parent, const char *name, mode_t mode,
		     int flags, struct flt_entry *e, uint64_t *fh)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_CREATE, parent);
	d.params.create.parent = parent;
	d.params.create.name = name;
	d.params.create.mode = S_IFREG | mode;
	d.params.create.flags = flags;
	perform(&d);
	if (e)
		*e = d.results.entry;
	if (fh)
		*fh = d.results.open.fh;
	return d.io_status.status;
}

static int do_open(flt_ino_t ino, int flags, uint64_t *fh)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_OPEN, ino);
	d.params.open.flags = flags;
	perform(&d);
	*fh = d.results.open.fh;
	return d.io_status.status;
}

static void do_release(flt_ino_t ino, uint64_t fh)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_RELEASE, ino);
	d.params.release.fh = fh;
	assert_int_equal(perform(&d), 0);
}

static ssize_t do_write(flt_ino_t ino, uint64_t fh, const void *buf,
			size_t size, off_t off)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_WRITE, ino);
	d.params.write.fh = fh;
	d.params.write.buf = buf;
	d.params.write.size = size;
	d.params.write.offset = off;
	if (perform(&d))
		return d.io_status.status;
	return (ssize_t)d.io_status.information;
}

static ssize_t do_read(flt_ino_t ino, uint64_t fh, void *buf, size_t size,
		       off_t off)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_READ, ino);
	d.params.read.fh = fh;
	d.params.read.buf = buf;
	d.params.read.size = size;
	d.params.read.offset = off;
	if (perform(&d))
		return d.io_status.status;
	return (ssize_t)d.io_status.information;
}

static int do_setattr(flt_ino_t ino, unsigned to_set, const struct stat *attr,
		      uint64_t fh, struct stat *out)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_SETATTR, ino);
	d.params.setattr.attr = *attr;
	d.params.setattr.to_set = to_set | (fh ? FLT_SET_HAS_FH : 0);
	d.params.setattr.fh = fh;
	perform(&d);
	if (out)
		*out = d.results.attr;
	return d.io_status.status;
}

static int do_mkdir(flt_ino_t parent, const char *name, mode_t mode,
		    uid_t uid, gid_t gid, struct flt_entry *e)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_MKDIR, parent);
	set_req(&d, uid, gid);
	d.params.mkdir.parent = parent;
	d.params.mkdir.name = name;
	d.params.mkdir.mode = mode;
	perform(&d);
	if (e)
		*e = d.results.entry;
	return d.io_status.status;
}

static int do_unlink(enum flt_op op, flt_ino_t parent, const char *name)
{
	struct flt_callback_data d;

	core_data_init(&d, op, parent);
	d.params.unlink.parent = parent;
	d.params.unlink.name = name;
	return perform(&d);
}

static int do_rename(flt_ino_t p, const char *a, flt_ino_t np, const char *b,
		     unsigned flags)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_RENAME, p);
	d.params.rename.parent = p;
	d.params.rename.name = a;
	d.params.rename.newparent = np;
	d.params.rename.newname = b;
	d.params.rename.flags = flags;
	return perform(&d);
}

static void make_file(const char *name, const char *content)
{
	int fd = openat(fx->dirfd, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	/* O_PATH dirfd is fine as the base of openat */
	assert_true(fd >= 0);
	if (content)
		assert_int_equal(write(fd, content, strlen(content)),
				 (ssize_t)strlen(content));
	close(fd);
}

/* ---- tests ------------------------------------------------------------ */

static char proc_log[512];

static void proc_log_sink(int priority, const char *line, void *arg)
{
	(void)priority;
	(void)arg;
	if (strstr(line, "/proc"))
		snprintf(proc_log, sizeof(proc_log), "%s", line);
}

/* Without /proc the lower layer cannot work (its fds are reached through
 * /proc/self/fd): lower_open fails and says why, where the caller only
 * reports an errno as LOWER's ("cannot open LOWER: No such file or
 * directory"). A child in its own mount namespace with a tmpfs over /proc:
 * skipped where that is not allowed. */
static void test_open_without_proc(void **state)
{
	struct lower_options opt = { 0 };
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lower_fs *fs2;
		int ret;

		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("none", "/proc", "tmpfs", 0, NULL))
			_exit(77);
		flt_set_log_sink(proc_log_sink, NULL);
		ret = lower_open(fx->dir, &opt, &fs2);
		if (ret == 0) {
			lower_close(fs2);
			_exit(2);
		}
		_exit(strstr(proc_log, "needs /proc mounted") ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	/* 2: opened without /proc, 3: failed without saying why */
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_open_errors(void **state)
{
	struct lower_options opt = { 0 };
	struct lower_fs *fs2;
	char path[128];

	assert_int_equal(lower_open("/nonexistent/x", &opt, &fs2), -ENOENT);
	make_file("plain", NULL);
	snprintf(path, sizeof(path), "%s/plain", fx->dir);
	assert_int_equal(lower_open(path, &opt, &fs2), -ENOTDIR);
}

static void test_lookup_forget(void **state)
{
	struct flt_entry a, b, root;
	uint64_t base = lower_inode_count(fx->fs);

	assert_int_equal(base, 1);
	make_file("f", "x");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "f", &a), 0);
	assert_int_equal(lower_inode_count(fx->fs), 2);
	assert_true(a.ino != 0 && a.ino != FLT_ROOT_INO);
	assert_true(S_ISREG(a.attr.st_mode));
	assert_true(a.attr_timeout == 1.5 && a.entry_timeout == 2.5);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "f", &b), 0);
	assert_int_equal(a.ino, b.ino);
	assert_int_equal(a.generation, b.generation);
	assert_int_equal(lower_inode_count(fx->fs), 2);
	do_forget(a.ino, 1);
	assert_int_equal(lower_inode_count(fx->fs), 2);
	do_forget(a.ino, 1);
	assert_int_equal(lower_inode_count(fx->fs), base);
	/* a new node object gets a new generation */
	assert_int_equal(do_lookup(FLT_ROOT_INO, "f", &b), 0);
	assert_true(b.generation != a.generation);
	do_forget(b.ino, 1);
	/* "." and ".." of the root are the root, never above it */
	assert_int_equal(do_lookup(FLT_ROOT_INO, "..", &root), 0);
	assert_int_equal(root.ino, FLT_ROOT_INO);
	do_forget(FLT_ROOT_INO, 1);
	assert_int_equal(lower_inode_count(fx->fs), base);
}

static void test_hardlinks_share_node(void **state)
{
	struct flt_callback_data d;
	struct flt_entry a, b;

	make_file("a", "data");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "a", &a), 0);
	core_data_init(&d, FLT_OP_LINK, a.ino);
	d.params.link.newparent = FLT_ROOT_INO;
	d.params.link.newname = "b";
	assert_int_equal(perform(&d), 0);
	assert_int_equal(d.results.entry.ino, a.ino);
	assert_int_equal(d.results.entry.attr.st_nlink, 2);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "b", &b), 0);
	assert_int_equal(b.ino, a.ino);
	assert_int_equal(lower_inode_count(fx->fs), 2);
	/* a link made outside also shares the node */
	assert_int_equal(linkat(fx->dirfd, "a", fx->dirfd, "c", 0), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "c", &b), 0);
	assert_int_equal(b.ino, a.ino);
	assert_int_equal(b.attr.st_nlink, 3);
	/* link onto an existing name */
	core_data_init(&d, FLT_OP_LINK, a.ino);
	d.params.link.newparent = FLT_ROOT_INO;
	d.params.link.newname = "c";
	assert_int_equal(perform(&d), -EEXIST);
	/* lookup a, link, lookup b, lookup c: four references */
	do_forget(a.ino, 3);
	assert_int_equal(lower_inode_count(fx->fs), 2);
	do_forget(a.ino, 1);
	assert_int_equal(lower_inode_count(fx->fs), 1);
}

static void test_create_write_read_truncate(void **state)
{
	struct flt_callback_data d;
	struct flt_entry e, e2;
	struct stat st, attr;
	uint64_t fh, fh2;
	char buf[64];

	assert_int_equal(do_create(FLT_ROOT_INO, "f", 0640, O_RDWR, &e, &fh), 0);
	assert_int_equal(e.attr.st_mode, S_IFREG | 0640);
	assert_int_equal(lower_handle_count(fx->fs), 1);
	/* O_EXCL on an existing name */
	assert_int_equal(do_create(FLT_ROOT_INO, "f", 0640, O_RDWR | O_EXCL,
				   NULL, &fh2),
			 -EEXIST);
	assert_int_equal(do_write(e.ino, fh, "hello world", 11, 0), 11);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(do_read(e.ino, fh, buf, sizeof(buf), 0), 11);
	assert_string_equal(buf, "hello world");
	assert_int_equal(do_read(e.ino, fh, buf, sizeof(buf), 100), 0);

	/* flush, fsync */
	core_data_init(&d, FLT_OP_FLUSH, e.ino);
	d.params.flush.fh = fh;
	assert_int_equal(perform(&d), 0);
	core_data_init(&d, FLT_OP_FSYNC, e.ino);
	d.params.fsync.fh = fh;
	d.params.fsync.datasync = 1;
	assert_int_equal(perform(&d), 0);

	/* truncate through the handle and without one */
	memset(&attr, 0, sizeof(attr));
	attr.st_size = 5;
	assert_int_equal(do_setattr(e.ino, FLT_SET_SIZE, &attr, fh, &st), 0);
	assert_int_equal(st.st_size, 5);
	attr.st_size = 2;
	assert_int_equal(do_setattr(e.ino, FLT_SET_SIZE, &attr, 0, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_size, 2);

	/* create without O_EXCL of an existing file opens it, O_TRUNC */
	assert_int_equal(do_create(FLT_ROOT_INO, "f", 0600, O_RDWR | O_TRUNC,
				   &e2, &fh2),
			 0);
	assert_int_equal(e2.ino, e.ino);
	assert_int_equal(e2.attr.st_mode, S_IFREG | 0640); /* not re-made */
	assert_int_equal(e2.attr.st_size, 0);
	do_release(e.ino, fh2);

	/* O_APPEND writes at the end whatever the offset */
	assert_int_equal(do_open(e.ino, O_WRONLY | O_APPEND, &fh2), 0);
	assert_int_equal(do_write(e.ino, fh2, "ab", 2, 0), 2);
	assert_int_equal(do_write(e.ino, fh2, "cd", 2, 0), 2);
	do_release(e.ino, fh2);
	assert_int_equal(do_read(e.ino, fh, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "abcd", 4);

	/* read from a write-only handle fails as the lower fs says */
	assert_int_equal(do_open(e.ino, O_WRONLY, &fh2), 0);
	assert_int_equal(do_read(e.ino, fh2, buf, 4, 0), -EBADF);
	do_release(e.ino, fh2);

	do_release(e.ino, fh);
	assert_int_equal(lower_handle_count(fx->fs), 0);
	do_forget(e.ino, 2);
}

/* An open of a file on a local file system without a flush method needs
 * no FLUSH (no_flush); the flush, if asked anyway, still works. */
static void test_no_flush(void **state)
{
	struct flt_callback_data d;
	struct flt_entry e;
	struct statfs sfs;
	bool local;

	(void)state;
	assert_int_equal(statfs(fx->dir, &sfs), 0);
	local = sfs.f_type == EXT4_SUPER_MAGIC || sfs.f_type == TMPFS_MAGIC ||
		sfs.f_type == XFS_SUPER_MAGIC ||
		sfs.f_type == BTRFS_SUPER_MAGIC;
	if (!local || geteuid() != 0)
		skip(); /* no handles (CAP_DAC_READ_SEARCH) or not local */
	core_data_init(&d, FLT_OP_CREATE, FLT_ROOT_INO);
	d.params.create.parent = FLT_ROOT_INO;
	d.params.create.name = "nf";
	d.params.create.mode = S_IFREG | 0600;
	d.params.create.flags = O_RDWR;
	perform(&d);
	assert_int_equal(d.io_status.status, 0);
	assert_true(d.results.open.no_flush);
	e = d.results.entry;
	do_release(e.ino, d.results.open.fh);

	core_data_init(&d, FLT_OP_OPEN, e.ino);
	d.params.open.flags = O_RDONLY;
	perform(&d);
	assert_int_equal(d.io_status.status, 0);
	assert_true(d.results.open.no_flush);
	{
		struct flt_callback_data f;
		uint64_t fh = d.results.open.fh;

		core_data_init(&f, FLT_OP_FLUSH, e.ino);
		f.params.flush.fh = fh;
		perform(&f);
		assert_int_equal(f.io_status.status, 0);
		do_release(e.ino, fh);
	}
	do_forget(e.ino, 1);
}

static void test_unlinked_open_file(void **state)
{
	struct flt_entry e;
	uint64_t fh, fh2;
	struct stat st;
	char buf[8];

	assert_int_equal(do_create(FLT_ROOT_INO, "gone", 0600, O_RDWR, &e,
				   &fh),
			 0);
	assert_int_equal(do_write(e.ino, fh, "abc", 3, 0), 3);
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "gone"), 0);
	/* the node still reaches the inode: reopen, stat, truncate */
	assert_int_equal(do_open(e.ino, O_RDONLY, &fh2), 0);
	assert_int_equal(do_read(e.ino, fh2, buf, sizeof(buf), 0), 3);
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	memset(&st, 0, sizeof(st));
	st.st_size = 1;
	assert_int_equal(do_setattr(e.ino, FLT_SET_SIZE, &st, 0, &st), 0);
	assert_int_equal(st.st_size, 1);
	do_release(e.ino, fh2);
	do_release(e.ino, fh);
	do_forget(e.ino, 1);
}

static void test_setattr_mode_owner_times(void **state)
{
	struct flt_callback_data d;
	struct stat attr, st;
	struct flt_entry e, l;

	make_file("f", "x");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "f", &e), 0);
	memset(&attr, 0, sizeof(attr));
	attr.st_mode = S_IFREG | 04711;
	attr.st_uid = 1234;
	attr.st_gid = 5678;
	/* owner and mode together: the mode sent must stick */
	assert_int_equal(do_setattr(e.ino, FLT_SET_MODE | FLT_SET_UID |
						   FLT_SET_GID,
				    &attr, 0, &st),
			 0);
	assert_int_equal(st.st_mode, S_IFREG | 04711);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_true(st.st_mtime == e.attr.st_mtime ||
		    st.st_mtime >= e.attr.st_mtime);
	/* times: atime given, mtime omitted */
	attr.st_atim.tv_sec = 1000000;
	attr.st_atim.tv_nsec = 5;
	assert_int_equal(do_setattr(e.ino, FLT_SET_ATIME, &attr, 0, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_atim.tv_nsec, 5);
	assert_int_equal(st.st_mtime, e.attr.st_mtime);
	attr.st_mtim.tv_sec = 2000000;
	attr.st_mtim.tv_nsec = 0;
	assert_int_equal(do_setattr(e.ino, FLT_SET_MTIME | FLT_SET_ATIME_NOW,
				    &attr, 0, &st),
			 0);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_true(st.st_atim.tv_sec > 1000000);

	/* symlinks: mode is EOPNOTSUPP, times and owner work, readlink */
	assert_int_equal(symlinkat("some/target", fx->dirfd, "l"), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "l", &l), 0);
	assert_true(S_ISLNK(l.attr.st_mode));
	attr.st_mode = S_IFLNK | 0600;
	assert_int_equal(do_setattr(l.ino, FLT_SET_MODE, &attr, 0, &st),
			 -EOPNOTSUPP);
	assert_int_equal(do_setattr(l.ino, FLT_SET_MTIME | FLT_SET_UID, &attr,
				    0, &st),
			 0);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(st.st_uid, 1234);
	assert_true(S_ISLNK(st.st_mode));
	core_data_init(&d, FLT_OP_READLINK, l.ino);
	assert_int_equal(perform(&d), 0);
	assert_string_equal(d.results.link, "some/target");
	core_data_cleanup(&d);

	do_forget(e.ino, 1);
	do_forget(l.ino, 1);
}

/* What the operation made gets new_timeout; a name it found (a create
 * of an existing file without O_EXCL, a lookup) the ordinary ones. A
 * create by root keeps root's ownership without a chown. */
static void test_new_timeouts(void **state)
{
	struct flt_entry e, x, l;
	uint64_t fh, fh2;

	assert_int_equal(do_create(FLT_ROOT_INO, "n", 0640, O_WRONLY | O_EXCL,
				   &e, &fh), 0);
	assert_true(e.attr_timeout == 7.5 && e.entry_timeout == 7.5);
	assert_int_equal(e.attr.st_uid, 0);
	assert_int_equal(e.attr.st_gid, 0);
	assert_int_equal(e.attr.st_mode, S_IFREG | 0640);
	assert_int_equal(do_create(FLT_ROOT_INO, "n", 0640, O_WRONLY, &x,
				   &fh2), 0);
	assert_int_equal(x.ino, e.ino);
	assert_true(x.attr_timeout == 1.5 && x.entry_timeout == 2.5);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "n", &l), 0);
	assert_true(l.attr_timeout == 1.5 && l.entry_timeout == 2.5);
	do_release(e.ino, fh2);
	do_release(e.ino, fh);
	do_forget(e.ino, 3);
	assert_int_equal(do_mkdir(FLT_ROOT_INO, "d", 0755, 0, 0, &e), 0);
	assert_true(e.attr_timeout == 7.5 && e.entry_timeout == 7.5);
	do_forget(e.ino, 1);
	assert_int_equal(lower_inode_count(fx->fs), 1);
}

static void test_new_object_ownership(void **state)
{
	struct flt_callback_data d;
	struct flt_entry e, s, c, n;
	struct stat st;
	uint64_t fh;

	/* mkdir as a requestor gets its uid/gid; S_ISGID in the mode of
	 * mkdir is ignored, as Linux does */
	assert_int_equal(do_mkdir(FLT_ROOT_INO, "d", 02775, 1234, 5678, &e), 0);
	assert_int_equal(e.attr.st_uid, 1234);
	assert_int_equal(e.attr.st_gid, 5678);
	assert_int_equal(e.attr.st_mode, S_IFDIR | 0775);
	st.st_mode = S_IFDIR | 02775;
	assert_int_equal(do_setattr(e.ino, FLT_SET_MODE, &st, 0, &st), 0);
	/* the parent is set-group-ID: its gid wins and dirs inherit S_ISGID */
	assert_int_equal(do_mkdir(e.ino, "sub", 0755, 42, 43, &s), 0);
	assert_int_equal(s.attr.st_uid, 42);
	assert_int_equal(s.attr.st_gid, 5678);
	assert_true(s.attr.st_mode & S_ISGID);
	/* create: a set-user-ID mode survives the chown */
	core_data_init(&d, FLT_OP_CREATE, FLT_ROOT_INO);
	set_req(&d, 1234, 99);
	d.params.create.parent = FLT_ROOT_INO;
	d.params.create.name = "suid";
	d.params.create.mode = S_IFREG | 04755;
	d.params.create.flags = O_WRONLY;
	assert_int_equal(perform(&d), 0);
	c = d.results.entry;
	fh = d.results.open.fh;
	assert_int_equal(c.attr.st_mode, S_IFREG | 04755);
	assert_int_equal(c.attr.st_uid, 1234);
	assert_int_equal(c.attr.st_gid, 99);
	assert_int_equal(fstatat(fx->dirfd, "suid", &st, 0), 0);
	assert_int_equal(st.st_uid, 1234);
	/* a write by the owner (no kill_priv) keeps S_ISUID */
	core_data_init(&d, FLT_OP_WRITE, c.ino);
	d.params.write.fh = fh;
	d.params.write.buf = "x";
	d.params.write.size = 1;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(do_getattr(c.ino, &st), 0);
	assert_int_equal(st.st_mode & 07777, 04755);
	/* a write that must kill privileges (non-owner) clears S_ISUID, and
	 * S_ISGID only with group-exec */
	st.st_mode = S_IFREG | 06745;
	assert_int_equal(do_setattr(c.ino, FLT_SET_MODE, &st, 0, &st), 0);
	d.params.write.kill_priv = 1;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(do_getattr(c.ino, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02745);
	st.st_mode = S_IFREG | 06755;
	assert_int_equal(do_setattr(c.ino, FLT_SET_MODE, &st, 0, &st), 0);
	assert_int_equal(perform(&d), 0);
	assert_int_equal(do_getattr(c.ino, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	do_release(c.ino, fh);
	/* mknod: a fifo and a socket, owned by the requestor */
	core_data_init(&d, FLT_OP_MKNOD, FLT_ROOT_INO);
	set_req(&d, 7, 8);
	d.params.mknod.parent = FLT_ROOT_INO;
	d.params.mknod.name = "fifo";
	d.params.mknod.mode = S_IFIFO | 0600;
	assert_int_equal(perform(&d), 0);
	n = d.results.entry;
	assert_true(S_ISFIFO(n.attr.st_mode));
	assert_int_equal(n.attr.st_uid, 7);
	assert_int_equal(n.attr.st_gid, 8);
	do_forget(n.ino, 1);
	d.params.mknod.name = "sock";
	d.params.mknod.mode = S_IFSOCK | 0600;
	assert_int_equal(perform(&d), 0);
	assert_true(S_ISSOCK(d.results.entry.attr.st_mode));
	do_forget(d.results.entry.ino, 1);
	/* symlink */
	core_data_init(&d, FLT_OP_SYMLINK, FLT_ROOT_INO);
	set_req(&d, 7, 8);
	d.params.symlink.parent = FLT_ROOT_INO;
	d.params.symlink.name = "sl";
	d.params.symlink.target = "/somewhere/else";
	assert_int_equal(perform(&d), 0);
	assert_true(S_ISLNK(d.results.entry.attr.st_mode));
	assert_int_equal(d.results.entry.attr.st_uid, 7);
	do_forget(d.results.entry.ino, 1);
	/* root requestor: left as made */
	assert_int_equal(do_mkdir(FLT_ROOT_INO, "r", 0700, 0, 0, &n), 0);
	assert_int_equal(n.attr.st_uid, 0);
	do_forget(n.ino, 1);

	do_forget(c.ino, 1);
	do_forget(s.ino, 1);
	do_forget(e.ino, 1);
}

/* Read a whole directory through readdir with @budget bytes per call,
 * continuing at the returned offsets; count how often each "fNNN" name and
 * "."/".." show up. For plus, forget every entry reference. */
static void read_dir_budget(flt_ino_t dir, int plus, size_t budget,
			    int *seen, int nfiles, int *dots)
{
	struct flt_callback_data d;
	uint64_t fh;
	off_t off = 0;
	int calls = 0;

	core_data_init(&d, FLT_OP_OPENDIR, dir);
	assert_int_equal(perform(&d), 0);
	fh = d.results.open.fh;
	for (;;) {
		size_t used = 0;

		core_data_init(&d, FLT_OP_READDIR, dir);
		d.params.readdir.fh = fh;
		d.params.readdir.offset = off;
		d.params.readdir.size = budget;
		d.params.readdir.plus = plus;
		assert_int_equal(perform(&d), 0);
		calls++;
		if (!d.results.dirents.n)
			break;
		for (size_t i = 0; i < d.results.dirents.n; i++) {
			struct flt_dirent *de = &d.results.dirents.v[i];
			int k;

			used += flt_dirent_size(strlen(de->name), plus);
			if (!strcmp(de->name, ".") || !strcmp(de->name, "..")) {
				(*dots)++;
				if (plus) {
					assert_int_equal(de->entry.ino, 0);
					assert_true(S_ISDIR(
						de->entry.attr.st_mode));
					assert_true(de->entry.attr.st_ino != 0);
				}
				continue;
			}
			assert_int_equal(sscanf(de->name, "f%d", &k), 1);
			assert_true(k >= 0 && k < nfiles);
			seen[k]++;
			if (plus) {
				assert_true(de->entry.ino != 0);
				assert_int_equal(de->entry.attr.st_ino,
						 de->ino);
				assert_true(S_ISREG(de->entry.attr.st_mode));
				assert_true(de->entry.entry_timeout == 2.5);
				do_forget(de->entry.ino, 1);
			}
			assert_int_equal(de->type, DT_REG);
		}
		/* within the budget, or exactly one entry */
		assert_true(used <= budget || d.results.dirents.n == 1);
		off = d.results.dirents.v[d.results.dirents.n - 1].next_off;
		core_data_cleanup(&d);
	}
	core_data_cleanup(&d);
	assert_true(calls > 1);
	core_data_init(&d, FLT_OP_RELEASEDIR, dir);
	d.params.release.fh = fh;
	assert_int_equal(perform(&d), 0);
}

static void test_readdir_budgets(void **state)
{
	enum { N = 150 };
	static const size_t budgets[] = { 1, 100, 333, 4096, 1 << 20 };
	int seen[N], dots;
	char name[64];
	struct flt_entry e;

	assert_int_equal(mkdirat(fx->dirfd, "d", 0755), 0);
	for (int i = 0; i < N; i++) {
		/* names of varied lengths */
		snprintf(name, sizeof(name), "d/f%d%.*s", i, i % 40,
			 "_______________________________________________");
		make_file(name, NULL);
	}
	assert_int_equal(do_lookup(FLT_ROOT_INO, "d", &e), 0);
	for (int plus = 0; plus <= 1; plus++) {
		for (size_t b = 0; b < sizeof(budgets) / sizeof(*budgets);
		     b++) {
			if (budgets[b] == 1 << 20)
				continue; /* single call: asserted > 1 */
			memset(seen, 0, sizeof(seen));
			dots = 0;
			read_dir_budget(e.ino, plus, budgets[b], seen, N,
					&dots);
			for (int i = 0; i < N; i++)
				assert_int_equal(seen[i], 1);
			assert_int_equal(dots, 2);
			assert_int_equal(lower_inode_count(fx->fs), 2);
		}
	}
	do_forget(e.ino, 1);
}

/* Going back to an earlier offset (the kernel does after a seekdir) gives
 * the entries from there again, and an offset 0 restarts. */
static void test_readdir_seek_back(void **state)
{
	struct flt_callback_data d, d2;
	char first_names[4][64];
	uint64_t fh;
	off_t mid;
	char name[16];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		make_file(name, NULL);
	}
	core_data_init(&d, FLT_OP_OPENDIR, FLT_ROOT_INO);
	assert_int_equal(perform(&d), 0);
	fh = d.results.open.fh;
	core_data_init(&d, FLT_OP_READDIR, FLT_ROOT_INO);
	d.params.readdir.fh = fh;
	d.params.readdir.size = 1 << 16;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(d.results.dirents.n, 22);
	for (int i = 0; i < 4; i++)
		strcpy(first_names[i], d.results.dirents.v[i + 5].name);
	mid = d.results.dirents.v[4].next_off;
	core_data_cleanup(&d);
	/* at the end now; continue from mid */
	core_data_init(&d2, FLT_OP_READDIR, FLT_ROOT_INO);
	d2.params.readdir.fh = fh;
	d2.params.readdir.offset = mid;
	d2.params.readdir.size = flt_dirent_size(3, 0) * 4;
	assert_int_equal(perform(&d2), 0);
	assert_true(d2.results.dirents.n >= 3);
	for (size_t i = 0; i < d2.results.dirents.n && i < 4; i++)
		assert_string_equal(d2.results.dirents.v[i].name,
				    first_names[i]);
	core_data_cleanup(&d2);
	core_data_init(&d2, FLT_OP_READDIR, FLT_ROOT_INO);
	d2.params.readdir.fh = fh;
	d2.params.readdir.offset = 0;
	d2.params.readdir.size = 1 << 16;
	assert_int_equal(perform(&d2), 0);
	assert_int_equal(d2.results.dirents.n, 22);
	core_data_cleanup(&d2);
	core_data_init(&d, FLT_OP_RELEASEDIR, FLT_ROOT_INO);
	d.params.release.fh = fh;
	assert_int_equal(perform(&d), 0);
}

static void test_rename_flags(void **state)
{
	struct flt_entry a, b, a2, b2, dir;

	make_file("a", "A");
	make_file("b", "B");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "a", &a), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "b", &b), 0);
	assert_int_equal(do_rename(FLT_ROOT_INO, "a", FLT_ROOT_INO, "b",
				   RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(do_rename(FLT_ROOT_INO, "a", FLT_ROOT_INO, "b",
				   RENAME_EXCHANGE),
			 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "a", &a2), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "b", &b2), 0);
	assert_int_equal(a2.ino, b.ino);
	assert_int_equal(b2.ino, a.ino);
	assert_int_equal(do_rename(FLT_ROOT_INO, "a", FLT_ROOT_INO, "nope",
				   RENAME_EXCHANGE),
			 -ENOENT);
	/* into another directory, and a plain replace */
	assert_int_equal(do_mkdir(FLT_ROOT_INO, "dir", 0755, 0, 0, &dir), 0);
	assert_int_equal(do_rename(FLT_ROOT_INO, "a", dir.ino, "moved",
				   RENAME_NOREPLACE),
			 0);
	assert_int_equal(do_lookup(dir.ino, "moved", &a2), 0);
	assert_int_equal(a2.ino, b.ino);
	assert_int_equal(do_rename(dir.ino, "moved", FLT_ROOT_INO, "b", 0), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "a", NULL), -ENOENT);
	do_forget(a.ino, 2);
	do_forget(b.ino, 3);
	do_forget(dir.ino, 1);
}

static void test_xattrs(void **state)
{
	struct flt_callback_data d;
	struct flt_entry e, l;
	char buf[256];

	make_file("f", NULL);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "f", &e), 0);
	core_data_init(&d, FLT_OP_SETXATTR, e.ino);
	d.params.setxattr.name = "user.test";
	d.params.setxattr.value = "value1";
	d.params.setxattr.size = 6;
	d.params.setxattr.flags = XATTR_CREATE;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(perform(&d), -EEXIST);
	/* size 0: the size needed */
	core_data_init(&d, FLT_OP_GETXATTR, e.ino);
	d.params.getxattr.name = "user.test";
	assert_int_equal(perform(&d), 0);
	assert_int_equal(d.io_status.information, 6);
	d.params.getxattr.buf = buf;
	d.params.getxattr.size = 3;
	assert_int_equal(perform(&d), -ERANGE);
	d.params.getxattr.size = sizeof(buf);
	assert_int_equal(perform(&d), 0);
	assert_int_equal(d.io_status.information, 6);
	assert_memory_equal(buf, "value1", 6);
	core_data_init(&d, FLT_OP_LISTXATTR, e.ino);
	assert_int_equal(perform(&d), 0);
	assert_true(d.io_status.information >= sizeof("user.test"));
	d.params.listxattr.buf = buf;
	d.params.listxattr.size = sizeof(buf);
	assert_int_equal(perform(&d), 0);
	assert_non_null(memmem(buf, d.io_status.information, "user.test",
			       sizeof("user.test")));
	core_data_init(&d, FLT_OP_REMOVEXATTR, e.ino);
	d.params.removexattr.name = "user.test";
	assert_int_equal(perform(&d), 0);
	assert_int_equal(perform(&d), -ENODATA);
	core_data_init(&d, FLT_OP_GETXATTR, e.ino);
	d.params.getxattr.name = "user.test";
	assert_int_equal(perform(&d), -ENODATA);

	/* symlinks: what Linux says natively, on the link, not the target */
	assert_int_equal(symlinkat("f", fx->dirfd, "l"), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "l", &l), 0);
	core_data_init(&d, FLT_OP_SETXATTR, l.ino);
	d.params.setxattr.name = "user.test";
	d.params.setxattr.value = "v";
	d.params.setxattr.size = 1;
	assert_int_equal(perform(&d), -EPERM);
	d.params.setxattr.name = "trusted.test";
	assert_int_equal(perform(&d), 0);
	core_data_init(&d, FLT_OP_GETXATTR, e.ino);
	d.params.getxattr.name = "trusted.test";
	assert_int_equal(perform(&d), -ENODATA); /* not on the target */
	core_data_init(&d, FLT_OP_GETXATTR, l.ino);
	d.params.getxattr.name = "trusted.test";
	assert_int_equal(perform(&d), 0);
	assert_int_equal(d.io_status.information, 1);
	do_forget(e.ino, 1);
	do_forget(l.ino, 1);
}

#ifdef __NR_getxattrat
/* In a child: a seccomp filter answers @err to the four *xattrat calls,
 * then a fresh lower_open (its probe meets the filter) and every xattr
 * operation on "f" and "l". 0: all as natively; 77: no seccomp here;
 * otherwise the step that went wrong. No cmocka asserts in a child. */
static int xattrs_filtered(int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __NR_setxattrat, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, __NR_removexattrat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct lower_options opt = { .attr_timeout = 1, .entry_timeout = 1 };
	struct flt_callback_data d;
	struct flt_entry e, l;
	char buf[256];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 77;
	if (syscall(__NR_getxattrat, fx->dirfd, "f", 0, "user.x", NULL, 0) !=
		    -1 || errno != err)
		return 10;	/* the filter does not work as meant */
	if (lower_open(fx->dir, &opt, &fx->fs))
		return 11;
	if (do_lookup(FLT_ROOT_INO, "f", &e) || do_lookup(FLT_ROOT_INO, "l", &l))
		return 12;
	core_data_init(&d, FLT_OP_SETXATTR, e.ino);
	d.params.setxattr.name = "user.test";
	d.params.setxattr.value = "value1";
	d.params.setxattr.size = 6;
	d.params.setxattr.flags = XATTR_CREATE;
	if (perform(&d))
		return 13;
	core_data_init(&d, FLT_OP_GETXATTR, e.ino);
	d.params.getxattr.name = "user.test";
	if (perform(&d) || d.io_status.information != 6)
		return 14;
	d.params.getxattr.buf = buf;
	d.params.getxattr.size = sizeof(buf);
	if (perform(&d) || memcmp(buf, "value1", 6))
		return 15;
	core_data_init(&d, FLT_OP_LISTXATTR, e.ino);
	d.params.listxattr.buf = buf;
	d.params.listxattr.size = sizeof(buf);
	if (perform(&d) || !memmem(buf, d.io_status.information, "user.test",
				   sizeof("user.test")))
		return 16;
	core_data_init(&d, FLT_OP_REMOVEXATTR, e.ino);
	d.params.removexattr.name = "user.test";
	if (perform(&d) || perform(&d) != -ENODATA)
		return 17;
	/* a symlink's user.* is EPERM to set natively too */
	core_data_init(&d, FLT_OP_SETXATTR, l.ino);
	d.params.setxattr.name = "user.test";
	d.params.setxattr.value = "v";
	d.params.setxattr.size = 1;
	if (perform(&d) != -EPERM)
		return 18;
	do_forget(e.ino, 1);
	do_forget(l.ino, 1);
	lower_close(fx->fs);
	return 0;
}
#endif

/* Without the *xattrat calls (ENOSYS: a kernel before 6.13; EPERM or
 * EINVAL: a seccomp filter written before them) every xattr operation
 * works through the /proc/self/fd/N path calls: lower_open's probe sees
 * the calls fail and the lower layer never uses them. Each errno in a
 * child of its own behind a seccomp filter. */
static void test_xattrs_without_xattrat(void **state)
{
#ifdef __NR_getxattrat
	static const int errs[] = { ENOSYS, EPERM, EINVAL };

	(void)state;
	make_file("f", NULL);
	assert_int_equal(symlinkat("f", fx->dirfd, "l"), 0);
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(xattrs_filtered(errs[i]));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == 77)
			skip();
		if (WEXITSTATUS(status))
			fail_msg("*xattrat answering %s: step %d failed",
				 strerror(errs[i]), WEXITSTATUS(status));
	}
#else
	(void)state;
	skip();
#endif
}

static int do_lseek(flt_ino_t ino, uint64_t fh, off_t off, int whence,
		    off_t *out)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_LSEEK, ino);
	d.params.lseek.fh = fh;
	d.params.lseek.offset = off;
	d.params.lseek.whence = whence;
	perform(&d);
	*out = d.results.offset;
	return d.io_status.status;
}

static void test_sparse_and_large(void **state)
{
	const off_t big = 5LL << 30; /* past 4 GiB */
	struct flt_callback_data d;
	struct flt_entry e;
	struct stat attr, st;
	char buf[4096], rb[4096];
	uint64_t fh;
	off_t r;

	memset(buf, 'z', sizeof(buf));
	assert_int_equal(do_create(FLT_ROOT_INO, "sparse", 0644, O_RDWR, &e,
				   &fh),
			 0);
	assert_int_equal(do_write(e.ino, fh, buf, sizeof(buf), 1 << 20),
			 (ssize_t)sizeof(buf));
	assert_int_equal(do_write(e.ino, fh, "tail", 4, big), 4);
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_size, big + 4);
	assert_int_equal(do_lseek(e.ino, fh, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 1 << 20);
	assert_int_equal(do_lseek(e.ino, fh, 1 << 20, SEEK_HOLE, &r), 0);
	assert_int_equal(r, (1 << 20) + 4096);
	assert_int_equal(do_lseek(e.ino, fh, (1 << 20) + 4096, SEEK_DATA, &r),
			 0);
	assert_true(r > (off_t)1 << 32 && r <= big);
	assert_int_equal(do_lseek(e.ino, fh, big + 4, SEEK_DATA, &r), -ENXIO);
	assert_int_equal(do_lseek(e.ino, fh, 0, SEEK_END, &r), 0);
	assert_int_equal(r, big + 4);
	assert_int_equal(do_lseek(e.ino, fh, 17, SEEK_SET, &r), 0);
	assert_int_equal(r, 17);
	/* reads above 4 GiB, and a hole reads as zeros */
	assert_int_equal(do_read(e.ino, fh, rb, 10, big), 4);
	assert_memory_equal(rb, "tail", 4);
	assert_int_equal(do_read(e.ino, fh, rb, 8, big - 8), 8);
	assert_memory_equal(rb, "\0\0\0\0\0\0\0\0", 8);
	/* truncate above 4 GiB */
	memset(&attr, 0, sizeof(attr));
	attr.st_size = (6LL << 30) + 1;
	assert_int_equal(do_setattr(e.ino, FLT_SET_SIZE, &attr, 0, &st), 0);
	assert_int_equal(st.st_size, (6LL << 30) + 1);
	/* fallocate a hole punch */
	core_data_init(&d, FLT_OP_FALLOCATE, e.ino);
	d.params.fallocate.fh = fh;
	d.params.fallocate.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	d.params.fallocate.offset = 1 << 20;
	d.params.fallocate.length = 4096;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(do_read(e.ino, fh, rb, 4, 1 << 20), 4);
	assert_memory_equal(rb, "\0\0\0\0", 4);
	do_release(e.ino, fh);
	do_forget(e.ino, 1);
}

static void test_copy_file_range(void **state)
{
	struct flt_callback_data d;
	struct flt_entry a, b;
	uint64_t fa, fb;
	char buf[16] = { 0 };

	assert_int_equal(do_create(FLT_ROOT_INO, "src", 0644, O_RDWR, &a, &fa),
			 0);
	assert_int_equal(do_create(FLT_ROOT_INO, "dst", 0644, O_RDWR, &b, &fb),
			 0);
	assert_int_equal(do_write(a.ino, fa, "0123456789", 10, 0), 10);
	core_data_init(&d, FLT_OP_COPY_FILE_RANGE, a.ino);
	d.params.copy_file_range.fh_in = fa;
	d.params.copy_file_range.off_in = 2;
	d.params.copy_file_range.ino_out = b.ino;
	d.params.copy_file_range.fh_out = fb;
	d.params.copy_file_range.off_out = 1;
	d.params.copy_file_range.len = 5;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(d.io_status.information, 5);
	assert_int_equal(do_read(b.ino, fb, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "\0" "23456", 6);
	do_release(a.ino, fa);
	do_release(b.ino, fb);
	do_forget(a.ino, 1);
	do_forget(b.ino, 1);
}

static void test_odirect_unaligned(void **state)
{
	struct flt_entry e;
	uint64_t fh;
	char *mem;
	int ret;

	/* an unaligned buffer and length on an O_DIRECT handle */
	assert_int_equal(posix_memalign((void **)&mem, 4096, 3 * 4096), 0);
	memset(mem, 'q', 3 * 4096);
	ret = do_create(FLT_ROOT_INO, "dio", 0644, O_RDWR | O_DIRECT, &e, &fh);
	if (ret == -EINVAL) {
		free(mem);
		skip(); /* lower fs without O_DIRECT */
	}
	assert_int_equal(ret, 0);
	/* aligned length from an unaligned buffer: bounced */
	assert_int_equal(do_write(e.ino, fh, mem + 1, 8192, 0), 8192);
	/* an unaligned length is the lower fs's EINVAL, as natively */
	assert_int_equal(do_write(e.ino, fh, mem, 100, 0), -EINVAL);
	memset(mem, 0, 3 * 4096);
	assert_int_equal(do_read(e.ino, fh, mem + 3, 100, 4096), 100);
	assert_int_equal(mem[2], 0);
	assert_int_equal(mem[3], 'q');
	assert_int_equal(mem[102], 'q');
	assert_int_equal(mem[103], 0);
	/* a read past EOF through the bounce is short */
	assert_int_equal(do_read(e.ino, fh, mem + 1, 5000, 4096), 4096);
	/* a misaligned offset: the lower fs's EINVAL */
	assert_int_equal(do_read(e.ino, fh, mem, 4096, 1), -EINVAL);
	do_release(e.ino, fh);
	do_forget(e.ino, 1);
	free(mem);
}

static void test_errno_passthrough(void **state)
{
	char longname[300];
	struct flt_callback_data d;
	struct flt_entry e;

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(do_lookup(FLT_ROOT_INO, longname, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(do_mkdir(FLT_ROOT_INO, longname, 0755, 0, 0, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "missing", NULL), -ENOENT);
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "missing"),
			 -ENOENT);
	assert_int_equal(do_mkdir(FLT_ROOT_INO, "d", 0755, 0, 0, &e), 0);
	assert_int_equal(do_mkdir(FLT_ROOT_INO, "d", 0755, 0, 0, NULL), -EEXIST);
	make_file("d/x", NULL);
	assert_int_equal(do_unlink(FLT_OP_RMDIR, FLT_ROOT_INO, "d"),
			 -ENOTEMPTY);
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "d"), -EISDIR);
	assert_int_equal(do_unlink(FLT_OP_RMDIR, e.ino, "x"), -ENOTDIR);
	assert_int_equal(do_unlink(FLT_OP_UNLINK, e.ino, "x"), 0);
	assert_int_equal(do_unlink(FLT_OP_RMDIR, FLT_ROOT_INO, "d"), 0);
	/* the removed directory's node still answers */
	assert_int_equal(do_getattr(e.ino, NULL), 0);
	assert_int_equal(do_mkdir(e.ino, "x", 0755, 0, 0, NULL), -ENOENT);
	do_forget(e.ino, 1);

	/* statfs and access */
	core_data_init(&d, FLT_OP_STATFS, FLT_ROOT_INO);
	assert_int_equal(perform(&d), 0);
	assert_true(d.results.statfs.f_bsize > 0);
	core_data_init(&d, FLT_OP_ACCESS, FLT_ROOT_INO);
	d.params.access.mask = R_OK | X_OK;
	assert_int_equal(perform(&d), 0);
	make_file("noexec", NULL);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "noexec", &e), 0);
	core_data_init(&d, FLT_OP_ACCESS, e.ino);
	d.params.access.mask = X_OK;
	assert_int_equal(perform(&d), -EACCES);
	do_forget(e.ino, 1);
	/* an unknown operation code */
	core_data_init(&d, FLT_OP_COUNT, FLT_ROOT_INO);
	assert_int_equal(perform(&d), -ENOSYS);
}

/* Lookups, forgets, links and readdirplus from several threads at once on
 * the same names: the table stays consistent (hard links resolve to one
 * node) and every reference comes back (run under TSan for the locks). */
enum { MT_THREADS = 4, MT_ROUNDS = 300, MT_NAMES = 8 };

static void *mt_worker(void *arg)
{
	long id = (long)arg;
	char name[16];

	for (int r = 0; r < MT_ROUNDS; r++) {
		struct flt_entry a, b;
		int k = (int)((r + id) % MT_NAMES);

		snprintf(name, sizeof(name), "m%d", k);
		if (do_lookup(FLT_ROOT_INO, name, &a) != 0)
			return (void *)1;
		snprintf(name, sizeof(name), "h%d", k);
		if (do_lookup(FLT_ROOT_INO, name, &b) != 0)
			return (void *)2;
		if (a.ino != b.ino)
			return (void *)3;
		if (r % 50 == 0) {
			struct flt_callback_data d;
			uint64_t fh;

			core_data_init(&d, FLT_OP_OPENDIR, FLT_ROOT_INO);
			if (perform(&d))
				return (void *)4;
			fh = d.results.open.fh;
			core_data_init(&d, FLT_OP_READDIR, FLT_ROOT_INO);
			d.params.readdir.fh = fh;
			d.params.readdir.size = 1 << 16;
			d.params.readdir.plus = 1;
			if (perform(&d))
				return (void *)5;
			for (size_t i = 0; i < d.results.dirents.n; i++)
				if (d.results.dirents.v[i].entry.ino)
					do_forget(d.results.dirents.v[i]
							  .entry.ino,
						  1);
			core_data_cleanup(&d);
			core_data_init(&d, FLT_OP_RELEASEDIR, FLT_ROOT_INO);
			d.params.release.fh = fh;
			perform(&d);
		}
		do_forget(a.ino, 1);
		do_forget(b.ino, 1);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[MT_THREADS];
	char name[16], name2[16];

	for (int i = 0; i < MT_NAMES; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		snprintf(name2, sizeof(name2), "h%d", i);
		make_file(name, NULL);
		assert_int_equal(linkat(fx->dirfd, name, fx->dirfd, name2, 0),
				 0);
	}
	for (long i = 0; i < MT_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, mt_worker,
						(void *)i),
				 0);
	for (int i = 0; i < MT_THREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(lower_inode_count(fx->fs), 1);
	assert_int_equal(lower_handle_count(fx->fs), 0);
}

/* Directory @dname with files "f0".."f<n-1>", all looked up: their node
 * ids in @ino, the directory's (looked up too) in @dir. */
static void make_dir_of_nodes(const char *dname, int n, flt_ino_t *ino,
			      struct flt_entry *dir)
{
	struct flt_entry e;
	char name[300];

	assert_int_equal(mkdirat(fx->dirfd, dname, 0755), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/f%d", dname, i);
		make_file(name, NULL);
	}
	assert_int_equal(do_lookup(FLT_ROOT_INO, dname, dir), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(do_lookup(dir->ino, name, &e), 0);
		ino[i] = e.ino;
	}
}

/* Enough nodes to make the table grow several times (and, with one fd per
 * node, more than the default soft RLIMIT_NOFILE of 1024). */
static void test_many_nodes(void **state)
{
	enum { N = 3000 };
	flt_ino_t *ino = calloc(N, sizeof(*ino));
	struct flt_entry dir, e;
	char name[32];

	assert_non_null(ino);
	make_dir_of_nodes("many", N, ino, &dir);
	assert_int_equal(lower_inode_count(fx->fs), 2 + N);
	/* after growth every node is still found, with the same id */
	for (int i = 0; i < N; i += 7) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(do_lookup(dir.ino, name, &e), 0);
		assert_int_equal(e.ino, ino[i]);
		do_forget(e.ino, 1);
	}
	for (int i = 0; i < N; i++)
		do_forget(ino[i], 1);
	do_forget(dir.ino, 1);
	free(ino);
}

/* ---- the inode fd cache (run with TINY_CACHE) ------------------------- */

/* Open fds of this process, from /proc/self/fd. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

/* Look up names "e0".."e19" in the root, then forget them: while they
 * live they push every other unused fd out of a TINY_CACHE cache. */
static void evict_all(void)
{
	enum { N = 2 * TINY_CACHE + 4 };
	struct flt_entry e[N];
	uint64_t before = lower_fd_count(fx->fs);
	char name[16];

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		if (faccessat(fx->dirfd, name, F_OK, AT_EACCESS))
			make_file(name, NULL);
		assert_int_equal(do_lookup(FLT_ROOT_INO, name, &e[i]), 0);
	}
	assert_true(lower_fd_count(fx->fs) <= before + TINY_CACHE);
	for (int i = 0; i < N; i++)
		do_forget(e[i].ino, 1);
}

/* A readdirplus of nodes the table has but whose fds were evicted gives
 * each its fd again by name (lower_lookup_dirent), within the cache bound:
 * the entries just listed need no open_by_handle_at (failed here). */
static void test_fdcache_readdirplus_refresh(void **state)
{
	enum { N = 4 * TINY_CACHE };
	struct flt_callback_data d;
	struct flt_entry dir;
	flt_ino_t ino[N];
	struct stat st;
	size_t listed = 0;
	uint64_t fh;

	make_dir_of_nodes("d", N, ino, &dir);
	core_data_init(&d, FLT_OP_OPENDIR, dir.ino);
	assert_int_equal(perform(&d), 0);
	fh = d.results.open.fh;
	core_data_init(&d, FLT_OP_READDIR, dir.ino);
	d.params.readdir.fh = fh;
	d.params.readdir.size = 1 << 20;
	d.params.readdir.plus = 1;
	assert_int_equal(perform(&d), 0);
	assert_int_equal(lower_fd_count(fx->fs), TINY_CACHE + 2);
	/* the last TINY_CACHE entries listed have their fds */
	assert_int_equal(lower_fault_arm("open_by_handle_at:1:EIO:0"), 0);
	for (size_t i = d.results.dirents.n; i-- > 0;) {
		struct flt_dirent *de = &d.results.dirents.v[i];
		int k;

		if (sscanf(de->name, "f%d", &k) != 1)
			continue;
		assert_int_equal(de->entry.ino, ino[k]);
		if (listed++ < TINY_CACHE)
			assert_int_equal(do_getattr(de->entry.ino, &st), 0);
		do_forget(de->entry.ino, 1);
	}
	assert_int_equal(lower_fault_fired(), 0);
	lower_fault_disarm();
	assert_int_equal(listed, N);
	core_data_cleanup(&d);
	core_data_init(&d, FLT_OP_RELEASEDIR, dir.ino);
	d.params.release.fh = fh;
	assert_int_equal(perform(&d), 0);
	for (int i = 0; i < N; i++)
		do_forget(ino[i], 1);
	do_forget(dir.ino, 1);
}

/* The child of test_fdcache_readdirplus_other_mount, in its own mount
 * namespace: 0, 77 (no bind mount here) or the step that failed. */
static int readdirplus_other_mount_child(void)
{
	enum { N = 2 * TINY_CACHE + 4 };
	struct lower_options opt = { .fd_cache = TINY_CACHE };
	struct flt_callback_data d;
	struct flt_entry dir, f, ro, e[N];
	char path[128], ropath[128], name[16];
	uint64_t fh;
	int ret = 0, fd;

	snprintf(path, sizeof(path), "%s/D", fx->dir);
	snprintf(ropath, sizeof(ropath), "%s/ro", fx->dir);
	if (mkdir(path, 0755) || mkdir(ropath, 0755))
		return 2;
	fd = openat(fx->dirfd, "D/f", O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		return 2;
	close(fd);
	/* W/g: f's other name, outside the bind mount */
	if (mkdirat(fx->dirfd, "W", 0755) ||
	    linkat(fx->dirfd, "D/f", fx->dirfd, "W/g", 0))
		return 2;
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(path, ropath, NULL, MS_BIND, NULL) ||
	    mount(NULL, ropath, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
		return 77;
	/* a volume of this namespace (the fixture's sees no bind mount) */
	if (lower_open(fx->dir, &opt, &fx->fs))
		return 3;
	/* D's node is ro's (one inode), seen first through the bind mount:
	 * its fd is on it (and it has no handle). f's node, seen by its
	 * writable name W/g, has a handle on LOWER's root mount. */
	if (do_lookup(FLT_ROOT_INO, "ro", &ro) ||
	    do_lookup(FLT_ROOT_INO, "W", &dir) || do_lookup(dir.ino, "g", &f))
		return 4;
	/* f's fd pushed out of the cache by live nodes (as evict_all) */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		fd = openat(fx->dirfd, name, O_CREAT | O_WRONLY, 0644);
		if (fd < 0 || do_lookup(FLT_ROOT_INO, name, &e[i]))
			return 5;
		close(fd);
	}
	for (int i = 0; i < N; i++)
		do_forget(e[i].ino, 1);
	/* a readdirplus of the read-only bind mount names f */
	core_data_init(&d, FLT_OP_OPENDIR, ro.ino);
	if (perform(&d))
		return 6;
	fh = d.results.open.fh;
	core_data_init(&d, FLT_OP_READDIR, ro.ino);
	d.params.readdir.fh = fh;
	d.params.readdir.size = 1 << 20;
	d.params.readdir.plus = 1;
	if (perform(&d))
		return 7;
	for (size_t i = 0; i < d.results.dirents.n; i++) {
		struct flt_dirent *de = &d.results.dirents.v[i];

		if (strcmp(de->name, ".") && strcmp(de->name, ".."))
			do_forget(de->entry.ino, 1);
	}
	core_data_cleanup(&d);
	core_data_init(&d, FLT_OP_RELEASEDIR, ro.ino);
	d.params.release.fh = fh;
	if (perform(&d))
		return 8;
	/* f opened for write by its writable name's node: EROFS when the
	 * readdirplus of ro gave it an fd of the read-only mount */
	if (do_open(f.ino, O_WRONLY, &fh))
		ret = 9;
	else if (do_write(f.ino, fh, "x", 1, 0) != 1)
		ret = 10;
	else {
		core_data_init(&d, FLT_OP_RELEASE, f.ino);
		d.params.release.fh = fh;
		perform(&d);
	}
	do_forget(f.ino, 1);
	do_forget(ro.ino, 1);
	do_forget(dir.ino, 1);
	lower_close(fx->fs);
	return ret;
}

/* A node is keyed on (st_dev, st_ino), not the mount: the same file is
 * reachable in LOWER through a read-only bind mount of a directory of it.
 * A readdirplus there must not give the node, whose handle reopens on
 * LOWER's root mount, an fd of the bind mount (a write by the volume's own
 * name then failed with EROFS). A child in its own mount namespace:
 * skipped where bind mounts are not allowed. */
static void test_fdcache_readdirplus_other_mount(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(readdirplus_other_mount_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	/* 9: the open for write failed (EROFS) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A read-only open opens no fd: the fast path gets the node's O_PATH fd,
 * and the first operation that needs a file opens it (ops_file.c,
 * open_deferrable). Write opens stay eager. */
static void test_deferred_open(void **state)
{
	struct flt_callback_data d;
	struct flt_entry e;
	uint64_t fh, fh2;
	struct stat st, bst;
	char buf[8];
	int fds;

	(void)state;
	assert_int_equal(do_create(FLT_ROOT_INO, "lazy", 0600, O_RDWR, &e,
				   &fh),
			 0);
	assert_int_equal(do_write(e.ino, fh, "hello", 5, 0), 5);
	do_release(e.ino, fh);

	fds = count_fds();
	core_data_init(&d, FLT_OP_OPEN, e.ino);
	d.params.open.flags = O_RDONLY;
	perform(&d);
	assert_int_equal(d.io_status.status, 0);
	fh = d.results.open.fh;
	assert_int_equal(count_fds(), fds);	/* nothing opened */
	/* the backing fd is the node's O_PATH fd, of the same inode */
	assert_true(d.results.open.backing_fd >= 0);
	assert_true(fcntl(d.results.open.backing_fd, F_GETFL) & O_PATH);
	assert_int_equal(fstat(d.results.open.backing_fd, &bst), 0);
	assert_int_equal(bst.st_ino, e.attr.st_ino);
	/* GETATTR with the handle: the node's fd serves it */
	core_data_init(&d, FLT_OP_GETATTR, e.ino);
	d.params.getattr.has_fh = 1;
	d.params.getattr.fh = fh;
	perform(&d);
	assert_int_equal(d.io_status.status, 0);
	assert_int_equal(d.results.attr.st_size, 5);
	assert_int_equal(count_fds(), fds);
	/* a FLUSH of a handle never used has nothing to close */
	core_data_init(&d, FLT_OP_FLUSH, e.ino);
	d.params.flush.fh = fh;
	perform(&d);
	assert_int_equal(d.io_status.status, 0);
	/* the file is opened by the first READ, even after an unlink (the
	 * handle pins the node's fd) */
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "lazy"), 0);
	assert_int_equal(do_read(e.ino, fh, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(count_fds(), fds + 1);
	assert_int_equal(do_read(e.ino, fh, buf, sizeof(buf), 1), 4);
	assert_int_equal(count_fds(), fds + 1);	/* opened once */
	/* a write open is eager and hands out its own readable fd */
	core_data_init(&d, FLT_OP_OPEN, e.ino);
	d.params.open.flags = O_RDWR;
	perform(&d);
	assert_int_equal(d.io_status.status, 0);
	fh2 = d.results.open.fh;
	assert_int_equal(fcntl(d.results.open.backing_fd, F_GETFL) & O_ACCMODE,
			 O_RDWR);
	assert_int_equal(count_fds(), fds + 2);
	do_release(e.ino, fh2);
	do_release(e.ino, fh);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	do_forget(e.ino, 1);
}

/* A deferred handle released without any use opens and closes nothing;
 * FSYNC and FDATASYNC on one whose fd was never opened succeed (they open
 * it: the kernel may send them for a file written through another open
 * of the inode). */
static void test_deferred_open_unused(void **state)
{
	struct flt_callback_data d;
	struct flt_entry e;
	uint64_t fh;
	int fds;

	(void)state;
	make_file("unused", "data");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "unused", &e), 0);
	fds = count_fds();
	assert_int_equal(do_open(e.ino, O_RDONLY, &fh), 0);
	do_release(e.ino, fh);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(lower_handle_count(fx->fs), 0);
	for (int datasync = 0; datasync <= 1; datasync++) {
		assert_int_equal(do_open(e.ino, O_RDONLY, &fh), 0);
		core_data_init(&d, FLT_OP_FSYNC, e.ino);
		d.params.fsync.fh = fh;
		d.params.fsync.datasync = datasync;
		assert_int_equal(perform(&d), 0);
		do_release(e.ino, fh);
		assert_int_equal(count_fds(), fds);
	}
	do_forget(e.ino, 1);
}

struct first_read {
	flt_ino_t ino;
	uint64_t fh;
	pthread_barrier_t *go;
	ssize_t got;
};

static void *first_read_thread(void *arg)
{
	struct first_read *r = arg;
	char buf[8];

	pthread_barrier_wait(r->go);
	r->got = do_read(r->ino, r->fh, buf, sizeof(buf), 0);
	if (r->got == 5 && memcmp(buf, "hello", 5))
		r->got = -1;
	return NULL;
}

/* Many first READs of one deferred handle at once: each opens an fd, one
 * is published (lower_handle_fd) and the others are closed, so the
 * handle holds one fd and the release leaves none. Rounds, since the
 * race is a narrow window. */
static void test_deferred_open_first_reads(void **state)
{
	enum { THREADS = 8, ROUNDS = 50 };
	struct first_read r[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t go;
	struct flt_entry e;
	uint64_t fh;
	int fds;

	(void)state;
	make_file("race", "hello");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "race", &e), 0);
	fds = count_fds();
	pthread_barrier_init(&go, NULL, THREADS);
	for (int round = 0; round < ROUNDS; round++) {
		assert_int_equal(do_open(e.ino, O_RDONLY, &fh), 0);
		assert_int_equal(count_fds(), fds);
		for (int i = 0; i < THREADS; i++) {
			r[i] = (struct first_read){ e.ino, fh, &go, 0 };
			assert_int_equal(pthread_create(&tid[i], NULL,
							first_read_thread,
							&r[i]), 0);
		}
		for (int i = 0; i < THREADS; i++) {
			pthread_join(tid[i], NULL);
			assert_int_equal(r[i].got, 5);
		}
		assert_int_equal(count_fds(), fds + 1);
		do_release(e.ino, fh);
		assert_int_equal(count_fds(), fds);
	}
	pthread_barrier_destroy(&go);
	do_forget(e.ino, 1);
}

/* The child of test_deferred_open_unprivileged, as nobody (no
 * capabilities) on @dir, which nobody owns: the step that failed, or 0. */
static int deferred_unprivileged_child(const char *dir)
{
	struct lower_options opt = { .attr_timeout = 1, .entry_timeout = 1 };
	struct flt_callback_data d;
	struct flt_entry e;
	char path[128], buf[8];
	uint64_t fh;
	int fd, step = 0;

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return 77;
	step++;	/* 1 */
	if (lower_open(dir, &opt, &fx->fs) != 0)
		return step;
	snprintf(path, sizeof(path), "%s/f", dir);
	step++;	/* 2 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, "hello", 5) != 5 || close(fd))
		return step;
	step++;	/* 3 */
	if (do_lookup(FLT_ROOT_INO, "f", &e) != 0)
		return step;
	step++;	/* 4: the requestor could read it at open(2) */
	if (do_open(e.ino, O_RDONLY, &fh) != 0)
		return step;
	step++;	/* 5 */
	if (chmod(path, 0) != 0)
		return step;
	/* 6: as a native fd, the open one still reads */
	step++;
	if (do_read(e.ino, fh, buf, sizeof(buf), 0) != 5 ||
	    memcmp(buf, "hello", 5))
		return step;
	step++;	/* 7 */
	core_data_init(&d, FLT_OP_RELEASE, e.ino);
	d.params.release.fh = fh;
	if (perform(&d) != 0)
		return step;
	do_forget(e.ino, 1);
	lower_close(fx->fs);
	return 0;
}

/* A daemon that cannot read every file (a user's mount: no
 * CAP_DAC_OVERRIDE) must not defer a read-only open: a chmod 000 between
 * open and the first READ would make the READ fail (EACCES), where an fd
 * opened by open(2) keeps reading. */
static void test_deferred_open_unprivileged(void **state)
{
	char dir[] = "/tmp/test_lower_nobody.XXXXXX", path[64];
	int status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chown(dir, 65534, 65534), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(deferred_unprivileged_child(dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	if (WEXITSTATUS(status))
		fail_msg("as nobody: step %d failed", WEXITSTATUS(status));
}

static void test_fdcache_bounded(void **state)
{
	enum { N = 100 };
	flt_ino_t ino[N];
	struct flt_entry e;
	struct stat st;
	char name[16], buf[16];
	uint64_t fh;
	int base = count_fds();

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		make_file(name, name);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(do_lookup(FLT_ROOT_INO, name, &e), 0);
		ino[i] = e.ino;
	}
	/* N nodes, at most TINY_CACHE unused fds (+ the root's) */
	assert_int_equal(lower_inode_count(fx->fs), N + 1);
	assert_true(lower_fd_count(fx->fs) <= TINY_CACHE + 1);
	assert_true(count_fds() <= base + TINY_CACHE);
	/* every node still works, reopened by handle */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(do_getattr(ino[i], &st), 0);
		assert_int_equal(st.st_size, (off_t)strlen(name));
		assert_int_equal(do_open(ino[i], O_RDONLY, &fh), 0);
		memset(buf, 0, sizeof(buf));
		assert_int_equal(do_read(ino[i], fh, buf, sizeof(buf), 0),
				 (ssize_t)strlen(name));
		assert_string_equal(buf, name);
		do_release(ino[i], fh);
		memset(&st, 0, sizeof(st));
		st.st_mode = 0600 + (i % 2) * 040;
		assert_int_equal(do_setattr(ino[i], FLT_SET_MODE, &st, 0, &st),
				 0);
		assert_int_equal(st.st_mode & 07777, 0600 + (i % 2) * 040);
	}
	assert_true(lower_fd_count(fx->fs) <= TINY_CACHE + 1);
	/* rename and unlink evicted nodes; their ids keep working */
	evict_all();
	assert_int_equal(do_rename(FLT_ROOT_INO, "f0", FLT_ROOT_INO, "g0", 0),
			 0);
	assert_int_equal(do_getattr(ino[0], &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "g0", &e), 0);
	assert_int_equal(e.ino, ino[0]);
	do_forget(e.ino, 1);
	for (int i = 0; i < N; i++)
		do_forget(ino[i], 1);
	assert_int_equal(lower_fd_count(fx->fs), 1);
	assert_int_equal(count_fds(), base);
}

static int do_link(flt_ino_t ino, const char *newname, struct flt_entry *e)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_LINK, ino);
	d.params.link.newparent = FLT_ROOT_INO;
	d.params.link.newname = newname;
	perform(&d);
	if (e)
		*e = d.results.entry;
	return d.io_status.status;
}

/* Hard links: one node; unlinking one of two names keeps the node
 * reachable by handle, unlinking the last keeps its fd pinned. */
static void test_fdcache_hardlinks(void **state)
{
	struct flt_entry a, b;
	struct stat st;

	make_file("a", "data");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "a", &a), 0);
	evict_all();
	assert_int_equal(lower_fd_count(fx->fs), 1);
	assert_int_equal(do_link(a.ino, "b", &b), 0);
	assert_int_equal(b.ino, a.ino);
	assert_int_equal(b.attr.st_nlink, 2);
	evict_all();
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "a"), 0);
	evict_all();
	/* one name left: not pinned, reopened by handle */
	assert_int_equal(lower_fd_count(fx->fs), 1);
	assert_int_equal(do_getattr(a.ino, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "b"), 0);
	evict_all();
	/* no name left: the pinned fd still answers */
	assert_int_equal(do_getattr(a.ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(lower_fd_count(fx->fs), 2);
	do_forget(a.ino, 2);
	assert_int_equal(lower_fd_count(fx->fs), 1);
}

/* Unlinked while open, and replaced by a rename: the kernel may still
 * use the node, which can no longer be reopened by handle. */
static void test_fdcache_unlinked(void **state)
{
	struct flt_entry e, t;
	uint64_t fh, fh2;
	struct stat st;
	char buf[8];

	assert_int_equal(do_create(FLT_ROOT_INO, "gone", 0600, O_RDWR, &e,
				   &fh),
			 0);
	assert_int_equal(do_write(e.ino, fh, "abc", 3, 0), 3);
	evict_all();
	assert_int_equal(do_unlink(FLT_OP_UNLINK, FLT_ROOT_INO, "gone"), 0);
	evict_all();
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(do_open(e.ino, O_RDONLY, &fh2), 0);
	assert_int_equal(do_read(e.ino, fh2, buf, sizeof(buf), 0), 3);
	memset(&st, 0, sizeof(st));
	st.st_mode = 0640;
	assert_int_equal(do_setattr(e.ino, FLT_SET_MODE, &st, fh, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	st.st_size = 1;
	assert_int_equal(do_setattr(e.ino, FLT_SET_SIZE, &st, 0, &st), 0);
	assert_int_equal(st.st_size, 1);
	do_release(e.ino, fh2);
	do_release(e.ino, fh);
	evict_all();
	/* released, but the node is known and was seen unlinked: pinned */
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_size, 1);
	do_forget(e.ino, 1);

	/* rename over a known node */
	make_file("src", "new");
	make_file("dst", "old!");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "dst", &t), 0);
	evict_all();
	assert_int_equal(do_rename(FLT_ROOT_INO, "src", FLT_ROOT_INO, "dst", 0),
			 0);
	evict_all();
	assert_int_equal(do_getattr(t.ino, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_size, 4);
	do_forget(t.ino, 1);

	/* a removed directory (a cwd) */
	assert_int_equal(mkdirat(fx->dirfd, "d", 0755), 0);
	assert_int_equal(do_lookup(FLT_ROOT_INO, "d", &t), 0);
	evict_all();
	assert_int_equal(do_unlink(FLT_OP_RMDIR, FLT_ROOT_INO, "d"), 0);
	evict_all();
	assert_int_equal(do_getattr(t.ino, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	do_forget(t.ino, 1);
}

/* Deleted behind our back in the lower directory while evicted: ESTALE,
 * which the kernel turns into a fresh lookup; or (ext4 may still find a
 * freed inode by handle) the attributes of a file without links. Never
 * another file's. */
static void test_fdcache_deleted_outside(void **state)
{
	struct flt_entry e;
	struct stat st;
	int ret;

	make_file("x", "1");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "x", &e), 0);
	evict_all();
	assert_int_equal(lower_fd_count(fx->fs), 1); /* x's is closed */
	assert_int_equal(unlinkat(fx->dirfd, "x", 0), 0);
	ret = do_getattr(e.ino, &st);
	if (ret == 0) {
		assert_int_equal(st.st_nlink, 0);
		assert_int_equal(st.st_ino, e.attr.st_ino);
	} else {
		assert_int_equal(ret, -ESTALE);
	}
	assert_int_equal(do_lookup(FLT_ROOT_INO, "x", NULL), -ENOENT);
	do_forget(e.ino, 1);
}

/* A failed reopen is the operation's error, and leaves nothing behind. */
static void test_fdcache_reopen_fault(void **state)
{
	struct flt_entry e;
	struct stat st;

	make_file("r", "12");
	assert_int_equal(do_lookup(FLT_ROOT_INO, "r", &e), 0);
	evict_all();
	assert_int_equal(lower_fd_count(fx->fs), 1);
	assert_int_equal(lower_fault_arm("open_by_handle_at:1:EIO"), 0);
	assert_int_equal(do_getattr(e.ino, &st), -EIO);
	lower_fault_disarm();
	assert_int_equal(do_getattr(e.ino, &st), 0);
	assert_int_equal(st.st_size, 2);
	do_forget(e.ino, 1);
}

/* ---- the watch: a name event racing a lookup (watch.c) ---------------- */

struct watch_rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *name;		/* the root's name to count */
	unsigned entries, inodes;	/* inval_entry of it, inval_inode */
	struct timespec at[2];		/* of the first two inval_entry */
};

static int rec_entry(void *arg, flt_ino_t parent, const char *name)
{
	struct watch_rec *r = arg;

	pthread_mutex_lock(&r->lock);
	if (parent == FLT_ROOT_INO && !strcmp(name, r->name)) {
		if (r->entries < 2)
			clock_gettime(CLOCK_MONOTONIC, &r->at[r->entries]);
		r->entries++;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int rec_inode(void *arg, flt_ino_t ino, bool data)
{
	struct watch_rec *r = arg;

	pthread_mutex_lock(&r->lock);
	r->inodes++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* until *@count (under r->lock) reaches @n: false after 10 s */
static bool rec_wait(struct watch_rec *r, const unsigned *count, unsigned n)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&r->lock);
	while (*count < n &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0)
		;
	ok = *count >= n;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* the watch ignores our own process: changes come from a child */
static void child_rename(const char *from, const char *to)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (!pid)
		_exit(renameat(fx->dirfd, from, fx->dirfd, to) ? 1 : 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void child_chmod(const char *name, mode_t mode)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (!pid)
		_exit(fchmodat(fx->dirfd, name, mode, 0) ? 1 : 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int lookup_in(struct lower_fs *fs, const char *name,
		     struct flt_entry *e)
{
	struct flt_callback_data d;

	core_data_init(&d, FLT_OP_LOOKUP, FLT_ROOT_INO);
	d.params.lookup.parent = FLT_ROOT_INO;
	d.params.lookup.name = name;
	lower_perform(fs, &d);
	*e = d.results.entry;
	return d.io_status.status;
}

/*
 * A name event in a directory the kernel knows moves the volume's
 * dirent_seq before its inval_entry: a reply that read the lower before
 * (seq taken then) gets the short entry timeout, one begun after keeps
 * the long one, and an attribute event moves nothing. The inval_entry is
 * sent a second time, WATCH_RESEND_MS (50) later.
 */
static void test_watch_dirent_seq(void **state)
{
	struct lower_options opt = { .attr_timeout = -1,
				     .entry_timeout = -1,
				     .new_timeout = -1 };
	struct watch_rec r = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER,
			       .name = "a" };
	struct lower_watch_hooks hooks = { rec_inode, rec_entry, &r };
	struct lower_fs *fs;
	struct flt_entry a, b, e;
	uint64_t seq0, seq1;
	unsigned inodes;
	long gap_ms;

	make_file("a", "old");
	make_file("b", "new");
	assert_int_equal(lower_open(fx->dir, &opt, &fs), 0);
	if (!lower_watching(fs)) {
		lower_close(fs);
		skip();
	}
	assert_int_equal(lower_watch_start(fs, &hooks), 0);
	assert_int_equal(lookup_in(fs, "a", &a), 0);
	assert_true(a.entry_timeout > 60 && a.attr_timeout > 60);

	/* a lookup that read "a" (seq0) before "b" replaced it */
	seq0 = lower_dirent_seq(fs);
	child_rename("b", "a");
	assert_true(rec_wait(&r, &r.entries, 1));
	seq1 = lower_dirent_seq(fs);
	assert_true(seq1 != seq0);
	e = a;
	lower_dirent_settle(fs, seq0, &e);
	assert_true(e.entry_timeout == 1.0);
	assert_true(e.attr_timeout == a.attr_timeout); /* attr_version */
	/* one that began after the event: the long timeout */
	e = a;
	lower_dirent_settle(fs, seq1, &e);
	assert_true(e.entry_timeout == a.entry_timeout);
	assert_int_equal(lookup_in(fs, "a", &b), 0);
	assert_true(b.ino != a.ino && b.entry_timeout > 60);

	/* the second inval_entry of "a", not before its delay */
	assert_true(rec_wait(&r, &r.entries, 2));
	gap_ms = (r.at[1].tv_sec - r.at[0].tv_sec) * 1000 +
		 (r.at[1].tv_nsec - r.at[0].tv_nsec) / 1000000;
	assert_true(gap_ms >= 40);

	/* attributes: an inval_inode, the counter stays */
	pthread_mutex_lock(&r.lock);
	inodes = r.inodes;
	pthread_mutex_unlock(&r.lock);
	seq1 = lower_dirent_seq(fs);
	child_chmod("a", 0600);
	assert_true(rec_wait(&r, &r.inodes, inodes + 1));
	assert_true(lower_dirent_seq(fs) == seq1);

	lower_watch_stop(fs);
	lower_inode_unref(fs, lower_inode_get(fs, a.ino), 1);
	lower_inode_unref(fs, lower_inode_get(fs, b.ino), 1);
	lower_close(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open_errors),
		T(test_open_without_proc),
		T(test_lookup_forget),
		T(test_watch_dirent_seq),
		T(test_hardlinks_share_node),
		T(test_create_write_read_truncate),
		T(test_no_flush),
		T(test_unlinked_open_file),
		T(test_deferred_open),
		T(test_deferred_open_unprivileged),
		T(test_deferred_open_first_reads),
		T(test_deferred_open_unused),
		T(test_setattr_mode_owner_times),
		T(test_new_object_ownership),
		T(test_new_timeouts),
		T(test_readdir_budgets),
		T(test_readdir_seek_back),
		T(test_rename_flags),
		T(test_xattrs),
		T(test_sparse_and_large),
		T(test_copy_file_range),
		T(test_odirect_unaligned),
		T(test_errno_passthrough),
		T(test_threads),
		T(test_many_nodes),
#undef T
	/* the same again with a tiny fd cache: every path on evicted nodes */
#define TT(f) cmocka_unit_test_setup_teardown(f, setup_tiny, teardown)
		TT(test_lookup_forget),
		TT(test_hardlinks_share_node),
		TT(test_create_write_read_truncate),
		TT(test_unlinked_open_file),
		TT(test_deferred_open),
		TT(test_setattr_mode_owner_times),
		TT(test_new_object_ownership),
		TT(test_readdir_budgets),
		TT(test_readdir_seek_back),
		TT(test_rename_flags),
		TT(test_xattrs),
		TT(test_sparse_and_large),
		TT(test_copy_file_range),
		TT(test_odirect_unaligned),
		TT(test_errno_passthrough),
		TT(test_threads),
		TT(test_many_nodes),
		TT(test_fdcache_bounded),
		TT(test_fdcache_readdirplus_refresh),
		TT(test_fdcache_readdirplus_other_mount),
		TT(test_fdcache_hardlinks),
		TT(test_fdcache_unlinked),
		TT(test_fdcache_deleted_outside),
		TT(test_fdcache_reopen_fault),
		TT(test_xattrs_without_xattrat),
#undef TT
	};

	if (geteuid() != 0) {
		/* ownership and trusted.* xattrs need root */
		fprintf(stderr, "test_lower: needs root, skipping\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
