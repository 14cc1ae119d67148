/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the port frame parser (src/port/frame.c), the one
 * piece of the daemon and of libfsfilter-client that reads bytes from the
 * other side. The input is a byte stream read by either side (its first
 * byte picks which). Besides "no crash, no UB, no out-of-bounds read",
 * it checks the parser's contract:
 *  - a complete frame re-encodes to the very same header bytes;
 *  - every shorter prefix of it is "need more" (0), never a different
 *    verdict, so a reader can parse as bytes trickle in;
 *  - an error is final: more bytes never turn it into a frame;
 *  - a frame is never longer than the input nor than the maximum.
 */
#include "port/frame.h"

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
	enum port_dir dir;
	size_t off = 0;

	if (size < 1)
		return 0;
	dir = data[0] & 1 ? PORT_DIR_TO_SERVER : PORT_DIR_TO_CLIENT;
	data++;
	size--;
	while (off < size) {
		struct port_frame f, g;
		unsigned char hdr[PORT_HDR_SIZE];
		ssize_t n = port_frame_parse(data + off, size - off, dir, &f);

		if (n < 0) {
			/* judged from the header alone, so final: no
			 * payload bytes could change it */
			check(size - off >= PORT_HDR_SIZE);
			check(port_frame_parse(data + off, PORT_HDR_SIZE, dir,
					       &g) == n);
			break;
		}
		if (n == 0)
			break;
		check((size_t)n <= size - off);
		check((size_t)n == PORT_HDR_SIZE + f.len);
		check(f.len <= PORT_MAX_PAYLOAD);
		port_frame_encode(&f, hdr);
		check(!memcmp(hdr, data + off, PORT_HDR_SIZE));
		/* prefixes: need more (sampled, the header ones all) */
		for (size_t k = 0; k < (size_t)n;
		     k += k < PORT_HDR_SIZE ? 1 : 97)
			check(port_frame_parse(data + off, k, dir, &g) == 0);
		off += (size_t)n;
	}
	return 0;
}
