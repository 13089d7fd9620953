// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Handles (issue 10, items 12, 19, 21):
 *  - stale handles never resolve: not after 65,536 cycles of one slot, not
 *    at the generation's end (the slot is retired), through every path that
 *    takes or gives a handle (get, free, typed get/free, force_get, find,
 *    handle_of, foreach), after a crash repair and a resume;
 *  - typed lookups: a handle of another type resolves to nothing;
 *  - a read-only "pool check" of a live, churning owner never reports a
 *    false corruption, and a real one is still reported.
 *  - the inline get (issue 12): shmdev_get_fast() gives what
 *    shmdev_get_typed() gives, through all of the above; the fast path of
 *    a keyed free deletes from any place of a run of index entries (backward
 *    shift across the wrap), and refuses a damaged index; a get and the
 *    object's first word touch one cache line.
 * The NULL-argument tests of the API are in test_api.c.  Runs on the
 * backend SHMDEV_BACKEND selects.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

static struct shmdev_ctx *ctx;

static void destroy_pool(void)
{
	tu_zone_destroy(ctx);
}

/* ---- item 12: stale handles --------------------------------------------- */

/*
 * The audit's case: one slot freed and allocated again 65,536 times (what
 * a LIFO free list does to a hot slot in milliseconds).  The first handle
 * must stay stale.
 */
START_TEST(test_stale_after_many_cycles)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	shmdev_handle_t h0, h;
	struct tu_item *first, *it;
	struct shmdev_fast f;
	uint32_t i;

	ck_assert_int_eq(shmdev_fast_init(pool, TU_ITEM, &f), 0);
	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&first, &h0), 0);
	ck_assert_int_eq(shmdev_free(pool, h0), 0);
	for (i = 0; i < 65536; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &h), 0);
		ck_assert_ptr_eq(it, first);	/* LIFO: always the same slot */
		ck_assert_msg(shmdev_get(pool, h0) == NULL, "cycle %u: the first handle resolves", i);
		ck_assert_msg(shmdev_get_fast(&f, h0) == NULL, "cycle %u: the first handle resolves inline", i);
		ck_assert_ptr_eq(shmdev_get_fast(&f, h), it);
		if (i < 65535)
			ck_assert_int_eq(shmdev_free(pool, h), 0);
	}
	it->stamp = 77;
	ck_assert_int_eq(shmdev_free(pool, h0), -ESTALE);
	ck_assert_ptr_eq(shmdev_get(pool, h), it);
	ck_assert_uint_eq(it->stamp, 77);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* The slot header in front of an object of @type (layout.h). */
static struct layout_slot *slot_of(uint16_t type, void *obj)
{
	uint32_t slot_size, obj_offset;

	layout_slot_geom(tu_zone_types[type].size, tu_zone_types[type].align ? tu_zone_types[type].align : 8,
			 &slot_size, &obj_offset);
	return (struct layout_slot *)((char *)obj - obj_offset);
}

/* Give the FREE slot of @obj generation @gen (what 2^24 cycles would do). */
static void set_free_gen(uint16_t type, void *obj, uint32_t gen)
{
	struct layout_slot *s = slot_of(type, obj);

	ck_assert_uint_eq(layout_tag_state(s->tag), LAYOUT_SLOT_FREE);
	s->tag = layout_tag(LAYOUT_SLOT_FREE, gen);
}

struct seen {
	shmdev_handle_t h[128];
	unsigned int n;
};

static int seen_fn(void *obj, shmdev_handle_t h, void *data)
{
	struct seen *s = data;

	(void)obj;
	if (s->n < 128)
		s->h[s->n++] = h;
	return 0;
}

static bool visited(struct shmdev_pool *pool, uint16_t type, shmdev_handle_t h,
		    const void *obj)
{
	struct seen s = { .n = 0 };
	unsigned int i;

	ck_assert_int_eq(shmdev_foreach(pool, type, seen_fn, &s), 0);
	for (i = 0; i < s.n; i++)
		if (s.h[i] == h || shmdev_get(pool, s.h[i]) == obj)
			return true;
	return false;
}

/* shmdev_get_fast() through a struct filled for @type. */
static void *fast_get(struct shmdev_pool *pool, uint16_t type, shmdev_handle_t h)
{
	struct shmdev_fast f;

	ck_assert_msg(shmdev_fast_init(pool, type, &f) == 0, "%s", shmdev_errmsg(ctx));
	return shmdev_get_fast(&f, h);
}

