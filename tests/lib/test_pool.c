// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Typed object pools: alloc/get/free, stale handles, foreach order,
 * force_get/find, handle_of, full types, cold start, clean resume and
 * resume after SIGKILL across processes, read-only inspection, fixed
 * addresses, type and block stats, one error line per refusal.  Runs on
 * the backend SHMDEV_BACKEND selects.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define T_ITEM	0
#define T_PLAYER 1
#define BLOCK_HDR 64	/* every block starts with its identity header (layout.h) */

struct item {
	uint64_t stamp;
	uint32_t n;
	char text[20];
};

struct player {
	uint64_t id;
	uint64_t gold;
	char name[48];
};

static const struct shmdev_type types[] = {
	{ .id = T_ITEM, .name = "Item", .size = sizeof(struct item), .version = 1,
	  .max_count = 100 },
	{ .id = T_PLAYER, .name = "Player", .size = sizeof(struct player), .align = 16,
	  .version = 3, .max_count = 50, .flags = SHMDEV_TYPE_KEYED },
};
#define NR_TYPES (sizeof(types) / sizeof(types[0]))

static struct shmdev_ctx *ctx;

static struct shmdev_conf *mkconf(unsigned int nblocks, const char *block_size,
				  const char *extra)
{
	return tu_conf(ctx, "zone", 0, block_size, nblocks, extra);
}

static struct shmdev_pool *open_ok(struct shmdev_conf *conf, unsigned int flags,
				   enum shmdev_start want)
{
	return tu_pool_start(ctx, conf, types, NR_TYPES, flags, want);
}

static void destroy_pool(void)
{
	tu_pool_destroy(ctx, mkconf(4, "1M", NULL));
}

START_TEST(test_alloc_get_free)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	shmdev_handle_t h, h2;
	struct item *it, *it2;
	struct shmdev_type_stats ts;

	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &h), 0);
	ck_assert_uint_ne(h, SHMDEV_HANDLE_NONE);
	ck_assert_uint_eq(shmdev_handle_type(h), T_ITEM);
	ck_assert_ptr_eq(shmdev_get(pool, h), it);
	ck_assert_uint_eq(it->stamp, 0);
	ck_assert_uint_eq((uintptr_t)it % 8, 0);
	it->stamp = 42;
	strcpy(it->text, "sword");
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_ITEM, &ts), 0);
	ck_assert_uint_eq(ts.live_count, 1);
	ck_assert_uint_eq(ts.max_count, 100);
	ck_assert_str_eq(ts.name, "Item");
	ck_assert_uint_eq(ts.size, sizeof(struct item));

	/* Free, then the handle is stale even after the slot is reused. */
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_ptr_null(shmdev_get(pool, h));
	ck_assert_int_eq(shmdev_free(pool, h), -ESTALE);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "does not name a live object"));
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it2, &h2), 0);
	ck_assert_ptr_eq(it2, it);	/* the freed slot comes back first */
	ck_assert_uint_ne(h2, h);
	ck_assert_ptr_null(shmdev_get(pool, h));
	ck_assert_ptr_eq(shmdev_get(pool, h2), it2);
	ck_assert_uint_eq(it2->stamp, 0);	/* zeroed again */
	ck_assert_str_eq(it2->text, "");

	/* Malformed handles. */
	ck_assert_ptr_null(shmdev_get(pool, SHMDEV_HANDLE_NONE));
	ck_assert_ptr_null(shmdev_get(pool, h2 & ~0xffffffULL));	/* generation 0 */
	ck_assert_ptr_null(shmdev_get(pool, h2 + (1ULL << 52) * 7));	/* unknown type */
	ck_assert_ptr_null(shmdev_get(pool, h2 + (99ULL << 24)));	/* slot never used */
	ck_assert_int_eq(shmdev_alloc(pool, 9, (void **)&it, &h), -ENOENT);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_full_type)
{
	struct shmdev_conf *conf = mkconf(1, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	shmdev_handle_t hs[100], h;
	void *obj;
	int i;

	for (i = 0; i < 100; i++)
		ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, &obj, &hs[i]), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, &obj, &h), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "\"Item\" is full: 100 objects"));
	ck_assert_int_eq(shmdev_free(pool, hs[37]), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, &obj, &h), 0);
	ck_assert_uint_eq(shmdev_handle_slot(h), 37);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

struct walk {
	int n;
	shmdev_handle_t seen[128];
	struct shmdev_pool *pool;
	bool free_odd;
};

static int walk_fn(void *obj, shmdev_handle_t h, void *data)
{
	struct walk *w = data;

	ck_assert_ptr_eq(obj, shmdev_get(w->pool, h));
	w->seen[w->n++] = h;
	if (w->free_odd && ((struct item *)obj)->n % 2)
		ck_assert_int_eq(shmdev_free(w->pool, h), 0);
	return 0;
}

