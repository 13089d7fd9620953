// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regions, on whichever backend SHMDEV_BACKEND selects (AUTO by default):
 * the host runs this with posix, the VM bench with /dev/shmpool.  The same
 * assertions hold for both.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "testutil.h"

#define MiB (1024ULL * 1024ULL)

static struct shmdev_ctx *ctx;

/* The backend the library will pick, for the names in messages. */
static enum shmdev_backend real_backend(void)
{
	int fd;

	if (tu_backend() != SHMDEV_BACKEND_AUTO)
		return tu_backend();
	fd = open("/dev/shmpool", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == EACCES ? SHMDEV_BACKEND_DEVICE : SHMDEV_BACKEND_POSIX;
	close(fd);
	return SHMDEV_BACKEND_DEVICE;
}

static bool is_posix(void)
{
	return real_backend() == SHMDEV_BACKEND_POSIX;
}

/* The last message names @key (hex), the backend, and contains @what. */
#define ck_assert_errmsg(key, what) do {					\
	const char *m_ = shmdev_errmsg(ctx);					\
	char k_[32];								\
	snprintf(k_, sizeof(k_), "0x%" PRIx64, (uint64_t)(key));		\
	ck_assert_msg(strstr(m_, k_), "message \"%s\" lacks key %s", m_, k_);	\
	ck_assert_msg(strstr(m_, is_posix() ? "posix" : "device"),		\
		      "message \"%s\" lacks the backend", m_);			\
	ck_assert_msg(strstr(m_, what), "message \"%s\" lacks \"%s\"", m_, what); \
} while (0)

static struct shmdev_region *open_ok(uint64_t key, uint64_t size,
				     unsigned int flags, enum shmdev_start start)
{
	struct shmdev_region *r = NULL;
	int ret = shmdev_region_open(ctx, tu_backend(), key, size, flags, 0, &r);

	ck_assert_msg(ret == 0, "open 0x%" PRIx64 ": %d %s", key, ret,
		      shmdev_errmsg(ctx));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(shmdev_region_start(r), start);
	ck_assert_int_eq(shmdev_region_key(r), key);
	ck_assert_int_ne(shmdev_region_backend(r), SHMDEV_BACKEND_AUTO);
	ck_assert_int_eq(shmdev_region_backend(r), real_backend());
	return r;
}

static void fill(void *p, uint64_t size, uint64_t seed)
{
	uint64_t *w = p;
	uint64_t i;

	for (i = 0; i < size / 8; i++)
		w[i] = seed ^ (i * 0x9e3779b97f4a7c15ULL);
}

static bool check_fill(const void *p, uint64_t size, uint64_t seed)
{
	const uint64_t *w = p;
	uint64_t i;

	for (i = 0; i < size / 8; i++)
		if (w[i] != (seed ^ (i * 0x9e3779b97f4a7c15ULL)))
			return false;
	return true;
}

static bool is_zero(const void *p, uint64_t size)
{
	const uint64_t *w = p;
	uint64_t i;

	for (i = 0; i < size / 8; i++)
		if (w[i])
			return false;
	return true;
}

static int child_nothing(void *arg)
{
	(void)arg;
	return 0;
}

/* ---- children ----------------------------------------------------------- */

struct child_args {
	uint64_t key;
	uint64_t size;
	unsigned int flags;
	uint64_t seed;
	bool detach;		/* detach before reporting */
	bool close;		/* close before reporting */
	int expect_start;	/* 0: any */
	/* Kept reachable by a child that exits holding them (leak checkers). */
	struct shmdev_ctx *held_ctx;
	struct shmdev_region *held_region;
};

/* Open (and fill), maybe detach/close; 0 or a small error code. */
static int child_open(void *arg)
{
	struct child_args *a = arg;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_region *r;

	a->held_ctx = c;
	if (shmdev_region_open(c, tu_backend(), a->key, a->size, a->flags, 0, &r))
		return 10;
	a->held_region = r;
	if (a->expect_start && (int)shmdev_region_start(r) != a->expect_start)
		return 20 + (int)shmdev_region_start(r);
	if (a->seed && !(a->flags & SHMDEV_REGION_RDONLY))
		fill(shmdev_region_addr(r), shmdev_region_size(r), a->seed);
	if (a->detach && shmdev_region_detach(r))
		return 11;
	if (a->close) {
		shmdev_region_close(r);
		shmdev_ctx_unref(c);
		return 0;
	}
	/* Without close the process exits holding the region, like a crash. */
	a->held_ctx = c;
	a->held_region = r;
	return 0;
}

