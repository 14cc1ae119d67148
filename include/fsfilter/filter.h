/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file filter.h
 * @brief The fsfilter filter API: what a minifilter author writes against.
 *
 * The model is the Windows Filter Manager's. A *volume* is one mount over a
 * lower directory. A *filter* registers a table of pre- and post-operation
 * callbacks (struct flt_registration) and is attached to volumes as
 * *instances* at a numeric *altitude*. Every operation on the volume is
 * described by a struct flt_callback_data and dispatched:
 *
 *   pre-callbacks, highest altitude first  ->  the lower layer  ->
 *   post-callbacks of the instances that asked for one, in reverse order.
 *
 * Dispatch is iterative: stack use does not grow with the number of filters.
 *
 * Threads: callbacks are called from the volume's worker threads, several
 * at once for different operations. A callback may block on I/O of its own
 * (below itself) but must never touch a path inside the volume (that is the
 * re-entrancy deadlock of DESIGN.md, rule 1).
 *
 * Errors: 0 or a negative errno value everywhere. Statuses are their own
 * enums, never errnos.
 */
#ifndef FSFILTER_FILTER_H
#define FSFILTER_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <fcntl.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FLT_API __attribute__((visibility("default")))
#else
#define FLT_API
#endif

/** Version of struct flt_registration understood by this header. */
#define FLT_REGISTRATION_VERSION 1u

/** A node id: the identity of one lower inode as the kernel sees it. */
typedef uint64_t flt_ino_t;
/** The root directory of every volume. */
#define FLT_ROOT_INO ((flt_ino_t)1)

/** Opaque handles. Borrowed in callbacks; never freed by a filter. */
struct flt_filter;
struct flt_instance;
struct flt_volume;
struct flt_context_registration;

/**
 * Operation codes: the Linux VFS operations as FUSE presents them (the
 * IRP_MJ_* of fsfilter). New codes are only ever added before FLT_OP_COUNT.
 */
enum flt_op {
	FLT_OP_LOOKUP = 0,
	FLT_OP_FORGET,		/**< the kernel dropped @c nlookup references */
	FLT_OP_GETATTR,
	FLT_OP_SETATTR,
	FLT_OP_READLINK,
	FLT_OP_MKNOD,
	FLT_OP_MKDIR,
	FLT_OP_UNLINK,
	FLT_OP_RMDIR,
	FLT_OP_SYMLINK,
	FLT_OP_RENAME,
	FLT_OP_LINK,
	FLT_OP_OPEN,
	FLT_OP_READ,
	FLT_OP_WRITE,
	FLT_OP_FLUSH,
	FLT_OP_RELEASE,
	FLT_OP_FSYNC,
	FLT_OP_OPENDIR,
	FLT_OP_READDIR,		/**< also readdirplus: see params.readdir.plus */
	FLT_OP_RELEASEDIR,
	FLT_OP_FSYNCDIR,
	FLT_OP_STATFS,
	FLT_OP_SETXATTR,
	FLT_OP_GETXATTR,
	FLT_OP_LISTXATTR,
	FLT_OP_REMOVEXATTR,
	FLT_OP_ACCESS,
	FLT_OP_CREATE,
	FLT_OP_FALLOCATE,
	FLT_OP_COPY_FILE_RANGE,
	FLT_OP_LSEEK,
	FLT_OP_COUNT
};

/** Stable lower-case name of an operation ("read"), or "?" */
FLT_API const char *flt_op_name(enum flt_op op);

/* ---- I/O flags (flt_callback_data.flags) ------------------------------- */

/** The kernel page cache is filling or writing back (readahead, mmap fault,
 *  writeback). Such an operation must never wait unboundedly on user mode. */
#define FLT_IO_PAGING		 (1u << 0)
/** The file was opened with direct I/O: no page cache involved. */
#define FLT_IO_DIRECT		 (1u << 1)
/** Issued by a filter (filter-initiated I/O), not by an application. */
#define FLT_IO_FILTER_INITIATED	 (1u << 2)

/* ---- parameters -------------------------------------------------------- */

/** setattr: which fields of params.setattr.attr to apply. */
#define FLT_SET_MODE		(1u << 0)
#define FLT_SET_UID		(1u << 1)
#define FLT_SET_GID		(1u << 2)
#define FLT_SET_SIZE		(1u << 3)
#define FLT_SET_ATIME		(1u << 4)
#define FLT_SET_MTIME		(1u << 5)
#define FLT_SET_ATIME_NOW	(1u << 6)
#define FLT_SET_MTIME_NOW	(1u << 7)
#define FLT_SET_CTIME		(1u << 8)
/** setattr came with an open file handle (ftruncate, fchmod, ...). */
#define FLT_SET_HAS_FH		(1u << 9)
/** the write must clear SUID/SGID (non-owner write, FUSE killpriv). */
#define FLT_SET_KILL_SUIDGID	(1u << 10)

/** Result of operations that make a name refer to an inode
 *  (lookup, mknod, mkdir, symlink, link, create, readdirplus entries).
 *  Each such successful result holds one lookup reference on @c ino that
 *  the kernel later drops with FLT_OP_FORGET. */
struct flt_entry {
	flt_ino_t ino;		/**< 0 with attr_timeout: negative entry */
	uint64_t generation;
	struct stat attr;
	double attr_timeout;
	double entry_timeout;
};

