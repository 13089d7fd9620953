// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The base layout: initialisation and verification on plain memory, every
 * mismatch refusal with its exact message (and nothing written), the
 * two-copy commit, and through the pool API: refusals that leave the pool
 * untouched, appending types, raising max_count, appending blocks.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "testutil.h"

#define HINT "; the layout cannot be reused (destroy the pool for a cold start)"

static struct shmdev_ctx *ctx;

static const uint64_t keys[] = { 0x1001, 0x1002, 0x1003 };

static const struct shmdev_type base_types[] = {
	{ .id = 3, .name = "Item", .size = 128, .version = 1, .max_count = 100 },
	{ .id = 5, .name = "Player", .size = 200, .align = 16, .version = 7,
	  .max_count = 40, .flags = SHMDEV_TYPE_KEYED },
};

static struct layout_params params(void)
{
	struct layout_params p = {
		.process = "zone", .block_size = 1 << 20, .nr_blocks = 2,
		.block_keys = keys, .max_types = 16, .max_blocks = 8,
		.start_time_ns = 12345,
	};
	return p;
}

struct mem {
	void *base;
	struct layout_geom g;
	struct layout_table *scratch;
	uint8_t changes[16];
};

/* A layout on plain memory with base_types carved and committed. */
static void mem_init(struct mem *m)
{
	struct layout_params p = params();

	layout_geom(p.max_types, p.max_blocks, &m->g);
	m->base = calloc(1, m->g.base_size);
	m->scratch = calloc(1, m->g.table_size);
	ck_assert_ptr_nonnull(m->base);
	ck_assert_ptr_nonnull(m->scratch);
	layout_init(m->base, &p, NULL);
	ck_assert_int_eq(layout_verify(ctx, m->base, m->g.base_size, &m->g), 0);
	ck_assert_int_eq(layout_plan(ctx, m->base, &p, base_types, 2, false, m->scratch, m->changes), 1);
	ck_assert_int_eq(m->changes[3], LAYOUT_ADDED);
	ck_assert_int_eq(m->changes[5], LAYOUT_ADDED);
	layout_commit(m->base, m->scratch, NULL);
	ck_assert_int_eq(layout_verify(ctx, m->base, m->g.base_size, &m->g), 0);
}

static void mem_free(struct mem *m)
{
	free(m->base);
	free(m->scratch);
}

/* layout_plan must refuse with exactly @msg and write nothing. */
static void expect_refusal(struct mem *m, const struct layout_params *p,
			   const struct shmdev_type *t, size_t n, int err, const char *msg)
{
	void *copy = malloc(m->g.base_size);

	memcpy(copy, m->base, m->g.base_size);
	ck_assert_int_eq(layout_plan(ctx, m->base, p, t, n, false, m->scratch, m->changes), err);
	ck_assert_str_eq(shmdev_errmsg(ctx), msg);
	ck_assert_int_eq(memcmp(copy, m->base, m->g.base_size), 0);
	free(copy);
}

START_TEST(test_init_verify)
{
	struct mem m;
	struct layout_header *h;
	struct layout_table *t;
	struct layout_type *lt;
	struct layout_block *b;

	mem_init(&m);
	h = m.base;
	ck_assert_uint_eq(h->magic, SHMDEV_LAYOUT_MAGIC);
	ck_assert_uint_eq(h->block_size, 1 << 20);
	ck_assert_uint_eq(h->start_time_ns, 12345);
	ck_assert_str_eq(h->process, "zone");
	t = layout_active(m.base);
	ck_assert_uint_eq(t->seq, 2);
	ck_assert_uint_eq(t->nr_types, 2);
	ck_assert_uint_eq(t->nr_blocks, 2);
	lt = layout_types(t);
	ck_assert_str_eq(lt[3].name, "Item");
	ck_assert_uint_eq(lt[3].max_count, 100);
	ck_assert_uint_eq(lt[3].align, 8);
	ck_assert_uint_eq(lt[3].slot_size, 16 + 128);
	ck_assert_uint_eq(lt[5].align, 16);
	ck_assert_uint_eq(lt[5].slot_size % 16, 0);
	ck_assert_uint_eq(lt[5].nr_buckets, 128);	/* 40 keys: at most half full */
	ck_assert(!lt[4].used);
	b = layout_blocks(t, 16);
	ck_assert_uint_eq(b[0].key, 0x1001);
	ck_assert_uint_eq(b[0].free_bytes, (1 << 20) - b[0].carved);
	ck_assert_uint_gt(b[0].carved, 100 * 144);
	ck_assert_uint_eq(b[1].carved, SHMDEV_LAYOUT_BLOCK_HDR);
	ck_assert_uint_eq(b[1].high, SHMDEV_LAYOUT_BLOCK_HDR);
	ck_assert(!b[2].used);
	mem_free(&m);
}
END_TEST

