/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internals shared by the pool_*.c files (private, not installed):
 * struct shmdev_pool, the process-local type view (struct ptype), the slot,
 * tag and hot-line helpers, CRASH_POINT and change_begin()/change_end().
 *
 *   pool_open.c   open (cold start, resume, append, raise), close, destroy,
 *                 start and stats
 *   pool_view.c   the process-local view of the layout and the repair of a
 *                 type's derived data from its slot tags
 *   pool_hot.c    alloc, alloc_raw, free, get, the typed variants,
 *                 handle_of and foreach
 *   pool_key.c    the shared key index: force_get, find and the index
 *                 rebuild (the index itself: pool_index.h)
 *   pool_check.c  the consistency check (shmdev_pool_check), live or not
 *   pool_lock.c   SHMDEV_POOL_THREADS: the type locks
 *   pool_cache.c  SHMDEV_POOL_THREADS: the threads' caches of free slots
 *
 * Typed object pools on the base layout (layout.h): open (cold start on
 * clean blocks, resume with every block's identity checked, repair after a
 * crash), alloc/get/free, force_get/find through the shared key index,
 * foreach, handle_of, stats and the consistency check.
 *
 * Crash consistency: every slot has a header {key, tag, next}; the tag
 * (state + generation) is written last with a release store and is the
 * commit point of alloc and free.  Free lists, counters and the key index are
 * derived data.  An owner bumps open_epoch before it writes anything and a
 * clean close sets close_epoch = open_epoch; an open that finds them
 * different (or whose regions report a crash) rebuilds the derived data
 * from the tags.  A clean resume only verifies the layout checksum: it does
 * not look at objects.
 *
 * Hot paths: alloc, alloc_raw, free and get read a process-local
 * descriptor per type (struct ptype: capacity, first chunk, chunk table,
 * slot geometry) and the type's hot line in shared memory, never the
 * layout table, and do no division.  alloc and free first try a fast path
 * that makes the same stores in the same order as the checked path and
 * bails out, before writing, to the checked path on anything unusual
 * (read-only pool, crash hook armed, unknown type, empty free list, keyed
 * alloc, stale handle, a key missing from the index, corruption), which looks again
 * and reports.  A keyed free has its own fast path (free_keyed(): the
 * index search only reads, then the checked path's stores in its order), and
 * force_get on a writable pool without the hook skips the checks and, on a
 * miss, inserts through its own fast path at the index position the
 * search ended at.  The fast paths store nothing beyond the object's slot,
 * its hot line and (KEYED) the index entries: no clear
 * of the context's message (it tells of the last failure), no load of the
 * watermark in free and get (a slot at or above it is never live, so the
 * tag check rejects it).  shmdev.h publishes the first chunk's geometry as
 * struct shmdev_fast (shmdev_fast_init()), so that the caller's code can
 * resolve a handle inline with the checks of shmdev_get().
 *
 * Generations and handles: see layout.h.  A free at a slot's last
 * generation retires the slot (checked path), so that no handle ever
 * resolves to a later object in the same slot.
 *
 * Read-only checks of a live pool: every change of a type's slots or hot
 * line (alloc, free, force_get, repair) is bracketed by change_begin() and
 * change_end(), which make the type's hot seq odd, then even again; the
 * check of a read-only attach reads a type between two loads of it and
 * trusts only a read that nothing changed under (check_shared()).
 *
 * Test hook (crash.h): SHMDEV_TEST_KILL_AT=N (or =NAME) makes the owner
 * raise SIGKILL at the Nth crash point, counted from the start of the open,
 * or at the point called NAME.  The points sit between the stores of every
 * path that changes shared memory: open (cold start, append, raise), the
 * repair, close, and alloc, free and force_get.  Inert when unset.  With
 * the hook armed every call takes the checked paths, where the crash points
 * are; the fast paths do not pay for them.
 */
#ifndef SHMDEV_POOL_INTERNAL_H
#define SHMDEV_POOL_INTERNAL_H

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "crash.h"
#include "layout.h"

/*
 * A helper of this header that a given pool_*.c may not call.  The helpers
 * stay plain static (not inline) as they were in pool.c, so that every file
 * inlines them as pool.c did: the hot paths in pool_hot.c see them all.
 */
#define POOL_SHARED __attribute__((unused))

struct pchunk {
	uint64_t first;
	uint64_t nr;
	char *base;
};

/*
 * Chunk lookup without a search: slot >> shift indexes ctab, which gives the
 * chunk holding the first slot of that bucket.  The bucket (2^shift slots) is
 * no longer than any chunk but the last, so it overlaps at most two chunks:
 * one compare with that chunk's end finishes the lookup.  A type whose table
 * would need more than PTYPE_CTAB entries (a tiny chunk from a small raise
 * of max_count among big ones) uses the chunk loop instead.
 */
#define PTYPE_CTAB 256

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/*
 * Process-local view of one type: pointers computed from the layout.  The
 * fields the hot paths read come first (one cache line); the shared layout
 * table is never read by alloc/get/free.  cap is 0 for a type id not in the
 * layout, which sends every fast path to the checked slow one.
 */
struct ptype {
	uint64_t cap;
	uint64_t end0;			/* slots of the first chunk */
	uintptr_t base0;		/* its first slot */
	struct layout_hot *hot;
	uint64_t hid;			/* id << 52: the type part of a handle */
	uint32_t slot_size;
	uint32_t obj_offset;
	uint32_t size;
	uint16_t id;
	bool used;
	bool keyed;
	bool ctab_ok;
	bool direct;			/* keyed and no locks: find goes straight on */
	unsigned int shift;
	uint32_t nr_chunks;
	uint32_t *index;		/* the key index (pool_index.h), KEYED only */
	uint32_t index_mask;		/* its entries - 1 */
	unsigned int index_shift;	/* 64 - log2(entries): hash >> it = home */
	const char *name;
	/*
	 * nr_chunks entries each (one allocation, at chunks): slot n of chunk
	 * c is at bias[c] + n * slot_size (bias = base - first * slot_size, an
	 * integer so that no out-of-object pointer is ever formed); end[c] =
	 * first + nr.
	 */
	uint64_t *end;
	uintptr_t *bias;
	uint8_t ctab[PTYPE_CTAB];
	struct pchunk *chunks;
	uint8_t pad[136];	/* to PTYPE_SIZE */
};

/* A power of two, so that &types[type] is a shift and an add. */
#define PTYPE_SIZE 512
_Static_assert(sizeof(struct ptype) == PTYPE_SIZE, "ptype size");

/* Address range of one chunk's slots, for handle_of(). */
struct prange {
	uintptr_t start;
	uintptr_t end;
	uint16_t type;
	uint32_t chunk;
};

struct shmdev_pool {
	/* Read by every alloc/get/free: first. */
	struct ptype *types;
	uint32_t nr_types;		/* = geom.max_types */
	uint32_t nr_fast;		/* nr_types, or 0 (rdonly, crash hook):
					 * type >= nr_fast sends alloc and free to
					 * the checked paths */
	struct shmdev_ctx *ctx;
	unsigned int flags;
	bool rdonly;
	enum shmdev_start start;
	enum shmdev_backend backend;
	struct shmdev_region *base_region;
	struct shmdev_region **blocks;
	void **baddr;			/* the blocks' addresses, in layout order */
	size_t nr_blocks;
	char *base;
	struct layout_header *hdr;
	struct layout_geom geom;
	struct prange *ranges;
	size_t nr_ranges;
	struct shmdev_crash crash;	/* the test hook, armed by an owner open */
	uint64_t repaired_objects;
	uint64_t repair_ns;
	uint64_t open_ns;
	uint64_t view_seq;		/* table seq that types[] was built from */
	struct pool_tx *tx;		/* tx.c: the undo log's process-local state */
	/*
	 * SHMDEV_POOL_THREADS (pool_lock.c): one lock per type id in this
	 * process's memory, NULL without the flag.  nr_fast is then 0, so
	 * that alloc, free and force_get reach their checked paths, which
	 * take the type's lock and run the fast paths with nr_unlocked as
	 * their bound (what nr_fast would be without the flag).
	 */
	struct pool_lock *locks;
	uint32_t nr_unlocked;
	/*
	 * SHMDEV_POOL_THREADS: the threads' caches of free slots
	 * (pool_cache.c), NULL without the flag.  tc_key gives a thread its
	 * cache; tcs holds every cache made (a thread's exit leaves it to the
	 * next new thread), freed at close.
	 */
	struct pool_tcache **tcs;
	uint32_t nr_tcs;
	int tc_lock;			/* for tcs, nr_tcs (a spin lock) */
	pthread_key_t tc_key;
	uint64_t migrated_objects;	/* migrate.c: the open's migration */
	uint64_t migrated_bytes;	/* old bytes of the objects it migrated */
	uint64_t migrate_ns;
};

/*
 * One crash point of the SHMDEV_TEST_KILL_AT hook (crash.h), named
 * "path:step reached".  Of alloc and free only the checked slow paths have
 * them; with the hook armed nr_fast is 0, so every alloc and free takes
 * those, and the fast paths pay nothing more for the hook than the type
 * bound they check anyway.
 */
#define CRASH_POINT(p, name) SHMDEV_CRASH_POINT(&(p)->crash, name)

static POOL_SHARED uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static POOL_SHARED uint32_t load_tag(const struct layout_slot *s)
{
	return __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
}

static POOL_SHARED void store_tag(struct layout_slot *s, uint32_t tag)
{
	__atomic_store_n(&s->tag, tag, __ATOMIC_RELEASE);
}

/*
 * One change of a type's slots or hot line, for a read-only checker
 * (layout_hot.seq): odd from the first store to the last.  On x86 the
 * fence is only a compiler barrier: the hot paths stay free of fences and
 * locked instructions, and pay two stores to a line they write anyway.
 */
static inline uint64_t change_begin(struct layout_hot *hot)
{
	uint64_t seq = hot->seq + 1;

	__atomic_store_n(&hot->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return seq;
}

/* @seq: what change_begin() returned (saves a load). */
static inline void change_end(struct layout_hot *hot, uint64_t seq)
{
	__atomic_store_n(&hot->seq, seq + 1, __ATOMIC_RELEASE);
}

static POOL_SHARED bool state_live(uint32_t st)
{
	return st == LAYOUT_SLOT_LIVE || st == LAYOUT_SLOT_LIVE_KEYED;
}

/* A chunk of any type by binary search on the chunk ends (a type may have thousands). */
static POOL_SHARED struct layout_slot *slot_search(const struct ptype *pt, uint64_t slot)
{
	uint32_t lo = 0, hi = pt->nr_chunks;
	const struct pchunk *ch;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (slot < pt->end[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == pt->nr_chunks)
		return NULL;
	ch = &pt->chunks[lo];
	if (slot - ch->first < ch->nr)
		return (struct layout_slot *)(ch->base + (slot - ch->first) * pt->slot_size);
	return NULL;
}

/* A slot past the first chunk, by the chunk table (pt->ctab_ok). */
static inline struct layout_slot *slot_ctab(const struct ptype *pt, uint64_t slot)
{
	size_t c = pt->ctab[slot >> pt->shift];

	c += slot >= pt->end[c];
	return (struct layout_slot *)(pt->bias[c] + slot * pt->slot_size);
}

/*
 * The slot of a type, @slot < pt->cap: the first chunk (often the only one)
 * directly, the others by a table lookup and one compare.
 */
static inline struct layout_slot *slot_fast(const struct ptype *pt, uint64_t slot)
{
	if (likely(slot < pt->end0))
		return (struct layout_slot *)(pt->base0 + slot * pt->slot_size);
	if (likely(pt->ctab_ok))
		return slot_ctab(pt, slot);
	return slot_search(pt, slot);
}

/*
 * For the hot paths, which have no calls but tail calls (so no registers to
 * save): @s = the slot, or @bail (to the checked path) if @slot is past the
 * type's capacity, or past its first chunk in a type without a usable chunk
 * table.  end0 <= cap, so the usual case costs one compare.
 */
#define SLOT_QUICK(pt, slot, s, bail) do { \
	if (likely((slot) < (pt)->end0)) \
		(s) = (struct layout_slot *)((pt)->base0 + (uint64_t)(slot) * (pt)->slot_size); \
	else if (likely((slot) < (pt)->cap && (pt)->ctab_ok)) \
		(s) = slot_ctab(pt, slot); \
	else \
		bail; \
} while (0)

/* The slot of a type, or NULL past its capacity. */
static inline struct layout_slot *slot_at(const struct ptype *pt, uint64_t slot)
{
	return likely(slot < pt->cap) ? slot_fast(pt, slot) : NULL;
}

static POOL_SHARED void *slot_obj(const struct ptype *pt, struct layout_slot *s)
{
	return (char *)s + pt->obj_offset;
}

static POOL_SHARED uint64_t watermark(const struct ptype *pt)
{
	uint64_t wm = __atomic_load_n(&pt->hot->watermark, __ATOMIC_ACQUIRE);

	return wm < pt->cap ? wm : pt->cap;
}

static POOL_SHARED const struct ptype *ptype_get(const struct shmdev_pool *p, uint16_t type)
{
	if (type >= p->nr_types || !p->types[type].used)
		return NULL;
	return &p->types[type];
}

#include "pool_index.h"

/* pool_view.c */
/* The chunk range holding address @a (ranges are sorted, disjoint), or NULL. */
static inline const struct prange *pool_range_of(const struct shmdev_pool *p, uintptr_t a)
{
	size_t lo = 0, hi = p->nr_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a < p->ranges[mid].start)
			hi = mid;
		else if (a >= p->ranges[mid].end)
			lo = mid + 1;
		else
			return &p->ranges[mid];
	}
	return NULL;
}

