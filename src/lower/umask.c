/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The requestor's umask for new objects, per worker thread.
 *
 * With POSIX ACLs on the volume (FUSE_POSIX_ACL + FUSE_DONT_MASK) the
 * kernel sends the mode of mknod/mkdir/create unmasked, with the caller's
 * umask beside it: the lower file system must apply the parent's default
 * ACL if there is one and the umask only if not, and only it knows. So the
 * umask is set for real around the lower call. umask is process-wide; a
 * thread that needs a non-zero one first gives itself its own fs_struct
 * (unshare(CLONE_FS): umask, cwd and root, as virtiofsd does). Nothing in
 * the daemon depends on the cwd (lower paths are relative to dirfds or
 * absolute), and the process umask stays 0 (lower_open) for every thread
 * that never unshared. The value is left in place after the call: every
 * creating lower operation sets it again (filter-initiated ones to their
 * requestor's, 0 unless a filter says otherwise), and nothing else on these
 * threads creates files. umask() is called only when the value changes.
 *
 * Without FUSE_DONT_MASK the kernel has already masked the mode, and
 * applying the umask again changes nothing.
 */
#include "lower/lower_int.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

static _Thread_local bool own_fs;	/* this thread unshared CLONE_FS */
static _Thread_local mode_t cur;	/* its umask (0 before) */
static atomic_bool warned;

mode_t lower_umask_apply(mode_t mode, mode_t mask)
{
	mask &= 0777;
	if (mask == cur)
		return mode;
	if (!own_fs) {
		if (unshare(CLONE_FS) != 0) {
			/* Keep the process umask 0 and mask the mode here:
			 * right unless the parent has a default ACL, which
			 * then gets the caller's umask too (as without
			 * POSIX ACLs). */
			if (!atomic_exchange(&warned, true))
				flt_log(LOG_WARNING, "lower: unshare(CLONE_FS)"
					" failed (%s): the umask is applied "
					"even under a default ACL",
					strerror(errno));
			return mode & ~mask;
		}
		own_fs = true;
	}
	umask(mask);
	cur = mask;
	return mode;
}
