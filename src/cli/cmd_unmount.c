/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fsfilter unmount: unmount an fsfilter volume (and only that), including
 * the dead mount a killed daemon leaves behind. */
#include "cli/cli.h"

#include "control/ctl.h"

#include <fsfilter/client.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The pid of the daemon serving @mnt: the process listening on its
 * control socket (SO_PEERCRED of a connection gives the listener). 0 if
 * unknown. */
static pid_t daemon_pid(const char *mnt)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pid_t pid = 0;
	int fd;

	if (fltc_runtime_dir(mnt, dir, sizeof(dir)) ||
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
		     CTL_SOCKET_NAME) >= (int)sizeof(sa.sun_path))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		pid = cred.pid;
	close(fd);
	return pid;
}

/* After the unmount the daemon still completes what it held and removes
 * its sockets; wait for that (bounded), so an immediate remount of the
 * same mount point finds everything free. */
static void wait_daemon_exit(pid_t pid)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (int i = 0; pid > 0 && i < 500; i++) {	/* 10 s */
		if (kill(pid, 0) && errno == ESRCH)
			return;
		nanosleep(&ts, NULL);
	}
}

/* umount2, retried briefly on EBUSY: right after a mount the daemon's own
 * start-up (a stat of the mount root that waits for INIT) can hold it. */
static int umount_retry(const char *path, int flags)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	for (int i = 0;; i++) {
		if (!umount2(path, flags))
			return 0;
		if (errno != EBUSY || i == 10)
			return -1;
		nanosleep(&ts, NULL);
	}
}

/* mountinfo escapes blank, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* The file system type of the topmost mount at @path ("" if none). */
static int mount_type(const char *path, char *type, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;

	type[0] = '\0';
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mp[4096], fstype[256], *sep;

		if (sscanf(line, "%*u %*u %*s %*s %4095s", mp) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep, " - %255s", fstype) != 1)
			continue;
		unescape(mp);
		if (!strcmp(mp, path))
			snprintf(type, len, "%s", fstype); /* last wins */
	}
	free(line);
	fclose(f);
	return 0;
}

static int run_fusermount(const char *path, bool lazy)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		fprintf(stderr, "fsfilter: fork: %s\n", strerror(errno));
		return CLI_RUNTIME;
	}
	if (pid == 0) {
		if (lazy)
			execlp("fusermount3", "fusermount3", "-u", "-z", "--",
			       path, (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", "--", path,
			       (char *)NULL);
		fprintf(stderr, "fsfilter: cannot run fusermount3: %s "
			"(install fuse3, or run as root)\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return CLI_RUNTIME;	/* fusermount3 said why */
	return CLI_OK;
}

int cmd_unmount(int argc, char **argv)
{
	const char *arg = NULL, *config = NULL;
	bool lazy = false, dead;
	struct cfg_volume c;
	char err[CFG_ERR_LEN];
	char type[256], *path;
	struct stat st;
	pid_t pid;
	int ret = CLI_OK;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--lazy") || !strcmp(argv[i], "-z")) {
			lazy = true;
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config = argv[++i];	/* its mountpoint */
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			cli_usage(stdout);
			return CLI_OK;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "fsfilter unmount: unknown option '%s' "
				"(see fsfilter --help)\n", argv[i]);
			return CLI_USAGE;
		} else if (arg) {
			fprintf(stderr, "fsfilter unmount: too many arguments "
				"(one MOUNTPOINT)\n");
			return CLI_USAGE;
		} else {
			arg = argv[i];
		}
	}
	if (!arg == !config) {
		fprintf(stderr, "fsfilter unmount: %s (see fsfilter --help)\n",
			arg ? "give MOUNTPOINT or --config FILE, not both" :
			"missing MOUNTPOINT");
		return CLI_USAGE;
	}
	/* --config FILE: the volume of a config file (fsfilter@.service
	 * cleans up after a daemon that died with it) */
	if (config) {
		cfg_init(&c);
		if (cfg_load(&c, config, err, sizeof(err))) {
			fprintf(stderr, "fsfilter unmount: %s\n", err);
			cfg_free(&c);
			return CLI_USAGE;
		}
		if (!c.mountpoint) {
			fprintf(stderr, "fsfilter unmount: %s names no "
				"mountpoint\n", config);
			cfg_free(&c);
			return CLI_USAGE;
		}
		path = cli_realpath(c.mountpoint);
		if (!path)
			fprintf(stderr, "fsfilter unmount: %s: %s\n",
				c.mountpoint, strerror(errno));
		cfg_free(&c);
		if (!path)
			return CLI_USAGE;
		goto have_path;
	}
	path = cli_realpath(arg);
	if (!path) {
		fprintf(stderr, "fsfilter unmount: %s: %s\n", arg,
			strerror(errno));
		return CLI_USAGE;
	}
have_path:
	if (mount_type(path, type, sizeof(type))) {
		fprintf(stderr, "fsfilter unmount: cannot read "
			"/proc/self/mountinfo: %s\n", strerror(errno));
		ret = CLI_RUNTIME;
		goto out;
	}
	if (strcmp(type, "fuse.fsfilter")) {
		if (type[0])
			fprintf(stderr, "fsfilter unmount: %s is a %s mount, "
				"not an fsfilter volume; not touching it\n",
				path, type);
		else
			fprintf(stderr, "fsfilter unmount: %s is not mounted\n",
				path);
		ret = CLI_USAGE;
		goto out;
	}
	/* A killed daemon leaves a mount whose every access fails with
	 * ENOTCONN; only a lazy unmount gets rid of it. */
	dead = stat(path, &st) && errno == ENOTCONN;
	if (geteuid() != 0) {
		ret = run_fusermount(path, lazy || dead);
		goto out;
	}
	pid = dead ? 0 : daemon_pid(path);
	if (umount_retry(path, lazy || dead ? MNT_DETACH : 0)) {
		if (errno == EBUSY)
			fprintf(stderr, "fsfilter unmount: %s is busy (files "
				"open or a process inside it); close them, or "
				"use --lazy to detach it now\n", path);
		else
			fprintf(stderr, "fsfilter unmount: %s: %s\n", path,
				strerror(errno));
		ret = CLI_RUNTIME;
	} else if (!lazy) {
		wait_daemon_exit(pid);
	}
out:
	free(path);
	return ret;
}
