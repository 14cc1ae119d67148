/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* monitor: file activity to user mode, with allow/deny verdicts
 * (docs/monitor.md). */
#ifndef FSFILTER_FILTERS_MONITOR_H
#define FSFILTER_FILTERS_MONITOR_H

/* In the FSFilter Activity Monitor band of the Windows altitudes, above
 * noop (370000): it sees operations before filters that change them. */
#define MON_DEFAULT_ALTITUDE 385000u

const struct flt_registration *monitor_filter_registration(void);

#endif