/* None of @hs resolves or frees through any path; @obj is not live. */
static void assert_dead(struct shmdev_pool *pool, uint16_t type, const shmdev_handle_t *hs,
			unsigned int n, void *obj)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		ck_assert_msg(shmdev_get(pool, hs[i]) == NULL, "handle %u (0x%016" PRIx64 ") resolves", i, hs[i]);
		ck_assert_ptr_null(shmdev_get_typed(pool, type, hs[i]));
		ck_assert_msg(fast_get(pool, type, hs[i]) == NULL, "handle %u (0x%016" PRIx64 ") resolves inline",
			      i, hs[i]);
		ck_assert_ptr_null(fast_get(pool, (uint16_t)(type ^ 1), hs[i]));
		ck_assert_int_eq(shmdev_free(pool, hs[i]), -ESTALE);
		ck_assert_int_eq(shmdev_free_typed(pool, type, hs[i]), -ESTALE);
		ck_assert(!visited(pool, type, hs[i], obj));
	}
	ck_assert_uint_eq(shmdev_handle_of(pool, obj), SHMDEV_HANDLE_NONE);
}

/* Handles of @slot with every generation near both ends of the range. */
static unsigned int forged(uint16_t type, uint32_t slot, shmdev_handle_t *hs)
{
	unsigned int n = 0;
	uint32_t g;

	for (g = 0; g < 4; g++)
		hs[n++] = layout_handle(type, slot, g);
	for (g = SHMDEV_LAYOUT_GEN_MAX - 3; g != SHMDEV_LAYOUT_GEN_MAX + 1; g++)
		hs[n++] = layout_handle(type, slot, g);
	return n;
}

/*
 * Drive one slot to its last generation (by setting its FREE tag where
 * 2^24 cycles would leave it, then real cycles), free it once more: it is
 * retired.  No handle of it resolves or frees again, through any path, and
 * it is never handed out again: after a clean resume, after a crash and
 * its repair, and in a read-only check.
 */