int pool_build_view(struct shmdev_pool *p);
uint64_t pool_repair_type(struct shmdev_pool *p, struct ptype *pt);

/* pool_key.c */
void pool_index_rebuild(struct shmdev_pool *p, struct ptype *pt);

/* tx.c */
struct shmdev_proc_conf;
uint64_t pool_tx_base_bytes(const struct layout_geom *g, const struct shmdev_proc_conf *pc);
void pool_tx_init_cold(struct shmdev_pool *p, const struct shmdev_proc_conf *pc);
int pool_tx_attach(struct shmdev_pool *p, const struct shmdev_proc_conf *pc);
int pool_tx_recover(struct shmdev_pool *p, bool *changed);
void pool_tx_close(struct shmdev_pool *p);
void pool_tx_free(struct shmdev_pool *p);
bool pool_tx_open_after_crash(const struct shmdev_pool *p);
/* pool_lock.c: SHMDEV_POOL_THREADS */
int pool_locks_init(struct shmdev_pool *p);
void pool_locks_free(struct shmdev_pool *p);
void pool_lock_type(const struct shmdev_pool *p, uint32_t type);
void pool_unlock_type(const struct shmdev_pool *p, uint32_t type);
void pool_lock_all(const struct shmdev_pool *p);
void pool_unlock_all(const struct shmdev_pool *p);
int pool_lock_alloc(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
		    shmdev_handle_t *handle);
