/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The FUSE session: operation table, INIT negotiation, mount options,
 * readahead tuning, the request loop and the way out. */
#include "fuse/fuse_int.h"
#include "core/core_hooks.h"
#include "fuse/kernel_abi.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define FE_MAX_IO (1u << 20)	/* KERNEL-NOTES: 1 MiB is the ceiling */
/* room for several readahead windows of small READs (fe_init) */
#define FE_MAX_BACKGROUND 64
#define FE_CONGESTION_THRESHOLD 48

static void want(struct fuse_conn_info *conn, unsigned cap)
{
	if (conn->capable & cap)
		conn->want |= cap;
}

static void fe_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fe *fe = userdata;

	/* libfuse has already clamped max_write to its buffer: only lower */
	if (conn->max_write > FE_MAX_IO)
		conn->max_write = FE_MAX_IO;
	if (conn->max_readahead > FE_MAX_IO)
		conn->max_readahead = FE_MAX_IO;
	/* libfuse insists that this repeats the max_read mount option */
	if (fe->max_read)
		conn->max_read = fe->max_read;
	/* The kernel skips the async part of a readahead window while its
	 * queued background requests reach congestion_threshold (fs/fuse
	 * fuse_readahead). With the defaults (12 / 9) two 1 MiB windows of
	 * small READs (crypt's 128 KiB: 16) are over it and the reader
	 * stalls on pages never asked for (sampled: 17% of a cold read
	 * congested; 64 / 48 read 1.18x faster, median of 17 interleaved
	 * rounds). Only volumes whose filters asked for small READs. */
	if (fe->max_read && fe->max_read < FE_MAX_IO) {
		conn->max_background = FE_MAX_BACKGROUND;
		conn->congestion_threshold = FE_CONGESTION_THRESHOLD;
	}

	want(conn, FUSE_CAP_ASYNC_READ);
	want(conn, FUSE_CAP_AUTO_INVAL_DATA);
	want(conn, FUSE_CAP_PARALLEL_DIROPS);
	want(conn, FUSE_CAP_READDIRPLUS);
	want(conn, FUSE_CAP_READDIRPLUS_AUTO);
	if (fe->want_writeback)
		want(conn, FUSE_CAP_WRITEBACK_CACHE);
	fe->writeback = !!(conn->want & FUSE_CAP_WRITEBACK_CACHE);
	/* POSIX ACLs: the kernel enforces the lower files' ACLs (with
	 * default_permissions it otherwise checks the mode bits alone, and a
	 * named-user entry neither grants nor denies) and keeps them cached
	 * in the inode. It then leaves new objects' modes unmasked, with the
	 * umask beside them: only with DONT_MASK too, so that the lower file
	 * system, not the kernel, chooses between umask and default ACL. */
	if (fe->want_posix_acl && (conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	else
		conn->want &= ~(FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK);
	fe->posix_acl = !!(conn->want & FUSE_CAP_POSIX_ACL);
	if (fe->posix_acl)
		flt_log(LOG_INFO, "fuse: POSIX ACLs negotiated: the kernel "
			"checks access with the lower files' ACLs");

	/* libfuse 3.14 knows only handle_killpriv (v1), which makes *us*
	 * responsible for clearing SUID/SGID on write, truncate and chown,
	 * and a root daemon's lower write does not clear them. Without it
	 * the kernel does it with an explicit SETATTR of the mode. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* KERNEL-NOTES: splice gains nothing here */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
			FUSE_CAP_SPLICE_MOVE);
	/* locks stay in the kernel (see fe_ops) */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

/*
 * Locks (getlk/setlk/flock) are deliberately not implemented: without them
 * the kernel keeps POSIX record locks and flock() locks itself, per mount.
 * All access to the volume goes through this one mount, so that is fully
 * correct within the volume; locks are not visible to processes that use
 * the lower directory directly (they never were part of the contract).
 */
static const struct fuse_lowlevel_ops fe_ops = {
	.init = fe_init,
	.lookup = fe_lookup,
	.forget = fe_forget_one,
	.forget_multi = fe_forget_multi,
	.getattr = fe_getattr,
	.setattr = fe_setattr,
	.readlink = fe_readlink,
	.mknod = fe_mknod,
	.mkdir = fe_mkdir,
	.unlink = fe_unlink,
	.rmdir = fe_rmdir,
	.symlink = fe_symlink,
	.rename = fe_rename,
	.link = fe_link,
	.open = fe_open,
	.read = fe_read,
	.write = fe_write,
	.flush = fe_flush,
	.release = fe_release,
	.fsync = fe_fsync,
	.opendir = fe_opendir,
	.readdir = fe_readdir,
	.readdirplus = fe_readdirplus,
	.releasedir = fe_releasedir,
	.fsyncdir = fe_fsyncdir,
	.statfs = fe_statfs,
	.setxattr = fe_setxattr,
	.getxattr = fe_getxattr,
	.listxattr = fe_listxattr,
	.removexattr = fe_removexattr,
	.access = fe_access,
	.create = fe_create,
	.fallocate = fe_fallocate,
	.copy_file_range = fe_copy_file_range,
	.lseek = fe_lseek,
};

/* Append @s to the option string @o, escaping ',' and '\' so a lower path
 * with commas stays one fsname= value (fuse_opt's escaping rules). */
static int opt_append_escaped(char **o, const char *prefix, const char *s)
{
	size_t n = strlen(prefix) + 2 * strlen(s) + 1;
	char *buf = malloc(n), *p = buf;
	int ret;

	if (!buf)
		return -ENOMEM;
	p += sprintf(p, "%s", prefix);
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p = '\0';
	ret = fuse_opt_add_opt(o, buf) ? -ENOMEM : 0;
	free(buf);
	return ret;
}

static int build_args(const struct fuse_frontend_options *o,
		      unsigned max_read, struct fuse_args *args)
{
	char *opts = NULL;
	int ret = -ENOMEM;

	if (fuse_opt_add_arg(args, "fsfilter"))
		goto out;
	if (opt_append_escaped(&opts, "fsname=",
			       o->fsname ? o->fsname : "fsfilter"))
		goto out;
	/* default_permissions: the kernel checks access with the caller's
	 * supplementary groups, which FUSE requests do not carry. */
	if (fuse_opt_add_opt(&opts, "subtype=fsfilter,default_permissions"))
		goto out;
	if (geteuid() == 0 && fuse_opt_add_opt(&opts, "allow_other"))
		goto out;
	if (o->extra_opts && *o->extra_opts &&
	    fuse_opt_add_opt(&opts, o->extra_opts))
		goto out;
	if (max_read) {
		char mr[32];

		snprintf(mr, sizeof(mr), "max_read=%u", max_read);
		if (fuse_opt_add_opt(&opts, mr))
			goto out;
	}
	if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opts))
		goto out;
	ret = 0;
