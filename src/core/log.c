/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: syslog priorities, one pluggable sink. */
#include <fsfilter/filter.h>
#include <fsfilter/text.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static atomic_int log_level = LOG_NOTICE;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static flt_log_sink log_sink;	/* protected by sink_lock; NULL = stderr */
static void *log_sink_arg;	/* protected by sink_lock */

static const char *const prio_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

void flt_set_log_level(int priority)
{
	atomic_store(&log_level, priority);
}

void flt_set_log_sink(flt_log_sink sink, void *arg)
{
	pthread_mutex_lock(&sink_lock);
	log_sink = sink;
	log_sink_arg = arg;
	pthread_mutex_unlock(&sink_lock);
}

/*
 * One message, one line: messages quote names (file names, process names,
 * rules) that anyone may choose, so control bytes in them would let a
 * name forge log lines. They become \xHH (flt_escape_name; the backslash
 * stays as it is: rules quote their own escapes), in place, as far as
 * @line (of @len bytes) holds; the rest is cut, marked with "...".
 */
static void one_line(char *line, size_t len)
{
	char tmp[1024];

	flt_escape_name(line, strlen(line), tmp, sizeof(tmp), 0);
	snprintf(line, len, "%s", tmp);
}

void flt_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (priority > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strpbrk(line, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
			  "\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
			  "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"))
		one_line(line, sizeof(line));

	pthread_mutex_lock(&sink_lock);
	if (log_sink)
		log_sink(priority, line, log_sink_arg);
	else
		fprintf(stderr, "fsfilter: %s: %s\n",
			prio_names[priority & 7], line);
	pthread_mutex_unlock(&sink_lock);
}
