/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by layout.c and layout_plan.c (only they include this).
 */
#ifndef SHMDEV_LAYOUT_INTERNAL_H
#define SHMDEV_LAYOUT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define REUSE_HINT "; the layout cannot be reused (destroy the pool for a cold start)"

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint32_t norm_align(uint32_t align)
{
	return align < 8 ? 8 : align;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif /* SHMDEV_LAYOUT_INTERNAL_H */
