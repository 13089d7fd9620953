// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * SHMDEV_POOL_THREADS: several threads of the owner call the pool at once.
 *
 *  - churn: NR_THREADS threads alloc, alloc_raw, free, force_get, find, get,
 *    foreach and type_stats on shared and own types and keys; every object
 *    carries its owner's stamp, checked before each free (a slot handed to
 *    two threads, or freed under another's feet, shows up), the keys shared
 *    by all threads end with one object each, and at the end the counts,
 *    the stamps and shmdev_pool_check() agree with what the threads hold.
 *  - errors: every thread's failures leave its own message in
 *    shmdev_errmsg(), never another thread's.
 *  - kill: a child opens the pool with the flag and runs NR_THREADS threads
 *    that journal each operation in memory shared with the parent (before
 *    and after the call); the parent SIGKILLs it at a random moment, opens
 *    the pool (the repair, several half-done operations at once), checks
 *    it and the journal: every completed alloc and force_get is there with
 *    its stamp, every completed free is gone, the interrupted ones either
 *    happened or not, counts match; then the next round resumes it.
 *  - kill_stalled: the same, but the crash hook stops four threads (two
 *    on plain type A with their caches, one on B, one on keyed K) at one
 *    crash point of alloc or free each and then kills the process: four
 *    half-done changes at once, two of them on one type, at every such
 *    point.
 *  - flags: THREADS with RDONLY is refused, naming the flags.
 *  - cache_kill, live_check, cache_generations: the threads' caches of
 *    free slots (threads_cache.h).
 *
 * The suite runs plain, under ASan+UBSan, valgrind and ThreadSanitizer
 * (`make test-lib-tsan`, tests/lib/build.mk).  SHMDEV_TEST_QUICK: fewer
 * rounds.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define NR_THREADS	4
#define T_A		0	/* plain: threads 0 and 2 */
#define T_B		1	/* plain: threads 1 and 3 */
#define T_K		2	/* keyed: own keys and shared keys */
#define CAP		4096
#define HOLD		64	/* objects a thread holds at most, per kind */
#define OWN_KEYS	48	/* keys of one thread: t << 32 | i */
#define SHARED_KEYS	16	/* keys every thread force_gets: 1 << 40 | i */
#define STAMP		0x7eadc0de00000000ULL

struct obj {
	uint64_t stamp;		/* STAMP ^ handle, written by the thread that made it */
	uint64_t key;
	uint64_t owner;
	uint64_t pad;
};

static const struct shmdev_type types[] = {
	{ .id = T_A, .name = "A", .size = sizeof(struct obj), .max_count = CAP },
	{ .id = T_B, .name = "B", .size = sizeof(struct obj), .max_count = CAP },
	{ .id = T_K, .name = "K", .size = sizeof(struct obj), .max_count = CAP,
	  .flags = SHMDEV_TYPE_KEYED },
};

static struct shmdev_ctx *ctx;

static struct shmdev_conf *thr_conf(void)
{
	return tu_conf(ctx, "thr", 0, "2M", 2, NULL);
}

