// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The hot paths: alloc, alloc_raw, free and get (fast paths and the checked
 * paths they fall back to), the typed variants, handle_of and foreach.  The
 * fast paths' helpers (pool_internal.h) are inlined here: no call but tail
 * calls to the checked paths.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/*
 * Take a free slot (free list first, then the never-used ones) and commit it
 * live: the checked path, with the crash points and the corruption reports.
 * @zero: clear the object (before the commit, so that a crash never leaves
 * a live object half cleared).  A keyed object's index entry goes to
 * @ipos, the empty entry where force_get's search for @key ended (no
 * second search), after the commit.
 */
int pool_alloc_slot(struct shmdev_pool *p, struct ptype *pt, uint32_t state,
		    uint64_t key, uint32_t ipos, bool zero, void **obj,
		    shmdev_handle_t *handle)
{
	struct layout_hot *hot = pt->hot;
	struct layout_slot *s;
	uint64_t slot, wm = watermark(pt), seq;
	uint32_t tag, gen;

	if (hot->free_head) {
		slot = hot->free_head - 1;
		s = slot < wm ? slot_at(pt, slot) : NULL;
		if (!s || layout_tag_state(load_tag(s)) != LAYOUT_SLOT_FREE)
			return shmdev_fail(p->ctx, EUCLEAN, "type %u \"%s\": free list head %" PRIu64 " is not a free slot (the pool is corrupt)",
					   pt->id, pt->name, slot);
		seq = change_begin(hot);
		CRASH_POINT(p, "alloc:take");
		hot->free_head = s->next;
		CRASH_POINT(p, "alloc:taken");
		hot->free_count--;
	} else if (wm < pt->cap) {
		slot = wm;
		s = slot_at(pt, slot);
		seq = change_begin(hot);
		/* Initialise before the watermark covers it: the repair scans up to it. */
		store_tag(s, layout_tag(LAYOUT_SLOT_FREE, 1));
		CRASH_POINT(p, "alloc:slot-init");
		__atomic_store_n(&hot->watermark, wm + 1, __ATOMIC_RELEASE);
		CRASH_POINT(p, "alloc:watermark");
	} else {
		return shmdev_fail(p->ctx, ENOSPC, "type %u \"%s\" is full: %" PRIu64 " objects (raise max_count)",
				   pt->id, pt->name, pt->cap);
	}
	s->key = key;
	s->next = 0;
	if (zero)
		memset(slot_obj(pt, s), 0, pt->size);
	CRASH_POINT(p, "alloc:prepared");
	tag = load_tag(s);
	gen = layout_tag_gen(tag) ? layout_tag_gen(tag) : 1;
	store_tag(s, layout_tag(state, gen));	/* commit */
	CRASH_POINT(p, "alloc:committed");
	if (state == LAYOUT_SLOT_LIVE_KEYED) {
		index_store(pt, ipos, index_entry(pt, index_hash(key), slot));
		CRASH_POINT(p, "alloc:indexed");
	}
	hot->live_count++;
	change_end(hot, seq);
	*obj = slot_obj(pt, s);
	if (handle)
		*handle = layout_handle(pt->id, (uint32_t)slot, gen);
	return 0;
}

int pool_writable(struct shmdev_pool *p, const char *what)
{
	if (p->rdonly)
		return shmdev_fail(p->ctx, EROFS, "%s: the pool is open read-only", what);
	return 0;
}

/*
 * The fast path of alloc: the same stores in the same order as pool_alloc_slot()
 * for a plain (not keyed) object, without the crash points.  Anything out of
 * the ordinary (read-only pool, crash hook armed, unknown type, full type, a
 * free-list head that is not a free slot below the watermark) returns 1
 * before anything is written, and the caller takes the checked path, which
 * looks again and reports.
 *
 * Ordering: the crash model is one process killed at any instruction, not
 * concurrent writers.  A kill stops the program between two instructions
 * and what it stored stays (the memory is shared), so what matters is the
 * order of the stores in the instruction stream: the release store of the
 * tag keeps the key, link and zeroing before the commit, and the release
 * store of the watermark keeps the new slot's FREE tag before the
 * watermark covers it.  Stores to the derived data (free head, counters)
 * may move around the commit: a repair rebuilds them.  On x86 a release
 * store is a plain store and an acquire load a plain load: no fence or
 * locked instruction is on these paths, and on weaker CPUs the same
 * orders also give a read-only inspector a consistent slot.
 */