/* Open as owner, check the data of seed, detach, close. */
static int child_verify(void *arg)
{
	struct child_args *a = arg;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_region *r;
	int ret = 0;

	if (shmdev_region_open(c, tu_backend(), a->key, a->size, a->flags, 0, &r)) {
		shmdev_ctx_unref(c);
		return 10;
	}
	if (a->expect_start && (int)shmdev_region_start(r) != a->expect_start)
		ret = 20 + (int)shmdev_region_start(r);
	else if (!check_fill(shmdev_region_addr(r), shmdev_region_size(r), a->seed))
		ret = 30;
	else if ((a->flags & SHMDEV_REGION_OWNER) && shmdev_region_detach(r))
		ret = 11;
	shmdev_region_close(r);
	shmdev_ctx_unref(c);
	return ret;
}

/* ---- created / resumed -------------------------------------------------- */

START_TEST(test_create_resume_clean)
{
	uint64_t key = tu_key(1);
	long page = sysconf(_SC_PAGESIZE);
	struct child_args a = { .key = key, .size = 10000,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
				.seed = 0x1234, .expect_start = SHMDEV_START_RESUMED_CLEAN };
	struct shmdev_region *r;

	r = open_ok(key, 10000, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		    SHMDEV_START_CREATED);
	/* Rounded up to pages, page-aligned, zeroed, first owner. */
	ck_assert_uint_eq(shmdev_region_size(r), (10000 + page - 1) / page * page);
	ck_assert_uint_eq((uintptr_t)shmdev_region_addr(r) % (uintptr_t)page, 0);
	ck_assert_uint_eq(shmdev_region_generation(r), 1);
	ck_assert(is_zero(shmdev_region_addr(r), shmdev_region_size(r)));
	fill(shmdev_region_addr(r), shmdev_region_size(r), 0x1234);
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);

	/* A later process resumes it cleanly and finds the data. */
	ck_assert_int_eq(tu_run_in_child(child_verify, &a), 0);

	r = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(shmdev_region_generation(r), 3);
	ck_assert(check_fill(shmdev_region_addr(r), shmdev_region_size(r), 0x1234));
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_created_by_child_resumed_by_parent)
{
	uint64_t key = tu_key(2);
	struct child_args a = { .key = key, .size = 64 * 1024,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
				.seed = 0xabcdef, .detach = true, .close = true,
				.expect_start = SHMDEV_START_CREATED };
	struct shmdev_region *r;
	const uint64_t *w;

	ck_assert_int_eq(tu_run_in_child(child_open, &a), 0);
	r = open_ok(key, 64 * 1024, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		    SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(shmdev_region_size(r), 64 * 1024);
	ck_assert(check_fill(shmdev_region_addr(r), shmdev_region_size(r), 0xabcdef));
	/* Written by this owner, read by the next. */
	w = shmdev_region_addr(r);
	((uint64_t *)shmdev_region_addr(r))[0] = 42;
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);
	r = open_ok(key, 0, 0, SHMDEV_START_RESUMED);
	w = shmdev_region_addr(r);
	ck_assert_uint_eq(w[0], 42);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

/* ---- crash vs clean ----------------------------------------------------- */

static void expect_state(uint64_t key, enum shmdev_region_state state, bool owned)
{
	struct shmdev_region_info info;
	int ret = shmdev_region_stat(ctx, tu_backend(), key, &info);

	ck_assert_msg(ret == 0, "stat: %s", shmdev_errmsg(ctx));
	ck_assert_int_eq(info.state, state);
	ck_assert_int_eq(info.owned, owned);
	if (!owned)
		ck_assert_uint_eq(info.owner_pid, 0);
}

START_TEST(test_crash_sigkill)
{
	uint64_t key = tu_key(3);
	struct child_args a = { .key = key, .size = MiB,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
				.seed = 77 };
	struct shmdev_region_info info;
	struct shmdev_region *r;
	struct tu_child c;

	tu_child_start(&c, child_open, &a, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), key, &info), 0);
	ck_assert_int_eq(info.state, SHMDEV_STATE_OWNED);
	ck_assert(info.owned);
	ck_assert_uint_eq(info.owner_pid, (uint32_t)c.pid);
	tu_child_kill(&c);

	expect_state(key, SHMDEV_STATE_CRASHED, false);
	r = open_ok(key, MiB, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CRASH);
	ck_assert(check_fill(shmdev_region_addr(r), shmdev_region_size(r), 77));
	ck_assert_uint_eq(shmdev_region_generation(r), 2);
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);
	expect_state(key, SHMDEV_STATE_CLEAN, false);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_crash_exit_without_detach)
{
	uint64_t key = tu_key(4);
	struct child_args a = { .key = key, .size = MiB,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
				.seed = 78 };
	struct shmdev_region *r;

	/* The child returns from main-like code without detach or close. */
	ck_assert_int_eq(tu_run_in_child(child_open, &a), 0);
	expect_state(key, SHMDEV_STATE_CRASHED, false);
	r = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CRASH);
	ck_assert(check_fill(shmdev_region_addr(r), shmdev_region_size(r), 78));
	shmdev_region_close(r);

	/* Close without detach in this process counts as a crash too. */
	expect_state(key, SHMDEV_STATE_CRASHED, false);
	r = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CRASH);
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_clean_detach_then_exit)
{
	uint64_t key = tu_key(5);
	struct child_args a = { .key = key, .size = MiB,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
				.seed = 79, .detach = true };
	struct shmdev_region *r;

	/* Detached but never closed: still a clean exit. */
	ck_assert_int_eq(tu_run_in_child(child_open, &a), 0);
	expect_state(key, SHMDEV_STATE_CLEAN, false);
	r = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CLEAN);
	ck_assert(check_fill(shmdev_region_addr(r), shmdev_region_size(r), 79));
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_never_owned_is_clean)
{
	uint64_t key = tu_key(6);
	struct shmdev_region *r, *o;

	/* Created without the lease: state NEW, the first owner resumes clean. */
	r = open_ok(key, MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	ck_assert_uint_eq(shmdev_region_generation(r), 0);
	expect_state(key, SHMDEV_STATE_NEW, false);
	o = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(shmdev_region_generation(o), 1);
	shmdev_region_close(o);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

/* ---- lease --------------------------------------------------------------- */

START_TEST(test_lease_contention)
{
	uint64_t key = tu_key(7);
	struct child_args a = { .key = key, .size = MiB,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
				.seed = 80 };
	struct shmdev_region *r = NULL, *ro, *x;
	struct tu_child c;
	char pid[32];
	int ret;

	tu_child_start(&c, child_open, &a, true);
	ck_assert_int_eq(tu_child_wait_ready(&c), 0);

	ret = shmdev_region_open(ctx, tu_backend(), key, 0, SHMDEV_REGION_OWNER, 0, &r);
	ck_assert_int_eq(ret, -EBUSY);
	ck_assert_ptr_null(r);
	snprintf(pid, sizeof(pid), "pid %d", (int)c.pid);
	ck_assert_errmsg(key, pid);
	/* Without the lease anyone may look, and sees the owner's data. */
	ro = open_ok(key, 0, 0, SHMDEV_START_RESUMED);
	ck_assert(check_fill(shmdev_region_addr(ro), shmdev_region_size(ro), 80));

	/* The holder dies: the lease is free at once. */
	tu_child_kill(&c);
	r = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CRASH);

	/* And a second handle in this very process is refused too. */
	x = NULL;
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), key, 0,
					    SHMDEV_REGION_OWNER, 0, &x), -EBUSY);
	ck_assert_ptr_null(x);
	ck_assert_errmsg(key, "lease");
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	shmdev_region_close(r);
	shmdev_region_close(ro);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_lease_released_by_detach)
{
	uint64_t key = tu_key(8);
	struct shmdev_region *r, *r2;

	r = open_ok(key, MiB, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		    SHMDEV_START_CREATED);
	((uint64_t *)shmdev_region_addr(r))[1] = 5;
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	/* Detached, still mapped (and readable): the next owner may come in. */
	ck_assert_uint_eq(((uint64_t *)shmdev_region_addr(r))[1], 5);
	r2 = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(((uint64_t *)shmdev_region_addr(r2))[1], 5);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_detach(r2), 0);
	shmdev_region_close(r2);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

