/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Becoming a daemon *before* the lower layer and the volume exist.
 *
 * libfuse's fuse_daemonize() forks after the mount; anything created before
 * it that is tied to the process (threads of the manager, a /proc/self
 * handle of the lower layer) would stay behind in the parent that exits.
 * So the CLI forks first: the child does all the work with the terminal
 * still on its stderr, and only when the mount is up does it detach and
 * tell the waiting parent, which then exits 0. If the child fails before
 * that, the parent exits with the child's exit code.
 */
#include "cli/cli.h"

#include <fsfilter/filter.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

int cli_daemon_start(int *ready_fd)
{
	int p[2], status;
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "fsfilter: pipe: %s\n", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fsfilter: fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();	/* no terminal signals from now on */
		*ready_fd = p[1];
		return 0;
	}
	close(p[1]);
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(CLI_OK);	/* mounted; the child serves it */
	/* the child failed before mounting; it said why on stderr */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : CLI_RUNTIME);
	fprintf(stderr, "fsfilter: the daemon died before mounting (signal "
		"%d)\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	_exit(CLI_RUNTIME);
}

/* Once detached, stderr is /dev/null: the manager's and the filters'
 * messages go to syslog instead (the journal under systemd). */
static void syslog_sink(int priority, const char *line, void *arg)
{
	syslog(priority, "%s", line);
}

void cli_daemon_ready(void *arg)
{
	int fd = *(int *)arg, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (chdir("/")) {
		/* harmless: everything below uses fds and absolute paths */
	}
	openlog("fsfilter", LOG_PID, LOG_DAEMON);
	flt_set_log_sink(syslog_sink, NULL);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(fd, "", 1) != 1) {
		/* the parent is gone; nobody to tell */
	}
	close(fd);
}
