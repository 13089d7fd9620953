// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * SHMDEV_POOL_THREADS: several threads of the owning process call the pool
 * at once.  The owner lease guarantees one writing process, so the locks
 * live in this process's memory (never in the shared regions): one spin
 * lock per type id, each on its own cache line.
 *
 * Granularity (bench/bench_threads.c, `make bench-threads`, figures in
 * bench/README.md): a lock per type lets threads on different types run
 * without meeting, where one pool lock serialises them.  Two threads on
 * one type took turns on its lock and its hot line (0.18-0.42x one
 * thread): plain alloc and free now go through the threads' caches of
 * free slots first (pool_cache.c), which take this lock once per 32 slots.
 * The spin lock costs 53 instructions less per call than a glibc adaptive
 * mutex, uncontended.
 *
 * What takes the lock of a type: alloc, alloc_raw, free (and free_typed)
 * of a KEYED type, or when the thread's cache cannot serve them (no cache,
 * a stale handle, the last generation); a cache's refill and return;
 * force_get, find (it walks the index that alloc and free change),
 * type_stats (the counters are plain stores) and the owner's pool check
 * (every type's lock, in id order; the caches' allocs and frees go on
 * beside it, see pool_cache.c for why the check stays exact).  What does not: get, get_typed,
 * get_fast, handle_of and foreach read the slot tag with one acquire load,
 * which alloc and free write last with a release store, and the
 * process-local view, which does not change while the pool is open.
 *
 * The hot paths do not test for the locks: open sets nr_fast to 0 with the
 * flag, so alloc, free and force_get go to their checked paths, which call
 * here; under the lock the fast paths run with nr_unlocked as their type
 * bound (pool_alloc_nolock() etc.).  find tests pt->direct, which it read
 * anyway in place of pt->keyed.  Without the flag no path executes an
 * instruction more (bench/README.md has the counts).
 *
 * Crash consistency: at most one locked change per type, and one cached
 * alloc or free per thread, is under way when a kill -9 stops the process;
 * the repair rebuilds every type from its slot tags (CACHED slots become
 * FREE, and it closes an odd change count), so several half-done
 * operations are repaired as one is.  tests/lib/test_threads.c kills threaded
 * owners at random times and checks the result.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/*
 * The lock: test-and-test-and-set on an int of its own cache line, with
 * pause while it spins, then sched_yield() (a holder may be preempted: a
 * busy host, more threads than cores).  Uncontended it is one exchange and
 * one release store.  The measured alternatives (bench/build.mk builds
 * bench_threads with each): POOL_LOCK_ONE, one lock for the whole pool;
 * POOL_LOCK_MUTEX, a glibc adaptive mutex per type.
 */
#ifdef POOL_LOCK_ONE
#define LOCK_OF(type) 0
#else
#define LOCK_OF(type) (type)
#endif

struct pool_lock {
#ifndef POOL_LOCK_MUTEX
	int spin;
#else
	pthread_mutex_t m;
#endif
} __attribute__((aligned(64)));

static void lk_init(struct pool_lock *l, const pthread_mutexattr_t *attr)
{
#ifndef POOL_LOCK_MUTEX
	(void)attr;
	l->spin = 0;
#else
	pthread_mutex_init(&l->m, attr);
#endif
}

static void lk_destroy(struct pool_lock *l)
{
#ifndef POOL_LOCK_MUTEX
	(void)l;
#else
	pthread_mutex_destroy(&l->m);
#endif
}

static void lk_lock(struct pool_lock *l)
{
#ifndef POOL_LOCK_MUTEX
	unsigned int n = 0;

	/* Spin a while, then yield: a holder may be preempted (busy hosts). */
	while (__atomic_exchange_n(&l->spin, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->spin, __ATOMIC_RELAXED)) {
			if (++n < 128)
				__builtin_ia32_pause();
			else
				sched_yield();
		}
#else
	pthread_mutex_lock(&l->m);
#endif
}