/* ---- size, destroy, read-only ------------------------------------------- */

START_TEST(test_size_mismatch)
{
	uint64_t key = tu_key(9);
	struct shmdev_region *r, *r2 = NULL;
	int ret;

	r = open_ok(key, 4 * MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	ret = shmdev_region_open(ctx, tu_backend(), key, 8 * MiB,
				 SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER, 0, &r2);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(r2);
	ck_assert_errmsg(key, "requested 8 MiB but it holds 4 MiB");
	/* The refused owner open left the lease free. */
	expect_state(key, SHMDEV_STATE_NEW, false);
	/* Asking for less is fine: the whole region is mapped. */
	r2 = open_ok(key, MiB, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_uint_eq(shmdev_region_size(r2), 4 * MiB);
	shmdev_region_close(r2);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_destroy_while_mapped)
{
	uint64_t key = tu_key(10);
	struct shmdev_region_info info;
	struct shmdev_region *r, *r2 = NULL;
	int ret;

	r = open_ok(key, MiB, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		    SHMDEV_START_CREATED);
	fill(shmdev_region_addr(r), shmdev_region_size(r), 99);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);

	/* The mapper keeps its memory... */
	ck_assert(check_fill(shmdev_region_addr(r), shmdev_region_size(r), 99));
	((uint64_t *)shmdev_region_addr(r))[0] = 1;
	/* ...but the key is gone for everyone else. */
	ret = shmdev_region_open(ctx, tu_backend(), key, 0, 0, 0, &r2);
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_errmsg(key, "does not exist");
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), key, &info), -ENOENT);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), -ENOENT);
	ck_assert_errmsg(key, "does not exist");

	/* The key can be created afresh, new and zeroed, while the old lives. */
	r2 = open_ok(key, MiB, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		     SHMDEV_START_CREATED);
	ck_assert_uint_eq(((uint64_t *)shmdev_region_addr(r2))[0], 0);
	ck_assert_uint_eq(shmdev_region_generation(r2), 1);
	ck_assert_uint_eq(((uint64_t *)shmdev_region_addr(r))[0], 1);
	shmdev_region_close(r2);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