START_TEST(test_verify_corruption)
{
	struct mem m;
	struct layout_header *h;
	char want[256];

	mem_init(&m);
	h = m.base;
	/* A cold header byte. */
	h->start_time_ns++;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "layout checksum mismatch"));
	h->start_time_ns--;
	/* A table byte. */
	layout_types(layout_active(m.base))[3].size++;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), -EUCLEAN);
	layout_types(layout_active(m.base))[3].size--;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), 0);
	/* Hot fields are not covered. */
	h->open_epoch += 5;
	layout_hot_at(m.base, &m.g)[3].live_count = 77;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), 0);
	/* The other copy is scratch: garbage there (a crash before the flip) is harmless. */
	memset(layout_table_at(m.base, h, !h->active), 0xa5, h->table_size);
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), 0);
	h->active = 7;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), -EUCLEAN);
	h->active = !h->active ? 0 : 1;
	ck_assert_int_eq(layout_verify(ctx, m.base, 100, &m.g), -EUCLEAN);
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size - 1, &m.g), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "does not fit the base region"));
	h->version = SHMDEV_LAYOUT_VERSION + 1;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), -EPROTO);
	snprintf(want, sizeof(want), "layout version was %u, now %u" HINT,
		 SHMDEV_LAYOUT_VERSION + 1, SHMDEV_LAYOUT_VERSION);
	ck_assert_str_eq(shmdev_errmsg(ctx), want);
	h->version = SHMDEV_LAYOUT_VERSION;
	h->magic = 0x1234;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "bad magic"));
	mem_free(&m);
}
END_TEST

START_TEST(test_type_refusals)
{
	struct mem m;
	struct layout_params p = params();
	struct shmdev_type t[2];

	mem_init(&m);
#define REFUSE(field, value, msg) do { \
		memcpy(t, base_types, sizeof(t)); \
		t[0].field = value; \
		expect_refusal(&m, &p, t, 2, -EINVAL, msg); \
	} while (0)
	REFUSE(size, 136, "type 3 \"Item\": size was 128, now 136" HINT);
	REFUSE(name, "Thing", "type 3 \"Thing\": name was \"Item\", now \"Thing\"" HINT);
	REFUSE(align, 32, "type 3 \"Item\": align was 8, now 32" HINT);
	REFUSE(version, 2, "type 3 \"Item\": version was 1, now 2" HINT);
	REFUSE(flags, SHMDEV_TYPE_KEYED, "type 3 \"Item\": flags was 0x0, now 0x1" HINT);
	REFUSE(max_count, 99, "type 3 \"Item\": max_count was 100, now 99; lowering the capacity is refused" HINT);
#undef REFUSE
	/* align 0 and 8 are the same thing. */
	memcpy(t, base_types, sizeof(t));
	t[0].align = 8;
	ck_assert_int_eq(layout_plan(ctx, m.base, &p, t, 2, false, m.scratch, m.changes), 0);
	/* A subset of the types is fine: the others are kept. */
	ck_assert_int_eq(layout_plan(ctx, m.base, &p, &base_types[1], 1, false, m.scratch, m.changes), 0);
	mem_free(&m);
}
END_TEST

