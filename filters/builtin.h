/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The filters compiled into the fsfilter binary. */
#ifndef FSFILTER_FILTERS_BUILTIN_H
#define FSFILTER_FILTERS_BUILTIN_H

#include <stddef.h>

/* Register and start every built-in filter. Idempotent; thread-safe.
 * Returns 0 or the first registration error. */
int builtin_filters_register(void);

/* Name of the @i-th built-in filter (for "available filters" lists), or
 * NULL past the last one. */
const char *builtin_filter_name(size_t i);

#endif