/** open/create/opendir result, and the handle of later operations. */
struct flt_open_result {
	uint64_t fh;		/**< the handle; owned by the layer that made it */
	unsigned direct_io : 1;	/**< bypass the page cache for this open */
	unsigned keep_cache : 1;/**< keep cached pages from earlier opens */
	unsigned nonseekable : 1;
	/** opendir: the kernel may keep this directory's listing and
	 *  answer later reads of it (with keep_cache: across opens) without
	 *  asking. The lower layer sets both while its watch of the lower
	 *  directory invalidates them on change; the manager clears both
	 *  when an instance of the stack registered an OPENDIR or READDIR
	 *  callback (it must see every listing). Decided per open: a filter
	 *  attached later sees the listings of directories opened after. */
	unsigned cache_readdir : 1;
	/** Set by the manager when the operation completes (open, create):
	 *  this open must not take the fast path, because an instance
	 *  wants the file's data operations (see FLT_OPREG_SKIP_FASTPATH_FILES
	 *  and flt_disallow_fastpath()). Read-only for filters. */
	unsigned no_fastpath : 1;
	/** open/create of a regular file: closing a descriptor of this
	 *  open needs no FLT_OP_FLUSH (the kernel then sends none, except
	 *  with the writeback cache). Set by the lower layer when its close
	 *  does nothing (a local file system without a flush method: ext4,
	 *  xfs, btrfs, tmpfs); cleared by the manager when an instance of
	 *  the stack registered a FLUSH callback (unless with
	 *  FLT_OPREG_FLUSH_IF_SENT), and a filter may clear it
	 *  in its post-open. Decided per open: a filter attached later does
	 *  not see the flushes of files already open without them. */
	unsigned no_flush : 1;
	/**
	 * open/create of a regular file: a file descriptor whose file holds
	 * exactly the data of this open, which the host may hand to the
	 * kernel so that reads, writes and mmap of the file bypass the
	 * daemon (the fast path, FUSE passthrough); -1 if there is none.
	 * The lower layer sets the fd of its own handle, or, for a
	 * read-only open whose fd it opens only when first needed, the
	 * inode's O_PATH fd: the kernel takes only the backing file's path
	 * and opens a file of its own per open, with the opener's flags (a
	 * kernel that refuses an O_PATH fd gets one reopened read-only by
	 * the host). The fd belongs to
	 * whoever set it and must stay open until the handle is released;
	 * the host never closes it, and may keep using the file it refers
	 * to after the release (the kernel holds its own reference).
	 * A filter may point it at another file (e.g. a redirect filter at
	 * its backing file, opened with compatible access); it must then
	 * keep that fd open until it sees the release of this handle.
	 * A filter that transforms data must not leave a raw fd here: it
	 * calls flt_disallow_fastpath() instead.
	 */
	int backing_fd;
};

/** One directory entry of a readdir result. */
struct flt_dirent {
	const char *name;	/**< in flt_dirents' own string storage */
	uint64_t ino;		/**< st_ino as in the lower file system */
	unsigned type;		/**< DT_* */
	off_t next_off;		/**< offset to continue *after* this entry */
	struct flt_entry entry;	/**< readdirplus only; entry.ino != 0 holds a
				     lookup reference (see struct flt_entry) */
};

/** Growable list of directory entries, filled by the lower layer and
 *  editable by filters (hide, add, change attributes). */
struct flt_dirents {
	struct flt_dirent *v;
	size_t n, cap;
	char *names;		/**< string storage, internal */
	size_t names_len, names_cap;
};

/** Add an entry (name is copied). Returns 0 or -ENOMEM. The returned
 *  pointer through @p out (may be NULL) is valid until the next add. */
FLT_API int flt_dirents_add(struct flt_dirents *d, const char *name,
			    uint64_t ino, unsigned type, off_t next_off,
			    struct flt_dirent **out);
/** Bytes the entry takes in the kernel's reply buffer, for size budgets. */
FLT_API size_t flt_dirent_size(size_t namelen, int plus);

/**
 * The parameters of an operation (the FLT_IO_PARAMETER_BLOCK).
 * Strings and buffers are borrowed from the caller for the life of the
 * operation. A pre-callback may change them (point them at storage of its
 * own that outlives the operation, e.g. in its completion context) and must
 * then call flt_set_callback_data_dirty().
 */
