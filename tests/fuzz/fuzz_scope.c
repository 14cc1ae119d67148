/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for process lists (include/fsfilter/scope.h), parsed
 * from filter arguments (redirect's only=/except=, crypt's raw view).
 * Contract besides "no crash, no UB": a refused list comes with a message
 * and leaves the list empty; an accepted one formats to text that parses
 * back to the same list and formats to the same text.
 */
#include <fsfilter/scope.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size), err[256];
	char buf[FLT_SCOPE_MAX * 32], again[sizeof(buf)];
	struct flt_scope s, s2;

	check(text != NULL);
	err[0] = '\0';
	if (flt_scope_parse(text, &s, err, sizeof(err))) {
		check(err[0] != '\0' && s.n == 0);
		goto out;
	}
	check(s.n <= FLT_SCOPE_MAX);
	flt_scope_format(&s, buf, sizeof(buf));
	check(strlen(buf) < sizeof(buf) - 1);
	if (s.n == 0)
		goto out;
	check(!flt_scope_parse(buf, &s2, err, sizeof(err)));
	check(s2.n == s.n);
	for (unsigned i = 0; i < s.n; i++) {
		check(s.v[i].who == s2.v[i].who);
		if (s.v[i].who == FLT_SCOPE_COMM)
			check(!strcmp(s.v[i].comm, s2.v[i].comm));
		else
			check(s.v[i].id == s2.v[i].id);
	}
	flt_scope_format(&s2, again, sizeof(again));
	check(!strcmp(buf, again));
out:
	free(text);
	return 0;
}
