// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The key index of KEYED types (pool_index.h): force_get (find or create),
 * find, and the rebuild of a type's index from its slot tags.  The index is
 * derived data: pool_repair_type() and pool_index_rebuild() rebuild it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "pool_internal.h"

static int keyed_type(const struct shmdev_pool *p, uint16_t type, const char *what,
		      const struct ptype **ptp)
{
	const struct ptype *pt = ptype_get(p, type);

	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "%s: type %u is not in the layout", what, type);
	if (!pt->keyed)
		return shmdev_fail(p->ctx, EINVAL, "%s: type %u \"%s\" is not KEYED", what, type, pt->name);
	*ptp = pt;
	return 0;
}

/*
 * index_find() for the hot paths, without a call: 0 and in *@sp the live
 * keyed slot of @key (its number in *@slotp) or NULL (a miss: in *@posp
 * the empty entry where @key would go, INDEX_NONE if none), or 1 when an
 * entry names a slot that SLOT_QUICK does not reach (past the capacity,
 * or past the first chunk of a type without a chunk table), where
 * index_find(), called by the caller, looks again.  Inlined, without the
 * calls of slot_fast(): shmdev_find() saves three registers, not six.
 */
static inline int find_quick(const struct ptype *pt, uint64_t key, struct layout_slot **sp,
			     uint64_t *slotp, uint32_t *posp)
{
	uint64_t h = index_hash(key);
	const uint32_t *ix = pt->index;
	uint32_t mask = pt->index_mask, i = index_home(pt, h), fp = index_fp(pt, h), n = mask + 1;

	for (;;) {
		uint32_t e = __atomic_load_n(&ix[i], __ATOMIC_RELAXED);
		struct layout_slot *s;
		uint64_t slot;

		if (!e) {
			*posp = i;
			*sp = NULL;
			return 0;
		}
		if (!((e ^ fp) >> 28)) {
			slot = (e & INDEX_SLOT_MASK) - 1;
			SLOT_QUICK(pt, slot, s, return 1);
			if (likely(layout_tag_state(load_tag(s)) == LAYOUT_SLOT_LIVE_KEYED &&
				   s->key == key)) {
				*slotp = slot;
				*sp = s;
				return 0;
			}
		}
		i = (i + 1) & mask;
		if (unlikely(!--n)) {
			*posp = INDEX_NONE;
			*sp = NULL;
			return 0;
		}
	}
}

static __attribute__((noinline)) struct layout_slot *
find_slow(const struct ptype *pt, uint64_t key, uint64_t *slotp, uint32_t *posp)
{
	return index_find(pt, key, slotp, posp);
}

/*
 * The fast path of a force_get miss: the stores of pool_alloc_slot() for a
 * keyed object taken from the free list, in its order (key, zeroed object,
 * commit, index entry at @pos, where the search ended), without the crash
 * points.  Anything unusual (empty free list, a head that is not a free
 * slot below the watermark) returns 1 before anything is written.
 */
static inline int insert_fast(struct ptype *pt, uint64_t key, uint32_t pos, void **obj,
			      shmdev_handle_t *handle)
{
	struct layout_hot *hot = pt->hot;
	uint32_t head = hot->free_head, tag, slot;
	uint64_t wm = __atomic_load_n(&hot->watermark, __ATOMIC_ACQUIRE), seq;
	struct layout_slot *s;

	if (unlikely(!head || pos == INDEX_NONE))
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
	s->key = key;
	s->next = 0;
	memset(slot_obj(pt, s), 0, pt->size);
	store_tag(s, tag | LAYOUT_SLOT_LIVE_KEYED);	/* commit: LIVE_KEYED, same generation */
	index_store(pt, pos, index_entry(pt, index_hash(key), slot));
	hot->live_count++;
	change_end(hot, seq);
	*obj = slot_obj(pt, s);
	if (handle)
		*handle = pt->hid | (uint64_t)slot << 24 | layout_tag_gen(tag);
	return 0;
}

/*
 * Find @key in a KEYED type @pt, or insert it at the empty entry the search
 * ended at, without a second search: through insert_fast() when @fast (a
 * writable pool without the crash hook), else through the checked
 * pool_alloc_slot() (its crash points).  A hit stores nothing, not even
 * the context's message.
 */