static inline __attribute__((always_inline)) int
alloc_fast(struct shmdev_pool *p, uint32_t limit, uint16_t type, bool zero, void **obj,
	   shmdev_handle_t *handle)
{
	struct ptype *pt;
	struct layout_hot *hot;
	struct layout_slot *s;
	uint64_t wm, seq;
	uint32_t head, tag, slot;

	/* @limit: nr_fast, or under a type's lock nr_unlocked (pool_lock.c) */
	if (unlikely(type >= limit))
		return 1;
	pt = &p->types[type];
	hot = pt->hot;
	head = hot->free_head;
	wm = __atomic_load_n(&hot->watermark, __ATOMIC_ACQUIRE);
	/* An empty free list: a never-used slot, once per slot, checked path. */
	if (unlikely(!head))
		return 1;
	slot = head - 1;
	if (unlikely(slot >= wm))
		return 1;
	SLOT_QUICK(pt, slot, s, return 1);
	tag = load_tag(s);
	/* FREE with a generation (never 0 below the watermark) */
	if (unlikely((uint8_t)tag || !tag))
		return 1;
	seq = change_begin(hot);
	hot->free_head = s->next;
	hot->free_count--;
	s->key = 0;
	s->next = 0;
	if (zero)
		memset(slot_obj(pt, s), 0, pt->size);
	store_tag(s, tag | LAYOUT_SLOT_LIVE);	/* commit: LIVE, same generation */
	hot->live_count++;
	change_end(hot, seq);
	*obj = slot_obj(pt, s);
	if (handle)
		*handle = pt->hid | (uint64_t)slot << 24 | layout_tag_gen(tag);
	return 0;
}

static __attribute__((noinline)) int alloc_checked_body(struct shmdev_pool *p, uint16_t type,
							bool zero, void **obj,
							shmdev_handle_t *handle)
{
	struct ptype *pt;
	int err;

	shmdev_clear_error(p->ctx);
	err = pool_writable(p, "alloc");
	if (err)
		return err;
	pt = (struct ptype *)ptype_get(p, type);
	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "alloc: type %u is not in the layout", type);
	return pool_alloc_slot(p, pt, LAYOUT_SLOT_LIVE, 0, INDEX_NONE, zero, obj, handle);
}

/* SHMDEV_POOL_THREADS sets nr_fast to 0: every alloc comes here and locks. */
static __attribute__((noinline)) int alloc_checked(struct shmdev_pool *p, uint16_t type,
						   bool zero, void **obj,
						   shmdev_handle_t *handle)
{
	if (unlikely(p->locks != NULL))
		return pool_lock_alloc(p, type, zero, obj, handle);
	return alloc_checked_body(p, type, zero, obj, handle);
}

/* Under the type's lock (pool_lock.c): the fast path, else the checked one. */
int pool_alloc_nolock(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
		      shmdev_handle_t *handle)
{
	int ret = zero ? alloc_fast(p, p->nr_unlocked, type, true, obj, handle) :
			 alloc_fast(p, p->nr_unlocked, type, false, obj, handle);

	return likely(ret <= 0) ? ret : alloc_checked_body(p, type, zero, obj, handle);
}

SHMDEV_EXPORT int shmdev_alloc(struct shmdev_pool *p, uint16_t type, void **obj,
			       shmdev_handle_t *handle)
{
	int ret;

	if (unlikely(!p || !obj))
		return -EINVAL;
	ret = alloc_fast(p, p->nr_fast, type, true, obj, handle);
	return likely(ret <= 0) ? ret : alloc_checked(p, type, true, obj, handle);
}