START_TEST(test_config_refusals)
{
	struct mem m;
	struct layout_params p;
	uint64_t other[] = { 0x1001, 0x1009, 0x1003 };

	mem_init(&m);
	p = params();
	p.process = "game";
	expect_refusal(&m, &p, base_types, 2, -EINVAL, "process was \"zone\", now \"game\"" HINT);
	p = params();
	p.block_size = 2 << 20;
	expect_refusal(&m, &p, base_types, 2, -EINVAL, "BlockSize was 1048576, now 2097152" HINT);
	p = params();
	p.max_types = 32;
	expect_refusal(&m, &p, base_types, 2, -EINVAL, "MaxTypeInfoNum was 16, now 32" HINT);
	p = params();
	p.block_keys = other;
	expect_refusal(&m, &p, base_types, 2, -EINVAL, "block 1: key was 0x1002, now 0x1009" HINT);
	p = params();
	p.nr_blocks = 1;
	expect_refusal(&m, &p, base_types, 2, -EINVAL, "block count was 2, now 1; blocks cannot be removed" HINT);
	p = params();
	p.nr_blocks = 9;
	expect_refusal(&m, &p, base_types, 2, -EINVAL, "block count was 2, now 9, beyond the layout's MaxBlockNum 8" HINT);
	/* Read-only: any change is refused with EROFS. */
	p = params();
	p.nr_blocks = 3;
	ck_assert_int_eq(layout_plan(ctx, m.base, &p, base_types, 2, true, m.scratch, m.changes), -EROFS);
	mem_free(&m);
}
END_TEST

START_TEST(test_append_raise_plain)
{
	struct mem m;
	struct layout_params p = params();
	struct shmdev_type t[3];
	struct layout_type *lt;
	uint64_t seq;

	mem_init(&m);
	memcpy(t, base_types, sizeof(base_types));
	t[2] = (struct shmdev_type){ .id = 0, .name = "Guild", .size = 64, .max_count = 10 };
	t[1].max_count = 5000;	/* Player: 40 -> 5000, more than block 0 holds */
	seq = layout_active(m.base)->seq;
	ck_assert_int_eq(layout_plan(ctx, m.base, &p, t, 3, true, m.scratch, m.changes), -EROFS);
	ck_assert_int_eq(layout_plan(ctx, m.base, &p, t, 3, false, m.scratch, m.changes), 1);
	ck_assert_int_eq(m.changes[0], LAYOUT_ADDED);
	ck_assert_int_eq(m.changes[3], LAYOUT_SAME);
	ck_assert_int_eq(m.changes[5], LAYOUT_RAISED);
	/* Not applied before the commit. */
	ck_assert_uint_eq(layout_types(layout_active(m.base))[5].max_count, 40);
	layout_commit(m.base, m.scratch, NULL);
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), 0);
	ck_assert_uint_eq(layout_active(m.base)->seq, seq + 1);
	lt = layout_types(layout_active(m.base));
	ck_assert_uint_eq(lt[5].max_count, 5000);
	ck_assert_uint_ge(lt[5].nr_chunks, 2);
	ck_assert_uint_eq(lt[5].chunks[1].first_slot, 40);
	ck_assert_uint_eq(lt[5].nr_buckets, 16384);
	ck_assert_uint_eq(lt[0].max_count, 10);
	/* Too much for the blocks: refused, with the numbers. */
	t[1].max_count = 100000;
	ck_assert_int_eq(layout_plan(ctx, m.base, &p, t, 3, false, m.scratch, m.changes), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "type 5 \"Player\": no room for"));
	mem_free(&m);
}
END_TEST

START_TEST(test_check_types)
{
	struct shmdev_type t = { .id = 1, .name = "A", .size = 8, .max_count = 1 };
	struct shmdev_type two[2] = { t, t };

	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), 0);
	t.id = 4;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "type 4 \"A\": id is beyond MaxTypeInfoNum 4");
	t.id = 1;
	t.name = "0123456789012345678901234567890123";
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	t.name = NULL;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	t.name = "A";
	t.size = 0;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	t.size = 8;
	t.align = 8192;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	t.align = 0;
	t.flags = 0x10;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	t.flags = 0;
	t.max_count = 1ULL << 32;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	/* A slot number must fit the 28 bits a handle has for it. */
	t.max_count = (1ULL << 28) - 1;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), 0);
	t.max_count = 1ULL << 28;
	ck_assert_int_eq(layout_check_types(ctx, &t, 1, 4), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "type 1 \"A\": max_count 268435456 is not in 1..268435455");
	t.max_count = 1;
	ck_assert_int_eq(layout_check_types(ctx, two, 2, 4), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "type id 1 is registered twice (\"A\" and \"A\")");
}
END_TEST

/*
 * An index outgrown by a raise goes back as a hole, and the next change
 * carves from it first, zeroed; the plan without blocks computes the same
 * table as the one that writes into them.
 */
