/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private structures of the lower layer.
 *
 * Objects:
 *   struct lower_fs     one per volume; owns the inode table and handles.
 *   struct lower_inode  one per lower inode (st_dev, st_ino) the kernel
 *                       knows; holds a file handle (name_to_handle_at) and
 *                       the kernel's lookup count, plus an O_PATH|O_NOFOLLOW
 *                       fd that the fd cache (fdcache.c) opens from the
 *                       handle on demand and closes when it is unused and
 *                       the cache is full. So the daemon's fd count is
 *                       bounded however many inodes the kernel caches
 *                       (RLIMIT_NOFILE's hard limit may be small and not
 *                       ours to raise). A node without a handle (the lower
 *                       file system has none, or another mount) keeps its
 *                       fd for life ("pinned"), as does a node with an
 *                       open lower handle or one we saw unlinked (its
 *                       handle may no longer open: ESTALE).
 *                       Code never reads n->fd directly: lower_inode_fd()
 *                       / lower_inode_fd_put() around every use.
 *   struct lower_handle one per open/create/opendir; a real fd (files) or
 *                       a DIR stream with its readdir position (dirs).
 *
 * Node ids: the kernel-visible id of a node is its address, except the
 * root which is FLT_ROOT_INO. The kernel only names nodes it holds lookup
 * references on, and FORGET comes after the last request naming a node, so
 * an id is always a live node while an operation uses it. An open handle
 * holds a lookup reference on its node (so a release after the last
 * FORGET, possible with filter-initiated I/O, frees the node there), and
 * unlink/rename take one on the victim while they pin it.
 *
 * Locks (all leaves, never nested):
 *   fs->table_lock   the hash table, every node's nlookup and hash_next,
 *                    fs->ninodes
 *   fs->handle_lock  the handle list, fs->nhandles
 *   handle->lock     a directory handle's stream and position
 *   fs->fdc_lock     the fd cache: every node's fd, fd_users, fd_pins and
 *                    lru links, fs->lru_head/tail, nlru, fdc_open
 * No lock is held across a syscall except handle->lock around readdir of
 * its own stream (the kernel serialises readdir per open file anyway);
 * the fd cache opens (open_by_handle_at) and closes outside fdc_lock.
 * An fd in use (fd_users > 0) or pinned (fd_pins > 0) is never closed by
 * the cache: only unused entries on the LRU list are evicted.
 *
 * Every syscall goes through the lower_sys_* wrappers of sys.c: one choke
 * point for tracing and fault injection; they return the result or a
 * negative errno, never -1.
 */
#ifndef FSFILTER_LOWER_INT_H
#define FSFILTER_LOWER_INT_H

#include "lower/lower.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct lower_inode {
	dev_t dev;			/* key, immutable */
	ino_t ino;			/* key, immutable */
	mode_t type;			/* S_IFMT bits, immutable */
	struct file_handle *fh;		/* NULL: fd pinned for life; immutable */
	int fd;				/* O_PATH|O_NOFOLLOW or -1; fdc_lock */
	unsigned fd_users;		/* operations using fd; fdc_lock */
	unsigned fd_pins;		/* open handles + unlinked; fdc_lock */
	bool unlinked_pin;		/* one pin: seen unlinked; fdc_lock */
	bool on_lru;			/* fdc_lock */
	struct lower_inode *lru_prev, *lru_next; /* fdc_lock */
	uint64_t generation;		/* immutable */
	uint64_t nlookup;		/* protected by table_lock */
	struct lower_inode *hash_next;	/* protected by table_lock */
	struct lower_inode *fh_next;	/* the by-handle chain (nodes with
					   fh only); table_lock */
};

struct lower_handle {
	_Atomic int fd;			/* files: the open fd, -1 until first
					   use if lower_op_open deferred it
					   (lower_handle_fd); dirs: dirfd(dp) */
	int flags;			/* files: the open's flags */
	struct lower_inode *node;	/* holds one lookup ref and one fd pin */
	bool is_dir;
	bool odirect;			/* opened with O_DIRECT: align buffers */
	_Atomic uint64_t ra_next;	/* files: where a sequential read of
					   this handle continues (readahead) */
	_Atomic uint64_t ra_done;	/* files: lower readahead requested
					   up to here (ops_file.c) */
	struct lower_handle *prev, *next; /* protected by fs->handle_lock */

	/* directories only, protected by lock */
	pthread_mutex_t lock;
	DIR *dp;
	off_t offset;			/* position the stream is at */
	bool pending;			/* an entry was read but not returned */
	struct {
		ino_t ino;
		unsigned char type;
		off_t next_off;
		char name[256];
	} pending_ent;
};

