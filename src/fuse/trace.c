/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The trace view's FUSE lines (fsfilter mount -d): each request as it is
 * read from /dev/fuse and each reply as it is written, in libfuse's own
 * debug format, from the session's custom I/O hooks (passthrough.c). The
 * manager (src/core/trace.c) prints the steps in between with the same
 * "unique: N" so one request reads top to bottom:
 *
 *   unique: 8, opcode: LOOKUP (1), nodeid: 1, insize: 46, pid: 4242
 *      unique: 8, dispatch: lookup, nodeid: 1, name: "a", ...
 *      unique: 8, pre:  noop@370000 SUCCESS_WITH_CALLBACK
 *      ...
 *      unique: 8, success, outsize: 144
 *
 * One write(2) per line from a stack buffer: thread-safe, no allocation.
 * libfuse's own -d is not used: it would print the same requests again
 * (-o debug still turns it on, for its INIT details).
 */
#include "fuse/fuse_int.h"
#include "fuse/kernel_abi.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__thread uint64_t fe_trace_unique;

static const char *const opnames[] = {
	[1] = "LOOKUP", [2] = "FORGET", [3] = "GETATTR", [4] = "SETATTR",
	[5] = "READLINK", [6] = "SYMLINK", [8] = "MKNOD", [9] = "MKDIR",
	[10] = "UNLINK", [11] = "RMDIR", [12] = "RENAME", [13] = "LINK",
	[14] = "OPEN", [15] = "READ", [16] = "WRITE", [17] = "STATFS",
	[18] = "RELEASE", [20] = "FSYNC", [21] = "SETXATTR",
	[22] = "GETXATTR", [23] = "LISTXATTR", [24] = "REMOVEXATTR",
	[25] = "FLUSH", [26] = "INIT", [27] = "OPENDIR", [28] = "READDIR",
	[29] = "RELEASEDIR", [30] = "FSYNCDIR", [31] = "GETLK",
	[32] = "SETLK", [33] = "SETLKW", [34] = "ACCESS", [35] = "CREATE",
	[36] = "INTERRUPT", [37] = "BMAP", [38] = "DESTROY", [39] = "IOCTL",
	[40] = "POLL", [41] = "NOTIFY_REPLY", [42] = "BATCH_FORGET",
	[43] = "FALLOCATE", [44] = "READDIRPLUS", [45] = "RENAME2",
	[46] = "LSEEK", [47] = "COPY_FILE_RANGE", [48] = "SETUPMAPPING",
	[49] = "REMOVEMAPPING", [50] = "SYNCFS", [51] = "TMPFILE",
	[52] = "STATX",
};

static const char *opname(uint32_t op)
{
	if (op < sizeof(opnames) / sizeof(opnames[0]) && opnames[op])
		return opnames[op];
	return "???";
}

static void put_line(char *buf, int n, size_t size)
{
	if (n <= 0)
		return;
	if ((size_t)n > size - 1)	/* truncated */
		n = (int)size - 1;
	buf[n - 1] = '\n';
	while (write(STDERR_FILENO, buf, (size_t)n) < 0 && errno == EINTR)
		;
}

void fe_trace_in(const void *buf, ssize_t len)
{
	const struct fek_in_header *in = buf;
	char line[256];

	if (len < (ssize_t)sizeof(*in))
		return;
	fe_trace_unique = in->unique;
	put_line(line, snprintf(line, sizeof(line), "unique: %" PRIu64
				", opcode: %s (%" PRIu32 "), nodeid: %" PRIu64
				", insize: %zd, pid: %" PRIu32 "\n",
				in->unique, opname(in->opcode), in->opcode,
				in->nodeid, len, in->pid), sizeof(line));
}

void fe_trace_out(const struct iovec *iov, int count)
{
	const struct fek_out_header *out;
	char line[256];
	size_t total = 0;
	int n;

	if (count < 1 || iov[0].iov_len < sizeof(*out))
		return;
	out = iov[0].iov_base;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (!out->unique)
		n = snprintf(line, sizeof(line), "   notify: code: %" PRId32
			     ", outsize: %zu\n", out->error, total);
	else if (out->error)
		n = snprintf(line, sizeof(line), "   unique: %" PRIu64
			     ", error: %" PRId32 " (%s), outsize: %zu\n",
			     out->unique, out->error,
			     strerrordesc_np(-out->error) ?
				     strerrordesc_np(-out->error) : "?",
			     total);
	else
		n = snprintf(line, sizeof(line), "   unique: %" PRIu64
			     ", success, outsize: %zu\n", out->unique, total);
	put_line(line, n, sizeof(line));
}