static int stop_fn(void *obj, shmdev_handle_t h, void *data)
{
	(void)obj;
	(void)h;
	return ++*(int *)data == 3 ? 77 : 0;
}

START_TEST(test_foreach_order)
{
	struct shmdev_conf *conf = mkconf(1, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	shmdev_handle_t hs[20];
	struct walk w = { .pool = NULL };
	struct item *it;
	int i, calls = 0;

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &hs[i]), 0);
		it->n = (uint32_t)i;
	}
	for (i = 0; i < 20; i += 3)
		ck_assert_int_eq(shmdev_free(pool, hs[i]), 0);
	/* Reuse two freed slots: order stays by slot, not by allocation time. */
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &hs[0]), 0);
	it->n = 100;
	w.pool = pool;
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, walk_fn, &w), 0);
	ck_assert_int_eq(w.n, 20 - 7 + 1);
	for (i = 1; i < w.n; i++)
		ck_assert_uint_lt(shmdev_handle_slot(w.seen[i - 1]), shmdev_handle_slot(w.seen[i]));
	/* The callback may free what it is given. */
	memset(&w, 0, sizeof(w));
	w.pool = pool;
	w.free_odd = true;
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, walk_fn, &w), 0);
	memset(&w, 0, sizeof(w));
	w.pool = pool;
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, walk_fn, &w), 0);
	for (i = 0; i < w.n; i++)
		ck_assert_uint_eq(((struct item *)shmdev_get(pool, w.seen[i]))->n % 2, 0);
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, stop_fn, &calls), 77);
	ck_assert_int_eq(calls, 3);
	ck_assert_int_eq(shmdev_foreach(pool, 33, stop_fn, &calls), -ENOENT);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_force_get_find)
{
	struct shmdev_conf *conf = mkconf(1, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	struct player *p, *q;
	shmdev_handle_t h, h2;
	bool created;
	uint64_t k;
	void *obj;

	ck_assert_ptr_null(shmdev_find(pool, T_PLAYER, 1001, &h));
	ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 1001, (void **)&p, &h, &created), 0);
	ck_assert(created);
	ck_assert_uint_eq((uintptr_t)p % 16, 0);
	p->id = 1001;
	p->gold = 5;
	ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 1001, (void **)&q, &h2, &created), 0);
	ck_assert(!created);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(h2, h);
	ck_assert_ptr_eq(shmdev_find(pool, T_PLAYER, 1001, &h2), p);
	ck_assert_uint_eq(h2, h);
	/* Many keys, all distinct objects, all findable (chains included). */
	for (k = 1; k <= 48; k++) {
		ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, k * 64, (void **)&q, NULL, &created), 0);
		ck_assert(created);
		q->id = k * 64;
	}
	ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 77777, &obj, NULL, NULL), 0);
	ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 77778, &obj, NULL, NULL), -ENOSPC);
	for (k = 1; k <= 48; k++) {
		q = shmdev_find(pool, T_PLAYER, k * 64, NULL);
		ck_assert_ptr_nonnull(q);
		ck_assert_uint_eq(q->id, k * 64);
	}
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	/* Free removes it from the index; a new force_get creates a new object. */
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_ptr_null(shmdev_find(pool, T_PLAYER, 1001, NULL));
	ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 1001, (void **)&q, &h2, &created), 0);
	ck_assert(created);
	ck_assert_uint_eq(q->gold, 0);
	ck_assert_uint_ne(h2, h);
	/* Plain alloc of a keyed type: an object outside the index. */
	ck_assert_int_eq(shmdev_free(pool, h2), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_PLAYER, &obj, &h), 0);
	ck_assert_ptr_null(shmdev_find(pool, T_PLAYER, 0, NULL));
	/* force_get on a type without keys. */
	ck_assert_int_eq(shmdev_force_get(pool, T_ITEM, 1, &obj, NULL, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "not KEYED"));
	ck_assert_ptr_null(shmdev_find(pool, T_ITEM, 1, NULL));
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_handle_of)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	shmdev_handle_t h, h2;
	struct item *it;
	struct player *pl;
	int local;

	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &h), 0);
	ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, 5, (void **)&pl, &h2, NULL), 0);
	ck_assert_uint_eq(shmdev_handle_of(pool, it), h);
	ck_assert_uint_eq(shmdev_handle_of(pool, pl), h2);
	ck_assert_uint_eq(shmdev_handle_of(pool, (char *)it + 1), SHMDEV_HANDLE_NONE);
	ck_assert_uint_eq(shmdev_handle_of(pool, &local), SHMDEV_HANDLE_NONE);
	ck_assert_uint_eq(shmdev_handle_of(pool, NULL), SHMDEV_HANDLE_NONE);
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_uint_eq(shmdev_handle_of(pool, it), SHMDEV_HANDLE_NONE);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* A type spanning several chunks in several small blocks. */
START_TEST(test_chunks_across_blocks)
{
	static const struct shmdev_type big[] = {
		{ .id = 2, .name = "Big", .size = 1000, .max_count = 40 },
		{ .id = 3, .name = "Keyed", .size = 100, .max_count = 150,
		  .flags = SHMDEV_TYPE_KEYED },
	};
	struct shmdev_conf *conf = mkconf(4, "16K", NULL);
	struct shmdev_pool *pool = NULL;
	shmdev_handle_t hs[40];
	struct shmdev_type_stats ts;
	uint64_t k;
	void *obj;
	int i;

	ck_assert_int_eq(shmdev_pool_open(ctx, conf, big, 2, 0, &pool), 0);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, 2, &obj, &hs[i]), 0);
		memset(obj, i, 1000);
	}
	for (k = 0; k < 150; k++)
		ck_assert_int_eq(shmdev_force_get(pool, 3, k, &obj, NULL, NULL), 0);
	for (i = 0; i < 40; i++) {
		unsigned char *b = shmdev_get(pool, hs[i]);

		ck_assert_ptr_nonnull(b);
		ck_assert_uint_eq(b[0], (unsigned)i);
		ck_assert_uint_eq(b[999], (unsigned)i);
		ck_assert_uint_eq(shmdev_handle_of(pool, b), hs[i]);
	}
	ck_assert_int_eq(shmdev_pool_type_stats(pool, 3, &ts), 0);
	ck_assert_uint_eq(ts.live_count, 150);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* shmdev_alloc_raw: no zeroing (the previous object's bytes), else as shmdev_alloc. */
START_TEST(test_alloc_raw)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	shmdev_handle_t h, h2, hs[100];
	struct item *it, *it2;
	int i;

	/* A never-used slot is zero; a reused one keeps what was there. */
	ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, (void **)&it, &h), 0);
	ck_assert_uint_eq(it->stamp, 0);
	ck_assert_ptr_eq(shmdev_get(pool, h), it);
	it->stamp = 0x1234;
	strcpy(it->text, "old");
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, (void **)&it2, &h2), 0);
	ck_assert_ptr_eq(it2, it);
	ck_assert_uint_ne(h2, h);
	ck_assert_ptr_null(shmdev_get(pool, h));
	ck_assert_uint_eq(it2->stamp, 0x1234);
	ck_assert_str_eq(it2->text, "old");
	/* shmdev_alloc of the same slot zeroes it. */
	ck_assert_int_eq(shmdev_free(pool, h2), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &h), 0);
	ck_assert_ptr_eq(it, it2);
	ck_assert_uint_eq(it->stamp, 0);
	ck_assert_int_eq(shmdev_free(pool, h), 0);

	/* Errors as shmdev_alloc's; the handle is optional. */
	ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, NULL, &h), -EINVAL);
	ck_assert_int_eq(shmdev_alloc_raw(NULL, T_ITEM, (void **)&it, &h), -EINVAL);
	ck_assert_int_eq(shmdev_alloc_raw(pool, 9, (void **)&it, &h), -ENOENT);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "type 9 is not in the layout"));
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, (void **)&it, i ? &hs[i] : NULL), 0);
	ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, (void **)&it, &h), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "is full"));
	/*
	 * A success stores nothing to the context (issue 12: nothing extra on
	 * the hot paths): the message still tells of the last failure.
	 */
	ck_assert_int_eq(shmdev_free(pool, hs[50]), 0);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "is full"));
	ck_assert_int_eq(shmdev_alloc_raw(pool, T_ITEM, (void **)&it, &h), 0);
	ck_assert_uint_eq(shmdev_handle_slot(h), 50);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * Slot lookup across chunks: a type raised twice on resume, first by one
 * slot, so that a one-slot chunk sits between big ones (too small for the
 * chunk table: the lookup falls back to the chunk search), and a type in
 * equal chunks (the table).  Every slot is reachable by get, free and
 * handle_of; handles past the capacity or the watermark are refused.
 */