static void destroy_pool(void)
{
	tu_pool_destroy(ctx, thr_conf());
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint16_t plain_type(unsigned int t)
{
	return t % 2 ? T_B : T_A;
}

/* ---- churn ------------------------------------------------------------ */

struct churn {
	struct shmdev_pool *pool;
	unsigned int t;
	unsigned int iters;
	uint64_t held[HOLD];		/* plain handles this thread holds */
	uint64_t keyed[OWN_KEYS];	/* handle per own key, 0 if none */
	char fail[256];			/* the first problem, or "" */
};

static int count_live(void *obj, shmdev_handle_t h, void *data)
{
	(void)obj;
	(void)h;
	++*(uint64_t *)data;
	return 0;
}

#define CHURN_FAIL(c, ...) do { \
	if (!(c)->fail[0]) \
		snprintf((c)->fail, sizeof((c)->fail), __VA_ARGS__); \
	return NULL; \
} while (0)

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (c->t + 1);
	uint16_t ty = plain_type(c->t);
	unsigned int i;

	for (i = 0; i < c->iters; i++) {
		unsigned int op = rnd(&seed) % 8, j = rnd(&seed) % HOLD, k = rnd(&seed) % OWN_KEYS;
		struct obj *o;
		shmdev_handle_t h;
		bool created;
		int err;

		switch (op) {
		case 0:
		case 1:
			if (c->held[j]) {
				o = shmdev_get(c->pool, c->held[j]);
				if (!o || o->stamp != (STAMP ^ c->held[j]) || o->owner != c->t)
					CHURN_FAIL(c, "thread %u: held 0x%" PRIx64 " lost its stamp before free", c->t, c->held[j]);
				err = shmdev_free(c->pool, c->held[j]);
				if (err)
					CHURN_FAIL(c, "thread %u: free: %d", c->t, err);
				c->held[j] = 0;
			} else {
				err = op ? shmdev_alloc(c->pool, ty, (void **)&o, &h) :
					   shmdev_alloc_raw(c->pool, ty, (void **)&o, &h);
				if (err)
					CHURN_FAIL(c, "thread %u: alloc: %d", c->t, err);
				if (op && (o->stamp || o->owner))
					CHURN_FAIL(c, "thread %u: alloc gave a used object", c->t);
				o->stamp = STAMP ^ h;
				o->owner = c->t;
				c->held[j] = h;
			}
			break;
		case 2:
		case 3: {
			uint64_t key = (uint64_t)c->t << 32 | k;

			if (c->keyed[k] && op == 3) {
				o = shmdev_get(c->pool, c->keyed[k]);
				if (!o || o->key != key || o->stamp != (STAMP ^ c->keyed[k]))
					CHURN_FAIL(c, "thread %u: key 0x%" PRIx64 " lost its object", c->t, key);
				err = shmdev_free(c->pool, c->keyed[k]);
				if (err)
					CHURN_FAIL(c, "thread %u: keyed free: %d", c->t, err);
				c->keyed[k] = 0;
				break;
			}
			err = shmdev_force_get(c->pool, T_K, key, (void **)&o, &h, &created);
			if (err)
				CHURN_FAIL(c, "thread %u: force_get: %d", c->t, err);
			if (created != !c->keyed[k] || (!created && h != c->keyed[k]))
				CHURN_FAIL(c, "thread %u: force_get key 0x%" PRIx64 ": created %d, had 0x%" PRIx64 ", got 0x%" PRIx64,
					   c->t, key, created, c->keyed[k], h);
			if (created) {
				o->key = key;
				o->stamp = STAMP ^ h;
				c->keyed[k] = h;
			}
			break;
		}
		case 4: {
			uint64_t key = (uint64_t)c->t << 32 | k;
			shmdev_handle_t fh = 0;

			o = shmdev_find(c->pool, T_K, key, &fh);
			if ((o != NULL) != (c->keyed[k] != 0) || (o && (fh != c->keyed[k] || o->key != key)))
				CHURN_FAIL(c, "thread %u: find key 0x%" PRIx64 " gave %p 0x%" PRIx64 ", holds 0x%" PRIx64,
					   c->t, key, (void *)o, fh, c->keyed[k]);
			break;
		}
		case 5: {
			/* Shared keys: whoever comes first creates, the others find it. */
			uint64_t key = 1ULL << 40 | k % SHARED_KEYS;

			err = shmdev_force_get(c->pool, T_K, key, (void **)&o, &h, &created);
			if (err)
				CHURN_FAIL(c, "thread %u: force_get shared: %d", c->t, err);
			if (shmdev_find(c->pool, T_K, key, NULL) != o)
				CHURN_FAIL(c, "thread %u: shared key 0x%" PRIx64 " has two objects", c->t, key);
			break;
		}
		case 6: {
			struct shmdev_type_stats st;
			uint64_t n = 0;

			if (shmdev_pool_type_stats(c->pool, ty, &st) || st.live_count > CAP)
				CHURN_FAIL(c, "thread %u: type_stats", c->t);
			if (i % 64 == 0 && shmdev_foreach(c->pool, ty, count_live, &n))
				CHURN_FAIL(c, "thread %u: foreach", c->t);
			break;
		}
		default:
			if (c->held[j] && shmdev_handle_of(c->pool, shmdev_get(c->pool, c->held[j])) != c->held[j])
				CHURN_FAIL(c, "thread %u: handle_of", c->t);
			break;
		}
	}
	return NULL;
}

/* Start NR_THREADS threads of @fn on @c[t] (thread t, @iters operations). */
static void churn_run(struct churn *c, pthread_t *th, struct shmdev_pool *pool,
		      unsigned int iters, void *(*fn)(void *))
{
	unsigned int t;

	for (t = 0; t < NR_THREADS; t++) {
		c[t] = (struct churn){ .pool = pool, .t = t, .iters = iters };
		ck_assert_int_eq(pthread_create(&th[t], NULL, fn, &c[t]), 0);
	}
}

