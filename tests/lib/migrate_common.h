/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What test_migrate.c and test_migrate_conv.c share: the v1 and v2 object
 * types with their field descriptions, the v1 world (plain and KEYED
 * objects, some freed and reused) and its check after the migration to v2,
 * and byte images of a pool's regions (a refused change touches nothing).
 */
#ifndef MIGRATE_COMMON_H
#define MIGRATE_COMMON_H

#define MC_UNUSED __attribute__((unused))

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "testutil.h"

#define T_P		1	/* plain */
#define T_K		2	/* KEYED */
#define NR		40

struct pos {
	float x, y;
};

/* Version 1 of the object. */
struct v1 {
	uint32_t id;
	int16_t hp;
	uint8_t level;
	float speed;
	struct pos pos;
	char name[12];
	uint64_t friend_h;	/* a handle */
	uint64_t gone;		/* removed in v2 */
};

/* Version 2: fields moved, widened, converted, one removed, two added. */
struct v2 {
	double speed;		/* float -> double */
	uint64_t added;		/* new, default 77 */
	struct pos pos;
	char name[20];		/* 12 -> 20 bytes */
	int64_t hp;		/* int16 -> int64 */
	int32_t level;		/* uint8 -> int32 */
	uint64_t id;		/* uint32 -> uint64 */
	uint64_t friend_h;
	uint32_t zeroed;	/* new, zero */
};

static MC_UNUSED const uint64_t added_default = 77;

static MC_UNUSED const struct shmdev_field f1[] = {
	SHMDEV_FIELD(struct v1, id), SHMDEV_FIELD(struct v1, hp), SHMDEV_FIELD(struct v1, level),
	SHMDEV_FIELD(struct v1, speed), SHMDEV_FIELD(struct v1, pos.x), SHMDEV_FIELD(struct v1, pos.y),
	SHMDEV_FIELD(struct v1, name), SHMDEV_FIELD_HANDLE_OF(struct v1, friend_h),
	SHMDEV_FIELD(struct v1, gone),
};

static MC_UNUSED const struct shmdev_field f2[] = {
	SHMDEV_FIELD(struct v2, speed), SHMDEV_FIELD_DEFAULT(struct v2, added, &added_default),
	SHMDEV_FIELD(struct v2, pos.x), SHMDEV_FIELD(struct v2, pos.y), SHMDEV_FIELD(struct v2, name),
	SHMDEV_FIELD(struct v2, hp), SHMDEV_FIELD(struct v2, level), SHMDEV_FIELD(struct v2, id),
	SHMDEV_FIELD_HANDLE_OF(struct v2, friend_h), SHMDEV_FIELD(struct v2, zeroed),
};

#define NF(f) ((uint32_t)(sizeof(f) / sizeof((f)[0])))

static MC_UNUSED struct shmdev_type tv1[] = {
	{ .id = T_P, .name = "Plain", .size = sizeof(struct v1), .version = 1, .max_count = NR,
	  .nr_fields = NF(f1), .fields = f1 },
	{ .id = T_K, .name = "Keyed", .size = sizeof(struct v1), .version = 1, .max_count = NR,
	  .flags = SHMDEV_TYPE_KEYED, .nr_fields = NF(f1), .fields = f1 },
};

static MC_UNUSED struct shmdev_type tv2[] = {
	{ .id = T_P, .name = "Plain", .size = sizeof(struct v2), .version = 2, .max_count = NR,
	  .nr_fields = NF(f2), .fields = f2 },
	{ .id = T_K, .name = "Keyed", .size = sizeof(struct v2), .version = 2, .max_count = NR + 8,
	  .flags = SHMDEV_TYPE_KEYED, .nr_fields = NF(f2), .fields = f2 },
};

static struct shmdev_ctx *ctx;

static MC_UNUSED struct shmdev_conf *mkconf(unsigned int nr_blocks, const char *bs)
{
	return tu_conf(ctx, "zone", 0, bs, nr_blocks, NULL);
}

static MC_UNUSED void sweep(void)
{
	struct shmdev_conf *c = mkconf(3, "64K");

	tu_pool_destroy(ctx, c);
}

/* The v1 objects a pool holds: handle and key, by index i (key 1000 + i). */
struct world {
	shmdev_handle_t h[2][NR];
	bool live[2][NR];
	shmdev_handle_t friend_h[2][NR];	/* what each object's friend_h holds */
};

static MC_UNUSED void fill_v1(struct v1 *o, unsigned int i, shmdev_handle_t friend_h)
{
	o->id = 0xf0000000u + i;
	o->hp = (int16_t)(i % 2 ? -1000 - (int)i : 1000 + (int)i);
	o->level = (uint8_t)(200 + i % 50);
	o->speed = 1.5f + (float)i;
	o->pos.x = (float)i / 4;
	o->pos.y = -(float)i;
	snprintf(o->name, sizeof(o->name), "p%u-abcdefg", i);
	o->friend_h = friend_h;
	o->gone = 0xdeadbeefULL;
}

