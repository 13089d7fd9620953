/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_threads.c, part 3: the threads' caches of free slots
 * (libshmdev/pool_cache.c).
 *
 *  - cache_kill: a child with one thread allocates 100 objects of type A
 *    (its cache takes them from the watermark in batches), frees them (its
 *    cache fills and returns a batch to the free list), allocates them
 *    again (a refill from the free list), frees them again and closes (the
 *    close returns the cache); the crash hook kills it at the Nth time it
 *    reaches one point of those paths, for every point and several N.  The
 *    parent repairs and checks every journal entry, exact counts and
 *    shmdev_pool_check (which refuses a CACHED slot once no cache is
 *    registered): a kill with a full cache loses and leaks nothing.
 *  - live_check: a child attached read-only runs shmdev_pool_check while
 *    four threads churn (two of them on one type, from their caches): it
 *    never reports corruption (-EAGAIN "live" is allowed; the threads go on
 *    until 3 checks ran beside them).  Then, with the caches full and the
 *    threads stopped, the check passes, and catches a cached slot made
 *    FREE behind the free list's back.  (cache_kill ends with a live
 *    object turned CACHED in a pool that no cache holds: caught.)
 *  - cache_full: a type full but for an exited thread's cache says so in
 *    -ENOSPC's message; a new thread takes that cache over; close returns
 *    every slot (all max_count allocate again after it).
 *  - cache_generations: a slot freed into a cache comes back with the next
 *    generation (the old handle is stale), and two threads freeing the
 *    same handles at once free each once (the other gets -ESTALE).
 */

static const char *const cache_points[] = {
	"alloc:slot-init", "alloc:watermark", "alloc:take", "alloc:taken",
	"alloc:prepared", "alloc:committed", "free:prepared", "free:committed",
	"tcache:returned", "tcache:listed", "close:cache-returned",
};

#define CACHE_OBJS	100	/* journal rows 0 and 2 (both type A): 128 entries */

static struct jent *cache_entry(struct journal *j, unsigned int i, unsigned int *row)
{
	*row = i < HOLD ? 0 : 2;
	return &j->plain[*row][i % HOLD];
}

/* Journaled alloc of entry @i (stamped by "thread" row), and its free. */
static int cache_alloc(struct shmdev_pool *pool, struct journal *j, unsigned int i)
{
	unsigned int row;
	struct jent *e = cache_entry(j, i, &row);
	shmdev_handle_t h;
	struct obj *o;

	jset(e, J_ALLOCING);
	if (shmdev_alloc(pool, T_A, (void **)&o, &h))
		return -1;
	o->owner = row;
	o->stamp = STAMP ^ h;
	__atomic_store_n(&e->handle, h, __ATOMIC_RELEASE);
	jset(e, J_LIVE);
	return 0;
}

static int cache_free(struct shmdev_pool *pool, struct journal *j, unsigned int i)
{
	unsigned int row;
	struct jent *e = cache_entry(j, i, &row);

	jset(e, J_FREEING);
	if (shmdev_free(pool, e->handle))
		return -1;
	jset(e, J_EMPTY);
	e->handle = 0;
	return 0;
}

static int cache_kill_child(void *arg)
{
	static struct shmdev_conf *conf;	/* reachable at the kill (valgrind) */
	struct shmdev_pool *pool = NULL;
	struct journal *j = kill_journal;
	unsigned int round, i;

	conf = thr_conf();
	setenv("SHMDEV_TEST_KILL_AT", arg, 1);
	if (shmdev_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS, &pool))
		return 1;
	/* What the last round left live. */
	for (i = 0; i < CACHE_OBJS; i++)
		if (j->plain[i < HOLD ? 0 : 2][i % HOLD].state == J_LIVE && cache_free(pool, j, i))
			return 5;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < CACHE_OBJS; i++)
			if (cache_alloc(pool, j, i))
				return 2;
		for (i = 0; i < CACHE_OBJS; i++)
			if (cache_free(pool, j, i))
				return 3;
	}
	/* Half of them live at the close (which returns the cache). */
	for (i = 0; i < CACHE_OBJS / 2; i++)
		if (cache_alloc(pool, j, i))
			return 4;
	shmdev_pool_close(pool);
	return 0;
}

/*
 * After the repairs and closes no cache is registered (hot->caches 0), so
 * the check refuses any CACHED slot: a live object turned CACHED (the
 * fault the sum LIVE + CACHED = live_count cannot see) is caught.
 */
