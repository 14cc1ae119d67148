/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The runtime directory that holds the sockets of this daemon's ports.
 * Created owned by us and never followed through a symlink; sockets left
 * by a dead daemon (connect is refused) are removed, a live one's never. */
#include "port/port_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char rundir[PATH_MAX];	/* port_lock; "" = none */
static int rundir_fd = -1;	/* port_lock */

/* mkdir -p, each new component with @mode */
static int make_dirs(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, len + 1);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, mode) && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			return 0;
	}
}

/* A socket nobody listens on any more. */
static bool is_stale(int dfd, const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s",
		     dfd, name) >= (int)sizeof(sun.sun_path))
		return false;	/* not one of ours: names are short */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	ret = ret && errno == ECONNREFUSED;
	close(fd);
	return ret;
}

static void remove_stale(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISSOCK(st.st_mode) || !is_stale(dfd, e->d_name))
			continue;
		if (!unlinkat(dfd, e->d_name, 0))
			flt_log(LOG_INFO, "port: removed stale socket %s",
				e->d_name);
	}
	closedir(d);
}

int port_set_runtime_dir(const char *dir)
{
	mode_t mode = geteuid() == 0 ? 0755 : 0700;
	struct stat st;
	int fd, ret;

	if (!dir || dir[0] != '/')
		return -EINVAL;
	if (strlen(dir) + 66 >= sizeof(rundir))
		return -ENAMETOOLONG;
	ret = make_dirs(dir, mode);
	if (ret)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;	/* someone else's directory: never use it */
	}
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	remove_stale(fd);
	pthread_mutex_lock(&port_lock);
	if (rundir_fd >= 0)
		close(rundir_fd);
	rundir_fd = fd;
	snprintf(rundir, sizeof(rundir), "%s", dir);
	pthread_mutex_unlock(&port_lock);
	return 0;
}

const char *port_runtime_dir(void)
{
	const char *r;

	pthread_mutex_lock(&port_lock);
	r = rundir[0] ? rundir : NULL;
	pthread_mutex_unlock(&port_lock);
	return r;
}

/* <dir>/<name>, under port_lock. */
int port_rundir_path(const char *name, char *buf, size_t len)
{
	if (!rundir[0])
		return -ENOENT;
	return snprintf(buf, len, "%s/%s", rundir, name) < (int)len
		       ? 0
		       : -ENAMETOOLONG;
}

/* The address of @path (in the runtime dir): itself when it fits in
 * sun_path, else through the directory's fd. Under port_lock. */
int port_rundir_sockaddr(const char *path, void *addr, socklen_t *addrlen)
{
	struct sockaddr_un *sun = addr;
	const char *base = strrchr(path, '/');

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) < sizeof(sun->sun_path))
		strcpy(sun->sun_path, path);
	else if (snprintf(sun->sun_path, sizeof(sun->sun_path),
			  "/proc/self/fd/%d/%s", rundir_fd,
			  base + 1) >= (int)sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	*addrlen = sizeof(*sun);
	return 0;
}

void port_rundir_forget_locked(void)
{
	if (rundir[0])
		rmdir(rundir);	/* fails while others' sockets remain */
	if (rundir_fd >= 0)
		close(rundir_fd);
	rundir_fd = -1;
	rundir[0] = '\0';
}
