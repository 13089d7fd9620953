// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shmpoolctl on pools: pool show (types, blocks, field tables, the
 * transaction log), pool check on a closed, a corrupted and a live pool,
 * dump/restore of retired slots.  Part of test_shmpoolctl (ctltest.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "layout.h"
#include "shmpoolctl.h"
#include "testutil.h"
#include "ctltest.h"

static const struct shmdev_type pool_types[] = {
	{ .id = 0, .name = "Item", .size = 40, .version = 2, .max_count = 100 },
	{ .id = 3, .name = "Player", .size = 200, .align = 16, .version = 5,
	  .max_count = 20, .flags = SHMDEV_TYPE_KEYED },
};

static void pool_conf_text(char *buf, size_t len)
{
	snprintf(buf, len, "ProcessList = zone\n[zone]\nBaseKey = 0x%" PRIx64
		 "\nBlockSize = 64K\nBlockKey = 0x%" PRIx64 "\nBlockKey = 0x%" PRIx64 "\n",
		 tu_key(20), tu_key(21), tu_key(22));
}

/* The pool's owner: 7 items and 2 players; with @arg != NULL, a clean exit. */
static int pool_owner(void *arg)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	char text[512];
	void *obj;
	shmdev_handle_t hd;
	int i;

	pool_conf_text(text, sizeof(text));
	if (shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf) ||
	    shmdev_pool_open(ctx, conf, pool_types, 2, 0, &pool))
		return 1;
	for (i = 0; i < 7; i++)
		if (shmdev_alloc(pool, 0, &obj, &hd))
			return 2;
	if (shmdev_force_get(pool, 3, 1001, &obj, &hd, NULL) ||
	    shmdev_force_get(pool, 3, 1002, &obj, &hd, NULL))
		return 3;
	if (arg)
		return shmdev_pool_close(pool) ? 4 : 0;
	return 0;	/* held: the parent kills us */
}

static void destroy_test_pool(void)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_conf *conf;
	char text[512];

	pool_conf_text(text, sizeof(text));
	if (!shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf)) {
		shmdev_pool_destroy(ctx, conf);
		shmdev_conf_free(conf);
	}
	shmdev_ctx_unref(ctx);
}

/*
 * pool show's block table (text @out, JSON @json) must be the library's
 * BlockBase table: the pool's owner carved Item and Player from block 0,
 * and block 1 holds nothing but its header.
 */
static void check_block_table(const char *out, const char *json)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_block_stats bs[3];
	struct shmdev_conf *conf = NULL;
	struct shmdev_pool *pool = NULL;
	char text[512], want[256];
	uint32_t b;

	pool_conf_text(text, sizeof(text));
	ck_assert_int_eq(shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf), 0);
	ck_assert_msg(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool) == 0,
		      "%s", shmdev_errmsg(ctx));
	for (b = 0; b < 3 && shmdev_pool_block_stats(pool, b, &bs[b]) == 0; b++) {
		snprintf(want, sizeof(want), "\n%-5u 0x%016" PRIx64 " %12d %12" PRIu64 " %12" PRIu64 " ",
			 b, tu_key(21 + b), 65536, bs[b].used_bytes, bs[b].free_bytes);
		ck_contains(out, want);
		snprintf(want, sizeof(want), "{\"index\":%u,\"key\":%" PRIu64 ",\"size\":65536,\"used_bytes\":%" PRIu64
			 ",\"free_bytes\":%" PRIu64 "}", b, tu_key(21 + b), bs[b].used_bytes, bs[b].free_bytes);
		ck_contains(json, want);
	}
	ck_assert_uint_eq(b, 2);
	/* 100 Items of 40 bytes and 20 Players of 200, with slot headers and an index. */
	ck_assert_uint_ge(bs[0].used_bytes, 100 * (16 + 40) + 20 * (16 + 200));
	ck_assert_uint_lt(bs[0].used_bytes, 65536);
	ck_assert_uint_eq(bs[0].used_bytes + bs[0].free_bytes, 65536);
	/* Block 1 holds only its identity header (64 bytes, libshmdev/layout.h). */
	snprintf(want, sizeof(want), "\n1     0x%016" PRIx64 "        65536           64        65472  99.9%%\n",
		 tu_key(22));
	ck_contains(out, want);
	ck_contains(json, "\"used_bytes\":64,\"free_bytes\":65472}]}\n");
	shmdev_pool_abandon(pool);
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
}

