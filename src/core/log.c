/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: syslog priorities, one pluggable sink. */
#include <fsfilter/filter.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
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

void flt_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (priority > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&sink_lock);
	if (log_sink)
		log_sink(priority, line, log_sink_arg);
	else
		fprintf(stderr, "fsfilter: %s: %s\n",
			prio_names[priority & 7], line);
	pthread_mutex_unlock(&sink_lock);
}