START_TEST(test_hole_reuse)
{
	struct layout_params p = params();
	struct shmdev_type t[3];
	struct layout_geom g;
	struct layout_table *dry, *scratch;
	struct layout_type *lt;
	struct layout_extent *holes;
	void *base, *blk[2];
	uint8_t changes[16];
	uint64_t old_off, i;
	uint32_t old_block;
	const unsigned char *c;

	layout_geom(p.max_types, p.max_blocks, &g);
	base = calloc(1, g.base_size);
	dry = calloc(1, g.table_size);
	blk[0] = calloc(1, 1 << 20);
	blk[1] = calloc(1, 1 << 20);
	scratch = calloc(1, g.table_size);

	layout_init(base, &p, NULL);
	memcpy(t, base_types, sizeof(base_types));
	ck_assert_int_eq(layout_plan_at(ctx, base, blk, &p, t, 2, false, scratch, changes), 1);
	layout_commit(base, scratch, NULL);
	lt = layout_types(layout_active(base));
	ck_assert_uint_eq(lt[5].nr_buckets, 128);
	old_block = lt[5].hash_block;
	old_off = lt[5].hash_offset;
	memset((char *)blk[old_block] + old_off, 0xff, 128 * 4);	/* a used index */

	/* 40 -> 64: still at most half full, the index stays. */
	t[1].max_count = 64;
	ck_assert_int_eq(layout_plan_at(ctx, base, blk, &p, t, 2, false, scratch, changes), 1);
	layout_commit(base, scratch, NULL);
	lt = layout_types(layout_active(base));
	ck_assert_uint_eq(lt[5].hash_offset, old_off);
	/* 64 -> 200: a new index; the old one is a hole (slots follow it). */
	t[1].max_count = 200;
	ck_assert_int_eq(layout_plan(ctx, base, &p, t, 2, false, dry, changes), 1);
	ck_assert_int_eq(layout_plan_at(ctx, base, blk, &p, t, 2, false, scratch, changes), 1);
	ck_assert_int_eq(memcmp(dry, scratch, g.table_size), 0);
	layout_commit(base, scratch, NULL);
	ck_assert_int_eq(layout_verify(ctx, base, g.base_size, &g), 0);
	lt = layout_types(layout_active(base));
	ck_assert_uint_eq(lt[5].nr_buckets, 512);
	ck_assert_uint_ne(lt[5].hash_offset, old_off);
	holes = layout_holes(layout_active(base), p.max_types, p.max_blocks);
	/* With what the index's alignment skipped before it (under 64 bytes). */
	ck_assert_uint_eq(holes[0].block, old_block);
	ck_assert_uint_le(holes[0].offset, old_off);
	ck_assert_uint_gt(holes[0].offset + 64, old_off);
	ck_assert_uint_eq(holes[0].offset + holes[0].len, old_off + 512);
	ck_assert_uint_eq(layout_hole_bytes(base, layout_active(base), old_block), holes[0].len);

	/* A new type of 16 slots of 32 bytes takes the hole, zeroed. */
	t[2] = (struct shmdev_type){ .id = 7, .name = "Guild", .size = 16, .max_count = 16 };
	ck_assert_int_eq(layout_plan(ctx, base, &p, t, 3, false, dry, changes), 1);
	ck_assert_int_eq(layout_plan_at(ctx, base, blk, &p, t, 3, false, scratch, changes), 1);
	ck_assert_int_eq(memcmp(dry, scratch, g.table_size), 0);
	layout_commit(base, scratch, NULL);
	ck_assert_int_eq(layout_verify(ctx, base, g.base_size, &g), 0);
	ck_assert_int_eq(layout_verify_chunks(ctx, base, blk), 0);
	lt = layout_types(layout_active(base));
	ck_assert_uint_eq(lt[7].nr_chunks, 1);
	ck_assert_uint_eq(lt[7].chunks[0].block, old_block);
	ck_assert_uint_ge(lt[7].chunks[0].offset, old_off - 64);
	ck_assert_uint_le(lt[7].chunks[0].offset + 16 * 32, old_off + 512);
	holes = layout_holes(layout_active(base), p.max_types, p.max_blocks);
	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES; i++)
		ck_assert_uint_eq(holes[i].len, 0);
	c = (const unsigned char *)blk[old_block] + old_off;
	for (i = 0; i < 512; i++)
		ck_assert_uint_eq(c[i], 0);
	free(scratch);
	free(dry);
	free(blk[0]);
	free(blk[1]);
	free(base);
}
END_TEST

