/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager as its hosts see it (the FUSE front end, the unit-test host).
 * Knows nothing of FUSE: a host builds a struct flt_callback_data, hands it
 * to core_dispatch(), and gets it back through its completion function with
 * io_status and results filled in.
 *
 * Threads: every function here may be called from any thread. Lock order:
 * registry -> volume -> instance (DESIGN.md rule 6); no lock is held while
 * a callback or the bottom runs.
 */
#ifndef FSFILTER_CORE_H
#define FSFILTER_CORE_H

#include <fsfilter/filter.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The bottom of the stack: the lower layer, or an in-memory stand-in.
 * perform() runs the operation described by @data (params as the filters
 * above left them), sets data->io_status and data->results, and returns.
 * It may block on I/O; it is called with no manager lock held.
 */
struct core_bottom {
	void (*perform)(void *ctx, struct flt_callback_data *data);
	void *ctx;
};

/* Called exactly once per dispatched operation, when it is complete. In this
 * version always before core_dispatch() returns; hosts must not rely on that
 * (pending operations complete later, on another thread). */
typedef void (*core_complete_fn)(struct flt_callback_data *data, void *cookie);

/* Create a volume over @bottom (copied). @name is for status and logs. */
int core_volume_create(const char *name, const struct core_bottom *bottom,
		       struct flt_volume **out);
/* Detach every instance (teardown callbacks run), then free. No operation
 * may be in flight. */
void core_volume_destroy(struct flt_volume *vol);
const char *core_volume_name(const struct flt_volume *vol);

/*
 * Attach a registered, started filter to @vol. @altitude 0 means the
 * filter's default. @args is copied (NULL = ""). Returns -ENOENT (no such
 * filter), -EEXIST (altitude taken or filter already attached), -EINVAL
 * (filter not started), or the error of the filter's instance_setup.
 */
int core_volume_attach(struct flt_volume *vol, const char *filter_name,
		       uint32_t altitude, const char *args,
		       struct flt_instance **out);
/* Detach an instance: it gets no new operations, teardown_start runs (it
 * must complete what it holds pended), the call waits until none of its
 * callbacks runs and no operation holds it any more, then
 * teardown_complete runs and its contexts are released. */
int core_volume_detach(struct flt_volume *vol, struct flt_instance *inst);
/* Detach every instance, top first (unmount: no new operations arrive).
 * Returns when no operation holds any of them. */
void core_volume_detach_all(struct flt_volume *vol);
/* A manual detach by filter name: asks instance_query_teardown first
 * (-EBUSY or the filter's veto) unless @force. -ENOENT if not attached. */
int core_volume_detach_filter(struct flt_volume *vol, const char *filter_name,
			      bool force);

/* Unload a filter: filter_unload may refuse (unless @force), then every
 * instance is detached and the filter unregistered. -ENOENT if unknown. */
int core_unload_filter(const char *filter_name, bool force);

/* Number of attached instances, and the n-th from the top (highest altitude
 * first); for status and tests. */
size_t core_volume_instance_count(struct flt_volume *vol);
int core_volume_instance_at(struct flt_volume *vol, size_t n,
			    char *name, size_t name_len, uint32_t *altitude);

/* Prepare @data for a new operation (zeroes it; sets op and ino). */
void core_data_init(struct flt_callback_data *data, enum flt_op op,
		    flt_ino_t ino);
/* Free what results own (readlink string, dirents). Call once after the
 * completion function has used the results. */
void core_data_cleanup(struct flt_callback_data *data);

/*
 * Run @data through the stack of @vol: pre-callbacks from the highest
 * altitude down, the bottom (unless a filter completed the operation),
 * post-callbacks back up in reverse order. Iterative. @done(data, cookie)
 * is called exactly once at the end.
 */
void core_dispatch(struct flt_volume *vol, struct flt_callback_data *data,
		   core_complete_fn done, void *cookie);
/* The same, naming the host's request @id (the FUSE unique) in the trace
 * view. */
void core_dispatch_id(struct flt_volume *vol, struct flt_callback_data *data,
		      uint64_t id, core_complete_fn done, void *cookie);

/*
 * The trace view (fsfilter mount -d): every step of every operation through
 * the stack (dispatch, each pre-callback and its status, the bottom, each
 * post-callback, the result) as one line per step written to @fd, in the
 * style of libfuse's debug output. @fd < 0 turns it off. Call before the
 * first dispatch on @vol; when off it costs one predictable branch per
 * step.
 */
void core_volume_set_trace(struct flt_volume *vol, int fd);