START_TEST(test_pool_show_check)
{
	char ini[512], text[512], want[128];
	struct run r, rj;
	struct tu_child c;
	int one = 1;

	pool_conf_text(text, sizeof(text));
	write_file(path_of("pool.ini", ini), text);
	ck_run(&r, 1, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.err, "no pool: base region");

	/* A pool whose owner is running. */
	tu_child_start(&c, pool_owner, NULL, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	snprintf(want, sizeof(want), "owner:       running, pid %d\n", (int)c.pid);
	ck_contains(r.out, want);
	ck_contains(r.out, "pool:        zone\n");
	snprintf(want, sizeof(want), "backend:     %s (", backend());
	ck_contains(r.out, want);
	ck_contains(r.out, "generation:  1\n");
	ck_contains(r.out, "Item ");
	ck_contains(r.out, "Player ");
	ck_contains(r.out, "           7          100   7.0%");
	ck_contains(r.out, "           2           20  10.0%");
	ck_contains(r.out, "\nblock key                        size         used         free  free%\n");
	ck_run(&rj, 0, "pool", "show", "--json", "-c", ini, "-p", "zone");
	ck_contains(rj.out, "\"last_run\":\"running\"");
	snprintf(want, sizeof(want), "\"backend\":\"%s\"", backend());
	ck_contains(rj.out, want);
	ck_contains(rj.out, "{\"id\":0,\"name\":\"Item\",\"size\":40,");
	ck_contains(rj.out, "\"used\":7,\"max\":100}");
	ck_contains(rj.out, "{\"id\":3,\"name\":\"Player\"");
	check_block_table(r.out, rj.out);
	ck_run(&r, 0, "pool", "check", "--conf", ini, "--process", "zone");
	ck_contains(r.out, "pool zone: consistent");

	/* Killed: the next look says it crashed. */
	tu_child_kill(&c);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.out, "last run:    crashed\n");

	/* A clean run (resume, repair, close) says so. */
	ck_assert_int_eq(tu_run_in_child(pool_owner, &one), 0);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.out, "last run:    clean exit\n");
	ck_contains(r.out, "generation:  2\n");
	ck_run(&r, 0, "pool", "check", "--conf", ini, "--process", "zone");
	destroy_test_pool();
}
END_TEST

/* An owner that dies inside a transaction (issue 14): held with one open. */
static int pool_owner_tx(void *arg)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	char text[512];
	uint64_t *obj;
	void *made;

	(void)arg;
	pool_conf_text(text, sizeof(text));
	if (shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf) ||
	    shmdev_pool_open(ctx, conf, pool_types, 2, 0, &pool) ||
	    shmdev_alloc(pool, 0, (void **)&obj, NULL))
		return 1;
	if (shmdev_tx_begin(pool) || shmdev_tx_add(pool, obj, 8) ||
	    shmdev_tx_alloc(pool, 0, &made, NULL))
		return 2;
	*obj = 42;
	return 0;	/* held: the parent kills us */
}

/* pool show tells of the transaction log: one open, then rolled back. */
START_TEST(test_pool_show_tx)
{
	char ini[512], text[512];
	struct run r;
	struct tu_child c;
	int one = 1;

	pool_conf_text(text, sizeof(text));
	write_file(path_of("pool.ini", ini), text);
	tu_child_start(&c, pool_owner_tx, NULL, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.out, "transactions: log 65536 bytes, one open (56 bytes logged); 0 committed, 0 aborted\n");
	ck_contains(r.out, "after crashes: 0 rolled back (0 bytes restored, 0 allocations freed), 0 commits finished\n");
	tu_child_kill(&c);
	/* The next owner rolls it back before anything else. */
	ck_assert_int_eq(tu_run_in_child(pool_owner, &one), 0);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.out, "transactions: log 65536 bytes, none open; 0 committed, 0 aborted\n");
	ck_contains(r.out, "after crashes: 1 rolled back (8 bytes restored, 1 allocations freed), 0 commits finished\n");
	ck_run(&r, 0, "pool", "show", "--json", "--conf", ini, "--process", "zone");
	ck_contains(r.out, "\"tx\":{\"log_size\":65536,\"open\":false,\"log_used\":0,\"commits\":0,\"aborts\":0,\"rolled_back\":1,\"rolled_back_bytes\":8,\"rolled_back_allocs\":1,\"finished\":0}");
	destroy_test_pool();
}
END_TEST

/*
 * Issue 13: pool show prints a described type's field table (text and
 * --json), pool check covers it, and dump/restore of the pool's regions
 * carry it (the tables live in the blocks).
 */
