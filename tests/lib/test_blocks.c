// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Block identity: every block region of a pool carries its pool's identity
 * and its index.  An existing pool whose block is missing (removed, then
 * re-created empty by an open) or foreign (another pool's, the same pool's
 * at another index, one from an earlier cold start of the same keys) is
 * refused with -EUCLEAN naming the key, on a clean resume, after a crash,
 * read-only and by shmdev_pool_check(), and nothing is left created by the
 * refused open.  A cold start over surviving blocks (only the base was
 * removed) owns clean blocks: no old handle resolves, no never-used slot
 * shows old bytes; a block that belongs to another live pool is not taken.
 * Runs on the backend SHMDEV_BACKEND selects.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define T_ITEM		0
#define T_PLAYER	1
#define NR_ITEMS	800
#define NR_PLAYERS	100
#define BLOCK_SIZE	(64U << 10)

struct item {
	uint64_t stamp;
	unsigned char fill[88];
};

static const struct shmdev_type types[] = {
	{ .id = T_ITEM, .name = "Item", .size = sizeof(struct item), .version = 1,
	  .max_count = NR_ITEMS },
	{ .id = T_PLAYER, .name = "Player", .size = 40, .version = 1,
	  .max_count = NR_PLAYERS, .flags = SHMDEV_TYPE_KEYED },
};
#define NR_TYPES (sizeof(types) / sizeof(types[0]))

static struct shmdev_ctx *ctx;

/* Pool "zone" (keys 0..2) or, with @other, pool "town" (keys 10..12). */
static struct shmdev_conf *mkconf_keys(const char *name, uint64_t base, uint64_t b0, uint64_t b1)
{
	struct shmdev_conf *conf = NULL;
	char text[1024];

	snprintf(text, sizeof(text), "ProcessList = %s\n[%s]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 64K\n"
		 "BlockKey = 0x%" PRIx64 "\nBlockKey = 0x%" PRIx64 "\n", name, name, base, b0, b1);
	ck_assert_msg(shmdev_conf_load_string(ctx, text, "blocks.ini", name, &conf) == 0,
		      "%s", shmdev_errmsg(ctx));
	return conf;
}

static struct shmdev_conf *mkconf(void)
{
	return mkconf_keys("zone", tu_key(0), tu_key(1), tu_key(2));
}

static struct shmdev_conf *mkconf_town(void)
{
	return mkconf_keys("town", tu_key(10), tu_key(11), tu_key(12));
}

static struct shmdev_pool *open_ok(struct shmdev_conf *conf, unsigned int flags,
				   enum shmdev_start want)
{
	return tu_pool_start(ctx, conf, types, NR_TYPES, flags, want);
}

/* Fill every Item (spilling into block 1) and every Player. */
static void populate(struct shmdev_pool *pool, shmdev_handle_t *hs)
{
	struct item *it;
	void *obj;
	unsigned int i;

	for (i = 0; i < NR_ITEMS; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &hs[i]), 0);
		it->stamp = 1000 + i;
		memset(it->fill, 0xab, sizeof(it->fill));
	}
	for (i = 0; i < NR_PLAYERS; i++) {
		ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 500 + i, &obj, NULL, NULL), 0);
		memset(obj, 0xcd, 40);
	}
}

static void check_populated(struct shmdev_pool *pool, const shmdev_handle_t *hs)
{
	unsigned int i;

	for (i = 0; i < NR_ITEMS; i++) {
		struct item *it = shmdev_get(pool, hs[i]);

		ck_assert_ptr_nonnull(it);
		ck_assert_uint_eq(it->stamp, 1000 + i);
	}
	for (i = 0; i < NR_PLAYERS; i++)
		ck_assert_ptr_nonnull(shmdev_find(pool, T_PLAYER, 500 + i, NULL));
}

/* The bytes of region @key (a writable mapping without a lease). */
static struct shmdev_region *map_region(uint64_t key)
{
	struct shmdev_region *r = NULL;

	ck_assert_msg(shmdev_region_open(ctx, tu_backend(), key, 0, 0, 0, &r) == 0,
		      "%s", shmdev_errmsg(ctx));
	ck_assert_uint_ge(shmdev_region_size(r), BLOCK_SIZE);
	return r;
}

static void *save_region(uint64_t key)
{
	struct shmdev_region *r = map_region(key);
	void *copy = malloc(BLOCK_SIZE);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, shmdev_region_addr(r), BLOCK_SIZE);
	shmdev_region_close(r);
	return copy;
}

static void load_region(uint64_t key, const void *bytes)
{
	struct shmdev_region *r = map_region(key);

	memcpy(shmdev_region_addr(r), bytes, BLOCK_SIZE);
	shmdev_region_close(r);
}