struct lower_fs {
	struct lower_options opt;
	void (*gone_hook)(flt_ino_t ino, void *arg);	/* set before use */
	void *gone_arg;
	int proc_self_fd;		/* /proc/self/fd, O_PATH */
	bool xattrat;			/* the *xattrat calls work here:
					   lower_xattrat_probe at open */
	bool defer_ro;			/* read-only opens may defer their
					   fd (lower_can_defer at open) */
	bool defer_noatime;		/* ... also with O_NOATIME */
	struct lower_inode root;	/* also in the table */

	pthread_mutex_t table_lock;
	struct lower_inode **buckets;	/* protected by table_lock */
	struct lower_inode **fh_buckets; /* the same nodes by file handle
					   (watch.c); nbuckets of them,
					   table_lock */
	size_t nbuckets;		/* protected by table_lock */
	uint64_t ninodes;		/* protected by table_lock */

	pthread_mutex_t handle_lock;
	struct lower_handle *handles;	/* protected by handle_lock */
	uint64_t nhandles;		/* protected by handle_lock */
	bool closing;			/* lower_close: handles drop no refs */
	_Atomic bool dino_unreliable;	/* a d_ino was not the st_ino
					   (lower_lookup_dirent) */

	/* the fd cache (fdcache.c) */
	int root_mount_id;		/* handles of other mounts: pinned */
	int mount_fd;			/* the root, O_RDONLY (handles) or -1 */
	bool use_handles;		/* the root's file system has them */
	bool close_noop;		/* the root's file system has no
					   flush method: a FLUSH of a file on
					   its mount does nothing */
	size_t fdc_max;			/* unused cached fds kept at most */
	pthread_mutex_t fdc_lock;
	struct lower_inode *lru_head, *lru_tail; /* oldest first; fdc_lock */
	size_t nlru;			/* fdc_lock */
	uint64_t fdc_open;		/* node fds open now; fdc_lock */

	/* the fanotify watch of the lower file system (watch.c); NULL
	 * when off. Set at lower_open, freed at lower_close */
	struct lower_watch *watch;
	/* bumped by the watch before it invalidates a name (watch.c):
	 * lower_dirent_seq / lower_dirent_settle */
	_Atomic uint64_t dirent_seq;
};

/* ---- inode.c: the inode table ------------------------------------------ */

int lower_table_init(struct lower_fs *fs);
/* Put fs->root (already filled in) into the table. */
void lower_table_add_root(struct lower_fs *fs);
/* Free every node but the root (lower_close). */
void lower_table_destroy(struct lower_fs *fs);
/* The node of a kernel node id; NULL for 0. */
struct lower_inode *lower_inode_get(struct lower_fs *fs, flt_ino_t ino);
flt_ino_t lower_inode_id(struct lower_fs *fs, struct lower_inode *n);
/*
 * Find or make the node for the O_PATH fd @fd (whose attributes are @st),
 * taking one lookup reference. Consumes @fd in every case (closes it when
 * the node already exists or on error). Fills @e (ino, generation, attr,
 * timeouts).
 */
int lower_inode_from_fd(struct lower_fs *fs, int fd, const struct stat *st,
			struct flt_entry *e);
/* Look @name up in @parent: open O_PATH, stat, lower_inode_from_fd. */
int lower_lookup_name(struct lower_fs *fs, struct lower_inode *parent,
		      const char *name, struct flt_entry *e);
/* The same, stat first: a known inode costs one fstatat (inode.c). @dirfd
 * is an open fd of @parent, or -1 to use the node's. */
int lower_lookup_name_at(struct lower_fs *fs, struct lower_inode *parent,
			 int dirfd, const char *name, struct flt_entry *e);
/* The same for a directory entry of inode number @d_ino: an inode the
 * table does not have takes the open path without the fstatat. */
int lower_lookup_dirent(struct lower_fs *fs, struct lower_inode *parent,
			int dirfd, const char *name, ino_t d_ino,
			struct flt_entry *e);
/* The kernel node id of the node whose file handle is @fh (as fanotify
 * reports it), 0 if there is none. Takes table_lock for a hash lookup and
 * no syscall, so an event for an unrelated file costs little. The id may
 * be stale by the time the caller uses it (only for an invalidation: a
 * wrong one costs a spurious re-validation, never memory safety). */
flt_ino_t lower_inode_id_by_handle(struct lower_fs *fs,
				   const struct file_handle *fh);
