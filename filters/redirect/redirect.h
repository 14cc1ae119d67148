/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redirect: serve selected files' content from backing files. */
#ifndef FSFILTER_FILTERS_REDIRECT_H
#define FSFILTER_FILTERS_REDIRECT_H

#include <fsfilter/filter.h>

const struct flt_registration *redirect_filter_registration(void);

#endif
