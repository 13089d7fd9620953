// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The key index of KEYED types (libshmdev/pool_index.h, issue 12):
 *  - a pool of layout version 2 (hash chains) is refused by owner and
 *    read-only opens alike, with a message naming both versions;
 *  - keys with the same home and fingerprint (and key 0) each find their
 *    own object: a find confirms against the slot's key;
 *  - shmdev_pool_check() reports each kind of index damage (an entry
 *    missing, naming a free slot, out of its probe run, a key held twice),
 *    and an index with no empty entry makes find, force_get and free fail
 *    cleanly instead of spinning; the repair (abandon, open) rebuilds it;
 *  - a raise whose bigger index has no room: at most 4/5 full in a smaller
 *    one, else refused with ENOSPC naming the index, nothing changed.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "region.h"
#include "testutil.h"

#define G 0x9e3779b97f4a7c15ULL

static struct shmdev_ctx *ctx;

static void destroy_pool(void)
{
	tu_zone_destroy(ctx);
}

/* A raw (non-owner) mapping of the pool's region @i (0: base, then blocks). */
static void *raw_map(unsigned int i, struct shmdev_region **r)
{
	*r = NULL;
	ck_assert_msg(shmdev_region_open(ctx, tu_backend(), tu_key(i), 0, 0, 0, r) == 0, "%s",
		      shmdev_errmsg(ctx));
	return shmdev_region_addr(*r);
}

/* The key index of type @id of the pool mapped at @base: its entries, their number. */
static uint32_t *index_of(void *base, uint16_t id, struct shmdev_region **blk, uint32_t *nr)
{
	const struct layout_type *lt = &layout_types(layout_active(base))[id];

	*nr = lt->nr_buckets;
	return (uint32_t *)((char *)raw_map(1 + lt->hash_block, blk) + lt->hash_offset);
}

START_TEST(test_old_version_refused)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	struct shmdev_region *r;
	struct layout_header *h;
	char want[256];
	unsigned int ro;

	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	h = raw_map(0, &r);
	ck_assert_uint_eq(h->version, 3);
	h->version = 2;
	snprintf(want, sizeof(want), "layout version was 2, now 3; the layout cannot be reused (destroy the pool for a cold start)");
	for (ro = 0; ro < 2; ro++) {
		pool = NULL;
		ck_assert_int_eq(shmdev_pool_open(ctx, conf, ro ? NULL : tu_zone_types,
						  ro ? 0 : TU_ZONE_NR_TYPES,
						  ro ? SHMDEV_POOL_RDONLY : 0, &pool), -EPROTO);
		ck_assert_ptr_null(pool);
		ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), want));
	}
	h->version = 3;
	shmdev_region_close(r);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0,
			     SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_hash_bits_shared)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	uint64_t inv = G, k[3] = { 0, 77, 0 };
	shmdev_handle_t h[3], hf;
	void *obj[3], *o;
	bool created;
	int i;

	/* G^-1 mod 2^64 (Newton): hash(k + inv) = hash(k) + 1: same home, same fingerprint. */
	for (i = 0; i < 6; i++)
		inv *= 2 - G * inv;
	ck_assert_uint_eq(inv * G, 1);
	k[2] = k[1] + inv;
	ck_assert_uint_eq((k[1] * G) >> 28, (k[2] * G) >> 28);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, k[i], &obj[i], &h[i], &created), 0);
		ck_assert(created);
		((struct tu_player *)obj[i])->id = k[i];
	}
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, k[i], &hf), obj[i]);
		ck_assert_uint_eq(hf, h[i]);
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, k[i], &o, &hf, &created), 0);
		ck_assert(!created);
		ck_assert_ptr_eq(o, obj[i]);
	}
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_free(pool, h[1]), 0);
	ck_assert_ptr_null(shmdev_find(pool, TU_PLAYER, k[1], NULL));
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, k[2], NULL), obj[2]);
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, k[0], NULL), obj[0]);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* The pool checks -EUCLEAN with @what in its message; then the damage is undone. */
static void damaged(struct shmdev_pool *pool, const char *what)
{
	ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), what), "\"%s\" does not say \"%s\"",
		      shmdev_errmsg(ctx), what);
}

