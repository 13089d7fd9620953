// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The consistency check of a pool (shmdev_pool_check): blocks, extents,
 * types and their derived data, by the owner or, through a read-only attach,
 * while the owner runs (check_shared()).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"
#include "region.h"

struct extent {
	uint64_t start, end;
	uint32_t block;
	uint16_t type;
	const char *what;
};

static int cmp_extent(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	if (x->block != y->block)
		return (x->block > y->block) - (x->block < y->block);
	return (x->start > y->start) - (x->start < y->start);
}

/* Every block of the layout is this pool's, at its index (layout.h, block header). */
static int check_blocks(struct shmdev_pool *p)
{
	struct layout_table *t = layout_active(p->base);
	char why[160];
	uint32_t i;

	for (i = 0; i < t->nr_blocks && i < p->nr_blocks; i++)
		if (layout_block_hdr_check(p->baddr[i], p->hdr, p->base_region->key, i,
					   p->blocks[i]->key, why, sizeof(why)))
			return shmdev_fail(p->ctx, EUCLEAN, "check: block %" PRIu32 " (key 0x%" PRIx64 ") of pool \"%s\" is foreign: %s",
					   i, p->blocks[i]->key, p->hdr->process, why);
	return 0;
}

/* Chunks, chunk arrays and key indexes must lie below each block's carved mark and never overlap. */
static int check_extents(struct shmdev_pool *p)
{
	struct layout_table *t = layout_active(p->base);
	struct layout_type *lt = layout_types(t);
	struct layout_block *blocks = layout_blocks(t, p->hdr->max_types);
	struct extent *ex;
	size_t n = 0, i;
	uint32_t ty, c;
	int err = 0;

	for (ty = 0; ty < p->hdr->max_types; ty++)
		n += lt[ty].used ? lt[ty].nr_chunks + 3 : 0;
	ex = calloc(n + SHMDEV_LAYOUT_MAX_HOLES + 1, sizeof(*ex));
	if (!ex)
		return shmdev_fail(p->ctx, ENOMEM, "check: out of memory");
	n = 0;
	for (ty = 0; ty < p->hdr->max_types; ty++) {
		const struct layout_chunk *chunks = layout_chunks(&lt[ty], p->baddr);

		if (!lt[ty].used)
			continue;
		for (c = 0; c < lt[ty].nr_chunks; c++) {
			const struct layout_chunk *ch = &chunks[c];

			ex[n++] = (struct extent){ ch->offset, ch->offset + ch->nr_slots * lt[ty].slot_size,
						   ch->block, (uint16_t)ty, "slot chunk" };
		}
		if (lt[ty].nr_chunks > SHMDEV_LAYOUT_INLINE_CHUNKS)
			ex[n++] = (struct extent){ lt[ty].xchunk_offset,
						   lt[ty].xchunk_offset + 32ULL * lt[ty].xchunk_cap,
						   lt[ty].xchunk_block, (uint16_t)ty, "chunk array" };
		if (lt[ty].nr_buckets)
			ex[n++] = (struct extent){ lt[ty].hash_offset,
						   lt[ty].hash_offset +
						   (uint64_t)SHMDEV_LAYOUT_INDEX_ENTRY * lt[ty].nr_buckets,
						   lt[ty].hash_block, (uint16_t)ty, "key index" };
		if (lt[ty].nr_fields)
			ex[n++] = (struct extent){ lt[ty].fields_offset,
						   lt[ty].fields_offset + layout_fields_bytes(lt[ty].nr_fields),
						   lt[ty].fields_block, (uint16_t)ty, "field table" };
	}
	for (c = 0; c < SHMDEV_LAYOUT_MAX_HOLES; c++) {
		const struct layout_extent *e = &layout_holes(t, p->hdr->max_types, p->hdr->max_blocks)[c];

		if (e->len)
			ex[n++] = (struct extent){ e->offset, e->offset + e->len, e->block,
						   UINT16_MAX, "free hole" };
	}
	qsort(ex, n, sizeof(*ex), cmp_extent);
	for (i = 0; i < n && !err; i++) {
		if (ex[i].end > blocks[ex[i].block].carved)
			err = shmdev_fail(p->ctx, EUCLEAN, "check: type %u %s ends at %" PRIu64 ", beyond the %" PRIu64 " bytes carved from block %" PRIu32,
					  ex[i].type, ex[i].what, ex[i].end, blocks[ex[i].block].carved, ex[i].block);
		else if (i && ex[i].block == ex[i - 1].block && ex[i].start < ex[i - 1].end)
			err = shmdev_fail(p->ctx, EUCLEAN, "check: block %" PRIu32 ": type %u %s overlaps type %u %s",
					  ex[i].block, ex[i].type, ex[i].what, ex[i - 1].type, ex[i - 1].what);
	}
	free(ex);
	return err;
}