START_TEST(test_chunk_lookup)
{
	struct shmdev_type t[] = {
		{ .id = 2, .name = "Raised", .size = 40, .max_count = 200 },
		{ .id = 3, .name = "Even", .size = 1000, .max_count = 30 },
	};
	struct shmdev_conf *conf = mkconf(4, "16K", NULL);
	struct shmdev_pool *pool = NULL;
	shmdev_handle_t hs[400], h;
	uint64_t caps[] = { 200, 201, 400 }, n, i;
	struct shmdev_type_stats ts;
	unsigned int step, ty;
	void *obj;

	for (step = 0; step < 3; step++) {
		t[0].max_count = caps[step];
		ck_assert_msg(shmdev_pool_open(ctx, conf, t, 2, 0, &pool) == 0, "%s", shmdev_errmsg(ctx));
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
	}
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, t, 2, 0, &pool), 0);
	for (ty = 2; ty <= 3; ty++) {
		n = t[ty - 2].max_count;
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(shmdev_alloc_raw(pool, (uint16_t)ty, &obj, &hs[i]), 0);
			ck_assert_uint_eq(shmdev_handle_slot(hs[i]), i);
			memset(obj, (int)i, t[ty - 2].size);
		}
		ck_assert_int_eq(shmdev_alloc(pool, (uint16_t)ty, &obj, &h), -ENOSPC);
		for (i = 0; i < n; i++) {
			unsigned char *b = shmdev_get(pool, hs[i]);

			ck_assert_ptr_nonnull(b);
			ck_assert_uint_eq(b[0], (unsigned char)i);
			ck_assert_uint_eq(b[t[ty - 2].size - 1], (unsigned char)i);
			ck_assert_uint_eq(shmdev_handle_of(pool, b), hs[i]);
		}
		/* Past the capacity: refused, never an address. */
		h = hs[0] + (n << 24);
		ck_assert_ptr_null(shmdev_get(pool, h));
		ck_assert_int_eq(shmdev_free(pool, h), -ESTALE);
		/* Free every other one, reuse them, check the rest kept their bytes. */
		for (i = 0; i < n; i += 2)
			ck_assert_int_eq(shmdev_free(pool, hs[i]), 0);
		for (i = 0; i < n; i += 2) {
			ck_assert_ptr_null(shmdev_get(pool, hs[i]));
			ck_assert_int_eq(shmdev_free(pool, hs[i]), -ESTALE);
		}
		ck_assert_int_eq(shmdev_pool_check(pool), 0);
		for (i = 0; i < n; i += 2)
			ck_assert_int_eq(shmdev_alloc(pool, (uint16_t)ty, &obj, &hs[i]), 0);
		for (i = 1; i < n; i += 2)
			ck_assert_uint_eq(*(unsigned char *)shmdev_get(pool, hs[i]), (unsigned char)i);
		ck_assert_int_eq(shmdev_pool_type_stats(pool, (uint16_t)ty, &ts), 0);
		ck_assert_uint_eq(ts.live_count, n);
	}
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * The fast paths have no crash points (the SHMDEV_TEST_KILL_AT hook sends
 * every call to the checked paths, which test_crash covers): here a child
 * runs alloc, alloc_raw and free without the hook and the parent kills it
 * at a random moment.  The child logs each operation before and after it
 * in shared memory; after the repair every logged object is there with its
 * stamp, every logged free is gone, and the one operation in flight either
 * happened or not.
 */