SHMDEV_EXPORT int shmdev_alloc_raw(struct shmdev_pool *p, uint16_t type, void **obj,
				   shmdev_handle_t *handle)
{
	int ret;

	if (unlikely(!p || !obj))
		return -EINVAL;
	ret = alloc_fast(p, p->nr_fast, type, false, obj, handle);
	return likely(ret <= 0) ? ret : alloc_checked(p, type, false, obj, handle);
}

/* The slot of a live handle, or NULL. */
static struct layout_slot *live_slot(const struct shmdev_pool *p, shmdev_handle_t h,
				     const struct ptype **ptp)
{
	const struct ptype *pt = ptype_get(p, (uint16_t)layout_handle_type(h));
	uint64_t slot = layout_handle_slot(h);
	uint32_t gen = layout_handle_gen(h);
	struct layout_slot *s;
	uint32_t tag;

	if (!pt || !gen || slot >= watermark(pt))
		return NULL;
	s = slot_at(pt, slot);
	if (!s)
		return NULL;
	tag = load_tag(s);
	if (!state_live(layout_tag_state(tag)) || layout_tag_gen(tag) != gen)
		return NULL;
	*ptp = pt;
	return s;
}

/* shmdev_get() of a slot past the first chunk of a type without a chunk table. */
static __attribute__((noinline)) void *get_searched(const struct ptype *pt, shmdev_handle_t h)
{
	struct layout_slot *s = slot_search(pt, layout_handle_slot(h));
	uint32_t tag = s ? load_tag(s) : 0, gen = layout_handle_gen(h);

	if (!s || !gen || !state_live(layout_tag_state(tag)) || layout_tag_gen(tag) != gen)
		return NULL;
	return slot_obj(pt, s);
}

/*
 * No watermark here: a slot at or above it was never made live (its tag is
 * 0, or FREE), so the tag alone rejects it, and cap bounds the address.
 */
SHMDEV_EXPORT void *shmdev_get(const struct shmdev_pool *p, shmdev_handle_t h)
{
	uint32_t type = layout_handle_type(h), gen = layout_handle_gen(h), tag;
	uint64_t slot = layout_handle_slot(h);
	const struct ptype *pt;
	struct layout_slot *s;

	if (unlikely(!p || type >= p->nr_types))
		return NULL;
	pt = &p->types[type];
	SLOT_QUICK(pt, slot, s, return slot < pt->cap ? get_searched(pt, h) : NULL);
	/* Live (state 1 or 2) with this generation, which is never 0. */
	tag = load_tag(s) ^ gen << 8;
	if (unlikely((tag - 1 > 1) | !gen))
		return NULL;
	return slot_obj(pt, s);
}

/*
 * The inline get's view of a type (shmdev.h, SHMDEV_FAST_ABI): its first
 * chunk, which SLOT_QUICK reaches without a table, and the tag's place in
 * the slot header (layout.h).  The handle and tag layouts it publishes are
 * layout_handle() and layout_tag(); the asserts tie them to ABI 1.
 */
_Static_assert(SHMDEV_FAST_ABI == 1 && LAYOUT_SLOT_LIVE == 1 && LAYOUT_SLOT_LIVE_KEYED == 2 &&
	       SHMDEV_LAYOUT_GEN_MAX == 0xffffff && SHMDEV_LAYOUT_MAX_SLOTS == (1ULL << 28) - 1 &&
	       SHMDEV_LAYOUT_GEN_BITS == 24 && SHMDEV_LAYOUT_SLOT_BITS == 28,
	       "the handle and tag layouts of SHMDEV_FAST_ABI 1");

