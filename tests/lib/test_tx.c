// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Transactions and the atomic publish (issue 14, items 1 and 2): commit,
 * abort, alloc and free inside a transaction, every error (nested begin,
 * a range outside the pool or across objects, a full log, no log, calls
 * without a transaction, stale and double frees: each names the value and
 * leaves the transaction abortable), a crash before and after the commit
 * (the next open rolls back or finishes, and its stats say so), close with
 * a transaction open, TxLogSize in the config.  The enumeration of every
 * crash point is tests/lib/test_tx_crash.c.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define T_PLAYER 0
#define T_ITEM	 1

struct player {
	uint64_t gold;
	shmdev_handle_t slot[4];	/* items owned */
	uint8_t pad[216];		/* 256 bytes */
};

struct item {
	uint64_t serial;
	shmdev_handle_t owner;
};

static const struct shmdev_type types[] = {
	{ .id = T_PLAYER, .name = "Player", .size = sizeof(struct player), .max_count = 16 },
	{ .id = T_ITEM, .name = "Item", .size = sizeof(struct item), .max_count = 64 },
};

static struct shmdev_ctx *ctx;

static struct shmdev_conf *mkconf(const char *extra)
{
	return tu_conf(ctx, "txz", 40, "64K", 2, extra);
}

static void sweep(void)
{
	tu_pool_destroy(ctx, mkconf(NULL));
}

static struct shmdev_pool *open_pool(struct shmdev_conf *conf)
{
	return tu_pool_open(ctx, conf, types, 2, 0);
}

struct world {
	shmdev_handle_t a, b, d;
	struct player *pa, *pb;
};

/* Two players with 100 gold each, and an item D of player a. */
static void mkworld(struct shmdev_pool *pool, struct world *w)
{
	struct item *d;

	ck_assert_int_eq(shmdev_alloc(pool, T_PLAYER, (void **)&w->pa, &w->a), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_PLAYER, (void **)&w->pb, &w->b), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&d, &w->d), 0);
	w->pa->gold = w->pb->gold = 100;
	d->serial = 1;
	d->owner = w->a;
	w->pa->slot[0] = w->d;
}

static void reload(struct shmdev_pool *pool, struct world *w)
{
	w->pa = shmdev_get(pool, w->a);
	w->pb = shmdev_get(pool, w->b);
	ck_assert_ptr_nonnull(w->pa);
	ck_assert_ptr_nonnull(w->pb);
}

static uint64_t live(struct shmdev_pool *pool, uint16_t type)
{
	struct shmdev_type_stats ts;

	ck_assert_int_eq(shmdev_pool_type_stats(pool, type, &ts), 0);
	return ts.live_count;
}

/* The trade of the tests: 30 gold a -> b, D moves from a to b, a new item C for b. */
static shmdev_handle_t trade(struct shmdev_pool *pool, struct world *w)
{
	struct item *c;
	shmdev_handle_t hc;

	ck_assert_int_eq(shmdev_tx_begin(pool), 0);
	ck_assert_int_eq(shmdev_tx_add(pool, &w->pa->gold, sizeof(w->pa->gold)), 0);
	ck_assert_int_eq(shmdev_tx_add(pool, w->pb, sizeof(*w->pb)), 0);
	ck_assert_int_eq(shmdev_tx_add(pool, w->pa->slot, sizeof(w->pa->slot)), 0);
	w->pa->gold -= 30;
	w->pb->gold += 30;
	w->pb->slot[0] = w->pa->slot[0];
	w->pa->slot[0] = 0;
	ck_assert_int_eq(shmdev_tx_alloc(pool, T_ITEM, (void **)&c, &hc), 0);
	c->serial = 2;
	c->owner = w->b;
	w->pb->slot[1] = hc;
	return hc;
}

