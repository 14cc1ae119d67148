/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The frame header codec: byte by byte, so host endianness and struct
 * padding never reach the wire. */
#include "port/frame.h"

#include <fsfilter/filter.h>

#include <errno.h>

_Static_assert(PORT_MAX_PAYLOAD == FLT_PORT_MAX_MESSAGE,
	       "wire limit and API limit must agree");

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Is a header (already decoded) acceptable for a reader on side @dir? */
static int check(const struct port_frame *f, enum port_dir dir)
{
	int to_server, has_status, has_id;

	if (f->version != PORT_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	switch (f->type) {
	case PORT_F_CONNECT:
		to_server = 1, has_status = 0, has_id = 0;
		break;
	case PORT_F_CONNECT_RESULT:
		to_server = 0, has_status = 1, has_id = 0;
		break;
	case PORT_F_MESSAGE:
		to_server = 0, has_status = 0, has_id = 1;
		break;
	case PORT_F_REPLY:
		to_server = 1, has_status = 1, has_id = 1;
		break;
	case PORT_F_SEND:
		to_server = 1, has_status = 0, has_id = 1;
		break;
	case PORT_F_SEND_RESULT:
		to_server = 0, has_status = 1, has_id = 1;
		break;
	default:
		return -EPROTO;
	}
	if (to_server != (dir == PORT_DIR_TO_SERVER))
		return -EPROTO;
	if (f->len > PORT_MAX_PAYLOAD)
		return -EMSGSIZE;
	/* a status is 0 or a negative errno (Linux errnos are < 4096) */
	if (has_status ? (f->status > 0 || f->status < -4095) : f->status != 0)
		return -EPROTO;
	if (has_id ? f->id == 0 : f->id != 0)
		return -EPROTO;
	if (f->type == PORT_F_SEND ? f->flags > PORT_MAX_PAYLOAD
				   : f->flags & ~(f->type == PORT_F_MESSAGE
							  ? PORT_FF_REPLY_EXPECTED
							  : 0u))
		return -EPROTO;
	if (f->type == PORT_F_CONNECT_RESULT && f->len != 0)
		return -EPROTO;
	return 0;
}

ssize_t port_frame_parse(const void *buf, size_t avail, enum port_dir dir,
			 struct port_frame *f)
{
	const unsigned char *p = buf;
	struct port_frame h;
	int ret;

	if (avail < PORT_HDR_SIZE)
		return 0;
	h.len = get32(p);
	h.version = get16(p + 4);
	h.type = get16(p + 6);
	h.flags = get32(p + 8);
	h.status = (int32_t)get32(p + 12);
	h.id = get64(p + 16);
	ret = check(&h, dir);
	if (ret)
		return ret;
	if (avail - PORT_HDR_SIZE < h.len)
		return 0;
	*f = h;
	return (ssize_t)(PORT_HDR_SIZE + h.len);
}

void port_frame_encode(const struct port_frame *f, void *out)
{
	unsigned char *p = out;

	put32(p, f->len);
	put16(p + 4, PORT_PROTO_VERSION);
	put16(p + 6, f->type);
	put32(p + 8, f->flags);
	put32(p + 12, (uint32_t)f->status);
	put64(p + 16, f->id);
}