/*
 * The key index (pool_index.h) against the slots: every entry names a
 * distinct keyed live slot below the watermark (@seen: the slots the free
 * list reached, and those entries), with that slot's key's fingerprint; a
 * find of that key from its home reaches the entry without crossing an
 * empty one, and meets no other entry of a live slot with the same key
 * (keys are unique); as many entries as @keyed live slots, so each of
 * those is in the index exactly once.  Bounded by the index's size.
 */
static int check_index(struct shmdev_pool *p, const struct ptype *pt, uint64_t wm,
		       uint64_t keyed, uint8_t *seen)
{
	uint32_t mask = pt->index_mask, i;
	uint64_t entries = 0;

	for (i = 0; i <= mask; i++) {
		uint32_t e = index_load(pt, i);
		uint64_t slot, h;
		struct layout_slot *s;
		uint32_t j, n;

		if (!e)
			continue;
		slot = (e & INDEX_SLOT_MASK) - 1;
		if (slot >= wm)
			return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": key index entry %" PRIu32 " names slot %" PRIu64 ", beyond the watermark %" PRIu64,
					   pt->id, pt->name, i, slot, wm);
		s = slot_at(pt, slot);
		if (seen[slot])
			return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": slot %" PRIu64 " is reached twice (free list or key index)",
					   pt->id, pt->name, slot);
		seen[slot] = 1;
		if (layout_tag_state(load_tag(s)) != LAYOUT_SLOT_LIVE_KEYED)
			return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": key index entry %" PRIu32 " names slot %" PRIu64 ", which is not a keyed live object",
					   pt->id, pt->name, i, slot);
		h = index_hash(s->key);
		if (e != index_entry(pt, h, slot))
			return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": key index entry %" PRIu32 " does not match key %" PRIu64 " of slot %" PRIu64,
					   pt->id, pt->name, i, s->key, slot);
		for (j = index_home(pt, h), n = mask + 1; j != i && n; j = (j + 1) & mask, n--) {
			uint32_t f = index_load(pt, j);
			uint64_t other = (uint64_t)(f & INDEX_SLOT_MASK) - 1;

			if (!f)
				return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": key %" PRIu64 " of slot %" PRIu64 " is at key index entry %" PRIu32 ", past the empty entry %" PRIu32 " (a find misses it)",
						   pt->id, pt->name, s->key, slot, i, j);
			if (!((f ^ index_fp(pt, h)) >> 28) && other < wm &&
			    slot_at(pt, other)->key == s->key)
				return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": key %" PRIu64 " is held by slots %" PRIu64 " and %" PRIu64,
						   pt->id, pt->name, s->key, other, slot);
		}
		entries++;
	}
	if (entries != keyed)
		return shmdev_fail(p->ctx, EUCLEAN, "check: type %u \"%s\": key index holds %" PRIu64 " objects, %" PRIu64 " keyed objects are live",
				   pt->id, pt->name, entries, keyed);
	return 0;
}