START_TEST(test_commit)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct shmdev_tx_stats st;
	struct world w;
	shmdev_handle_t hc;

	mkworld(pool, &w);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.log_size, 64 * 1024);
	ck_assert(!st.active && !shmdev_tx_active(pool));
	hc = trade(pool, &w);
	ck_assert(shmdev_tx_active(pool));
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert(st.active);
	ck_assert_uint_eq(st.log_used, 3 * 24 + 8 + 256 + 32 + 24);
	ck_assert_int_eq(shmdev_tx_commit(pool), 0);
	ck_assert(!shmdev_tx_active(pool));
	ck_assert_uint_eq(w.pa->gold + w.pb->gold, 200);
	ck_assert_uint_eq(w.pb->gold, 130);
	ck_assert_ptr_nonnull(shmdev_get(pool, hc));
	ck_assert_uint_eq(live(pool, T_ITEM), 2);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.commits, 1);
	ck_assert_uint_eq(st.log_used, 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Kept across a clean resume. */
	pool = tu_pool_start(ctx, conf, types, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	reload(pool, &w);
	ck_assert_uint_eq(w.pb->gold, 130);
	ck_assert_uint_eq(w.pb->slot[1], hc);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.commits, 1);
	ck_assert_uint_eq(st.open_rolled_back, 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_abort)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct player before_a, before_b;
	struct shmdev_tx_stats st;
	struct world w;
	shmdev_handle_t hc;

	mkworld(pool, &w);
	before_a = *w.pa;
	before_b = *w.pb;
	hc = trade(pool, &w);
	/* Freed only at a commit: after the abort D is still there. */
	ck_assert_int_eq(shmdev_tx_free(pool, w.d), 0);
	ck_assert_ptr_nonnull(shmdev_get(pool, w.d));
	/* The same range twice: the first copy wins. */
	ck_assert_int_eq(shmdev_tx_add(pool, &w.pa->gold, sizeof(w.pa->gold)), 0);
	w.pa->gold = 1;
	ck_assert_int_eq(shmdev_tx_abort(pool), 0);
	ck_assert(!shmdev_tx_active(pool));
	ck_assert_mem_eq(w.pa, &before_a, sizeof(before_a));
	ck_assert_mem_eq(w.pb, &before_b, sizeof(before_b));
	ck_assert_ptr_null(shmdev_get(pool, hc));
	ck_assert_ptr_nonnull(shmdev_get(pool, w.d));
	ck_assert_uint_eq(live(pool, T_ITEM), 1);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.aborts, 1);
	ck_assert_uint_eq(st.commits, 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_free_at_commit)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct world w;
	shmdev_handle_t hc;

	mkworld(pool, &w);
	hc = trade(pool, &w);
	ck_assert_int_eq(shmdev_tx_free(pool, w.d), 0);
	ck_assert_int_eq(shmdev_tx_free(pool, hc), 0);	/* allocated and freed in one */
	ck_assert_ptr_nonnull(shmdev_get(pool, w.d));
	ck_assert_ptr_nonnull(shmdev_get(pool, hc));
	ck_assert_int_eq(shmdev_tx_commit(pool), 0);
	ck_assert_ptr_null(shmdev_get(pool, w.d));
	ck_assert_ptr_null(shmdev_get(pool, hc));
	ck_assert_uint_eq(live(pool, T_ITEM), 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* Each error names its value and leaves the transaction open and abortable. */
START_TEST(test_errors)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct world w;
	struct item *it;
	uint64_t local = 5;
	char want[160];
	shmdev_handle_t h, dead;
	void *obj;
	int n;

	mkworld(pool, &w);
	/* Without a transaction. */
	ck_assert_int_eq(shmdev_tx_add(pool, &w.pa->gold, 8), -ENOENT);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "tx_add: no transaction is open"));
	ck_assert_int_eq(shmdev_tx_alloc(pool, T_ITEM, &obj, &h), -ENOENT);
	ck_assert_int_eq(shmdev_tx_free(pool, w.d), -ENOENT);
	ck_assert_int_eq(shmdev_tx_commit(pool), -ENOENT);
	ck_assert_int_eq(shmdev_tx_abort(pool), -ENOENT);
	ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, (void **)&it, &dead), 0);
	ck_assert_int_eq(shmdev_free(pool, dead), 0);

	ck_assert_int_eq(shmdev_tx_begin(pool), 0);
	ck_assert_int_eq(shmdev_tx_add(pool, &w.pa->gold, 8), 0);
	w.pa->gold = 7;
	ck_assert_int_eq(shmdev_tx_begin(pool), -EBUSY);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "do not nest"));
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "(32 bytes logged)"));
	/* Outside the pool: the stack. */
	ck_assert_int_eq(shmdev_tx_add(pool, &local, sizeof(local)), -EINVAL);
	snprintf(want, sizeof(want), "range %p + 8 bytes is not inside one live object", (void *)&local);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), want), "%s", shmdev_errmsg(ctx));
	/* Past the object's end, into the next slot. */
	ck_assert_int_eq(shmdev_tx_add(pool, w.pa, sizeof(*w.pa) + 1), -EINVAL);
	ck_assert_int_eq(shmdev_tx_add(pool, (char *)w.pa + 200, 100), -EINVAL);
	/* The slot header before the object. */
	ck_assert_int_eq(shmdev_tx_add(pool, (char *)w.pa - 8, 8), -EINVAL);
	/* A freed object, a NULL pointer, a zero length. */
	ck_assert_int_eq(shmdev_tx_add(pool, it, 8), -EINVAL);
	ck_assert_int_eq(shmdev_tx_add(pool, NULL, 8), -EINVAL);
	ck_assert_int_eq(shmdev_tx_add(pool, w.pa, 0), -EINVAL);
	/* Stale and double frees. */
	ck_assert_int_eq(shmdev_tx_free(pool, dead), -ESTALE);
	snprintf(want, sizeof(want), "handle 0x%016" PRIx64 " ", dead);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), want), "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_tx_free(pool, w.d), 0);
	ck_assert_int_eq(shmdev_tx_free(pool, w.d), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "freed twice in this transaction"));
	ck_assert_int_eq(shmdev_tx_alloc(pool, 9, &obj, &h), -ENOENT);
	/* Fill the log: 64K - 128 bytes, 256 + 24 per snapshot of a player. */
	for (n = 0; n < 1000; n++)
		if (shmdev_tx_add(pool, w.pb, sizeof(*w.pb)))
			break;
	ck_assert_int_lt(n, 1000);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "the transaction log is full"));
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "of 65408, this entry needs 280 (raise TxLogSize"));
	/* Up to the last byte: 8-byte ranges (32 each), then allocations (24). */
	while (shmdev_tx_add(pool, &w.pb->gold, 8) == 0)
		;
	for (n = 0; n < 2 && shmdev_tx_alloc(pool, T_ITEM, &obj, &h) == 0; n++)
		;
	ck_assert_int_lt(n, 2);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "tx_alloc: the transaction log is full"));
	ck_assert_int_eq(shmdev_tx_free(pool, w.a), -ENOSPC);
	ck_assert(shmdev_tx_active(pool));
	ck_assert_uint_eq(live(pool, T_ITEM), 1 + (uint64_t)n);
	ck_assert_int_eq(shmdev_tx_abort(pool), 0);
	ck_assert_uint_eq(live(pool, T_ITEM), 1);
	ck_assert_uint_eq(w.pa->gold, 100);
	ck_assert_ptr_nonnull(shmdev_get(pool, w.d));
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Read-only: no transactions. */
	pool = tu_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY);
	ck_assert_int_eq(shmdev_tx_begin(pool), -EROFS);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* A full type inside a transaction: the log entry is taken back. */
