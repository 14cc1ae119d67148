/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hello: an example minifilter, built as a shared object and loaded at run
 * time (fsfilter load MOUNTPOINT hello.so, or --filter /path/hello.so).
 * docs/writing-a-filter.md builds it step by step. It uses nothing but
 * <fsfilter/filter.h>.
 *
 * What it does:
 *  - remembers the name of every file it sees looked up or created, in a
 *    *stream context* (one per lower inode);
 *  - counts opens and bytes read per file (stream context) and per open
 *    handle (*stream handle context*), logs the first open of each file
 *    and, when the file is forgotten or the filter detached, its totals;
 *  - with the argument "deny", refuses to open or create files whose name
 *    ends in ".forbidden" (EACCES), completing the operation in its
 *    pre-callback so nothing below ever sees it.
 *
 * Callbacks run on the volume's worker threads, several at once: the
 * counters are atomics, and everything else is set once and then only read.
 */
#include <fsfilter/filter.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#define HELLO_ALTITUDE 320000

/* Per instance: the parsed arguments. */
struct hello_instance {
	bool deny;
};

/* Per file (lower inode). The name is the one it was first seen under. */
struct hello_stream {
	char name[256];
	atomic_uint_fast64_t opens;
	atomic_uint_fast64_t bytes_read;
};

/* Per open handle: bytes read through this one open. */
struct hello_handle {
	struct hello_stream *stream;	/* a reference, dropped at cleanup */
	atomic_uint_fast64_t bytes_read;
};

static bool forbidden(const char *name)
{
	static const char suffix[] = ".forbidden";
	size_t n = strlen(name), s = sizeof(suffix) - 1;

	return n >= s && !strcmp(name + n - s, suffix);
}

static bool deny_mode(const struct flt_related_objects *obj)
{
	struct hello_instance *hi;
	bool deny;

	if (flt_get_instance_context(obj->instance, (void **)&hi))
		return false;
	deny = hi->deny;
	flt_release_context(hi);
	return deny;
}

/* ---- contexts ---------------------------------------------------------- */

static void hello_cleanup(void *context, enum flt_context_type type)
{
	if (type == FLT_STREAM_CONTEXT) {
		struct hello_stream *hs = context;
		uint64_t opens = atomic_load(&hs->opens);

		if (opens)
			flt_log(LOG_NOTICE, "hello: %s: %llu open(s), %llu "
				"byte(s) read", hs->name,
				(unsigned long long)opens,
				(unsigned long long)atomic_load(&hs->bytes_read));
	} else if (type == FLT_STREAMHANDLE_CONTEXT) {
		struct hello_handle *hh = context;

		flt_release_context(hh->stream);
	}
}

/* Remember @name for the inode a lookup or create found. The first name
 * wins (KEEP_IF_EXISTS): a race between two lookups of the same file is
 * harmless, the loser just drops its copy. */
static void remember(const struct flt_related_objects *obj, flt_ino_t ino,
		     const char *name)
{
	struct hello_stream *hs, *old = NULL;

	if (!ino || flt_allocate_context(obj->filter, FLT_STREAM_CONTEXT,
					 sizeof(*hs), (void **)&hs))
		return;
	snprintf(hs->name, sizeof(hs->name), "%s", name);
	if (flt_set_stream_context(obj->instance, ino, FLT_SET_CONTEXT_KEEP_IF_EXISTS,
				   hs, (void **)&old) == -EEXIST && old)
		flt_release_context(old);
	flt_release_context(hs);	/* the manager holds its own now */
}

/* ---- callbacks ----------------------------------------------------------- */

