/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The numbers of the *xattrat calls (Linux 6.13): Debian 12's kernel
 * headers do not have them, and glibc has no wrapper. These are the
 * numbers of the shared syscall table (x86-64, i386, arm64, riscv);
 * elsewhere __NR_getxattrat stays undefined and the lower layer uses the
 * path calls (sys.c). Also the syscalls unit_lower filters with seccomp.
 */
#ifndef FSFILTER_LOWER_XATTRAT_NR_H
#define FSFILTER_LOWER_XATTRAT_NR_H

#include <sys/syscall.h>

#if !defined(__NR_getxattrat) &&                                              \
	((defined(__x86_64__) && !defined(__ILP32__)) || defined(__i386__) ||  \
	 defined(__aarch64__) || defined(__riscv))
#define __NR_setxattrat 463
#define __NR_getxattrat 464
#define __NR_listxattrat 465
#define __NR_removexattrat 466
#endif

#endif /* FSFILTER_LOWER_XATTRAT_NR_H */
