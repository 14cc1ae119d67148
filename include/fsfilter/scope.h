/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file
 * Process lists for per-process behaviour: "backup+comm:rsync+pid:42+uid:34".
 *
 * A filter that treats some processes differently (redirect's rule scope,
 * crypt's raw view) parses such a list from its arguments once and matches
 * the requestor of an operation against it. Items: NAME or comm:NAME (the
 * process name, at most 15 bytes, exact), pid:N (any thread of process N),
 * uid:N (the requestor's fsuid as FUSE reports it), joined with '+'.
 *
 * The kernel caches names, attributes and pages per inode for every process
 * alike: a filter whose answers differ per process must keep them apart
 * itself (timeouts 0, direct I/O, or distinct node ids per view).
 *
 * A parsed list is plain data: no allocation, no lock; match is safe from
 * any thread at once. Matching by comm reads /proc/PID/comm, pid:N may
 * look at /proc/N/task (a syscall each, only for such items).
 */
#ifndef FSFILTER_SCOPE_H
#define FSFILTER_SCOPE_H

#include <fsfilter/filter.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLT_SCOPE_MAX 8		/**< items per list */
#define FLT_SCOPE_COMM_LEN 16	/**< TASK_COMM_LEN, NUL included */

enum flt_scope_who { FLT_SCOPE_COMM, FLT_SCOPE_PID, FLT_SCOPE_UID };

struct flt_scope {
	unsigned n;		/**< 0: the empty list (matches nobody) */
	struct {
		enum flt_scope_who who;
		uint32_t id;	/**< pid, uid */
		char comm[FLT_SCOPE_COMM_LEN];
	} v[FLT_SCOPE_MAX];
};

/** Parse "ITEM[+ITEM...]" into @p s. 0, or -EINVAL / -E2BIG with a
 *  message for the user in @p err (may be NULL); @p s is then empty. */
FLT_API int flt_scope_parse(const char *list, struct flt_scope *s, char *err,
			    size_t errlen);
/** "comm:NAME+pid:N+uid:N" of @p s into @p buf ("" if empty). */
FLT_API void flt_scope_format(const struct flt_scope *s, char *buf,
			      size_t len);
/** Is the requestor of @p data one of the processes listed in @p s? */
FLT_API bool flt_scope_match(const struct flt_scope *s,
			     const struct flt_callback_data *data);

#endif /* FSFILTER_SCOPE_H */
