// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * SHMDEV_POOL_THREADS: per-thread caches of free slots (magazines, as in
 * Bonwick's vmem, jemalloc's tcache and tcmalloc's thread caches), so that
 * threads on one type do not take turns on its lock and its shared hot
 * line for every alloc and free.
 *
 * A thread's cache holds, per plain type, up to SHMDEV_LAYOUT_CACHE_SLOTS
 * (64) free slots in an array in the process's private memory.  alloc
 * takes the last one (CACHED -> LIVE, the same generation), free puts the
 * slot back (LIVE -> CACHED with the next generation, a compare-and-swap on
 * the slot's tag: of two threads freeing one handle at once, one wins and
 * the other gets -ESTALE from the locked path).  Neither touches the type's
 * lock or hot line.  An empty cache takes TC_BATCH slots under the type's
 * lock (the free list, then never-used slots at the watermark: FREE or
 * new -> CACHED); a full one returns its TC_BATCH oldest (CACHED -> FREE,
 * linked).  KEYED types do not use caches: their alloc and free change the
 * shared key index under the lock anyway (force_get, find and a keyed free
 * keep the lock per call).  The alloc and free of a type past the caches
 * (a thread past TC_THREADS, no memory for a cache) take the lock per call
 * as before.
 *
 * What shared memory says (layout.h): a slot in a cache is in state
 * CACHED; the type's live_count counts LIVE + CACHED (slots taken from the
 * free list), so that a cached alloc or free, which only moves one slot
 * between LIVE and CACHED, changes no shared counter; free_count and the
 * free list hold the FREE slots only; hot->caches is the number of thread
 * caches of that type (registered under the lock when a thread first uses
 * the type, dropped when close returns them), so at most caches x 64 slots
 * are CACHED.  The live check (pool_check.c) verifies exactly that: LIVE +
 * CACHED = live_count, every FREE slot on the list and no other, CACHED
 * within the bound (none when no cache is registered).  A torn read cannot
 * fool it: a cached alloc or free flips one slot between two states that
 * the check counts together, and everything else changes under the type's
 * change seq.  What it cannot see: a LIVE slot turned CACHED (or back) by
 * a fault keeps the sum (the object's handle stops, or starts, resolving).
 *
 * Crash: a CACHED slot is free; the repair (pool_view.c) makes it FREE with
 * the same generation (never handed out) and sets caches to 0.  Close
 * returns every cache (pool_cache_return_all(): all threads are out of
 * the library then, as shmdev.h requires).  type_stats of the owner
 * reports live_count less the slots its caches hold (exact while no thread
 * is inside alloc or free; a read-only attach sees LIVE + CACHED).  A
 * thread that exits leaves its cache (and the slots in it) to the next new
 * thread of the pool.  A type can report "full" while up to 64 free slots
 * per other thread sit in their caches.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

#define TC_MAX		SHMDEV_LAYOUT_CACHE_SLOTS
#define TC_BATCH	(TC_MAX / 2)	/* slots a refill takes, a full cache returns */
#define TC_THREADS	256		/* caches of a pool; more threads lock per call */

/* One thread's cache of one type. */
struct tc_type {
	uint32_t n;			/* slots held: slot[0..n) (atomic for type_stats) */
	uint32_t slot[TC_MAX];
};

struct pool_tcache {
	struct tc_type **types;		/* nr_types, made at first use */
	int orphan;			/* its thread exited: the next new thread takes it */
};

/* The thread that may use no cache (TC_THREADS reached, no memory). */
static struct pool_tcache tc_none;

static void spin_lock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			sched_yield();
}

static void spin_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* pthread key destructor: the thread exits, its cache goes to the next new one. */
static void tc_exit(void *v)
{
	struct pool_tcache *tc = v;

	if (tc != &tc_none)
		__atomic_store_n(&tc->orphan, 1, __ATOMIC_RELEASE);
}

int pool_cache_init(struct shmdev_pool *p)
{
	int err;

	p->tcs = calloc(TC_THREADS, sizeof(*p->tcs));
	if (!p->tcs)
		return shmdev_fail(p->ctx, ENOMEM, "pool open: out of memory for the thread caches");
	err = pthread_key_create(&p->tc_key, tc_exit);
	if (err) {
		free(p->tcs);
		p->tcs = NULL;
		return shmdev_fail(p->ctx, err, "pool open: SHMDEV_POOL_THREADS: no thread-specific key for the thread caches");
	}
	return 0;
}

