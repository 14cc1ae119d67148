/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The few pieces of the FUSE kernel protocol the passthrough shim needs
 * and that neither libfuse 3.14 nor Debian 12's linux-libc-dev (protocol
 * 7.38) provides: FUSE_PASSTHROUGH (7.40), the backing-file ioctls and the
 * new fields of the INIT and OPEN replies. Copied by hand from the kernel's
 * include/uapi/linux/fuse.h (protocol 7.40+); every size is asserted, since
 * these bytes go straight to /dev/fuse.
 */
#ifndef FSFILTER_FUSE_KERNEL_ABI_H
#define FSFILTER_FUSE_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define FEK_OP_INIT		26u

/* fuse_init_in.flags / fuse_init_out.flags */
#define FEK_WRITEBACK_CACHE	(1u << 16)
#define FEK_INIT_EXT		(1u << 30)
/* flags2: the upper 32 bits of the 64-bit flags (FUSE_PASSTHROUGH is
 * 1ULL << 37) */
#define FEK_PASSTHROUGH_FLAGS2	(1u << (37 - 32))
/* FUSE_DIRECT_IO_ALLOW_MMAP (7.39): MAP_SHARED of a FOPEN_DIRECT_IO open
 * goes through the inode's page cache instead of failing with ENODEV */
#define FEK_DIRECT_IO_ALLOW_MMAP_FLAGS2	(1u << (36 - 32))

/* fuse_open_out.open_flags */
#define FEK_FOPEN_DIRECT_IO	(1u << 0)
#define FEK_FOPEN_KEEP_CACHE	(1u << 1)
#define FEK_FOPEN_NONSEEKABLE	(1u << 2)
#define FEK_FOPEN_CACHE_DIR	(1u << 3)
#define FEK_FOPEN_NOFLUSH	(1u << 5)
#define FEK_FOPEN_PASSTHROUGH	(1u << 7)

/* fuse_notify_code (7.44, Linux 6.16): every cached dentry of the
 * connection becomes invalid (the next walk looks each name up again) */
#define FEK_NOTIFY_INC_EPOCH	8

struct fek_in_header {
	uint32_t len;
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	uint16_t total_extlen;
	uint16_t padding;
};

struct fek_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

struct fek_init_in {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint32_t flags2;	/* only with FEK_INIT_EXT in flags */
	uint32_t unused[11];
};

struct fek_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;	/* 7.40; "unused" in libfuse 3.14 */
	uint16_t request_timeout;
	uint16_t unused[11];
};

struct fek_attr {
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t atime;
	uint64_t mtime;
	uint64_t ctime;
	uint32_t atimensec;
	uint32_t mtimensec;
	uint32_t ctimensec;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev;
	uint32_t blksize;
	uint32_t flags;
};

struct fek_entry_out {
	uint64_t nodeid;
	uint64_t generation;
	uint64_t entry_valid;
	uint64_t attr_valid;
	uint32_t entry_valid_nsec;
	uint32_t attr_valid_nsec;
	struct fek_attr attr;
};

struct fek_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;	/* 7.40; "padding" before */
};

/* CREATE answers with both, back to back */
struct fek_create_out {
	struct fek_entry_out entry;
	struct fek_open_out open;
};

struct fek_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define FEK_DEV_IOC_MAGIC		229
#define FEK_DEV_IOC_BACKING_OPEN	_IOW(FEK_DEV_IOC_MAGIC, 1, \
					     struct fek_backing_map)
#define FEK_DEV_IOC_BACKING_CLOSE	_IOW(FEK_DEV_IOC_MAGIC, 2, uint32_t)

_Static_assert(sizeof(struct fek_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct fek_out_header) == 16, "fuse_out_header");
_Static_assert(sizeof(struct fek_init_in) == 64, "fuse_init_in");
_Static_assert(offsetof(struct fek_init_in, flags2) == 16, "init_in.flags2");
_Static_assert(sizeof(struct fek_init_out) == 64, "fuse_init_out");
_Static_assert(offsetof(struct fek_init_out, flags) == 12, "init_out.flags");
_Static_assert(offsetof(struct fek_init_out, flags2) == 32,
	       "init_out.flags2");
_Static_assert(offsetof(struct fek_init_out, max_stack_depth) == 36,
	       "init_out.max_stack_depth");
_Static_assert(sizeof(struct fek_attr) == 88, "fuse_attr");
_Static_assert(sizeof(struct fek_entry_out) == 128, "fuse_entry_out");
_Static_assert(sizeof(struct fek_open_out) == 16, "fuse_open_out");
_Static_assert(sizeof(struct fek_create_out) == 144, "create reply");
_Static_assert(sizeof(struct fek_backing_map) == 16, "fuse_backing_map");
_Static_assert(FEK_DEV_IOC_BACKING_OPEN == 0x4010e501, "BACKING_OPEN");
_Static_assert(FEK_DEV_IOC_BACKING_CLOSE == 0x4004e502, "BACKING_CLOSE");

#endif /* FSFILTER_FUSE_KERNEL_ABI_H */