static void cache_bound_planted(void)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = tu_pool_start(ctx, conf, types, 3, 0, SHMDEV_START_RESUMED_CLEAN);
	uint32_t slot_size, obj_offset, tag;
	struct layout_slot *s;
	shmdev_handle_t h;
	void *obj;

	ck_assert_int_eq(shmdev_alloc(pool, T_A, &obj, &h), 0);
	layout_slot_geom(sizeof(struct obj), 8, &slot_size, &obj_offset);
	s = (struct layout_slot *)((char *)obj - obj_offset);
	tag = s->tag;
	s->tag = layout_tag(LAYOUT_SLOT_CACHED, layout_tag_gen(tag));
	ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "more than 0 caches"), "%s", shmdev_errmsg(ctx));
	s->tag = tag;
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}

START_TEST(test_cache_kill)
{
	static const unsigned int nth[] = { 1, 3, 40 };
	unsigned int p, n, killed = 0, in_flight = 0;
	struct journal *j;

	destroy_pool();		/* only this test's objects in it */
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(j, MAP_FAILED);
	memset(j, 0, sizeof(*j));
	kill_journal = j;
	for (p = 0; p < sizeof(cache_points) / sizeof(cache_points[0]); p++) {
		for (n = 0; n < (tu_quick() ? 2 : 3); n++) {
			char at[64];
			int st;

			snprintf(at, sizeof(at), "%s#%u", cache_points[p], nth[n]);
			st = tu_run_in_child(cache_kill_child, at);
			if (st == 0) {
				/* Fewer hits than N: a clean close, nothing to repair. */
				struct shmdev_conf *conf = thr_conf();
				struct shmdev_pool *pool = tu_pool_start(ctx, conf, types, 3, 0,
									 SHMDEV_START_RESUMED_CLEAN);

				ck_assert_msg(shmdev_pool_check(pool) == 0, "%s: %s", at, shmdev_errmsg(ctx));
				ck_assert_int_eq(shmdev_pool_close(pool), 0);
				shmdev_conf_free(conf);
				continue;
			}
			ck_assert_msg(st == 1000 + SIGKILL, "%s: the child ended with %d", at, st);
			killed++;
			kill_verify(j, &in_flight);
		}
	}
	cache_bound_planted();
	printf("threads cache kill: %u kills at %zu points\n", killed,
	       sizeof(cache_points) / sizeof(cache_points[0]));
	fflush(stdout);
	ck_assert_uint_ge(killed, sizeof(cache_points) / sizeof(cache_points[0]));
	munmap(j, sizeof(*j));
}
END_TEST

/* ---- live check ------------------------------------------------------- */

struct live_check {
	int go, stop;
	uint64_t ok, live, bad;
	uint64_t during;	/* checks that ended before the threads stopped */
	char msg[256];
};

static int live_check_child(void *arg)
{
	struct live_check *lc = arg;
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *ro;
	int err;

	if (shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &ro))
		return 1;
	while (!__atomic_load_n(&lc->go, __ATOMIC_ACQUIRE))
		sched_yield();
	/* Until the parent stops it, and at least 3 checks done. */
	while (!__atomic_load_n(&lc->stop, __ATOMIC_ACQUIRE) || lc->ok + lc->live + lc->bad < 3) {
		err = shmdev_pool_check(ro);
		if (!__atomic_load_n(&lc->stop, __ATOMIC_ACQUIRE))
			__atomic_store_n(&lc->during, lc->during + 1, __ATOMIC_RELAXED);
		if (!err) {
			lc->ok++;
		} else if (err == -EAGAIN) {
			lc->live++;
		} else {
			if (!lc->bad++)
				snprintf(lc->msg, sizeof(lc->msg), "%d: %s", err, shmdev_errmsg(ctx));
		}
	}
	shmdev_pool_close(ro);
	shmdev_conf_free(conf);
	return 0;
}

static struct live_check *live_lc;

/* churn_thread() rounds until the checker has run 3 checks beside them. */
static void *live_churn(void *arg)
{
	struct churn *c = arg;

	do
		churn_thread(c);
	while (!c->fail[0] && __atomic_load_n(&live_lc->during, __ATOMIC_RELAXED) < 3);
	return NULL;
}