/* The calling thread's cache: its own, an exited thread's, a new one, or NULL. */
static struct pool_tcache *tc_claim(struct shmdev_pool *p)
{
	struct pool_tcache *tc = NULL;
	uint32_t i;

	spin_lock(&p->tc_lock);
	for (i = 0; i < p->nr_tcs && !tc; i++)
		if (__atomic_load_n(&p->tcs[i]->orphan, __ATOMIC_ACQUIRE)) {
			tc = p->tcs[i];
			tc->orphan = 0;
		}
	if (!tc && p->nr_tcs < TC_THREADS) {
		tc = calloc(1, sizeof(*tc));
		if (tc)
			tc->types = calloc(p->nr_types, sizeof(*tc->types));
		if (tc && tc->types) {
			p->tcs[p->nr_tcs++] = tc;
		} else {
			free(tc);
			tc = NULL;
		}
	}
	spin_unlock(&p->tc_lock);
	if (pthread_setspecific(p->tc_key, tc ? tc : &tc_none)) {
		if (tc)
			__atomic_store_n(&tc->orphan, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	return tc;
}

/*
 * The calling thread's cache of plain type @pt, or NULL (the locked path).
 * The first use registers it in the type's hot->caches, under the lock.
 */
static __attribute__((noinline)) struct tc_type *tc_first(struct shmdev_pool *p,
							  const struct ptype *pt,
							  struct pool_tcache *tc)
{
	struct tc_type *tt;
	uint64_t seq;

	if (!tc)
		tc = tc_claim(p);
	if (!tc || tc == &tc_none)
		return NULL;
	tt = tc->types[pt->id];
	if (tt)
		return tt;
	tt = calloc(1, sizeof(*tt));
	if (!tt)
		return NULL;
	pool_lock_type(p, pt->id);
	seq = change_begin(pt->hot);
	pt->hot->caches++;
	change_end(pt->hot, seq);
	pool_unlock_type(p, pt->id);
	__atomic_store_n(&tc->types[pt->id], tt, __ATOMIC_RELEASE);
	return tt;
}

static inline __attribute__((always_inline)) struct tc_type *tc_of(struct shmdev_pool *p,
								   const struct ptype *pt)
{
	struct pool_tcache *tc = pthread_getspecific(p->tc_key);
	struct tc_type *tt;

	if (likely(tc != NULL && tc != &tc_none)) {
		tt = tc->types[pt->id];
		if (likely(tt != NULL))
			return tt;
	}
	return tc == &tc_none ? NULL : tc_first(p, pt, tc);
}

/*
 * Fill an empty cache with up to TC_BATCH slots, under the type's lock: the
 * free list first, then never-used slots.  Each slot turns CACHED before
 * the list or the watermark lets go of it (a crash between: the repair
 * finds it by its tag).  Returns the number taken; 0 sends the alloc to the
 * locked path, which reports a full type or a corrupt list.
 */
static __attribute__((noinline)) uint32_t tc_refill(struct shmdev_pool *p, struct ptype *pt, struct tc_type *tt)
{
	struct layout_hot *hot = pt->hot;
	uint64_t wm, seq;
	uint32_t n = 0;

	pool_lock_type(p, pt->id);
	wm = watermark(pt);
	seq = change_begin(hot);
	while (n < TC_BATCH && hot->free_head) {
		uint64_t slot = hot->free_head - 1;
		struct layout_slot *s = slot < wm ? slot_at(pt, slot) : NULL;
		uint32_t tag = s ? load_tag(s) : 0;

		if (!s || layout_tag_state(tag) != LAYOUT_SLOT_FREE || !layout_tag_gen(tag))
			break;
		store_tag(s, layout_tag(LAYOUT_SLOT_CACHED, layout_tag_gen(tag)));
		CRASH_POINT(p, "alloc:take");
		hot->free_head = s->next;
		CRASH_POINT(p, "alloc:taken");
		s->next = 0;
		hot->free_count--;
		hot->live_count++;
		tt->slot[n++] = (uint32_t)slot;
	}
	/* A broken list head stops here: the locked path reports it. */
	while (n < TC_BATCH && !hot->free_head && wm < pt->cap) {
		struct layout_slot *s = slot_at(pt, wm);

		/* Initialise before the watermark covers it: the repair scans up to it. */
		s->next = 0;
		store_tag(s, layout_tag(LAYOUT_SLOT_CACHED, 1));
		CRASH_POINT(p, "alloc:slot-init");
		__atomic_store_n(&hot->watermark, ++wm, __ATOMIC_RELEASE);
		CRASH_POINT(p, "alloc:watermark");
		hot->live_count++;
		tt->slot[n++] = (uint32_t)(wm - 1);
	}
	change_end(hot, seq);
	pool_unlock_type(p, pt->id);
	__atomic_store_n(&tt->n, n, __ATOMIC_RELAXED);
	return n;
}

/*
 * Return slot[0..@nr) of a cache to the free list (CACHED -> FREE, the same
 * generation), under the type's lock, and keep the rest.  A slot that is no
 * longer CACHED (a fault) is dropped from the cache and left as it is.
 */
static __attribute__((noinline)) void tc_return(struct shmdev_pool *p, struct ptype *pt, struct tc_type *tt, uint32_t nr)
{
	struct layout_hot *hot = pt->hot;
	uint64_t seq;
	uint32_t i;

	pool_lock_type(p, pt->id);
	seq = change_begin(hot);
	for (i = 0; i < nr; i++) {
		uint32_t slot = tt->slot[i];
		struct layout_slot *s = slot_at(pt, slot);
		uint32_t tag = s ? load_tag(s) : 0;

		if (!s || layout_tag_state(tag) != LAYOUT_SLOT_CACHED)
			continue;
		s->next = hot->free_head;
		store_tag(s, layout_tag(LAYOUT_SLOT_FREE, layout_tag_gen(tag)));
		CRASH_POINT(p, "tcache:returned");
		hot->free_head = slot + 1;
		CRASH_POINT(p, "tcache:listed");
		hot->free_count++;
		hot->live_count--;
	}
	change_end(hot, seq);
	pool_unlock_type(p, pt->id);
	memmove(tt->slot, tt->slot + nr, (tt->n - nr) * sizeof(tt->slot[0]));
	__atomic_store_n(&tt->n, tt->n - nr, __ATOMIC_RELAXED);
}

/*
 * Nothing to refill from: a full type says where its free slots are (other
 * threads' caches); else 1, and the locked path reports (full, corrupt).
 */
static __attribute__((noinline)) int tc_empty(struct shmdev_pool *p, const struct ptype *pt)
{
	uint64_t cached = pool_cache_count(p, pt->id);

	if (!cached || pt->hot->free_head || watermark(pt) < pt->cap)
		return 1;
	return shmdev_fail(p->ctx, ENOSPC, "type %u \"%s\" is full: %" PRIu64 " objects (raise max_count); %" PRIu64 " of its slots are free in other threads' caches (SHMDEV_POOL_THREADS: up to %u per thread)",
			   pt->id, pt->name, pt->cap, cached, TC_MAX);
}

/*
 * alloc from the calling thread's cache.  1: not for the cache (keyed or
 * unknown type, no cache, nothing to take): the caller locks.
 */
int pool_cache_alloc(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
		     shmdev_handle_t *handle)
{
	struct tc_type *tt;
	struct layout_slot *s;
	struct ptype *pt;
	uint32_t n, slot, tag;

	if (unlikely(type >= p->nr_types))
		return 1;
	pt = &p->types[type];
	if (unlikely(!pt->cap || pt->keyed))
		return 1;
	tt = tc_of(p, pt);
	if (unlikely(!tt))
		return 1;
	n = tt->n;
	if (unlikely(!n)) {
		n = tc_refill(p, pt, tt);
		if (!n)
			return tc_empty(p, pt);
	}
	slot = tt->slot[--n];
	__atomic_store_n(&tt->n, n, __ATOMIC_RELAXED);
	s = slot_fast(pt, slot);
	tag = load_tag(s);
	if (unlikely(layout_tag_state(tag) != LAYOUT_SLOT_CACHED || !layout_tag_gen(tag)))
		return shmdev_fail(p->ctx, EUCLEAN, "alloc: type %u \"%s\": slot %" PRIu32 " of this thread's cache is not a cached free slot (tag 0x%08" PRIx32 ": the pool is corrupt)",
				   pt->id, pt->name, slot, tag);
	s->key = 0;
	if (zero)
		memset(slot_obj(pt, s), 0, pt->size);
	CRASH_POINT(p, "alloc:prepared");
	store_tag(s, tag - LAYOUT_SLOT_CACHED + LAYOUT_SLOT_LIVE);	/* commit: LIVE, same generation */
	CRASH_POINT(p, "alloc:committed");
	*obj = slot_obj(pt, s);
	if (handle)
		*handle = pt->hid | (uint64_t)slot << 24 | layout_tag_gen(tag);
	return 0;
}

/*
 * free into the calling thread's cache.  1: not for the cache (keyed or
 * unknown type, not a live plain object of this generation, the last
 * generation, no cache): the caller locks, and reports what is wrong.
 */
int pool_cache_release(struct shmdev_pool *p, shmdev_handle_t h)
{
	uint32_t type = layout_handle_type(h), slot = layout_handle_slot(h);
	uint32_t gen = layout_handle_gen(h), tag;
	struct tc_type *tt;
	struct layout_slot *s;
	struct ptype *pt;

	if (unlikely(type >= p->nr_types))
		return 1;
	pt = &p->types[type];
	/* Generation 0 (never valid) and the last one (retires) go locked. */
	if (unlikely(!pt->cap || pt->keyed || slot >= pt->cap || gen - 1 >= SHMDEV_LAYOUT_GEN_MAX - 1))
		return 1;
	s = slot_fast(pt, slot);
	if (unlikely(load_tag(s) != layout_tag(LAYOUT_SLOT_LIVE, gen)))
		return 1;
	tt = tc_of(p, pt);
	if (unlikely(!tt))
		return 1;
	if (unlikely(tt->n == TC_MAX))
		tc_return(p, pt, tt, TC_BATCH);
	tag = layout_tag(LAYOUT_SLOT_LIVE, gen);
	CRASH_POINT(p, "free:prepared");
	/* commit: CACHED with the next generation, if still LIVE with this one */
	if (unlikely(!__atomic_compare_exchange_n(&s->tag, &tag, layout_tag(LAYOUT_SLOT_CACHED, gen + 1),
						  false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
		return 1;
	CRASH_POINT(p, "free:committed");
	tt->slot[tt->n] = slot;
	__atomic_store_n(&tt->n, tt->n + 1, __ATOMIC_RELAXED);
	return 0;
}

/* Free slots the owner's caches hold of @type (type_stats). */
uint64_t pool_cache_count(const struct shmdev_pool *p, uint16_t type)
{
	struct shmdev_pool *wp = (struct shmdev_pool *)p;
	uint64_t n = 0;
	uint32_t i;

	if (!p->tcs || type >= p->nr_types)
		return 0;
	spin_lock(&wp->tc_lock);
	for (i = 0; i < p->nr_tcs; i++) {
		const struct tc_type *tt = __atomic_load_n(&p->tcs[i]->types[type], __ATOMIC_ACQUIRE);

		if (tt)
			n += __atomic_load_n(&tt->n, __ATOMIC_RELAXED);
	}
	spin_unlock(&wp->tc_lock);
	return n;
}

/*
 * Close: every cache back to the free lists and unregistered (no thread is
 * in the library), so that a clean pool has no CACHED slot and caches 0.
 */
void pool_cache_return_all(struct shmdev_pool *p)
{
	uint32_t i, ty;
	uint64_t seq;

	for (i = 0; p->tcs && i < p->nr_tcs; i++) {
		for (ty = 0; ty < p->nr_types; ty++) {
			struct tc_type *tt = p->tcs[i]->types[ty];
			struct ptype *pt = &p->types[ty];

			if (!tt)
				continue;
			tc_return(p, pt, tt, tt->n);
			pool_lock_type(p, pt->id);
			seq = change_begin(pt->hot);
			pt->hot->caches -= pt->hot->caches > 0;
			change_end(pt->hot, seq);
			pool_unlock_type(p, pt->id);
			CRASH_POINT(p, "close:cache-returned");
			free(tt);
			p->tcs[i]->types[ty] = NULL;
		}
	}
}

/* Process memory only (close after pool_cache_return_all(), abandon, a failed open). */
void pool_cache_free(struct shmdev_pool *p)
{
	uint32_t i, ty;

	if (!p->tcs)
		return;
	pthread_key_delete(p->tc_key);
	for (i = 0; i < p->nr_tcs; i++) {
		for (ty = 0; ty < p->nr_types; ty++)
			free(p->tcs[i]->types[ty]);
		free(p->tcs[i]->types);
		free(p->tcs[i]);
	}
	free(p->tcs);
	p->tcs = NULL;
}
