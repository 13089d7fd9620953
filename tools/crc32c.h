/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CRC32C (Castagnoli, iSCSI polynomial), the checksum of dump files. */
#ifndef SHMPOOLCTL_CRC32C_H
#define SHMPOOLCTL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Slicing-by-8 tables: built once per user, no global state. */
struct crc32c {
	uint32_t t[8][256];
};

void crc32c_init(struct crc32c *c);
/* Continue @crc (0 to start) over @len bytes; crc32c("123456789") = 0xe3069283. */
uint32_t crc32c_update(const struct crc32c *c, uint32_t crc, const void *buf, size_t len);

#endif /* SHMPOOLCTL_CRC32C_H */
