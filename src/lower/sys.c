/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The syscall choke point of the lower layer (overlayfs' ovl_do_*, SQLite's
 * aSyscall[]): every call into the lower file system goes through one of
 * these, so tracing and fault injection have a single place to hook. Each
 * returns its result or a negative errno, so callers never look at errno.
 */
#include "lower/lower_int.h"
#include "lower/xattrat_nr.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RET(expr)                                                              \
	do {                                                                   \
		long r_ = (long)(expr);                                        \
		return r_ < 0 ? -errno : r_;                                   \
	} while (0)

/* An armed fault (fault.c) replaces the call with its errno. close and
 * closedir are never failed: a close that "fails" has still released the
 * fd, so failing it would only teach the caller to leak. */
#define FAULT(op)                                                              \
	do {                                                                   \
		int f_ = lower_fault(op);                                      \
		if (f_ < 0)                                                    \
			return f_;                                             \
	} while (0)

int lower_sys_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	FAULT("openat");
	RET(openat(dirfd, name, flags | O_CLOEXEC, mode));
}

int lower_sys_close(int fd)
{
	RET(close(fd));
}

int lower_sys_name_to_handle_at(int dirfd, const char *name,
				struct file_handle *fh, int *mount_id,
				int flags)
{
	RET(name_to_handle_at(dirfd, name, fh, mount_id, flags));
}

int lower_sys_open_by_handle_at(int mount_fd, struct file_handle *fh,
				int flags)
{
	FAULT("open_by_handle_at");
	RET(open_by_handle_at(mount_fd, fh, flags | O_CLOEXEC));
}

/* Only the fd cache's probe at lower_open uses it (before faults are
 * armed): not a fault point. */
int lower_sys_fstatfs(int fd, struct statfs *st)
{
	RET(fstatfs(fd, st));
}

int lower_sys_dup(int fd)
{
	FAULT("dup");
	RET(fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

int lower_sys_fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
	FAULT("fstatat");
	RET(fstatat(dirfd, name, st, flags));
}

/* A stat that also says the mount (stx_mnt_id): the fstatat fault point. */
int lower_sys_statx(int dirfd, const char *name, int flags, unsigned mask,
		    struct statx *stx)
{
	FAULT("fstatat");
	RET(statx(dirfd, name, flags, mask, stx));
}

int lower_sys_fstatvfs(int fd, struct statvfs *st)
{
	FAULT("fstatvfs");
	RET(fstatvfs(fd, st));
}

int lower_sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t rdev)
{
	FAULT("mknodat");
	RET(mknodat(dirfd, name, mode, rdev));
}

int lower_sys_mkdirat(int dirfd, const char *name, mode_t mode)
{
	FAULT("mkdirat");
	RET(mkdirat(dirfd, name, mode));
}

int lower_sys_symlinkat(const char *target, int dirfd, const char *name)
{
	FAULT("symlinkat");
	RET(symlinkat(target, dirfd, name));
}

int lower_sys_linkat(int olddirfd, const char *oldname, int newdirfd,
		     const char *newname, int flags)
{
	FAULT("linkat");
	RET(linkat(olddirfd, oldname, newdirfd, newname, flags));
}

int lower_sys_unlinkat(int dirfd, const char *name, int flags)
{
	FAULT("unlinkat");
	RET(unlinkat(dirfd, name, flags));
}

int lower_sys_renameat2(int olddirfd, const char *oldname, int newdirfd,
			const char *newname, unsigned flags)
{
	FAULT("renameat2");
	RET(renameat2(olddirfd, oldname, newdirfd, newname, flags));
}

ssize_t lower_sys_readlinkat(int dirfd, const char *name, char *buf,
			     size_t size)
{
	FAULT("readlinkat");
	RET(readlinkat(dirfd, name, buf, size));
}

int lower_sys_fchmodat(int dirfd, const char *name, mode_t mode, int flags)
{
	FAULT("fchmodat");
	RET(fchmodat(dirfd, name, mode, flags));
}

int lower_sys_fchmod(int fd, mode_t mode)
{
	FAULT("fchmod");
	RET(fchmod(fd, mode));
}

int lower_sys_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid,
		       int flags)
{
	FAULT("fchownat");
	RET(fchownat(dirfd, name, uid, gid, flags));
}

int lower_sys_ftruncate(int fd, off_t size)
{
	FAULT("ftruncate");
	RET(ftruncate(fd, size));
}

int lower_sys_utimensat(int dirfd, const char *name,
			const struct timespec times[2], int flags)
{
	FAULT("utimensat");
	RET(utimensat(dirfd, name, times, flags));
}

int lower_sys_faccessat(int dirfd, const char *name, int mode, int flags)
{
	FAULT("faccessat");
	RET(faccessat(dirfd, name, mode, flags));
}

