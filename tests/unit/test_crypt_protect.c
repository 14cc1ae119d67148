/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt_protect_memory (docs/security.md): after it, the process is not
 * dumpable and the pages of the key buffer carry the "dd" (do not dump)
 * VmFlag in /proc/self/smaps. Runs in a child, so the test process
 * itself stays dumpable (sanitizers' leak checks need it).
 */
#include "filters/crypt/crypt_cipher.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* The VmFlags line of the mapping that holds @p; "" if not found. */
static void vmflags_of(const void *p, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0;

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, ' ') == line + strcspn(line, " ")) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, len, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static int child(void)
{
	unsigned char *key = malloc(4096 * 3);
	char flags[512];	/* a whole smaps line fits */

	if (!key || prctl(PR_GET_DUMPABLE) != 1)
		return 10;
	vmflags_of(key + 4096, flags, sizeof(flags));
	if (strstr(flags, " dd"))
		return 11;	/* already marked: the test would prove nothing */
	if (crypt_protect_memory(key + 100, 32))
		return 12;
	if (prctl(PR_GET_DUMPABLE) != 0)
		return 13;
	vmflags_of(key + 100, flags, sizeof(flags));
	if (!strstr(flags, " dd"))
		return 14;
	free(key);
	return 0;
}

static void test_protect(void **unused)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the parent is untouched */
	assert_int_equal(prctl(PR_GET_DUMPABLE), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