/* ---- through the pool API --------------------------------------------- */

static struct shmdev_conf *mkconf(const char *block_size, unsigned int nblocks,
				  const char *extra)
{
	return tu_conf(ctx, "zone", 0, block_size, nblocks, extra);
}

static void destroy_pool(void)
{
	tu_pool_destroy(ctx, mkconf("1M", 5, NULL));
}

static struct shmdev_pool *open_ok(struct shmdev_conf *conf, const struct shmdev_type *t,
				   size_t n, enum shmdev_start want)
{
	return tu_pool_start(ctx, conf, t, n, 0, want);
}

static void fill_players(struct shmdev_pool *pool, uint64_t from, uint64_t to)
{
	uint64_t k;
	void *obj;

	for (k = from; k < to; k++) {
		ck_assert_int_eq(shmdev_force_get(pool, 5, k, &obj, NULL, NULL), 0);
		*(uint64_t *)obj = k * 3;
	}
}

static void check_players(struct shmdev_pool *pool, uint64_t n)
{
	uint64_t k;

	for (k = 0; k < n; k++) {
		uint64_t *v = shmdev_find(pool, 5, k, NULL);

		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(*v, k * 3);
	}
}

START_TEST(test_pool_refusal_changes_nothing)
{
	struct shmdev_conf *conf = mkconf("1M", 2, NULL), *c2;
	struct shmdev_pool *pool;
	struct shmdev_type t[2];

	pool = open_ok(conf, base_types, 2, SHMDEV_START_CREATED);
	fill_players(pool, 0, 40);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	memcpy(t, base_types, sizeof(t));
	t[0].size = 136;
	pool = NULL;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, t, 2, 0, &pool), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "type 3 \"Item\": size was 128, now 136" HINT);
	ck_assert_ptr_null(pool);
	memcpy(t, base_types, sizeof(t));
	t[1].max_count = 39;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, t, 2, 0, &pool), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "type 5 \"Player\": max_count was 40, now 39; lowering the capacity is refused" HINT);

	c2 = mkconf("2M", 2, NULL);
	ck_assert_int_eq(shmdev_pool_open(ctx, c2, base_types, 2, 0, &pool), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "BlockSize was 1048576, now 2097152" HINT);
	shmdev_conf_free(c2);
	c2 = mkconf("1M", 2, "MaxTypeInfoNum = 8\n");
	ck_assert_int_eq(shmdev_pool_open(ctx, c2, base_types, 2, 0, &pool), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "MaxTypeInfoNum was 64, now 8" HINT);
	shmdev_conf_free(c2);
	c2 = mkconf("1M", 1, NULL);
	ck_assert_int_eq(shmdev_pool_open(ctx, c2, base_types, 2, 0, &pool), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "block count was 2, now 1; blocks cannot be removed" HINT);
	shmdev_conf_free(c2);

	/* Every refusal left the pool as it was: clean, data intact. */
	pool = open_ok(conf, base_types, 2, SHMDEV_START_RESUMED_CLEAN);
	check_players(pool, 40);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_pool_append_type_and_raise)
{
	struct shmdev_conf *conf = mkconf("64K", 2, NULL), *c3;
	struct shmdev_type t[3];
	struct shmdev_pool *pool;
	struct shmdev_type_stats ts;
	void *obj;

	/* Player alone first. */
	pool = open_ok(conf, &base_types[1], 1, SHMDEV_START_CREATED);
	fill_players(pool, 0, 40);
	ck_assert_int_eq(shmdev_force_get(pool, 5, 1000, &obj, NULL, NULL), -ENOSPC);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Append Item and a new type; raise Player 40 -> 300 (spills to block 1). */
	memcpy(t, base_types, sizeof(base_types));
	t[1].max_count = 300;
	t[2] = (struct shmdev_type){ .id = 9, .name = "Guild", .size = 24, .max_count = 20 };
	pool = open_ok(conf, t, 3, SHMDEV_START_RESUMED_CLEAN);
	check_players(pool, 40);
	fill_players(pool, 40, 300);
	check_players(pool, 300);
	ck_assert_int_eq(shmdev_force_get(pool, 5, 1000, &obj, NULL, NULL), -ENOSPC);
	ck_assert_int_eq(shmdev_alloc(pool, 3, &obj, NULL), 0);
	ck_assert_int_eq(shmdev_alloc(pool, 9, &obj, NULL), 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, 5, &ts), 0);
	ck_assert_uint_eq(ts.max_count, 300);
	ck_assert_uint_eq(ts.live_count, 300);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Opening with the old, smaller list of types keeps the others. */
	pool = open_ok(conf, &base_types[0], 1, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, 9, &ts), 0);
	ck_assert_uint_eq(ts.live_count, 1);
	check_players(pool, 300);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* A third block appended to the config: more room for a new raise. */
	c3 = mkconf("64K", 3, NULL);
	t[1].max_count = 500;
	pool = open_ok(c3, t, 3, SHMDEV_START_RESUMED_CLEAN);
	fill_players(pool, 300, 500);
	check_players(pool, 500);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(c3);
	shmdev_conf_free(conf);
}
END_TEST