out:
	free(opts);
	return ret;
}

/*
 * The kernel's default bdi readahead (128 KiB) caps buffered reads at
 * 128 KiB per request; 1 MiB requests stream much faster (KERNEL-NOTES).
 * It has to be raised after INIT: the kernel clamps the bdi readahead to
 * the max_readahead of INIT, which it offers from the bdi's value at mount
 * time. A short-lived helper thread stats the mount root: that waits until
 * the loop has answered INIT, and gives the device number of the bdi. It
 * is not a request handler, so touching the mount cannot deadlock.
 * Failure is harmless and ignored.
 */
struct ra_job {
	int kb;
	char mountpoint[];
};

static void *readahead_thread(void *arg)
{
	struct ra_job *job = arg;
	char path[128];
	struct stat st;
	FILE *f;

	if (stat(job->mountpoint, &st))
		goto out;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "%d\n", job->kb);
		fclose(f);
	}
out:
	free(job);
	return NULL;
}

static void start_readahead(const char *mountpoint, int kb)
{
	struct ra_job *job = malloc(sizeof(*job) + strlen(mountpoint) + 1);
	pthread_attr_t attr;
	pthread_t t;

	if (!job)
		return;
	job->kb = kb;
	strcpy(job->mountpoint, mountpoint);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, readahead_thread, job))
		free(job);
	pthread_attr_destroy(&attr);
}

/*
 * The READ size the attached filters ask for (struct flt_registration
 * max_read), in whole pages; 0 keeps the kernel's (up to FE_MAX_IO).
 * Cold sequential reads through crypt: with 1 MiB READs the kernel has at
 * most two of a reader's in flight and the worker threads wait for them
 * between requests; with 128 KiB ones a 1 MiB readahead window is eight
 * READs, served by all workers at once (bench/results/crypt-*.txt).
 */
static unsigned read_size(struct flt_volume *vol)
{
	long page = sysconf(_SC_PAGESIZE);
	uint32_t m = core_volume_max_read(vol);

	if (page <= 0)
		page = 4096;
	if (!m || m >= FE_MAX_IO)
		return 0;
	m -= m % (uint32_t)page;
	return m < (uint32_t)page ? (unsigned)page : m;
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		n = 2;
	return n * 2 < 4 ? 4 : (unsigned)n * 2;
}

/* Host hooks of the core (flt_invalidate_inode/entry). */
static int hook_inval_inode(void *arg, flt_ino_t ino)
{
	struct fe *fe = arg;

	return fuse_lowlevel_notify_inval_inode(fe->se, ino, 0, 0);
}

static int hook_inval_attr(void *arg, flt_ino_t ino)
{
	struct fe *fe = arg;

	/* a negative offset: attributes only, pages stay */
	return fuse_lowlevel_notify_inval_inode(fe->se, ino, -1, 0);
}

