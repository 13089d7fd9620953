// SPDX-License-Identifier: GPL-2.0
/*
 * SysV-style permissions, exercised as non-root uids: the device is opened
 * as root, then the child drops every privilege (the ioctl checks the
 * caller's credentials, not the opener's).
 */
#include "kns.h"

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

/*
 * DESTROY follows IPC_RMID (ipc/util.c ipcctl_obtain_check()): the owner
 * or creator euid, or CAP_SYS_ADMIN in the user namespace owning the IPC
 * namespace.  CAP_IPC_OWNER alone is not enough.
 */
struct caps_case {
	int fd;
	uint64_t key;
	const int *caps;	/* -1 terminated: the only ones kept */
	int want;
};

static int destroy_with_caps(void *arg)
{
	struct caps_case *c = arg;
	struct shmpool_destroy d = { .size = sizeof(d), .key = c->key };
	int r;

	EXPECT(kns_caps_only(c->caps) == 0, "capset: %s", strerror(errno));
	r = kt_ioctl(c->fd, SHMPOOL_IOC_DESTROY, &d);
	EXPECT(r == c->want, "DESTROY: %d, want %d", r, c->want);
	return 0;
}

static int attach_with_caps(void *arg)
{
	struct caps_case *c = arg;
	int r;

	EXPECT(kns_caps_only(c->caps) == 0, "capset: %s", strerror(errno));
	r = kt_attach(c->fd, c->key, 0, 0, 0, NULL);
	EXPECT(r == c->want, "ATTACH: %d, want %d", r, c->want);
	return 0;
}

static int as_root_with(int (*fn)(void *), uint64_t key, const int *caps, int want)
{
	struct caps_case c = { .fd = kt_open(), .key = key, .caps = caps, .want = want };
	int st = kns_run_in(-1, 0, 0, fn, &c);

	close(c.fd);
	return st;
}

START_TEST(destroy_follows_ipc_rmid)
{
	static const int ipc_owner[] = { CAP_IPC_OWNER, -1 };
	static const int ipc_owner_resource[] = { CAP_IPC_OWNER, CAP_SYS_RESOURCE, CAP_DAC_OVERRIDE,
						  CAP_FOWNER, -1 };
	static const int sys_admin[] = { CAP_SYS_ADMIN, -1 };
	uint64_t key = KT_KEY(TAG, 20);
	struct perm_case c = { .fd = kt_open(), .key = key, .mode = 0600 };

	ck_assert_int_eq(kt_run_as(1000, 1000, create_as_user, &c), 0);
	close(c.fd);
	/* CAP_IPC_OWNER lets root attach a 0600 region of another uid... */
	ck_assert_int_eq(as_root_with(attach_with_caps, key, ipc_owner, 0), 0);
	/* ...but not destroy it, nor with other capabilities beside it. */
	ck_assert_int_eq(as_root_with(destroy_with_caps, key, ipc_owner, -EPERM), 0);
	ck_assert_int_eq(as_root_with(destroy_with_caps, key, ipc_owner_resource, -EPERM), 0);
	ck_assert_int_eq(kt_stat(key, NULL), 0);
	/* Another uid, even in the owner's group, cannot. */
	ck_assert_int_eq(try_destroy(1001, 1000, key, -EPERM), 0);
	ck_assert_int_eq(kt_stat(key, NULL), 0);
	/* CAP_SYS_ADMIN (in the user ns owning the IPC ns) alone can. */
	ck_assert_int_eq(as_root_with(destroy_with_caps, key, sys_admin, 0), 0);
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);

	/* The creator, who is the owner, can; with no capability at all. */
	c.fd = kt_open();
	ck_assert_int_eq(kt_run_as(1000, 1000, create_as_user, &c), 0);
	close(c.fd);
	ck_assert_int_eq(try_destroy(1000, 1001, key, 0), 0);
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
}
END_TEST

/* In a user + IPC namespace of its own: uid 0 there is root of that ns. */
struct userns_case {
	uint64_t key;
	int fd[4];
	struct kt_sync sync;
};

static int userns_destroy_rules(void *p)
{
	static const int ipc_owner[] = { CAP_IPC_OWNER, -1 };
	static const int sys_admin[] = { CAP_SYS_ADMIN, -1 };
	struct userns_case *u = p;
	struct caps_case c = { .key = u->key };
	pid_t pid;
	int r;

	kt_sync_child(&u->sync);
	EXPECT(unshare(CLONE_NEWUSER | CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	kt_signal(u->sync.c2p[1], 1);
	EXPECT(kt_await(u->sync.p2c[0]) == 2, "parent went away");
	EXPECT(setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0, "set*id: %s", strerror(errno));
	/* A region of uid 1000 of this namespace (65534 + ... mapped below). */
	pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0) {
		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(120);
		_exit(-kt_attach(u->fd[0], u->key, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	}
	r = kt_wait(pid);
	EXPECT(r == 0, "uid 1000's creation: status %d", r);

	c.fd = u->fd[1];
	c.caps = ipc_owner;
	c.want = -EPERM;
	pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0)
		_exit(destroy_with_caps(&c));
	r = kt_wait(pid);
	EXPECT(r == 0, "CAP_IPC_OWNER only, in the owning user ns: status %d", r);
	c.fd = u->fd[2];
	c.caps = sys_admin;
	c.want = 0;
	pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0)
		_exit(destroy_with_caps(&c));
	r = kt_wait(pid);
	EXPECT(r == 0, "CAP_SYS_ADMIN only, in the owning user ns: status %d", r);
	return 0;
}

START_TEST(destroy_in_a_user_namespace)
{
	struct userns_case u = { .key = KT_KEY(TAG, 21) };
	pid_t pid;

	for (int i = 0; i < 4; i++)
		u.fd[i] = kt_open();
	kt_sync_init(&u.sync);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(userns_destroy_rules(&u));
	kt_sync_parent(&u.sync);
	ck_assert_uint_eq(kt_await(u.sync.c2p[0]), 1);
	kns_write_id_map(pid, "uid_map", "0 100000 1\n1000 101000 1\n");
	kns_write_id_map(pid, "gid_map", "0 100000 1\n1000 101000 1\n");
	kt_signal(u.sync.p2c[1], 2);
	ck_assert_int_eq(kt_wait(pid), 0);
	for (int i = 0; i < 4; i++)
		close(u.fd[i]);
	ck_assert_uint_eq(kt_nr_regions(), 0);
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
	tcase_add_test(tc, destroy_follows_ipc_rmid);
	tcase_add_test(tc, destroy_in_a_user_namespace);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