SHMDEV_EXPORT int shmdev_fast_init_abi(const struct shmdev_pool *p, uint16_t type, uint32_t abi,
				       size_t size, struct shmdev_fast *fast)
{
	const struct ptype *pt;

	if (!p || !fast)
		return -EINVAL;
	shmdev_clear_error(p->ctx);
	if (abi != SHMDEV_FAST_ABI || size != sizeof(*fast))
		return shmdev_fail(p->ctx, EPROTO, "fast_init: inline get ABI %u (struct of %zu bytes) is not this library's ABI %u (%zu bytes); rebuild against its shmdev.h",
				   abi, size, SHMDEV_FAST_ABI, sizeof(*fast));
	pt = ptype_get(p, type);
	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "fast_init: type %u is not in the layout", type);
	*fast = (struct shmdev_fast){
		.abi = SHMDEV_FAST_ABI,
		.type = type,
		.hid = pt->hid,
		.base = pt->base0 + pt->obj_offset,
		.stride = pt->slot_size,
		.bound = pt->end0 < pt->cap ? pt->end0 : pt->cap,
		.tag_back = pt->obj_offset - offsetof(struct layout_slot, tag),
		.pool = p,
	};
	return 0;
}

SHMDEV_EXPORT uint16_t shmdev_handle_type(shmdev_handle_t h)
{
	return (uint16_t)layout_handle_type(h);
}

SHMDEV_EXPORT uint32_t shmdev_handle_slot(shmdev_handle_t h)
{
	return layout_handle_slot(h);
}

SHMDEV_EXPORT void *shmdev_get_typed(const struct shmdev_pool *p, uint16_t type,
				     shmdev_handle_t h)
{
	return likely(layout_handle_type(h) == type) ? shmdev_get(p, h) : NULL;
}

/* Delete @slot's entry from the key index; false if it is not there. */
static bool index_unlink(struct shmdev_pool *p, const struct ptype *pt,
			 struct layout_slot *s, uint64_t slot)
{
	uint32_t i = index_locate(pt, s->key, slot);

	if (i == INDEX_NONE)
		return false;
	CRASH_POINT(p, "free:unlink");
	index_delete(pt, i, &p->crash);
	CRASH_POINT(p, "free:unlinked");
	return true;
}

static __attribute__((noinline)) int free_checked_body(struct shmdev_pool *p, shmdev_handle_t h)
{
	const struct ptype *pt = NULL;
	struct layout_hot *hot;
	struct layout_slot *s;
	uint64_t slot = layout_handle_slot(h), seq;
	uint32_t tag, gen;
	int err;

	shmdev_clear_error(p->ctx);
	err = pool_writable(p, "free");
	if (err)
		return err;
	s = live_slot(p, h, &pt);
	if (!s)
		return shmdev_fail(p->ctx, ESTALE, "free: handle 0x%016" PRIx64 " (type %u, slot %" PRIu64 ", generation %u) does not name a live object",
				   h, layout_handle_type(h), slot, layout_handle_gen(h));
	hot = pt->hot;
	tag = load_tag(s);
	seq = change_begin(hot);
	if (layout_tag_state(tag) == LAYOUT_SLOT_LIVE_KEYED && !index_unlink(p, pt, s, slot)) {
		change_end(hot, seq);
		return shmdev_fail(p->ctx, EUCLEAN, "free: type %u \"%s\" slot %" PRIu64 " is missing from the hash index (the pool is corrupt)",
				   pt->id, pt->name, slot);
	}
	gen = layout_tag_gen(tag);
	if (gen >= SHMDEV_LAYOUT_GEN_MAX) {
		/* The last generation: retire the slot rather than wrap (layout.h). */
		CRASH_POINT(p, "free:retiring");
		store_tag(s, layout_tag(LAYOUT_SLOT_RETIRED, gen));	/* commit */
		CRASH_POINT(p, "free:retired");
		hot->retired++;
		hot->live_count--;
		change_end(hot, seq);
		return 0;
	}
	gen++;
	s->next = hot->free_head;
	CRASH_POINT(p, "free:prepared");
	store_tag(s, layout_tag(LAYOUT_SLOT_FREE, gen));	/* commit */
	CRASH_POINT(p, "free:committed");
	hot->free_head = (uint32_t)slot + 1;
	CRASH_POINT(p, "free:listed");
	hot->free_count++;
	hot->live_count--;
	change_end(hot, seq);
	return 0;
}

