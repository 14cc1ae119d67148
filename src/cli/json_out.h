/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --json output of the commands (json_out.c). */
#ifndef FSFILTER_CLI_JSON_OUT_H
#define FSFILTER_CLI_JSON_OUT_H

#include <json-c/json.h>
#include <stdio.h>

/* Print @o pretty (two-space indent, no escaped slashes) and a newline. */
void cli_json_print(FILE *f, struct json_object *o);
/* Print @o and drop the reference. */
void cli_json_print_put(FILE *f, struct json_object *o);

#endif