static int check_type(struct shmdev_pool *p, const struct ptype *pt)
{
	struct layout_hot *hot = pt->hot;
	uint64_t wm = hot->watermark, slot, live = 0, nfree = 0, keyed = 0, retired = 0, steps;
	uint64_t cached = 0;
	uint8_t *seen = NULL;
	uint32_t i;
	int err = 0;

#define BAD(...) do { err = shmdev_fail(p->ctx, EUCLEAN, __VA_ARGS__); goto out; } while (0)
	if (wm > pt->cap)
		BAD("check: type %u \"%s\": watermark %" PRIu64 " is beyond max_count %" PRIu64,
		    pt->id, pt->name, wm, pt->cap);
	seen = calloc(wm ? wm : 1, 1);
	if (!seen)
		return shmdev_fail(p->ctx, ENOMEM, "check: out of memory");
	for (slot = 0; slot < wm; slot++) {
		uint32_t tag = load_tag(slot_at(pt, slot));
		uint32_t st = layout_tag_state(tag);

		if (!layout_tag_gen(tag))
			BAD("check: type %u \"%s\": slot %" PRIu64 " has generation 0", pt->id, pt->name, slot);
		if (st == LAYOUT_SLOT_LIVE)
			live++;
		else if (st == LAYOUT_SLOT_LIVE_KEYED && pt->keyed)
			live++, keyed++;
		else if (st == LAYOUT_SLOT_RETIRED)
			retired++;
		else if (st == LAYOUT_SLOT_CACHED)
			cached++;
		else if (st != LAYOUT_SLOT_FREE)
			BAD("check: type %u \"%s\": slot %" PRIu64 " has bad state %" PRIu32,
			    pt->id, pt->name, slot, st);
		else
			nfree++;
	}
	/*
	 * Slots in thread caches (SHMDEV_POOL_THREADS, pool_cache.c) count as
	 * taken: a cached alloc or free moves a slot between LIVE and CACHED
	 * without a change of the type's seq, and keeps this sum.  At most
	 * SHMDEV_LAYOUT_CACHE_SLOTS per registered cache: none in a pool that
	 * no threaded owner holds (a clean close returns them, a repair frees
	 * them).
	 */
	if (live + cached != hot->live_count && !cached)
		BAD("check: type %u \"%s\": %" PRIu64 " live slots, live count says %" PRIu64,
		    pt->id, pt->name, live, hot->live_count);
	if (live + cached != hot->live_count)
		BAD("check: type %u \"%s\": %" PRIu64 " live slots and %" PRIu64 " in thread caches, live count says %" PRIu64,
		    pt->id, pt->name, live, cached, hot->live_count);
	if (cached > (uint64_t)hot->caches * SHMDEV_LAYOUT_CACHE_SLOTS)
		BAD("check: type %u \"%s\": %" PRIu64 " slots are in thread caches, more than %" PRIu32 " caches of %u hold",
		    pt->id, pt->name, cached, hot->caches, SHMDEV_LAYOUT_CACHE_SLOTS);
	if (retired != hot->retired)
		BAD("check: type %u \"%s\": %" PRIu64 " retired slots, retired count says %" PRIu64,
		    pt->id, pt->name, retired, hot->retired);
	if (nfree != hot->free_count)
		BAD("check: type %u \"%s\": %" PRIu64 " free slots below the watermark, free count says %" PRIu64,
		    pt->id, pt->name, nfree, hot->free_count);
	/* The free list holds every free slot once and nothing else. */
	steps = 0;
	for (i = hot->free_head; i; i = slot_at(pt, i - 1)->next) {
		slot = i - 1;
		if (slot >= wm)
			BAD("check: type %u \"%s\": free list reaches slot %" PRIu64 ", beyond the watermark %" PRIu64,
			    pt->id, pt->name, slot, wm);
		if (seen[slot])
			BAD("check: type %u \"%s\": free list visits slot %" PRIu64 " twice", pt->id, pt->name, slot);
		seen[slot] = 1;
		if (layout_tag_state(load_tag(slot_at(pt, slot))) != LAYOUT_SLOT_FREE)
			BAD("check: type %u \"%s\": free list holds slot %" PRIu64 ", which is not free", pt->id, pt->name, slot);
		steps++;
	}
	if (steps != nfree)
		BAD("check: type %u \"%s\": free list has %" PRIu64 " slots, %" PRIu64 " are free",
		    pt->id, pt->name, steps, nfree);
	if (!pt->keyed)
		goto out;
	err = check_index(p, pt, wm, keyed, seen);
out:
#undef BAD
	free(seen);
	return err;
}

static int check_layout(struct shmdev_pool *p)
{
	struct layout_geom g;
	int err;

	err = layout_verify(p->ctx, p->base, shmdev_region_size(p->base_region), &g);
	if (err)
		return err;
	err = check_blocks(p);
	if (err)
		return err;
	err = layout_verify_chunks(p->ctx, p->base, p->baddr);
	if (err)
		return err;
	return check_extents(p);
}

