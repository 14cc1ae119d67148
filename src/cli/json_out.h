/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --json output of the commands (json_out.c). */
#ifndef FSFILTER_CLI_JSON_OUT_H
#define FSFILTER_CLI_JSON_OUT_H

#include <json-c/json.h>
#include <stdio.h>

/* Print @o pretty (two-space indent, no escaped slashes) and a newline;
 * bytes of its strings that are not valid UTF-8 as \udcXX. */
void cli_json_print(FILE *f, struct json_object *o);
/* Print @o and drop the reference. */
void cli_json_print_put(FILE *f, struct json_object *o);
/* The C string @s as a JSON string, quotes included: '"', '\\' and
 * control bytes escaped, bytes that are not valid UTF-8 as \udcXX. */
void cli_json_str(FILE *f, const char *s);

#endif
