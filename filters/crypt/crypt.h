/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt: transparent authenticated encryption of file contents. */
#ifndef FSFILTER_FILTERS_CRYPT_H
#define FSFILTER_FILTERS_CRYPT_H

#include <fsfilter/filter.h>

/* Below monitors and redirect-style filters, so they see plaintext. */
#define CRYPT_DEFAULT_ALTITUDE 140000u

const struct flt_registration *crypt_filter_registration(void);

#endif