int pool_lock_free(struct shmdev_pool *p, shmdev_handle_t h);
int pool_lock_force_get(struct shmdev_pool *p, uint16_t type, uint64_t key,
			void **obj, shmdev_handle_t *handle, bool *created);
void *pool_lock_find(const struct shmdev_pool *p, uint16_t type, uint64_t key,
		     shmdev_handle_t *handle);

/* pool_cache.c: SHMDEV_POOL_THREADS, the threads' caches of free slots */
int pool_cache_init(struct shmdev_pool *p);
void pool_cache_return_all(struct shmdev_pool *p);
void pool_cache_free(struct shmdev_pool *p);
int pool_cache_alloc(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
		     shmdev_handle_t *handle);
int pool_cache_release(struct shmdev_pool *p, shmdev_handle_t h);
uint64_t pool_cache_count(const struct shmdev_pool *p, uint16_t type);

/* pool_hot.c and pool_key.c: the calls without the lock, for pool_lock.c */
int pool_alloc_nolock(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
		      shmdev_handle_t *handle);
int pool_free_nolock(struct shmdev_pool *p, shmdev_handle_t h);
int pool_force_get_nolock(struct shmdev_pool *p, uint16_t type, uint64_t key,
			  void **obj, shmdev_handle_t *handle, bool *created);
void *pool_find_nolock(const struct shmdev_pool *p, uint16_t type, uint64_t key,
		       shmdev_handle_t *handle);

/* pool_hot.c */
int pool_alloc_slot(struct shmdev_pool *p, struct ptype *pt, uint32_t state,
		    uint64_t key, uint32_t ipos, bool zero, void **obj,
		    shmdev_handle_t *handle);
int pool_writable(struct shmdev_pool *p, const char *what);

#endif