#define FK_SLOTS	64
#define FK_STAMP	0xfa57fa5700000000ULL

struct fk_log {
	uint32_t ready;
	uint32_t op;		/* 0, or 1 alloc / 2 free in flight */
	uint32_t idx;
	shmdev_handle_t live[FK_SLOTS];
};

struct fk_arg {
	struct shmdev_conf *conf;
	struct fk_log *log;
	unsigned int seed;
};

static const struct shmdev_type fk_types[] = {
	{ .id = 2, .name = "Fast", .size = 40, .max_count = 120 },
};

static void fk_store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int fk_child(void *arg)
{
	struct fk_arg *a = arg;
	struct fk_log *l = a->log;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;
	unsigned int r = a->seed;

	if (shmdev_pool_open(c, a->conf, fk_types, 1, 0, &pool))
		return 10;
	fk_store(&l->ready, 1);
	for (;;) {
		uint32_t i;
		shmdev_handle_t h;
		uint64_t *obj;

		r = r * 1103515245 + 12345;
		i = (r >> 8) % FK_SLOTS;
		fk_store(&l->idx, i);
		if (!l->live[i]) {
			fk_store(&l->op, 1);
			if ((r >> 20) & 1 ? shmdev_alloc_raw(pool, 2, (void **)&obj, &h) :
					    shmdev_alloc(pool, 2, (void **)&obj, &h))
				return 11;
			obj[0] = FK_STAMP ^ h;
			__atomic_store_n(&l->live[i], h, __ATOMIC_RELEASE);
		} else {
			fk_store(&l->op, 2);
			if (shmdev_free(pool, l->live[i]))
				return 12;
			__atomic_store_n(&l->live[i], 0, __ATOMIC_RELEASE);
		}
		fk_store(&l->op, 0);
	}
}