START_TEST(test_retire_at_wrap)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	shmdev_handle_t h, hs[16], mine[100];
	struct shmdev_type_stats ts;
	struct tu_item *first, *it;
	unsigned int n, i;
	uint32_t slot;
	int round;

	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&first, &hs[0]), 0);
	slot = shmdev_handle_slot(hs[0]);
	ck_assert_int_eq(shmdev_free(pool, hs[0]), 0);
	set_free_gen(TU_ITEM, first, SHMDEV_LAYOUT_GEN_MAX - 2);
	for (n = 1; n <= 3; n++) {
		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &hs[n]), 0);
		ck_assert_ptr_eq(it, first);
		ck_assert_uint_eq(hs[n] & SHMDEV_LAYOUT_GEN_MAX, SHMDEV_LAYOUT_GEN_MAX - 3 + n);
		ck_assert_ptr_eq(shmdev_get(pool, hs[n]), it);
		ck_assert_ptr_eq(fast_get(pool, TU_ITEM, hs[n]), it);
		ck_assert_uint_eq(shmdev_handle_of(pool, it), hs[n]);
		ck_assert_int_eq(shmdev_free(pool, hs[n]), 0);
	}
	/* The slot is retired: the next object is somewhere else. */
	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &h), 0);
	ck_assert_ptr_ne(it, first);
	ck_assert_uint_ne(shmdev_handle_slot(h), slot);
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_uint_eq(layout_tag_state(slot_of(TU_ITEM, first)->tag), LAYOUT_SLOT_RETIRED);
	n = 4;
	n += forged(TU_ITEM, slot, hs + n);
	assert_dead(pool, TU_ITEM, hs, n, first);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, TU_ITEM, &ts), 0);
	ck_assert_uint_eq(ts.retired_count, 1);
	ck_assert_uint_eq(ts.live_count, 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));

	for (round = 0; round < 2; round++) {
		struct shmdev_pool *ro;

		/* Round 0: a clean resume; round 1: a crash and its repair. */
		if (round == 0) {
			ck_assert_int_eq(shmdev_pool_close(pool), 0);
			pool = tu_zone_open(ctx, conf, 0);
			ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CLEAN);
		} else {
			shmdev_pool_abandon(pool);
			pool = tu_zone_open(ctx, conf, 0);
			ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CRASH);
		}
		ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
		ro = tu_zone_open(ctx, conf, SHMDEV_POOL_RDONLY);
		ck_assert_msg(shmdev_pool_check(ro) == 0, "%s", shmdev_errmsg(ctx));
		shmdev_pool_abandon(ro);
		ck_assert_int_eq(shmdev_pool_type_stats(pool, TU_ITEM, &ts), 0);
		ck_assert_uint_eq(ts.retired_count, 1);
		assert_dead(pool, TU_ITEM, hs, n, first);
		/* Capacity is one less: the retired slot never comes back. */
		for (i = 0; i < 99; i++) {
			ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &mine[i]), 0);
			ck_assert_ptr_ne(it, first);
		}
		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &h), -ENOSPC);
		assert_dead(pool, TU_ITEM, hs, n, first);
		for (i = 0; i < 99; i++)
			ck_assert_int_eq(shmdev_free(pool, mine[i]), 0);
	}
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* The same through force_get/find on a KEYED type. */
START_TEST(test_retire_keyed)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	shmdev_handle_t h, hs[16];
	struct shmdev_type_stats ts;
	struct tu_player *first, *p;
	unsigned int n;
	uint32_t slot;
	bool created;

	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 5, (void **)&first, &hs[0], &created), 0);
	ck_assert(created);
	slot = shmdev_handle_slot(hs[0]);
	ck_assert_int_eq(shmdev_free(pool, hs[0]), 0);
	set_free_gen(TU_PLAYER, first, SHMDEV_LAYOUT_GEN_MAX);
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 5, (void **)&p, &hs[1], &created), 0);
	ck_assert(created);
	ck_assert_ptr_eq(p, first);
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, 5, &h), p);
	ck_assert_uint_eq(h, hs[1]);
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 5, (void **)&p, &h, &created), 0);
	ck_assert(!created);
	ck_assert_uint_eq(h, hs[1]);
	ck_assert_int_eq(shmdev_free_typed(pool, TU_PLAYER, hs[1]), 0);
	ck_assert_ptr_null(shmdev_find(pool, TU_PLAYER, 5, NULL));
	/* A new Player 5 lives elsewhere. */
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 5, (void **)&p, &h, &created), 0);
	ck_assert(created);
	ck_assert_ptr_ne(p, first);
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, 5, NULL), p);
	n = 2;
	n += forged(TU_PLAYER, slot, hs + n);
	assert_dead(pool, TU_PLAYER, hs, n, first);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, TU_PLAYER, &ts), 0);
	ck_assert_uint_eq(ts.retired_count, 1);
	ck_assert_uint_eq(ts.live_count, 1);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	shmdev_pool_abandon(pool);
	pool = tu_zone_open(ctx, conf, 0);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CRASH);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	assert_dead(pool, TU_PLAYER, hs, n, first);
	ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, 5, NULL), p);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, TU_PLAYER, &ts), 0);
	ck_assert_uint_eq(ts.retired_count, 1);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* ---- item 21: typed handles --------------------------------------------- */

START_TEST(test_typed)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	shmdev_handle_t hi, hp;
	struct tu_item *it;
	struct tu_player *pl;

	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &hi), 0);
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 9, (void **)&pl, &hp, NULL), 0);
	ck_assert_uint_eq(shmdev_handle_type(hi), TU_ITEM);
	ck_assert_uint_eq(shmdev_handle_type(hp), TU_PLAYER);
	/* Both are slot 0 of their type: only the type tells them apart. */
	ck_assert_uint_eq(shmdev_handle_slot(hi), 0);
	ck_assert_uint_eq(shmdev_handle_slot(hp), 0);
	ck_assert_ptr_eq(shmdev_get_typed(pool, TU_ITEM, hi), it);
	ck_assert_ptr_eq(shmdev_get_typed(pool, TU_PLAYER, hp), pl);
	ck_assert_ptr_null(shmdev_get_typed(pool, TU_ITEM, hp));
	ck_assert_ptr_null(shmdev_get_typed(pool, TU_PLAYER, hi));
	ck_assert_ptr_null(shmdev_get_typed(pool, 7, hi));
	ck_assert_int_eq(shmdev_free_typed(pool, TU_ITEM, hp), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "free: handle 0x0010000000000001 names type 1 \"Player\", not type 0 (nothing freed)");
	ck_assert_ptr_eq(shmdev_get(pool, hp), pl);
	ck_assert_int_eq(shmdev_free_typed(pool, TU_PLAYER, hi), -EINVAL);
	ck_assert_ptr_eq(shmdev_get(pool, hi), it);
	ck_assert_int_eq(shmdev_free_typed(pool, TU_ITEM, hi), 0);
	ck_assert_ptr_null(shmdev_get_typed(pool, TU_ITEM, hi));
	ck_assert_int_eq(shmdev_free_typed(pool, TU_ITEM, hi), -ESTALE);
	ck_assert_int_eq(shmdev_free_typed(pool, TU_PLAYER, hp), 0);
	ck_assert_ptr_null(shmdev_find(pool, TU_PLAYER, 9, NULL));
	ck_assert_uint_eq(shmdev_handle_type(SHMDEV_HANDLE_NONE), 0);
	ck_assert_uint_eq(shmdev_handle_type(layout_handle(4095, 7, 1)), 4095);
	ck_assert_uint_eq(shmdev_handle_slot(layout_handle(4095, (uint32_t)SHMDEV_LAYOUT_MAX_SLOTS - 1, SHMDEV_LAYOUT_GEN_MAX)),
			  SHMDEV_LAYOUT_MAX_SLOTS - 1);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* ---- issue 12: the inline get ------------------------------------------- */

