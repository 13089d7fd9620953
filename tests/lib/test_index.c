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
 *    one, else refused with ENOSPC naming the index, nothing changed;
 *  - the inline find (shmdev_find_fast(), shmdev.h) gives what shmdev_find()
 *    gives, object and handle, in every key distribution and state, after a
 *    raise, a repair and a migration, on read-only and threaded pools.
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

/* G^-1 mod 2^64 (Newton): the key whose hash is h is h * ginv(). */
static uint64_t ginv(void)
{
	uint64_t inv = G;
	int i;

	for (i = 0; i < 6; i++)
		inv *= 2 - G * inv;
	ck_assert_uint_eq(inv * G, 1);
	return inv;
}

/* The inline find and shmdev_find() agree on @key: object and handle. */
static void agree(struct shmdev_pool *pool, const struct shmdev_find_fast *ff, uint16_t type,
		  uint64_t key, const char *where)
{
	shmdev_handle_t hi = 1, hc = 1;
	void *oi = shmdev_find_fast(ff, key, &hi), *oc = shmdev_find(pool, type, key, &hc);

	ck_assert_msg(oi == oc && hi == hc,
		      "%s: key 0x%016" PRIx64 ": inline find %p (handle 0x%" PRIx64 "), shmdev_find %p (0x%" PRIx64 ")",
		      where, key, oi, hi, oc, hc);
	ck_assert_ptr_eq(shmdev_find_fast(ff, key, NULL), oc);
}

/*
 * Every key of @keys[0..n), a neighbour of each (key + 1), and the keys
 * whose hashes follow each key's (same home and fingerprint: the probe
 * confirms against the slot's key), through both finds.  Returns how many
 * of @keys are found.
 */
static unsigned int agree_all(struct shmdev_pool *pool, const struct shmdev_find_fast *ff,
			      uint16_t type, const uint64_t *keys, unsigned int n, const char *where)
{
	uint64_t inv = ginv();
	unsigned int i, found = 0;

	for (i = 0; i < n; i++) {
		agree(pool, ff, type, keys[i], where);
		agree(pool, ff, type, keys[i] + 1, where);
		agree(pool, ff, type, keys[i] + inv, where);
		agree(pool, ff, type, keys[i] - inv, where);
		found += shmdev_find(pool, type, keys[i], NULL) != NULL;
	}
	return found;
}

enum { D_SEQ, D_RANDOM, D_SPREAD, D_CLUSTER_WRAP, D_HOME_WRAP, D_EXTREME, D_NR };
static const char *const dist_name[D_NR] = {
	"sequential", "random", "one per home", "one home and fingerprint at the end (wrap-around)",
	"one home at the end, every fingerprint", "0, ~0 and the top bits",
};

/* Key @i of distribution @d for an index of mask + 1 entries (shift = 64 - log2). */
static uint64_t dist_key(int d, unsigned int i, uint32_t mask, uint32_t shift, uint64_t *rng)
{
	uint64_t inv = ginv(), last = (uint64_t)(mask - 1) << shift;

	switch (d) {
	case D_SEQ:
		return 7000 + i;
	case D_RANDOM:
		*rng ^= *rng << 13;
		*rng ^= *rng >> 7;
		*rng ^= *rng << 17;
		return *rng;
	case D_SPREAD:	/* home 3i: runs of one */
		return ((uint64_t)(3 * i) << shift | 5) * inv;
	case D_CLUSTER_WRAP:	/* the second-to-last home, one fingerprint: one run over the end */
		return (last | i) * inv;
	case D_HOME_WRAP:	/* the same home, the fingerprint and low bits varying */
		return (last | (uint64_t)(i & 15) << (shift - 4) | i >> 4) * inv;
	default:
		return i & 1 ? ~(uint64_t)i : (uint64_t)i << 56;
	}
}

/*
 * In every distribution, over one index (the zone's Player, 128 entries):
 * present, absent, freed, and stale keys (their slots reused by other
 * keys), an absent key walking a whole probe run (40 entries, over the
 * index's end) to its empty entry.
 */
