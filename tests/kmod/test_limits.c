// SPDX-License-Identifier: GPL-2.0
/*
 * Limits (module parameters), at load time and changed at run time, and
 * the guarantee that a failed ATTACH leaves nothing behind.  Every test
 * restores the defaults.
 */
#include "kutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define TAG 0x40
#define PG 4096ULL

struct defaults {
	unsigned long long regions, region_bytes, total_bytes;
};

static struct defaults dflt;

/* Called from main(), outside any test: no Check assertions here. */
static bool save_defaults(void)
{
	return kt_param_read("max_regions", &dflt.regions) &&
	       kt_param_read("max_region_bytes", &dflt.region_bytes) &&
	       kt_param_read("max_total_bytes", &dflt.total_bytes);
}

static void restore_defaults(void)
{
	kt_param_set("max_regions", dflt.regions);
	kt_param_set("max_region_bytes", dflt.region_bytes);
	kt_param_set("max_total_bytes", dflt.total_bytes);
}

/* Nothing changed: same region count and total bytes, key absent. */
static void assert_nothing_created(const struct shmpool_info *before, uint64_t key)
{
	struct shmpool_info after;

	ck_assert_int_eq(kt_info(&after), 0);
	ck_assert_uint_eq(after.nr_regions, before->nr_regions);
	ck_assert_uint_eq(after.total_bytes, before->total_bytes);
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
}

START_TEST(max_regions)
{
	struct shmpool_info in;
	int fd;

	kt_param_set("max_regions", 3);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_regions, 3);
	for (int i = 0; i < 3; i++)
		close(kt_attach_fd(KT_KEY(TAG, i), PG, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	ck_assert_int_eq(kt_info(&in), 0);
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 3), PG, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), -ENOSPC);
	assert_nothing_created(&in, KT_KEY(TAG, 3));
	/* Opening an existing region is not a creation. */
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 1), 0, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), 0);
	close(fd);
	/* A destroyed region frees its slot at once, even while attached. */
	fd = kt_attach_fd(KT_KEY(TAG, 0), 0, 0, 0, NULL);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 0)), 0);
	close(kt_attach_fd(KT_KEY(TAG, 3), PG, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	close(fd);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(kt_destroy(KT_KEY(TAG, i)), 0);
	restore_defaults();
}
END_TEST

START_TEST(max_region_bytes)
{
	struct shmpool_info in;
	struct shmpool_attach a;
	int fd;

	kt_param_set("max_region_bytes", 1 << 20);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_region_bytes, 1 << 20);
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 10), (1 << 20) + 1, SHMPOOL_ATTACH_CREATE,
				   0600, NULL), -EFBIG);
	assert_nothing_created(&in, KT_KEY(TAG, 10));
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 10), UINT64_MAX, SHMPOOL_ATTACH_CREATE,
				   0600, NULL), -EFBIG);
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 10), UINT64_MAX - 4095,
				   SHMPOOL_ATTACH_CREATE, 0600, NULL), -EFBIG);
	assert_nothing_created(&in, KT_KEY(TAG, 10));
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 10), 1 << 20, SHMPOOL_ATTACH_CREATE,
				   0600, &a), 0);
	ck_assert_uint_eq(a.info.size, 1 << 20);
	close(fd);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 10)), 0);
	/* Size 0 is never a valid creation. */
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 11), 0, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), -EINVAL);
	close(fd);
	restore_defaults();
}
END_TEST