START_TEST(test_churn)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS);
	static struct churn c[NR_THREADS];
	pthread_t th[NR_THREADS];
	uint64_t held[2] = { 0, 0 }, keyed = 0, shared = 0, n = 0;
	struct shmdev_type_stats st;
	unsigned int t, j;

	churn_run(c, th, pool, tu_quick() ? 3000 : 200000, churn_thread);
	for (t = 0; t < NR_THREADS; t++)
		pthread_join(th[t], NULL);
	for (t = 0; t < NR_THREADS; t++) {
		ck_assert_msg(!c[t].fail[0], "%s", c[t].fail);
		for (j = 0; j < HOLD; j++) {
			struct obj *o = c[t].held[j] ? shmdev_get(pool, c[t].held[j]) : NULL;

			if (!c[t].held[j])
				continue;
			ck_assert_msg(o && o->stamp == (STAMP ^ c[t].held[j]), "thread %u: held object %u", t, j);
			held[t % 2]++;
		}
		for (j = 0; j < OWN_KEYS; j++)
			keyed += c[t].keyed[j] != 0;
	}
	/* One object per shared key, found by find and by foreach. */
	for (j = 0; j < SHARED_KEYS; j++)
		shared += shmdev_find(pool, T_K, 1ULL << 40 | j, NULL) != NULL;
	ck_assert_int_eq(shmdev_foreach(pool, T_K, count_live, &n), 0);
	ck_assert_uint_eq(n, keyed + shared);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_A, &st), 0);
	ck_assert_uint_eq(st.live_count, held[0]);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_B, &st), 0);
	ck_assert_uint_eq(st.live_count, held[1]);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_K, &st), 0);
	ck_assert_uint_eq(st.live_count, keyed + shared);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/*
	 * And again after a clean resume, without the flag: the close gave
	 * the threads' caches back (a slot left CACHED would count as live).
	 */
	pool = tu_pool_start(ctx, conf, types, 3, 0, SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_A, &st), 0);
	ck_assert_uint_eq(st.live_count, held[0]);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_B, &st), 0);
	ck_assert_uint_eq(st.live_count, held[1]);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* ---- per-thread messages ---------------------------------------------- */

struct errs {
	struct shmdev_pool *pool;
	unsigned int t;
	unsigned int bad;
};

static void *errs_thread(void *arg)
{
	struct errs *e = arg;
	char want[64];
	unsigned int i;

	/* Each thread fails with its own slot number in the message. */
	snprintf(want, sizeof(want), "slot %u,", 1000 + e->t);
	for (i = 0; i < (tu_quick() ? 200 : 20000); i++) {
		shmdev_handle_t h = (uint64_t)T_A << 52 | (uint64_t)(1000 + e->t) << 24 | 7;

		if (shmdev_free(e->pool, h) != -ESTALE || !strstr(shmdev_errmsg(ctx), want))
			e->bad++;
		if (shmdev_alloc(e->pool, 77, &(void *){ NULL }, NULL) != -ENOENT ||
		    !strstr(shmdev_errmsg(ctx), "type 77 is not"))
			e->bad++;
	}
	return NULL;
}

START_TEST(test_errors_per_thread)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS);
	struct errs e[NR_THREADS];
	pthread_t th[NR_THREADS];
	unsigned int t;

	/* The opening thread's message survives the switch to per-thread ones. */
	ck_assert_int_eq(shmdev_free(pool, 5), -ESTALE);
	for (t = 0; t < NR_THREADS; t++) {
		e[t] = (struct errs){ .pool = pool, .t = t };
		ck_assert_int_eq(pthread_create(&th[t], NULL, errs_thread, &e[t]), 0);
	}
	for (t = 0; t < NR_THREADS; t++) {
		pthread_join(th[t], NULL);
		ck_assert_msg(e[t].bad == 0, "thread %u saw another thread's message %u times", t, e[t].bad);
	}
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "slot 0,"), "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

START_TEST(test_flags)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = NULL;

	ck_assert_int_eq(shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY | SHMDEV_POOL_THREADS,
					  &pool), -EINVAL);
	ck_assert_ptr_null(pool);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "SHMDEV_POOL_THREADS is for the owner"), "%s",
		      shmdev_errmsg(ctx));
	/* Transactions are not thread-safe yet: refused, naming the flag. */
	pool = tu_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS);
	ck_assert_int_eq(shmdev_tx_begin(pool), -EOPNOTSUPP);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "SHMDEV_POOL_THREADS, and transactions"), "%s",
		      shmdev_errmsg(ctx));
	ck_assert(!shmdev_tx_active(pool));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

#include "threads_kill.h"
#include "threads_cache.h"

static Suite *threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc;

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_churn);
	tcase_add_test(tc, test_errors_per_thread);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_kill);
	tcase_add_test(tc, test_kill_stalled);
	tcase_add_test(tc, test_cache_kill);
	tcase_add_test(tc, test_live_check);
	tcase_add_test(tc, test_cache_generations);
	tcase_add_test(tc, test_cache_full);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("threads");
	tu_fixture(&ctx, destroy_pool);
	return tu_run(threads_suite());
}