static int fk_orphan(void *obj, shmdev_handle_t h, void *data)
{
	struct fk_log *l = data;
	uint32_t i;

	(void)obj;
	for (i = 0; i < FK_SLOTS; i++)
		if (l->live[i] == h)
			return 0;
	/* Only an alloc in flight may leave an object the log does not name. */
	ck_assert_uint_eq(l->op, 1);
	ck_assert_uint_eq(l->live[l->idx], 0);
	l->live[l->idx] = h;
	return 0;
}

START_TEST(test_fast_path_sigkill)
{
	struct shmdev_conf *conf = mkconf(2, "16K", NULL);
	struct fk_log *l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned int round, rounds = tu_quick() ? 20 : 300, seed = (unsigned int)time(NULL);
	struct shmdev_pool *pool;
	struct shmdev_type_stats ts;
	struct fk_arg a;
	uint32_t i, n;

	ck_assert_ptr_ne(l, MAP_FAILED);
	memset(l, 0, sizeof(*l));
	unsetenv("SHMDEV_TEST_KILL_AT");
	for (round = 0; round < rounds; round++) {
		struct tu_child c;

		a = (struct fk_arg){ conf, l, seed + round };
		l->ready = 0;
		tu_child_start(&c, fk_child, &a, false);
		for (i = 0; i < 200000 && !__atomic_load_n(&l->ready, __ATOMIC_ACQUIRE); i++)
			usleep(50);
		ck_assert_msg(l->ready, "round %u: the child did not open the pool", round);
		usleep((useconds_t)((seed + round * 7919) % 300));
		tu_child_kill(&c);

		pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CRASH);
		ck_assert_int_eq(shmdev_foreach(pool, 2, fk_orphan, l), 0);
		/* A free in flight that committed: the log still names it. */
		if (l->op == 2 && l->live[l->idx] && !shmdev_get(pool, l->live[l->idx]))
			l->live[l->idx] = 0;
		for (i = 0, n = 0; i < FK_SLOTS; i++) {
			uint64_t *obj;

			if (!l->live[i])
				continue;
			obj = shmdev_get(pool, l->live[i]);
			ck_assert_msg(obj != NULL, "round %u (seed %u): slot %u lost", round, seed, i);
			/* An alloc in flight may not have stamped its object yet. */
			if (!(l->op == 1 && i == l->idx))
				ck_assert_uint_eq(obj[0], FK_STAMP ^ l->live[i]);
			else
				obj[0] = FK_STAMP ^ l->live[i];
			n++;
		}
		ck_assert_int_eq(shmdev_pool_type_stats(pool, 2, &ts), 0);
		ck_assert_uint_eq(ts.live_count, n);
		l->op = 0;
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
	}
	munmap(l, sizeof(*l));
	shmdev_conf_free(conf);
}
END_TEST

static int fill(struct shmdev_pool *pool)
{
	struct player *p;
	struct item *it;
	uint64_t k;

	for (k = 1; k <= 30; k++) {
		if (shmdev_force_get(pool, T_PLAYER, k, (void **)&p, NULL, NULL))
			return 11;
		p->id = k;
		p->gold = k * 100;
		snprintf(p->name, sizeof(p->name), "player-%" PRIu64, k);
	}
	for (k = 0; k < 60; k++) {
		if (shmdev_alloc(pool, T_ITEM, (void **)&it, NULL))
			return 12;
		it->n = (uint32_t)k;
		it->stamp = 0xabcdef00 + k;
	}
	return 0;
}

/* Open, fill, close cleanly. */
static int child_fill_close(void *arg)
{
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;
	int ret;

	if (shmdev_pool_open(c, arg, types, NR_TYPES, 0, &pool))
		return 10;
	ret = fill(pool);
	if (shmdev_pool_close(pool))
		return 13;
	shmdev_ctx_unref(c);
	return ret;
}

/* Open and fill, then report and wait (held) for SIGKILL with the pool open. */
static int child_fill_hold(void *arg)
{
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_pool *pool = NULL;

	if (shmdev_pool_open(c, arg, types, NR_TYPES, 0, &pool))
		return 10;
	return fill(pool);
}

static int count_fn(void *obj, shmdev_handle_t h, void *data)
{
	struct item *it = obj;
	uint32_t *n = data;

	(void)h;
	ck_assert_uint_eq(it->n, *n);
	ck_assert_uint_eq(it->stamp, 0xabcdef00 + *n);
	(*n)++;
	return 0;
}

static void assert_filled(struct shmdev_pool *pool)
{
	struct shmdev_type_stats ts;
	struct player *p;
	uint32_t n = 0;
	uint64_t k;

	for (k = 1; k <= 30; k++) {
		p = shmdev_find(pool, T_PLAYER, k, NULL);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(p->gold, k * 100);
	}
	ck_assert_ptr_null(shmdev_find(pool, T_PLAYER, 31, NULL));
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, count_fn, &n), 0);
	ck_assert_uint_eq(n, 60);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_PLAYER, &ts), 0);
	ck_assert_uint_eq(ts.live_count, 30);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_ITEM, &ts), 0);
	ck_assert_uint_eq(ts.live_count, 60);
}