START_TEST(test_check_and_repair)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	struct shmdev_region *rb, *ri;
	shmdev_handle_t h[20], hf;
	uint32_t *ix, save, *copy;
	uint32_t nr, i, a = UINT32_MAX;
	void *obj[20], *o;
	bool created;

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 500 + i, &obj[i], &h[i], &created), 0);
		((struct tu_player *)obj[i])->id = 500 + i;
	}
	ck_assert_int_eq(shmdev_free(pool, h[19]), 0);	/* a free slot */
	ix = index_of(raw_map(0, &rb), TU_PLAYER, &ri, &nr);
	ck_assert_uint_eq(nr, 128);	/* max_count 50: at most half full */
	copy = malloc(nr * sizeof(*copy));
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, ix, nr * sizeof(*copy));
	for (i = 0; i < nr && a == UINT32_MAX; i++)
		if (ix[i] && !ix[(i + 1) % nr])
			a = i;	/* an entry followed by an empty one */
	ck_assert_uint_ne(a, UINT32_MAX);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);

	save = ix[a];
	ix[a] = 0;
	damaged(pool, "key index holds 18 objects, 19 keyed objects are live");
	ix[a] = (save & ~((1U << 28) - 1)) | (shmdev_handle_slot(h[19]) + 1);
	damaged(pool, "is reached twice (free list or key index)");	/* a free slot */
	/* One entry later, behind the empty one its probe run now ends at. */
	ix[a] = 0;
	ix[(a + 1) % nr] = save;
	damaged(pool, "past the empty entry");
	memcpy(ix, copy, nr * sizeof(*copy));
	ck_assert_int_eq(shmdev_pool_check(pool), 0);

	/* No empty entry at all: every call ends, with a clear answer. */
	for (i = 0; i < nr; i++)
		ix[i] = (i << 28) | 0xfffffff;	/* slots past the capacity */
	ck_assert_ptr_null(shmdev_find(pool, TU_PLAYER, 503, NULL));
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 9999, &o, &hf, &created), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "the key index has no empty entry"));
	ck_assert_int_eq(shmdev_free(pool, h[3]), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "is missing from the hash index"));
	damaged(pool, "beyond the watermark");
	/* The repair rebuilds the index from the slots. */
	shmdev_pool_abandon(pool);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0,
			     SHMDEV_START_RESUMED_CRASH);
	for (i = 0; i < 19; i++) {
		o = shmdev_find(pool, TU_PLAYER, 500 + i, &hf);
		ck_assert_ptr_nonnull(o);
		ck_assert_uint_eq(((struct tu_player *)o)->id, 500 + i);
		ck_assert_uint_eq(hf, h[i]);
	}
	ck_assert_ptr_null(shmdev_find(pool, TU_PLAYER, 519, NULL));
	/* A slot's key changed to another's: the rebuilt index holds the key twice. */
	((uint64_t *)obj[3])[-2] = 504;
	shmdev_pool_abandon(pool);
	pool = NULL;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, &pool), 0);
	damaged(pool, "key 504 is held by slots");
	((uint64_t *)obj[3])[-2] = 503;
	shmdev_pool_abandon(pool);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0,
			     SHMDEV_START_RESUMED_CRASH);
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, 503, NULL), obj[3]);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_region_close(ri);
	shmdev_region_close(rb);
	free(copy);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * 4 KiB blocks: an index of 1024 entries (4096 bytes) fits no block.  A
 * raise to 400 takes one of 512 (4/5 full at most), one to 420 is refused.
 */
START_TEST(test_raise_index_room)
{
	struct shmdev_conf *conf = tu_conf(ctx, "zone", 0, "4K", 12, NULL);
	struct shmdev_type t = { .id = 1, .name = "Keyed", .size = 16, .max_count = 10,
				 .flags = SHMDEV_TYPE_KEYED };
	struct shmdev_type_stats ts;
	struct shmdev_pool *pool;
	struct shmdev_region *rb;
	void *obj;
	uint64_t i;
	bool created;

	pool = tu_pool_start(ctx, conf, &t, 1, 0, SHMDEV_START_CREATED);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(shmdev_force_get(pool, 1, i, &obj, NULL, &created), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	t.max_count = 420;
	pool = NULL;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, &t, 1, 0, &pool), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "type 1 \"Keyed\": no room for its key index of 1024 entries (4096 bytes, for max_count 420) in any block"));
	t.max_count = 10;
	pool = tu_pool_start(ctx, conf, &t, 1, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, 1, &ts), 0);
	ck_assert_uint_eq(ts.max_count, 10);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	t.max_count = 400;
	pool = tu_pool_start(ctx, conf, &t, 1, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(layout_types(layout_active(raw_map(0, &rb)))[1].nr_buckets, 512);
	shmdev_region_close(rb);
	for (i = 10; i < 400; i++)
		ck_assert_int_eq(shmdev_force_get(pool, 1, i, &obj, NULL, &created), 0);
	for (i = 0; i < 400; i++)
		ck_assert_ptr_nonnull(shmdev_find(pool, 1, i, NULL));
	ck_assert_ptr_null(shmdev_find(pool, 1, 400, NULL));
	ck_assert_int_eq(shmdev_force_get(pool, 1, 400, &obj, NULL, &created), -ENOSPC);
	/* Deletes at 4/5: every other key, then the rest still found. */
	for (i = 0; i < 400; i += 2) {
		shmdev_handle_t hh;

		ck_assert_ptr_nonnull(shmdev_find(pool, 1, i, &hh));
		ck_assert_int_eq(shmdev_free(pool, hh), 0);
	}
	for (i = 0; i < 400; i++)
		ck_assert(!shmdev_find(pool, 1, i, NULL) == !(i & 1));
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	tu_pool_destroy(ctx, conf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index");
	TCase *tc = tcase_create("index");

	tu_init("index");
	tu_fixture(&ctx, destroy_pool);
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_add_test(tc, test_old_version_refused);
	tcase_add_test(tc, test_hash_bits_shared);
	tcase_add_test(tc, test_check_and_repair);
	tcase_add_test(tc, test_raise_index_room);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
