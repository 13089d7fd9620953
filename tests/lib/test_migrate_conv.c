// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Migration on resume (issue 13), continued from test_migrate.c:
 *  - a converter handles what no exact rule does (int16 -> float); without
 *    it the change is refused naming type, field and kinds, touching no
 *    byte; a converter that fails leaves the old layout and the next open
 *    migrates; a converter declared for another stored version or size
 *    (convert_from_version, convert_from_size) is refused, touching nothing;
 *  - not enough free space: -ENOSPC naming the bytes and the block key
 *    remedy, nothing changed; with a block key appended it works;
 *  - stored field tables fuzzed (every bit of a table flipped, entries made
 *    bad under a good checksum, the type entry pointing elsewhere under a
 *    good table checksum): -EUCLEAN naming the type from the owner open,
 *    the read-only open and the check, never a crash.
 * Runs on the backend SHMDEV_BACKEND selects.
 */
#include "migrate_common.h"

struct v4 {
	uint64_t id;
	float hp;
};

static int conv_v4(const void *old_obj, void *new_obj, void *data)
{
	const struct v1 *o = old_obj;
	struct v4 *n = new_obj;
	int *calls = data;

	if (o->id == 0xf0000000u + 13 && *calls < 0)
		return -1;	/* the failing converter */
	n->hp = (float)o->hp * 2;
	if (*calls >= 0)
		(*calls)++;
	return 0;
}