/* Take one more lookup reference on the live node @n (the caller holds
 * one, e.g. the kernel's for the target of link) and fill @e. */
void lower_inode_ref(struct lower_fs *fs, struct lower_inode *n,
		     const struct stat *st, struct flt_entry *e);
/* The node of (@dev, @ino) with one more lookup reference, or NULL. */
struct lower_inode *lower_inode_find_ref(struct lower_fs *fs, dev_t dev,
					 ino_t ino);
/* Drop @n references (FORGET); frees the node at zero (never the root). */
void lower_inode_unref(struct lower_fs *fs, struct lower_inode *n,
		       uint64_t count);

/* ---- fdcache.c: node fds opened from file handles, LRU-bounded ------- */

/* Set up fs->fdc_* (after fs->root.fd is open). */
int lower_fdc_init(struct lower_fs *fs);
void lower_fdc_destroy(struct lower_fs *fs);
/* The file handle of @fd (malloc'ed, as small as the file system's) and
 * its mount id, or NULL if it has none. */
struct file_handle *lower_fdc_get_handle(int fd, int *mount_id);
/* Take the handle of the O_PATH fd @fd for a new node @n (n->fh; NULL
 * when the file system has none: @n then keeps its fd for life). */
void lower_fdc_take_handle(struct lower_fs *fs, struct lower_inode *n,
			   int fd);
/* The new node @n, inserted with n->fd set and fd_users = 1 (so nothing
 * evicts it before it is counted), drops that use: its fd is cached. */
void lower_fdc_adopt(struct lower_fs *fs, struct lower_inode *n);
/* The O_PATH fd of @n for one use, reopened from its handle if evicted:
 * >= 0 or a negative errno (-ESTALE: the inode is gone). Every success
 * is paired with lower_inode_fd_put(). */
int lower_inode_fd(struct lower_fs *fs, struct lower_inode *n);
void lower_inode_fd_put(struct lower_fs *fs, struct lower_inode *n);
/* Whether @n's fd is open now (a hint: it may be evicted right after). */
bool lower_fdc_cached(struct lower_fs *fs, struct lower_inode *n);
/* Give the evicted node @n (the caller holds a lookup reference) the
 * O_PATH fd @fd of its own inode, cached unused: true. False (the caller
 * closes @fd): @n has an fd again meanwhile. */
bool lower_fdc_offer(struct lower_fs *fs, struct lower_inode *n, int fd);
/* Keep @n's fd open until unpinned (an open handle). */
int lower_inode_pin(struct lower_fs *fs, struct lower_inode *n);
void lower_inode_unpin(struct lower_fs *fs, struct lower_inode *n);
/* @n lost (maybe) its last name: keep its fd for the node's life, since
 * an unlinked inode cannot be reopened by handle. Caller holds a use. */
void lower_inode_pin_unlinked(struct lower_fs *fs, struct lower_inode *n);
/* The node dies (caller frees it): close its fd, drop it from the LRU. */
void lower_fdc_forget(struct lower_fs *fs, struct lower_inode *n);

/* ---- handle.c ---------------------------------------------------------- */

/* @node: the inode the handle is open on, pinned by the caller
 * (lower_inode_pin); the handle takes over that pin and takes a lookup
 * reference (both dropped by lower_handle_free). NULL: out of memory (the
 * pin is still the caller's). */
struct lower_handle *lower_handle_new(struct lower_fs *fs,
				      struct lower_inode *node, int fd,
				      DIR *dp);
/* The fd of the file handle @h, opened now (from its node, with the
 * open's flags) if lower_op_open deferred it: >= 0 or a negative errno.
 * It stays open until the handle is freed. */
int lower_handle_fd(struct lower_fs *fs, struct lower_handle *h);
/* Whether this process may open any lower file for reading whatever its
 * mode says (CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH), and with O_NOATIME
 * whoever owns it (CAP_FOWNER, in @noatime): what a deferred open needs
 * to behave as an fd opened at open(2) time (ops_file.c). */
bool lower_can_defer(bool *noatime);
/* Unlink, close and free. */
void lower_handle_free(struct lower_fs *fs, struct lower_handle *h);
struct lower_handle *lower_handle_get(uint64_t fh);
void lower_handles_destroy(struct lower_fs *fs);

/* ---- watch.c: invalidations from a fanotify watch of the lower ------ */

/* Start watching the lower root's file system if it is a local one and
 * fanotify allows it (lower_open, when the timeouts are "auto"). Failure
 * is not an error: the volume then uses the short timeouts. */
