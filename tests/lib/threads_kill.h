/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_threads.c, part 2: kill -9 of a threaded owner at a random moment.
 *
 * The child's threads journal every operation in memory shared with the
 * parent: the entry goes ALLOCING (or FREEING) before the call and LIVE (or
 * EMPTY) after it and after the object's stamp is written.  At the kill
 * each thread may be anywhere, several inside the library at once (each on
 * its type's lock or between its stores); the parent then opens the pool,
 * which repairs it, and checks every entry against it.
 *
 * test_kill kills at a random moment; test_kill_stalled uses the crash
 * hook's SHMDEV_TEST_KILL_THREADS: four threads (two on plain type A with
 * their thread caches, one on B, one on the keyed K under its lock) each
 * stop at the same crash point inside their own change, and the fourth
 * kills the process, so that four half-done changes (two on one type) meet
 * the repair at once, at every point that cached and locked alloc and free
 * share in turn.
 */
#include <sched.h>

enum { J_EMPTY = 0, J_ALLOCING = 1, J_LIVE = 2, J_FREEING = 3 };

struct jent {
	uint32_t state;
	uint32_t pad;
	uint64_t handle;
};

struct journal {
	struct jent plain[NR_THREADS][HOLD];
	struct jent keyed[NR_THREADS][OWN_KEYS];
	uint64_t ops[NR_THREADS];
	char fail[256];
};

struct kill_arg {
	struct journal *j;
	struct shmdev_pool *pool;
	unsigned int t;
	unsigned int round;
	bool stall;		/* test_kill_stalled: thread t on kill_type(t) or K only */
};

static const char *kill_stall_at;	/* test_kill_stalled: the crash point */

/* The plain type of thread @t: test_kill_stalled puts threads 0 and 3 on A. */
static uint16_t kill_type(unsigned int t)
{
	return kill_stall_at && t == 3 ? T_A : plain_type(t);
}

static void jset(struct jent *e, uint32_t state)
{
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
}

static void jfail(struct journal *j, const char *what, unsigned int t, int err)
{
	if (!j->fail[0])
		snprintf(j->fail, sizeof(j->fail), "child thread %u: %s: %d", t, what, err);
}

