/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef FSFILTER_NOOP_H
#define FSFILTER_NOOP_H

#include <fsfilter/filter.h>

/* FSFilter Activity Monitor load-order group on Windows starts at 360000;
 * noop sits just above it so it sees everything first. */
#define NOOP_DEFAULT_ALTITUDE 370000u

const struct flt_registration *noop_filter_registration(void);

#endif
