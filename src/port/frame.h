/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The port wire format (docs/ports.md): every frame is a 24-byte header
 * followed by 0..FLT_PORT_MAX_MESSAGE bytes of payload, little-endian,
 * explicit sizes, no struct is ever copied onto the wire.
 *
 * Pure functions, no I/O and no allocation: compiled into both the daemon
 * (src/port) and libfsfilter-client, and fuzzed (tests/fuzz/fuzz_frame.c).
 */
#ifndef FSFILTER_PORT_FRAME_H
#define FSFILTER_PORT_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PORT_PROTO_VERSION 1u
#define PORT_HDR_SIZE 24u
/* same value as FLT_PORT_MAX_MESSAGE (checked in frame.c) */
#define PORT_MAX_PAYLOAD (64u * 1024u)

enum port_frame_type {
	PORT_F_CONNECT = 1,		/* client -> server: context blob */
	PORT_F_CONNECT_RESULT = 2,	/* server -> client: status */
	PORT_F_MESSAGE = 3,		/* server -> client: id, payload */
	PORT_F_REPLY = 4,		/* client -> server: id, status, payload */
	PORT_F_SEND = 5,		/* client -> server: id, payload */
	PORT_F_SEND_RESULT = 6,		/* server -> client: id, status, payload */
};

/* flags of PORT_F_MESSAGE (no other bit is valid) */
#define PORT_FF_REPLY_EXPECTED 0x1u
/* PORT_F_SEND carries in its flags word the most reply bytes the client
 * accepts (0..PORT_MAX_PAYLOAD); every other type has flags 0. */

/* Which side is reading: a frame type is only valid in one direction. */
enum port_dir {
	PORT_DIR_TO_SERVER,
	PORT_DIR_TO_CLIENT,
};

/* A decoded header. */
struct port_frame {
	uint32_t len;		/* payload bytes after the header */
	uint16_t version;
	uint16_t type;		/* enum port_frame_type */
	uint32_t flags;		/* MESSAGE: PORT_FF_*; SEND: reply capacity */
	int32_t status;		/* 0 or a negative errno */
	uint64_t id;
};

/*
 * Look at the first @avail bytes of a stream as read by side @dir.
 * Returns 0 when more bytes are needed, the size of the whole frame
 * (header + payload, > 0) when it is complete (*@f is filled), or a
 * negative errno for a frame that can never become valid:
 * -EPROTONOSUPPORT (other version), -EMSGSIZE (payload too large),
 * -EPROTO (anything else). A header is judged as soon as it is complete,
 * before its payload has arrived, so an oversized length is refused
 * without buffering it.
 */
ssize_t port_frame_parse(const void *buf, size_t avail, enum port_dir dir,
			 struct port_frame *f);

/* Write the header of @f to @out (PORT_HDR_SIZE bytes); version is
 * always PORT_PROTO_VERSION. Does not validate: callers build valid
 * frames (the unit and fuzz tests check parse(encode(f)) == f). */
void port_frame_encode(const struct port_frame *f, void *out);

#endif