/*
 * Whether an owner holds the pool's lease now (region state OWNED), and
 * its pid.  Unknown counts as live: the answer is then "live", never a
 * false "corrupt".
 */
static bool owner_live(struct shmdev_pool *p, uint32_t *pid)
{
	struct shmdev_region_info info;

	if (shmdev_region_stat(p->ctx, p->backend, shmdev_region_key(p->base_region), &info))
		return true;
	*pid = info.owner_pid;
	return info.state == SHMDEV_STATE_OWNED;
}

#define CHECK_TRIES 64

/*
 * The check through a read-only attach, while an owner may be changing the
 * pool.  Each part is read between two loads of what its writer bumps: the
 * layout and the extents between two loads of open_epoch (an owner bumps it
 * before it writes anything at open), a type between two loads of its
 * hot seq (odd while the owner changes that type: layout.h).  A part read
 * across a change is read again, up to CHECK_TRIES times; a problem found
 * in a read that nothing changed is real.  Failing that, the answer is
 * -EAGAIN "pool is live", never a "corrupt" made of a torn read.  The
 * failures of torn reads are not logged: the log is muted meanwhile.
 */
static int check_shared(struct shmdev_pool *p)
{
	int prio = p->ctx->log_priority, err = 0, try;
	uint64_t e0 = 0, s0 = 0;
	char what[64] = "the layout";
	uint32_t pid = 0, i = 0;
	bool live = owner_live(p, &pid), stable = false;

	p->ctx->log_priority = -1;
	for (try = 0; try < CHECK_TRIES && !stable; try++) {
		if (try)
			sched_yield();
		e0 = __atomic_load_n(&p->hdr->open_epoch, __ATOMIC_ACQUIRE);
		err = check_layout(p);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		stable = __atomic_load_n(&p->hdr->open_epoch, __ATOMIC_RELAXED) == e0;
		if (!stable)
			live = owner_live(p, &pid) || live;
	}
	if (!stable || err)
		goto out;
	if (layout_active(p->base)->seq != p->view_seq) {
		p->ctx->log_priority = prio;
		return shmdev_fail(p->ctx, EAGAIN, "check: the layout changed since this read-only attach (sequence %" PRIu64 ", now %" PRIu64 "): attach again",
				   p->view_seq, layout_active(p->base)->seq);
	}
	for (i = 0; i < p->nr_types && !err; i++) {
		const struct ptype *pt = &p->types[i];

		if (!pt->used)
			continue;
		snprintf(what, sizeof(what), "type %u \"%s\"", pt->id, pt->name);
		stable = false;
		for (try = 0; try < CHECK_TRIES && !stable; try++) {
			if (try)
				sched_yield();
			s0 = __atomic_load_n(&pt->hot->seq, __ATOMIC_ACQUIRE);
			if (live && (s0 & 1))
				continue;	/* a change is under way */
			err = check_type(p, pt);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			stable = __atomic_load_n(&pt->hot->seq, __ATOMIC_RELAXED) == s0 &&
				 __atomic_load_n(&p->hdr->open_epoch, __ATOMIC_RELAXED) == e0;
			if (!stable)
				live = owner_live(p, &pid) || live;
		}
		if (!stable)
			break;
	}
out:
	p->ctx->log_priority = prio;
	if (!stable)
		return shmdev_fail(p->ctx, EAGAIN, "check: pool is live (owner pid %" PRIu32 "): %s changed during each of %d reads; consistency not checked",
				   pid, what, CHECK_TRIES);
	if (err)
		shmdev_log(p->ctx, LOG_ERR, __FILE__, __LINE__, __func__, "%s", shmdev_errbuf(p->ctx));
	return err;
}

SHMDEV_EXPORT int shmdev_pool_check(struct shmdev_pool *p)
{
	uint32_t i;
	int err;

	if (!p)
		return -EINVAL;
	shmdev_clear_error(p->ctx);
	if (p->rdonly)
		return check_shared(p);
	/*
	 * The owner: nothing changes the pool under its own check (with
	 * SHMDEV_POOL_THREADS: every type's lock, in id order).
	 */
	pool_lock_all(p);
	err = check_layout(p);
	for (i = 0; i < p->nr_types && !err; i++)
		if (p->types[i].used)
			err = check_type(p, &p->types[i]);
	pool_unlock_all(p);
	return err;
}