static inline __attribute__((always_inline)) int
force_get_pt(struct shmdev_pool *p, const struct ptype *pt, bool fast, uint64_t key,
	     void **obj, shmdev_handle_t *handle, bool *created)
{
	struct layout_slot *s;
	uint64_t slot;
	uint32_t pos;
	int err;

	if (unlikely(find_quick(pt, key, &s, &slot, &pos)))
		s = find_slow(pt, key, &slot, &pos);
	if (s) {
		*obj = slot_obj(pt, s);
		if (handle)
			*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(load_tag(s)));
		if (created)
			*created = false;
		return 0;
	}
	if (!fast || insert_fast((struct ptype *)pt, key, pos, obj, handle)) {
		shmdev_clear_error(p->ctx);
		if (pos == INDEX_NONE)
			return shmdev_fail(p->ctx, EUCLEAN, "force_get: type %u \"%s\": the key index has no empty entry (the pool is corrupt)",
					   pt->id, pt->name);
		err = pool_alloc_slot(p, (struct ptype *)pt, LAYOUT_SLOT_LIVE_KEYED, key, pos, true,
				      obj, handle);
		if (err)
			return err;
	}
	if (created)
		*created = true;
	return 0;
}

/* Read-only pool, crash hook armed, a type not KEYED or not in the layout. */
static __attribute__((noinline)) int
force_get_checked_body(struct shmdev_pool *p, uint16_t type, uint64_t key, void **obj,
		       shmdev_handle_t *handle, bool *created)
{
	const struct ptype *pt = NULL;
	int err;

	shmdev_clear_error(p->ctx);
	err = pool_writable(p, "force_get");
	if (err)
		return err;
	err = keyed_type(p, type, "force_get", &pt);
	if (err)
		return err;
	return force_get_pt(p, pt, false, key, obj, handle, created);
}

/* SHMDEV_POOL_THREADS sets nr_fast to 0: every force_get comes here and locks. */
static __attribute__((noinline)) int
force_get_checked(struct shmdev_pool *p, uint16_t type, uint64_t key, void **obj,
		  shmdev_handle_t *handle, bool *created)
{
	if (unlikely(p->locks != NULL))
		return pool_lock_force_get(p, type, key, obj, handle, created);
	return force_get_checked_body(p, type, key, obj, handle, created);
}

/*
 * A writable pool without the crash hook (nr_fast is 0 otherwise) and a
 * KEYED type (keyed is false for a type not in the layout) skip the
 * checks.  @limit: nr_fast, or under a type's lock nr_unlocked
 * (pool_lock.c), where @locked sends the rest to the body.
 */
static inline __attribute__((always_inline)) int
force_get_impl(struct shmdev_pool *p, uint32_t limit, bool locked, uint16_t type, uint64_t key,
	       void **obj, shmdev_handle_t *handle, bool *created)
{
	if (likely(type < limit) && likely(p->types[type].keyed))
		return force_get_pt(p, &p->types[type], true, key, obj, handle, created);
	return locked ? force_get_checked_body(p, type, key, obj, handle, created) :
			force_get_checked(p, type, key, obj, handle, created);
}

SHMDEV_EXPORT int shmdev_force_get(struct shmdev_pool *p, uint16_t type, uint64_t key,
				   void **obj, shmdev_handle_t *handle, bool *created)
{
	if (!p || !obj)
		return -EINVAL;
	return force_get_impl(p, p->nr_fast, false, type, key, obj, handle, created);
}

int pool_force_get_nolock(struct shmdev_pool *p, uint16_t type, uint64_t key,
			  void **obj, shmdev_handle_t *handle, bool *created)
{
	return force_get_impl(p, p->nr_unlocked, true, type, key, obj, handle, created);
}

/* shmdev_find() where find_quick() gave up: a tail call. */
static __attribute__((noinline)) void *find_far(const struct ptype *pt, uint64_t key,
						shmdev_handle_t *handle)
{
	struct layout_slot *s;
	uint64_t slot;
	uint32_t pos;

	s = index_find(pt, key, &slot, &pos);
	if (!s)
		return NULL;
	if (handle)
		*handle = pt->hid | slot << 24 | layout_tag_gen(load_tag(s));
	return slot_obj(pt, s);
}

static inline __attribute__((always_inline)) void *
find_impl(const struct ptype *pt, uint64_t key, shmdev_handle_t *handle)
{
	struct layout_slot *s;
	uint64_t slot;
	uint32_t pos;

	if (unlikely(find_quick(pt, key, &s, &slot, &pos)))
		return find_far(pt, key, handle);
	if (!s)
		return NULL;
	if (handle)
		*handle = pt->hid | slot << 24 | layout_tag_gen(load_tag(s));
	return slot_obj(pt, s);
}