START_TEST(test_pool_show_fields)
{
	struct fp {
		uint64_t id;
		int16_t hp;
		float pos_x;
		char name[10];
	};
	static const struct shmdev_field ff[] = {
		SHMDEV_FIELD(struct fp, id), SHMDEV_FIELD(struct fp, hp),
		SHMDEV_FIELD(struct fp, pos_x), SHMDEV_FIELD(struct fp, name),
	};
	struct shmdev_type t = { .id = 2, .name = "Fp", .size = sizeof(struct fp), .max_count = 5,
				 .nr_fields = 4, .fields = ff };
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_conf *conf = NULL;
	struct shmdev_pool *pool = NULL;
	char ini[512], text[512], h[32], f[3][512];
	const char *show = "\nfields of type 2 \"Fp\":\n  offset     size  kind    name\n"
			   "       0        8  uint    id\n       8        2  int     hp\n"
			   "      12        4  float   pos_x\n      16       10  bytes   name\n";
	struct run r;
	int i;

	pool_conf_text(text, sizeof(text));
	write_file(path_of("pool.ini", ini), text);
	ck_assert_int_eq(shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf), 0);
	ck_assert_msg(shmdev_pool_open(ctx, conf, &t, 1, 0, &pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.out, show);
	ck_run(&r, 0, "pool", "show", "--json", "-c", ini, "-p", "zone");
	ck_contains(r.out, "\"max\":5,\"fields\":[{\"name\":\"id\",\"kind\":\"uint\",\"offset\":0,\"size\":8},"
		    "{\"name\":\"hp\",\"kind\":\"int\",\"offset\":8,\"size\":2},");
	ck_run(&r, 0, "pool", "check", "--conf", ini, "--process", "zone");
	for (i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d.dump", i);
		ck_run(&r, 0, "dump", hex(tu_key(20 + i), h), path_of(name, f[i]));
	}
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	for (i = 0; i < 3; i++)
		ck_run(&r, 0, "restore", f[i]);
	ck_run(&r, 0, "pool", "show", "--conf", ini, "--process", "zone");
	ck_contains(r.out, show);
	ck_run(&r, 0, "pool", "check", "--conf", ini, "--process", "zone");
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
	destroy_test_pool();
}
END_TEST

/* Corrupt one live slot's tag: the check must find it and say so. */
START_TEST(test_pool_check_corrupt)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_region *blk;
	char ini[512], text[512];
	unsigned char *p;
	uint64_t i;
	struct run r;
	int one = 1;

	pool_conf_text(text, sizeof(text));
	write_file(path_of("pool.ini", ini), text);
	ck_assert_int_eq(tu_run_in_child(pool_owner, &one), 0);
	ck_run(&r, 0, "pool", "check", "--conf", ini, "--process", "zone");

	/* Scribble over the first block (where the slots live, after its header). */
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(21), 0, 0, 0, &blk), 0);
	p = shmdev_region_addr(blk);
	for (i = 64; i < 4096; i++)
		p[i] ^= 0xa5;
	shmdev_region_close(blk);
	ck_run(&r, 1, "pool", "check", "--conf", ini, "--process", "zone");
	ck_contains(r.err, "shmpoolctl: pool check zone: ");
	ck_assert_str_eq(r.out, "");
	shmdev_ctx_unref(ctx);
	destroy_test_pool();
}
END_TEST

/* The owner, churning: allocate and free without pause until killed. */
static int pool_churner(void *arg)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	shmdev_handle_t hs[16] = { 0 };
	unsigned int r = 1, i;
	char text[512];
	void *obj;

	pool_conf_text(text, sizeof(text));
	if (shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf) ||
	    shmdev_pool_open(ctx, conf, pool_types, 2, 0, &pool))
		return 1;
	__atomic_store_n((uint32_t *)arg, 1, __ATOMIC_RELEASE);
	for (;;) {
		r = r * 1103515245 + 12345;
		i = (r >> 8) % 16;
		if (hs[i]) {
			if (shmdev_free(pool, hs[i]))
				return 2;
			hs[i] = 0;
		} else if (i < 8) {
			if (shmdev_alloc(pool, 0, &obj, &hs[i]))
				return 3;
		} else if (shmdev_force_get(pool, 3, r >> 4, &obj, &hs[i], NULL)) {
			return 4;
		}
	}
}

/*
 * pool check while the owner churns: consistent (exit 0) or "pool is live"
 * (exit 3), never a false corruption (exit 1).
 */
