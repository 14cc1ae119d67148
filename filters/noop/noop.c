/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * noop: a filter that changes nothing. It sits in the stack so the stack is
 * visible: with the argument "trace" it prints every operation it sees on
 * the way down (pre) and on the way back (post, with the result), which is
 * what the demo volume shows. Written only against the public filter API.
 */
#include "filters/noop/noop.h"

#include <fsfilter/filter.h>
#include <fsfilter/text.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static int tracing(const struct flt_related_objects *objs)
{
	return strcmp(flt_instance_args(objs->instance), "trace") == 0;
}

/* The name an operation is about, where it has one. */
static const char *op_name_arg(const struct flt_callback_data *d)
{
	switch (d->op) {
	case FLT_OP_LOOKUP: return d->params.lookup.name;
	case FLT_OP_MKNOD: return d->params.mknod.name;
	case FLT_OP_MKDIR: return d->params.mkdir.name;
	case FLT_OP_UNLINK:
	case FLT_OP_RMDIR: return d->params.unlink.name;
	case FLT_OP_SYMLINK: return d->params.symlink.name;
	case FLT_OP_RENAME: return d->params.rename.name;
	case FLT_OP_LINK: return d->params.link.newname;
	case FLT_OP_CREATE: return d->params.create.name;
	case FLT_OP_GETXATTR: return d->params.getxattr.name;
	case FLT_OP_SETXATTR: return d->params.setxattr.name;
	case FLT_OP_REMOVEXATTR: return d->params.removexattr.name;
	default: return NULL;
	}
}

/*
 * Names and process names are bytes chosen by whoever makes them: control
 * bytes and the backslash become \xHH, so a name with a newline cannot
 * forge a trace line of its own. Cut (with "...") to @len.
 */
static const char *escaped(const char *in, char *out, size_t len)
{
	flt_escape_name(in, strlen(in), out, len, FLT_ESC_BACKSLASH);
	return out;
}

static void trace_range(const struct flt_callback_data *d, char *buf,
			size_t len)
{
	buf[0] = '\0';
	if (d->op == FLT_OP_READ)
		snprintf(buf, len, " off=%jd len=%zu%s",
			 (intmax_t)d->params.read.offset, d->params.read.size,
			 (d->flags & FLT_IO_PAGING) ? " paging" : "");
	else if (d->op == FLT_OP_WRITE)
		snprintf(buf, len, " off=%jd len=%zu%s",
			 (intmax_t)d->params.write.offset,
			 d->params.write.size,
			 (d->flags & FLT_IO_PAGING) ? " paging" : "");
}

static enum flt_preop_status noop_pre(struct flt_callback_data *d,
				      const struct flt_related_objects *objs,
				      void **ctx)
{
	char comm[32], ecomm[140], range[64], ename[1100];
	const char *name;

	if (!tracing(objs))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	name = op_name_arg(d);
	trace_range(d, range, sizeof(range));
	fprintf(stderr, "[noop@%" PRIu32 "] pre  %-11s ino=%" PRIu64 "%s%s%s"
		" pid=%d (%s)\n",
		flt_instance_altitude(objs->instance), flt_op_name(d->op),
		d->ino, name ? " name=" : "",
		name ? escaped(name, ename, sizeof(ename)) : "", range,
		(int)d->requestor.pid,
		escaped(flt_requestor_name(d, comm, sizeof(comm)), ecomm,
			sizeof(ecomm)));
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_postop_status noop_post(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void *ctx, unsigned flags)
{
	fprintf(stderr, "[noop@%" PRIu32 "] post %-11s -> %d (%s) info=%" PRIu64
		"\n", flt_instance_altitude(objs->instance),
		flt_op_name(d->op), d->io_status.status,
		d->io_status.status ? strerror(-d->io_status.status) : "ok",
		d->io_status.information);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

#define NOOP_OP(o) { o, 0, noop_pre, noop_post }
static const struct flt_operation_registration noop_ops[] = {
	NOOP_OP(FLT_OP_LOOKUP), NOOP_OP(FLT_OP_GETATTR),
	NOOP_OP(FLT_OP_SETATTR), NOOP_OP(FLT_OP_READLINK),
	NOOP_OP(FLT_OP_MKNOD), NOOP_OP(FLT_OP_MKDIR),
	NOOP_OP(FLT_OP_UNLINK), NOOP_OP(FLT_OP_RMDIR),
	NOOP_OP(FLT_OP_SYMLINK), NOOP_OP(FLT_OP_RENAME),
	NOOP_OP(FLT_OP_LINK), NOOP_OP(FLT_OP_OPEN),
	NOOP_OP(FLT_OP_READ), NOOP_OP(FLT_OP_WRITE),
	NOOP_OP(FLT_OP_FLUSH), NOOP_OP(FLT_OP_RELEASE),
	NOOP_OP(FLT_OP_FSYNC), NOOP_OP(FLT_OP_OPENDIR),
	NOOP_OP(FLT_OP_READDIR), NOOP_OP(FLT_OP_RELEASEDIR),
	NOOP_OP(FLT_OP_FSYNCDIR), NOOP_OP(FLT_OP_STATFS),
	NOOP_OP(FLT_OP_SETXATTR), NOOP_OP(FLT_OP_GETXATTR),
	NOOP_OP(FLT_OP_LISTXATTR), NOOP_OP(FLT_OP_REMOVEXATTR),
	NOOP_OP(FLT_OP_ACCESS), NOOP_OP(FLT_OP_CREATE),
	NOOP_OP(FLT_OP_FALLOCATE), NOOP_OP(FLT_OP_COPY_FILE_RANGE),
	NOOP_OP(FLT_OP_LSEEK),
	FLT_OPERATION_END
};

static int noop_instance_setup(const struct flt_related_objects *objs)
{
	const char *args = flt_instance_args(objs->instance);

	if (args[0] && strcmp(args, "trace") != 0) {
		flt_log(LOG_ERR, "noop: unknown argument '%s' "
			"(expected: trace)", args);
		return -EINVAL;
	}
	return 0;
}

static const struct flt_registration noop_registration = {
	FLT_REGISTRATION_INIT,
	.name = "noop",
	.default_altitude = NOOP_DEFAULT_ALTITUDE,
	.operations = noop_ops,
	.instance_setup = noop_instance_setup,
};

const struct flt_registration *noop_filter_registration(void)
{
	return &noop_registration;
}