union flt_parameters {
	struct { flt_ino_t parent; const char *name; } lookup;
	struct { uint64_t nlookup; } forget;
	struct { uint64_t fh; int has_fh; } getattr;
	struct {
		struct stat attr;
		unsigned to_set;	/**< FLT_SET_* */
		uint64_t fh;
	} setattr;
	struct { flt_ino_t parent; const char *name; mode_t mode; dev_t rdev; } mknod;
	struct { flt_ino_t parent; const char *name; mode_t mode; } mkdir;
	struct { flt_ino_t parent; const char *name; } unlink;	/* unlink, rmdir */
	struct { const char *target; flt_ino_t parent; const char *name; } symlink;
	struct {
		flt_ino_t parent; const char *name;
		flt_ino_t newparent; const char *newname;
		unsigned flags;		/**< RENAME_NOREPLACE / RENAME_EXCHANGE */
	} rename;
	struct { flt_ino_t newparent; const char *newname; } link;
	struct { int flags; } open;	/* open, opendir */
	struct { flt_ino_t parent; const char *name; mode_t mode; int flags; } create;
	struct {
		uint64_t fh;
		off_t offset;
		size_t size;
		void *buf;		/**< size bytes, filled by the layer below */
	} read;
	struct {
		uint64_t fh;
		off_t offset;
		size_t size;
		const void *buf;
		int kill_priv;		/**< clear SUID/SGID (non-owner write) */
	} write;
	struct { uint64_t fh; uint64_t lock_owner; } flush;
	struct { uint64_t fh; int flags; } release;	/* release, releasedir */
	struct { uint64_t fh; int datasync; } fsync;	/* fsync, fsyncdir */
	struct {
		uint64_t fh;
		off_t offset;
		size_t size;		/**< reply budget in bytes */
		int plus;		/**< readdirplus: fill entry too */
	} readdir;
	struct {
		const char *name; const void *value; size_t size; int flags;
	} setxattr;
	struct { const char *name; void *buf; size_t size; } getxattr;
	struct { void *buf; size_t size; } listxattr;
	struct { const char *name; } removexattr;
	struct { int mask; } access;
	struct { uint64_t fh; int mode; off_t offset; off_t length; } fallocate;
	struct {
		uint64_t fh_in; off_t off_in;
		flt_ino_t ino_out; uint64_t fh_out; off_t off_out;
		size_t len; int flags;
	} copy_file_range;
	struct { uint64_t fh; off_t offset; int whence; } lseek;
};

/** Results beyond the status (the "information" of IO_STATUS_BLOCK). */
struct flt_results {
	struct flt_entry entry;		/* lookup, mknod, mkdir, symlink, link, create */
	struct stat attr;		/* getattr, setattr */
	double attr_timeout;		/* getattr, setattr */
	struct flt_open_result open;	/* open, create, opendir */
	struct statvfs statfs;
	char *link;			/**< readlink: malloc'd, owned by data */
	struct flt_dirents dirents;	/**< readdir: owned by data */
	off_t offset;			/* lseek */
};

/** The process on whose behalf an operation runs (from the FUSE request). */
struct flt_requestor {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	/** The caller's umask, for mknod, mkdir and create (0 for other
	 *  operations and for filter-initiated I/O unless the filter sets
	 *  it). On a volume with POSIX ACLs (the lower root has them) the
	 *  mode in params is not masked yet: the lower layer creates with
	 *  this umask, which the lower file system ignores under a default
	 *  ACL of the parent. Elsewhere the kernel has masked the mode. */
	mode_t umask;
};

/** I/O status: 0 or a negative errno, plus a count (bytes, xattr size). */
struct flt_io_status {
	int status;
	uint64_t information;
};

/**
 * Everything about one operation (FLT_CALLBACK_DATA).
 * Owned by the manager; valid from the first pre-callback until the
 * operation completes. Filters read and (in pre) change @c params and
 * (in post) @c io_status and @c results.
 */
struct flt_callback_data {
	enum flt_op op;
	unsigned flags;			/**< FLT_IO_* */
	flt_ino_t ino;			/**< target inode (the parent for
					     lookup/mknod/mkdir/create/...; see
					     params for namespace ops) */
	struct flt_requestor requestor;
	union flt_parameters params;
	struct flt_io_status io_status;
	struct flt_results results;
	void *core;			/**< manager-private, do not touch */
};

/** Process name (comm) of the requestor; fills @p buf, returns it. */
FLT_API const char *flt_requestor_name(const struct flt_callback_data *data,
				       char *buf, size_t len);

/** Tell the manager a pre-callback changed parameters. */
FLT_API void flt_set_callback_data_dirty(struct flt_callback_data *data);
FLT_API int flt_is_callback_data_dirty(const struct flt_callback_data *data);

/** The objects an operation relates to (FLT_RELATED_OBJECTS). */
struct flt_related_objects {
	struct flt_filter *filter;
	struct flt_instance *instance;
	struct flt_volume *volume;
};

/* ---- callback statuses ------------------------------------------------- */

enum flt_preop_status {
	/** Go on down; call my post-callback on the way back. */
	FLT_PREOP_SUCCESS_WITH_CALLBACK = 0,
	/** Go on down; no post-callback. */
	FLT_PREOP_SUCCESS_NO_CALLBACK,
	/** I completed it: io_status is the result; nothing below runs; the
	 *  post-callbacks of the filters above me still run. */
	FLT_PREOP_COMPLETE,
	/** I keep the operation and finish my pre-processing later, from any
	 *  thread, with flt_complete_pended_preop(). Until then nothing below
	 *  me sees it. The completion may even happen before this callback
	 *  returns (e.g. a worker was quicker): the manager handles the race. */
	FLT_PREOP_PENDING,
	/** Go on down, and call my post-callback on the thread that ran this
	 *  pre-callback, even if a filter below pends the operation (that
	 *  thread then waits). For post-processing that must block safely. */
	FLT_PREOP_SYNCHRONIZE,
};

enum flt_postop_status {
	FLT_POSTOP_FINISHED_PROCESSING = 0,
	/** I keep the operation; flt_complete_pended_postop() later, from any
	 *  thread, lets it continue up to the filters above me. */
	FLT_POSTOP_MORE_PROCESSING_REQUIRED,
};