/* A crash during the resume that raised a type: the next open still repairs. */
START_TEST(test_pool_raise_then_crash)
{
	struct shmdev_conf *conf = mkconf("1M", 2, NULL);
	struct shmdev_type t[2];
	struct shmdev_pool *pool;

	pool = open_ok(conf, base_types, 2, SHMDEV_START_CREATED);
	fill_players(pool, 0, 40);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	memcpy(t, base_types, sizeof(t));
	t[1].max_count = 80;
	pool = open_ok(conf, t, 2, SHMDEV_START_RESUMED_CLEAN);
	fill_players(pool, 40, 60);
	shmdev_pool_abandon(pool);
	pool = open_ok(conf, t, 2, SHMDEV_START_RESUMED_CRASH);
	check_players(pool, 60);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_pool_corrupt_layout_refused)
{
	struct shmdev_conf *conf = mkconf("1M", 2, NULL);
	struct shmdev_pool *pool;
	struct shmdev_region *r = NULL;
	struct layout_header *h;

	pool = open_ok(conf, base_types, 2, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(0), 0, 0, 0, &r), 0);
	h = shmdev_region_addr(r);
	h->block_size ^= 1ULL << 40;	/* a cold field: the checksum no longer matches */
	pool = NULL;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, base_types, 2, 0, &pool), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "layout checksum mismatch"));
	h->block_size ^= 1ULL << 40;
	shmdev_region_close(r);
	pool = open_ok(conf, base_types, 2, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* Sum of the block stats' carved and free bytes of an open pool. */
static void block_sums(struct shmdev_pool *pool, uint64_t *used, uint64_t *nfree)
{
	struct shmdev_block_stats bs;
	uint32_t b;

	*used = *nfree = 0;
	for (b = 0; shmdev_pool_block_stats(pool, b, &bs) == 0; b++) {
		*used += bs.used_bytes;
		*nfree += bs.free_bytes;
	}
}

/*
 * ENOSPC for a type that does not fit names the free space there was before
 * the attempt (not what its own partial carve left), and its advice works.
 */
START_TEST(test_pool_enospc_free_figure)
{
	struct shmdev_conf *conf = mkconf("1M", 2, NULL), *c3;
	struct shmdev_type t[3];
	struct shmdev_pool *pool;
	uint64_t used, nfree;
	char want[160];

	pool = open_ok(conf, base_types, 2, SHMDEV_START_CREATED);
	block_sums(pool, &used, &nfree);
	ck_assert_uint_gt(nfree, 1 << 20);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	memcpy(t, base_types, sizeof(base_types));
	/* 32 + 16 bytes a slot: 60000 slots (2.9 MB) do not fit the ~2 MB left. */
	t[2] = (struct shmdev_type){ .id = 9, .name = "Guild", .size = 32, .max_count = 60000 };
	pool = NULL;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, t, 3, 0, &pool), -ENOSPC);
	snprintf(want, sizeof(want), "type 9 \"Guild\": no room for 60000 slots of 48 bytes; %" PRIu64 " bytes are free in 2 blocks of 1048576",
		 nfree);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), want), "\"%s\" lacks \"%s\"", shmdev_errmsg(ctx), want);
	/* The advice: more blocks (BlockSize cannot change on a resume). */
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "add BlockKey"));
	c3 = mkconf("1M", 3, NULL);
	pool = open_ok(c3, t, 3, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(c3);
	shmdev_conf_free(conf);
}
END_TEST