START_TEST(test_converter)
{
	static const struct shmdev_field f4[] = { SHMDEV_FIELD(struct v4, id), SHMDEV_FIELD(struct v4, hp) };
	struct shmdev_type tv4[2] = { tv1[0], tv1[1] };
	struct shmdev_conf *conf = mkconf(3, "64K");
	struct shmdev_pool *pool = NULL;
	struct image im;
	struct world w;
	unsigned int i;
	int calls = -1, err;

	for (i = 0; i < 2; i++) {
		tv4[i].size = sizeof(struct v4);
		tv4[i].version = 4;
		tv4[i].fields = f4;
		tv4[i].nr_fields = NF(f4);
	}
	build_v1(conf, &w);
	/* Without a converter: refused, naming the field and both kinds. */
	take_image(&im, 3);
	err = shmdev_pool_open(ctx, conf, tv4, 2, 0, &pool);
	ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), "type 1 \"Plain\": field \"hp\" was int of 2 bytes, now float of 4 bytes"),
		      "%d %s", err, shmdev_errmsg(ctx));
	same_image(&im, 3, "refused without a converter");
	/* A converter that fails on one object: the old layout stays, v1 opens. */
	for (i = 0; i < 2; i++) {
		tv4[i].convert = conv_v4;
		tv4[i].convert_data = &calls;
	}
	err = shmdev_pool_open(ctx, conf, tv4, 2, 0, &pool);
	ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), "the converter failed on slot 13"),
		      "%d %s", err, shmdev_errmsg(ctx));
	pool = tu_pool_open(ctx, conf, tv1, 2, 0);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	for (i = 0; i < NR; i++) {
		const struct v1 *o = shmdev_get(pool, w.h[1][i]);

		ck_assert(!o == !w.live[1][i]);
		ck_assert(!o || o->hp == (i % 2 ? -1000 - (int)i : 1000 + (int)i));
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* A converter declared for another stored version or size: refused, untouched. */
	take_image(&im, 3);
	tv4[0].convert_from_version = 2;
	err = shmdev_pool_open(ctx, conf, tv4, 2, 0, &pool);
	ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), "type 1 \"Plain\": its converter reads version 2 (0 bytes), but the stored type is version 1 (48 bytes)"),
		      "%d %s", err, shmdev_errmsg(ctx));
	same_image(&im, 3, "a converter for another version");
	tv4[0].convert_from_version = 1;
	tv4[0].convert_from_size = sizeof(struct v1) + 8;
	take_image(&im, 3);
	err = shmdev_pool_open(ctx, conf, tv4, 2, 0, &pool);
	ck_assert_msg(err == -EINVAL && strstr(shmdev_errmsg(ctx), "reads version 1 (56 bytes), but the stored type is version 1 (48 bytes)"),
		      "%d %s", err, shmdev_errmsg(ctx));
	same_image(&im, 3, "a converter for another size");
	tv4[0].convert_from_size = sizeof(struct v1);
	/* The converter that works: every live object through it once. */
	calls = 0;
	pool = tu_pool_start(ctx, conf, tv4, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(calls, 2 * NR - 16 + 4);
	for (i = 0; i < NR; i++) {
		const struct v4 *o = shmdev_get(pool, w.h[0][i]);

		ck_assert(!o == !w.live[0][i]);
		ck_assert(!o || (o->hp == 2.0f * (float)(i % 2 ? -1000 - (int)i : 1000 + (int)i) &&
				 o->id == 0xf0000000u + i));
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* Too little free space: -ENOSPC naming the bytes and the remedy, nothing changed. */
START_TEST(test_enospc)
{
	struct shmdev_type big[2] = { tv2[0], tv2[1] };
	struct shmdev_conf *conf = mkconf(1, "16K"), *conf2;
	struct shmdev_pool *pool = NULL;
	struct shmdev_type small[2] = { tv1[0], tv1[1] };
	struct image im;
	int err;

	small[0].max_count = small[1].max_count = 60;
	big[0].max_count = big[1].max_count = 60;
	pool = tu_pool_start(ctx, conf, small, 2, 0, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	take_image(&im, 1);
	err = shmdev_pool_open(ctx, conf, big, 2, 0, &pool);
	ck_assert_msg(err == -ENOSPC && strstr(shmdev_errmsg(ctx), "\": migrating it from 48 to") &&
		      strstr(shmdev_errmsg(ctx), "bytes of free block space") &&
		      strstr(shmdev_errmsg(ctx), "append a block key"),
		      "%d %s", err, shmdev_errmsg(ctx));
	same_image(&im, 1, "a migration without room");
	/* With a block key appended it goes. */
	conf2 = mkconf(2, "16K");
	pool = tu_pool_start(ctx, conf2, big, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
	tu_pool_destroy(ctx, conf2);
}
END_TEST

/* ---- fuzzing the stored field tables ----------------------------------- */

static uint64_t fnv(uint64_t h, const void *d, size_t n)
{
	const unsigned char *q = d;

	while (n--) {
		h ^= *q++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct mapped {
	struct shmdev_region *base, *blk[3];
	struct layout_header *h;
	struct layout_type *lt;
	struct layout_fields_hdr *fh;
};

/* Map the pool writable (no lease) and find type @id's field table. */
static void map_pool(struct mapped *m, uint16_t id)
{
	unsigned int i;

	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(0), 0, 0, 0, &m->base), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(i + 1), 0, 0, 0, &m->blk[i]), 0);
	m->h = shmdev_region_addr(m->base);
	m->lt = &layout_types(layout_active(m->h))[id];
	ck_assert_uint_gt(m->lt->nr_fields, 0);
	m->fh = (struct layout_fields_hdr *)((char *)shmdev_region_addr(m->blk[m->lt->fields_block]) +
					     m->lt->fields_offset);
}

static void unmap_pool(struct mapped *m)
{
	unsigned int i;

	for (i = 0; i < 3; i++)
		shmdev_region_close(m->blk[i]);
	shmdev_region_close(m->base);
}

static void reseal_fields(struct layout_fields_hdr *fh)
{
	fh->sum = fnv(fnv(0xcbf29ce484222325ULL, fh, 16), fh + 1, (size_t)fh->nr_fields * 64);
}

static void reseal_table(struct mapped *m)
{
	struct layout_table *t = layout_active(m->h);

	t->checksum = layout_checksum(m->h, t);
}

/* Open (owner and read-only) and check: -EUCLEAN naming type 1 "Plain". */
static void expect_euclean(struct shmdev_conf *conf, const char *what)
{
	struct shmdev_pool *pool = NULL;
	int err;

	err = shmdev_pool_open(ctx, conf, tv1, 2, 0, &pool);
	ck_assert_msg(err == -EUCLEAN && strstr(shmdev_errmsg(ctx), "type 1 \"Plain\""),
		      "%s: owner open: %d %s", what, err, shmdev_errmsg(ctx));
	err = shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool);
	ck_assert_msg(err == -EUCLEAN && strstr(shmdev_errmsg(ctx), "type 1 \"Plain\""),
		      "%s: read-only open: %d %s", what, err, shmdev_errmsg(ctx));
}

START_TEST(test_fuzz_tables)
{
	struct shmdev_conf *conf = mkconf(3, "64K");
	struct shmdev_pool *pool;
	struct layout_field *f;
	struct mapped m;
	unsigned char save[64 * 12];
	uint64_t save_off;
	uint32_t save_nr, save_blk;
	size_t len, i, step;
	struct world w;

	build_v1(conf, &w);
	map_pool(&m, T_P);
	len = layout_fields_bytes(m.lt->nr_fields);
	ck_assert_uint_le(len, sizeof(save));
	memcpy(save, m.fh, len);
	/* Every byte, one bit flipped (valgrind: every 7th byte). */
	step = tu_quick() ? 7 : 1;
	for (i = 0; i < len; i += step) {
		((unsigned char *)m.fh)[i] ^= (unsigned char)(1u << (i % 8));
		expect_euclean(conf, "a bit flipped");
		memcpy(m.fh, save, len);
	}
	/* Bad entries under a good checksum. */
	f = (struct layout_field *)(m.fh + 1);
	{
		static const struct { uint32_t field, what, val; } bad[] = {
			{ 0, 0, 99 },		/* kind 99 */
			{ 1, 0, SHMDEV_FIELD_NONE },
			{ 0, 1, 63 },		/* offset beyond the object */
			{ 1, 1, 0 },		/* overlaps field 0 */
			{ 2, 2, 3 },		/* uint of 3 bytes */
			{ 3, 2, 8 },		/* float of 8 bytes */
			{ 4, 3, 0 },		/* name unterminated */
			{ 5, 4, 0 },		/* name = field 0's */
			{ 6, 5, 1 },		/* reserved bits */
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct layout_field *e = &f[bad[i].field];

			switch (bad[i].what) {
			case 0: e->kind = bad[i].val; break;
			case 1: e->offset = bad[i].val; break;
			case 2: e->size = bad[i].val; break;
			case 3: memset(e->name, 'x', sizeof(e->name)); break;
			case 4: memcpy(e->name, f[0].name, sizeof(e->name)); break;
			case 5: e->reserved = bad[i].val; break;
			}
			reseal_fields(m.fh);
			expect_euclean(conf, "a bad entry");
			memcpy(m.fh, save, len);
		}
	}
	/* The type entry pointing elsewhere (the table's checksum made good). */
	save_off = m.lt->fields_offset;
	save_nr = m.lt->nr_fields;
	save_blk = m.lt->fields_block;
	{
		static const struct { uint64_t off; uint32_t nr, blk; } at[] = {
			{ 8, 9, 0 }, { 65536 - 64, 9, 0 }, { 1ULL << 40, 9, 0 }, { 128, 9, 7 },
			{ 0, 0, 0 }, { 64, 5000, 0 }, { 0, 9, 0 }, { 0, 3, 0 },
		};

		for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			m.lt->fields_offset = at[i].off ? at[i].off : save_off;
			m.lt->nr_fields = at[i].nr;
			m.lt->fields_block = at[i].blk ? at[i].blk : save_blk;
			if (i == 4)
				m.lt->fields_offset = 128;	/* no fields, a place */
			if (i == 6)
				m.lt->fields_offset = save_off + 64;	/* misplaced */
			reseal_table(&m);
			expect_euclean(conf, "a bad type entry");
		}
	}
	m.lt->fields_offset = save_off;
	m.lt->nr_fields = save_nr;
	m.lt->fields_block = save_blk;
	reseal_table(&m);
	/* Put back: the pool opens, and checks. */
	pool = tu_pool_start(ctx, conf, tv1, 2, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* The check of a live pool whose table goes bad under it. */
	pool = tu_pool_open(ctx, conf, tv1, 2, 0);
	m.fh->nr_fields ^= 4;
	ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "type 1 \"Plain\""));
	m.fh->nr_fields ^= 4;
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	unmap_pool(&m);
	shmdev_conf_free(conf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("migrate_conv");
	TCase *tc;

	tu_init("migrate_conv");
	tu_fixture(&ctx, sweep);
	tc = tcase_create("converter");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_converter);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_fuzz_tables);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