static int child_write_rdonly(void *arg)
{
	volatile uint64_t *w = arg;

	/* Default action, whatever a sanitizer installed: die of SIGSEGV. */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	w[0] = 1;
	return 0;
}

START_TEST(test_rdonly)
{
	uint64_t key = tu_key(11);
	struct shmdev_region *w, *r, *bad = NULL;
	int ret;

	w = open_ok(key, MiB, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		    SHMDEV_START_CREATED);
	((uint64_t *)shmdev_region_addr(w))[0] = 1234;
	r = open_ok(key, 0, SHMDEV_REGION_RDONLY, SHMDEV_START_RESUMED);
	ck_assert_uint_eq(((const uint64_t *)shmdev_region_addr(r))[0], 1234);
	/* Seen live: the same memory. */
	((uint64_t *)shmdev_region_addr(w))[0] = 4321;
	ck_assert_uint_eq(((const uint64_t *)shmdev_region_addr(r))[0], 4321);

	ck_assert_int_eq(mprotect(shmdev_region_addr(r), shmdev_region_size(r),
				  PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	/* Under valgrind the fault is reported loudly: mprotect says enough. */
	if (!RUNNING_ON_VALGRIND)
		ck_assert_int_eq(tu_run_in_child(child_write_rdonly, shmdev_region_addr(r)),
				 1000 + SIGSEGV);
	ck_assert_uint_eq(((const uint64_t *)shmdev_region_addr(w))[0], 4321);

	ret = shmdev_region_open(ctx, tu_backend(), key, 0,
				 SHMDEV_REGION_OWNER | SHMDEV_REGION_RDONLY, 0, &bad);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(bad);
	ck_assert_errmsg(key, "OWNER and RDONLY");
	shmdev_region_close(r);
	shmdev_region_close(w);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

/* ---- stat and list ------------------------------------------------------ */

struct seen {
	uint64_t keys[16];
	struct shmdev_region_info info[16];
	int n;
	int stop_after;
};

static int collect(const struct shmdev_region_info *info, void *data)
{
	struct seen *s = data;

	/* Other tests' and runs' regions may be listed too: keep this test's. */
	if (info->key < tu_key(20) || info->key > tu_key(22))
		return 0;
	if (s->n < 16) {
		s->keys[s->n] = info->key;
		s->info[s->n] = *info;
	}
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

START_TEST(test_stat_and_list)
{
	uint64_t k1 = tu_key(20), k2 = tu_key(21), k3 = tu_key(22);
	struct child_args a = { .key = k3, .size = 3 * MiB,
				.flags = SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER };
	struct shmdev_region_info info;
	struct shmdev_region *r1, *r2;
	struct seen s = { .n = 0 };
	int ret;

	/* Opened out of key order on purpose: list sorts. */
	ck_assert_int_eq(tu_run_in_child(child_open, &a), 0);	/* crashed */
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), k2, 2 * MiB,
					    SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
					    0640, &r2), 0);
	ck_assert_int_eq(shmdev_region_detach(r2), 0);		/* clean */
	r1 = open_ok(k1, MiB, SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER,
		     SHMDEV_START_CREATED);			/* owned */

	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), k2, &info), 0);
	ck_assert_uint_eq(info.key, k2);
	ck_assert_uint_eq(info.size, 2 * MiB);
	ck_assert_uint_eq(info.mode, 0640);
	ck_assert_uint_eq(info.uid, geteuid());
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_int_eq(info.state, SHMDEV_STATE_CLEAN);
	ck_assert_uint_ne(info.ctime_ns, 0);
	ck_assert_uint_ge(info.atime_ns, info.ctime_ns);
	ck_assert_uint_ge(info.dtime_ns, info.atime_ns);
	if (!is_posix()) {
		/* Only the device counts users: r2 is still open and mapped. */
		ck_assert_uint_eq(info.nattch, 1);
		ck_assert_uint_eq(info.nmaps, 1);
	}

	ck_assert_int_eq(shmdev_region_list(ctx, tu_backend(), collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_uint_eq(s.keys[0], k1);
	ck_assert_uint_eq(s.keys[1], k2);
	ck_assert_uint_eq(s.keys[2], k3);
	ck_assert_uint_eq(s.info[0].size, MiB);
	ck_assert_int_eq(s.info[0].state, SHMDEV_STATE_OWNED);
	ck_assert(s.info[0].owned);
	ck_assert_uint_eq(s.info[0].owner_pid, (uint32_t)getpid());
	ck_assert_uint_eq(s.info[1].size, 2 * MiB);
	ck_assert_int_eq(s.info[1].state, SHMDEV_STATE_CLEAN);
	ck_assert_uint_eq(s.info[2].size, 3 * MiB);
	ck_assert_int_eq(s.info[2].state, SHMDEV_STATE_CRASHED);
	ck_assert(!s.info[2].owned);

	/* A non-zero return stops the walk and comes back. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	ret = shmdev_region_list(ctx, tu_backend(), collect, &s);
	ck_assert_int_eq(ret, 7);
	ck_assert_int_eq(s.n, 2);

	/* Destroyed keys leave the list at once. */
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), k2), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(shmdev_region_list(ctx, tu_backend(), collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(s.keys[0], k1);
	ck_assert_uint_eq(s.keys[1], k3);

	shmdev_region_close(r1);
	shmdev_region_close(r2);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), k1), 0);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), k3), 0);
}
END_TEST