static bool region_exists(uint64_t key)
{
	struct shmdev_region_info info;

	return shmdev_region_stat(ctx, tu_backend(), key, &info) == 0;
}

/* An open of @conf must be refused with -EUCLEAN naming block @index as @what. */
static void expect_refused(struct shmdev_conf *conf, unsigned int flags, unsigned int index,
			   const char *what)
{
	struct shmdev_pool *pool = NULL;
	char want[160];
	int err;

	err = shmdev_pool_open(ctx, conf, types, NR_TYPES, flags, &pool);
	ck_assert_msg(err == -EUCLEAN, "open%s gave %d (%s), not -EUCLEAN",
		      flags ? " (read-only)" : "", err, shmdev_errmsg(ctx));
	ck_assert_ptr_null(pool);
	snprintf(want, sizeof(want), "block %u (key 0x%" PRIx64 ") of pool \"zone\" is %s",
		 index, tu_key(index + 1), what);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), want), "message \"%s\" lacks \"%s\"",
		      shmdev_errmsg(ctx), want);
}

static void destroy_pools(void)
{
	tu_pool_destroy(ctx, mkconf());
	tu_pool_destroy(ctx, mkconf_town());
}

/* A removed block is never re-created: clean resume, after a crash, read-only. */
START_TEST(test_missing_block)
{
	struct shmdev_conf *conf = mkconf();
	static shmdev_handle_t hs[NR_ITEMS];
	struct shmdev_pool *pool;
	struct shmdev_block_stats bs;
	int crash;

	for (crash = 0; crash < 2; crash++) {
		pool = open_ok(conf, 0, SHMDEV_START_CREATED);
		populate(pool, hs);
		/* The Items spill into block 1: losing it loses objects. */
		ck_assert_int_eq(shmdev_pool_block_stats(pool, 1, &bs), 0);
		ck_assert_uint_gt(bs.used_bytes, 4096);
		if (crash)
			shmdev_pool_abandon(pool);
		else
			ck_assert_int_eq(shmdev_pool_close(pool), 0);

		tu_destroy(tu_key(2));
		expect_refused(conf, 0, 1, "missing");
		/* The refused open created block 1 and destroyed it again. */
		ck_assert(!region_exists(tu_key(2)));
		expect_refused(conf, 0, 1, "missing");
		ck_assert(!region_exists(tu_key(2)));
		expect_refused(conf, SHMDEV_POOL_RDONLY, 1, "missing");
		ck_assert(!region_exists(tu_key(2)));
		/* Block 0 and the base are untouched. */
		ck_assert(region_exists(tu_key(0)));
		ck_assert(region_exists(tu_key(1)));
		ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	}
	shmdev_conf_free(conf);
}
END_TEST

/* A block of another pool, of another index, of an earlier cold start: refused. */
START_TEST(test_foreign_block)
{
	struct shmdev_conf *conf = mkconf(), *town = mkconf_town();
	static shmdev_handle_t hs[NR_ITEMS], ths[NR_ITEMS];
	struct shmdev_pool *pool;
	void *good, *other, *old;

	/* An earlier cold start of the same keys, with its own objects. */
	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	populate(pool, hs);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	old = save_region(tu_key(2));
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);

	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	populate(pool, hs);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	good = save_region(tu_key(2));

	/* Block 1 of an earlier cold start. */
	load_region(tu_key(2), old);
	expect_refused(conf, 0, 1, "foreign");
	expect_refused(conf, SHMDEV_POOL_RDONLY, 1, "foreign");

	/* Block 0 of this pool in the place of block 1. */
	other = save_region(tu_key(1));
	load_region(tu_key(2), other);
	free(other);
	expect_refused(conf, 0, 1, "foreign");

	/* Block 1 of another pool of the same shape. */
	pool = open_ok(town, 0, SHMDEV_START_CREATED);
	populate(pool, ths);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	other = save_region(tu_key(12));
	load_region(tu_key(2), other);
	free(other);
	expect_refused(conf, 0, 1, "foreign");

	/* After a crash too: the repair never sees the foreign block. */
	load_region(tu_key(2), good);
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	shmdev_pool_abandon(pool);
	load_region(tu_key(2), old);
	expect_refused(conf, 0, 1, "foreign");

	/* Every refusal left the pool as it was. */
	load_region(tu_key(2), good);
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CRASH);
	check_populated(pool, hs);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	free(good);
	free(old);
	shmdev_conf_free(town);
	shmdev_conf_free(conf);
}
END_TEST