/**
 * Resume an operation whose pre-callback returned FLT_PREOP_PENDING.
 * @p status is what the pre-callback would have returned
 * (SUCCESS_WITH_CALLBACK, SUCCESS_NO_CALLBACK, COMPLETE or SYNCHRONIZE; for
 * COMPLETE set data->io_status first) and @p context the completion context
 * for the post-callback. Call exactly once per pended operation, from any
 * thread (also from within the pre-callback itself); the rest of the
 * operation may run on the calling thread before this returns.
 */
FLT_API void flt_complete_pended_preop(struct flt_callback_data *data,
				       enum flt_preop_status status,
				       void *context);
/** Resume an operation whose post-callback returned
 *  FLT_POSTOP_MORE_PROCESSING_REQUIRED. Exactly once, from any thread. */
FLT_API void flt_complete_pended_postop(struct flt_callback_data *data);

/** True once the requestor gave up on the operation (FUSE INTERRUPT: the
 *  process got a signal). A filter holding it pended should complete it
 *  soon, typically with -EINTR. */
FLT_API int flt_is_operation_cancelled(const struct flt_callback_data *data);

/** Called (once, on the thread that cancels, no manager lock held) when a
 *  pended operation is cancelled. */
typedef void (*flt_cancel_routine)(struct flt_callback_data *data);
/** Set while the operation is pended; returns -ECANCELED (and does not
 *  set it) if the operation is already cancelled. */
FLT_API int flt_set_cancel_routine(struct flt_callback_data *data,
				   flt_cancel_routine routine);
/** Clear it before completing; returns 0, or -EBUSY if the routine is
 *  already running or has run. */
FLT_API int flt_clear_cancel_routine(struct flt_callback_data *data);

/** Flags passed to post-callbacks: none defined yet (0). */

/**
 * Pre-operation callback. May set *completion_context for its post.
 * Called on a volume worker thread with no manager lock held.
 */
typedef enum flt_preop_status (*flt_pre_operation_callback)(
	struct flt_callback_data *data,
	const struct flt_related_objects *objects,
	void **completion_context);

/** Post-operation callback; sees io_status/results of the layers below. */
typedef enum flt_postop_status (*flt_post_operation_callback)(
	struct flt_callback_data *data,
	const struct flt_related_objects *objects,
	void *completion_context, unsigned flags);

/*
 * The fast path. A volume may let the kernel serve a file's reads, writes
 * and mmap directly from the lower (backing) file (FUSE passthrough): those
 * operations then never reach any filter. The manager allows it only if no
 * instance on the volume wants them:
 *  - by default, a filter that registers a pre- or post-callback for
 *    FLT_OP_READ or FLT_OP_WRITE sees every read and write, so while it is
 *    attached no file of the volume takes the fast path;
 *  - a filter that registers them with FLT_OPREG_SKIP_FASTPATH_FILES only
 *    sees the data operations of files that do not take the fast path, and
 *    chooses those files itself by calling flt_disallow_fastpath() in its
 *    open or create pre- or post-callback.
 * Everything else (open, release, flush, fsync, fallocate, lseek,
 * copy_file_range, setattr/truncate, getattr, xattrs) still reaches the
 * filters for fast-path files.
 *
 * The decision is per inode, and the kernel keeps it while the inode has
 * any open handle: a file opened (on the fast path) before a filter that
 * wants data operations was attached keeps the fast path for every open
 * until all its handles are closed; until then that filter does not see
 * its reads and writes. Conversely a file open off the fast path stays off
 * it for further opens until all its handles are closed.
 */

/** Operation registration flags (flt_operation_registration.flags). */
/** On a FLT_OP_READ or FLT_OP_WRITE row: this callback does not need to
 *  see the data operations of fast-path files (see above). Ignored on
 *  other rows. */
#define FLT_OPREG_SKIP_FASTPATH_FILES	(1u << 0)
/** On a FLT_OP_FLUSH row: this callback only needs the flushes the kernel
 *  sends anyway, so registering it does not clear
 *  flt_open_result.no_flush (every close of a file on a local lower file
 *  system would otherwise cost a FLUSH round trip). For a callback that
 *  only translates (e.g. a filter-owned node id back to the lower one): a
 *  filter that wants the flushes of some files clears no_flush in their
 *  post-open. Ignored on other rows. */
#define FLT_OPREG_FLUSH_IF_SENT		(1u << 1)

/**
 * From an open or create pre- or post-callback: this open (and the file's
 * other opens while it is open) must not take the fast path, so its reads
 * and writes reach the filters. No effect on other operations.
 */
FLT_API void flt_disallow_fastpath(struct flt_callback_data *data);

/** One row of the operation table. */
struct flt_operation_registration {
	enum flt_op op;			/**< FLT_OP_COUNT ends the table */
	unsigned flags;			/**< FLT_OPREG_*, or 0 */
	flt_pre_operation_callback pre;
	flt_post_operation_callback post;
};
#define FLT_OPERATION_END { FLT_OP_COUNT, 0, NULL, NULL }

/** InstanceSetup: called before the instance is visible to any
 *  operation. Return 0 to attach, -ENOTSUP (or any error) to decline. */
typedef int (*flt_instance_setup_callback)(
	const struct flt_related_objects *objects);
