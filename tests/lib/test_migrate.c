// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Field descriptions and migration on resume (issue 13).
 *
 *  - the C macros give each member's kind, offset and size from the struct;
 *  - bad descriptions are refused naming the type and the field, before
 *    anything is created;
 *  - the layout keeps each type's field table (shmdev_pool_type_field(),
 *    read-only too); a type stored without one gets it on a later open;
 *  - a changed type migrates: every exact rule (widening ints, uint to a
 *    wider int, float to double, longer byte arrays), new fields zeroed or
 *    defaulted, removed ones dropped, size grown and shrunk, fields moved;
 *    handles (slot, generation), keys, free lists and the block space carry
 *    over, the old slots go back to the blocks;
 *  - every non-exact change without a converter is refused naming type,
 *    field, both kinds, and the pool's bytes are untouched;
 *  - a converter handles the rest; a converter that fails leaves the old
 *    layout, and the next open migrates;
 *  - not enough free space: -ENOSPC naming the bytes and the block key
 *    remedy, nothing changed; with a block key appended it works;
 *  - stored field tables fuzzed (bytes flipped, entries made bad with a
 *    good checksum, the type entry pointing elsewhere): -EUCLEAN naming the
 *    type, from the open and the check, never a crash;
 *  - a transaction a crash left open is rolled back before a migration.
 * Runs on the backend SHMDEV_BACKEND selects.
 */
#include <signal.h>

#include "migrate_common.h"

START_TEST(test_macros)
{
	struct m {
		int8_t a;
		uint16_t b;
		long long c;
		float d;
		double e;
		char s[7];
		unsigned char u[3];
		struct pos p;
		int arr[2];
		bool flag;
	};
	static const struct shmdev_field f[] = {
		SHMDEV_FIELD(struct m, a), SHMDEV_FIELD(struct m, b), SHMDEV_FIELD(struct m, c),
		SHMDEV_FIELD(struct m, d), SHMDEV_FIELD(struct m, e), SHMDEV_FIELD(struct m, s),
		SHMDEV_FIELD(struct m, u), SHMDEV_FIELD(struct m, p), SHMDEV_FIELD(struct m, p.y),
		SHMDEV_FIELD(struct m, arr), SHMDEV_FIELD(struct m, flag),
	};
	static const uint32_t kind[] = { SHMDEV_FIELD_INT, SHMDEV_FIELD_UINT, SHMDEV_FIELD_INT,
		SHMDEV_FIELD_FLOAT, SHMDEV_FIELD_DOUBLE, SHMDEV_FIELD_BYTES, SHMDEV_FIELD_BYTES,
		SHMDEV_FIELD_NONE, SHMDEV_FIELD_FLOAT, SHMDEV_FIELD_NONE, SHMDEV_FIELD_UINT };
	unsigned int i;

	for (i = 0; i < NF(f); i++)
		ck_assert_msg(f[i].kind == kind[i], "field %s: kind %u", f[i].name, f[i].kind);
	ck_assert_str_eq(f[8].name, "p.y");
	ck_assert_uint_eq(f[8].offset, offsetof(struct m, p.y));
	ck_assert_uint_eq(f[5].size, 7);
	ck_assert_uint_eq(f[2].offset, offsetof(struct m, c));
	ck_assert_str_eq(shmdev_field_kind_name(SHMDEV_FIELD_HANDLE), "handle");
	ck_assert_str_eq(shmdev_field_kind_name(99), "unknown");
}
END_TEST

