/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lower_open / lower_close and the counters of lower.h. */
#include "lower/lower_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>

/* The inode fd cache (fdcache.c) keeps at most half the soft limit, but
 * nodes without file handles, open files and the front end's own fds come
 * on top: a higher soft limit is head room (1024 is the usual default;
 * KERNEL-NOTES: passthrough_hp failed at ~20k entries). With
 * CAP_SYS_RESOURCE the hard limit goes up to the kernel's nr_open.
 * Failure is not fatal: we run with what we got. */
static void raise_nofile(void)
{
	struct rlimit rl;
	unsigned long nr_open = 0;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (nr_open > rl.rlim_max) {
		struct rlimit want = { nr_open, nr_open };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int lower_open(const char *root, const struct lower_options *opt,
	       struct lower_fs **out)
{
	struct lower_fs *fs;
	struct stat st;
	int ret;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->opt = *opt;
	raise_nofile();
	/* new objects get the requestor's umask per thread (umask.c); the
	 * process's must not apply on top */
	umask(0);

	fs->root.fd = lower_sys_openat(AT_FDCWD, root, O_PATH | O_DIRECTORY, 0);
	if (fs->root.fd < 0) {
		ret = fs->root.fd;
		goto out_free;
	}
	ret = lower_sys_fstatat(fs->root.fd, "", &st, AT_EMPTY_PATH);
	if (ret < 0)
		goto out_root;
	if (!S_ISDIR(st.st_mode)) {
		ret = -ENOTDIR;
		goto out_root;
	}
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.type = S_IFDIR;
	fs->root.nlookup = 1; /* the mount's own; the root is never freed */

	fs->proc_self_fd = lower_sys_openat(AT_FDCWD, "/proc/self/fd",
					    O_PATH | O_DIRECTORY, 0);
	if (fs->proc_self_fd < 0) {
		/* said here: the caller reports the errno as LOWER's */
		ret = fs->proc_self_fd;
		flt_log(LOG_ERR, "lower: cannot open /proc/self/fd (%s): the "
			"lower layer needs /proc mounted", strerror(-ret));
		goto out_root;
	}
	pthread_mutex_init(&fs->table_lock, NULL);
	pthread_mutex_init(&fs->handle_lock, NULL);
	ret = lower_table_init(fs);
	if (ret < 0)
		goto out_proc;
	lower_fdc_init(fs);
	/* the root is in the table so that a lookup reaching it again
	 * (".", a bind mount loop) finds the same node */
	lower_table_add_root(fs);
	fs->xattrat = lower_xattrat_probe(fs);
	fs->defer_ro = lower_can_defer(&fs->defer_noatime);
	if (fs->opt.attr_timeout < 0 || fs->opt.entry_timeout < 0)
		lower_watch_init(fs);
	/* armed last, so that call 1 is the first one an operation makes; a
	   bad spec is logged and ignored: the volume still works */
	lower_fault_arm_from_env();
	*out = fs;
	return 0;

out_proc:
	pthread_mutex_destroy(&fs->table_lock);
	pthread_mutex_destroy(&fs->handle_lock);
	lower_sys_close(fs->proc_self_fd);
out_root:
	lower_sys_close(fs->root.fd);
out_free:
	free(fs);
	return ret;
}

void lower_close(struct lower_fs *fs)
{
	if (!fs)
		return;
	/* first: the thread looks nodes up in the table */
	lower_watch_destroy(fs);
	fs->closing = true;
	lower_handles_destroy(fs);
	lower_table_destroy(fs);
	lower_fdc_destroy(fs);
	pthread_mutex_destroy(&fs->table_lock);
	pthread_mutex_destroy(&fs->handle_lock);
	lower_sys_close(fs->proc_self_fd);
	lower_sys_close(fs->root.fd);
	free(fs);
}

uint64_t lower_handle_count(struct lower_fs *fs)
{
	uint64_t n;

	pthread_mutex_lock(&fs->handle_lock);
	n = fs->nhandles;
	pthread_mutex_unlock(&fs->handle_lock);
	return n;
}