/** InstanceQueryTeardown: a manual detach (fsfilter unload/detach) asks.
 *  Return 0 to allow, a negative errno to veto (-EBUSY). Not called at
 *  unmount or forced unload. */
typedef int (*flt_instance_query_teardown_callback)(
	const struct flt_related_objects *objects);
/** InstanceTeardownStart: new operations no longer reach the instance;
 *  operations it holds pended must now be completed (the manager waits for
 *  them before teardown completes). InstanceTeardownComplete: nothing of
 *  the instance runs any more; its contexts are released after it. */
typedef void (*flt_instance_teardown_callback)(
	const struct flt_related_objects *objects);
/**
 * The filter's own figures for `fsfilter status` (queue drops, verdict
 * counts, progress of long work). Called on the control thread with no
 * manager lock held, while the instance is guaranteed attached (the caller
 * holds a reference to the instance stack: do not block for long, since a
 * detach waits for it). Add key/value pairs with flt_status_add_u64() and
 * flt_status_add_str(); they appear under the instance in the status JSON
 * ("figures": {key: value}, in the order added) and in the human output.
 * Keys: [A-Za-z0-9_.-], at most 63 bytes; a dotted key ("client.12.dropped")
 * is just a name. Return 0 or a negative errno (reported as "error").
 */
struct flt_status_writer;
typedef int (*flt_instance_status_callback)(
	const struct flt_related_objects *objects,
	struct flt_status_writer *w);
/** Add a number. Pairs beyond 256 per instance, or with an invalid key,
 *  are dropped (and counted in "figures_dropped"). */
FLT_API void flt_status_add_u64(struct flt_status_writer *w, const char *key,
				uint64_t value);
/** Add a string (copied; at most 255 bytes are kept). */
FLT_API void flt_status_add_str(struct flt_status_writer *w, const char *key,
				const char *value);

/** FilterUnload: the filter is about to be unregistered (fsfilter unload).
 *  Return 0, or a negative errno to refuse a non-forced unload. Its
 *  instances are detached after it returns 0. */
typedef int (*flt_filter_unload_callback)(struct flt_filter *filter);

/**
 * The registration (FLT_REGISTRATION). Start it with
 * FLT_REGISTRATION_INIT so size and version are right; new fields are only
 * ever added at the end.
 */
struct flt_registration {
	uint32_t size;			/**< sizeof(struct flt_registration) */
	uint32_t version;		/**< FLT_REGISTRATION_VERSION */
	const char *name;		/**< short name, [a-z0-9_-]{1,31} */
	uint32_t default_altitude;	/**< used when the volume names none */
	uint32_t flags;			/**< reserved, 0 */
	const struct flt_operation_registration *operations;
	flt_filter_unload_callback filter_unload;
	flt_instance_setup_callback instance_setup;
	flt_instance_teardown_callback instance_teardown_complete;
	void *filter_data;		/**< opaque, returned by flt_filter_data() */
	/** Context types the filter uses, ending in FLT_CONTEXT_END. */
	const struct flt_context_registration *contexts;
	flt_instance_query_teardown_callback instance_query_teardown;
	flt_instance_teardown_callback instance_teardown_start;
	/** Optional: the instance's figures for `fsfilter status`. */
	flt_instance_status_callback instance_status;
	/**
	 * Optional: the largest READ (bytes) the filter wants the kernel to
	 * send the volume at once; 0: no preference (the volume's default,
	 * 1 MiB). A filter whose work per READ is long and done in order
	 * (crypt: lower read, then decryption, then the reply) asks for
	 * smaller READs: the kernel then sends each readahead window as
	 * several READs, which the worker threads serve at the same time,
	 * instead of one that the reader waits for. The volume takes the
	 * smallest value among the filters attached when it is mounted
	 * (whole pages, at least 4 KiB); the kernel fixes it at mount, so
	 * attaching or detaching later does not change it. Only READs that
	 * reach the daemon are affected (not fast-path files); writes and
	 * the readahead window are not.
	 */
	uint32_t max_read;
};

/** The symbol a filter shared object exports: a pointer to its
 *  registration, loaded with `fsfilter load FILE.so`. */
#define FLT_REGISTRATION_SYMBOL "fsfilter_registration"
/** In a filter .so: FLT_DECLARE_FILTER(my_registration); */
#define FLT_DECLARE_FILTER(reg) \
	FLT_API const struct flt_registration *fsfilter_registration = &(reg)
#define FLT_REGISTRATION_INIT .size = sizeof(struct flt_registration), \
			      .version = FLT_REGISTRATION_VERSION

/**
 * Register a filter with the manager. @p reg is copied (its operations
 * table must stay valid until flt_unregister_filter). Returns 0 and the
 * filter in @p out, or -EINVAL (bad size/version/name), -EEXIST (a filter
 * of that name is registered).
 */
FLT_API int flt_register_filter(const struct flt_registration *reg,
				struct flt_filter **out);
/** Allow instances of the filter to be attached to volumes. */
FLT_API int flt_start_filtering(struct flt_filter *filter);
/** Detach all instances, then free the filter. */
FLT_API void flt_unregister_filter(struct flt_filter *filter);

