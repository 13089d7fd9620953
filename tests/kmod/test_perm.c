// SPDX-License-Identifier: GPL-2.0
/*
 * SysV-style permissions, exercised as non-root uids: the device is opened
 * as root, then the child drops every privilege (the ioctl checks the
 * caller's credentials, not the opener's).
 */
#include "kutil.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define TAG 0x30

struct perm_case {
	int fd;
	uint64_t key;
	uint32_t flags;
	uint32_t mode;
	uint64_t size;
	int want;
};

/* The child's exit status carries the errno (0 for success). */
static int do_attach(void *arg)
{
	struct perm_case *c = arg;

	return -kt_attach(c->fd, c->key, c->size, c->flags, c->mode, NULL);
}

static int try_attach(uid_t uid, gid_t gid, uint64_t key, uint32_t flags)
{
	struct perm_case c = { .fd = kt_open(), .key = key, .flags = flags };
	int st = kt_run_as(uid, gid, do_attach, &c);

	close(c.fd);
	ck_assert_int_lt(st, 120);
	return -st;
}

static int do_destroy(void *arg)
{
	struct perm_case *c = arg;
	struct shmpool_destroy d = { .size = sizeof(d), .key = c->key };
	int r = kt_ioctl(c->fd, SHMPOOL_IOC_DESTROY, &d);

	return r == c->want ? 0 : 1;
}

static int try_destroy(uid_t uid, gid_t gid, uint64_t key, int want)
{
	struct perm_case c = { .fd = kt_open(), .key = key, .want = want };
	int st = kt_run_as(uid, gid, do_destroy, &c);

	close(c.fd);
	return st;
}