void lower_watch_init(struct lower_fs *fs);
/* Stop the thread (if any), close the fanotify fd, free (lower_close). */
void lower_watch_destroy(struct lower_fs *fs);
/* The attribute (@entry false) or entry timeout for an object on device
 * @dev, now: the options' unless "auto"; with "auto", long while the
 * watch is healthy and @dev is the lower root's device (the watch sees
 * one file system), else LOWER_SHORT_TIMEOUT. */
double lower_timeout(struct lower_fs *fs, bool entry, dev_t dev);
/* Whether directory listings of @dev may be cached by the kernel
 * (FOPEN_CACHE_DIR): only while the watch is healthy, on its device. */
bool lower_watch_covers(struct lower_fs *fs, dev_t dev);
/* A reply that hands the kernel a name it read from the lower (lookup, a
 * readdirplus entry) takes lower_dirent_seq() before its lower read and
 * passes it to lower_dirent_settle() after filling @e: if the watch
 * invalidated a name meanwhile, the reply may carry what that name was
 * before, so it gets LOWER_SHORT_TIMEOUT as entry timeout. Two atomic
 * loads, no lock. */
uint64_t lower_dirent_seq(struct lower_fs *fs);
void lower_dirent_settle(struct lower_fs *fs, uint64_t seq,
			 struct flt_entry *e);

/* ---- umask.c ----------------------------------------------------------- */

/* Make @mask (the requestor's umask) this thread's umask for the lower
 * call that creates an object of @mode, and return the mode to pass it:
 * @mode, or @mode & ~@mask if the thread cannot have its own umask. */
mode_t lower_umask_apply(mode_t mode, mode_t mask);

/* ---- util.c ------------------------------------------------------------ */

/* Decimal name of @fd under /proc/self/fd; @buf of LOWER_FDNAME_LEN. */
#define LOWER_FDNAME_LEN 16
const char *lower_fd_name(int fd, char *buf);
/* "/proc/self/fd/N" for the path-only calls (xattrs). */
#define LOWER_PROCPATH_LEN 32
const char *lower_proc_path(int fd, char *buf);
/* Reopen the inode @n for real I/O through /proc/self/fd (works for
 * unlinked files too). Returns the fd or a negative errno. */
int lower_reopen(struct lower_fs *fs, struct lower_inode *n, int flags);
/* Attributes of @n (never follows a symlink). */
int lower_stat_inode(struct lower_fs *fs, struct lower_inode *n,
		     struct stat *st);
/* Give a new object the requestor's ownership (see lower.h). @n is the new
 * node, @parent its directory. 1: changed (attributes are stale), 0:
 * nothing to change, or a negative errno. */
int lower_set_owner(struct lower_fs *fs, struct lower_inode *parent,
		    struct lower_inode *n,
		    const struct flt_requestor *req);
/* Fill a flt_entry's timeouts from the options. */
void lower_entry_timeouts(struct lower_fs *fs, struct flt_entry *e);
/* ... for an object this operation made (opt.new_timeout if longer). */
void lower_new_timeouts(struct lower_fs *fs, struct flt_entry *e);

/* Clear S_ISUID (and S_ISGID if group-exec) of a regular file, as the
 * kernel does on a non-owner write (ops_attr.c). @h may be NULL. */
int lower_kill_suidgid(struct lower_fs *fs, struct lower_inode *n,
		       struct lower_handle *h);

/* ---- ops_*.c: one function per operation; each sets data->io_status --- */