FLT_API const char *flt_filter_name(const struct flt_filter *filter);
FLT_API void *flt_filter_data(const struct flt_filter *filter);
FLT_API uint32_t flt_instance_altitude(const struct flt_instance *inst);
/** The argument string given with --filter NAME:ARGS ("" if none). */
FLT_API const char *flt_instance_args(const struct flt_instance *inst);

/* ---- contexts ------------------------------------------------------------ */

/*
 * Memory a filter attaches to an object, reference counted, freed by the
 * manager when the object goes away (FltAllocateContext, FltSetXxxContext,
 * FltGetXxxContext, FltReleaseContext). Kinds:
 *  - volume and instance contexts: one per instance (a filter has at most
 *    one instance per volume, so they are the same scope; both exist for
 *    authors porting Windows code); freed at detach;
 *  - stream contexts: per lower inode (flt_ino_t); freed when the inode is
 *    forgotten (its last lookup reference dropped), or at detach;
 *  - stream handle contexts: per open handle (the fh of open/create/
 *    opendir); freed when the handle is released, *before* the release
 *    reaches the layer below (a post-release callback cannot get it: take
 *    it in the pre-release callback and hand it over as completion
 *    context), or at detach.
 * Every get returns a reference the caller must drop with
 * flt_release_context(). The manager holds one reference while a context
 * is set. The cleanup callback runs when the last reference goes, on the
 * thread that drops it, with no manager lock held.
 * Lock: each instance's context maps have one leaf lock; never held while
 * a cleanup callback runs.
 */
enum flt_context_type {
	FLT_VOLUME_CONTEXT = 1,
	FLT_INSTANCE_CONTEXT = 2,
	FLT_STREAM_CONTEXT = 4,
	FLT_STREAMHANDLE_CONTEXT = 8,
};

typedef void (*flt_context_cleanup_callback)(void *context,
					     enum flt_context_type type);

struct flt_context_registration {
	enum flt_context_type type;	/**< 0 ends the table */
	uint32_t flags;			/**< reserved, 0 */
	flt_context_cleanup_callback cleanup;	/**< may be NULL */
	size_t size;			/**< informational; any size allowed */
};
#define FLT_CONTEXT_END { 0, 0, NULL, 0 }

enum flt_set_context_mode {
	/** Keep an existing context: fail with -EEXIST and return it
	 *  (referenced) through @c old. */
	FLT_SET_CONTEXT_KEEP_IF_EXISTS = 0,
	/** Replace it: the old one is returned (referenced) through @c old,
	 *  or released if @c old is NULL. */
	FLT_SET_CONTEXT_REPLACE_IF_EXISTS,
};

/** Allocate a zeroed context of @p size bytes (one reference). The type
 *  must be in the filter's context registration. -EINVAL otherwise. */
FLT_API int flt_allocate_context(struct flt_filter *filter,
				 enum flt_context_type type, size_t size,
				 void **out);
FLT_API void flt_reference_context(void *context);
/** Drop a reference; the last one runs the cleanup callback and frees. */
FLT_API void flt_release_context(void *context);

FLT_API int flt_set_volume_context(struct flt_instance *instance,
				   enum flt_set_context_mode mode,
				   void *context, void **old);
FLT_API int flt_get_volume_context(struct flt_instance *instance, void **out);
FLT_API int flt_delete_volume_context(struct flt_instance *instance);

FLT_API int flt_set_instance_context(struct flt_instance *instance,
				     enum flt_set_context_mode mode,
				     void *context, void **old);
FLT_API int flt_get_instance_context(struct flt_instance *instance,
				     void **out);
FLT_API int flt_delete_instance_context(struct flt_instance *instance);

FLT_API int flt_set_stream_context(struct flt_instance *instance,
				   flt_ino_t ino,
				   enum flt_set_context_mode mode,
				   void *context, void **old);
/** -ENOENT when none is set. */
FLT_API int flt_get_stream_context(struct flt_instance *instance,
				   flt_ino_t ino, void **out);
FLT_API int flt_delete_stream_context(struct flt_instance *instance,
				      flt_ino_t ino);

FLT_API int flt_set_streamhandle_context(struct flt_instance *instance,
					 uint64_t fh,
					 enum flt_set_context_mode mode,
					 void *context, void **old);
FLT_API int flt_get_streamhandle_context(struct flt_instance *instance,
					 uint64_t fh, void **out);
FLT_API int flt_delete_streamhandle_context(struct flt_instance *instance,
					    uint64_t fh);

/* ---- filter-initiated I/O ------------------------------------------------ */

/*
 * I/O a filter issues itself (FltAllocateCallbackData, FltPerformSynchronousIo,
 * FltReadFile, ...). It starts at the instance *below* the issuing one and
 * never reaches that instance or anything above it, so a filter can read
 * another file from inside its own read callback, paging I/O included,
 * without re-entering the volume. Such operations carry
 * FLT_IO_FILTER_INITIATED and run as the daemon (requestor pid = the
 * daemon, uid/gid 0) unless the filter sets data->requestor.
 *
 * May be called from any thread, including from inside callbacks; never
 * with a lock held that a callback of a filter below might take.
 */

/** Allocate a callback data for @p op issued by @p instance. Free it with
 *  flt_free_callback_data() exactly once (the volume counts live ones), on
 *  any thread. Cheap: freed ones are recycled per thread, no heap
 *  allocation per I/O. */
FLT_API int flt_allocate_callback_data(struct flt_instance *instance,
				       enum flt_op op,
				       struct flt_callback_data **out);