/* Every handle of @hs resolves inline to what shmdev_get_typed() gives. */
static void assert_fast_agrees(struct shmdev_pool *pool, const shmdev_handle_t *hs, unsigned int n)
{
	struct shmdev_fast fi, fp;
	unsigned int i;

	ck_assert_int_eq(shmdev_fast_init(pool, TU_ITEM, &fi), 0);
	ck_assert_int_eq(shmdev_fast_init(pool, TU_PLAYER, &fp), 0);
	for (i = 0; i < n; i++) {
		ck_assert_msg(shmdev_get_fast(&fi, hs[i]) == shmdev_get_typed(pool, TU_ITEM, hs[i]),
			      "Item view, handle %u (0x%016" PRIx64 ")", i, hs[i]);
		ck_assert_msg(shmdev_get_fast(&fp, hs[i]) == shmdev_get_typed(pool, TU_PLAYER, hs[i]),
			      "Player view, handle %u (0x%016" PRIx64 ")", i, hs[i]);
	}
}

/*
 * shmdev_get_fast(): live objects of both types resolve, a handle of the
 * other type, a freed one, a forged generation, 0 and a slot past the
 * type's capacity do not; slots past the first chunk (after a max_count
 * raise) take the call and agree; a read-only attach resolves the owner's
 * objects; bad versions, sizes and types are refused and leave the struct.
 */