START_TEST(test_resume_clean)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool;
	struct shmdev_pool_stats st;
	uint64_t t0;

	/* Cold start by the parent, filled by a child that closes cleanly. */
	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	shmdev_pool_stats(pool, &st);
	t0 = st.start_time_ns;
	ck_assert_uint_gt(t0, 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	ck_assert_int_eq(tu_run_in_child(child_fill_close, conf), 0);
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	assert_filled(pool);
	shmdev_pool_stats(pool, &st);
	ck_assert_int_eq(st.start, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(st.start_time_ns, t0);
	ck_assert_uint_eq(st.repair_ns, 0);
	ck_assert_uint_eq(st.repaired_objects, 0);
	ck_assert_uint_ge(st.generation, 3);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_resume_after_sigkill)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool;
	struct shmdev_pool_stats st;
	struct tu_child c;

	tu_child_start(&c, child_fill_hold, conf, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);
	tu_child_kill(&c);
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CRASH);
	shmdev_pool_stats(pool, &st);
	ck_assert_int_eq(st.start, SHMDEV_START_RESUMED_CRASH);
	ck_assert_uint_eq(st.repaired_objects, 90);
	assert_filled(pool);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* After a clean close the next open is clean again. */
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	assert_filled(pool);
	shmdev_pool_abandon(pool);
	/* Abandon looks like a crash. */
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CRASH);
	assert_filled(pool);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_rdonly_inspect)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *ro = NULL, *pool;
	struct tu_child c;
	void *obj;

	ck_assert_int_eq(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &ro), -ENOENT);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "does not exist"));
	tu_child_start(&c, child_fill_hold, conf, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);
	/* The owner lives: a second owner is refused, an inspector is not. */
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, NR_TYPES, 0, &pool), -EBUSY);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &ro), 0);
	ck_assert_int_eq(shmdev_pool_start(ro), SHMDEV_START_RESUMED);
	assert_filled(ro);
	ck_assert_int_eq(shmdev_pool_check(ro), 0);
	ck_assert_int_eq(shmdev_alloc(ro, T_ITEM, &obj, NULL), -EROFS);
	ck_assert_int_eq(shmdev_alloc_raw(ro, T_ITEM, &obj, NULL), -EROFS);
	ck_assert_int_eq(shmdev_force_get(ro, T_PLAYER, 1, &obj, NULL, NULL), -EROFS);
	ck_assert_int_eq(shmdev_pool_close(ro), 0);
	tu_child_kill(&c);
	/* The inspector changed nothing: the owner's crash is still seen. */
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CRASH);
	assert_filled(pool);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_destroy)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	struct shmdev_region_info info;
	void *obj;

	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, &obj, NULL), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), tu_key(0), &info), -ENOENT);
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), tu_key(2), &info), -ENOENT);
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), -ENOENT);
	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_foreach(pool, T_ITEM, stop_fn, &(int){ 0 }), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_fixed_addr)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL);
	struct shmdev_pool *pool;
	struct item *it;
	shmdev_handle_t h;
	void *blocker, *page;

	pool = open_ok(conf, SHMDEV_POOL_FIXED_ADDR, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &h), 0);
	it->stamp = 99;
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Occupy the address space around the old place so that a plain map differs. */
	page = (void *)((uintptr_t)it & ~(uintptr_t)4095);
	blocker = mmap(page, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ck_assert_ptr_eq(blocker, page);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, NR_TYPES, SHMDEV_POOL_FIXED_ADDR, &pool), -EEXIST);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "fixed address"), "%s", shmdev_errmsg(ctx));
	munmap(blocker, 4096);
	pool = open_ok(conf, SHMDEV_POOL_FIXED_ADDR, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_ptr_eq(shmdev_get(pool, h), it);
	ck_assert_uint_eq(it->stamp, 99);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_conf_fixed_address)
{
	/* An address far from the usual mmap area. */
	struct shmdev_conf *conf = mkconf(2, "1M", "FixedAddress = 0x5e0000000000\n");
	struct shmdev_pool *pool;
	struct item *it;
	shmdev_handle_t h;

	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &h), 0);
	ck_assert_uint_ge((uintptr_t)it, 0x5e0000000000ULL);
	ck_assert_uint_lt((uintptr_t)it, 0x5e0000000000ULL + (64ULL << 20));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_ptr_eq(shmdev_get(pool, h), it);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_open_errors)
{
	struct shmdev_conf *conf = mkconf(1, "1M", NULL), *noself = NULL;
	struct shmdev_pool *pool = NULL;
	struct shmdev_type bad[2] = { types[0], types[1] };
	char text[256];

	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, NR_TYPES, 0x80, &pool), -EINVAL);
	bad[1].id = 0;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, bad, 2, 0, &pool), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "type id 0 is registered twice"));
	bad[1] = types[1];
	bad[1].align = 24;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, bad, 2, 0, &pool), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "align 24"));
	bad[1] = types[1];
	bad[1].name = "";
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, bad, 2, 0, &pool), -EINVAL);
	bad[1] = types[1];
	bad[1].id = 64;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, bad, 2, 0, &pool), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "beyond MaxTypeInfoNum 64"));
	bad[1] = types[1];
	bad[1].max_count = 0;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, bad, 2, 0, &pool), -EINVAL);
	/* Too big for the blocks: refused, and nothing is left behind. */
	bad[1] = types[1];
	bad[1].max_count = 1000000;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, bad, 2, 0, &pool), -ENOSPC);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "type 1 \"Player\": no room"), "%s", shmdev_errmsg(ctx));
	ck_assert_ptr_null(pool);
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), -ENOENT);
	snprintf(text, sizeof(text), "ProcessList = zone\n[zone]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 1M\nBlockKey = 0x%" PRIx64 "\n",
		 tu_key(0), tu_key(1));
	ck_assert_int_eq(shmdev_conf_load_string(ctx, text, "t.ini", NULL, &noself), 0);
	ck_assert_int_eq(shmdev_pool_open(ctx, noself, types, NR_TYPES, 0, &pool), -EINVAL);
	shmdev_conf_free(noself);
	shmdev_conf_free(conf);
}
END_TEST