START_TEST(test_find_fast_dists)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	struct shmdev_find_fast ff;
	uint64_t keys[80], rng = 0x2545f4914f6cdd1dULL;
	shmdev_handle_t h[40];
	unsigned int i, n = 40, found;
	char where[160];
	void *obj;
	bool created;
	int d;

	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, &ff), 0);
	ck_assert_ptr_nonnull(ff.index);
	ck_assert_uint_eq(ff.mask, 127);
	ck_assert_uint_eq(ff.fp_shift, 53);
	for (d = 0; d < D_NR; d++) {
		for (i = 0; i < n; i++) {
			keys[i] = dist_key(d, i, ff.mask, ff.fp_shift + 4, &rng);
			keys[n + i] = dist_key(d, n + i, ff.mask, ff.fp_shift + 4, &rng);	/* absent */
		}
		snprintf(where, sizeof(where), "%s, empty", dist_name[d]);
		ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 2 * n, where), 0);
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, keys[i], &obj, &h[i], &created), 0);
			ck_assert_msg(created, "%s: key %u", dist_name[d], i);
		}
		snprintf(where, sizeof(where), "%s, %u present", dist_name[d], n);
		ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 2 * n, where), n);
		ck_assert_int_eq(shmdev_pool_check(pool), 0);
		/* Freed: every third (backward shifts inside the run). */
		for (i = 0; i < n; i += 3)
			ck_assert_int_eq(shmdev_free(pool, h[i]), 0);
		snprintf(where, sizeof(where), "%s, every third freed", dist_name[d]);
		ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 2 * n, where), n - (n + 2) / 3);
		/* Stale: the freed slots reused by the absent keys. */
		for (i = 0; i < n; i += 3)
			ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, keys[n + i], &obj, &h[i], &created), 0);
		snprintf(where, sizeof(where), "%s, freed slots reused", dist_name[d]);
		found = agree_all(pool, &ff, TU_PLAYER, keys, 2 * n, where);
		ck_assert_uint_eq(found, n);
		ck_assert_int_eq(shmdev_pool_check(pool), 0);
		for (i = 0; i < n; i++)
			ck_assert_int_eq(shmdev_free(pool, h[i]), 0);
		snprintf(where, sizeof(where), "%s, all freed", dist_name[d]);
		ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 2 * n, where), 0);
	}
	/* The whole run: 40 keys of one home and fingerprint, over the end. */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, dist_key(D_CLUSTER_WRAP, i, ff.mask, ff.fp_shift + 4, &rng),
						  &obj, &h[i], &created), 0);
	for (i = 0; i < ff.mask + 1; i++)
		ck_assert_msg(!ff.index[i] == (i >= n - 2 && i < ff.mask - 1), "entry %u", i);
	agree(pool, &ff, TU_PLAYER, dist_key(D_CLUSTER_WRAP, n, ff.mask, ff.fp_shift + 4, &rng), "the end of the run");
	ck_assert_ptr_null(shmdev_find_fast(&ff, dist_key(D_CLUSTER_WRAP, n, ff.mask, ff.fp_shift + 4, &rng), NULL));
	ck_assert_ptr_nonnull(shmdev_find_fast(&ff, dist_key(D_CLUSTER_WRAP, n - 1, ff.mask, ff.fp_shift + 4, &rng), NULL));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * The repair (a crash, then an open), a damaged index (no empty entry, and
 * entries naming slots past the capacity), a raise that puts slots past
 * the first chunk (the inline find hands those to the call), a read-only
 * attach, a threaded pool (every find is the call), and the refusals.
 */
START_TEST(test_find_fast_states)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0), *ro;
	struct shmdev_type raised[TU_ZONE_NR_TYPES];
	struct shmdev_find_fast ff, keep, zero;
	uint64_t keys[300], rng = 99;
	uint32_t *ix, *copy, nr, i, past = 0;
	shmdev_handle_t h;
	void *obj;

	for (i = 0; i < 45; i++) {
		keys[i] = dist_key(D_RANDOM, i, 0, 0, &rng);
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, keys[i], &obj, &h, NULL), 0);
	}
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, &ff), 0);
	ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 45, "before the crash"), 45);

	/* No empty entry: both end, with the same answer. */
	nr = ff.mask + 1;
	ix = (uint32_t *)ff.index;
	copy = malloc(nr * sizeof(*copy));
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, ix, nr * sizeof(*copy));
	for (i = 0; i < nr; i++)
		ix[i] = (i << 28) | 0xfffffff;	/* slots past the capacity */
	agree_all(pool, &ff, TU_PLAYER, keys, 45, "no empty entry");
	memcpy(ix, copy, nr * sizeof(*copy));
	free(copy);

	/* The repair rebuilds the index: a new struct, the same answers. */
	shmdev_pool_abandon(pool);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, SHMDEV_START_RESUMED_CRASH);
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, &ff), 0);
	ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 45, "after the repair"), 45);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* A raise: a bigger index, and slots past the first chunk. */
	memcpy(raised, tu_zone_types, sizeof(raised));
	raised[TU_PLAYER].max_count = 300;
	pool = tu_pool_start(ctx, conf, raised, TU_ZONE_NR_TYPES, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, &ff), 0);
	ck_assert_uint_gt(ff.mask, 127);
	ck_assert_uint_le(ff.bound, 50);
	for (i = 45; i < 300; i++) {
		keys[i] = dist_key(D_RANDOM, i, 0, 0, &rng);
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, keys[i], &obj, &h, NULL), 0);
		past += shmdev_handle_slot(h) >= ff.bound;
	}
	ck_assert_uint_gt(past, 200);
	ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 300, "after a raise"), 300);
	for (i = 0; i < 300; i += 7) {
		ck_assert_ptr_nonnull(shmdev_find_fast(&ff, keys[i], &h));
		ck_assert_int_eq(shmdev_free(pool, h), 0);
	}
	ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 300, "after a raise, some freed"), 300 - 43);

	/* A read-only attach: its own struct, the owner's objects. */
	ro = tu_zone_open(ctx, conf, SHMDEV_POOL_RDONLY);
	ck_assert_int_eq(shmdev_find_fast_init(ro, TU_PLAYER, &ff), 0);
	ck_assert_ptr_nonnull(ff.index);
	ck_assert_uint_eq(agree_all(ro, &ff, TU_PLAYER, keys, 300, "read-only"), 300 - 43);
	shmdev_pool_abandon(ro);

	/* Refusals leave the struct as it was. */
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, &ff), 0);
	keep = ff;
	ck_assert_int_eq(shmdev_find_fast_init_abi(pool, TU_PLAYER, SHMDEV_FIND_FAST_ABI + 1, sizeof(ff), &ff), -EPROTO);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "inline find ABI 2 ") &&
		      strstr(shmdev_errmsg(ctx), "this library's ABI 1"), "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_find_fast_init_abi(pool, TU_PLAYER, SHMDEV_FIND_FAST_ABI, sizeof(ff) - 8, &ff), -EPROTO);
	ck_assert_int_eq(shmdev_find_fast_init(pool, 7, &ff), -ENOENT);
	ck_assert_str_eq(shmdev_errmsg(ctx), "find_fast_init: type 7 is not in the layout");
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_ITEM, &ff), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "find_fast_init: type 0 \"Item\" is not KEYED");
	ck_assert_int_eq(shmdev_find_fast_init(NULL, TU_PLAYER, &ff), -EINVAL);
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, NULL), -EINVAL);
	ck_assert_mem_eq(&ff, &keep, sizeof(ff));
	/* A zeroed struct and a NULL one find nothing. */
	memset(&zero, 0, sizeof(zero));
	ck_assert_ptr_null(shmdev_find_fast(&zero, keys[1], &h));
	ck_assert_ptr_null(shmdev_find_fast(NULL, keys[1], &h));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* SHMDEV_POOL_THREADS: no inline probe, every find is the call. */
	pool = tu_pool_start(ctx, conf, raised, TU_ZONE_NR_TYPES, SHMDEV_POOL_THREADS,
			     SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_find_fast_init(pool, TU_PLAYER, &ff), 0);
	ck_assert_ptr_null(ff.index);
	ck_assert_uint_eq(agree_all(pool, &ff, TU_PLAYER, keys, 300, "threaded pool"), 300 - 43);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* A KEYED type migrated (a field added, fields moved): a new index, the same answers. */