/* ---- races -------------------------------------------------------------- */

struct race_args {
	uint64_t key;
	int gate[2];		/* EOF on gate[0] starts the race */
};

static int child_race_create(void *arg)
{
	struct race_args *a = arg;
	struct shmdev_ctx *c = tu_ctx();
	struct shmdev_region *r;
	char byte;
	int start;

	close(a->gate[1]);
	if (read(a->gate[0], &byte, 1) != 0)
		return 12;
	if (shmdev_region_open(c, tu_backend(), a->key, 256 * 1024,
			       SHMDEV_REGION_CREATE, 0, &r)) {
		shmdev_ctx_unref(c);
		return 10;
	}

	start = (int)shmdev_region_start(r);
	/* Whoever wins, the memory is whole: the full size is mapped. */
	((volatile char *)shmdev_region_addr(r))[shmdev_region_size(r) - 1] = 1;
	shmdev_region_close(r);
	shmdev_ctx_unref(c);
	return start;
}

START_TEST(test_concurrent_create)
{
	int round, i, rounds = tu_quick() ? 5 : 50;

	for (round = 0; round < rounds; round++) {
		struct race_args a = { .key = tu_key(30) };
		struct tu_child c[4];
		int created = 0, resumed = 0;

		/* All four wait at the gate, then create at the same moment. */
		ck_assert_int_eq(pipe(a.gate), 0);
		for (i = 0; i < 4; i++)
			tu_child_start(&c[i], child_race_create, &a, false);
		close(a.gate[1]);
		close(a.gate[0]);
		for (i = 0; i < 4; i++) {
			int st = tu_child_wait(&c[i]);

			created += st == SHMDEV_START_CREATED;
			resumed += st == SHMDEV_START_RESUMED;
		}
		ck_assert_int_eq(created, 1);
		ck_assert_int_eq(resumed, 3);
		ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), a.key), 0);
	}
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