/* The BlockBase table of @pool into @st (up to @max entries); returns the count. */
static uint32_t block_table(struct shmdev_pool *pool, struct shmdev_block_stats *st, uint32_t max)
{
	uint32_t i;
	int err;

	for (i = 0; i < max; i++) {
		err = shmdev_pool_block_stats(pool, i, &st[i]);
		if (err == -ENOENT)
			break;
		ck_assert_msg(err == 0, "block_stats %u: %d %s", i, err, shmdev_errmsg(ctx));
		ck_assert_uint_eq(st[i].index, i);
		ck_assert_uint_eq(st[i].key, tu_key(i + 1));
		ck_assert_uint_eq(st[i].size, 1 << 20);
		ck_assert_uint_eq(st[i].used_bytes + st[i].free_bytes, st[i].size);
	}
	return i;
}

/* Log callback that counts lines and keeps the first error. */
struct logcap {
	int lines;
	int errors;
	char first_error[512];
};

static void capture_log(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	struct logcap *lc = data;

	(void)file;
	(void)line;
	(void)fn;
	lc->lines++;
	if (priority <= LOG_ERR && lc->errors++ == 0)
		vsnprintf(lc->first_error, sizeof(lc->first_error), format, args);
}

START_TEST(test_block_stats)
{
	struct shmdev_conf *conf = mkconf(2, "1M", NULL), *conf3 = mkconf(3, "1M", NULL);
	struct shmdev_type raised[NR_TYPES] = { types[0], types[1] };
	struct shmdev_block_stats b[8], b2[8];
	struct shmdev_pool *pool = NULL;
	struct logcap lc = { 0 };

	/* Cold start with Item only: it is carved from the start of block 0. */
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, 1, 0, &pool), 0);
	ck_assert_uint_eq(block_table(pool, b, 8), 2);
	ck_assert_uint_ge(b[0].used_bytes, 100 * sizeof(struct item));
	ck_assert_uint_lt(b[0].free_bytes, 1 << 20);
	ck_assert_uint_eq(b[1].used_bytes, BLOCK_HDR);
	ck_assert_uint_eq(b[1].free_bytes, (1 << 20) - BLOCK_HDR);
	/* Past the end: -ENOENT with a message, and no log line (a probe). */
	shmdev_set_log_fn(ctx, capture_log, &lc);
	shmdev_set_log_priority(ctx, LOG_DEBUG);
	ck_assert_int_eq(shmdev_pool_block_stats(pool, 2, &b2[0]), -ENOENT);
	ck_assert_int_eq(shmdev_pool_block_stats(pool, UINT32_MAX, &b2[0]), -ENOENT);
	ck_assert_int_eq(lc.lines, 0);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "block 4294967295 is not in the layout (it has 2 blocks)"),
		      "%s", shmdev_errmsg(ctx));
	shmdev_set_log_fn(ctx, NULL, NULL);
	shmdev_set_log_priority(ctx, -1);
	ck_assert_int_eq(shmdev_pool_block_stats(pool, 0, NULL), -EINVAL);
	ck_assert_int_eq(shmdev_pool_block_stats(NULL, 0, &b2[0]), -EINVAL);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Resume adding Player (index and slots): block 0's free bytes shrink. */
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(block_table(pool, b2, 8), 2);
	ck_assert_uint_lt(b2[0].free_bytes, b[0].free_bytes);
	ck_assert_uint_gt(b2[0].used_bytes - b[0].used_bytes, 50 * sizeof(struct player));
	ck_assert_uint_eq(b2[1].free_bytes, (1 << 20) - BLOCK_HDR);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Raising a max_count carves again. */
	raised[0].max_count = 300;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, raised, NR_TYPES, 0, &pool), 0);
	ck_assert_uint_eq(block_table(pool, b, 8), 2);
	ck_assert_uint_ge(b[0].used_bytes - b2[0].used_bytes, 200 * sizeof(struct item));
	ck_assert_uint_eq(b[1].free_bytes, (1 << 20) - BLOCK_HDR);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* A block appended to BlockKeys appears, empty, on resume. */
	ck_assert_int_eq(shmdev_pool_open(ctx, conf3, raised, NR_TYPES, 0, &pool), 0);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(block_table(pool, b2, 8), 3);
	ck_assert_uint_eq(b2[0].used_bytes, b[0].used_bytes);
	ck_assert_uint_eq(b2[2].key, tu_key(3));
	ck_assert_uint_eq(b2[2].used_bytes, BLOCK_HDR);
	ck_assert_uint_eq(b2[2].free_bytes, (1 << 20) - BLOCK_HDR);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* A read-only inspector sees the same table. */
	ck_assert_int_eq(shmdev_pool_open(ctx, conf3, NULL, 0, SHMDEV_POOL_RDONLY, &pool), 0);
	ck_assert_uint_eq(block_table(pool, b, 8), 3);
	ck_assert_int_eq(memcmp(b, b2, 3 * sizeof(b[0])), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf3);
	shmdev_conf_free(conf);
}
END_TEST