/* shmdev_pool_check() verifies the blocks' identity too. */
START_TEST(test_check_sees_foreign_block)
{
	struct shmdev_conf *conf = mkconf();
	static shmdev_handle_t hs[NR_ITEMS];
	struct shmdev_pool *pool, *ro;
	void *good, *other;

	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	populate(pool, hs);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	good = save_region(tu_key(2));
	other = save_region(tu_key(1));

	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	ro = open_ok(conf, SHMDEV_POOL_RDONLY, SHMDEV_START_RESUMED);
	load_region(tu_key(2), other);
	ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "of pool \"zone\" is foreign"));
	ck_assert_int_eq(shmdev_pool_check(ro), -EUCLEAN);
	load_region(tu_key(2), good);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_check(ro), 0);
	ck_assert_int_eq(shmdev_pool_close(ro), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	free(good);
	free(other);
	shmdev_conf_free(conf);
}
END_TEST

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/* Only the base removed: the cold start owns clean blocks. */
START_TEST(test_cold_start_over_surviving_blocks)
{
	struct shmdev_conf *conf = mkconf();
	static shmdev_handle_t hs[NR_ITEMS];
	struct shmdev_pool *pool;
	unsigned int i, hits = 0, dirty = 0;
	shmdev_handle_t h;
	void *obj;

	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	populate(pool, hs);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	tu_destroy(tu_key(0));
	ck_assert(region_exists(tu_key(1)));

	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	/* No old handle resolves, no old key is found. */
	for (i = 0; i < NR_ITEMS; i++)
		hits += shmdev_get(pool, hs[i]) != NULL;
	for (i = 0; i < NR_PLAYERS; i++)
		ck_assert_ptr_null(shmdev_find(pool, T_PLAYER, 500 + i, NULL));
	/* Never-used slots show no old bytes, whether raw or not. */
	for (i = 0; i < NR_ITEMS; i++) {
		ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, &obj, &h), 0);
		dirty += !all_zero(obj, sizeof(struct item));
	}
	ck_assert_msg(hits == 0 && dirty == 0,
		      "after a cold start %u old handles resolve and %u never-used slots show old bytes",
		      hits, dirty);
	for (i = 0; i < NR_PLAYERS; i++) {
		ck_assert_int_eq(shmdev_alloc_raw(pool, T_PLAYER, &obj, &h), 0);
		ck_assert(all_zero(obj, 40));
	}
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * A cold start whose block key is another live pool's block takes nothing:
 * refused with the owner's BaseKey, that pool intact.  Once that pool's base
 * is gone, the block is an orphan and the cold start takes it, clean.
 */
START_TEST(test_cold_start_takes_no_live_block)
{
	struct shmdev_conf *conf, *town = mkconf_town();
	static shmdev_handle_t ths[NR_ITEMS];
	struct shmdev_pool *pool = NULL;
	char want[160];
	int err;

	pool = open_ok(town, 0, SHMDEV_START_CREATED);
	populate(pool, ths);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* "zone" names town's block 1 as its own block 1. */
	conf = mkconf_keys("zone", tu_key(0), tu_key(1), tu_key(12));
	pool = NULL;
	err = shmdev_pool_open(ctx, conf, types, NR_TYPES, 0, &pool);
	ck_assert_msg(err == -EEXIST, "open gave %d (%s)", err, shmdev_errmsg(ctx));
	snprintf(want, sizeof(want), "block 1 (key 0x%" PRIx64 ") of pool \"zone\" is block 1 of the pool with BaseKey 0x%" PRIx64,
		 tu_key(12), tu_key(10));
	ck_assert_msg(strstr(shmdev_errmsg(ctx), want), "\"%s\" lacks \"%s\"", shmdev_errmsg(ctx), want);
	ck_assert(!region_exists(tu_key(0)));
	ck_assert(!region_exists(tu_key(1)));
	pool = open_ok(town, 0, SHMDEV_START_RESUMED_CLEAN);
	check_populated(pool, ths);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* town's base gone: its blocks are orphans. */
	tu_destroy(tu_key(10));
	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	ck_assert_ptr_null(shmdev_get(pool, ths[NR_ITEMS - 1]));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	shmdev_conf_free(conf);
	shmdev_conf_free(town);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blocks");
	TCase *tc;

	tu_init("blocks");
	tu_fixture(&ctx, destroy_pools);
	tc = tcase_create("identity");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_missing_block);
	tcase_add_test(tc, test_foreign_block);
	tcase_add_test(tc, test_check_sees_foreign_block);
	tcase_add_test(tc, test_cold_start_over_surviving_blocks);
	tcase_add_test(tc, test_cold_start_takes_no_live_block);
	suite_add_tcase(s, tc);

	return tu_run(s);
}
