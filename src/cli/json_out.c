/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One way to print --json: every command's JSON looks the same (pretty,
 * paths with plain slashes), and the field names are the contract
 * documented in fsfilter(1) ("JSON OUTPUT").
 */
#include "cli/json_out.h"

void cli_json_print(FILE *f, struct json_object *o)
{
	fprintf(f, "%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_SPACED |
					      JSON_C_TO_STRING_NOSLASHESCAPE));
}

void cli_json_print_put(FILE *f, struct json_object *o)
{
	cli_json_print(f, o);
	json_object_put(o);
}