static void lk_unlock(struct pool_lock *l)
{
#ifndef POOL_LOCK_MUTEX
	__atomic_store_n(&l->spin, 0, __ATOMIC_RELEASE);
#else
	pthread_mutex_unlock(&l->m);
#endif
}

int pool_locks_init(struct shmdev_pool *p)
{
	pthread_mutexattr_t attr;
	uint32_t i;
	int err;

	err = shmdev_ctx_threads(p->ctx);
	if (err)
		return shmdev_fail(p->ctx, -err, "pool open: SHMDEV_POOL_THREADS: no thread-local message buffer for the context");
	if (posix_memalign((void **)&p->locks, 64, (size_t)p->nr_types * sizeof(*p->locks)))
		return shmdev_fail(p->ctx, ENOMEM, "pool open: out of memory for %u type locks", p->nr_types);
	pthread_mutexattr_init(&attr);
	/* POOL_LOCK_MUTEX: spin briefly before sleeping. */
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	for (i = 0; i < p->nr_types; i++)
		lk_init(&p->locks[i], &attr);
	pthread_mutexattr_destroy(&attr);
	return 0;
}

void pool_locks_free(struct shmdev_pool *p)
{
	uint32_t i;

	if (!p->locks)
		return;
	for (i = 0; i < p->nr_types; i++)
		lk_destroy(&p->locks[i]);
	free(p->locks);
	p->locks = NULL;
}

void pool_lock_type(const struct shmdev_pool *p, uint32_t type)
{
	if (p->locks && type < p->nr_types)
		lk_lock(&p->locks[LOCK_OF(type)]);
}

void pool_unlock_type(const struct shmdev_pool *p, uint32_t type)
{
	if (p->locks && type < p->nr_types)
		lk_unlock(&p->locks[LOCK_OF(type)]);
}

void pool_lock_all(const struct shmdev_pool *p)
{
	uint32_t i;

	for (i = 0; p->locks && i < (uint32_t)LOCK_OF(p->nr_types - 1) + 1; i++)
		lk_lock(&p->locks[i]);
}

void pool_unlock_all(const struct shmdev_pool *p)
{
	uint32_t i;

	for (i = p->locks ? (uint32_t)LOCK_OF(p->nr_types - 1) + 1 : 0; i-- > 0;)
		lk_unlock(&p->locks[i]);
}

/*
 * A type id past the table has no lock: the unlocked call reports it (it
 * only reads private memory and fails), as it would without the flag.
 */
int pool_lock_alloc(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
		    shmdev_handle_t *handle)
{
	int ret = pool_cache_alloc(p, type, zero, obj, handle);

	if (likely(ret <= 0))
		return ret;
	pool_lock_type(p, type);
	ret = pool_alloc_nolock(p, type, zero, obj, handle);
	pool_unlock_type(p, type);
	return ret;
}

int pool_lock_free(struct shmdev_pool *p, shmdev_handle_t h)
{
	uint32_t type = layout_handle_type(h);
	int ret = pool_cache_release(p, h);

	if (likely(ret <= 0))
		return ret;
	pool_lock_type(p, type);
	ret = pool_free_nolock(p, h);
	pool_unlock_type(p, type);
	return ret;
}

int pool_lock_force_get(struct shmdev_pool *p, uint16_t type, uint64_t key,
			void **obj, shmdev_handle_t *handle, bool *created)
{
	int ret;

	pool_lock_type(p, type);
	ret = pool_force_get_nolock(p, type, key, obj, handle, created);
	pool_unlock_type(p, type);
	return ret;
}

void *pool_lock_find(const struct shmdev_pool *p, uint16_t type, uint64_t key,
		     shmdev_handle_t *handle)
{
	void *obj;

	pool_lock_type(p, type);
	obj = pool_find_nolock(p, type, key, handle);
	pool_unlock_type(p, type);
	return obj;
}
