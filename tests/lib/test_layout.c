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
	ck_assert_uint_eq(lt[5].nr_buckets, 64);
	ck_assert(!lt[4].used);
	b = layout_blocks(t, 16);
	ck_assert_uint_eq(b[0].key, 0x1001);
	ck_assert_uint_eq(b[0].free_bytes, (1 << 20) - b[0].carved);
	ck_assert_uint_gt(b[0].carved, 100 * 144);
	ck_assert_uint_eq(b[1].carved, 0);
	ck_assert(!b[2].used);
	mem_free(&m);
}
END_TEST

START_TEST(test_verify_corruption)
{
	struct mem m;
	struct layout_header *h;

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
	h->version = 2;
	ck_assert_int_eq(layout_verify(ctx, m.base, m.g.base_size, &m.g), -EPROTO);
	ck_assert_str_eq(shmdev_errmsg(ctx), "layout version was 2, now 1" HINT);
	h->version = 1;
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
	ck_assert_uint_eq(lt[5].nr_buckets, 8192);
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
	ck_assert_int_eq(layout_check_types(ctx, two, 2, 4), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "type id 1 is registered twice (\"A\" and \"A\")");
}
END_TEST

/* ---- through the pool API --------------------------------------------- */

static struct shmdev_conf *mkconf(const char *block_size, unsigned int nblocks,
				  const char *extra)
{
	struct shmdev_conf *conf = NULL;
	char text[2048];
	int n;
	unsigned int i;

	n = snprintf(text, sizeof(text), "ProcessList = zone\n[zone]\nBaseKey = 0x%" PRIx64 "\nBlockSize = %s\n%s",
		     tu_key(0), block_size, extra ? extra : "");
	for (i = 1; i <= nblocks; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "BlockKey = 0x%" PRIx64 "\n", tu_key(i));
	ck_assert_msg(shmdev_conf_load_string(ctx, text, "layout.ini", "zone", &conf) == 0,
		      "%s", shmdev_errmsg(ctx));
	return conf;
}

static void destroy_pool(void)
{
	struct shmdev_conf *conf = mkconf("1M", 3, NULL);

	shmdev_pool_destroy(ctx, conf);
	shmdev_conf_free(conf);
}

static struct shmdev_pool *open_ok(struct shmdev_conf *conf, const struct shmdev_type *t,
				   size_t n, enum shmdev_start want)
{
	struct shmdev_pool *pool = NULL;

	ck_assert_msg(shmdev_pool_open(ctx, conf, t, n, 0, &pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_start(pool), want);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	return pool;
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

static void setup(void)
{
	ctx = tu_ctx();
	destroy_pool();
}

static void teardown(void)
{
	destroy_pool();
	ctx = shmdev_ctx_unref(ctx);
}

static void cleanup_regions(void)
{
	tu_destroy_all();
}

int main(void)
{
	Suite *s = suite_create("layout");
	SRunner *sr;
	TCase *tc;
	int failed;

	tu_init("layout");
	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_verify);
	tcase_add_test(tc, test_verify_corruption);
	tcase_add_test(tc, test_type_refusals);
	tcase_add_test(tc, test_config_refusals);
	tcase_add_test(tc, test_append_raise_plain);
	tcase_add_test(tc, test_check_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_regions);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pool_refusal_changes_nothing);
	tcase_add_test(tc, test_pool_append_type_and_raise);
	tcase_add_test(tc, test_pool_raise_then_crash);
	tcase_add_test(tc, test_pool_corrupt_layout_refused);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_destroy_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