/** Free it; results it owns (readlink, dirents) are freed too. */
FLT_API void flt_free_callback_data(struct flt_callback_data *data);
/** Send it down and wait; returns data->io_status.status. */
FLT_API int flt_perform_synchronous_io(struct flt_callback_data *data);
/** Called once when asynchronous I/O completes, on whatever thread
 *  completed it. The callback data is still the caller's to free. */
typedef void (*flt_completed_io_callback)(struct flt_callback_data *data,
					  void *context);
/** Send it down; @p cb runs when it completes (possibly before this
 *  returns). */
FLT_API void flt_perform_asynchronous_io(struct flt_callback_data *data,
					 flt_completed_io_callback cb,
					 void *context);

/** A file a filter opened below itself. */
struct flt_file {
	flt_ino_t ino;		/**< holds one lookup reference */
	uint64_t fh;
	int is_dir;
};

/** Resolve @p path ("a/b/c", relative to the volume root, no "..") below
 *  @p instance. On success @p out->ino holds one lookup reference: drop it
 *  with flt_forget(). */
FLT_API int flt_lookup_path(struct flt_instance *instance, const char *path,
			    struct flt_entry *out);
/** Drop @p nlookup lookup references (FLT_OP_FORGET below the instance). */
FLT_API void flt_forget(struct flt_instance *instance, flt_ino_t ino,
			uint64_t nlookup);
/** Open (or with O_CREAT create) @p path below @p instance. O_DIRECTORY
 *  opens a directory. Close with flt_close(). */
FLT_API int flt_create_file(struct flt_instance *instance, const char *path,
			    int flags, mode_t mode, struct flt_file *out);
FLT_API int flt_read_file(struct flt_instance *instance,
			  const struct flt_file *file, off_t offset,
			  size_t size, void *buf, size_t *bytes_read);
FLT_API int flt_write_file(struct flt_instance *instance,
			   const struct flt_file *file, off_t offset,
			   size_t size, const void *buf, size_t *written);
/** getattr below the instance. */
FLT_API int flt_query_information(struct flt_instance *instance,
				  flt_ino_t ino, struct stat *st);
/** Release the handle and the lookup reference. */
FLT_API int flt_close(struct flt_instance *instance, struct flt_file *file);

/* ---- filter-owned node ids ---------------------------------------------- */

/*
 * A filter can make objects appear that the lower layer does not have (the
 * virtual files of `redirect`). Such an object needs a node id the kernel
 * can name, but node ids are normally the lower layer's and FORGET for them
 * goes to the bottom. A filter-owned id has FLT_INO_FILTER_OWNED set (never
 * set in a lower id) and belongs to the instance that allocated it:
 *  - the owner returns it in entries it completes itself (a LOOKUP it
 *    completes in pre, or one it turns from -ENOENT into success in post;
 *    readdirplus entries) and counts the lookup references it hands out;
 *  - every operation naming the id (data->ino, a parent or newparent,
 *    copy_file_range's ino_out) passes the filters above the owner like any
 *    other, and the owner must complete it in its pre-callback (FORGET
 *    included: drop the references, and free the id at zero). An operation
 *    that reaches the bottom anyway is completed by the manager with -EIO
 *    (FORGET: silently with 0), so the lower layer never sees such an id;
 *  - flt_free_node_id() when the last reference is gone: every instance's
 *    stream contexts for the id are released. Ids are never reused.
 *  - teardown (detach, unload, unmount): once the instance is off the
 *    stack, operations naming its ids reach the bottom and are completed
 *    as above, so the FORGETs and RELEASEs the kernel still sends for them
 *    never reach the owner. If its ids stand for things it holds below
 *    itself (lookup references, open handles: crypt's raw-view twins),
 *    the owner gives them back in its instance_teardown_complete callback
 *    with filter-initiated I/O (flt_forget(), a FLT_OP_RELEASE), which
 *    still goes below it there; otherwise they stay until unmount.
 */
#define FLT_INO_FILTER_OWNED ((flt_ino_t)1 << 63)

/** Allocate a fresh filter-owned node id for @p instance. 0 or -EINVAL. */
FLT_API int flt_allocate_node_id(struct flt_instance *instance,
				 flt_ino_t *out);
/** The id's last lookup reference is gone: release stream contexts. */
FLT_API void flt_free_node_id(struct flt_instance *instance, flt_ino_t ino);

/* ---- kernel cache invalidation ------------------------------------------- */

/*
 * When a filter changes what an inode or a name shows (a redirect rule is
 * added or removed), the kernel's cached attributes, pages and dentries must
 * go. These ask the host (the FUSE front end) to invalidate them. Safe from
 * any thread, but never from inside a callback of an operation on the same
 * inode or directory (the kernel may hold its lock while it waits for that
 * operation): call them from a port callback or a thread of your own.
 * Return 0, -ENOENT (the kernel did not know it), -ENOSYS (no host hook:
 * e.g. the unit-test host), or another negative errno.
 */
/** Drop cached attributes and all cached pages of @p ino. */
FLT_API int flt_invalidate_inode(struct flt_instance *instance,
				 flt_ino_t ino);
/** Drop the cached dentry @p name in directory @p parent. */
FLT_API int flt_invalidate_entry(struct flt_instance *instance,
				 flt_ino_t parent, const char *name);

