/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The key index of a KEYED type (private, not installed; included by
 * pool_internal.h): an open-addressing table in the type's shared memory,
 * linear probing, nr (a power of two) entries of 4 bytes, at most half
 * full (max_count <= nr / 2), or 4/5 full where a block has no room for
 * that (layout_plan.c; layout_verify() holds every index to 4/5).
 *
 * An entry is one 32-bit word: 0 is empty, else
 *
 *     bits 28..31  4 bits of the key's hash h = key * 2^64/phi: the 4
 *                  just below the home bits (a fingerprint)
 *     bits  0..27  slot + 1 (max_count < 2^28, so never 0 for a slot)
 *
 * The key's home is the top log2(nr) bits of h.  A find reads the entries
 * from the home on: an empty one ends it (a miss reads only the index, but
 * for one entry in 16 whose fingerprint matches by chance), one whose
 * fingerprint matches names a slot, which the find then reads to confirm
 * (tag LIVE_KEYED, the slot's key equal): an index line (16 entries) and
 * the slot's header, the line the caller touches next.  Not {key, handle}
 * (16 bytes): 4 to 8 bytes per keyed slot, what the hash chains took
 * before, so that an index of 100,000 keys (512 KiB at 4/5) fits a 1 MiB
 * block, since an index is one extent in one block; and an entry appears
 * and goes with one aligned store, so a read-only attach never sees half
 * an entry.
 *
 * Deletion: backward shift (the entries after the deleted one that would
 * no longer be reachable move back into the gap), not tombstones: a game
 * server churns keys all the time, and tombstones would lengthen every
 * probe until a rehash, an O(nr) stall on the hot path.  An entry's home
 * comes from its slot's key, so the shift reads the slots of the entries
 * after the gap up to the next empty one (few at load 1/2).  No probe ever
 * crosses an empty entry.
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

#define INDEX_SLOT_MASK		((1U << SHMDEV_LAYOUT_SLOT_BITS) - 1)
#define INDEX_NONE		UINT32_MAX	/* no position: the index is full (corrupt) */

static inline uint64_t index_hash(uint64_t key)
{
	return key * 0x9e3779b97f4a7c15ULL;
}

/* The home position of a hash. */
static inline uint32_t index_home(const struct ptype *pt, uint64_t h)
{
	return (uint32_t)(h >> pt->index_shift);
}

/* The fingerprint of a hash, in place (bits 28..31): the 4 bits below the home's. */
static inline uint32_t index_fp(const struct ptype *pt, uint64_t h)
{
	return (uint32_t)(h >> (pt->index_shift - 4)) << 28;
}

static inline uint32_t index_entry(const struct ptype *pt, uint64_t h, uint64_t slot)
{
	return index_fp(pt, h) | (uint32_t)(slot + 1);
}

static inline uint32_t index_load(const struct ptype *pt, uint32_t i)
{
	return __atomic_load_n(&pt->index[i], __ATOMIC_RELAXED);
}

/* One aligned store: a reader sees the old entry or the new one. */
static inline void index_store(const struct ptype *pt, uint32_t i, uint32_t e)
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
	uint32_t mask = pt->index_mask, i = index_home(pt, h), fp = index_fp(pt, h), n;

	for (n = mask + 1; n; n--, i = (i + 1) & mask) {
		uint32_t e = index_load(pt, i);
		struct layout_slot *s;
		uint64_t slot;

		if (!e) {
			*posp = i;
			return NULL;
		}
		if ((e ^ fp) >> 28)
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
	uint64_t h = index_hash(key);
	uint32_t want = index_entry(pt, h, slot), mask = pt->index_mask, i = index_home(pt, h), n;

	for (n = mask + 1; n; n--, i = (i + 1) & mask) {
		uint32_t e = index_load(pt, i);

		if (e == want)
			return i;
		if (!e)
			break;
	}
	return INDEX_NONE;
}

/* The home of entry @e, from its slot's key; INDEX_NONE for a slot past the capacity. */
static inline uint32_t index_entry_home(const struct ptype *pt, uint32_t e)
{
	uint64_t slot = (e & INDEX_SLOT_MASK) - 1;

	if (unlikely(slot >= pt->cap))
		return INDEX_NONE;
	return index_home(pt, index_hash(slot_fast(pt, slot)->key));
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
		uint32_t e, home;

		j = (j + 1) & mask;
		e = index_load(pt, j);
		if (!e)
			break;
		home = index_entry_home(pt, e);
		/* A damaged entry (home unknown) stays where it is. */
		if (home != INDEX_NONE && ((j - home) & mask) >= ((j - i) & mask)) {
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
			index_store(pt, i, index_entry(pt, h, slot));
			return true;
		}
	}
	return false;
}

#endif /* SHMDEV_POOL_INDEX_H */