START_TEST(test_get_fast)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0), *ro;
	struct shmdev_type raised[TU_ZONE_NR_TYPES];
	shmdev_handle_t hs[400], hp, stale;
	struct shmdev_fast f, keep;
	struct tu_player *pl;
	unsigned int n = 0, i;
	void *obj;

	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 9, (void **)&pl, &hp, NULL), 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, &obj, &hs[n++]), 0);
	ck_assert_int_eq(shmdev_fast_init(pool, TU_ITEM, &f), 0);
	ck_assert_uint_eq(f.abi, SHMDEV_FAST_ABI);
	ck_assert_uint_eq(f.type, TU_ITEM);
	ck_assert_uint_le(f.bound, 100);
	for (i = 0; i < 100; i++)
		ck_assert_ptr_eq(shmdev_get_fast(&f, hs[i]), shmdev_get(pool, hs[i]));
	/* Item slot 0 and Player slot 0: only the type tells them apart. */
	ck_assert_uint_eq(shmdev_handle_slot(hp), shmdev_handle_slot(hs[0]));
	ck_assert_ptr_null(shmdev_get_fast(&f, hp));
	ck_assert_ptr_eq(fast_get(pool, TU_PLAYER, hp), pl);
	ck_assert_ptr_null(fast_get(pool, TU_PLAYER, hs[0]));
	ck_assert_ptr_null(shmdev_get_fast(&f, SHMDEV_HANDLE_NONE));
	ck_assert_ptr_null(shmdev_get_fast(&f, layout_handle(TU_ITEM, 100, 1)));
	ck_assert_ptr_null(shmdev_get_fast(&f, layout_handle(TU_ITEM, (uint32_t)SHMDEV_LAYOUT_MAX_SLOTS, 1)));
	ck_assert_ptr_null(shmdev_get_fast(&f, layout_handle(TU_ITEM, 5, 0)));
	ck_assert_ptr_null(shmdev_get_fast(&f, layout_handle(TU_ITEM, 5, 2)));
	ck_assert_ptr_null(shmdev_get_fast(&f, hs[5] | (uint64_t)1 << 63));
	/* Freed, and its slot reused: the old handle stays dead. */
	stale = hs[5];
	ck_assert_int_eq(shmdev_free(pool, stale), 0);
	ck_assert_ptr_null(shmdev_get_fast(&f, stale));
	ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, &obj, &hs[5]), 0);
	ck_assert_uint_eq(shmdev_handle_slot(hs[5]), shmdev_handle_slot(stale));
	ck_assert_ptr_eq(shmdev_get_fast(&f, hs[5]), obj);
	ck_assert_ptr_null(shmdev_get_fast(&f, stale));
	hs[n++] = stale;
	hs[n++] = hp;
	assert_fast_agrees(pool, hs, n);

	/* Refusals leave the struct as it was. */
	keep = f;
	ck_assert_int_eq(shmdev_fast_init_abi(pool, TU_ITEM, SHMDEV_FAST_ABI + 1, sizeof(f), &f), -EPROTO);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "inline get ABI 2 ") &&
		      strstr(shmdev_errmsg(ctx), "this library's ABI 1"), "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_fast_init_abi(pool, TU_ITEM, SHMDEV_FAST_ABI, sizeof(f) - 8, &f), -EPROTO);
	ck_assert_int_eq(shmdev_fast_init(pool, 7, &f), -ENOENT);
	ck_assert_str_eq(shmdev_errmsg(ctx), "fast_init: type 7 is not in the layout");
	ck_assert_mem_eq(&f, &keep, sizeof(f));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* A raise: slots past the first chunk resolve through the call. */
	memcpy(raised, tu_zone_types, sizeof(raised));
	raised[TU_ITEM].max_count = 300;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, raised, TU_ZONE_NR_TYPES, 0, &pool), 0);
	for (i = 0; i < 150; i++)
		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, &obj, &hs[n++]), 0);
	ck_assert_int_eq(shmdev_fast_init(pool, TU_ITEM, &f), 0);
	ck_assert_uint_le(f.bound, 100);
	ck_assert_ptr_eq(shmdev_get_fast(&f, hs[n - 1]), obj);
	stale = hs[n - 1];
	ck_assert_int_eq(shmdev_free(pool, stale), 0);
	ck_assert_ptr_null(shmdev_get_fast(&f, stale));
	ck_assert_ptr_null(shmdev_get_fast(&f, layout_handle(TU_ITEM, 299, 1)));
	ck_assert_ptr_null(shmdev_get_fast(&f, layout_handle(TU_ITEM, 300, 1)));
	assert_fast_agrees(pool, hs, n);
	/* A read-only attach resolves the owner's objects the same way. */
	ro = tu_zone_open(ctx, conf, SHMDEV_POOL_RDONLY);
	ck_assert_int_eq(shmdev_fast_init(ro, TU_ITEM, &f), 0);
	for (i = 0; i < n; i++)
		ck_assert_ptr_eq(shmdev_get_fast(&f, hs[i]), shmdev_get_typed(ro, TU_ITEM, hs[i]));
	ck_assert_ptr_eq(fast_get(ro, TU_PLAYER, hp), shmdev_get(ro, hp));
	ck_assert_ptr_nonnull(fast_get(ro, TU_PLAYER, hp));
	shmdev_pool_abandon(ro);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * The keyed free and its index (issue 12): 50 Players whose keys all have
 * their home in the last 8 of the 128 entries of the index (the top 4 bits
 * of their hash are 1s: libshmdev/pool_index.h), one run of entries that
 * wraps around the end.  Freeing them in a scattered order deletes from
 * the head, the middle and the tail of the run, and the backward shift
 * must move the entries after each gap across the wrap.  After each free
 * the freed key and handle are gone, every other key still finds its
 * object, and the pool checks; force_get of a freed key creates it again
 * in a run full of shifted entries.  A slot whose key was changed under
 * the index (corruption) is not where its key leads: the free is refused
 * with the checked path's report, and nothing is freed.
 */