/*
 * MaxTypeInfoNum changed on resume: the base region has another size than
 * the new geometry.  The user must see one error, the layout's precise one,
 * not the region layer's "requested N bytes" first.
 */
START_TEST(test_max_types_changed_one_error)
{
	static const char *const extra[] = { "MaxTypeInfoNum = 128\n", "MaxTypeInfoNum = 32\n" };
	static const char *const want[] = { "MaxTypeInfoNum was 64, now 128", "MaxTypeInfoNum was 64, now 32" };
	struct shmdev_conf *conf = mkconf(2, "1M", NULL), *changed;
	struct shmdev_pool *pool = NULL;
	unsigned int i;

	pool = open_ok(conf, 0, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	for (i = 0; i < 2; i++) {
		struct logcap lc = { 0 };

		changed = mkconf(2, "1M", extra[i]);
		shmdev_set_log_fn(ctx, capture_log, &lc);
		shmdev_set_log_priority(ctx, LOG_DEBUG);
		ck_assert_int_eq(shmdev_pool_open(ctx, changed, types, NR_TYPES, 0, &pool), -EINVAL);
		shmdev_set_log_fn(ctx, NULL, NULL);
		shmdev_set_log_priority(ctx, -1);
		ck_assert_ptr_null(pool);
		ck_assert_msg(strstr(shmdev_errmsg(ctx), want[i]), "%s", shmdev_errmsg(ctx));
		ck_assert_msg(lc.errors == 1, "%d error lines, the first: %s", lc.errors, lc.first_error);
		ck_assert_str_eq(lc.first_error, shmdev_errmsg(ctx));
		shmdev_conf_free(changed);
	}
	/* The refusals changed nothing: the old config resumes cleanly. */
	pool = open_ok(conf, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc;

	tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_alloc_get_free);
	tcase_add_test(tc, test_full_type);
	tcase_add_test(tc, test_foreach_order);
	tcase_add_test(tc, test_force_get_find);
	tcase_add_test(tc, test_handle_of);
	tcase_add_test(tc, test_chunks_across_blocks);
	tcase_add_test(tc, test_alloc_raw);
	tcase_add_test(tc, test_chunk_lookup);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_resume_clean);
	tcase_add_test(tc, test_resume_after_sigkill);
	tcase_add_test(tc, test_fast_path_sigkill);
	tcase_add_test(tc, test_rdonly_inspect);
	tcase_add_test(tc, test_destroy);
	tcase_add_test(tc, test_fixed_addr);
	tcase_add_test(tc, test_conf_fixed_address);
	tcase_add_test(tc, test_block_stats);
	tcase_add_test(tc, test_max_types_changed_one_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("pool");
	tu_fixture(&ctx, destroy_pool);
	return tu_run(pool_suite());
}
