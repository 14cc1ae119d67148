/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "filters/builtin.h"
#include "filters/noop/noop.h"
#include "filters/redirect/redirect.h"
#include "filters/crypt/crypt.h"
#include "filters/monitor/monitor.h"

#include <errno.h>
#include <pthread.h>

typedef const struct flt_registration *(*builtin_fn)(void);

static const builtin_fn builtins[] = {
	noop_filter_registration,
	redirect_filter_registration,
	crypt_filter_registration,
	monitor_filter_registration,
};

static pthread_mutex_t builtin_lock = PTHREAD_MUTEX_INITIALIZER;
static int registered;	/* protected by builtin_lock */

int builtin_filters_register(void)
{
	int ret = 0;

	pthread_mutex_lock(&builtin_lock);
	for (size_t i = 0; !registered && i < sizeof(builtins) / sizeof(*builtins); i++) {
		struct flt_filter *f;

		ret = flt_register_filter(builtins[i](), &f);
		if (ret == -EEXIST) {
			ret = 0;
			continue;
		}
		if (ret)
			break;
		ret = flt_start_filtering(f);
		if (ret)
			break;
	}
	if (!ret)
		registered = 1;
	pthread_mutex_unlock(&builtin_lock);
	return ret;
}

const char *builtin_filter_name(size_t i)
{
	if (i >= sizeof(builtins) / sizeof(*builtins))
		return NULL;
	return builtins[i]()->name;
}
