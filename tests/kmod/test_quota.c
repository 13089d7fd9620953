// SPDX-License-Identifier: GPL-2.0
/*
 * Per-IPC-namespace and per-user limits (issue 10 item 4): one user, or
 * one namespace, cannot exhaust the module for everybody.  `nobody` in its
 * own user and IPC namespace fills its quota and root still creates; the
 * per-namespace limit binds every user of a namespace; the per-user limit
 * follows the kernel uid across namespaces; CAP_SYS_RESOURCE in the initial
 * user namespace is exempt; a refused creation leaves nothing behind; INFO
 * and /sys/module/shmpool/parameters report the limits.
 */
#include "kns.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/prctl.h>

#define TAG 0x41
#define PG 4096ULL
#define NOBODY 65534
#define NFD 12

static const char *const params[] = {
	"max_regions", "max_total_bytes", "max_regions_per_ns", "max_bytes_per_ns",
	"max_regions_per_user", "max_bytes_per_user",
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))
static unsigned long long saved[NPARAMS];
static bool have[NPARAMS];

/*
 * Called from main(), outside any test: no Check assertions here.  A
 * module without the per-ns/per-user parameters still runs the suite, so
 * that it fails by what it does (a test that sets one fails there).
 */
static bool save_params(void)
{
	for (size_t i = 0; i < NPARAMS; i++)
		have[i] = kt_param_read(params[i], &saved[i]);
	return have[0] && have[1];
}

static void restore_params(void)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (have[i])
			kt_param_set(params[i], saved[i]);
}

static void setup(void)
{
	kt_clean_setup();
	restore_params();
}

/* What a worker child needs: fds opened by root beforehand. */
struct work {
	int fd[NFD];
	uint64_t key;
	int want_ok;		/* creations that must succeed */
	uint64_t size;
	struct kt_sync sync;
};

static void work_open(struct work *w, uint64_t key)
{
	w->key = key;
	for (int i = 0; i < NFD; i++)
		w->fd[i] = kt_open();
}

static void work_close(struct work *w)
{
	for (int i = 0; i < NFD; i++)
		close(w->fd[i]);
}

/*
 * The creation on @fd of @key must fail with ENOSPC and leave nothing: the
 * counts of the namespace and of the user are unchanged, the key does not
 * resolve and the file is not attached.
 */