ssize_t lower_sys_pread(int fd, void *buf, size_t size, off_t off)
{
	int f = lower_fault("pread");

	if (f < 0 && f != LOWER_FAULT_SHORT)
		return f;
	if (f == LOWER_FAULT_SHORT && size > 1)
		size /= 2;
	RET(pread(fd, buf, size, off));
}

ssize_t lower_sys_pwrite(int fd, const void *buf, size_t size, off_t off)
{
	int f = lower_fault("pwrite");

	if (f < 0 && f != LOWER_FAULT_SHORT)
		return f;
	if (f == LOWER_FAULT_SHORT && size > 1)
		size /= 2;
	RET(pwrite(fd, buf, size, off));
}

int lower_sys_fsync(int fd, int datasync)
{
	FAULT("fsync");
	RET(datasync ? fdatasync(fd) : fsync(fd));
}

int lower_sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	FAULT("fallocate");
	RET(fallocate(fd, mode, off, len));
}

ssize_t lower_sys_copy_file_range(int fd_in, off_t *off_in, int fd_out,
				  off_t *off_out, size_t len, unsigned flags)
{
	FAULT("copy_file_range");
	RET(copy_file_range(fd_in, off_in, fd_out, off_out, len, flags));
}

off_t lower_sys_lseek(int fd, off_t off, int whence)
{
	off_t r;

	FAULT("lseek");
	r = lseek(fd, off, whence);

	return r < 0 ? -errno : r;
}

int lower_sys_fdopendir(int fd, DIR **out)
{
	FAULT("fdopendir");
	*out = fdopendir(fd);
	return *out ? 0 : -errno;
}

int lower_sys_closedir(DIR *dp)
{
	RET(closedir(dp));
}

int lower_sys_readdir(DIR *dp, struct dirent **out)
{
	FAULT("readdir");
	/* readdir() signals an error only through errno */
	errno = 0;
	*out = readdir(dp);
	return *out || !errno ? 0 : -errno;
}

void lower_sys_seekdir(DIR *dp, off_t off)
{
	seekdir(dp, off);
}

/* glibc's telldir cannot fail; the cookie is opaque (ext4: a hash), so a
 * "negative" value is not an error and is passed on unchanged. */
off_t lower_sys_telldir(DIR *dp)
{
	return telldir(dp);
}

ssize_t lower_sys_getxattr(const char *path, const char *name, void *buf,
			   size_t size)
{
	FAULT("getxattr");
	RET(getxattr(path, name, buf, size));
}

int lower_sys_setxattr(const char *path, const char *name, const void *value,
		       size_t size, int flags)
{
	FAULT("setxattr");
	RET(setxattr(path, name, value, size, flags));
}

ssize_t lower_sys_listxattr(const char *path, char *buf, size_t size)
{
	FAULT("listxattr");
	RET(listxattr(path, buf, size));
}

int lower_sys_removexattr(const char *path, const char *name)
{
	FAULT("removexattr");
	RET(removexattr(path, name));
}

/* The *xattrat calls (Linux 6.13; numbers in xattrat_nr.h): where they
 * have no number, -ENOSYS, and the callers use the path calls above. */
/* struct xattr_args of <linux/xattr.h> (6.13), size version 0 */
struct lower_xattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

ssize_t lower_sys_getxattrat(int dirfd, const char *path, const char *name,
			     void *buf, size_t size)
{
	FAULT("getxattr");
#ifdef __NR_getxattrat
	struct lower_xattr_args a = { (uintptr_t)buf, (uint32_t)size, 0 };

	if (size > UINT32_MAX)
		a.size = UINT32_MAX;
	RET(syscall(__NR_getxattrat, dirfd, path, 0, name, &a, sizeof(a)));
#else
	return -ENOSYS;
#endif
}

int lower_sys_setxattrat(int dirfd, const char *path, const char *name,
			 const void *value, size_t size, int flags)
{
	FAULT("setxattr");
#ifdef __NR_setxattrat
	struct lower_xattr_args a = { (uintptr_t)value, (uint32_t)size,
				      (uint32_t)flags };

	if (size > UINT32_MAX)
		return -E2BIG;
	RET(syscall(__NR_setxattrat, dirfd, path, 0, name, &a, sizeof(a)));
#else
	return -ENOSYS;
#endif
}

ssize_t lower_sys_listxattrat(int dirfd, const char *path, char *buf,
			      size_t size)
{
	FAULT("listxattr");
#ifdef __NR_listxattrat
	RET(syscall(__NR_listxattrat, dirfd, path, 0, buf, size));
#else
	return -ENOSYS;
#endif
}

int lower_sys_removexattrat(int dirfd, const char *path, const char *name)
{
	FAULT("removexattr");
#ifdef __NR_removexattrat
	RET(syscall(__NR_removexattrat, dirfd, path, 0, name));
#else
	return -ENOSYS;
#endif
}