START_TEST(test_errors_open)
{
	uint64_t key = tu_key(40);
	struct shmdev_region *r = NULL, *x;
	int ret;

	ret = shmdev_region_open(ctx, tu_backend(), 0, MiB, SHMDEV_REGION_CREATE, 0, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_errmsg(0, "key 0");

	ret = shmdev_region_open(ctx, tu_backend(), key, MiB, 0x100, 0, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_errmsg(key, "unknown open flags 0x100");

	ret = shmdev_region_open(ctx, tu_backend(), key, MiB, SHMDEV_REGION_EXCL, 0, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_errmsg(key, "EXCL needs CREATE");

	ret = shmdev_region_open(ctx, tu_backend(), key, 0, SHMDEV_REGION_CREATE, 0, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_errmsg(key, "size 0");

	ret = shmdev_region_open(ctx, tu_backend(), key, MiB, SHMDEV_REGION_CREATE, 01777, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_errmsg(key, "mode 01777");

	ret = shmdev_region_open(ctx, tu_backend(), key, MiB, 0, 0, &r);
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_errmsg(key, "does not exist");
	ck_assert_ptr_null(r);

	/* Nothing above created anything. */
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), -ENOENT);

	x = open_ok(key, MiB, SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL,
		    SHMDEV_START_CREATED);
	ret = shmdev_region_open(ctx, tu_backend(), key, MiB,
				 SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL, 0, &r);
	ck_assert_int_eq(ret, -EEXIST);
	ck_assert_errmsg(key, "already exists");
	ck_assert_ptr_null(r);
	shmdev_region_close(x);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

/* Entries of /dev/shm that start with this run's POSIX prefix. */
static int count_posix_objects(void)
{
	const char *prefix = getenv("SHMDEV_POSIX_PREFIX");
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/dev/shm");

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

START_TEST(test_errors_too_big)
{
	uint64_t key = tu_key(47);
	struct shmdev_region_info info;
	struct shmdev_region *r = NULL;
	int before = count_posix_objects();
	int ret;

	/* 1 PiB: above any module limit and any /dev/shm. */
	ret = shmdev_region_open(ctx, tu_backend(), key, 1ULL << 50,
				 SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER, 0, &r);
	ck_assert_ptr_null(r);
	if (is_posix()) {
		ck_assert_int_eq(ret, -ENOSPC);
		ck_assert_errmsg(key, "cannot reserve 1 PiB");
	} else {
		ck_assert_int_eq(ret, -EFBIG);
		ck_assert_errmsg(key, "max_region_bytes");
	}
	/* Nothing half-made is left: no region, no temporary. */
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), key, &info), -ENOENT);
	ck_assert_int_eq(count_posix_objects(), before);
}
END_TEST

START_TEST(test_errors_detach)
{
	uint64_t key = tu_key(41);
	struct shmdev_region *r;

	r = open_ok(key, MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_region_detach(r), -EPERM);
	ck_assert_errmsg(key, "not opened with OWNER");
	shmdev_region_close(r);

	r = open_ok(key, 0, SHMDEV_REGION_OWNER, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_region_detach(r), 0);
	ck_assert_int_eq(shmdev_region_detach(r), -EPERM);
	ck_assert_errmsg(key, "already detached");
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_errors_stat_destroy)
{
	uint64_t key = tu_key(42);
	struct shmdev_region_info info;

	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), key, &info), -ENOENT);
	ck_assert_errmsg(key, "does not exist");
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), -ENOENT);
	ck_assert_errmsg(key, "does not exist");
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), 0, &info), -EINVAL);
	ck_assert_errmsg(0, "key 0");
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), 0), -EINVAL);
	ck_assert_errmsg(0, "key 0");
}
END_TEST

static int collect_none(const struct shmdev_region_info *info, void *data)
{
	(void)info;
	(void)data;
	return 0;
}