static int expect_enospc(int fd, int fd_info, uint64_t key, uint64_t size)
{
	struct shmpool_info a = { .size = sizeof(a) }, b = { .size = sizeof(b) };
	struct shmpool_stat st = { .size = sizeof(st), .key = key };
	struct shmpool_query q = { .size = sizeof(q) };
	int r;

	EXPECT(kt_ioctl(fd_info, SHMPOOL_IOC_INFO, &a) == 0, "INFO");
	r = kt_attach(fd, key, size, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	EXPECT(r == -ENOSPC, "ATTACH CREATE %#" PRIx64 " (%" PRIu64 " bytes): %d, want -ENOSPC",
	       key, size, r);
	EXPECT(kt_ioctl(fd_info, SHMPOOL_IOC_INFO, &b) == 0, "INFO");
	EXPECT(a.nr_regions == b.nr_regions && a.total_bytes == b.total_bytes,
	       "namespace counts moved: %u/%llu -> %u/%llu", a.nr_regions,
	       (unsigned long long)a.total_bytes, b.nr_regions, (unsigned long long)b.total_bytes);
	EXPECT(a.user_regions == b.user_regions && a.user_bytes == b.user_bytes,
	       "user counts moved: %u/%llu -> %u/%llu", a.user_regions,
	       (unsigned long long)a.user_bytes, b.user_regions, (unsigned long long)b.user_bytes);
	r = kt_ioctl(fd_info, SHMPOOL_IOC_STAT, &st);
	EXPECT(r == -ENOENT, "STAT of the refused key: %d", r);
	r = kt_ioctl(fd, SHMPOOL_IOC_QUERY, &q);
	EXPECT(r == -ENOTCONN, "QUERY on the refused file: %d", r);
	return 0;
}

/* Create @w->want_ok regions of @w->size bytes, then expect ENOSPC. */
static int fill_quota(void *p)
{
	struct work *w = p;
	struct shmpool_info in = { .size = sizeof(in) };
	int i, r;

	for (i = 0; i < w->want_ok; i++) {
		r = kt_attach(w->fd[i], w->key + i, w->size, SHMPOOL_ATTACH_CREATE, 0600, NULL);
		EXPECT(r == 0, "creation %d of %d: %d", i + 1, w->want_ok, r);
	}
	if (expect_enospc(w->fd[i], w->fd[NFD - 1], w->key + i, w->size))
		return 1;
	EXPECT(kt_ioctl(w->fd[NFD - 1], SHMPOOL_IOC_INFO, &in) == 0, "INFO");
	EXPECT(in.limits_exempt == 0, "exempt without CAP_SYS_RESOURCE in the initial user ns");
	EXPECT(in.user_regions == (unsigned int)w->want_ok, "user_regions %u", in.user_regions);
	EXPECT(in.user_bytes == w->want_ok * w->size, "user_bytes %llu",
	       (unsigned long long)in.user_bytes);
	return 0;
}

static int destroy_keys(int fd, uint64_t key, int n)
{
	for (int i = 0; i < n; i++) {
		struct shmpool_destroy d = { .size = sizeof(d), .key = key + i };
		int r = kt_ioctl(fd, SHMPOOL_IOC_DESTROY, &d);

		EXPECT(r == 0, "DESTROY %#" PRIx64 ": %d", key + i, r);
	}
	return 0;
}

/*
 * In a new user and IPC namespace where uid 0 is nobody: full capabilities
 * there, none in the initial user namespace.  Fills its quota, tells the
 * parent, waits, destroys its regions.
 */
static int nobody_in_own_namespaces(void *p)
{
	struct work *w = p;

	kt_sync_child(&w->sync);
	EXPECT(unshare(CLONE_NEWUSER | CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	kt_signal(w->sync.c2p[1], 1);
	EXPECT(kt_await(w->sync.p2c[0]) == 2, "parent went away");
	EXPECT(setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0, "set*id: %s", strerror(errno));
	if (fill_quota(w))
		return 1;
	kt_signal(w->sync.c2p[1], 3);
	EXPECT(kt_await(w->sync.p2c[0]) == 4, "parent went away");
	return destroy_keys(w->fd[NFD - 1], w->key, w->want_ok);
}

START_TEST(nobody_fills_its_quota_root_still_creates)
{
	struct work w;
	struct shmpool_info in;
	pid_t pid;
	int fd;

	/* Defaults: half of max_regions per user and per namespace. */
	kt_param_set("max_regions", 8);
	work_open(&w, KT_KEY(TAG, 0));
	w.want_ok = 4;
	w.size = PG;
	kt_sync_init(&w.sync);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(nobody_in_own_namespaces(&w));
	kt_sync_parent(&w.sync);
	ck_assert_uint_eq(kt_await(w.sync.c2p[0]), 1);
	kns_write_id_map(pid, "uid_map", "0 65534 1\n");
	kns_write_id_map(pid, "gid_map", "0 65534 1\n");
	kt_signal(w.sync.p2c[1], 2);
	ck_assert_msg(kt_await(w.sync.c2p[0]) == 3, "nobody's child failed (see stderr)");

	/* nobody holds its 4; root, in the initial namespace, still creates. */
	for (int i = 0; i < 4; i++) {
		fd = kt_open();
		ck_assert_msg(kt_attach(fd, KT_KEY(TAG, 10 + i), PG, SHMPOOL_ATTACH_CREATE, 0600,
					NULL) == 0, "root's creation %d", i);
		close(fd);
	}
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.nr_regions, 4);
	ck_assert_uint_eq(in.max_regions_per_user, 4);
	ck_assert_uint_eq(in.max_regions_per_ns, 4);
	ck_assert_uint_eq(in.user_regions, 4);
	/* The module-wide ceiling still holds, for root too. */
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, KT_KEY(TAG, 14), PG, SHMPOOL_ATTACH_CREATE, 0600, NULL),
			 -ENOSPC);
	close(fd);

	kt_signal(w.sync.p2c[1], 4);
	ck_assert_int_eq(kt_wait(pid), 0);
	work_close(&w);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 10 + i)), 0);
}
END_TEST

