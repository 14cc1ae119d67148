/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file monitor.h
 * @brief The messages between the `monitor` filter and its user-mode
 * clients (`fsfilter spy`, examples/scanner), over the communication port
 * "monitor" of a volume (fltc_connect(mountpoint, MON_PORT_NAME, ...)).
 *
 * Like minispy's shared header: fixed-size structures with explicit
 * padding, host byte order (client and daemon run on the same machine),
 * sizes asserted. Every message starts with struct mon_hdr; a reader
 * checks magic and version first. Version 1 is described in docs/monitor.md.
 *
 *  client -> filter (fltc_send_message; the reply is a struct mon_reply,
 *  or struct mon_stats for MON_MSG_GET_STATS):
 *    MON_MSG_SUBSCRIBE   struct mon_subscribe (replaces the previous one)
 *    MON_MSG_VERDICT     struct mon_verdict (answer to a verdict request)
 *    MON_MSG_GET_STATS   struct mon_hdr alone
 *  filter -> client (fltc_get_message, no reply expected):
 *    MON_MSG_EVENTS      struct mon_batch + count event records
 *    MON_MSG_VERDICT_REQ struct mon_verdict_req + one event record
 */
#ifndef FSFILTER_MONITOR_H
#define FSFILTER_MONITOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MON_PORT_NAME "monitor"
#define MON_MAGIC 0x494e4f4du	/* "MONI" little-endian */
#define MON_VERSION 1u

enum mon_msg_type {
	MON_MSG_SUBSCRIBE = 1,
	MON_MSG_VERDICT = 2,
	MON_MSG_GET_STATS = 3,
	MON_MSG_EVENTS = 16,
	MON_MSG_VERDICT_REQ = 17,
	MON_MSG_REPLY = 32,
	MON_MSG_STATS = 33,
};

struct mon_hdr {
	uint32_t magic;		/**< MON_MAGIC */
	uint16_t version;	/**< MON_VERSION */
	uint16_t type;		/**< enum mon_msg_type */
	uint32_t size;		/**< bytes of the whole message */
	uint32_t reserved;	/**< 0 */
};

/** Bit of operation @p op (enum flt_op) in the op masks. */
#define MON_OP_BIT(op) (UINT64_C(1) << (op))

/* mon_subscribe.flags */
/** Also report lookups that fail with ENOENT (off by default: every
 *  negative dentry probe of a shell would show). */
#define MON_SUB_LOOKUP_MISSES	(1u << 0)
/** Become the verdict client for verdict_ops (one per volume; -EBUSY if
 *  another client is). */
#define MON_SUB_VERDICT		(1u << 1)
/** Events of operations issued by filters (FLT_IO_FILTER_INITIATED) too. */
#define MON_SUB_FILTER_IO	(1u << 2)

#define MON_COMM_LEN 16
#define MON_PATTERN_LEN 1024

/**
 * A client's subscription: it gets the events of operation X in phase P
 * if bit X is set in ops_pre/ops_post and every filter that is set
 * matches. Filters: pid (0 = any; matches the thread id FUSE reports and
 * its thread group id), uid ((uint32_t)-1 = any), comm (exact process
 * name, "" = any), path ("" = any; a glob with * ? [..] (fnmatch, '*'
 * does not cross '/', "**" does) if it has one of those characters, else
 * a prefix: "/a/b" matches /a/b and everything under it).
 */
struct mon_subscribe {
	struct mon_hdr hdr;		/* MON_MSG_SUBSCRIBE */
	uint64_t ops_pre;		/**< MON_OP_BIT() of each operation */
	uint64_t ops_post;
	uint64_t verdict_ops;		/**< with MON_SUB_VERDICT: open,
					     create (and read, write) */
	uint32_t flags;			/**< MON_SUB_* */
	int32_t pid;
	uint32_t uid;
	uint32_t reserved;
	char comm[MON_COMM_LEN];
	char path[MON_PATTERN_LEN];	/**< NUL-terminated */
};

enum mon_verdict_kind {
	MON_ALLOW = 1,
	MON_DENY = 2,
	/** Not decided yet: wait extend_ms more (bounded by max_verdict_ms
	 *  from the first wait). */
	MON_EXTEND = 3,
};

struct mon_verdict {
	struct mon_hdr hdr;		/* MON_MSG_VERDICT */
	uint64_t verdict_id;		/**< from the request */
	uint32_t verdict;		/**< enum mon_verdict_kind */
	int32_t error;			/**< DENY: positive errno, 0 = EACCES */
	uint32_t extend_ms;		/**< EXTEND */
	uint32_t reserved;
};

/** Reply to SUBSCRIBE and VERDICT. */
struct mon_reply {
	struct mon_hdr hdr;		/* MON_MSG_REPLY */
	int32_t status;			/**< 0 or a negative errno */
	uint32_t reserved;
};