START_TEST(test_errors_backend_env)
{
	uint64_t key = tu_key(43);
	struct shmdev_region *r = NULL;
	int ret;

	setenv("SHMDEV_BACKEND", "bogus", 1);
	ret = shmdev_region_open(ctx, SHMDEV_BACKEND_POSIX, key, MiB,
				 SHMDEV_REGION_CREATE, 0, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "SHMDEV_BACKEND=\"bogus\""),
		      "%s", shmdev_errmsg(ctx));
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "region 0x"), "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_region_list(ctx, SHMDEV_BACKEND_AUTO, collect_none, NULL),
			 -EINVAL);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "regions: SHMDEV_BACKEND=\"bogus\""),
		      "%s", shmdev_errmsg(ctx));
	unsetenv("SHMDEV_BACKEND");
	ret = shmdev_region_open(ctx, (enum shmdev_backend)9, key, MiB,
				 SHMDEV_REGION_CREATE, 0, &r);
	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "backend 9"), "%s", shmdev_errmsg(ctx));

	/* Asking for the device where there is none: a clear ENODEV. */
	if (access("/dev/shmpool", F_OK) != 0) {
		ret = shmdev_region_open(ctx, SHMDEV_BACKEND_DEVICE, key, MiB,
					 SHMDEV_REGION_CREATE, 0, &r);
		ck_assert_int_eq(ret, -ENODEV);
		ck_assert_msg(strstr(shmdev_errmsg(ctx), "/dev/shmpool is absent"),
			      "%s", shmdev_errmsg(ctx));
		ck_assert_msg(strstr(shmdev_errmsg(ctx), "(device)"), "%s",
			      shmdev_errmsg(ctx));
	}
}
END_TEST

START_TEST(test_remap_fixed)
{
	uint64_t key = tu_key(44);
	struct shmdev_region *r;
	uint64_t size, page = (uint64_t)sysconf(_SC_PAGESIZE);
	void *hole, *old, *want;
	int ret;

	r = open_ok(key, MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	size = shmdev_region_size(r);
	((uint64_t *)shmdev_region_addr(r))[0] = 31337;

	/*
	 * An address that is taken: refused, the old mapping kept.  Reserve
	 * a page more on each side: a backend may keep a header below.
	 */
	hole = mmap(NULL, size + 2 * page, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(hole, MAP_FAILED);
	want = (char *)hole + page;
	old = shmdev_region_addr(r);
	ck_assert_int_eq(shmdev_region_remap(r, want), -EEXIST);
	ck_assert_errmsg(key, "the address is taken");
	ck_assert_ptr_eq(shmdev_region_addr(r), old);
	ck_assert_uint_eq(((uint64_t *)old)[0], 31337);

	/* A free one: the region moves there. */
	ck_assert_int_eq(munmap(hole, size + 2 * page), 0);
	ret = shmdev_region_remap(r, want);
	ck_assert_msg(ret == 0, "remap: %s", shmdev_errmsg(ctx));
	ck_assert_ptr_eq(shmdev_region_addr(r), want);
	ck_assert_uint_eq(((uint64_t *)want)[0], 31337);

	ck_assert_int_eq(shmdev_region_remap(r, (char *)want + 1), -EINVAL);
	ck_assert_errmsg(key, "page-aligned");
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

struct perm_args {
	uint64_t key;
	int open_ret, destroy_ret;
	char open_msg[512], destroy_msg[512];
};

/* As nobody: open and destroy a region root made with mode 0600. */
static int child_as_nobody(void *arg)
{
	struct perm_args *a = arg;
	struct shmdev_ctx *c;
	struct shmdev_region *r = NULL;

	if (setgid(65534) || setuid(65534))
		return 50;
	c = tu_ctx();
	a->open_ret = shmdev_region_open(c, tu_backend(), a->key, 0, 0, 0, &r);
	snprintf(a->open_msg, sizeof(a->open_msg), "%s", shmdev_errmsg(c));
	if (r)
		shmdev_region_close(r);
	a->destroy_ret = shmdev_region_destroy(c, tu_backend(), a->key);
	snprintf(a->destroy_msg, sizeof(a->destroy_msg), "%s", shmdev_errmsg(c));
	shmdev_ctx_unref(c);
	/* Report through the exit status: 1 bit per expected refusal. */
	return (a->open_ret == -EACCES ? 1 : 0) |
	       (a->destroy_ret == -EPERM || a->destroy_ret == -EACCES ? 2 : 0) |
	       (strstr(a->open_msg, "ermission denied") ? 4 : 0) |
	       (strstr(a->destroy_msg, "0x") ? 8 : 0);
}

START_TEST(test_errors_permission)
{
	uint64_t key = tu_key(45);
	struct perm_args a = { .key = key };
	struct shmdev_region_info info;
	struct shmdev_region *r;

	if (geteuid() != 0)
		return;	/* needs to switch users */
	r = open_ok(key, MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	ck_assert_int_eq(tu_run_in_child(child_as_nobody, &a), 15);
	/* Refused, so still there. */
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), key, &info), 0);
	ck_assert_uint_eq(info.mode, 0600);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

/* ---- POSIX only: names, foreign objects, leftovers ----------------------- */

static void posix_name(uint64_t key, const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "/dev/shm/%s.%016" PRIx64 "%s",
		 getenv("SHMDEV_POSIX_PREFIX"), key, suffix);
}

START_TEST(test_posix_layout)
{
	uint64_t key = tu_key(50);
	struct shmdev_region *r;
	char path[512];
	struct stat st;

	if (!is_posix())
		return;
	r = open_ok(key, MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	posix_name(key, "", path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	/* One header page before the user data. */
	ck_assert_int_eq(st.st_size, (off_t)(MiB + (uint64_t)sysconf(_SC_PAGESIZE)));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
	ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

START_TEST(test_posix_foreign_object)
{
	uint64_t key = tu_key(51);
	struct shmdev_region *r = NULL;
	struct shmdev_region_info info;
	char path[512];
	int fd;

	if (!is_posix())
		return;
	/* Something else made an object under our name: refuse, never reuse. */
	posix_name(key, "", path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 2 * sysconf(_SC_PAGESIZE)), 0);
	ck_assert_int_eq(pwrite(fd, "garbage!", 8, 0), 8);
	close(fd);
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), key, MiB,
					    SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER, 0, &r),
			 -EPROTO);
	ck_assert_errmsg(key, "not a shmpool region");
	ck_assert_ptr_null(r);
	ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), key, &info), -EPROTO);

	/* Too short for a header. */
	ck_assert_int_eq(truncate(path, 10), 0);
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), key, 0, 0, 0, &r),
			 -EPROTO);
	ck_assert_errmsg(key, "no room for a header");
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_posix_stale_temporary)
{
	uint64_t key = tu_key(52);
	struct tu_child c;
	struct shmdev_region *r;
	char path[512], suffix[64];
	struct stat st;
	int fd;

	if (!is_posix())
		return;
	/* A creator that died half-way left its temporary behind. */
	tu_child_start(&c, child_nothing, NULL, false);
	tu_child_wait(&c);
	snprintf(suffix, sizeof(suffix), ".new.%d", (int)c.pid);
	posix_name(key, suffix, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);

	/* It is not a region... */
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), key, 0, 0, 0, &r),
			 -ENOENT);
	/* ...and the next creator of the key removes it. */
	r = open_ok(key, MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(ctx, tu_backend(), key), 0);
}
END_TEST