static void *kill_thread(void *arg)
{
	struct kill_arg *a = arg;
	struct journal *j = a->j;
	uint64_t seed = 0x2545f4914f6cdd1dULL * (a->t + 1) + a->round;
	uint16_t ty = kill_type(a->t);

	for (;;) {
		unsigned int n = rnd(&seed) % HOLD, k = rnd(&seed) % OWN_KEYS;
		bool keyed = a->stall ? a->t == T_K : rnd(&seed) & 1, created;
		struct jent *e = keyed ? &j->keyed[a->t][k] : &j->plain[a->t][n];
		uint64_t key = (uint64_t)a->t << 32 | k;
		shmdev_handle_t h;
		struct obj *o;
		int err;

		if (e->state == J_LIVE) {
			jset(e, J_FREEING);
			err = shmdev_free(a->pool, e->handle);
			if (err) {
				jfail(j, "free", a->t, err);
				return NULL;
			}
			jset(e, J_EMPTY);
			e->handle = 0;
		} else {
			jset(e, J_ALLOCING);
			err = keyed ? shmdev_force_get(a->pool, T_K, key, (void **)&o, &h, &created) :
				      shmdev_alloc(a->pool, ty, (void **)&o, &h);
			if (err || (keyed && !created)) {
				jfail(j, keyed ? "force_get (or found)" : "alloc", a->t, err);
				return NULL;
			}
			o->key = keyed ? key : 0;
			o->owner = a->t;
			o->stamp = STAMP ^ h;
			__atomic_store_n(&e->handle, h, __ATOMIC_RELEASE);
			jset(e, J_LIVE);
		}
		if (keyed && !shmdev_find(a->pool, T_K, key, NULL) != (e->state != J_LIVE)) {
			jfail(j, "find", a->t, 0);
			return NULL;
		}
		__atomic_fetch_add(&j->ops[a->t], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static struct journal *kill_journal;
static unsigned int kill_round;

static int kill_child(void *unused)
{
	/* Static: reachable when the kill comes (valgrind checks a self-kill). */
	static struct shmdev_conf *conf;
	static struct kill_arg a[NR_THREADS];
	struct shmdev_pool *pool = NULL;
	pthread_t th;
	uint64_t before[NR_THREADS];
	unsigned int t;
	int err;

	(void)unused;
	conf = thr_conf();
	if (kill_stall_at) {
		setenv("SHMDEV_TEST_KILL_AT", kill_stall_at, 1);
		setenv("SHMDEV_TEST_KILL_THREADS", "4", 1);
	}
	err = shmdev_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS, &pool);
	if (err)
		return 1;
	for (t = 0; t < NR_THREADS; t++) {
		before[t] = kill_journal->ops[t];
		a[t] = (struct kill_arg){ .j = kill_journal, .pool = pool, .t = t, .round = kill_round,
					  .stall = kill_stall_at != NULL };
		if (pthread_create(&th, NULL, kill_thread, &a[t]))
			return 2;
	}
	/* The fourth thread at the point kills the process. */
	if (kill_stall_at)
		return 0;
	/* Every thread under way (the parent kills at a random moment after). */
	for (t = 0; t < NR_THREADS; t++)
		while (__atomic_load_n(&kill_journal->ops[t], __ATOMIC_RELAXED) < before[t] + 20 &&
		       !kill_journal->fail[0])
			sched_yield();
	return kill_journal->fail[0] ? 3 : 0;
}

/* After the repair: settle each entry with the pool, free the orphans. */
struct orphans {
	struct journal *j;
	struct shmdev_pool *pool;
	uint16_t type;
	uint64_t nr;
	char fail[256];
};

static bool journaled(const struct journal *j, uint16_t type, shmdev_handle_t h)
{
	unsigned int t, i;

	for (t = 0; t < NR_THREADS; t++) {
		if (type == T_K) {
			for (i = 0; i < OWN_KEYS; i++)
				if (j->keyed[t][i].state == J_LIVE && j->keyed[t][i].handle == h)
					return true;
		} else if (kill_type(t) == type) {
			for (i = 0; i < HOLD; i++)
				if (j->plain[t][i].state == J_LIVE && j->plain[t][i].handle == h)
					return true;
		}
	}
	return false;
}

static int find_orphan(void *obj, shmdev_handle_t h, void *data)
{
	struct orphans *o = data;
	const struct obj *x = obj;

	if (journaled(o->j, o->type, h))
		return 0;
	/* An alloc the kill interrupted: zeroed, or stamped by its thread. */
	if (x->stamp && x->stamp != (STAMP ^ h)) {
		snprintf(o->fail, sizeof(o->fail), "type %u: object 0x%" PRIx64 " in no journal entry has stamp 0x%" PRIx64,
			 o->type, h, x->stamp);
		return 1;
	}
	o->nr++;
	return shmdev_free(o->pool, h) ? 2 : 0;
}

/* One entry against the repaired pool; returns how it was in flight (0/1). */
static unsigned int settle(struct shmdev_pool *pool, struct jent *e, uint16_t type, uint64_t key,
			   unsigned int t)
{
	struct obj *o = e->handle ? shmdev_get(pool, e->handle) : NULL;
	bool ok = o && o->stamp == (STAMP ^ e->handle) && o->owner == t &&
		  (type != T_K || (o->key == key && shmdev_find(pool, T_K, key, NULL) == o));
	unsigned int was = e->state;

	switch (was) {
	case J_LIVE:
		ck_assert_msg(ok, "thread %u type %u: completed alloc 0x%" PRIx64 " lost after the repair",
			      t, type, e->handle);
		return 0;
	case J_EMPTY:
		ck_assert_msg(type != T_K || !shmdev_find(pool, T_K, key, NULL),
			      "thread %u: freed key 0x%" PRIx64 " is back after the repair", t, key);
		return 0;
	default:
		/* Interrupted: happened (a stamped live object) or not. */
		e->state = ok ? J_LIVE : J_EMPTY;
		if (!ok)
			e->handle = 0;
		return 1;
	}
}

static void kill_verify(struct journal *j, unsigned int *in_flight)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = tu_pool_start(ctx, conf, types, 3, SHMDEV_POOL_THREADS,
						 SHMDEV_START_RESUMED_CRASH);
	uint64_t live[3] = { 0, 0, 0 };
	unsigned int t, i, fl = 0;
	uint16_t ty;

	ck_assert_msg(!j->fail[0], "%s", j->fail);
	for (t = 0; t < NR_THREADS; t++) {
		for (i = 0; i < HOLD; i++) {
			fl += settle(pool, &j->plain[t][i], kill_type(t), 0, t);
			live[kill_type(t)] += j->plain[t][i].state == J_LIVE;
		}
		for (i = 0; i < OWN_KEYS; i++) {
			fl += settle(pool, &j->keyed[t][i], T_K, (uint64_t)t << 32 | i, t);
			live[T_K] += j->keyed[t][i].state == J_LIVE;
		}
	}
	for (ty = 0; ty < 3; ty++) {
		struct orphans o = { .j = j, .pool = pool, .type = ty };
		struct shmdev_type_stats st;

		ck_assert_msg(shmdev_foreach(pool, ty, find_orphan, &o) == 0, "%s", o.fail);
		ck_assert_uint_le(o.nr, fl);
		ck_assert_int_eq(shmdev_pool_type_stats(pool, ty, &st), 0);
		ck_assert_msg(st.live_count == live[ty], "type %u: %" PRIu64 " live, the journal has %" PRIu64,
			      ty, st.live_count, live[ty]);
	}
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
	if (fl > *in_flight)
		*in_flight = fl;
}

START_TEST(test_kill)
{
	unsigned int rounds = tu_quick() ? 4 : 60, r, in_flight = 0;
	uint64_t seed = (uint64_t)time(NULL) | 1;
	struct journal *j;

	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(j, MAP_FAILED);
	memset(j, 0, sizeof(*j));
	kill_journal = j;
	for (r = 0; r < rounds; r++) {
		struct tu_child c;
		struct timespec ts = { 0, (long)(rnd(&seed) % 2000000) };

		kill_round = r;
		tu_child_start(&c, kill_child, NULL, true);
		ck_assert_msg(tu_child_wait_ready(&c) == 0, "round %u: child failed: %s", r, j->fail);
		nanosleep(&ts, NULL);
		tu_child_kill(&c);
		kill_verify(j, &in_flight);
	}
	/* Several half-done operations at one kill (not a timing: a count). */
	printf("threads kill: %u rounds, at most %u operations in flight at a kill\n", rounds, in_flight);
	/* The point of the test: kills that stop several threads mid-operation. */
	if (!tu_quick())
		ck_assert_uint_ge(in_flight, 2);
	munmap(j, sizeof(*j));
}
END_TEST

START_TEST(test_kill_stalled)
{
	/*
	 * The points of alloc and free that plain changes (from the thread
	 * caches) and keyed ones (under the type's lock) share.  The points of
	 * a cache's refill and return: test_cache_kill.
	 */
	static const char *const points[] = {
		"alloc:prepared", "alloc:committed", "free:prepared", "free:committed",
	};
	unsigned int r, in_flight;
	struct journal *j;

	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(j, MAP_FAILED);
	memset(j, 0, sizeof(*j));
	kill_journal = j;
	for (r = 0; r < (tu_quick() ? 1 : 2) * sizeof(points) / sizeof(points[0]); r++) {
		struct tu_child c;
		int st;

		kill_round = r;
		kill_stall_at = points[r % (sizeof(points) / sizeof(points[0]))];
		tu_child_start(&c, kill_child, NULL, true);
		st = tu_child_wait(&c);
		ck_assert_msg(st == 1000 + SIGKILL, "round %u (%s): the child ended with %d, not by the kill (97: the threads did not all reach the point): %s",
			      r, kill_stall_at, st, j->fail);
		in_flight = 0;
		kill_verify(j, &in_flight);
		/* Each of the four threads was inside its change, two on type A. */
		ck_assert_msg(in_flight == 4, "round %u (%s): %u operations in flight, not 4", r,
			      kill_stall_at, in_flight);
	}
	kill_stall_at = NULL;
	munmap(j, sizeof(*j));
}
END_TEST
