// SPDX-License-Identifier: LGPL-2.1-or-later
/* CRC32C by table slicing (8 bytes a step): about 1-2 GB/s, no CPU features. */
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY 0x82f63b78u	/* reflected Castagnoli polynomial */

void crc32c_init(struct crc32c *c)
{
	uint32_t r;
	int i, j;

	for (i = 0; i < 256; i++) {
		r = (uint32_t)i;
		for (j = 0; j < 8; j++)
			r = (r >> 1) ^ (CRC32C_POLY & (0u - (r & 1u)));
		c->t[0][i] = r;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			c->t[j][i] = (c->t[j - 1][i] >> 8) ^ c->t[0][c->t[j - 1][i] & 0xff];
}

uint32_t crc32c_update(const struct crc32c *c, uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t v;

	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = c->t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	/* The dump format is little-endian and so are the supported hosts. */
	while (len >= 8) {
		memcpy(&v, p, 8);
		v ^= crc;
		crc = c->t[7][v & 0xff] ^ c->t[6][(v >> 8) & 0xff] ^
		      c->t[5][(v >> 16) & 0xff] ^ c->t[4][(v >> 24) & 0xff] ^
		      c->t[3][(v >> 32) & 0xff] ^ c->t[2][(v >> 40) & 0xff] ^
		      c->t[1][(v >> 48) & 0xff] ^ c->t[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = c->t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