START_TEST(test_posix_bad_prefix)
{
	uint64_t key = tu_key(53);
	struct shmdev_region *r = NULL;

	if (!is_posix())
		return;
	setenv("SHMDEV_POSIX_PREFIX", "../etc", 1);
	ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), key, MiB,
					    SHMDEV_REGION_CREATE, 0, &r), -EINVAL);
	ck_assert_errmsg(key, "SHMDEV_POSIX_PREFIX=\"../etc\"");
	ck_assert_ptr_null(r);
}
END_TEST

static Suite *region_suite(void)
{
	Suite *s = suite_create("region");
	TCase *tc;

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_create_resume_clean);
	tcase_add_test(tc, test_created_by_child_resumed_by_parent);
	tcase_add_test(tc, test_crash_sigkill);
	tcase_add_test(tc, test_crash_exit_without_detach);
	tcase_add_test(tc, test_clean_detach_then_exit);
	tcase_add_test(tc, test_never_owned_is_clean);
	tcase_add_test(tc, test_lease_contention);
	tcase_add_test(tc, test_lease_released_by_detach);
	tcase_add_test(tc, test_size_mismatch);
	tcase_add_test(tc, test_destroy_while_mapped);
	tcase_add_test(tc, test_rdonly);
	tcase_add_test(tc, test_stat_and_list);
	tcase_add_test(tc, test_concurrent_create);
	tcase_add_test(tc, test_remap_fixed);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_add_test(tc, test_errors_open);
	tcase_add_test(tc, test_errors_detach);
	tcase_add_test(tc, test_errors_too_big);
	tcase_add_test(tc, test_errors_stat_destroy);
	tcase_add_test(tc, test_errors_backend_env);
	tcase_add_test(tc, test_errors_permission);
	suite_add_tcase(s, tc);

	tc = tcase_create("posix");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_add_test(tc, test_posix_layout);
	tcase_add_test(tc, test_posix_foreign_object);
	tcase_add_test(tc, test_posix_stale_temporary);
	tcase_add_test(tc, test_posix_bad_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("region");
	tu_fixture(&ctx, NULL);
	return tu_run(region_suite());
}