START_TEST(mode_bits_user_group_other)
{
	uint64_t k600 = KT_KEY(TAG, 1), k644 = KT_KEY(TAG, 2), k666 = KT_KEY(TAG, 3);
	uint64_t k640 = KT_KEY(TAG, 4), k000 = KT_KEY(TAG, 5);
	const uint32_t RO = SHMPOOL_ATTACH_RDONLY;

	close(kt_attach_fd(k600, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	close(kt_attach_fd(k644, 4096, SHMPOOL_ATTACH_CREATE, 0644, NULL));
	close(kt_attach_fd(k666, 4096, SHMPOOL_ATTACH_CREATE, 0666, NULL));
	close(kt_attach_fd(k640, 4096, SHMPOOL_ATTACH_CREATE, 0640, NULL));
	close(kt_attach_fd(k000, 4096, SHMPOOL_ATTACH_CREATE, 0, NULL));

	/* Other bits for uid 1000, gid 1000 (regions are root:root). */
	ck_assert_int_eq(try_attach(1000, 1000, k600, 0), -EACCES);
	ck_assert_int_eq(try_attach(1000, 1000, k600, RO), -EACCES);
	ck_assert_int_eq(try_attach(1000, 1000, k644, 0), -EACCES);
	ck_assert_int_eq(try_attach(1000, 1000, k644, RO), 0);
	ck_assert_int_eq(try_attach(1000, 1000, k666, 0), 0);
	ck_assert_int_eq(try_attach(1000, 1000, k666, SHMPOOL_ATTACH_OWNER), 0);
	/* Group bits for gid 0. */
	ck_assert_int_eq(try_attach(1000, 0, k640, RO), 0);
	ck_assert_int_eq(try_attach(1000, 0, k640, 0), -EACCES);
	ck_assert_int_eq(try_attach(1000, 1000, k640, RO), -EACCES);
	/* Root passes through CAP_IPC_OWNER even with mode 0. */
	{
		int fd = kt_open();

		ck_assert_int_eq(kt_attach(fd, k000, 0, 0, 0, NULL), 0);
		close(fd);
	}
	ck_assert_int_eq(try_attach(1000, 1000, k000, RO), -EACCES);
	/* A key that does not exist is ENOENT for anybody. */
	ck_assert_int_eq(try_attach(1000, 1000, KT_KEY(TAG, 99), 0), -ENOENT);

	/* Nobody but the owner uid or a capable caller destroys. */
	ck_assert_int_eq(try_destroy(1000, 1000, k666, -EPERM), 0);
	ck_assert_int_eq(try_destroy(1000, 0, k640, -EPERM), 0);
	ck_assert_int_eq(kt_destroy(k600), 0);
	ck_assert_int_eq(kt_destroy(k644), 0);
	ck_assert_int_eq(kt_destroy(k666), 0);
	ck_assert_int_eq(kt_destroy(k640), 0);
	ck_assert_int_eq(kt_destroy(k000), 0);
}
END_TEST

static int create_as_user(void *arg)
{
	struct perm_case *c = arg;
	struct shmpool_attach a;

	if (kt_attach(c->fd, c->key, 4096, SHMPOOL_ATTACH_CREATE, c->mode, &a))
		return 2;
	if (a.info.uid != 1000 || a.info.gid != 1000 || a.info.mode != c->mode)
		return 3;
	/* The creator is not held to the mode it sets... */
	return 0;
}

START_TEST(creator_owns_and_destroys)
{
	uint64_t key = KT_KEY(TAG, 10);
	struct perm_case c = { .fd = kt_open(), .key = key, .mode = 0640 };
	struct shmpool_region_info st;

	ck_assert_int_eq(kt_run_as(1000, 1000, create_as_user, &c), 0);
	close(c.fd);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.uid, 1000);
	ck_assert_uint_eq(st.gid, 1000);
	ck_assert_uint_eq(st.mode, 0640);
	/* ...but a later attach is: user bits rw for 1000. */
	ck_assert_int_eq(try_attach(1000, 1000, key, 0), 0);
	ck_assert_int_eq(try_attach(1000, 1000, key, SHMPOOL_ATTACH_OWNER), 0);
	/* Same group, other user: read only. */
	ck_assert_int_eq(try_attach(1001, 1000, key, SHMPOOL_ATTACH_RDONLY), 0);
	ck_assert_int_eq(try_attach(1001, 1000, key, 0), -EACCES);
	ck_assert_int_eq(try_attach(1001, 1001, key, SHMPOOL_ATTACH_RDONLY), -EACCES);
	/* Another user cannot destroy; the owner can. */
	ck_assert_int_eq(try_destroy(1001, 1000, key, -EPERM), 0);
	ck_assert_int_eq(kt_stat(key, NULL), 0);
	ck_assert_int_eq(try_destroy(1000, 1000, key, 0), 0);
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
}
END_TEST

START_TEST(root_destroys_a_users_region)
{
	uint64_t key = KT_KEY(TAG, 11);
	struct perm_case c = { .fd = kt_open(), .key = key, .mode = 0600 };

	ck_assert_int_eq(kt_run_as(1000, 1000, create_as_user, &c), 0);
	close(c.fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

static int info_and_list_as_user(void *arg)
{
	struct shmpool_info in = { .size = sizeof(in) };
	struct shmpool_stat s = { .size = sizeof(s), .key = ((struct perm_case *)arg)->key };
	int fd = ((struct perm_case *)arg)->fd;

	if (kt_ioctl(fd, SHMPOOL_IOC_INFO, &in))
		return 2;
	if (kt_ioctl(fd, SHMPOOL_IOC_STAT, &s) || s.info.mode != 0600)
		return 3;
	return 0;
}

START_TEST(metadata_is_public)
{
	uint64_t key = KT_KEY(TAG, 12);
	struct perm_case c = { .fd = kt_open(), .key = key };

	close(kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	/* Like /proc/sysvipc/shm: STAT, LIST and INFO need no permission. */
	ck_assert_int_eq(kt_run_as(1000, 1000, info_and_list_as_user, &c), 0);
	close(c.fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

static int map_as_user(void *arg)
{
	struct perm_case *c = arg;
	void *p;

	if (kt_attach(c->fd, c->key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL))
		return 2;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (p != MAP_FAILED || errno != EACCES)
		return 3;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED)
		return 4;
	return 0;
}

START_TEST(user_maps_read_only)
{
	uint64_t key = KT_KEY(TAG, 13);
	struct perm_case c = { .fd = kt_open(), .key = key };

	close(kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE, 0644, NULL));
	ck_assert_int_eq(kt_run_as(1000, 1000, map_as_user, &c), 0);
	close(c.fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_perm");
	TCase *tc = tcase_create("perm");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, mode_bits_user_group_other);
	tcase_add_test(tc, creator_owns_and_destroys);
	tcase_add_test(tc, root_destroys_a_users_region);
	tcase_add_test(tc, metadata_is_public);
	tcase_add_test(tc, user_maps_read_only);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