START_TEST(test_alloc_full)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct shmdev_tx_stats st, st2;
	shmdev_handle_t h;
	void *obj;
	int i;

	ck_assert_int_eq(shmdev_tx_begin(pool), 0);
	for (i = 0; i < 16; i++)
		ck_assert_int_eq(shmdev_tx_alloc(pool, T_PLAYER, &obj, &h), 0);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_int_eq(shmdev_tx_alloc(pool, T_PLAYER, &obj, &h), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "is full"));
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st2), 0);
	ck_assert_uint_eq(st.log_used, st2.log_used);
	ck_assert_int_eq(shmdev_tx_abort(pool), 0);
	ck_assert_uint_eq(live(pool, T_PLAYER), 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* A child that trades, frees D and dies (SIGKILL) at @at: NULL after the trade. */
struct crash_arg {
	struct shmdev_conf *conf;
	struct world w;
};

static int trade_child(void *arg)
{
	struct crash_arg *a = arg;
	struct shmdev_pool *pool = NULL;

	if (shmdev_pool_open(ctx, a->conf, types, 2, 0, &pool))
		return 2;
	reload(pool, &a->w);
	trade(pool, &a->w);
	if (shmdev_tx_free(pool, a->w.d))
		return 3;
	if (shmdev_tx_commit(pool))
		return 4;
	raise(SIGKILL);
	return 5;
}

START_TEST(test_crash_rolls_back)
{
	struct crash_arg a = { .conf = mkconf(NULL) };
	struct shmdev_pool *pool = open_pool(a.conf);
	struct player before_a, before_b;
	struct shmdev_pool_stats ps;
	struct shmdev_tx_stats st;

	mkworld(pool, &a.w);
	before_a = *a.w.pa;
	before_b = *a.w.pb;
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Killed after the writes and the alloc, before the commit. */
	setenv("SHMDEV_TEST_KILL_AT", "tx:committing", 1);
	ck_assert_int_eq(tu_run_in_child(trade_child, &a), 1000 + SIGKILL);
	unsetenv("SHMDEV_TEST_KILL_AT");
	/* A read-only inspector sees the transaction open. */
	pool = tu_pool_open(ctx, a.conf, NULL, 0, SHMDEV_POOL_RDONLY);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert(st.active);
	ck_assert_uint_gt(st.log_used, 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	pool = tu_pool_start(ctx, a.conf, types, 2, 0, SHMDEV_START_RESUMED_CRASH);
	reload(pool, &a.w);
	ck_assert_mem_eq(a.w.pa, &before_a, sizeof(before_a));
	ck_assert_mem_eq(a.w.pb, &before_b, sizeof(before_b));
	ck_assert_ptr_nonnull(shmdev_get(pool, a.w.d));
	ck_assert_uint_eq(live(pool, T_ITEM), 1);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert(!st.active);
	ck_assert_uint_eq(st.rolled_back, 1);
	ck_assert_uint_eq(st.open_rolled_back, 1);
	ck_assert_uint_eq(st.open_rolled_back_bytes, 8 + 256 + 32);
	ck_assert_uint_eq(st.rolled_back_bytes, 8 + 256 + 32);
	ck_assert_uint_eq(st.open_rolled_back_allocs, 1);
	shmdev_pool_stats(pool, &ps);
	ck_assert_uint_eq(ps.repaired_objects, 3);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* The next open has nothing to do; the totals stay. */
	pool = tu_pool_start(ctx, a.conf, types, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.rolled_back, 1);
	ck_assert_uint_eq(st.open_rolled_back, 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(a.conf);
}
END_TEST

START_TEST(test_crash_after_commit)
{
	struct crash_arg a = { .conf = mkconf(NULL) };
	struct shmdev_pool *pool = open_pool(a.conf);
	struct shmdev_tx_stats st;

	mkworld(pool, &a.w);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Committed, its free of D not applied yet. */
	setenv("SHMDEV_TEST_KILL_AT", "tx:committed", 1);
	ck_assert_int_eq(tu_run_in_child(trade_child, &a), 1000 + SIGKILL);
	unsetenv("SHMDEV_TEST_KILL_AT");
	pool = tu_pool_start(ctx, a.conf, types, 2, 0, SHMDEV_START_RESUMED_CRASH);
	reload(pool, &a.w);
	ck_assert_uint_eq(a.w.pa->gold, 70);
	ck_assert_uint_eq(a.w.pb->gold, 130);
	ck_assert_ptr_null(shmdev_get(pool, a.w.d));
	ck_assert_ptr_nonnull(shmdev_get(pool, a.w.pb->slot[1]));
	ck_assert_uint_eq(live(pool, T_ITEM), 1);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.finished, 1);
	ck_assert_uint_eq(st.open_finished, 1);
	ck_assert_uint_eq(st.rolled_back, 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Killed after the whole commit: nothing to do at the next open. */
	pool = open_pool(a.conf);
	reload(pool, &a.w);
	a.w.d = a.w.pb->slot[1];
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	setenv("SHMDEV_TEST_KILL_AT", "tx:commit-done", 1);
	ck_assert_int_eq(tu_run_in_child(trade_child, &a), 1000 + SIGKILL);
	unsetenv("SHMDEV_TEST_KILL_AT");
	pool = tu_pool_start(ctx, a.conf, types, 2, 0, SHMDEV_START_RESUMED_CRASH);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.open_finished + st.open_rolled_back, 0);
	ck_assert_uint_eq(live(pool, T_ITEM), 1);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(a.conf);
}
END_TEST

/* Close with a transaction open aborts it. */
START_TEST(test_close_aborts)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct shmdev_tx_stats st;
	struct world w;

	mkworld(pool, &w);
	trade(pool, &w);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	pool = tu_pool_start(ctx, conf, types, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	reload(pool, &w);
	ck_assert_uint_eq(w.pa->gold, 100);
	ck_assert_uint_eq(w.pb->gold, 100);
	ck_assert_uint_eq(live(pool, T_ITEM), 1);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.aborts, 1);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

static int init_item(void *obj, shmdev_handle_t h, void *arg)
{
	struct item *it = obj;

	it->serial = 77;
	it->owner = *(shmdev_handle_t *)arg;
	(void)h;
	return 0;
}

static int init_fails(void *obj, shmdev_handle_t h, void *arg)
{
	(void)obj;
	(void)h;
	(void)arg;
	return -ECANCELED;
}

START_TEST(test_publish)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	struct world w;
	struct item *it;
	shmdev_handle_t h;
	uint64_t local = 0;

	mkworld(pool, &w);
	ck_assert_int_eq(shmdev_alloc_publish(pool, T_ITEM, &w.pa->slot[1], init_item, &w.a,
					      (void **)&it, &h), 0);
	ck_assert(!shmdev_tx_active(pool));
	ck_assert_uint_eq(w.pa->slot[1], h);
	ck_assert_ptr_eq(shmdev_get(pool, h), it);
	ck_assert_uint_eq(it->serial, 77);
	ck_assert_uint_eq(it->owner, w.a);
	/* init fails: nothing allocated, the field as it was, its error returned. */
	ck_assert_int_eq(shmdev_alloc_publish(pool, T_ITEM, &w.pa->slot[2], init_fails, NULL,
					      NULL, NULL), -ECANCELED);
	ck_assert_uint_eq(w.pa->slot[2], 0);
	ck_assert_uint_eq(live(pool, T_ITEM), 2);
	/* A destination outside the pool. */
	ck_assert_int_eq(shmdev_alloc_publish(pool, T_ITEM, &local, NULL, NULL, NULL, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "tx_add: range"));
	ck_assert(!shmdev_tx_active(pool));
	/* Inside a transaction it joins it: undone by the abort. */
	ck_assert_int_eq(shmdev_tx_begin(pool), 0);
	ck_assert_int_eq(shmdev_alloc_publish(pool, T_ITEM, &w.pb->slot[3], NULL, NULL, NULL, &h), 0);
	ck_assert(shmdev_tx_active(pool));
	ck_assert_int_eq(shmdev_tx_abort(pool), 0);
	ck_assert_uint_eq(w.pb->slot[3], 0);
	ck_assert_ptr_null(shmdev_get(pool, h));
	ck_assert_uint_eq(live(pool, T_ITEM), 2);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* TxLogSize: 0 means no log; a resume keeps the created size. */
START_TEST(test_conf_log_size)
{
	struct shmdev_conf *conf = mkconf("TxLogSize = 0\n"), *big;
	struct shmdev_pool *pool = open_pool(conf);
	struct shmdev_tx_stats st;
	struct shmdev_conf *bad = NULL;

	ck_assert_int_eq(shmdev_tx_begin(pool), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "the pool has no transaction log"));
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.log_size, 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* A resume with a log configured still has none (warned). */
	big = mkconf(NULL);
	pool = open_pool(big);
	ck_assert_int_eq(shmdev_tx_begin(pool), -ENOSPC);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(big);
	tu_pool_destroy(ctx, conf);
	big = mkconf("TxLogSize = 1M\n");
	pool = open_pool(big);
	ck_assert_int_eq(shmdev_pool_tx_stats(pool, &st), 0);
	ck_assert_uint_eq(st.log_size, 1 << 20);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(big);
	ck_assert_int_eq(shmdev_conf_load_string(ctx, "ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\nTxLogSize = 1000\n",
						 "t.ini", "p", &bad), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "t.ini:6: TxLogSize \"1000\": must be 0 (no transactions) or a multiple of 4096 bytes (4K)");
	ck_assert_int_eq(shmdev_conf_load_string(ctx, "ProcessList = p\n[p]\nBaseKey = 1\nBlockSize = 4K\nBlockKey = 2\nTxLogSize = 2G\n",
						 "t.ini", "p", &bad), -EINVAL);
	ck_assert_str_eq(shmdev_errmsg(ctx), "t.ini:6: TxLogSize \"2G\": larger than the 1G limit");
	ck_assert_ptr_null(bad);
}
END_TEST

/* Poke the base region of the test pool: @off bytes in, @len bytes of @v. */
static void poke(uint64_t off, const void *v, size_t len, void *old)
{
	struct shmdev_region *r = NULL;

	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(40), 0, 0, 0, &r), 0);
	if (old)
		memcpy(old, (char *)shmdev_region_addr(r) + off, len);
	memcpy((char *)shmdev_region_addr(r) + off, v, len);
	shmdev_region_close(r);
}