/** Counters: the volume's, and this client's. */
struct mon_stats {
	struct mon_hdr hdr;		/* MON_MSG_STATS */
	uint64_t matched;		/**< events that matched this client */
	uint64_t sent;			/**< ... handed to the port */
	uint64_t dropped;		/**< ... lost (queue full) */
	uint64_t queued;		/**< ... still in the filter's queue */
	uint64_t verdict_requests;	/**< volume: operations that waited */
	uint64_t verdict_allowed;
	uint64_t verdict_denied;
	uint64_t verdict_timeouts;	/**< default applied after timeout */
	uint64_t verdict_released;	/**< default applied: client gone,
					     queue full, unmount */
	uint64_t verdict_excluded;	/**< not asked: a client's own process */
	uint64_t verdict_paging_async;	/**< paging I/O not waited for */
	uint64_t verdict_cancelled;	/**< interrupted (EINTR) */
};

/* mon_event.io_flags: FLT_IO_* in the low byte, and: */
#define MON_EV_VERDICT_PENDING	(1u << 8)  /**< a verdict request */
#define MON_EV_NO_VERDICT	(1u << 9)  /**< notification only (paging) */

enum mon_phase { MON_PRE = 1, MON_POST = 2 };

/**
 * One event. Followed by path (path_len bytes and a NUL) and path2
 * (path2_len bytes and a NUL: the new name of rename, the new name of
 * link, the target of symlink), then padding to a multiple of 8; size is
 * the whole record. Paths are relative to the volume and start with "/";
 * an inode whose name the filter never saw shows as "<ino N>".
 */
struct mon_event {
	uint16_t size;
	uint8_t op;			/**< enum flt_op */
	uint8_t phase;			/**< enum mon_phase */
	uint16_t path_len;
	uint16_t path2_len;
	uint32_t io_flags;		/**< FLT_IO_*, MON_EV_* */
	int32_t op_flags;		/**< open/create: open flags; rename:
					     RENAME_*; setattr: FLT_SET_* */
	int32_t pid;			/**< requestor thread id */
	uint32_t uid;
	uint32_t gid;
	int32_t result;			/**< post: 0 or a negative errno */
	uint64_t seq;			/**< per volume, increasing */
	uint64_t ino;			/**< target (parent for namespace ops) */
	int64_t offset;			/**< read, write, fallocate, readdir */
	uint64_t length;		/**< requested bytes */
	uint64_t information;		/**< post: bytes done, new ino, ... */
	uint64_t time_ns;		/**< CLOCK_REALTIME when it started */
	uint64_t duration_ns;		/**< post: pre to post */
	uint32_t mode;			/**< create, mkdir, mknod, setattr */
	uint32_t reserved;
	char comm[MON_COMM_LEN];	/**< process name */
	/* char path[]; char path2[]; padding */
};

/** Events of one MON_MSG_EVENTS message. */
struct mon_batch {
	struct mon_hdr hdr;		/* MON_MSG_EVENTS */
	uint32_t count;			/**< records that follow */
	uint32_t reserved;
	uint64_t dropped;		/**< this client's dropped total */
};

struct mon_verdict_req {
	struct mon_hdr hdr;		/* MON_MSG_VERDICT_REQ */
	uint64_t verdict_id;		/**< answer with it */
	uint32_t timeout_ms;		/**< the default applies after it */
	uint32_t max_ms;		/**< extensions end there */
	/* one struct mon_event record */
};

_Static_assert(sizeof(struct mon_hdr) == 16, "mon_hdr ABI");
_Static_assert(sizeof(struct mon_subscribe) == 16 + 40 + 16 + 1024,
	       "mon_subscribe ABI");
_Static_assert(sizeof(struct mon_verdict) == 40, "mon_verdict ABI");
_Static_assert(sizeof(struct mon_reply) == 24, "mon_reply ABI");
_Static_assert(sizeof(struct mon_stats) == 16 + 12 * 8, "mon_stats ABI");
_Static_assert(sizeof(struct mon_event) == 112, "mon_event ABI");
_Static_assert(sizeof(struct mon_batch) == 32, "mon_batch ABI");
_Static_assert(sizeof(struct mon_verdict_req) == 32, "mon_verdict_req ABI");

/** Path of a record (NUL-terminated). */
static inline const char *mon_event_path(const struct mon_event *e)
{
	return (const char *)(e + 1);
}
static inline const char *mon_event_path2(const struct mon_event *e)
{
	return (const char *)(e + 1) + e->path_len + 1;
}

#ifdef __cplusplus
}
#endif
#endif /* FSFILTER_MONITOR_H */