void lower_op_lookup(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_forget(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_mknod(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_mkdir(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_symlink(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_link(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_unlink(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_rmdir(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_rename(struct lower_fs *fs, struct flt_callback_data *data);

void lower_op_getattr(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_setattr(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_readlink(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_statfs(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_access(struct lower_fs *fs, struct flt_callback_data *data);

void lower_op_open(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_create(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_read(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_write(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_flush(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_release(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_fsync(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_fallocate(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_copy_file_range(struct lower_fs *fs,
			      struct flt_callback_data *data);
void lower_op_lseek(struct lower_fs *fs, struct flt_callback_data *data);

void lower_op_opendir(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_readdir(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_releasedir(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_fsyncdir(struct lower_fs *fs, struct flt_callback_data *data);

void lower_op_setxattr(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_getxattr(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_listxattr(struct lower_fs *fs, struct flt_callback_data *data);
void lower_op_removexattr(struct lower_fs *fs, struct flt_callback_data *data);
/* Whether the *xattrat calls answer here (not ENOSYS: before Linux 6.13;
 * not EPERM or EINVAL: a seccomp filter that does not know them). Asked
 * once, at lower_open; false: the path calls on /proc/self/fd/N. */
bool lower_xattrat_probe(struct lower_fs *fs);

/* ---- sys.c: the syscall choke point ------------------------------------ */

/* ---- fault.c: fault injection at the choke point ------------------------ */

/* What lower_fault returns for "short" (a pread/pwrite moves at most half). */
#define LOWER_FAULT_SHORT (-100000)
/* 0, a negative errno the wrapper of @op must return, or LOWER_FAULT_SHORT. */
int lower_fault(const char *op);
/* Arm from $FSFILTER_FAULT if set (lower_open). */
int lower_fault_arm_from_env(void);

int lower_sys_openat(int dirfd, const char *name, int flags, mode_t mode);
int lower_sys_close(int fd);
struct statfs;
int lower_sys_fstatfs(int fd, struct statfs *st);
int lower_sys_name_to_handle_at(int dirfd, const char *name,
				struct file_handle *fh, int *mount_id,
				int flags);
int lower_sys_open_by_handle_at(int mount_fd, struct file_handle *fh,
				int flags);
int lower_sys_dup(int fd);
int lower_sys_fstatat(int dirfd, const char *name, struct stat *st,
		      int flags);
int lower_sys_fstatvfs(int fd, struct statvfs *st);
struct statx;
int lower_sys_statx(int dirfd, const char *name, int flags, unsigned mask,
		    struct statx *stx);
int lower_sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t rdev);
int lower_sys_mkdirat(int dirfd, const char *name, mode_t mode);
int lower_sys_symlinkat(const char *target, int dirfd, const char *name);
int lower_sys_linkat(int olddirfd, const char *oldname, int newdirfd,
		     const char *newname, int flags);
int lower_sys_unlinkat(int dirfd, const char *name, int flags);
int lower_sys_renameat2(int olddirfd, const char *oldname, int newdirfd,
			const char *newname, unsigned flags);
ssize_t lower_sys_readlinkat(int dirfd, const char *name, char *buf,
			     size_t size);
int lower_sys_fchmodat(int dirfd, const char *name, mode_t mode, int flags);
int lower_sys_fchmod(int fd, mode_t mode);
int lower_sys_fchownat(int dirfd, const char *name, uid_t uid, gid_t gid,
		       int flags);
int lower_sys_ftruncate(int fd, off_t size);
int lower_sys_utimensat(int dirfd, const char *name,
			const struct timespec times[2], int flags);
int lower_sys_faccessat(int dirfd, const char *name, int mode, int flags);
ssize_t lower_sys_pread(int fd, void *buf, size_t size, off_t off);
ssize_t lower_sys_pwrite(int fd, const void *buf, size_t size, off_t off);
int lower_sys_fsync(int fd, int datasync);
int lower_sys_fallocate(int fd, int mode, off_t off, off_t len);
ssize_t lower_sys_copy_file_range(int fd_in, off_t *off_in, int fd_out,
				  off_t *off_out, size_t len, unsigned flags);
off_t lower_sys_lseek(int fd, off_t off, int whence);
int lower_sys_fdopendir(int fd, DIR **out);
int lower_sys_closedir(DIR *dp);
/* Next entry; 0 and *out = NULL at the end. */
int lower_sys_readdir(DIR *dp, struct dirent **out);
void lower_sys_seekdir(DIR *dp, off_t off);
off_t lower_sys_telldir(DIR *dp);
ssize_t lower_sys_getxattr(const char *path, const char *name, void *buf,
			   size_t size);
int lower_sys_setxattr(const char *path, const char *name, const void *value,
		       size_t size, int flags);
ssize_t lower_sys_listxattr(const char *path, char *buf, size_t size);
int lower_sys_removexattr(const char *path, const char *name);
/* The same on @path in @dirfd, following a last symlink (Linux 6.13's
 * *xattrat calls; -ENOSYS before). */
ssize_t lower_sys_getxattrat(int dirfd, const char *path, const char *name,
			     void *buf, size_t size);
int lower_sys_setxattrat(int dirfd, const char *path, const char *name,
			 const void *value, size_t size, int flags);
ssize_t lower_sys_listxattrat(int dirfd, const char *path, char *buf,
			      size_t size);
int lower_sys_removexattrat(int dirfd, const char *path, const char *name);

#endif /* FSFILTER_LOWER_INT_H */