static void open_fails(struct shmdev_conf *conf, const char *what)
{
	struct shmdev_pool *pool = NULL;

	ck_assert_int_eq(shmdev_pool_open(ctx, conf, types, 2, 0, &pool), -EUCLEAN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), what), "%s", shmdev_errmsg(ctx));
}

/*
 * A damaged log refuses the open, naming what is wrong, and never makes
 * the library read outside the region (the header's offset and size can
 * wrap; layout.h: tx_offset at byte 152, tx_size at 160).
 */
START_TEST(test_corrupt_log)
{
	struct shmdev_conf *conf = mkconf(NULL);
	struct shmdev_pool *pool = open_pool(conf);
	uint64_t place[2], bad[2] = { 1ULL << 63, (1ULL << 63) + 8192 }, v, off, magic;
	uint32_t state;
	struct world w;

	mkworld(pool, &w);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	poke(152, bad, sizeof(bad), place);
	off = place[0];
	open_fails(conf, "do not fit the base region");
	bad[0] = off + 4;	/* misaligned */
	bad[1] = place[1];
	poke(152, bad, sizeof(bad), NULL);
	open_fails(conf, "do not fit the base region");
	poke(152, place, sizeof(place), NULL);
	v = 0x1234;
	poke(off, &v, 8, &magic);
	open_fails(conf, "magic 0x0000000000001234");
	poke(off, &magic, 8, NULL);
	/* An unknown state, and an entry that runs past what is used. */
	state = 7;
	poke(off + 8, &state, 4, NULL);
	open_fails(conf, "transaction log: state 7 (corrupt)");
	state = 1;
	poke(off + 8, &state, 4, NULL);
	v = 100;
	poke(off + 16, &v, 8, NULL);
	v = 0xffffffff00000001ULL;	/* SNAP, 4 GiB of data */
	poke(off + 128, &v, 8, NULL);
	open_fails(conf, "transaction log: entry at byte 0 of 100 is corrupt");
	/* Put right: rolled back (an empty transaction), and usable. */
	v = 0;
	poke(off + 16, &v, 8, NULL);
	pool = open_pool(conf);
	ck_assert_int_eq(shmdev_tx_begin(pool), 0);
	ck_assert_int_eq(shmdev_tx_commit(pool), 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

static Suite *tx_suite(void)
{
	Suite *s = suite_create("tx");
	TCase *tc = tcase_create("tx");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_commit);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_free_at_commit);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_alloc_full);
	tcase_add_test(tc, test_crash_rolls_back);
	tcase_add_test(tc, test_crash_after_commit);
	tcase_add_test(tc, test_close_aborts);
	tcase_add_test(tc, test_publish);
	tcase_add_test(tc, test_conf_log_size);
	tcase_add_test(tc, test_corrupt_log);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("tx");
	tu_fixture(&ctx, sweep);
	return tu_run(tx_suite());
}
