/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to the control channel. */
#ifndef FSFILTER_CONTROL_CTL_INT_H
#define FSFILTER_CONTROL_CTL_INT_H

#include "control/ctl.h"

struct json_object;

/* {"ok":false,"error":MESSAGE,"errno":NAME(err)}; @err positive. */
struct json_object *ctl_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* ctl_status.c: the status response. */
struct json_object *ctl_status(const struct ctl_volume *v);

#endif