static uint64_t next_pow2(uint64_t v)
{
	uint64_t p = 16;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * max_count raised 120 times, a plain and a KEYED type in turn (so that
 * their chunks and indexes interleave in the blocks), some resumes after
 * a crash: every object and key intact after each raise, and the carved
 * space stays within the objects' own plus one index and small change (an
 * old index that leaked at each raise would not).
 */
START_TEST(test_pool_raise_many_times)
{
	struct shmdev_conf *conf = mkconf("64K", 4, NULL), *c5;
	struct shmdev_type t[2] = {
		{ .id = 3, .name = "Item", .size = 16, .version = 1, .max_count = 10 },
		{ .id = 5, .name = "Player", .size = 16, .align = 16, .version = 1,
		  .max_count = 10, .flags = SHMDEV_TYPE_KEYED },
	};
	static shmdev_handle_t items[16384];
	struct shmdev_pool *pool;
	uint64_t used, nfree, n_items = 0, n_players = 0, k, bound;
	unsigned int round, rounds = tu_quick() ? 40 : 120;
	enum shmdev_start want = SHMDEV_START_CREATED;
	void *obj;

	for (round = 0; round <= rounds; round++) {
		if (round) {
			t[round % 2].max_count += 10;
			want = round % 7 == 1 ? SHMDEV_START_RESUMED_CRASH : SHMDEV_START_RESUMED_CLEAN;
		}
		pool = NULL;
		ck_assert_msg(shmdev_pool_open(ctx, conf, t, 2, 0, &pool) == 0, "round %u: %s",
			      round, shmdev_errmsg(ctx));
		ck_assert_int_eq(shmdev_pool_start(pool), want);
		ck_assert_msg(shmdev_pool_check(pool) == 0, "round %u: %s", round, shmdev_errmsg(ctx));
		/* Everything from before the raise. */
		for (k = 0; k < n_items; k++) {
			uint64_t *v = shmdev_get(pool, items[k]);

			ck_assert_ptr_nonnull(v);
			ck_assert_uint_eq(*v, k * 7);
		}
		for (k = 0; k < n_players; k++) {
			uint64_t *v = shmdev_find(pool, 5, k, NULL);

			ck_assert_msg(v, "round %u: player %" PRIu64 " lost", round, k);
			ck_assert_uint_eq(*v, k * 3);
		}
		/* Fill up to the new capacity. */
		for (; n_items < t[0].max_count; n_items++) {
			ck_assert_int_eq(shmdev_alloc(pool, 3, &obj, &items[n_items]), 0);
			*(uint64_t *)obj = n_items * 7;
		}
		fill_players(pool, n_players, t[1].max_count);
		n_players = t[1].max_count;
		ck_assert_int_eq(shmdev_alloc(pool, 3, &obj, NULL), -ENOSPC);
		ck_assert_int_eq(shmdev_force_get(pool, 5, 1ULL << 40, &obj, NULL, NULL), -ENOSPC);
		/* Slots (32 bytes each) + one index at most 4x the keys + small change. */
		block_sums(pool, &used, &nfree);
		bound = 32 * (n_items + n_players) + 4 * 4 * next_pow2(n_players) +
			4 * 64 + 2 * 64 * round + 8192;
		ck_assert_msg(used <= bound, "round %u: %" PRIu64 " bytes carved, bound %" PRIu64,
			      round, used, bound);
		ck_assert_msg(shmdev_pool_check(pool) == 0, "round %u: %s", round, shmdev_errmsg(ctx));
		if (round % 7 == 0)
			shmdev_pool_abandon(pool);
		else
			ck_assert_int_eq(shmdev_pool_close(pool), 0);
	}

	/* The free space the stats report (holes included) is there to carve. */
	pool = open_ok(conf, t, 2, (round - 1) % 7 == 0 ? SHMDEV_START_RESUMED_CRASH :
			  SHMDEV_START_RESUMED_CLEAN);
	block_sums(pool, &used, &nfree);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_uint_gt(nfree, 32768);
	t[0].max_count += (nfree - 16384) / 32;
	pool = open_ok(conf, t, 2, SHMDEV_START_RESUMED_CLEAN);
	for (; n_items < t[0].max_count; n_items++) {
		ck_assert_int_eq(shmdev_alloc(pool, 3, &obj, &items[n_items]), 0);
		*(uint64_t *)obj = n_items * 7;
	}
	/* What was asked for took that much: the slack and less than a slot are left. */
	block_sums(pool, &used, &nfree);
	ck_assert_uint_lt(nfree, 16384 + 32);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Then raise until the space runs out: refused, with advice that works. */
	t[0].max_count += nfree / 32 + 10;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, t, 2, 0, &pool), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "add BlockKey"));
	c5 = mkconf("64K", 5, NULL);
	pool = open_ok(c5, t, 2, SHMDEV_START_RESUMED_CLEAN);
	check_players(pool, n_players);
	for (k = 0; k < n_items; k++)
		ck_assert_uint_eq(*(uint64_t *)shmdev_get(pool, items[k]), k * 7);
	for (; n_items < t[0].max_count; n_items++)
		ck_assert_int_eq(shmdev_alloc(pool, 3, &obj, NULL), 0);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(c5);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * A layout change that died after writing into a block's free space (a new
 * chunk array) but before its commit leaves bytes there that no high mark
 * covers.  The header says so ("changing"): the next change zeroes what it
 * carves, so that new slots look never used: no handle resolves in them and
 * alloc_raw shows no old bytes.  Here the dead change's bytes are forged to
 * look like live slots of generation 1 everywhere.
 */