/* True while an attached instance wants every read and write of the
 * volume (a READ or WRITE callback without FLT_OPREG_SKIP_FASTPATH_FILES):
 * then no file may take the fast path. One atomic load; updated on attach
 * and detach. Per open, results.open.no_fastpath (set at completion from
 * the stack the open went through, and flt_disallow_fastpath()) is the
 * authoritative answer. */
bool core_volume_wants_data_ops(struct flt_volume *vol);

/* Number of operations dispatched and not yet completed on @vol. */
uint64_t core_volume_inflight(struct flt_volume *vol);
/* The smallest max_read of the filters attached to @vol now (struct
 * flt_registration), 0 if none asks; the host reads it once at mount. */
uint32_t core_volume_max_read(struct flt_volume *vol);
/* Callback data allocated by filters (flt_allocate_callback_data) and not
 * yet freed: zero whenever no filter-initiated I/O is under way. */
uint64_t core_volume_live_callback_data(struct flt_volume *vol);

/* The lower inode @ino is gone (its last lookup reference was dropped):
 * every instance's stream context for it is released. The bottom calls
 * this before the node id can be reused. */
void core_stream_gone(struct flt_volume *vol, flt_ino_t ino);

/* The requestor gave up (FUSE INTERRUPT). Sets the cancelled flag and runs
 * the filter's cancel routine, if one is set (on this thread; it may
 * complete the operation, so the completion function may run before this
 * returns). Safe against the operation completing concurrently; the host
 * must only keep @data's memory alive for the duration of the call (and
 * must not hold a lock its completion function takes). */
void core_cancel(struct flt_volume *vol, struct flt_callback_data *data);

/* ---- status (the !fltkd view) ---- */

struct core_instance_status {
	char filter[32];
	uint32_t altitude;
	const char *args;		/* valid during the callback */
	uint64_t npre[FLT_OP_COUNT];	/* operations that reached pre */
	uint64_t npost[FLT_OP_COUNT];	/* ... and post */
};

struct core_node_status {
	char filter[32];
	uint32_t altitude;
	bool sync;			/* waits for its own thread */
};

struct core_op_status {
	enum flt_op op;
	unsigned flags;			/* FLT_IO_* */
	flt_ino_t ino;
	struct flt_requestor requestor;
	uint64_t age_ns;
	bool in_post;			/* ascending */
	bool cancelled;
	char pended_by[32];		/* "" if not pended */
	size_t nnodes;			/* completion node stack, top first */
	struct core_node_status nodes[16];	/* the first 16 */
};

/* Report every instance (top first) and every in-flight operation of @vol.
 * The callbacks run under the volume lock: they must only copy data out
 * (no manager calls, no blocking). Either may be NULL. */
void core_volume_status(struct flt_volume *vol,
			void (*instance_fn)(const struct core_instance_status *,
					    void *),
			void (*op_fn)(const struct core_op_status *, void *),
			void *arg);
uint64_t core_volume_dispatched(struct flt_volume *vol);

/* One figure a filter reported (flt_status_add_u64/_str). */
struct core_figure {
	const char *key;
	bool is_str;
	uint64_t u64;
	const char *str;
};

/* The filters' own figures (flt_registration.instance_status), instance by
 * instance, top first: @fn is called once per instance that has the
 * callback, with its figures (valid during the call) and the callback's
 * return value. No manager lock is held while the filters' callbacks or
 * @fn run; the stack is referenced, so a detach waits for this to finish. */
void core_volume_figures(struct flt_volume *vol,
			 void (*fn)(const char *filter, uint32_t altitude,
				    int ret, const struct core_figure *figs,
				    size_t nfigs, size_t dropped, void *arg),
			 void *arg);

/* ---- filters in shared objects (loader.c) ---- */

/* Load the filter .so at @path (dlopen; the symbol FLT_REGISTRATION_SYMBOL
 * with its ABI checked), register it and start filtering; its name goes to
 * @name_out. A file already loaded is not loaded again (its name is
 * returned). core_unload_filter() closes the object again. Errors:
 * -ENOENT and other realpath errors, -ENOEXEC (not loadable, no
 * registration symbol), -EPROTO (ABI size/version mismatch), -EEXIST (the
 * name is taken), the registration's error. The _msg form also writes a
 * one-line explanation naming the file to @err. */
int core_load_filter_file(const char *path, char *name_out, size_t len);
int core_load_filter_file_msg(const char *path, char *name_out, size_t len,
			      char *err, size_t errlen);
/* True if filter @name came from a shared object (its path to @path). */
bool core_filter_is_loaded_file(const char *name, char *path, size_t len);
/* True if the object at @path is loaded (same file after realpath). */
bool core_filter_file_is_loaded(const char *path);

/* Find a registered filter by name (NULL if none). */
struct flt_filter *core_find_filter(const char *name);

#endif /* FSFILTER_CORE_H */