/* Every bad description: -EINVAL naming the type and the field; no region made. */
START_TEST(test_bad_descriptions)
{
	static const struct {
		struct shmdev_field f[2];
		uint32_t n;
		const char *msg;
	} cases[] = {
		{ { { "a", SHMDEV_FIELD_INT, 0, 3, NULL } }, 1, "field \"a\": int of 3 bytes" },
		{ { { "a", SHMDEV_FIELD_FLOAT, 0, 8, NULL } }, 1, "float of 8 bytes" },
		{ { { "a", SHMDEV_FIELD_HANDLE, 0, 4, NULL } }, 1, "handle of 4 bytes" },
		{ { { "a", SHMDEV_FIELD_BYTES, 0, 0, NULL } }, 1, "bytes of 0 bytes" },
		{ { { "a", 42, 0, 4, NULL } }, 1, "kind 42" },
		{ { { "a", SHMDEV_FIELD_NONE, 0, 4, NULL } }, 1, "\"a\" has no kind" },
		{ { { "a", SHMDEV_FIELD_UINT, 60, 8, NULL } }, 1, "beyond the object's 64 bytes" },
		{ { { "a", SHMDEV_FIELD_UINT, 0, 8, NULL }, { "b", SHMDEV_FIELD_UINT, 4, 4, NULL } }, 2,
		  "\"a\" and \"b\" overlap" },
		{ { { "a", SHMDEV_FIELD_UINT, 0, 4, NULL }, { "a", SHMDEV_FIELD_UINT, 4, 4, NULL } }, 2,
		  "\"a\" is listed twice" },
		{ { { "", SHMDEV_FIELD_UINT, 0, 4, NULL } }, 1, "name must have 1 to 47 bytes" },
		{ { { "a23456789012345678901234567890123456789012345678", SHMDEV_FIELD_UINT, 0, 4, NULL } }, 1,
		  "name must have 1 to 47 bytes" },
		{ { { NULL, SHMDEV_FIELD_UINT, 0, 4, NULL } }, 1, "field 0 has no name" },
	};
	struct shmdev_conf *conf = mkconf(1, "64K");
	struct shmdev_region_info info;
	struct shmdev_pool *pool = NULL;
	struct shmdev_type t = { .id = 3, .name = "Bad", .size = 64, .max_count = 4 };
	unsigned int i;
	int err;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t.fields = cases[i].f;
		t.nr_fields = cases[i].n;
		err = shmdev_pool_open(ctx, conf, &t, 1, 0, &pool);
		ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), "type 3 \"Bad\"") &&
			      strstr(shmdev_errmsg(ctx), cases[i].msg),
			      "case %u: %d %s", i, err, shmdev_errmsg(ctx));
		ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), tu_key(0), &info), -ENOENT);
	}
	t.nr_fields = 3;
	t.fields = NULL;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, &t, 1, 0, &pool), -EINVAL);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "3 fields but no field array"));
	t.nr_fields = 0;
	t.convert = (shmdev_convert_fn)1;
	ck_assert_int_eq(shmdev_pool_open(ctx, conf, &t, 1, 0, &pool), -EINVAL);
	shmdev_conf_free(conf);
}
END_TEST