/* A keyed type with SHMDEV_POOL_THREADS (direct is false): lock. */
static __attribute__((noinline)) void *find_locked(const struct shmdev_pool *p, const struct ptype *pt,
						   uint64_t key, shmdev_handle_t *handle)
{
	if (!pt->keyed)
		return NULL;
	return pool_lock_find(p, pt->id, key, handle);
}

SHMDEV_EXPORT void *shmdev_find(const struct shmdev_pool *p, uint16_t type, uint64_t key,
				shmdev_handle_t *handle)
{
	const struct ptype *pt;

	/* direct is false for a type not in the layout (a zeroed ptype). */
	if (unlikely(!p || type >= p->nr_types))
		return NULL;
	pt = &p->types[type];
	if (unlikely(!pt->direct))
		return find_locked(p, pt, key, handle);
	return find_impl(pt, key, handle);
}

/* Under the type's lock (pool_lock.c); @type is a keyed type of the layout. */
void *pool_find_nolock(const struct shmdev_pool *p, uint16_t type, uint64_t key,
		       shmdev_handle_t *handle)
{
	return find_impl(&p->types[type], key, handle);
}

/*
 * Rebuild @pt's key index from its slots: cleared, then an entry for every
 * live keyed slot below the watermark.  For an index that a layout change
 * made new or bigger (and for anyone whose change leaves the index stale:
 * it reads only tags and keys).  A kill inside leaves the pool dirty, and
 * the next owner's repair rebuilds it again.  The whole repair after a
 * crash (pool_repair_type()) does the same in its one pass over the slots.
 */
void pool_index_rebuild(struct shmdev_pool *p, struct ptype *pt)
{
	struct layout_hot *hot = pt->hot;
	uint64_t wm, slot, seq;

	if (!pt->keyed)
		return;
	wm = watermark(pt);
	hot->seq += hot->seq & 1;
	seq = change_begin(hot);
	memset(pt->index, 0, ((size_t)pt->index_mask + 1) * sizeof(*pt->index));
	CRASH_POINT(p, "index:cleared");
	for (slot = 0; slot < wm; slot++) {
		struct layout_slot *s = slot_fast(pt, slot);
		uint32_t tag = load_tag(s);

		if (layout_tag_state(tag) != LAYOUT_SLOT_LIVE_KEYED || !layout_tag_gen(tag))
			continue;
		index_add(pt, s->key, slot);
		CRASH_POINT(p, "index:slot");
	}
	change_end(hot, seq);
}

SHMDEV_EXPORT int shmdev_find_fast_init_abi(const struct shmdev_pool *p, uint16_t type, uint32_t abi,
					    size_t size, struct shmdev_find_fast *ff)
{
	const struct ptype *pt = NULL;
	int err;

	if (!p || !ff)
		return -EINVAL;
	shmdev_clear_error(p->ctx);
	if (abi != SHMDEV_FIND_FAST_ABI || size != sizeof(*ff))
		return shmdev_fail(p->ctx, EPROTO, "find_fast_init: inline find ABI %u (struct of %zu bytes) is not this library's ABI %u (%zu bytes); rebuild against its shmdev.h",
				   abi, size, SHMDEV_FIND_FAST_ABI, sizeof(*ff));
	err = keyed_type(p, type, "find_fast_init", &pt);
	if (err)
		return err;
	_Static_assert(offsetof(struct layout_slot, key) == 0 && offsetof(struct layout_slot, tag) == 8 &&
		       LAYOUT_SLOT_LIVE_KEYED == 2 && SHMDEV_LAYOUT_SLOT_BITS == 28,
		       "shmdev_find_fast() (shmdev.h) reads the slot header and the index entries as layout version 3 has them");
	*ff = (struct shmdev_find_fast){
		.abi = SHMDEV_FIND_FAST_ABI,
		.type = type,
		/* SHMDEV_POOL_THREADS: find locks (pool_lock.c), so no inline probe. */
		.index = pt->direct ? pt->index : NULL,
		.mask = pt->index_mask,
		.fp_shift = pt->index_shift - 4,
		.hid = pt->hid,
		.slots = pt->base0,
		.stride = pt->slot_size,
		.bound = pt->end0 < pt->cap ? pt->end0 : pt->cap,
		.obj_offset = pt->obj_offset,
		.pool = p,
	};
	return 0;
}