START_TEST(max_total_bytes)
{
	struct shmpool_info in, in2;
	int fd, fd2;

	kt_param_set("max_total_bytes", 8 * PG);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_total_bytes, 8 * PG);
	ck_assert_uint_eq(in.total_bytes, 0);
	close(kt_attach_fd(KT_KEY(TAG, 20), 5 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	fd = kt_attach_fd(KT_KEY(TAG, 21), 3 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.total_bytes, 8 * PG);
	fd2 = kt_open();
	ck_assert_int_eq(kt_attach(fd2, KT_KEY(TAG, 22), 1, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), -ENOSPC);
	assert_nothing_created(&in, KT_KEY(TAG, 22));
	/* Bytes of a destroyed region count until its last file goes. */
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 21)), 0);
	ck_assert_int_eq(kt_attach(fd2, KT_KEY(TAG, 22), 1, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), -ENOSPC);
	close(fd);
	ck_assert_int_eq(kt_attach(fd2, KT_KEY(TAG, 22), 3 * PG, SHMPOOL_ATTACH_CREATE,
				   0600, NULL), 0);
	close(fd2);
	ck_assert_int_eq(kt_info(&in2), 0);
	ck_assert_uint_eq(in2.total_bytes, 8 * PG);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 20)), 0);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 22)), 0);
	ck_assert_int_eq(kt_info(&in2), 0);
	ck_assert_uint_eq(in2.total_bytes, 0);
	/* 0 means the default, half of RAM. */
	kt_param_set("max_total_bytes", 0);
	ck_assert_int_eq(kt_info(&in2), 0);
	ck_assert_uint_gt(in2.max_total_bytes, 8 * PG);
	restore_defaults();
}
END_TEST

START_TEST(bad_values_create_nothing)
{
	struct shmpool_info in;
	int fd = kt_open();

	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_int_eq(kt_attach(fd, 0, PG, SHMPOOL_ATTACH_CREATE, 0600, NULL), -EINVAL);
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 30), PG, SHMPOOL_ATTACH_CREATE, 01000,
				   NULL), -EINVAL);
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 30), PG, SHMPOOL_ATTACH_CREATE, 0600 | 0x10000,
				   NULL), -EINVAL);
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 30), PG, SHMPOOL_ATTACH_CREATE | (1U << 31),
				   0600, NULL), -EINVAL);
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 30), PG, SHMPOOL_ATTACH_CREATE |
				   SHMPOOL_ATTACH_OWNER | SHMPOOL_ATTACH_RDONLY, 0600, NULL), -EINVAL);
	assert_nothing_created(&in, KT_KEY(TAG, 30));
	/* Commit accounting: far more than RAM fails, without leftovers. */
	kt_param_set("max_total_bytes", 1ULL << 50);
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 30), 1ULL << 39, SHMPOOL_ATTACH_CREATE,
				   0600, NULL), -ENOMEM);
	assert_nothing_created(&in, KT_KEY(TAG, 30));
	ck_assert_int_eq(kt_query(fd, NULL), -ENOTCONN);
	close(fd);
	restore_defaults();
}
END_TEST

START_TEST(load_time_parameters)
{
	struct shmpool_info in;
	int fd;

	ck_assert_int_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert(!kt_module_loaded());
	ck_assert_int_eq(kt_module_load("max_regions=2 max_region_bytes=65536 "
					"max_total_bytes=131072"), 0);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_regions, 2);
	ck_assert_uint_eq(in.max_region_bytes, 65536);
	ck_assert_uint_eq(in.max_total_bytes, 131072);
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 40), 65537, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), -EFBIG);
	close(fd);
	close(kt_attach_fd(KT_KEY(TAG, 40), 65536, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	close(kt_attach_fd(KT_KEY(TAG, 41), 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 42), 4096, SHMPOOL_ATTACH_CREATE, 0600,
				   NULL), -ENOSPC);
	close(fd);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 40)), 0);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 41)), 0);

	/* Back to the defaults. */
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_regions, 4096);
	ck_assert_uint_eq(kt_param_get("max_total_bytes"), 0);
}
END_TEST

/* Every test starts from the parameters the suite found at its start. */
static void setup(void)
{
	kt_clean_setup();
	restore_defaults();
}

int main(void)
{
	Suite *s = suite_create("kmod_limits");
	TCase *tc = tcase_create("limits");

	if (!save_defaults()) {
		fprintf(stderr, "FAIL: cannot read shmpool's parameters (module not loaded?)\n");
		return 1;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, max_regions);
	tcase_add_test(tc, max_region_bytes);
	tcase_add_test(tc, max_total_bytes);
	tcase_add_test(tc, bad_values_create_nothing);
	tcase_add_test(tc, load_time_parameters);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
