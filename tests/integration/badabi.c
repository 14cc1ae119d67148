/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Not an example to follow: a filter whose registration claims an ABI
 * version this fsfilter does not know. The loader must refuse it. */
#include <fsfilter/filter.h>

static const struct flt_operation_registration badabi_ops[] = {
	FLT_OPERATION_END
};

static const struct flt_registration badabi_registration = {
	.size = sizeof(struct flt_registration),
	.version = FLT_REGISTRATION_VERSION + 41,
	.name = "badabi",
	.operations = badabi_ops,
};

FLT_DECLARE_FILTER(badabi_registration);