/* SHMDEV_POOL_THREADS sets nr_fast to 0: every free comes here and locks. */
static __attribute__((noinline)) int free_checked(struct shmdev_pool *p, shmdev_handle_t h)
{
	if (unlikely(p->locks != NULL))
		return pool_lock_free(p, h);
	return free_checked_body(p, h);
}

/*
 * What the fast path of free does not take: a keyed live object, here,
 * and the rest (stale handles, the last generation) in free_checked().
 * For a keyed object: find the index entry that names @slot (reads only),
 * then the stores of free_checked() in its order (the entry deleted by
 * backward shift, the slot linked into the free list, commit, counts)
 * without the crash points.  An entry not found (a damaged index) sends
 * the call to the checked path before anything is written.
 */
static __attribute__((noinline)) int free_keyed(struct shmdev_pool *p, shmdev_handle_t h)
{
	/* shmdev_free() checked the type and the slot; few arguments keep it lean. */
	struct ptype *pt = &p->types[layout_handle_type(h)];
	uint32_t slot = layout_handle_slot(h), tag, i;
	struct layout_hot *hot = pt->hot;
	struct layout_slot *s;
	uint64_t seq;

	SLOT_QUICK(pt, slot, s, return free_checked_body(p, h));
	tag = load_tag(s);

	/* Keyed, live with the handle's generation, not the last one. */
	if (unlikely(!pt->keyed || tag != layout_tag(LAYOUT_SLOT_LIVE_KEYED, layout_handle_gen(h)) ||
		     layout_handle_gen(h) - 1 >= SHMDEV_LAYOUT_GEN_MAX - 1))
		return free_checked_body(p, h);
	i = index_locate(pt, s->key, slot);
	if (unlikely(i == INDEX_NONE))
		return free_checked_body(p, h);
	/* FREE with the next generation: LIVE_KEYED gen -> FREE gen + 1 */
	tag += layout_tag(LAYOUT_SLOT_FREE, 1) - LAYOUT_SLOT_LIVE_KEYED;
	seq = change_begin(hot);
	index_delete(pt, i, NULL);
	s->next = hot->free_head;
	store_tag(s, tag);	/* commit */
	hot->free_head = slot + 1;
	hot->free_count++;
	hot->live_count--;
	change_end(hot, seq);
	return 0;
}

/*
 * The fast path of free, for a plain live object: the stores of
 * free_checked() in the same order, without the crash points (see
 * alloc_fast() for the ordering).  Keyed objects take free_keyed();
 * stale handles, the last generation and the hook the checked path.  As in shmdev_get(), no watermark load: a
 * slot at or above it was never made live (tag 0, or FREE), so the tag
 * compare rejects it, and cap bounds the address.  Like every fast path it
 * leaves the context's message alone: shmdev_errmsg() tells of the last
 * failure, and a success returns 0 without storing to the context.
 */
static inline __attribute__((always_inline)) int
free_impl(struct shmdev_pool *p, uint32_t limit, bool locked, shmdev_handle_t h)
{
	uint32_t type = layout_handle_type(h), slot = layout_handle_slot(h), tag;
	uint32_t gen = layout_handle_gen(h);
	struct layout_hot *hot;
	struct layout_slot *s;
	struct ptype *pt;
	uint64_t seq;

	/* @limit: nr_fast, or under a type's lock nr_unlocked (pool_lock.c) */
	if (unlikely(type >= limit))
		return locked ? free_checked_body(p, h) : free_checked(p, h);
	pt = &p->types[type];
	hot = pt->hot;
	SLOT_QUICK(pt, slot, s, return locked ? free_checked_body(p, h) : free_checked(p, h));
	tag = load_tag(s);
	/* Generation 0 (never valid) and the last one (retires) go checked. */
	if (unlikely(tag != layout_tag(LAYOUT_SLOT_LIVE, gen) ||
		     gen - 1 >= SHMDEV_LAYOUT_GEN_MAX - 1))
		return free_keyed(p, h);
	/* FREE with the next generation: LIVE gen -> FREE gen + 1 */
	tag += layout_tag(LAYOUT_SLOT_FREE, 1) - LAYOUT_SLOT_LIVE;
	seq = change_begin(hot);
	s->next = hot->free_head;
	store_tag(s, tag);	/* commit */
	hot->free_head = slot + 1;
	hot->free_count++;
	hot->live_count--;
	change_end(hot, seq);
	return 0;
}

