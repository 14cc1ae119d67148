/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The trace view (fsfilter mount -d): one line per step of an operation
 * through the stack, in the style of libfuse's debug output, so that the
 * front end's "unique: N, opcode: ..." and "   unique: N, success, ..."
 * lines and these interleave into one readable story per request.
 *
 * Called from dispatch.c only when the volume traces (one predictable
 * branch per step otherwise). Any thread may call these at once, so every
 * line is formatted into a buffer on the stack and written with a single
 * write(2): lines of concurrent operations never mix, and nothing here
 * allocates or takes a lock.
 */
#include "core/core_int.h"

#include <fsfilter/text.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TRACE_LINE 512

void core_volume_set_trace(struct flt_volume *vol, int fd)
{
	vol->trace_fd = fd;
	vol->trace = fd >= 0;
}

static const char *pre_status_name(enum flt_preop_status s)
{
	switch (s) {
	case FLT_PREOP_SUCCESS_WITH_CALLBACK:
		return "SUCCESS_WITH_CALLBACK";
	case FLT_PREOP_SUCCESS_NO_CALLBACK:
		return "SUCCESS_NO_CALLBACK";
	case FLT_PREOP_COMPLETE:
		return "COMPLETE";
	case FLT_PREOP_PENDING:
		return "PENDING";
	case FLT_PREOP_SYNCHRONIZE:
		return "SYNCHRONIZE";
	}
	return "INVALID";
}

static const char *post_status_name(enum flt_postop_status s)
{
	switch (s) {
	case FLT_POSTOP_FINISHED_PROCESSING:
		return "FINISHED_PROCESSING";
	case FLT_POSTOP_MORE_PROCESSING_REQUIRED:
		return "MORE_PROCESSING_REQUIRED";
	}
	return "INVALID";
}

/* "-2 (No such file or directory)"; strerrordesc_np: no buffer, no
 * locale lookup, thread-safe */
static int fmt_result(char *p, size_t len, int status)
{
	const char *d = status < 0 ? strerrordesc_np(-status) : NULL;

	if (!status)
		return snprintf(p, len, "0 (success)");
	return snprintf(p, len, "%d (%s)", status, d ? d : "?");
}

/* The line prefix: FUSE requests by their unique, operations a filter
 * issued (flt_fio_*, no FUSE request) by a number of their own. */
static int fmt_id(char *p, size_t len, const struct core_op *cop)
{
	if (cop->trace_id & CORE_TRACE_ID_FIO)
		return snprintf(p, len, "   unique: fio-%" PRIu64 ", ",
				cop->trace_id & ~CORE_TRACE_ID_FIO);
	return snprintf(p, len, "   unique: %" PRIu64 ", ", cop->trace_id);
}

static void emit(const struct core_op *cop, const char *fmt, ...)
{
	char buf[TRACE_LINE];
	size_t n = 0;
	int k;
	va_list ap;

	k = fmt_id(buf, sizeof(buf), cop);
	if (k > 0)
		n = (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof(buf) - 2)	/* truncated: keep the newline */
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	while (write(cop->vol->trace_fd, buf, n) < 0 && errno == EINTR)
		;
}

/* Depth markers: two spaces per level of the stack, so the descent and the
 * ascent read like a call tree. */
static const char *indent(size_t depth)
{
	static const char spaces[] = "                                ";
	size_t n = 2 * depth;

	if (n > sizeof(spaces) - 1)
		n = sizeof(spaces) - 1;
	return spaces + sizeof(spaces) - 1 - n;
}

/* A name for a trace line: control bytes, DEL, '\\' and '"' as \xHH, so a
 * name cannot forge a line or end its quotes (docs/security.md, hostile
 * names); cut with "..." to what @out holds. Returns @out. */
#define NAME_OUT 100
static const char *esc(char *out, const char *in)
{
	if (!in)
		in = "";
	flt_escape_name(in, strlen(in), out, NAME_OUT,
			FLT_ESC_BACKSLASH | FLT_ESC_QUOTE);
	return out;
}

