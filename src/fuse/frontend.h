/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The FUSE front end: serves one volume (struct flt_volume of src/core)
 * over a libfuse3 low-level session. Every FUSE request becomes one
 * operation dispatched through core_dispatch(); the reply is sent from the
 * completion function, which may run on any thread.
 *
 * The front end knows the manager only through src/core/core.h, and never
 * touches a path inside its own mount point (KERNEL-NOTES.md, re-entrancy).
 */
#ifndef FSFILTER_FUSE_FRONTEND_H
#define FSFILTER_FUSE_FRONTEND_H

#include <fsfilter/filter.h>

struct fuse_frontend_options {
	const char *mountpoint;	/* an existing directory, absolute path */
	const char *fsname;	/* shown in /proc/mounts: "fsfilter:<lower>" */
	int foreground;		/* do not daemonize */
	int debug;		/* the trace view on stderr: each request,
				   each filter's callbacks, each reply
				   (implies nothing else: pass foreground
				   too) */
	int writeback;		/* negotiate the kernel writeback cache */
	int no_passthrough;	/* never offer the fast path (FUSE
				   passthrough); writeback excludes it too */
	int no_xattr;		/* answer every xattr request ENOSYS: the
				   kernel then stops sending them (one
				   GETXATTR less per name and entry of an
				   `ls -l`) and reports EOPNOTSUPP to all
				   xattr calls, ACLs and labels included;
				   filters never see xattr operations */
	int posix_acl;		/* negotiate FUSE_POSIX_ACL and
				   FUSE_DONT_MASK: the kernel checks access
				   with the lower files' ACLs and caches them
				   per inode (until it refreshes the inode's
				   attributes), and sends the mode of new
				   objects unmasked with the caller's umask
				   (the lower layer applies it unless the
				   parent has a default ACL). Only if the
				   lower root stores ACLs (lower_posix_acl);
				   ignored with no_xattr */
	unsigned max_threads;	/* 0: 2 x CPUs, at least 4; 1: one thread */
	const char *extra_opts;	/* the user's -o string, appended (or NULL) */
	int read_ahead_kb;	/* bdi readahead after mount; 0: 1024 */
	/* Called once, after the mount succeeded and before requests are
	 * served (or NULL). A host that daemonizes itself before creating
	 * its lower layer and volume (so no thread or /proc/self handle is
	 * lost to fork) finishes daemonizing here, with foreground set. */
	void (*mounted)(void *arg);
	void *mounted_arg;
	/* session_up: called once the session can take notifications
	 * (after mounted; a host starts what sends them, e.g. the lower
	 * layer's watch). session_down: on every path out, before the
	 * session and the core's host hooks go (stop and join it there;
	 * also called if session_up never was). Either may be NULL. */
	void (*session_up)(void *arg);
	void (*session_down)(void *arg);
	void *session_arg;
};

/*
 * Mount @o->mountpoint, daemonize unless @o->foreground (errors before that
 * go to stderr; fuse_daemonize() forks, so only do this if nothing before
 * the call started threads or cached per-process state), serve requests until the volume is unmounted or the
 * daemon gets SIGINT/SIGTERM/SIGHUP, then unmount. Returns 0 or a negative
 * errno (-EINVAL bad options, -EIO mount failed).
 */
int fuse_frontend_run(struct flt_volume *vol,
		      const struct fuse_frontend_options *o);

#endif /* FSFILTER_FUSE_FRONTEND_H */
