/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The key index of a KEYED type (private, not installed; included by
 * pool_internal.h): an open-addressing table in the type's shared memory,
 * linear probing, nr (a power of two) entries of 8 bytes, at most 3/4 full
 * (max_count <= 3/4 nr; the layout asks for 1/2: layout_plan.c).
 *
 * An entry is one 64-bit word: 0 is empty, else
 *
 *     bits 28..63  the top 36 bits of the key's hash h = key * 2^64/phi
 *     bits  0..27  slot + 1 (max_count < 2^28, so never 0 for a slot)
 *
 * The entry's home is h >> (64 - log2 nr), i.e. its own top bits (nr is at
 * most 2^30, so the home lies inside the 36 stored bits).  A find reads the
 * entries from the home on: an empty one ends it (a miss reads only the
 * index), one whose hash bits match names a slot, which the find then reads
 * to confirm (tag LIVE_KEYED, the slot's key equal): an index line or two
 * and the slot's header, the line the caller touches next.  Not the full
 * key and a generation as in {key, handle}: half the bytes (16 per slot at
 * load 1/2, and a 4 KiB block still holds the index of 100 keys), and an
 * entry appears and goes with one aligned store, so a read-only attach
 * never sees half an entry.
 *
 * Deletion: backward shift (the entries after the deleted one that would
 * no longer be reachable move back into the gap), not tombstones: a game
 * server churns keys all the time, and tombstones would lengthen every
 * probe until a rehash, an O(nr) stall on the hot path.  The shift moves
 * a few entries (load <= 3/4); no probe ever crosses an empty entry.
 *
 * Crash consistency: the index is derived data.  The slot's tag is the
 * commit point of force_get and free; the index store comes after the
 * commit in force_get and before it in free, and a crash anywhere leaves
 * the pool dirty (open_epoch), whose next owner rebuilds the whole index
 * from the tags and keys (pool_repair_type(), or pool_index_rebuild() for
 * a new or resized index), so a half-done shift or a missing entry never
 * outlives the crash.  Every loop over the index is bounded by nr: a
 * damaged index (no empty entry) cannot make a call spin.
 */
#ifndef SHMDEV_POOL_INDEX_H
#define SHMDEV_POOL_INDEX_H

#include <stdint.h>

#define INDEX_SLOT_MASK		((1ULL << SHMDEV_LAYOUT_SLOT_BITS) - 1)
#define INDEX_NONE		UINT32_MAX	/* no position: the index is full (corrupt) */

static inline uint64_t index_hash(uint64_t key)
{
	return key * 0x9e3779b97f4a7c15ULL;
}

static inline uint64_t index_entry(uint64_t h, uint64_t slot)
{
	return (h & ~INDEX_SLOT_MASK) | (slot + 1);
}

/* The home position of a hash, or of an entry (the same top bits). */
static inline uint32_t index_home(const struct ptype *pt, uint64_t h)
{
	return (uint32_t)(h >> pt->index_shift);
}

static inline uint64_t index_load(const struct ptype *pt, uint32_t i)
{
	return __atomic_load_n(&pt->index[i], __ATOMIC_RELAXED);
}

/* One aligned store: a reader sees the old entry or the new one. */
static inline void index_store(const struct ptype *pt, uint32_t i, uint64_t e)
{
	__atomic_store_n(&pt->index[i], e, __ATOMIC_RELEASE);
}

/*
 * The live keyed slot of @key (its number in *@slotp), or NULL and in
 * *@posp the empty entry where @key would go (INDEX_NONE if there is none:
 * a damaged index).  An entry whose slot does not confirm is skipped.
 */
static inline struct layout_slot *index_find(const struct ptype *pt, uint64_t key,
					     uint64_t *slotp, uint32_t *posp)
{
	uint64_t h = index_hash(key);
	uint32_t mask = pt->index_mask, i = index_home(pt, h), n;

	for (n = mask + 1; n; n--, i = (i + 1) & mask) {
		uint64_t e = index_load(pt, i), slot;
		struct layout_slot *s;

		if (!e) {
			*posp = i;
			return NULL;
		}
		if ((e ^ h) & ~INDEX_SLOT_MASK)
			continue;
		slot = (e & INDEX_SLOT_MASK) - 1;
		if (unlikely(slot >= pt->cap))
			continue;
		s = slot_fast(pt, slot);
		/* Live keyed (any generation) and this key: one line, the header. */
		if (likely(layout_tag_state(load_tag(s)) == LAYOUT_SLOT_LIVE_KEYED && s->key == key)) {
			*slotp = slot;
			return s;
		}
	}
	*posp = INDEX_NONE;
	return NULL;
}

/* The position of the entry for @slot holding @key, or INDEX_NONE. */
static inline uint32_t index_locate(const struct ptype *pt, uint64_t key, uint64_t slot)
{
	uint64_t h = index_hash(key), want = index_entry(h, slot);
	uint32_t mask = pt->index_mask, i = index_home(pt, h), n;

	for (n = mask + 1; n; n--, i = (i + 1) & mask) {
		uint64_t e = index_load(pt, i);

		if (e == want)
			return i;
		if (!e)
			break;
	}
	return INDEX_NONE;
}

/*
 * Delete the entry at @i by backward shift: each later entry of the run
 * whose home is not cyclically in (gap, its position] moves into the gap,
 * which moves to where it was; the last gap becomes empty.  @crash: the
 * checked path's hook (a point after each move), NULL on the fast path.
 */
static inline void index_delete(const struct ptype *pt, uint32_t i, struct shmdev_crash *crash)
{
	uint32_t mask = pt->index_mask, j = i, n;

	for (n = mask; n; n--) {
		uint64_t e;

		j = (j + 1) & mask;
		e = index_load(pt, j);
		if (!e)
			break;
		if (((j - index_home(pt, e)) & mask) >= ((j - i) & mask)) {
			index_store(pt, i, e);
			SHMDEV_CRASH_POINT(crash, "free:index-shifted");
			i = j;
		}
	}
	index_store(pt, i, 0);
}

/*
 * Add an entry for @slot holding @key at the first empty position from its
 * home, without looking for the key (the rebuild: every slot once).  False
 * if the index has no empty entry.
 */
static inline bool index_add(const struct ptype *pt, uint64_t key, uint64_t slot)
{
	uint64_t h = index_hash(key);
	uint32_t mask = pt->index_mask, i = index_home(pt, h), n;

	for (n = mask + 1; n; n--, i = (i + 1) & mask) {
		if (!index_load(pt, i)) {
			index_store(pt, i, index_entry(h, slot));
			return true;
		}
	}
	return false;
}

#endif /* SHMDEV_POOL_INDEX_H */