static int create_ok(void *p)
{
	struct work *w = p;
	int r = kt_attach(w->fd[0], w->key, w->size, SHMPOOL_ATTACH_CREATE, 0600, NULL);

	EXPECT(r == 0, "ATTACH CREATE %#" PRIx64 " (%" PRIu64 " bytes): %d", w->key, w->size, r);
	return 0;
}

static int create_enospc(void *p)
{
	struct work *w = p;

	return expect_enospc(w->fd[0], w->fd[1], w->key, w->size);
}

static int destroy_one(void *p)
{
	struct work *w = p;

	return destroy_keys(w->fd[0], w->key, 1);
}

/* Run @fn as @uid in @nsfd with two fresh fds; the exit status. */
static int as(int nsfd, uid_t uid, int (*fn)(void *), uint64_t key, uint64_t size)
{
	struct work w = { .key = key, .size = size };
	int st;

	w.fd[0] = kt_open();
	w.fd[1] = kt_open();
	st = kns_run_in(nsfd, uid, uid, fn, &w);
	close(w.fd[0]);
	close(w.fd[1]);
	return st;
}

START_TEST(per_namespace_limit_binds_every_user)
{
	int ns = kns_ipcns_new();

	kt_param_set("max_regions_per_ns", 2);
	kt_param_set("max_bytes_per_ns", 8 * PG);
	kt_param_set("max_regions_per_user", 100);
	kt_param_set("max_bytes_per_user", 1ULL << 30);
	ck_assert_int_eq(as(ns, NOBODY, create_ok, KT_KEY(TAG, 20), 5 * PG), 0);
	/* Bytes: 5 + 4 pages > 8, whoever asks. */
	ck_assert_int_eq(as(ns, NOBODY, create_enospc, KT_KEY(TAG, 21), 4 * PG), 0);
	ck_assert_int_eq(as(ns, 1000, create_enospc, KT_KEY(TAG, 21), 4 * PG), 0);
	ck_assert_int_eq(as(ns, 1000, create_ok, KT_KEY(TAG, 21), 3 * PG), 0);
	/* Regions: a third one, by a third user. */
	ck_assert_int_eq(as(ns, 1001, create_enospc, KT_KEY(TAG, 22), PG), 0);
	/* Root in the initial user namespace is exempt. */
	ck_assert_int_eq(as(ns, 0, create_ok, KT_KEY(TAG, 22), PG), 0);
	/* Another namespace is not affected. */
	ck_assert_int_eq(as(-1, NOBODY, create_ok, KT_KEY(TAG, 20), 8 * PG), 0);
	/* DESTROY gives the region back at once. */
	ck_assert_int_eq(as(ns, 0, destroy_one, KT_KEY(TAG, 22), 0), 0);
	ck_assert_int_eq(as(ns, 1000, destroy_one, KT_KEY(TAG, 21), 0), 0);
	ck_assert_int_eq(as(ns, 1001, create_ok, KT_KEY(TAG, 22), 3 * PG), 0);
	ck_assert_int_eq(as(ns, 0, destroy_one, KT_KEY(TAG, 22), 0), 0);
	ck_assert_int_eq(as(ns, 0, destroy_one, KT_KEY(TAG, 20), 0), 0);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 20)), 0);
	close(ns);
}
END_TEST

