/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bench's only contact with libshmdev: every shmpool call the
 * benchmarks make goes through these few functions, so that switching the
 * bench to another entry point (an inline get, a batch get) is one file.
 * The hot calls are static inline wrappers of the public API in shmdev.h;
 * a get is the inline shmdev_get_fast() of the handle's type (its struct
 * shmdev_fast filled at each open), and a find the inline
 * shmdev_find_fast() of the KEYED type (struct shmdev_find_fast), as a
 * program that knows its types calls them, and as the peers probe their
 * inlined tables.
 */
#ifndef BENCH_PEER_SHMPOOL_H
#define BENCH_PEER_SHMPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "shmdev.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sp_type {
	uint32_t size;
	uint64_t cap;
	bool keyed;
};

#define SP_TYPES_MAX 8

struct sp_pool {
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	struct shmdev_fast fast[SP_TYPES_MAX + 1];	/* by type id, 1..nr */
	struct shmdev_find_fast ffast[SP_TYPES_MAX + 1];	/* KEYED types, by id */
};

/* Type ids are 1..nr.  Dies with the library's message on failure. */
void sp_open(struct sp_pool *p, uint64_t key, const struct sp_type *types, int nr,
	     bool huge);
/* 0 CREATED, 1 RESUMED_CLEAN, 2 RESUMED_CRASH (else 3) */
int sp_start(const struct sp_pool *p);
void sp_stats(const struct sp_pool *p, uint64_t *open_ns, uint64_t *repair_ns,
	      uint64_t *repaired);
void sp_close(struct sp_pool *p);	/* clean close, keeps the pool */
void sp_abandon(struct sp_pool *p);	/* a crash: no clean mark */
void sp_destroy(struct sp_pool *p);	/* close if open, destroy the regions */
/* Bytes the pool's regions use (blocks carved + the base region). */
uint64_t sp_bytes_used(const struct sp_pool *p);
void sp_die(const struct sp_pool *p, const char *what) __attribute__((noreturn));

static inline void *sp_alloc_raw(struct sp_pool *p, uint16_t t, shmdev_handle_t *h)
{
	void *obj;

	if (shmdev_alloc_raw(p->pool, t, &obj, h))
		sp_die(p, "shmdev_alloc_raw");
	return obj;
}

static inline void *sp_alloc(struct sp_pool *p, uint16_t t, shmdev_handle_t *h)
{
	void *obj;

	if (shmdev_alloc(p->pool, t, &obj, h))
		sp_die(p, "shmdev_alloc");
	return obj;
}

static inline void *sp_force_get(struct sp_pool *p, uint16_t t, uint64_t key,
				 shmdev_handle_t *h)
{
	void *obj;

	if (shmdev_force_get(p->pool, t, key, &obj, h, NULL))
		sp_die(p, "shmdev_force_get");
	return obj;
}

/* A handle of type @t (1..nr): NULL for a stale one or one of another type. */
static inline void *sp_get(const struct sp_pool *p, uint16_t t, shmdev_handle_t h)
{
	return shmdev_get_fast(&p->fast[t], h);
}

static inline void sp_free(struct sp_pool *p, shmdev_handle_t h)
{
	if (shmdev_free(p->pool, h))
		sp_die(p, "shmdev_free");
}

static inline void *sp_find(const struct sp_pool *p, uint16_t t, uint64_t key)
{
	return shmdev_find_fast(&p->ffast[t], key, NULL);
}

#ifdef __cplusplus
}
#endif

#endif