/* The read-only check of @conf's pool from another process: 0, or its error. */
static int check_from_child(void *unused)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *ro;
	int err;

	(void)unused;
	if (shmdev_pool_open(ctx, conf, NULL, 0, SHMDEV_POOL_RDONLY, &ro))
		return 100;
	err = shmdev_pool_check(ro);
	shmdev_pool_close(ro);
	shmdev_conf_free(conf);
	return err == -EUCLEAN ? 1 : err ? 2 : 0;
}

START_TEST(test_live_check)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS);
	static struct churn c[NR_THREADS];
	pthread_t th[NR_THREADS];
	struct live_check *lc;
	struct layout_slot *s;
	struct tu_child ch;
	uint32_t slot_size, obj_offset, tag;
	shmdev_handle_t h;
	void *obj;
	unsigned int t;

	lc = mmap(NULL, sizeof(*lc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(lc, MAP_FAILED);
	memset(lc, 0, sizeof(*lc));
	live_lc = lc;
	/* The checker forks before any thread runs. */
	tu_child_start(&ch, live_check_child, lc, false);
	churn_run(c, th, pool, tu_quick() ? 2000 : 200000, live_churn);
	__atomic_store_n(&lc->go, 1, __ATOMIC_RELEASE);
	for (t = 0; t < NR_THREADS; t++)
		pthread_join(th[t], NULL);
	__atomic_store_n(&lc->stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(tu_child_wait(&ch), 0);
	for (t = 0; t < NR_THREADS; t++)
		ck_assert_msg(!c[t].fail[0], "%s", c[t].fail);
	printf("threads live check: %" PRIu64 " checks passed, %" PRIu64 " found the pool live, %" PRIu64 " reported corruption; %" PRIu64 " ran during the churn\n",
	       lc->ok, lc->live, lc->bad, lc->during);
	fflush(stdout);
	ck_assert_msg(lc->bad == 0, "the live check reported corruption %" PRIu64 " times: %s",
		      lc->bad, lc->msg);

	/* Quiescent, the caches full: passes, from here and from another process. */
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(tu_run_in_child(check_from_child, NULL), 0);
	/* A slot of this thread's cache: alloc, then free it back. */
	ck_assert_int_eq(shmdev_alloc(pool, T_A, &obj, &h), 0);
	ck_assert_int_eq(shmdev_free(pool, h), 0);
	layout_slot_geom(sizeof(struct obj), 8, &slot_size, &obj_offset);
	s = (struct layout_slot *)((char *)obj - obj_offset);
	tag = s->tag;
	ck_assert_uint_eq(layout_tag_state(tag), LAYOUT_SLOT_CACHED);
	/* Planted: the cached slot FREE, on no list. */
	s->tag = layout_tag(LAYOUT_SLOT_FREE, layout_tag_gen(tag));
	ck_assert_int_eq(tu_run_in_child(check_from_child, NULL), 1);
	ck_assert_int_eq(shmdev_pool_check(pool), -EUCLEAN);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "in thread caches, live count says"), "%s", shmdev_errmsg(ctx));
	s->tag = tag;
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
	munmap(lc, sizeof(*lc));
}
END_TEST

/* ---- generations and double frees through the caches ------------------ */

struct dfree {
	struct shmdev_pool *pool;
	shmdev_handle_t *h;
	unsigned int n;
	pthread_barrier_t *go;
	unsigned int freed, stale;
};

static void *dfree_thread(void *arg)
{
	struct dfree *d = arg;
	unsigned int i;

	pthread_barrier_wait(d->go);
	for (i = 0; i < d->n; i++) {
		int err = shmdev_free(d->pool, d->h[i]);

		d->freed += !err;
		d->stale += err == -ESTALE;
	}
	return NULL;
}