START_TEST(test_pool_check_live)
{
	uint32_t *ready = mmap(NULL, sizeof(*ready), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char ini[512], text[512];
	unsigned int i, n = tu_quick() ? 10 : 60, ok = 0, live = 0;
	struct tu_child c;
	struct run r;

	ck_assert_ptr_ne(ready, MAP_FAILED);
	*ready = 0;
	pool_conf_text(text, sizeof(text));
	write_file(path_of("pool.ini", ini), text);
	tu_child_start(&c, pool_churner, ready, false);
	for (i = 0; i < 200000 && !__atomic_load_n(ready, __ATOMIC_ACQUIRE); i++)
		usleep(50);
	ck_assert_msg(*ready, "the owner did not open the pool");
	for (i = 0; i < n; i++) {
		CTL(&r, "pool", "check", "--conf", ini, "--process", "zone");
		ck_assert_msg(r.status == 0 || r.status == CTL_EXIT_LIVE,
			      "check %u of a live pool: exit %d\nstdout: %s\nstderr: %s",
			      i, r.status, r.out, r.err);
		if (r.status == 0) {
			ck_contains(r.out, "pool zone: consistent (owner running, pid ");
			ok++;
		} else {
			ck_contains(r.err, "shmpoolctl: pool check zone: check: pool is live (owner pid ");
			ck_contains(r.err, "consistency not checked");
			live++;
		}
	}
	ck_assert_int_eq(kill(c.pid, 0), 0);	/* the owner ran throughout */
	tu_child_kill(&c);
	printf("pool check of a live pool: %u consistent, %u live\n", ok, live);
	munmap(ready, sizeof(*ready));
	destroy_test_pool();
}
END_TEST

/*
 * A retired slot (its generations used up) survives dump and restore of
 * every region of the pool: still retired, its handles still stale.
 */
START_TEST(test_dump_restore_retired)
{
	struct shmdev_ctx *ctx = tu_ctx();
	struct shmdev_conf *conf = NULL;
	struct shmdev_pool *pool = NULL;
	struct shmdev_type_stats ts;
	struct layout_slot *s;
	shmdev_handle_t h, old;
	char text[512], f[3][512], name[32], key[32];
	void *obj, *retired;
	struct run r;
	int i;

	pool_conf_text(text, sizeof(text));
	ck_assert_int_eq(shmdev_conf_load_string(ctx, text, "pool.ini", "zone", &conf), 0);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, pool_types, 2, 0, &pool), 0);
	ck_assert_int_eq(shmdev_alloc(pool, 0, &retired, &h), 0);
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	/* Item: size 40, align 8: the slot header is the 16 bytes before it. */
	s = (struct layout_slot *)((char *)retired - 16);
	s->tag = layout_tag(LAYOUT_SLOT_FREE, SHMDEV_LAYOUT_GEN_MAX);
	ck_assert_int_eq(shmdev_alloc(pool, 0, &obj, &old), 0);
	ck_assert_ptr_eq(obj, retired);
	ck_assert_int_eq(shmdev_free(pool, old), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "p%d.dump", i);
		ck_run(&r, 0, "dump", hex(tu_key(20 + (unsigned int)i), key), path_of(name, f[i]));
	}
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	for (i = 0; i < 3; i++)
		ck_run(&r, 0, "restore", f[i]);
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, pool_types, 2, 0, &pool), 0);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, 0, &ts), 0);
	ck_assert_uint_eq(ts.retired_count, 1);
	ck_assert_ptr_null(shmdev_get(pool, old));
	ck_assert_int_eq(shmdev_free(pool, old), -ESTALE);
	ck_assert_int_eq(shmdev_alloc(pool, 0, &obj, &h), 0);
	ck_assert_ptr_ne(obj, retired);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	write_file(path_of("pool.ini", f[0]), text);
	ck_run(&r, 0, "pool", "check", "--conf", f[0], "--process", "zone");
	ck_contains(r.out, "pool zone: consistent\n");
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
	destroy_test_pool();
}
END_TEST

/* ---- the module (VM only) ------------------------------------------------ */


void ctl_add_pool_tcase(Suite *s)
{
	TCase *tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pool_show_check);
	tcase_add_test(tc, test_pool_show_tx);
	tcase_add_test(tc, test_pool_show_fields);
	tcase_add_test(tc, test_pool_check_corrupt);
	tcase_add_test(tc, test_pool_check_live);
	tcase_add_test(tc, test_dump_restore_retired);
	suite_add_tcase(s, tc);
}