SHMDEV_EXPORT int shmdev_free(struct shmdev_pool *p, shmdev_handle_t h)
{
	if (unlikely(!p))
		return -EINVAL;
	return free_impl(p, p->nr_fast, false, h);
}

/* Under the type's lock (pool_lock.c). */
int pool_free_nolock(struct shmdev_pool *p, shmdev_handle_t h)
{
	return free_impl(p, p->nr_unlocked, true, h);
}

SHMDEV_EXPORT int shmdev_free_typed(struct shmdev_pool *p, uint16_t type, shmdev_handle_t h)
{
	const struct ptype *pt;

	if (unlikely(!p))
		return -EINVAL;
	if (likely(layout_handle_type(h) == type))
		return shmdev_free(p, h);
	pt = ptype_get(p, (uint16_t)layout_handle_type(h));
	return shmdev_fail(p->ctx, EINVAL, "free: handle 0x%016" PRIx64 " names type %u%s%s%s, not type %u (nothing freed)",
			   h, layout_handle_type(h), pt ? " \"" : "", pt ? pt->name : "",
			   pt ? "\"" : "", type);
}

SHMDEV_EXPORT shmdev_handle_t shmdev_handle_of(const struct shmdev_pool *p, const void *obj)
{
	uintptr_t a = (uintptr_t)obj;
	const struct prange *r;
	const struct ptype *pt;
	struct layout_slot *s;
	uint64_t off, slot;
	uint32_t tag;

	if (!p || !obj)
		return SHMDEV_HANDLE_NONE;
	r = pool_range_of(p, a);
	if (!r)
		return SHMDEV_HANDLE_NONE;
	pt = &p->types[r->type];
	off = a - r->start;
	if (off % pt->slot_size != pt->obj_offset)
		return SHMDEV_HANDLE_NONE;
	slot = pt->chunks[r->chunk].first + off / pt->slot_size;
	if (slot >= watermark(pt))
		return SHMDEV_HANDLE_NONE;
	s = (struct layout_slot *)(a - pt->obj_offset);
	tag = load_tag(s);
	if (!state_live(layout_tag_state(tag)))
		return SHMDEV_HANDLE_NONE;
	return layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(tag));
}

SHMDEV_EXPORT int shmdev_foreach(struct shmdev_pool *p, uint16_t type,
				 int (*fn)(void *obj, shmdev_handle_t handle, void *data),
				 void *data)
{
	const struct ptype *pt;
	uint64_t wm;
	uint32_t c;

	if (!p || !fn)
		return -EINVAL;
	shmdev_clear_error(p->ctx);
	pt = ptype_get(p, type);
	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "foreach: type %u is not in the layout", type);
	wm = watermark(pt);
	for (c = 0; c < pt->nr_chunks; c++) {
		const struct pchunk *ch = &pt->chunks[c];
		uint64_t i;

		for (i = 0; i < ch->nr && ch->first + i < wm; i++) {
			struct layout_slot *s = (struct layout_slot *)(ch->base + i * pt->slot_size);
			uint32_t tag = load_tag(s);
			int ret;

			if (!state_live(layout_tag_state(tag)))
				continue;
			ret = fn(slot_obj(pt, s), layout_handle(pt->id, (uint32_t)(ch->first + i),
								layout_tag_gen(tag)), data);
			if (ret)
				return ret;
		}
	}
	return 0;
}