/* ---- communication ports ------------------------------------------------- */

/*
 * A filter's line to its user-mode half (FltCreateCommunicationPort,
 * FltSendMessage, ...). A server port is a Unix domain socket named
 * <runtime dir>/<name> where the runtime dir belongs to the volume's daemon
 * (/run/fsfilter/<volume id>/ as root, $XDG_RUNTIME_DIR/fsfilter/<volume
 * id>/ otherwise); clients connect with libfsfilter-client
 * (include/fsfilter/client.h). Wire format: docs/ports.md.
 *
 * Threads: every call here is safe from any thread, including from inside
 * operation callbacks. Callbacks below run on the port's own thread(s),
 * never on a volume worker, with no manager lock held; they may call
 * flt_send_message() to other clients but should not block for long.
 */
struct flt_port;		/* a listening server port */
struct flt_client_port;		/* one connected client */

/** Maximum payload of one message in either direction. */
#define FLT_PORT_MAX_MESSAGE (64u * 1024u)

/** Who may connect. The socket file gets @c owner/@c group/@c mode;
 *  connecting peers (SO_PEERCRED) must also match an allowed uid or gid
 *  when the lists are not empty (root is always allowed). */
struct flt_port_security {
	uid_t owner;
	gid_t group;
	mode_t mode;			/**< e.g. 0600; never world-writable
					     unless explicitly given */
	const uid_t *allowed_uids;
	size_t n_allowed_uids;
	const gid_t *allowed_gids;
	size_t n_allowed_gids;
};

/** The connecting process, from SO_PEERCRED. */
struct flt_port_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/** A client connects. @p context is the blob the client sent (borrowed).
 *  Return 0 to accept (and set *@p connection_cookie), or a negative errno
 *  to refuse: the client's connect fails with that errno. */
typedef int (*flt_port_connect_callback)(struct flt_client_port *client,
					 void *server_cookie,
					 const struct flt_port_peer *peer,
					 const void *context,
					 size_t context_len,
					 void **connection_cookie);
/** The client is gone (closed, died, or flt_close_client_port). Every
 *  flt_send_message() waiting on it has returned -ECONNRESET before this
 *  runs. After it returns the client port must not be used. */
typedef void (*flt_port_disconnect_callback)(void *connection_cookie);
/** A client sent a message (fltc_send_message). Write up to @p out_len
 *  bytes of reply to @p out and their count to *@p out_returned. Return 0,
 *  or a negative errno that the client's send returns. */
typedef int (*flt_port_message_callback)(void *connection_cookie,
					 const void *in, size_t in_len,
					 void *out, size_t out_len,
					 size_t *out_returned);

/** Create a server port @p name ([A-Za-z0-9_.-]{1,63}) for @p filter.
 *  At most @p max_connections clients at once (further connects are
 *  refused with EBUSY). Errors: -EEXIST (name in use), -EINVAL, or the
 *  errno of socket/bind. */
FLT_API int flt_create_communication_port(
	struct flt_filter *filter, const char *name,
	const struct flt_port_security *security, void *server_cookie,
	flt_port_connect_callback connect_cb,
	flt_port_disconnect_callback disconnect_cb,
	flt_port_message_callback message_cb, unsigned max_connections,
	struct flt_port **out);
/** Stop listening (existing clients stay connected until closed). */
FLT_API void flt_close_communication_port(struct flt_port *port);
/** Disconnect one client; pending sends to it return -ECONNRESET. */
FLT_API void flt_close_client_port(struct flt_filter *filter,
				   struct flt_client_port *client);

/**
 * Send @p in to @p client. With @p out NULL, returns once the message is
 * queued (or -EAGAIN if the client's queue is full). Otherwise waits for
 * the client's reply (fltc_reply_message) and copies up to @p *out_len
 * bytes of it to @p out, setting *@p out_len to the count.
 * @p timeout_ms < 0 waits forever (never do that from a paging I/O path).
 * Returns 0, -ETIMEDOUT (no reply in time; a late reply is discarded),
 * -ECONNRESET (the client went away), -EMSGSIZE, -ENOTCONN.
 */
FLT_API int flt_send_message(struct flt_filter *filter,
			     struct flt_client_port *client, const void *in,
			     size_t in_len, void *out, size_t *out_len,
			     int timeout_ms);

/** The runtime directory of this process's ports (set by the host). */
FLT_API const char *flt_port_runtime_dir(void);

/* ---- logging ----------------------------------------------------------- */

/**
 * Log a message at a syslog priority (LOG_ERR ... LOG_DEBUG). Messages
 * above the current level (default LOG_NOTICE) are dropped cheaply.
 * Thread-safe; never blocks on the volume. A message is one line: control
 * bytes in it (a newline in a file name it quotes) are written as \xHH,
 * so quoting a name cannot forge a log line. At most 1023 bytes.
 */
FLT_API void flt_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Where log lines go (default: stderr). @sink is called with one
 *  formatted line (no newline) at a time, from any thread. */
typedef void (*flt_log_sink)(int priority, const char *line, void *arg);
FLT_API void flt_set_log_sink(flt_log_sink sink, void *arg);
FLT_API void flt_set_log_level(int priority);

#ifdef __cplusplus
}
#endif
#endif /* FSFILTER_FILTER_H */
