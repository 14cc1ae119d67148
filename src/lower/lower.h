/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lower layer: the file system at the bottom of every volume.
 *
 * Everything is relative to a directory fd opened before mounting
 * (O_PATH), so the daemon never opens a path inside its own mount point
 * (the re-entrancy deadlock of KERNEL-NOTES.md) and `fsfilter attach DIR`
 * can mount a volume over DIR itself.
 *
 * Inodes: one node per lower inode, keyed on (st_dev, st_ino), so hard
 * links share one node. A node id handed to the kernel holds lookup
 * references (struct flt_entry); FLT_OP_FORGET drops them and the node is
 * freed at zero, so the table does not grow without bound. Generation
 * numbers are unique per node object, so a reused st_ino gets a new one.
 * A node holds its inode as a file handle and an O_PATH fd opened from it
 * on demand; at most lower_options.fd_cache unused fds stay open, so the
 * daemon's fds are bounded however many inodes the kernel caches (nodes on
 * file systems without handles, or open, or unlinked keep their fd).
 *
 * Handles: open/create/opendir return a handle (results.open.fh) owned by
 * the lower layer until release/releasedir.
 *
 * Threads: lower_perform() may be called from any number of threads at
 * once. Internal locks (lower_int.h) are leaves, never held across a
 * syscall that can block on I/O (but a directory handle's lock around
 * readdir of its own stream).
 */
#ifndef FSFILTER_LOWER_H
#define FSFILTER_LOWER_H

#include <fsfilter/filter.h>

#include <stdbool.h>

struct lower_fs;

struct lower_options {
	double attr_timeout;	/* seconds the kernel may cache attributes;
				   < 0: "auto", see lower_watch_start */
	double entry_timeout;	/* seconds the kernel may cache names;
				   < 0: "auto" */
	double new_timeout;	/* both, for objects made through the mount
				   (create, mknod, mkdir, symlink) if longer:
				   the writer uses them again at once (stat
				   after create, unlink of a temporary file),
				   and only changes made directly in the
				   lower directory can make them stale */
	int keep_cache;		/* set keep_cache on regular file opens */
	int direct_io;		/* force direct_io on every open */
	int writeback;		/* the kernel's writeback cache is on: it may
				   read from write-only opens and owns the
				   size, so O_APPEND is not passed down */
	unsigned fd_cache;	/* unused inode fds kept open at most; 0:
				   $FSFILTER_FD_CACHE if set (tests), else
				   min(RLIMIT_NOFILE soft / 2, 8192). Nodes
				   reopen theirs by file handle on demand */
};

/* Open @root (a directory) with O_PATH before mounting. Errors: the
 * negative errno of open/stat, -ENOTDIR. Raises RLIMIT_NOFILE's soft limit
 * to the hard limit, and sets the process umask to 0. mknod, mkdir and
 * create apply the requestor's umask (flt_requestor.umask) themselves, as
 * the thread's own umask around the lower call (umask.c): the lower file
 * system then uses the parent's default ACL instead if it has one. So the
 * front end may negotiate FUSE_CAP_DONT_MASK (with FUSE_CAP_POSIX_ACL);
 * without it the kernel has masked the mode already and nothing changes. */
int lower_open(const char *root, const struct lower_options *opt,
	       struct lower_fs **out);
/* Whether the lower root stores POSIX ACLs (not EOPNOTSUPP for
 * system.posix_acl_access): the front end's posix_acl option. */
bool lower_posix_acl(struct lower_fs *fs);
/* Close every handle and inode (after unmount). */
void lower_close(struct lower_fs *fs);

/*
 * Perform one operation: the struct core_bottom perform function
 * (@ctx is the struct lower_fs). Sets data->io_status (0 or the lower
 * file system's negative errno, information = bytes for read/write/
 * copy_file_range, value size for getxattr/listxattr) and results.
 * New files get the requestor's uid/gid (or the parent's gid when the
 * parent directory is set-group-ID).
 */
void lower_perform(void *ctx, struct flt_callback_data *data);

/* Called when a node is gone (its last lookup reference dropped), after it
 * left the table and before its id can be reused: the manager drops the
 * node's stream contexts here (core_stream_gone). Set before mounting. */
void lower_set_inode_gone_hook(struct lower_fs *fs,
			       void (*hook)(flt_ino_t ino, void *arg),
			       void *arg);

/*
 * The watch (watch.c). With "auto" timeouts, lower_open puts a fanotify
 * mark on the lower root's file system if it is a local one (ext4, xfs,
 * btrfs, tmpfs, f2fs, ...; never NFS, CIFS, FUSE, 9p, ceph, overlay) and
 * fanotify allows it (CAP_SYS_ADMIN). While that watch is healthy, replies
 * for objects on the root's device carry a long timeout (an hour) and
 * directory opens may be cached by the kernel (FOPEN_CACHE_DIR); otherwise
 * (no watch, a device below the root, after a watch failure) the timeout
 * is one second, as with an explicit timeout of 1.
 *
 * Changes made to the lower directory by other processes then reach the
 * kernel through @h, called from the watch's own thread only (never from a
 * request worker): inval_inode (@data: the contents changed too, drop the
 * cached pages; else attributes only) and inval_entry. The host starts the
 * thread once its session can take notifications and stops it (joined)
 * before the session goes; lower_close stops it too. Events of this
 * process itself are ignored: the kernel already knows what it asked for.
 * Without a watch both calls do nothing. Call from one thread.
 */
struct lower_watch_hooks {
	int (*inval_inode)(void *arg, flt_ino_t ino, bool data);
	int (*inval_entry)(void *arg, flt_ino_t parent, const char *name);
	void *arg;
};
int lower_watch_start(struct lower_fs *fs, const struct lower_watch_hooks *h);
void lower_watch_stop(struct lower_fs *fs);
/* Whether the watch is on and healthy now (status). */
bool lower_watching(struct lower_fs *fs);
/* The attribute timeout of the root's device now (status). */
double lower_effective_timeout(struct lower_fs *fs);

/* Number of live inode nodes (root included); for tests and status. */
uint64_t lower_inode_count(struct lower_fs *fs);
/* Inode fds open now (cached, in use, or pinned); for tests. */
uint64_t lower_fd_count(struct lower_fs *fs);
/* Number of open handles; for tests and status. */
uint64_t lower_handle_count(struct lower_fs *fs);

/*
 * Fault injection (fault.c has the spec): replace the armed rules with
 * @spec, "OP:N:WHAT[:TIMES],..." e.g. "pwrite:1:EIO,pread:2:short"; NULL
 * or "" disarms. Counters start at zero. -EINVAL for a bad spec (nothing
 * changes). Process-wide; lower_open() arms $FSFILTER_FAULT.
 */
int lower_fault_arm(const char *spec);
void lower_fault_disarm(void);
/* Calls failed (or shortened) since the last arm. */
uint64_t lower_fault_fired(void);

#endif /* FSFILTER_LOWER_H */
