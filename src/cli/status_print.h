/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The human-readable form of a status response (the !fltkd view). */
#ifndef FSFILTER_CLI_STATUS_PRINT_H
#define FSFILTER_CLI_STATUS_PRINT_H

#include <stdio.h>

struct json_object;

void status_print(FILE *f, struct json_object *status);

#endif