struct fk1 {
	uint64_t id;
	uint64_t gold;
};
struct fk2 {
	uint64_t gold;
	uint32_t added;
	uint64_t id;
};
static const struct shmdev_field fk1_fields[] = { SHMDEV_FIELD(struct fk1, id), SHMDEV_FIELD(struct fk1, gold) };
static const struct shmdev_field fk2_fields[] = {
	SHMDEV_FIELD(struct fk2, gold), SHMDEV_FIELD(struct fk2, added), SHMDEV_FIELD(struct fk2, id),
};

START_TEST(test_find_fast_migrated)
{
	struct shmdev_conf *conf = tu_conf(ctx, "zone", 0, "64K", 3, NULL);
	struct shmdev_type t = { .id = 1, .name = "Keyed", .size = sizeof(struct fk1), .version = 1,
				 .max_count = 60, .flags = SHMDEV_TYPE_KEYED, .nr_fields = 2,
				 .fields = fk1_fields };
	struct shmdev_find_fast ff;
	struct shmdev_pool_stats st;
	struct shmdev_pool *pool;
	uint64_t keys[60], rng = 5;
	shmdev_handle_t h;
	struct fk2 *o;
	void *obj;
	uint32_t i;

	pool = tu_pool_start(ctx, conf, &t, 1, 0, SHMDEV_START_CREATED);
	for (i = 0; i < 60; i++) {
		keys[i] = dist_key(D_RANDOM, i, 0, 0, &rng);
		ck_assert_int_eq(shmdev_force_get(pool, 1, keys[i], &obj, &h, NULL), 0);
		((struct fk1 *)obj)->id = keys[i];
		if (i % 4 == 0)
			ck_assert_int_eq(shmdev_free(pool, h), 0);
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	t.size = sizeof(struct fk2);
	t.version = 2;
	t.max_count = 80;
	t.nr_fields = 3;
	t.fields = fk2_fields;
	pool = tu_pool_start(ctx, conf, &t, 1, 0, SHMDEV_START_RESUMED_CLEAN);
	shmdev_pool_stats(pool, &st);
	ck_assert_uint_eq(st.migrated_objects, 45);
	ck_assert_int_eq(shmdev_find_fast_init(pool, 1, &ff), 0);
	ck_assert_uint_eq(agree_all(pool, &ff, 1, keys, 60, "after the migration"), 45);
	for (i = 1; i < 60; i += 4) {
		o = shmdev_find_fast(&ff, keys[i], NULL);
		ck_assert_ptr_nonnull(o);
		ck_assert_uint_eq(o->id, keys[i]);
	}
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
	tcase_add_test(tc, test_find_fast_dists);
	tcase_add_test(tc, test_find_fast_states);
	tcase_add_test(tc, test_find_fast_migrated);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