START_TEST(test_keyed_free_index)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0);
	const uint64_t g = 0x9e3779b97f4a7c15ULL;
	shmdev_handle_t hs[50], h;
	bool live[50], created;
	void *objs[50], *obj;
	uint64_t k, keys[50];
	unsigned int n, i, j;

	for (i = 0, k = 1; i < 50; k++) {
		if ((k * g) >> 60 != 0xf)
			continue;
		keys[i] = k;
		ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, k, &objs[i], &hs[i], &created), 0);
		ck_assert(created);
		live[i++] = true;
	}
	for (n = 0; n < 50; n++) {
		i = (n * 17) % 50;
		ck_assert_int_eq(shmdev_free(pool, hs[i]), 0);
		live[i] = false;
		ck_assert_ptr_null(shmdev_find(pool, TU_PLAYER, keys[i], NULL));
		ck_assert_ptr_null(shmdev_get(pool, hs[i]));
		ck_assert_int_eq(shmdev_free(pool, hs[i]), -ESTALE);
		for (j = 0; j < 50; j++)
			if (live[j])
				ck_assert_msg(shmdev_find(pool, TU_PLAYER, keys[j], &h) == objs[j] && h == hs[j],
					      "after freeing key %" PRIu64 ", key %" PRIu64 " is not found", keys[i], keys[j]);
		ck_assert_msg(shmdev_pool_check(pool) == 0, "after freeing key %" PRIu64 ": %s", keys[i],
			      shmdev_errmsg(ctx));
		if (n % 3 == 0) {
			/* Back in, then gone again: an insert into a shifted run. */
			ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, keys[i], &obj, &h, &created), 0);
			ck_assert(created);
			ck_assert_ptr_eq(shmdev_find(pool, TU_PLAYER, keys[i], NULL), obj);
			ck_assert_int_eq(shmdev_pool_check(pool), 0);
			ck_assert_int_eq(shmdev_free(pool, h), 0);
		}
	}
	/* A key whose home differs from 7's in its top bit: elsewhere at any size. */
	ck_assert_int_eq(shmdev_force_get(pool, TU_PLAYER, 7, &obj, &h, &created), 0);
	for (k = 8; !(((k * g) ^ (7 * g)) >> 63); k++)
		;
	slot_of(TU_PLAYER, obj)->key = k;
	ck_assert_int_eq(shmdev_free(pool, h), -EUCLEAN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "is missing from the hash index (the pool is corrupt)"),
		      "%s", shmdev_errmsg(ctx));
	ck_assert_ptr_eq(shmdev_get(pool, h), obj);
	slot_of(TU_PLAYER, obj)->key = 7;
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* ---- item 19: pool check of a live pool --------------------------------- */

struct churn {
	struct shmdev_conf *conf;
	uint32_t ready;
	uint64_t ops;
};

/* The owner: allocate and free without pause until killed. */
static int churn_child(void *arg)
{
	struct churn *c = arg;
	struct shmdev_ctx *cx = tu_ctx();
	struct shmdev_pool *pool = NULL;
	shmdev_handle_t hs[40];
	unsigned int r = 12345, i;
	void *obj;

	if (shmdev_pool_open(cx, c->conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, &pool))
		return 10;
	memset(hs, 0, sizeof(hs));
	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	for (;;) {
		r = r * 1103515245 + 12345;
		i = (r >> 8) % 40;
		if (hs[i]) {
			if (shmdev_free(pool, hs[i]))
				return 11;
			hs[i] = 0;
		} else if (i < 20) {
			if (shmdev_alloc(pool, TU_ITEM, &obj, &hs[i]))
				return 12;
		} else {
			if (shmdev_force_get(pool, TU_PLAYER, r >> 4, &obj, &hs[i], NULL))
				return 13;
		}
		__atomic_store_n(&c->ops, c->ops + 1, __ATOMIC_RELAXED);
	}
}