START_TEST(test_pool_change_died_writing)
{
	struct shmdev_conf *conf = mkconf("64K", 2, NULL);
	struct shmdev_type t = base_types[0];	/* Item: id 3, 100 slots of 144 bytes */
	struct shmdev_region *rb = NULL, *r0 = NULL;
	struct shmdev_block_stats bs;
	struct shmdev_pool *pool;
	struct layout_header *h;
	struct layout_block *b;
	uint32_t *w;
	uint64_t carved, i, hits = 0, dirty = 0;
	void *obj;

	pool = open_ok(conf, &t, 1, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_block_stats(pool, 0, &bs), 0);
	carved = bs.used_bytes;
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(0), 0, 0, 0, &rb), 0);
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(1), 0, 0, 0, &r0), 0);
	h = shmdev_region_addr(rb);
	/* LIVE, generation 1 in every word of block 0's free space. */
	w = (uint32_t *)((char *)shmdev_region_addr(r0) + carved);
	for (i = 0; i < ((64 << 10) - carved) / 4; i++)
		w[i] = 0x00010001;
	h->changing = 1;

	t.max_count = 200;
	pool = open_ok(conf, &t, 1, SHMDEV_START_RESUMED_CLEAN);
	for (i = 100; i < 200; i++)
		hits += shmdev_get(pool, (3ULL << 48) | i << 16 | 1) != NULL;
	for (i = 0; i < 200; i++) {
		unsigned char *c;
		uint32_t k;

		ck_assert_int_eq(shmdev_alloc_raw(pool, 3, &obj, NULL), 0);
		for (c = obj, k = 0; k < 128; k++)
			dirty += c[k] != 0;
	}
	ck_assert_msg(!hits && !dirty, "%" PRIu64 " handles resolve in new slots, %" PRIu64 " old bytes show",
		      hits, dirty);
	/* Since then every block's high mark is BlockSize: what is carved is zeroed. */
	ck_assert_uint_eq(h->changing, 0);
	b = layout_blocks(layout_active(h), h->max_types);
	ck_assert_uint_eq(b[0].high, 64 << 10);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_region_close(r0);
	shmdev_region_close(rb);
	shmdev_conf_free(conf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layout");
	TCase *tc;

	tu_init("layout");
	tu_fixture(&ctx, destroy_pool);
	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_test(tc, test_init_verify);
	tcase_add_test(tc, test_verify_corruption);
	tcase_add_test(tc, test_type_refusals);
	tcase_add_test(tc, test_config_refusals);
	tcase_add_test(tc, test_append_raise_plain);
	tcase_add_test(tc, test_check_types);
	tcase_add_test(tc, test_hole_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pool_refusal_changes_nothing);
	tcase_add_test(tc, test_pool_append_type_and_raise);
	tcase_add_test(tc, test_pool_raise_then_crash);
	tcase_add_test(tc, test_pool_corrupt_layout_refused);
	tcase_add_test(tc, test_pool_enospc_free_figure);
	tcase_add_test(tc, test_pool_raise_many_times);
	tcase_add_test(tc, test_pool_change_died_writing);
	suite_add_tcase(s, tc);

	return tu_run(s);
}