START_TEST(per_user_limit_spans_namespaces)
{
	int a = kns_ipcns_new(), b = kns_ipcns_new();

	kt_param_set("max_regions_per_ns", 100);
	kt_param_set("max_bytes_per_ns", 1ULL << 30);
	kt_param_set("max_regions_per_user", 3);
	kt_param_set("max_bytes_per_user", 6 * PG);
	ck_assert_int_eq(as(a, NOBODY, create_ok, KT_KEY(TAG, 30), PG), 0);
	ck_assert_int_eq(as(a, NOBODY, create_ok, KT_KEY(TAG, 31), PG), 0);
	/* In namespace b the same uid has 4 pages and 1 region left. */
	ck_assert_int_eq(as(b, NOBODY, create_enospc, KT_KEY(TAG, 32), 5 * PG), 0);
	ck_assert_int_eq(as(b, NOBODY, create_ok, KT_KEY(TAG, 32), 4 * PG), 0);
	ck_assert_int_eq(as(b, NOBODY, create_enospc, KT_KEY(TAG, 33), PG), 0);
	ck_assert_int_eq(as(-1, NOBODY, create_enospc, KT_KEY(TAG, 33), PG), 0);
	/* Other users are not affected. */
	ck_assert_int_eq(as(b, 1000, create_ok, KT_KEY(TAG, 33), 6 * PG), 0);
	/* DESTROY in a gives a region back; the bytes come with the memory. */
	ck_assert_int_eq(as(a, NOBODY, destroy_one, KT_KEY(TAG, 31), 0), 0);
	ck_assert_int_eq(as(b, NOBODY, create_ok, KT_KEY(TAG, 34), PG), 0);
	ck_assert_int_eq(as(a, NOBODY, destroy_one, KT_KEY(TAG, 30), 0), 0);
	ck_assert_int_eq(as(b, NOBODY, destroy_one, KT_KEY(TAG, 32), 0), 0);
	ck_assert_int_eq(as(b, NOBODY, destroy_one, KT_KEY(TAG, 34), 0), 0);
	ck_assert_int_eq(as(b, 1000, destroy_one, KT_KEY(TAG, 33), 0), 0);
	ck_assert_int_eq(as(b, NOBODY, create_ok, KT_KEY(TAG, 35), 6 * PG), 0);
	ck_assert_int_eq(as(b, NOBODY, destroy_one, KT_KEY(TAG, 35), 0), 0);
	close(a);
	close(b);
}
END_TEST

static int no_sys_resource_enospc(void *p)
{
	static const int keep[] = { CAP_SYS_ADMIN, CAP_IPC_OWNER, -1 };
	struct work *w = p;
	struct shmpool_info in = { .size = sizeof(in) };

	EXPECT(kns_caps_only(keep) == 0, "capset: %s", strerror(errno));
	EXPECT(kt_ioctl(w->fd[1], SHMPOOL_IOC_INFO, &in) == 0, "INFO");
	EXPECT(in.limits_exempt == 0, "still exempt without CAP_SYS_RESOURCE");
	return expect_enospc(w->fd[0], w->fd[1], w->key, w->size);
}

START_TEST(cap_sys_resource_is_exempt)
{
	struct shmpool_info in;

	kt_param_set("max_regions_per_ns", 1);
	kt_param_set("max_regions_per_user", 1);
	kt_param_set("max_bytes_per_user", PG);
	close(kt_attach_fd(KT_KEY(TAG, 40), PG, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	close(kt_attach_fd(KT_KEY(TAG, 41), 2 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.limits_exempt, 1);
	ck_assert_uint_eq(in.user_regions, 2);
	ck_assert_uint_eq(in.user_bytes, 3 * PG);
	/* Root without CAP_SYS_RESOURCE is held to them. */
	ck_assert_int_eq(as(-1, 0, no_sys_resource_enospc, KT_KEY(TAG, 42), PG), 0);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 40)), 0);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 41)), 0);
}
END_TEST