/* The stored table, sorted by offset, read by an owner and a read-only attach. */
START_TEST(test_stored_table)
{
	struct shmdev_conf *conf = mkconf(3, "64K");
	struct shmdev_type plain[3] = { tv1[0], tv1[1],
		{ .id = 5, .name = "Bare", .size = 16, .max_count = 4 } };
	struct shmdev_field_info fi;
	struct shmdev_pool *pool, *ro;
	uint32_t i;

	pool = tu_pool_start(ctx, conf, plain, 3, 0, SHMDEV_START_CREATED);
	ro = tu_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY);
	for (i = 0; shmdev_pool_type_field(ro, T_P, i, &fi) == 0; i++) {
		ck_assert_uint_le(i, NF(f1));
		if (i)
			ck_assert_uint_gt(fi.offset, 0);
	}
	ck_assert_uint_eq(i, NF(f1));
	ck_assert_int_eq(shmdev_pool_type_field(pool, T_P, 4, &fi), 0);
	ck_assert_str_eq(fi.name, "pos.x");
	ck_assert_uint_eq(fi.kind, SHMDEV_FIELD_FLOAT);
	ck_assert_uint_eq(fi.offset, offsetof(struct v1, pos.x));
	ck_assert_int_eq(shmdev_pool_type_field(pool, T_P, 7, &fi), 0);
	ck_assert_str_eq(fi.name, "friend_h");
	ck_assert_uint_eq(fi.kind, SHMDEV_FIELD_HANDLE);
	ck_assert_int_eq(shmdev_pool_type_field(pool, 5, 0, &fi), -ENOENT);
	ck_assert_int_eq(shmdev_pool_type_field(pool, 9, 0, &fi), -ENOENT);
	ck_assert_int_eq(shmdev_pool_type_field(NULL, 1, 0, &fi), -EINVAL);
	ck_assert_int_eq(shmdev_pool_check(ro), 0);
	shmdev_pool_close(ro);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* The same description again: a clean resume, nothing migrated. */
	pool = tu_pool_start(ctx, conf, plain, 3, 0, SHMDEV_START_RESUMED_CLEAN);
	{
		struct shmdev_pool_stats st;

		shmdev_pool_stats(pool, &st);
		ck_assert_uint_eq(st.migrated_objects, 0);
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* A described type raised (no other change): a raise, not a migration. */
	plain[1].max_count = 3 * NR;
	pool = tu_pool_start(ctx, conf, plain, 3, 0, SHMDEV_START_RESUMED_CLEAN);
	{
		struct shmdev_pool_stats st;
		struct shmdev_type_stats ts;

		shmdev_pool_stats(pool, &st);
		ck_assert_uint_eq(st.migrated_objects, 0);
		ck_assert_int_eq(shmdev_pool_type_stats(pool, T_K, &ts), 0);
		ck_assert_uint_eq(ts.max_count, 3 * NR);
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* v1 -> v2: every exact rule at once, handles and keys kept, space given back. */
START_TEST(test_migrate_v1_v2)
{
	struct shmdev_conf *conf = mkconf(3, "64K");
	struct shmdev_pool_stats st;
	struct shmdev_pool *pool;
	struct world w;
	uint64_t before, after;
	shmdev_handle_t h;
	void *obj;
	unsigned int n;

	build_v1(conf, &w);
	pool = tu_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY);
	before = free_bytes(pool);
	shmdev_pool_close(pool);
	pool = tu_pool_start(ctx, conf, tv2, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	shmdev_pool_stats(pool, &st);
	ck_assert_uint_eq(st.migrated_objects, 2 * NR - 16 + 4);
	ck_assert_uint_eq(st.migrated_bytes, st.migrated_objects * sizeof(struct v1));
	check_v2(pool, &w, "after the migration");
	/* The old slots went back: the new ones cost only their difference. */
	after = free_bytes(pool);
	ck_assert_msg(before - after < (sizeof(struct v2) + 16) * (2 * NR + 8) + 2 * (32 + 64 * NF(f2)) -
				       (sizeof(struct v1) + 16) * 2 * NR - 2 * (32 + 64 * NF(f1)) + 1024,
		      "free bytes before %" PRIu64 ", after %" PRIu64, before, after);
	/* The free lists carried over: exactly the freed slots are allocatable. */
	for (n = 0; shmdev_alloc(pool, T_P, &obj, &h) == 0; n++)
		ck_assert_uint_eq(((struct v2 *)obj)->added, 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* v2 again: nothing to do.  Then read-only. */
	pool = tu_pool_start(ctx, conf, tv2, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	shmdev_pool_stats(pool, &st);
	ck_assert_uint_eq(st.migrated_objects, 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	pool = tu_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY);
	check_v2(pool, &w, "read-only");
	shmdev_pool_close(pool);
	/* A read-only open never migrates: v2 as version 3 read-only is -EROFS. */
	{
		struct shmdev_type back[2] = { tv2[0], tv2[1] };

		back[0].version = back[1].version = 3;
		ck_assert_int_eq(shmdev_pool_open(ctx, conf, back, 2, SHMDEV_POOL_RDONLY, &pool), -EROFS);
	}
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "a read-only open cannot migrate it"));
	pool = tu_pool_open(ctx, conf, tv2, 2, SHMDEV_POOL_RDONLY);
	shmdev_pool_close(pool);
	shmdev_conf_free(conf);
}
END_TEST

/* A type stored without fields gets them (same struct), then migrates. */
START_TEST(test_describe_later)
{
	struct shmdev_conf *conf = mkconf(3, "64K");
	struct shmdev_type bare[2] = { tv1[0], tv1[1] };
	struct shmdev_field_info fi;
	struct shmdev_pool *pool;
	struct world w;
	int err;

	bare[0].nr_fields = bare[1].nr_fields = 0;
	bare[0].fields = bare[1].fields = NULL;
	memset(&w, 0, sizeof(w));
	/* Built bare: the same objects, then the description added. */
	pool = tu_pool_start(ctx, conf, bare, 2, 0, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Bare to v2 directly: today's refusal (no stored fields). */
	err = shmdev_pool_open(ctx, conf, tv2, 2, 0, &pool);
	ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), "size was 48, now"),
		      "%d %s", err, shmdev_errmsg(ctx));
	pool = tu_pool_start(ctx, conf, tv1, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_type_field(pool, T_K, 0, &fi), 0);
	ck_assert_str_eq(fi.name, "id");
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* A program without descriptions keeps today's rules and the table. */
	pool = tu_pool_start(ctx, conf, bare, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_type_field(pool, T_K, 0, &fi), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	pool = tu_pool_start(ctx, conf, tv2, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* Shrink: v2 -> a smaller v3 (fields dropped), objects and keys kept. */
START_TEST(test_shrink)
{
	struct v3 {
		int64_t hp;
		uint64_t id;
	};
	static const struct shmdev_field f3[] = { SHMDEV_FIELD(struct v3, hp), SHMDEV_FIELD(struct v3, id) };
	struct shmdev_type tv3[2] = { tv2[0], tv2[1] };
	struct shmdev_conf *conf = mkconf(3, "64K");
	struct shmdev_pool *pool;
	struct world w;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		tv3[i].size = sizeof(struct v3);
		tv3[i].version = 3;
		tv3[i].fields = f3;
		tv3[i].nr_fields = NF(f3);
	}
	build_v1(conf, &w);
	pool = tu_pool_start(ctx, conf, tv2, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	pool = tu_pool_start(ctx, conf, tv3, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	for (i = 0; i < NR; i++) {
		const struct v3 *o = shmdev_get(pool, w.h[1][i]);

		ck_assert(!o == !w.live[1][i]);
		if (o) {
			ck_assert_uint_eq(o->id, 0xf0000000u + i);
			ck_assert_int_eq(o->hp, i % 2 ? -1000 - (int)i : 1000 + (int)i);
			ck_assert_ptr_eq(shmdev_find(pool, T_K, 1000 + i, NULL), o);
		}
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST
struct rule_case {
	uint32_t ok, nk, os, ns;	/* kinds and sizes */
	bool exact;
};

static const struct rule_case rules[] = {
	{ SHMDEV_FIELD_INT, SHMDEV_FIELD_INT, 4, 2, false },
	{ SHMDEV_FIELD_INT, SHMDEV_FIELD_INT, 1, 8, true },
	{ SHMDEV_FIELD_INT, SHMDEV_FIELD_UINT, 4, 8, false },
	{ SHMDEV_FIELD_UINT, SHMDEV_FIELD_UINT, 2, 8, true },
	{ SHMDEV_FIELD_UINT, SHMDEV_FIELD_UINT, 8, 4, false },
	{ SHMDEV_FIELD_UINT, SHMDEV_FIELD_INT, 4, 4, false },
	{ SHMDEV_FIELD_UINT, SHMDEV_FIELD_INT, 2, 4, true },
	{ SHMDEV_FIELD_UINT, SHMDEV_FIELD_FLOAT, 4, 4, false },
	{ SHMDEV_FIELD_INT, SHMDEV_FIELD_DOUBLE, 4, 8, false },
	{ SHMDEV_FIELD_FLOAT, SHMDEV_FIELD_DOUBLE, 4, 8, true },
	{ SHMDEV_FIELD_DOUBLE, SHMDEV_FIELD_FLOAT, 8, 4, false },
	{ SHMDEV_FIELD_FLOAT, SHMDEV_FIELD_INT, 4, 4, false },
	{ SHMDEV_FIELD_HANDLE, SHMDEV_FIELD_UINT, 8, 8, false },
	{ SHMDEV_FIELD_UINT, SHMDEV_FIELD_HANDLE, 8, 8, false },
	{ SHMDEV_FIELD_BYTES, SHMDEV_FIELD_BYTES, 8, 4, false },
	{ SHMDEV_FIELD_BYTES, SHMDEV_FIELD_BYTES, 4, 8, true },
	{ SHMDEV_FIELD_BYTES, SHMDEV_FIELD_UINT, 8, 8, false },
};

/*
 * Each rule alone on a field "f" at offset 8 of a 32-byte object (value
 * bytes 0xc1 ...): exact ones migrate with the value converted, the others
 * are refused naming type, field and kinds, and no byte of the pool moved.
 */
START_TEST(test_rules)
{
	const struct rule_case *rc = &rules[_i];
	struct shmdev_field of[2] = { { "tag", SHMDEV_FIELD_UINT, 0, 8, NULL },
				      { "f", rc->ok, 8, rc->os, NULL } };
	struct shmdev_field nf[2] = { { "tag", SHMDEV_FIELD_UINT, 0, 8, NULL },
				      { "f", rc->nk, 16, rc->ns, NULL } };
	struct shmdev_type t = { .id = 1, .name = "R", .size = 32, .version = 1, .max_count = 4,
				 .nr_fields = 2, .fields = of };
	struct shmdev_conf *conf = mkconf(1, "64K");
	struct shmdev_pool *pool;
	unsigned char *o, val[8] = { 0xc1, 0x82, 0x43, 0x84, 0x45, 0x86, 0x47, 0xc8 };
	struct image im;
	shmdev_handle_t h;
	char want[160], k1[24], k2[24];
	int err;

	if (rc->ok == SHMDEV_FIELD_FLOAT) {
		float f = -2.5f;

		memcpy(val, &f, 4);
	}
	pool = tu_pool_start(ctx, conf, &t, 1, 0, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_alloc(pool, 1, (void **)&o, &h), 0);
	memcpy(o, "tagtag!!", 8);
	memcpy(o + 8, val, rc->os);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	take_image(&im, 1);
	t.fields = nf;
	t.version = 2;
	err = shmdev_pool_open(ctx, conf, &t, 1, 0, &pool);
	if (!rc->exact) {
		snprintf(want, sizeof(want), "type 1 \"R\": field \"f\" was %s of %u bytes, now %s of %u bytes",
			 layout_kind_name(rc->ok, k1, sizeof(k1)), rc->os,
			 layout_kind_name(rc->nk, k2, sizeof(k2)), rc->ns);
		ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), want) &&
			      strstr(shmdev_errmsg(ctx), "nothing was changed"),
			      "rule %d: %d %s", _i, err, shmdev_errmsg(ctx));
		same_image(&im, 1, "a refused migration");
		shmdev_conf_free(conf);
		return;
	}
	for (err = 0; err < (int)im.n; err++)
		free(im.b[err]);
	ck_assert_msg(pool, "rule %d: %s", _i, shmdev_errmsg(ctx));
	o = shmdev_get(pool, h);
	ck_assert_ptr_nonnull(o);
	ck_assert(!memcmp(o, "tagtag!!", 8));
	if (rc->nk == SHMDEV_FIELD_DOUBLE) {
		double d;

		memcpy(&d, o + 16, 8);
		ck_assert(d == -2.5);
	} else if (rc->nk == SHMDEV_FIELD_BYTES) {
		ck_assert(!memcmp(o + 16, val, rc->os) && !o[16 + rc->os]);
	} else {
		int64_t v = 0, want_v = 0;

		memcpy(&v, o + 16, rc->ns);
		memcpy(&want_v, val, rc->os);
		if (rc->ok == SHMDEV_FIELD_INT)	/* sign-extended */
			want_v = (int64_t)((uint64_t)want_v << (64 - 8 * rc->os)) >> (64 - 8 * rc->os);
		ck_assert_msg(v == want_v, "rule %d: 0x%" PRIx64 " != 0x%" PRIx64, _i, v, want_v);
	}
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST


/*
 * A transaction a crash left open names its snapshots by the objects'
 * places, and the open rolls it back after the layout change: a build
 * that would migrate is refused (-EAGAIN, every region as it was), the
 * build that crashed rolls it back, and then the migration runs.
 */
struct tx_crash_arg {
	struct shmdev_conf *conf;
	shmdev_handle_t h, h2;
};

static int tx_crash_child(void *arg)
{
	struct tx_crash_arg *a = arg;
	struct shmdev_pool *pool = NULL;
	struct v1 *o;

	if (shmdev_pool_open(ctx, a->conf, tv1, 2, 0, &pool))
		return 2;
	o = shmdev_get(pool, a->h);
	if (!o || shmdev_tx_begin(pool) || shmdev_tx_add(pool, o, sizeof(*o)))
		return 3;
	o->hp = 7;
	o->level = 9;
	raise(SIGKILL);
	return 4;
}

START_TEST(test_tx_open_blocks_migration)
{
	struct tx_crash_arg a = { .conf = mkconf(3, "64K") };
	struct shmdev_pool *pool = NULL;
	struct image im;
	struct world w;
	struct v1 *o;

	build_v1(a.conf, &w);
	a.h = w.h[0][1];
	ck_assert_int_eq(tu_run_in_child(tx_crash_child, &a), 1000 + SIGKILL);
	take_image(&im, 3);
	ck_assert_int_eq(shmdev_pool_open(ctx, a.conf, tv2, 2, 0, &pool), -EAGAIN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "2 type(s) would migrate, but a transaction that a crash interrupted is still open"),
		      "%s", shmdev_errmsg(ctx));
	same_image(&im, 3, "the refused migration");
	/* The build that crashed rolls it back ... */
	pool = tu_pool_start(ctx, a.conf, tv1, 2, 0, SHMDEV_START_RESUMED_CRASH);
	o = shmdev_get(pool, a.h);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(o->hp, -1001);
	ck_assert_uint_eq(o->level, 201);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* ... and the new one migrates. */
	pool = tu_pool_start(ctx, a.conf, tv2, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	check_v2(pool, &w, "a migration after the rollback");
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(a.conf);
}
END_TEST

/*
 * A threaded owner (SHMDEV_POOL_THREADS) killed with slots in its thread
 * cache (state CACHED, libshmdev/pool_cache.c): the next build migrates
 * before it repairs, so the cached slots are carried as they are and the
 * repair frees them in the new layout.  Nothing cached is migrated as an
 * object, nothing is lost: every cached slot allocates again.
 */
static int cached_crash_child(void *arg)
{
	struct tx_crash_arg *a = arg;
	struct shmdev_pool *pool = NULL;

	if (shmdev_pool_open(ctx, a->conf, tv1, 2, SHMDEV_POOL_THREADS, &pool))
		return 2;
	/* Two live plain objects freed into this thread's cache. */
	if (shmdev_free(pool, a->h) || shmdev_free(pool, a->h2))
		return 3;
	raise(SIGKILL);
	return 4;
}

START_TEST(test_thread_cache_crash_then_migration)
{
	struct tx_crash_arg a = { .conf = mkconf(3, "64K") };
	struct shmdev_pool_stats st;
	struct shmdev_pool *pool = NULL;
	struct world w;
	shmdev_handle_t h;
	void *obj;
	unsigned int n;

	build_v1(a.conf, &w);
	a.h = w.h[0][1];
	a.h2 = w.h[0][2];
	ck_assert_int_eq(tu_run_in_child(cached_crash_child, &a), 1000 + SIGKILL);
	w.live[0][1] = w.live[0][2] = false;
	pool = tu_pool_start(ctx, a.conf, tv2, 2, 0, SHMDEV_START_RESUMED_CRASH);
	shmdev_pool_stats(pool, &st);
	ck_assert_uint_eq(st.migrated_objects, 2 * NR - 16 + 4 - 2);
	check_v2(pool, &w, "a migration after a threaded owner's crash");
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	/* The 4 slots free before, and the 2 the cache held. */
	for (n = 0; shmdev_alloc(pool, T_P, &obj, &h) == 0; n++)
		ck_assert_uint_eq(((struct v2 *)obj)->added, 0);
	ck_assert_uint_eq(n, 4 + 2);
	/* Reused at their next generation: the freed handles stay stale. */
	ck_assert_ptr_null(shmdev_get(pool, a.h));
	ck_assert_ptr_null(shmdev_get(pool, a.h2));
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(a.conf);
}
END_TEST


/* level (uint8 -> int32) needs no converter; hp int16 -> float does. */
int main(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc;

	tu_init("migrate");
	tu_fixture(&ctx, sweep);
	tc = tcase_create("fields");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_macros);
	tcase_add_test(tc, test_bad_descriptions);
	tcase_add_test(tc, test_stored_table);
	suite_add_tcase(s, tc);
	tc = tcase_create("migration");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_migrate_v1_v2);
	tcase_add_test(tc, test_describe_later);
	tcase_add_test(tc, test_shrink);
	tcase_add_test(tc, test_tx_open_blocks_migration);
	tcase_add_test(tc, test_thread_cache_crash_then_migration);
	tcase_add_loop_test(tc, test_rules, 0, (int)(sizeof(rules) / sizeof(rules[0])));
	suite_add_tcase(s, tc);
	return tu_run(s);
}