/* libfuse 3.14 has no call for it: the notification is a bare header */
static int hook_inval_all(void *arg)
{
	struct fe *fe = arg;
	struct fek_out_header h = { .len = sizeof(h),
				    .error = FEK_NOTIFY_INC_EPOCH };
	ssize_t n = write(fuse_session_fd(fe->se), &h, sizeof(h));

	return n == (ssize_t)sizeof(h) ? 0 : n < 0 ? -errno : -EIO;
}

static int hook_inval_entry(void *arg, flt_ino_t parent, const char *name)
{
	struct fe *fe = arg;

	return fuse_lowlevel_notify_inval_entry(fe->se, parent, name,
						strlen(name));
}

static int run_loop(struct fuse_session *se, unsigned threads)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (threads == 1)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/* Operations without filters run on the (joined) worker threads; this
 * covers any that a host or filter-initiated path still completes. */
static void wait_idle(struct flt_volume *vol)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 3000 && core_volume_inflight(vol); i++)
		nanosleep(&ts, NULL);
}

int fuse_frontend_run(struct flt_volume *vol,
		      const struct fuse_frontend_options *o)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fe fe = { .vol = vol, .want_writeback = !!o->writeback,
			 .want_posix_acl = o->posix_acl && !o->no_xattr,
			 .pt.lock = PTHREAD_MUTEX_INITIALIZER,
			 .handles_lock = PTHREAD_MUTEX_INITIALIZER };
	struct fuse_lowlevel_ops ops = fe_ops;
	struct fuse_session *se;
	int ret, loop;

	/* libfuse answers ENOSYS for a missing method, and the kernel
	 * remembers it per connection (fc->no_getxattr & co.) */
	if (o->no_xattr) {
		ops.getxattr = NULL;
		ops.listxattr = NULL;
		ops.setxattr = NULL;
		ops.removexattr = NULL;
	}
	fe.max_read = read_size(vol);
	ret = build_args(o, fe.max_read, &args);
	if (ret)
		goto out_args;
	se = fuse_session_new(&args, &ops, sizeof(ops), &fe);
	if (!se) {
		/* libfuse printed which option it did not understand */
		fprintf(stderr, "fsfilter: cannot start a FUSE session "
			"(bad -o option?)\n");
		ret = -EINVAL;
		goto out_args;
	}
	fe.se = se;
	if (o->debug) {	/* the trace view: FUSE lines here, steps in core */
		fe.trace = true;
		core_volume_set_trace(vol, STDERR_FILENO);
	}
	core_volume_set_host_hooks(vol, &(struct core_host_hooks){
		.inval_inode = hook_inval_inode,
		.inval_entry = hook_inval_entry,
		.inval_attr = hook_inval_attr,
		.inval_all = hook_inval_all,
		.arg = &fe });
	if (fuse_set_signal_handlers(se)) {
		ret = -EIO;
		goto out_session;
	}
	if (fuse_session_mount(se, o->mountpoint)) {
		fprintf(stderr, "fsfilter: cannot mount on %s (see the "
			"message above; not root and no setuid fusermount3? "
			"/dev/fuse not accessible?)\n", o->mountpoint);
		ret = -EIO;
		goto out_signals;
	}
	ret = fe_pt_setup(&fe, !o->no_passthrough);
	if (ret)
		goto out_unmount;
	if (fuse_daemonize(o->foreground)) {
		ret = -EIO;
		goto out_unmount;
	}
	if (o->mounted)
		o->mounted(o->mounted_arg);
	if (o->session_up)	/* threads: after any fork */
		o->session_up(o->session_arg);
	/* after daemonizing: fork() keeps only the calling thread */
	start_readahead(o->mountpoint, o->read_ahead_kb > 0 ? o->read_ahead_kb
							    : 1024);
	ret = fe_canceller_start(&fe);
	if (ret)
		goto out_unmount;
	loop = run_loop(se, o->max_threads ? o->max_threads
					   : default_threads());
	/* > 0: the signal that ended the loop; < 0: an error (a read of
	 * /dev/fuse that failed other than with ENODEV, the end of the
	 * connection): say which, the exit status alone does not */
	if (loop < 0)
		flt_log(LOG_ERR, "fuse: the request loop failed: %s",
			strerror(-loop));
	ret = loop < 0 ? loop : 0;
	/* No new requests come. Operations that filters hold pended still
	 * need the session for their replies: detaching the filters makes
	 * them complete (teardown_start) and waits for them. */
	core_volume_detach_all(vol);
	wait_idle(vol);
	fe_canceller_stop(&fe);
	fe_handles_free_all(&fe);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	if (o->session_down)
		o->session_down(o->session_arg);
	core_volume_set_host_hooks(vol, NULL);
	fuse_session_destroy(se);
	fe_pt_destroy(&fe);
out_args:
	fuse_opt_free_args(&args);
	return ret;
}