static enum flt_postop_status post_lookup(struct flt_callback_data *data,
					  const struct flt_related_objects *obj,
					  void *ctx, unsigned flags)
{
	if (data->io_status.status == 0)
		remember(obj, data->results.entry.ino,
			 data->op == FLT_OP_CREATE ? data->params.create.name
						   : data->params.lookup.name);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_preop_status pre_create(struct flt_callback_data *data,
					const struct flt_related_objects *obj,
					void **ctx)
{
	if (forbidden(data->params.create.name) && deny_mode(obj)) {
		data->io_status.status = -EACCES;
		return FLT_PREOP_COMPLETE;
	}
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_preop_status pre_open(struct flt_callback_data *data,
				      const struct flt_related_objects *obj,
				      void **ctx)
{
	struct hello_stream *hs;
	char comm[32];

	/* no name known: the file was looked up before we were attached */
	if (flt_get_stream_context(obj->instance, data->ino, (void **)&hs))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	if (forbidden(hs->name) && deny_mode(obj)) {
		flt_log(LOG_NOTICE, "hello: denied open of %s by %s[%d]",
			hs->name, flt_requestor_name(data, comm, sizeof(comm)),
			(int)data->requestor.pid);
		flt_release_context(hs);
		data->io_status.status = -EACCES;
		return FLT_PREOP_COMPLETE;
	}
	/* the stream reference goes to the post-callback */
	*ctx = hs;
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

/* After a successful open (or create): count it, log the first one, and
 * give the new handle a context of its own. */
static enum flt_postop_status post_open(struct flt_callback_data *data,
					const struct flt_related_objects *obj,
					void *ctx, unsigned flags)
{
	struct hello_stream *hs = ctx;
	struct hello_handle *hh;
	char comm[32];

	if (data->op == FLT_OP_CREATE) {
		post_lookup(data, obj, NULL, flags);
		if (data->io_status.status ||
		    flt_get_stream_context(obj->instance,
					   data->results.entry.ino,
					   (void **)&hs))
			return FLT_POSTOP_FINISHED_PROCESSING;
	}
	if (data->io_status.status)
		goto out;
	if (atomic_fetch_add(&hs->opens, 1) == 0)
		flt_log(LOG_NOTICE, "hello: first open of %s by %s[%d]",
			hs->name, flt_requestor_name(data, comm, sizeof(comm)),
			(int)data->requestor.pid);
	if (flt_allocate_context(obj->filter, FLT_STREAMHANDLE_CONTEXT,
				 sizeof(*hh), (void **)&hh))
		goto out;
	hh->stream = hs;	/* our reference moves into the handle */
	hs = NULL;
	flt_set_streamhandle_context(obj->instance, data->results.open.fh,
				     FLT_SET_CONTEXT_REPLACE_IF_EXISTS, hh,
				     NULL);
	flt_release_context(hh);
out:
	if (hs)
		flt_release_context(hs);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_postop_status post_read(struct flt_callback_data *data,
					const struct flt_related_objects *obj,
					void *ctx, unsigned flags)
{
	struct hello_handle *hh;

	if (data->io_status.status < 0 ||
	    flt_get_streamhandle_context(obj->instance, data->params.read.fh,
					 (void **)&hh))
		return FLT_POSTOP_FINISHED_PROCESSING;
	atomic_fetch_add(&hh->bytes_read, data->io_status.information);
	atomic_fetch_add(&hh->stream->bytes_read, data->io_status.information);
	flt_release_context(hh);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* ---- instances and registration ------------------------------------------ */

static int hello_instance_setup(const struct flt_related_objects *obj)
{
	const char *args = flt_instance_args(obj->instance);
	struct hello_instance *hi;
	int ret;

	if (strcmp(args, "") && strcmp(args, "deny")) {
		flt_log(LOG_ERR, "hello: unknown argument '%s' (expected "
			"nothing or 'deny')", args);
		return -EINVAL;
	}
	ret = flt_allocate_context(obj->filter, FLT_INSTANCE_CONTEXT,
				   sizeof(*hi), (void **)&hi);
	if (ret)
		return ret;
	hi->deny = !strcmp(args, "deny");
	ret = flt_set_instance_context(obj->instance,
				       FLT_SET_CONTEXT_KEEP_IF_EXISTS, hi, NULL);
	flt_release_context(hi);	/* the instance holds it now */
	if (!ret)
		flt_log(LOG_NOTICE, "hello: attached at altitude %u%s",
			flt_instance_altitude(obj->instance),
			!strcmp(args, "deny") ? " (denying *.forbidden)" : "");
	return ret;
}

static void hello_teardown_complete(const struct flt_related_objects *obj)
{
	flt_log(LOG_NOTICE, "hello: detached");
}

static const struct flt_operation_registration hello_ops[] = {
	{ FLT_OP_LOOKUP, 0, NULL, post_lookup },
	{ FLT_OP_CREATE, 0, pre_create, post_open },
	{ FLT_OP_OPEN, 0, pre_open, post_open },
	{ FLT_OP_READ, 0, NULL, post_read },
	FLT_OPERATION_END
};

static const struct flt_context_registration hello_contexts[] = {
	{ FLT_INSTANCE_CONTEXT, 0, NULL, sizeof(struct hello_instance) },
	{ FLT_STREAM_CONTEXT, 0, hello_cleanup, sizeof(struct hello_stream) },
	{ FLT_STREAMHANDLE_CONTEXT, 0, hello_cleanup,
	  sizeof(struct hello_handle) },
	FLT_CONTEXT_END
};

static int hello_unload(struct flt_filter *filter)
{
	return 0;	/* nothing of our own to stop */
}

static const struct flt_registration hello_registration = {
	FLT_REGISTRATION_INIT,
	.name = "hello",
	.default_altitude = HELLO_ALTITUDE,
	.operations = hello_ops,
	.contexts = hello_contexts,
	.filter_unload = hello_unload,
	.instance_setup = hello_instance_setup,
	.instance_teardown_complete = hello_teardown_complete,
};

FLT_DECLARE_FILTER(hello_registration);