START_TEST(info_and_sysfs_report_the_limits)
{
	struct shmpool_info in;
	int fd;

	kt_param_set("max_regions", 100);
	kt_param_set("max_total_bytes", 1000 * PG);
	kt_param_set("max_regions_per_ns", 0);
	kt_param_set("max_bytes_per_ns", 0);
	kt_param_set("max_regions_per_user", 0);
	kt_param_set("max_bytes_per_user", 0);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_regions_per_ns, 50);
	ck_assert_uint_eq(in.max_regions_per_user, 50);
	ck_assert_uint_eq(in.max_bytes_per_ns, 500 * PG);
	ck_assert_uint_eq(in.max_bytes_per_user, 500 * PG);
	kt_param_set("max_regions_per_ns", 7);
	kt_param_set("max_bytes_per_ns", 70 * PG);
	kt_param_set("max_regions_per_user", 5);
	kt_param_set("max_bytes_per_user", 50 * PG);
	ck_assert_uint_eq(kt_param_get("max_regions_per_user"), 5);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_regions_per_ns, 7);
	ck_assert_uint_eq(in.max_bytes_per_ns, 70 * PG);
	ck_assert_uint_eq(in.max_regions_per_user, 5);
	ck_assert_uint_eq(in.max_bytes_per_user, 50 * PG);
	ck_assert_uint_eq(in.user_regions, 0);
	ck_assert_uint_eq(in.user_bytes, 0);
	ck_assert_uint_ge(kt_param_get("reap_interval_ms"), 1);

	/* The user's bytes count until the region's memory is released. */
	fd = kt_attach_fd(KT_KEY(TAG, 50), 3 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.user_regions, 1);
	ck_assert_uint_eq(in.user_bytes, 3 * PG);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 50)), 0);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.user_regions, 0);
	ck_assert_uint_eq(in.user_bytes, 3 * PG);
	close(fd);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.user_bytes, 0);

	/* A caller that knows only the first INFO gets just that. */
	{
		struct shmpool_info old;

		memset(&old, 0xA5, sizeof(old));
		old.size = SHMPOOL_INFO_SIZE_VER0;
		old.flags = 0;
		fd = kt_open();
		ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_INFO, &old), 0);
		close(fd);
		ck_assert_uint_eq(old.abi_version, SHMPOOL_ABI_VERSION);
		ck_assert_uint_eq(old.max_regions_per_ns, 0xA5A5A5A5U);
	}
}
END_TEST

START_TEST(load_time_parameters)
{
	struct shmpool_info in;

	ck_assert_int_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load("max_regions_per_ns=3 max_bytes_per_ns=12288 "
					"max_regions_per_user=2 max_bytes_per_user=8192 "
					"reap_interval_ms=250"), 0);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.max_regions_per_ns, 3);
	ck_assert_uint_eq(in.max_bytes_per_ns, 12288);
	ck_assert_uint_eq(in.max_regions_per_user, 2);
	ck_assert_uint_eq(in.max_bytes_per_user, 8192);
	ck_assert_uint_eq(kt_param_get("reap_interval_ms"), 250);
	ck_assert_int_eq(as(-1, NOBODY, create_ok, KT_KEY(TAG, 60), 2 * PG), 0);
	ck_assert_int_eq(as(-1, NOBODY, create_enospc, KT_KEY(TAG, 61), PG), 0);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 60)), 0);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_quota");
	TCase *tc = tcase_create("quota");

	if (!save_params()) {
		fprintf(stderr, "FAIL: cannot read shmpool's limit parameters\n");
		return 1;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, nobody_fills_its_quota_root_still_creates);
	tcase_add_test(tc, per_namespace_limit_binds_every_user);
	tcase_add_test(tc, per_user_limit_spans_namespaces);
	tcase_add_test(tc, cap_sys_resource_is_exempt);
	tcase_add_test(tc, info_and_sysfs_report_the_limits);
	tcase_add_test(tc, load_time_parameters);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