START_TEST(test_check_live_owner)
{
	struct churn *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned int i, n = tu_quick() ? 40 : 400, ok = 0, live = 0, bad = 0;
	char first_bad[512] = "";
	struct tu_child child;
	struct shmdev_pool *pool;

	ck_assert_ptr_ne(c, MAP_FAILED);
	c->conf = tu_zone_conf(ctx);
	c->ready = 0;
	tu_child_start(&child, churn_child, c, false);
	for (i = 0; i < 200000 && !__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE); i++)
		usleep(50);
	ck_assert_msg(c->ready, "the owner did not open the pool");
	for (i = 0; i < n; i++) {
		int err;

		pool = tu_zone_open(ctx, c->conf, SHMDEV_POOL_RDONLY);
		err = shmdev_pool_check(pool);
		if (err == 0) {
			ok++;
		} else if (err == -EAGAIN) {
			live++;
			ck_assert_msg(strstr(shmdev_errmsg(ctx), "is live (owner pid"),
				      "%s", shmdev_errmsg(ctx));
		} else {
			if (!bad++)
				snprintf(first_bad, sizeof(first_bad), "%d %s", err, shmdev_errmsg(ctx));
		}
		shmdev_pool_abandon(pool);
	}
	tu_child_kill(&child);
	printf("check of a live pool: %u consistent, %u live without a stable snapshot, %u other, %" PRIu64 " owner operations\n",
	       ok, live, bad, c->ops);
	ck_assert_msg(c->ops > 0, "the owner did not run");
	ck_assert_msg(bad == 0, "%u of %u checks of a live pool failed; first: %s", bad, n, first_bad);
	shmdev_conf_free(c->conf);
	munmap(c, sizeof(*c));
}
END_TEST

/* An owner that corrupts its pool (a live count off by one), then idles. */
static int corrupt_child(void *arg)
{
	struct churn *c = arg;
	struct shmdev_ctx *cx = tu_ctx();
	struct shmdev_pool *pool = NULL;
	struct shmdev_type_stats ts;
	struct tu_item *it;
	shmdev_handle_t h;

	if (shmdev_pool_open(cx, c->conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, &pool))
		return 10;
	if (shmdev_alloc(pool, TU_ITEM, (void **)&it, &h))
		return 11;
	/* Make the slot FREE behind the library's back: the counts now lie. */
	slot_of(TU_ITEM, it)->tag = layout_tag(LAYOUT_SLOT_FREE, 1);
	if (shmdev_pool_type_stats(pool, TU_ITEM, &ts) || ts.live_count != 1)
		return 12;
	return 0;	/* held: the pool stays open and owned */
}

/*
 * A real corruption is still reported: by a read-only check of a live owner
 * that does not change the pool, and of a stopped one.
 */
START_TEST(test_check_real_corruption)
{
	struct churn *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct shmdev_region_info info;
	struct tu_child child;
	struct shmdev_pool *pool;
	int round;

	ck_assert_ptr_ne(c, MAP_FAILED);
	c->conf = tu_zone_conf(ctx);
	tu_child_start(&child, corrupt_child, c, true);
	ck_assert_int_eq(tu_child_wait_ready(&child), 0);
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), tu_key(0), &info), 0);
	ck_assert_int_eq(info.state, SHMDEV_STATE_OWNED);
	for (round = 0; round < 2; round++) {
		if (round == 1)
			tu_child_kill(&child);	/* stopped (crashed) */
		pool = tu_zone_open(ctx, c->conf, SHMDEV_POOL_RDONLY);
		ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
		ck_assert_str_eq(shmdev_errmsg(ctx), "check: type 0 \"Item\": 0 live slots, live count says 1");
		shmdev_pool_abandon(pool);
	}
	/* Stopped cleanly: an owner opens (and repairs), corrupts, closes. */
	pool = tu_zone_open(ctx, c->conf, 0);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	{
		struct tu_item *it;
		shmdev_handle_t h;

		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &h), 0);
		slot_of(TU_ITEM, it)->tag = layout_tag(LAYOUT_SLOT_RETIRED, 1);
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	pool = tu_zone_open(ctx, c->conf, SHMDEV_POOL_RDONLY);
	ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
	ck_assert_str_eq(shmdev_errmsg(ctx), "check: type 0 \"Item\": 0 live slots, live count says 1");
	shmdev_pool_abandon(pool);
	shmdev_conf_free(c->conf);
	munmap(c, sizeof(*c));
}
END_TEST