/* The parameters that say what the operation is about. */
static int fmt_params(char *p, size_t len, const struct flt_callback_data *d)
{
	const union flt_parameters *pa = &d->params;
	char n1[NAME_OUT], n2[NAME_OUT];

	switch (d->op) {
	case FLT_OP_LOOKUP:
	case FLT_OP_UNLINK:
	case FLT_OP_RMDIR:
	case FLT_OP_MKNOD:
	case FLT_OP_MKDIR:
		return snprintf(p, len, ", name: \"%s\"",
				esc(n1, pa->lookup.name));
	case FLT_OP_SYMLINK:
		return snprintf(p, len, ", name: \"%s\"",
				esc(n1, pa->symlink.name));
	case FLT_OP_CREATE:
		return snprintf(p, len, ", name: \"%s\", flags: 0%o, mode: 0%o",
				esc(n1, pa->create.name),
				(unsigned)pa->create.flags,
				(unsigned)pa->create.mode);
	case FLT_OP_RENAME:
		return snprintf(p, len, ", name: \"%s\", newparent: %" PRIu64
				", newname: \"%s\"",
				esc(n1, pa->rename.name),
				(uint64_t)pa->rename.newparent,
				esc(n2, pa->rename.newname));
	case FLT_OP_LINK:
		return snprintf(p, len, ", newparent: %" PRIu64
				", newname: \"%s\"",
				(uint64_t)pa->link.newparent,
				esc(n1, pa->link.newname));
	case FLT_OP_OPEN:
	case FLT_OP_OPENDIR:
		return snprintf(p, len, ", flags: 0%o",
				(unsigned)pa->open.flags);
	case FLT_OP_READ:
		return snprintf(p, len, ", fh: %" PRIu64 ", offset: %lld, "
				"size: %zu", pa->read.fh,
				(long long)pa->read.offset, pa->read.size);
	case FLT_OP_WRITE:
		return snprintf(p, len, ", fh: %" PRIu64 ", offset: %lld, "
				"size: %zu", pa->write.fh,
				(long long)pa->write.offset, pa->write.size);
	case FLT_OP_READDIR:
		return snprintf(p, len, ", fh: %" PRIu64 ", offset: %lld, "
				"size: %zu%s", pa->readdir.fh,
				(long long)pa->readdir.offset,
				pa->readdir.size,
				pa->readdir.plus ? ", plus" : "");
	case FLT_OP_RELEASE:
	case FLT_OP_RELEASEDIR:
		return snprintf(p, len, ", fh: %" PRIu64 ", flags: 0%o",
				pa->release.fh, (unsigned)pa->release.flags);
	case FLT_OP_FLUSH:
		return snprintf(p, len, ", fh: %" PRIu64, pa->flush.fh);
	case FLT_OP_FSYNC:
	case FLT_OP_FSYNCDIR:
		return snprintf(p, len, ", fh: %" PRIu64 ", datasync: %d",
				pa->fsync.fh, pa->fsync.datasync);
	case FLT_OP_SETATTR:
		return snprintf(p, len, ", to_set: 0x%x",
				pa->setattr.to_set);
	case FLT_OP_FORGET:
		return snprintf(p, len, ", nlookup: %" PRIu64,
				pa->forget.nlookup);
	case FLT_OP_SETXATTR:
	case FLT_OP_GETXATTR:
	case FLT_OP_REMOVEXATTR:
		return snprintf(p, len, ", name: \"%s\"",
				esc(n1, pa->getxattr.name));
	case FLT_OP_ACCESS:
		return snprintf(p, len, ", mask: 0%o",
				(unsigned)pa->access.mask);
	case FLT_OP_FALLOCATE:
		return snprintf(p, len, ", fh: %" PRIu64 ", offset: %lld, "
				"length: %lld", pa->fallocate.fh,
				(long long)pa->fallocate.offset,
				(long long)pa->fallocate.length);
	case FLT_OP_COPY_FILE_RANGE:
		return snprintf(p, len, ", off_in: %lld, nodeid_out: %" PRIu64
				", off_out: %lld, len: %zu",
				(long long)pa->copy_file_range.off_in,
				(uint64_t)pa->copy_file_range.ino_out,
				(long long)pa->copy_file_range.off_out,
				pa->copy_file_range.len);
	case FLT_OP_LSEEK:
		return snprintf(p, len, ", offset: %lld, whence: %d",
				(long long)pa->lseek.offset, pa->lseek.whence);
	default:
		return 0;
	}
}

void core_trace_dispatch(const struct core_op *cop, uint64_t below)
{
	const struct flt_callback_data *d = cop->data;
	char params[TRACE_LINE / 2] = "";
	char from[64] = "";

	fmt_params(params, sizeof(params), d);
	if (below != DISPATCH_TOP)
		snprintf(from, sizeof(from), ", issued below altitude %" PRIu64,
			 below);
	emit(cop, "dispatch: %s, nodeid: %" PRIu64 "%s, pid: %d, filters: "
	     "%zu%s", flt_op_name(d->op), (uint64_t)d->ino, params,
	     (int)d->requestor.pid, cop->stack->n, from);
}

void core_trace_pre(const struct core_op *cop, const struct flt_instance *inst,
		    size_t depth, enum flt_preop_status status,
		    const char *how)
{
	char res[96] = "";

	if (status == FLT_PREOP_COMPLETE)
		fmt_result(res, sizeof(res), cop->data->io_status.status);
	emit(cop, "%spre:  %s@%" PRIu32 " %s%s%s%s", indent(depth),
	     inst->filter->name, inst->altitude, how, pre_status_name(status),
	     res[0] ? ", status: " : "", res);
}

void core_trace_post_only(const struct core_op *cop,
			  const struct flt_instance *inst, size_t depth)
{
	emit(cop, "%spre:  %s@%" PRIu32 " (no pre-callback; post wanted)",
	     indent(depth), inst->filter->name, inst->altitude);
}

void core_trace_bottom(const struct core_op *cop, size_t depth, bool guarded)
{
	char res[96];

	fmt_result(res, sizeof(res), cop->data->io_status.status);
	emit(cop, "%slower: %s%s, status: %s", indent(depth),
	     flt_op_name(cop->data->op),
	     guarded ? " (filter-owned node id, not passed down)" : "", res);
}

void core_trace_post(const struct core_op *cop, const struct flt_instance *inst,
		     size_t depth, enum flt_postop_status status,
		     const char *how)
{
	char res[96];

	fmt_result(res, sizeof(res), cop->data->io_status.status);
	emit(cop, "%spost: %s@%" PRIu32 " %s%s, status: %s", indent(depth),
	     inst->filter->name, inst->altitude, how,
	     post_status_name(status), res);
}

void core_trace_done(const struct core_op *cop)
{
	char res[96];
	const struct flt_io_status *s = &cop->data->io_status;

	fmt_result(res, sizeof(res), s->status);
	emit(cop, "done: %s, status: %s, information: %" PRIu64,
	     flt_op_name(cop->data->op), res, s->information);
}