START_TEST(test_cache_generations)
{
	enum { N = 1000 };
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS);
	static shmdev_handle_t h[N];
	struct dfree d[2];
	pthread_barrier_t go;
	pthread_t th[2];
	shmdev_handle_t h1, h2;
	struct shmdev_type_stats st0, st;
	void *o1, *o2;
	unsigned int i, r;

	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_A, &st0), 0);
	/* A freed slot comes back from the cache with the next generation. */
	ck_assert_int_eq(shmdev_alloc(pool, T_A, &o1, &h1), 0);
	ck_assert_int_eq(shmdev_free(pool, h1), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_A, &o2, &h2), 0);
	ck_assert_ptr_eq(o1, o2);
	ck_assert_uint_ne(h1, h2);
	ck_assert_ptr_null(shmdev_get(pool, h1));
	ck_assert_ptr_eq(shmdev_get(pool, h2), o2);
	ck_assert_int_eq(shmdev_free(pool, h1), -ESTALE);
	ck_assert_int_eq(shmdev_free(pool, h2), 0);
	ck_assert_int_eq(shmdev_free(pool, h2), -ESTALE);
	/* Two threads free the same handles at once: each is freed once. */
	for (r = 0; r < (tu_quick() ? 3 : 20); r++) {
		for (i = 0; i < N; i++)
			ck_assert_int_eq(shmdev_alloc(pool, T_A, &o1, &h[i]), 0);
		pthread_barrier_init(&go, NULL, 2);
		for (i = 0; i < 2; i++) {
			d[i] = (struct dfree){ .pool = pool, .h = h, .n = N, .go = &go };
			ck_assert_int_eq(pthread_create(&th[i], NULL, dfree_thread, &d[i]), 0);
		}
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		ck_assert_uint_eq(d[0].freed + d[1].freed, N);
		ck_assert_uint_eq(d[0].stale + d[1].stale, N);
		ck_assert_int_eq(shmdev_pool_type_stats(pool, T_A, &st), 0);
		ck_assert_uint_eq(st.live_count, st0.live_count);
		ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	shmdev_conf_free(conf);
}
END_TEST

/* ---- a full type, and an exited thread's cache ------------------------ */

static void *full_thread(void *arg)
{
	struct shmdev_pool *pool = arg;
	shmdev_handle_t h[10];
	void *o;
	unsigned int i;

	for (i = 0; i < 10; i++)
		if (shmdev_alloc(pool, T_B, &o, &h[i]))
			return (void *)1;
	for (i = 0; i < 10; i++)
		if (shmdev_free(pool, h[i]))
			return (void *)2;
	return NULL;
}

static void *adopt_thread(void *arg)
{
	struct shmdev_pool *pool = arg;
	shmdev_handle_t h;
	void *o;

	/* The type is full but for the exited thread's cache, which this one takes. */
	if (shmdev_alloc(pool, T_B, &o, &h))
		return (void *)1;
	return shmdev_free(pool, h) ? (void *)2 : NULL;
}

START_TEST(test_cache_full)
{
	struct shmdev_conf *conf = thr_conf();
	struct shmdev_pool *pool;
	static shmdev_handle_t h[CAP];
	struct shmdev_type_stats st;
	unsigned int n = 0, i;
	pthread_t th;
	void *ret, *o;
	int err;

	destroy_pool();
	pool = tu_pool_open(ctx, conf, types, 3, SHMDEV_POOL_THREADS);
	/* This thread's cache first (a thread without one would take the orphan). */
	ck_assert_int_eq(shmdev_alloc(pool, T_B, &o, &h[0]), 0);
	ck_assert_int_eq(shmdev_free(pool, h[0]), 0);
	/* A thread leaves free slots of B in its cache and exits. */
	ck_assert_int_eq(pthread_create(&th, NULL, full_thread, pool), 0);
	pthread_join(th, &ret);
	ck_assert_ptr_null(ret);
	while (n < CAP && !(err = shmdev_alloc(pool, T_B, &o, &h[n])))
		n++;
	ck_assert_int_eq(err, -ENOSPC);
	ck_assert_msg(strstr(shmdev_errmsg(ctx), "of its slots are free in other threads' caches"), "%s",
		      shmdev_errmsg(ctx));
	ck_assert_uint_lt(n, CAP);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_B, &st), 0);
	ck_assert_uint_eq(st.live_count, n);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	/* A new thread takes the exited one's cache over. */
	ck_assert_int_eq(pthread_create(&th, NULL, adopt_thread, pool), 0);
	pthread_join(th, &ret);
	ck_assert_ptr_null(ret);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(shmdev_free(pool, h[i]), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	/* Everything came back: all CAP slots again, without the flag. */
	pool = tu_pool_start(ctx, conf, types, 3, 0, SHMDEV_START_RESUMED_CLEAN);
	for (n = 0; n < CAP; n++)
		ck_assert_int_eq(shmdev_alloc(pool, T_B, &o, &h[n]), 0);
	ck_assert_int_eq(shmdev_alloc(pool, T_B, &o, &h[0]), -ENOSPC);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	destroy_pool();
	shmdev_conf_free(conf);
}
END_TEST
