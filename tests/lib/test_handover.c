// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A pool after a kernel live update.  What `shmpoolctl liveupdate` does
 * across a kexec is done here within one kernel: each region of the pool
 * is EXPORTed, let go, and its file ADOPTed again with the key, owner,
 * mode and lease state it had.  The next open must be a resume (clean
 * after a clean close, crash recovery after an abandon), with every check
 * a resume makes, report handed_over, and keep every object; the open
 * after that is an ordinary resume.  Device backend only: elsewhere the
 * tests pass without doing anything (the POSIX backend has no hand-over).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "testutil.h"

static struct shmdev_ctx *ctx;

static void destroy_pool(void)
{
	tu_zone_destroy(ctx);
}

static bool on_device(void)
{
	struct shmdev_ctx *c = tu_ctx();
	enum shmdev_backend b;
	bool dev;

	dev = shmdev_backend_resolve(c, tu_backend(), &b) == 0 && b == SHMDEV_BACKEND_DEVICE;
	shmdev_ctx_unref(c);
	return dev;
}

/* Hand every region of the zone pool (tu_key(0..2)) over; how many. */
static unsigned int hand_over(void)
{
	int dev = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	unsigned int i, n = 0;

	ck_assert_int_ge(dev, 0);
	for (i = 0; i < 3; i++) {
		struct shmpool_export e = { .size = sizeof(e), .key = tu_key(i) };
		struct shmpool_export t = {
			.size = sizeof(t), .flags = SHMPOOL_EXPORT_THAW, .key = tu_key(i),
		};
		struct shmpool_destroy d = { .size = sizeof(d), .key = tu_key(i) };
		struct shmpool_adopt a = { .size = sizeof(a), .key = tu_key(i) };

		if (ioctl(dev, SHMPOOL_IOC_EXPORT, &e)) {
			ck_assert_int_eq(errno, ENOENT);
			continue;
		}
		ck_assert_int_eq(ioctl(dev, SHMPOOL_IOC_EXPORT, &t), 0);
		ck_assert_int_eq(ioctl(dev, SHMPOOL_IOC_DESTROY, &d), 0);
		a.fd = e.fd;
		a.uid = e.info.uid;
		a.gid = e.info.gid;
		a.mode = e.info.mode;
		a.state = e.info.state;
		a.req_size = e.info.size;
		ck_assert_msg(ioctl(dev, SHMPOOL_IOC_ADOPT, &a) == 0, "adopt %#" PRIx64 ": %s",
			      tu_key(i), strerror(errno));
		ck_assert(a.info.flags & SHMPOOL_REGION_HANDED_OVER);
		close(e.fd);
		n++;
	}
	close(dev);
	return n;
}

/* A few objects with known contents; their handles in @h. */
static void fill(struct shmdev_pool *pool, shmdev_handle_t *h, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct tu_item *it;

		ck_assert_int_eq(shmdev_alloc(pool, TU_ITEM, (void **)&it, &h[i]), 0);
		it->stamp = 0x5eed0000ULL + i;
		it->n = i;
	}
}

static void check(struct shmdev_pool *pool, const shmdev_handle_t *h, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		const struct tu_item *it = shmdev_get(pool, h[i]);

		ck_assert_ptr_nonnull(it);
		ck_assert_uint_eq(it->stamp, 0x5eed0000ULL + i);
		ck_assert_uint_eq(it->n, i);
	}
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
}

START_TEST(test_handed_over_clean)
{
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	shmdev_handle_t h[20];

	if (!on_device())
		return;
	conf = tu_zone_conf(ctx);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, SHMDEV_START_CREATED);
	ck_assert(!shmdev_pool_handed_over(pool));
	fill(pool, h, 20);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	ck_assert_uint_ge(hand_over(), 1);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert(shmdev_pool_handed_over(pool));
	check(pool, h, 20);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Taken up: the next open is an ordinary resume. */
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert(!shmdev_pool_handed_over(pool));
	check(pool, h, 20);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_handed_over_after_crash)
{
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
	shmdev_handle_t h[20];

	if (!on_device())
		return;
	conf = tu_zone_conf(ctx);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, SHMDEV_START_CREATED);
	fill(pool, h, 20);
	shmdev_pool_abandon(pool);	/* the owner crashed before the save */

	ck_assert_uint_ge(hand_over(), 1);
	pool = tu_pool_start(ctx, conf, tu_zone_types, TU_ZONE_NR_TYPES, 0, SHMDEV_START_RESUMED_CRASH);
	ck_assert(shmdev_pool_handed_over(pool));
	check(pool, h, 20);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

static Suite *handover_suite(void)
{
	Suite *s = suite_create("handover");
	TCase *tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_handed_over_clean);
	tcase_add_test(tc, test_handed_over_after_crash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("handover");
	tu_fixture(&ctx, destroy_pool);
	return tu_run(handover_suite());
}
