/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Regions: the private interface between region.c (public entry points,
 * argument checks, backend choice) and the two backends, region_posix.c and
 * region_device.c.  Not installed.
 */
#ifndef SHMDEV_REGION_H
#define SHMDEV_REGION_H

#include <stdint.h>

#include "internal.h"

struct shmdev_region {
	struct shmdev_ctx *ctx;		/* referenced */
	enum shmdev_backend backend;	/* DEVICE or POSIX, never AUTO */
	uint64_t key;
	uint64_t size;			/* user bytes at addr */
	void *addr;			/* map + hdr_len */
	void *map;			/* the one mapping of the region */
	uint64_t map_len;		/* hdr_len + size */
	unsigned int flags;		/* SHMDEV_REGION_* given to open */
	enum shmdev_start start;
	uint64_t generation;
	bool leased;			/* OWNER and not yet detached */
	int fd;				/* device file or shm object */
	void *hdr;			/* POSIX: the header page, at map */
	uint64_t hdr_len;		/* POSIX: page size; device: 0 */
	bool any_size;			/* shmdev_region_open_any_size() */
	bool huge;			/* POSIX: created HUGE, mappings get MADV_HUGEPAGE */
	bool handed_over;		/* device: ATTACH said HANDED_OVER (a live update) */
};

/*
 * HUGE asked for but not to be had: a LOG_WARNING naming @r, the backend and
 * @why, once per context (the reason is the host's, not the region's).
 */
void shmdev_region_warn_no_huge(struct shmdev_region *r, const char *why);
/* HUGE asked for, but the existing region @r was created without it. */
void shmdev_region_warn_old_small(struct shmdev_region *r);

/*
 * shmdev_region_open() for the pool layer: @size is the size of a region
 * this call creates; an existing region opens at its own size, larger or
 * smaller, without an error.  The caller judges the size: the pool names
 * the layout setting that changed, which the region layer cannot.
 */
int shmdev_region_open_any_size(struct shmdev_ctx *ctx, enum shmdev_backend backend,
				uint64_t key, uint64_t size, unsigned int flags,
				uint32_t mode, struct shmdev_region **region);


/* @n as "4 MiB", "12 KiB" or "4097 bytes" (exact), for messages. */
const char *shmdev_fmt_bytes(char buf[32], uint64_t n);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t shmdev_now_ns(void);

/*
 * Backend operations.  open fills a zeroed @r whose ctx, backend, key and
 * flags are set; on failure it leaves nothing behind (no fd, no mapping, no
 * object it created).  Every failure goes through shmdev_fail() with a
 * message that names the key and the backend.
 */
int shmdev_posix_open(struct shmdev_region *r, uint64_t size, uint32_t mode);
int shmdev_posix_detach(struct shmdev_region *r);
void shmdev_posix_close(struct shmdev_region *r);
int shmdev_posix_stat(struct shmdev_ctx *ctx, uint64_t key,
		      struct shmdev_region_info *info);
int shmdev_posix_destroy(struct shmdev_ctx *ctx, uint64_t key);
/*
 * Whether shmem gives huge pages to a MADV_HUGEPAGE mapping of an object in
 * /dev/shm now; if not, @why (@len bytes) says what stands in the way.
 */
bool shmdev_posix_huge_possible(char *why, size_t len);
int shmdev_posix_list(struct shmdev_ctx *ctx,
		      int (*fn)(const struct shmdev_region_info *info, void *data),
		      void *data);

int shmdev_device_open(struct shmdev_region *r, uint64_t size, uint32_t mode);
int shmdev_device_detach(struct shmdev_region *r);
void shmdev_device_close(struct shmdev_region *r);
int shmdev_device_stat(struct shmdev_ctx *ctx, uint64_t key,
		       struct shmdev_region_info *info);
int shmdev_device_destroy(struct shmdev_ctx *ctx, uint64_t key);
int shmdev_device_list(struct shmdev_ctx *ctx,
		       int (*fn)(const struct shmdev_region_info *info, void *data),
		       void *data);
/*
 * For AUTO: 0 if /dev/shmpool opens, or would but for permissions; else the
 * errno that says it is absent (ENOENT, ENXIO, ENODEV).
 */
int shmdev_device_probe(void);

#endif /* SHMDEV_REGION_H */