/* A read-only attach older than the layout says so, not "corrupt". */
START_TEST(test_check_layout_changed)
{
	struct shmdev_conf *conf = tu_zone_conf(ctx);
	struct shmdev_type raised[TU_ZONE_NR_TYPES];
	struct shmdev_pool *pool = tu_zone_open(ctx, conf, 0), *ro;
	void *obj;
	shmdev_handle_t h;
	int i;

	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ro = tu_zone_open(ctx, conf, SHMDEV_POOL_RDONLY);
	ck_assert_int_eq(shmdev_pool_check(ro), 0);
	memcpy(raised, tu_zone_types, sizeof(raised));
	raised[TU_ITEM].max_count = 300;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, raised, TU_ZONE_NR_TYPES, 0, &pool), 0);
	for (i = 0; i < 150; i++)
		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, &obj, &h), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_int_eq(shmdev_pool_check(ro), -EAGAIN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "the layout changed since this read-only attach"),
		      "%s", shmdev_errmsg(ctx));
	shmdev_pool_abandon(ro);
	ro = tu_zone_open(ctx, conf, SHMDEV_POOL_RDONLY);
	ck_assert_msg(shmdev_pool_check(ro) == 0, "%s", shmdev_errmsg(ctx));
	shmdev_pool_abandon(ro);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * One line per get (issue 12): a get reads the slot's tag, and the caller
 * then reads the object.  For every slot of every chunk, first and raised,
 * the tag and the object's first word share a 64-byte line where the stride
 * allows it (a multiple of 16: 64-, 128- and 256-byte objects behind the
 * 16-byte header), and a 64-byte slot (48-byte object) lies in one line
 * whole.  Placement only: the handles, the check and a resume see the same
 * pool as before.
 */
static void assert_lines(struct shmdev_pool *pool, const struct shmdev_type *t, size_t nr,
			 uint64_t from)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		struct shmdev_fast f;
		uint64_t n;

		ck_assert_int_eq(shmdev_fast_init(pool, t[i].id, &f), 0);
		for (n = from; n < t[i].max_count; n++) {
			shmdev_handle_t h;
			uintptr_t obj, tag;
			void *o;

			ck_assert_msg(shmdev_alloc(pool, t[i].id, &o, &h) == 0, "%s", shmdev_errmsg(ctx));
			obj = (uintptr_t)o;
			tag = obj - f.tag_back;
			ck_assert_msg(tag / 64 == (obj + 7) / 64,
				      "type %u (%u bytes, stride %" PRIu64 "): slot %" PRIu64 " has its tag at line offset %u and its first word in the next line",
				      t[i].id, t[i].size, f.stride, n, (unsigned int)(tag % 64));
			if (f.stride == 64)
				ck_assert_msg(tag / 64 == (obj + t[i].size - 1) / 64,
					      "type %u: the 64-byte slot %" PRIu64 " spans two lines", t[i].id, n);
			ck_assert_ptr_eq(shmdev_get(pool, h), o);
		}
	}
}

START_TEST(test_get_one_line)
{
	struct shmdev_type t[4] = {
		{ .id = 1, .name = "Obj64", .size = 64, .max_count = 300 },
		{ .id = 2, .name = "Obj128", .size = 128, .max_count = 300, .flags = SHMDEV_TYPE_KEYED },
		{ .id = 3, .name = "Obj256", .size = 256, .max_count = 300 },
		{ .id = 4, .name = "Obj48", .size = 48, .max_count = 300 },
	};
	struct shmdev_conf *conf = tu_conf(ctx, "zone", 0, "1M", 2, NULL);
	struct shmdev_pool *pool = tu_pool_start(ctx, conf, t, 4, 0, SHMDEV_START_CREATED);
	size_t i;

	assert_lines(pool, t, 4, 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* A raise adds chunks after the others: placed the same way. */
	for (i = 0; i < 4; i++)
		t[i].max_count = 700;
	pool = tu_pool_start(ctx, conf, t, 4, 0, SHMDEV_START_RESUMED_CLEAN);
	assert_lines(pool, t, 4, 300);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	tu_pool_destroy(ctx, conf);
}
END_TEST

static Suite *handles_suite(void)
{
	Suite *s = suite_create("handles");
	TCase *tc;

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_stale_after_many_cycles);
	tcase_add_test(tc, test_retire_at_wrap);
	tcase_add_test(tc, test_retire_keyed);
	tcase_add_test(tc, test_typed);
	tcase_add_test(tc, test_get_fast);
	tcase_add_test(tc, test_keyed_free_index);
	tcase_add_test(tc, test_get_one_line);
	tcase_add_test(tc, test_check_live_owner);
	tcase_add_test(tc, test_check_real_corruption);
	tcase_add_test(tc, test_check_layout_changed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("handles");
	tu_fixture(&ctx, destroy_pool);
	return tu_run(handles_suite());
}
