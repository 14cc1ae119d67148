/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fault injection at the syscall choke point (sys.c): SQLite's
 * aSyscall[] override and the kernel's fail_make_request, made small.
 *
 * A spec is a comma-separated list of rules "OP:N:WHAT[:TIMES]": the Nth
 * call of lower_sys_OP counted from the moment the spec was armed (1 =
 * the next one) fails with WHAT, and so do the TIMES-1 calls after it
 * (TIMES defaults to 1; 0 means every call from the Nth on). WHAT is an
 * errno name (EIO, ENOSPC, EMFILE, ...) or number, or "short" for pread
 * and pwrite: the call transfers at most half of what was asked (at
 * least one byte), the partial transfer a caller must handle.
 *
 *   FSFILTER_FAULT="pwrite:5:EIO,openat:3:EMFILE,pread:2:short"
 *
 * The environment variable is read by lower_open(); a daemon started
 * with --enable-fault-injection also takes a spec over its control
 * channel ({"cmd":"fault","spec":"..."}). Rules are process-wide, like
 * the syscalls they stand in for.
 *
 * Cost when nothing is armed: one relaxed atomic load per syscall. When
 * armed, every wrapper takes fault_lock (a leaf lock held for a few
 * string compares): this is a test facility, not a production path.
 */
#include "lower/lower_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define FAULT_MAX_RULES 16

struct fault_rule {
	char op[24];
	uint64_t nth;		/* first failing call, 1-based */
	uint64_t times;		/* failing calls from nth on; 0: all */
	int err;		/* negative errno, or FAULT_SHORT */
	uint64_t calls;		/* calls seen since arming */
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault_rule rules[FAULT_MAX_RULES];	/* fault_lock */
static size_t nrules;					/* fault_lock */
static atomic_bool armed;
static atomic_uint_fast64_t fired;

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{ "EIO", EIO },		{ "ENOSPC", ENOSPC },	{ "EMFILE", EMFILE },
	{ "ENFILE", ENFILE },	{ "ENOMEM", ENOMEM },	{ "EACCES", EACCES },
	{ "EPERM", EPERM },	{ "EDQUOT", EDQUOT },	{ "EROFS", EROFS },
	{ "EAGAIN", EAGAIN },	{ "EINTR", EINTR },	{ "ENOENT", ENOENT },
	{ "EFBIG", EFBIG },	{ "ESTALE", ESTALE },	{ "EBADF", EBADF },
};

static const char *const ops[] = {
	"openat",    "dup",	  "fstatat",	 "fstatvfs",  "mknodat",
	"mkdirat",   "symlinkat", "linkat",	 "unlinkat",  "renameat2",
	"readlinkat", "fchmodat", "fchmod",	 "fchownat",  "ftruncate",
	"utimensat", "faccessat", "pread",	 "pwrite",    "fsync",
	"fallocate", "copy_file_range", "lseek", "fdopendir", "readdir",
	"getxattr",  "setxattr",  "listxattr",	 "removexattr",
	"open_by_handle_at",
};

static int parse_what(const char *s, const char *op, int *err)
{
	char *end;
	long n;

	if (!strcmp(s, "short")) {
		if (strcmp(op, "pread") && strcmp(op, "pwrite"))
			return -EINVAL;
		*err = LOWER_FAULT_SHORT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (!strcmp(s, errnames[i].name)) {
			*err = -errnames[i].err;
			return 0;
		}
	n = strtol(s, &end, 10);
	if (*end || end == s || n <= 0 || n > 4095)
		return -EINVAL;
	*err = -(int)n;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*out = n;
	return 0;
}

static bool known_op(const char *op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i]))
			return true;
	return false;
}

/* One "OP:N:WHAT[:TIMES]" into @r. Edits @s in place. */
static int parse_rule(char *s, struct fault_rule *r)
{
	char *f[4] = { 0 };
	size_t n = 0;

	for (char *save = NULL, *t = strtok_r(s, ":", &save); t;
	     t = strtok_r(NULL, ":", &save)) {
		if (n == 4)
			return -EINVAL;
		f[n++] = t;
	}
	if (n < 3 || strlen(f[0]) >= sizeof(r->op) || !known_op(f[0]))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	strcpy(r->op, f[0]);
	r->times = 1;
	if (parse_u64(f[1], &r->nth) || r->nth == 0 ||
	    parse_what(f[2], f[0], &r->err) ||
	    (f[3] && parse_u64(f[3], &r->times)))
		return -EINVAL;
	return 0;
}

int lower_fault_arm(const char *spec)
{
	struct fault_rule parsed[FAULT_MAX_RULES];
	size_t n = 0;
	char *copy, *save = NULL;
	int ret = 0;

	if (!spec || !*spec) {
		lower_fault_disarm();
		return 0;
	}
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (n == FAULT_MAX_RULES) {
			ret = -E2BIG;
			goto out;
		}
		ret = parse_rule(t, &parsed[n++]);
		if (ret)
			goto out;
	}
	pthread_mutex_lock(&fault_lock);
	memcpy(rules, parsed, n * sizeof(parsed[0]));
	nrules = n;
	atomic_store(&fired, 0);
	atomic_store(&armed, n > 0);
	pthread_mutex_unlock(&fault_lock);
	flt_log(LOG_WARNING, "lower: fault injection armed: %s", spec);
out:
	free(copy);
	return ret;
}

void lower_fault_disarm(void)
{
	pthread_mutex_lock(&fault_lock);
	nrules = 0;
	atomic_store(&armed, false);
	pthread_mutex_unlock(&fault_lock);
}

uint64_t lower_fault_fired(void)
{
	return atomic_load(&fired);
}

int lower_fault_arm_from_env(void)
{
	const char *spec = getenv("FSFILTER_FAULT");
	int ret;

	if (!spec || !*spec)
		return 0;
	ret = lower_fault_arm(spec);
	if (ret)
		flt_log(LOG_ERR, "lower: FSFILTER_FAULT=\"%s\": %s (expected "
			"OP:N:ERRNO[:TIMES],...)", spec, strerror(-ret));
	return ret;
}

int lower_fault(const char *op)
{
	int ret = 0;

	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&fault_lock);
	for (size_t i = 0; i < nrules; i++) {
		struct fault_rule *r = &rules[i];
		uint64_t c;

		if (strcmp(r->op, op))
			continue;
		c = ++r->calls;
		/* every rule of @op counts the call; the first that
		   fires decides */
		if (!ret && c >= r->nth && (!r->times || c - r->nth < r->times))
			ret = r->err;
	}
	pthread_mutex_unlock(&fault_lock);
	if (ret)
		atomic_fetch_add(&fired, 1);
	return ret;
}
