/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The syscall choke point of the lower layer (overlayfs' ovl_do_*, SQLite's
 * aSyscall[]): every call into the lower file system goes through one of
 * these, so tracing and fault injection have a single place to hook. Each
 * returns its result or a negative errno, so callers never look at errno.
 */
#include "lower/lower_int.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RET(expr)                                                              \
	do {                                                                   \
		long r_ = (long)(expr);                                        \
		return r_ < 0 ? -errno : r_;                                   \
	} while (0)

int lower_sys_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	RET(openat(dirfd, name, flags | O_CLOEXEC, mode));
}

int lower_sys_close(int fd)
{
	RET(close(fd));
}

int lower_sys_dup(int fd)
{
	RET(fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

int lower_sys_fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
	RET(fstatat(dirfd, name, st, flags));
}

int lower_sys_fstatvfs(int fd, struct statvfs *st)
{
	RET(fstatvfs(fd, st));
}

int lower_sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t rdev)
{
	RET(mknodat(dirfd, name, mode, rdev));
}

int lower_sys_mkdirat(int dirfd, const char *name, mode_t mode)
{
	RET(mkdirat(dirfd, name, mode));
}

int lower_sys_symlinkat(const char *target, int dirfd, const char *name)
{
	RET(symlinkat(target, dirfd, name));
}

int lower_sys_linkat(int olddirfd, const char *oldname, int newdirfd,
		     const char *newname, int flags)
{
	RET(linkat(olddirfd, oldname, newdirfd, newname, flags));
}

int lower_sys_unlinkat(int dirfd, const char *name, int flags)
{
	RET(unlinkat(dirfd, name, flags));
}

int lower_sys_renameat2(int olddirfd, const char *oldname, int newdirfd,
			const char *newname, unsigned flags)
{
	RET(renameat2(olddirfd, oldname, newdirfd, newname, flags));
}

ssize_t lower_sys_readlinkat(int dirfd, const char *name, char *buf,
			     size_t size)
{
	RET(readlinkat(dirfd, name, buf, size));
}

int lower_sys_fchmodat(int dirfd, const char *name, mode_t mode, int flags)
{
	RET(fchmodat(dirfd, name, mode, flags));
}

int lower_sys_fchmod(int fd, mode_t mode)
{
	RET(fchmod(fd, mode));
}

int lower_sys_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid,
		       int flags)
{
	RET(fchownat(dirfd, name, uid, gid, flags));
}

int lower_sys_ftruncate(int fd, off_t size)
{
	RET(ftruncate(fd, size));
}

int lower_sys_utimensat(int dirfd, const char *name,
			const struct timespec times[2], int flags)
{
	RET(utimensat(dirfd, name, times, flags));
}

int lower_sys_faccessat(int dirfd, const char *name, int mode, int flags)
{
	RET(faccessat(dirfd, name, mode, flags));
}

ssize_t lower_sys_pread(int fd, void *buf, size_t size, off_t off)
{
	RET(pread(fd, buf, size, off));
}

ssize_t lower_sys_pwrite(int fd, const void *buf, size_t size, off_t off)
{
	RET(pwrite(fd, buf, size, off));
}

int lower_sys_fsync(int fd, int datasync)
{
	RET(datasync ? fdatasync(fd) : fsync(fd));
}

int lower_sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	RET(fallocate(fd, mode, off, len));
}

ssize_t lower_sys_copy_file_range(int fd_in, off_t *off_in, int fd_out,
				  off_t *off_out, size_t len, unsigned flags)
{
	RET(copy_file_range(fd_in, off_in, fd_out, off_out, len, flags));
}

off_t lower_sys_lseek(int fd, off_t off, int whence)
{
	off_t r = lseek(fd, off, whence);

	return r < 0 ? -errno : r;
}

int lower_sys_fdopendir(int fd, DIR **out)
{
	*out = fdopendir(fd);
	return *out ? 0 : -errno;
}

int lower_sys_closedir(DIR *dp)
{
	RET(closedir(dp));
}

int lower_sys_readdir(DIR *dp, struct dirent **out)
{
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
	RET(getxattr(path, name, buf, size));
}

int lower_sys_setxattr(const char *path, const char *name, const void *value,
		       size_t size, int flags)
{
	RET(setxattr(path, name, value, size, flags));
}

ssize_t lower_sys_listxattr(const char *path, char *buf, size_t size)
{
	RET(listxattr(path, buf, size));
}

int lower_sys_removexattr(const char *path, const char *name)
{
	RET(removexattr(path, name));
}