/* A v1 pool: NR plain and NR keyed objects, a few freed and reused. */
static MC_UNUSED void build_v1(struct shmdev_conf *conf, struct world *w)
{
	struct shmdev_pool *pool = tu_pool_start(ctx, conf, tv1, 2, 0, SHMDEV_START_CREATED);
	unsigned int i, t;
	void *obj;
	bool created;

	memset(w, 0, sizeof(*w));
	for (i = 0; i < NR; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, T_P, &obj, &w->h[0][i]), 0);
		fill_v1(obj, i, w->friend_h[0][i] = w->h[0][0]);
		ck_assert_int_eq(shmdev_force_get(pool, T_K, 1000 + i, &obj, &w->h[1][i], &created), 0);
		fill_v1(obj, i, w->friend_h[1][i] = w->h[0][i]);
		w->live[0][i] = w->live[1][i] = true;
	}
	/* Freed: every 5th; reused: every 10th (a new generation). */
	for (t = 0; t < 2; t++)
		for (i = 0; i < NR; i += 5) {
			ck_assert_int_eq(shmdev_free(pool, w->h[t][i]), 0);
			w->live[t][i] = false;
		}
	for (i = 0; i < NR; i += 10) {
		ck_assert_int_eq(shmdev_alloc(pool, T_P, &obj, &w->h[0][i]), 0);
		fill_v1(obj, i, w->friend_h[0][i] = w->h[0][0]);
		w->live[0][i] = true;
	}
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
}

static MC_UNUSED void check_v2(struct shmdev_pool *pool, const struct world *w, const char *where)
{
	unsigned int i, t;

	for (t = 0; t < 2; t++)
		for (i = 0; i < NR; i++) {
			const struct v2 *o = shmdev_get(pool, w->h[t][i]);

			if (!w->live[t][i]) {
				ck_assert_msg(!o, "%s: freed %u/%u resolves", where, t, i);
				continue;
			}
			ck_assert_msg(o, "%s: handle %u/%u does not resolve", where, t, i);
			ck_assert_uint_eq(o->id, 0xf0000000u + i);
			ck_assert_int_eq(o->hp, i % 2 ? -1000 - (int)i : 1000 + (int)i);
			ck_assert_int_eq(o->level, 200 + i % 50);
			ck_assert(o->speed == 1.5 + i);
			ck_assert(o->pos.x == (float)i / 4 && o->pos.y == -(float)i);
			ck_assert_uint_eq(o->added, 77);
			ck_assert_uint_eq(o->zeroed, 0);
			ck_assert_uint_eq(o->friend_h, w->friend_h[t][i]);
			ck_assert_msg(!strncmp(o->name, "p", 1) && o->name[12] == 0 && o->name[19] == 0,
				      "%s: name of %u/%u", where, t, i);
			if (t) {
				shmdev_handle_t h = 0;

				ck_assert_ptr_eq(shmdev_find(pool, T_K, 1000 + i, &h), o);
				ck_assert_uint_eq(h, w->h[t][i]);
			}
		}
}

static MC_UNUSED uint64_t free_bytes(struct shmdev_pool *pool)
{
	struct shmdev_block_stats bs;
	uint64_t sum = 0;
	uint32_t b;

	for (b = 0; shmdev_pool_block_stats(pool, b, &bs) == 0; b++)
		sum += bs.free_bytes;
	return sum;
}


/* Snapshot of every region's bytes (base and blocks). */
struct image {
	size_t n;
	unsigned char *b[4];
	uint64_t len[4];
};

static MC_UNUSED void take_image(struct image *im, unsigned int nr_blocks)
{
	unsigned int i;

	im->n = nr_blocks + 1;
	for (i = 0; i < im->n; i++) {
		struct shmdev_region *r = NULL;

		ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(i), 0,
						    SHMDEV_REGION_RDONLY, 0, &r), 0);
		im->len[i] = shmdev_region_size(r);
		im->b[i] = malloc(im->len[i]);
		ck_assert_ptr_nonnull(im->b[i]);
		memcpy(im->b[i], shmdev_region_addr(r), im->len[i]);
		shmdev_region_close(r);
	}
}

static MC_UNUSED void same_image(struct image *a, unsigned int nr_blocks, const char *what)
{
	struct image b;
	unsigned int i;

	take_image(&b, nr_blocks);
	for (i = 0; i < a->n; i++) {
		ck_assert_msg(a->len[i] == b.len[i] && !memcmp(a->b[i], b.b[i], a->len[i]),
			      "%s: region %u changed", what, i);
		free(a->b[i]);
		free(b.b[i]);
	}
}


#endif
