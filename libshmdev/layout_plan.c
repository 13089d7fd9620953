// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The planning of a layout change (layout_plan(), layout_plan_at()): the
 * comparison with the configuration and the registered types, and the
 * carving of slot chunks, chunk arrays and key indexes from the blocks'
 * free space and holes.  layout.c verifies and commits the result.  Works
 * on plain memory only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "layout.h"
#include "layout_internal.h"

/*
 * One layout change being planned: the scratch table, the blocks to write
 * into (NULL for a plan that only computes the table), and the extents the
 * change no longer needs, given back at its end (never reused by the same
 * change: the active table still refers to them until the commit).
 */
struct plan {
	struct shmdev_ctx *ctx;
	struct shmdev_crash *crash;
	const struct layout_header *h;
	struct layout_table *t;
	struct layout_extent *holes;
	void *const *blocks;
	struct layout_extent *freed;
	size_t nr_freed;
};

uint64_t layout_hole_bytes(const struct layout_header *h, struct layout_table *t, uint32_t block)
{
	const struct layout_extent *holes = layout_holes(t, h->max_types, h->max_blocks);
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES; i++)
		if (holes[i].len && holes[i].block == block)
			sum += holes[i].len;
	return sum;
}

/*
 * Zero [off, end) of @block where it is below the block's high mark: space
 * carved before (and given back).  Above the mark the block is as created.
 * Then the mark covers [off, end).
 */
static void zero_reused(struct plan *pl, uint32_t block, uint64_t off, uint64_t end)
{
	struct layout_block *b = &layout_blocks(pl->t, pl->h->max_types)[block];

	if (pl->blocks && off < b->high) {
		memset((char *)pl->blocks[block] + off, 0, (end < b->high ? end : b->high) - off);
		SHMDEV_CRASH_POINT(pl->crash, "plan:zeroed");
	}
	if (b->high < end)
		b->high = end;
}

/* First block (index order) that can hold @bytes aligned to @align past its carved mark; -1 if none. */
static int64_t find_room(const struct layout_header *h, struct layout_table *t,
			 uint64_t bytes, uint64_t align)
{
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	uint32_t i;

	for (i = 0; i < t->nr_blocks; i++) {
		uint64_t off = round_up(blocks[i].carved, align);

		if (off <= h->block_size && h->block_size - off >= bytes)
			return i;
	}
	return -1;
}

#define NO_PHASE 64	/* place(): alignment only */

/*
 * The first offset at or past @v at @align and, unless @phase is NO_PHASE,
 * at @phase bytes past a 64-byte line (slot chunks: slot_phase()).
 */
static uint64_t place(uint64_t v, uint64_t align, uint64_t phase)
{
	uint64_t x;

	if (phase >= NO_PHASE)
		return round_up(v, align);
	x = round_up(v, 64) + phase;
	return x - 64 >= v ? x - 64 : x;
}

/*
 * Where in a 64-byte line a type's chunks begin (0..56, a multiple of its
 * alignment; NO_PHASE for an alignment of 64 or more), so that a get, which reads
 * the slot's tag, and the first use of the object touch as few lines as
 * the stride allows.  Slot n begins at phase + n * slot_size (mod 64); of
 * the line phases that gives, this one spans the fewest lines from the tag
 * through the object's first 64 bytes, then from the tag through its
 * first word; ties go to the lowest.  Stride 80 (a 64-byte object): phase
 * 8, which keeps the tag and the object's first word in one line for every
 * slot (phase 0 splits them in one slot of four); stride 64: phase 0, the
 * whole slot in one line.  Only where chunks begin: the format is the same.
 */
static uint64_t slot_phase(const struct layout_type *lt)
{
	uint64_t a = norm_align(lt->align), best = 0, best_cost = UINT64_MAX, ph, n;
	uint64_t tag = offsetof(struct layout_slot, tag), obj = lt->obj_offset;
	uint64_t body = lt->size < 64 ? lt->size : 64, word = lt->size < 8 ? lt->size : 8;

	if (a >= 64)
		return NO_PHASE;
	for (ph = 0; ph < 64; ph += a) {
		uint64_t cost = 0;

		/* 64 slots cover every line position the stride reaches */
		for (n = 0; n < 64; n++) {
			uint64_t s = ph + n * lt->slot_size;

			cost += ((s + obj + body - 1) / 64 - (s + tag) / 64) * 64 +
				(s + obj + word - 1) / 64 - (s + tag) / 64;
		}
		if (cost < best_cost) {
			best_cost = cost;
			best = ph;
		}
	}
	return best;
}

/* Carve @bytes at @align (and @phase: place()) past @block's carved mark. */
static uint64_t carve_at(struct plan *pl, uint32_t block, uint64_t bytes, uint64_t align,
			 uint64_t phase)
{
	struct layout_block *b = &layout_blocks(pl->t, pl->h->max_types)[block];
	uint64_t off = place(b->carved, align, phase);

	zero_reused(pl, block, off, off + bytes);
	b->carved = off + bytes;
	b->free_bytes = pl->h->block_size - b->carved;
	return off;
}

/*
 * Take up to @max units of @unit bytes at @align (and @phase: place()) from
 * the start of hole @e (the bytes before the aligned start are lost to
 * alignment).  Returns the units taken, their offset in @off.
 */
static uint64_t take_hole(struct plan *pl, struct layout_extent *e, uint64_t unit,
			  uint64_t align, uint64_t phase, uint64_t max, uint64_t *off)
{
	uint64_t start = place(e->offset, align, phase), end = e->offset + e->len, n;

	if (!e->len || start >= end || (end - start) / unit == 0)
		return 0;
	n = (end - start) / unit;
	if (n > max)
		n = max;
	*off = start;
	zero_reused(pl, e->block, start, start + n * unit);
	e->offset = start + n * unit;
	e->len = end - e->offset;
	if (!e->len)
		e->block = 0, e->offset = 0;
	return n;
}

/* Carve @bytes at @align: a hole first, else past a block's carved mark.  -1 if none fits. */
static int64_t carve_any(struct plan *pl, uint64_t bytes, uint64_t align, uint64_t *off)
{
	int64_t blk;
	uint32_t i;

	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES; i++) {
		uint32_t b = pl->holes[i].block;

		if (take_hole(pl, &pl->holes[i], bytes, align, NO_PHASE, 1, off))
			return b;
	}
	blk = find_room(pl->h, pl->t, bytes, align);
	if (blk >= 0)
		*off = carve_at(pl, (uint32_t)blk, bytes, align, NO_PHASE);
	return blk;
}

static void give_back_later(struct plan *pl, uint32_t block, uint64_t offset, uint64_t len)
{
	pl->freed[pl->nr_freed++] = (struct layout_extent){ .block = block, .offset = offset, .len = len };
}

/* Lower @block's carved mark over holes and freed extents that end at it. */
static void lower_mark(struct plan *pl, uint32_t block)
{
	struct layout_block *b = &layout_blocks(pl->t, pl->h->max_types)[block];
	bool again = true;
	uint32_t i;

	while (again) {
		again = false;
		for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES; i++) {
			struct layout_extent *e = &pl->holes[i];

			if (e->len && e->block == block && e->offset + e->len == b->carved) {
				b->carved = e->offset;
				memset(e, 0, sizeof(*e));
				again = true;
			}
		}
	}
	b->free_bytes = pl->h->block_size - b->carved;
}

/*
 * The end of a change that cannot read every chunk array (a plan without
 * blocks, never committed by the library: pool_open() plans again with its
 * blocks before a commit): the extents it no longer uses become holes
 * (merged with a neighbour), and carved marks go down over holes that end
 * at them.  With every hole entry taken, an extent stays carved.
 */
static void give_back_listed(struct plan *pl)
{
	size_t i;
	uint32_t j;

	for (i = 0; i < pl->nr_freed; i++) {
		struct layout_extent *f = &pl->freed[i];
		struct layout_extent *slot = NULL;
		struct layout_block *b = &layout_blocks(pl->t, pl->h->max_types)[f->block];

		if (f->offset + f->len == b->carved) {
			b->carved = f->offset;
			lower_mark(pl, f->block);
			continue;
		}
		for (j = 0; j < SHMDEV_LAYOUT_MAX_HOLES && f->len; j++) {
			struct layout_extent *e = &pl->holes[j];

			if (!e->len) {
				if (!slot)
					slot = e;
			} else if (e->block == f->block && e->offset + e->len == f->offset) {
				e->len += f->len;	/* f follows e */
				*f = *e;
				memset(e, 0, sizeof(*e));
				slot = e;
			} else if (e->block == f->block && f->offset + f->len == e->offset) {
				f->len += e->len;	/* e follows f */
				memset(e, 0, sizeof(*e));
				slot = e;
			}
		}
		if (slot && f->len)
			*slot = *f;
		lower_mark(pl, f->block);
	}
}

#define MIN_HOLE 64	/* bytes of the smallest hole listed */

static int cmp_used(const void *a, const void *b)
{
	const struct layout_extent *x = a, *y = b;

	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Larger first; between equals, block then offset (the result is deterministic). */
static int cmp_gap(const void *a, const void *b)
{
	const struct layout_extent *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return cmp_used(a, b);
}

/*
 * The end of a change: the block map is derived again from what the new
 * table uses.  Every byte of a block past its header that no slot chunk,
 * chunk array, key index or field table of the new table covers is free:
 * the bytes past the last used extent are the block's unused tail (its
 * carved mark goes down to that extent's end), the gaps below it are holes.
 * So old extents always go back, adjacent free space is one extent, free
 * space that touches the tail joins the tail, and the bytes alignment
 * skipped in front of a carve come back with their neighbours.
 *
 * A gap under MIN_HOLE bytes (what a carve's alignment or line phase
 * skipped) is not listed: it would take a table entry for room that no
 * index or field table and at most a slot or two fit.  It is not lost
 * either: it joins the free extent of a neighbour that goes back.
 *
 * The table keeps SHMDEV_LAYOUT_MAX_HOLES holes (the on-disk format, layout
 * version 3, is unchanged).  Gaps past that are at most one per used
 * extent; if there are more than the table holds, the largest are listed
 * and the others (the smallest) are not lost: they are not in any table,
 * so no change carves them, and the next change derives them again from
 * the used extents and lists them as soon as they merge with a freed
 * neighbour or there is room.  Deriving rather than keeping a bigger free
 * list in a block needs no new extent, no new crash point (it writes only
 * the scratch table, which the commit switches) and cannot drift from the
 * table it is derived from.
 *
 * It needs every type's chunks: a plan without blocks (which cannot read
 * the chunk array of a type with more than SHMDEV_LAYOUT_INLINE_CHUNKS
 * chunks) uses give_back_listed() when there is such an array.  1 if it
 * did, 0 if the caller must fall back, -ENOMEM.
 */
static int give_back_derived(struct plan *pl)
{
	const struct layout_header *h = pl->h;
	struct layout_type *lt = layout_types(pl->t);
	struct layout_block *bl = layout_blocks(pl->t, h->max_types);
	struct layout_extent *used, *gaps;
	size_t n = 0, nr_gaps = 0, i, max = 0;
	uint32_t ty, c, b;

	for (ty = 0; ty < h->max_types; ty++) {
		if (!lt[ty].used)
			continue;
		if (lt[ty].nr_chunks > SHMDEV_LAYOUT_INLINE_CHUNKS && !pl->blocks)
			return 0;
		max += lt[ty].nr_chunks + 3;
	}
	used = calloc(max + 1, sizeof(*used));
	gaps = calloc(max + pl->t->nr_blocks + 1, sizeof(*gaps));
	if (!used || !gaps) {
		free(used);
		free(gaps);
		return shmdev_fail(pl->ctx, ENOMEM, "out of memory deriving the free block space");
	}
	for (ty = 0; ty < h->max_types; ty++) {
		const struct layout_chunk *ch;

		if (!lt[ty].used)
			continue;
		ch = layout_chunks(&lt[ty], pl->blocks);
		for (c = 0; c < lt[ty].nr_chunks; c++)
			used[n++] = (struct layout_extent){ .block = ch[c].block, .offset = ch[c].offset,
							    .len = ch[c].nr_slots * lt[ty].slot_size };
		if (lt[ty].nr_chunks > SHMDEV_LAYOUT_INLINE_CHUNKS)
			used[n++] = (struct layout_extent){ .block = lt[ty].xchunk_block,
				.offset = lt[ty].xchunk_offset,
				.len = (uint64_t)lt[ty].xchunk_cap * sizeof(struct layout_chunk) };
		if (lt[ty].nr_buckets)
			used[n++] = (struct layout_extent){ .block = lt[ty].hash_block,
				.offset = lt[ty].hash_offset,
				.len = (uint64_t)lt[ty].nr_buckets * SHMDEV_LAYOUT_INDEX_ENTRY };
		if (lt[ty].nr_fields)
			used[n++] = (struct layout_extent){ .block = lt[ty].fields_block,
				.offset = lt[ty].fields_offset,
				.len = layout_fields_bytes(lt[ty].nr_fields) };
	}
	qsort(used, n, sizeof(*used), cmp_used);
	for (b = 0, i = 0; b < pl->t->nr_blocks; b++) {
		uint64_t pos = SHMDEV_LAYOUT_BLOCK_HDR;

		for (; i < n && used[i].block == b; i++) {
			if (!used[i].len)
				continue;
			if (used[i].offset >= pos + MIN_HOLE)
				gaps[nr_gaps++] = (struct layout_extent){ .block = b, .offset = pos,
									  .len = used[i].offset - pos };
			if (used[i].offset + used[i].len > pos)
				pos = used[i].offset + used[i].len;
		}
		bl[b].carved = pos;
		bl[b].free_bytes = h->block_size - pos;
	}
	qsort(gaps, nr_gaps, sizeof(*gaps), cmp_gap);
	if (nr_gaps > SHMDEV_LAYOUT_MAX_HOLES)
		nr_gaps = SHMDEV_LAYOUT_MAX_HOLES;
	qsort(gaps, nr_gaps, sizeof(*gaps), cmp_used);
	memset(pl->holes, 0, SHMDEV_LAYOUT_MAX_HOLES * sizeof(*pl->holes));
	memcpy(pl->holes, gaps, nr_gaps * sizeof(*gaps));
	free(used);
	free(gaps);
	return 1;
}

static int give_back(struct plan *pl)
{
	int err = give_back_derived(pl);

	if (!err)
		give_back_listed(pl);
	return err < 0 ? err : 0;
}

/* The free block space: all of it, and its largest extent (a hole or a block's tail). */
struct room {
	uint64_t total;
	uint64_t largest;
};

static struct room room_of(const struct layout_header *h, struct layout_table *t)
{
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	const struct layout_extent *holes = layout_holes(t, h->max_types, h->max_blocks);
	struct room r = { 0, 0 };
	uint32_t i;

	for (i = 0; i < t->nr_blocks; i++) {
		r.total += blocks[i].free_bytes + layout_hole_bytes(h, t, i);
		if (blocks[i].free_bytes > r.largest)
			r.largest = blocks[i].free_bytes;
	}
	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES; i++)
		if (holes[i].len > r.largest)
			r.largest = holes[i].len;
	return r;
}

/*
 * Append chunk @ch to @lt: in the entry while there is room (merged with the
 * last chunk when it continues it), else in the chunk array in a block,
 * which moves to an extent twice the size when full.  Entries are written
 * only past the committed ones, or into a new extent.
 */
static int add_chunk(struct plan *pl, struct layout_type *lt, const struct layout_chunk *ch)
{
	uint32_t n = lt->nr_chunks;
	struct layout_chunk *arr;

	if (n && n <= SHMDEV_LAYOUT_INLINE_CHUNKS) {
		struct layout_chunk *last = &lt->chunks[n - 1];

		if (last->block == ch->block &&
		    last->offset + last->nr_slots * lt->slot_size == ch->offset) {
			last->nr_slots += ch->nr_slots;
			return 0;
		}
	}
	if (n < SHMDEV_LAYOUT_INLINE_CHUNKS) {
		lt->chunks[n] = *ch;
		lt->nr_chunks++;
		return 0;
	}
	if (n == SHMDEV_LAYOUT_INLINE_CHUNKS || n == lt->xchunk_cap) {
		uint32_t cap = n == SHMDEV_LAYOUT_INLINE_CHUNKS ? 32 : 2 * lt->xchunk_cap;
		uint64_t bytes = (uint64_t)cap * sizeof(*ch), off = 0;
		int64_t blk = cap < n ? -1 : carve_any(pl, bytes, 64, &off);

		if (blk < 0)
			return shmdev_fail(pl->ctx, ENOSPC, "type %u \"%s\": no room for its chunk array of %" PRIu32 " chunks (%" PRIu64 " bytes) in any block; add BlockKey entries to the configuration",
					   lt->id, lt->name, cap, bytes);
		if (n == SHMDEV_LAYOUT_INLINE_CHUNKS) {
			lt->xchunk_sum = fnv1a(FNV_INIT, lt->chunks, sizeof(lt->chunks));
		} else {
			give_back_later(pl, lt->xchunk_block, lt->xchunk_offset,
					(uint64_t)lt->xchunk_cap * sizeof(*ch));
		}
		if (pl->blocks) {
			memcpy((char *)pl->blocks[blk] + off, layout_chunks(lt, pl->blocks),
			       (size_t)n * sizeof(*ch));
			SHMDEV_CRASH_POINT(pl->crash, "plan:xchunk-copied");
		}
		lt->xchunk_block = (uint32_t)blk;
		lt->xchunk_offset = off;
		lt->xchunk_cap = cap;
	}
	if (pl->blocks) {
		arr = (struct layout_chunk *)((char *)pl->blocks[lt->xchunk_block] + lt->xchunk_offset);
		arr[n] = *ch;
		SHMDEV_CRASH_POINT(pl->crash, "plan:xchunk-written");
	}
	lt->xchunk_sum = fnv1a(lt->xchunk_sum, ch, sizeof(*ch));
	lt->nr_chunks++;
	return 0;
}

/*
 * Add @n slots to @lt as chunks: holes first, then the blocks' free space
 * in order.  @rm: the free space before this type's change, for the
 * message.
 */
static int carve_slots(struct plan *pl, struct layout_type *lt, uint64_t n, const struct room *rm)
{
	const struct layout_header *h = pl->h;
	struct layout_table *t = pl->t;
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	uint64_t need = n, a = norm_align(lt->align), first = lt->max_count, ph = slot_phase(lt);
	struct layout_chunk ch;
	uint32_t i;
	int err;

	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES && need; i++) {
		uint32_t b = pl->holes[i].block;
		uint64_t off, take = take_hole(pl, &pl->holes[i], lt->slot_size, a, ph, need, &off);

		if (!take)
			continue;
		memset(&ch, 0, sizeof(ch));
		ch.block = b;
		ch.offset = off;
		ch.first_slot = first + (n - need);
		ch.nr_slots = take;
		need -= take;
		err = add_chunk(pl, lt, &ch);
		if (err)
			return err;
	}
	for (i = 0; i < t->nr_blocks && need; i++) {
		uint64_t off = place(blocks[i].carved, a, ph), fit, take;

		if (off >= h->block_size)
			continue;
		fit = (h->block_size - off) / lt->slot_size;
		if (!fit)
			continue;
		take = fit < need ? fit : need;
		memset(&ch, 0, sizeof(ch));
		ch.block = i;
		ch.offset = carve_at(pl, i, take * lt->slot_size, a, ph);
		ch.first_slot = first + (n - need);
		ch.nr_slots = take;
		need -= take;
		err = add_chunk(pl, lt, &ch);
		if (err)
			return err;
	}
	if (need)
		return shmdev_fail(pl->ctx, ENOSPC, "type %u \"%s\": no room for %" PRIu64 " slots of %" PRIu32 " bytes; %" PRIu64 " bytes are free in %" PRIu32 " blocks of %" PRIu64 ", the largest free extent %" PRIu64 " bytes (add BlockKey entries to the configuration: BlockSize changes only with a cold start)",
				   lt->id, lt->name, n, lt->slot_size, rm->total,
				   t->nr_blocks, h->block_size, rm->largest);
	lt->max_count += n;
	return 0;
}

/* Entries of the key index that @max_count fills at most half: a power of two, 16 or more. */
static uint64_t index_entries(uint64_t max_count)
{
	uint64_t nr = SHMDEV_LAYOUT_MIN_INDEX;

	while (nr < 2 * max_count)
		nr <<= 1;
	return nr;
}

/*
 * A key index for @lt at @max_count (pool_index.h): half full at most, or,
 * when no block has room for that, the half size if @max_count fills it
 * at most 4/5 (the bound layout_verify() holds every index to) and it is
 * bigger than @old (the entries of the index it replaces, 0 if none).
 * 1 if none fits.
 */
static int carve_index(struct plan *pl, struct layout_type *lt, uint64_t max_count, uint64_t old)
{
	uint64_t nr = index_entries(max_count), off = 0;
	int64_t blk = carve_any(pl, nr * SHMDEV_LAYOUT_INDEX_ENTRY, 64, &off);

	if (blk < 0 && nr / 2 >= SHMDEV_LAYOUT_MIN_INDEX && nr / 2 > old &&
	    5 * max_count <= 4 * (nr / 2)) {
		nr /= 2;
		blk = carve_any(pl, nr * SHMDEV_LAYOUT_INDEX_ENTRY, 64, &off);
	}
	if (blk < 0)
		return 1;
	lt->hash_block = (uint32_t)blk;
	lt->hash_offset = off;
	lt->nr_buckets = (uint32_t)nr;
	return 0;
}

static int no_room_for_index(struct shmdev_ctx *ctx, const struct shmdev_type *ut,
			     const struct room *rm, const struct layout_table *t,
			     const struct layout_header *h)
{
	uint64_t nr = index_entries(ut->max_count);

	return shmdev_fail(ctx, ENOSPC, "type %u \"%s\": no room for its key index of %" PRIu64 " entries (%" PRIu64 " bytes, for max_count %" PRIu64 ") in any block (it needs one free extent); %" PRIu64 " bytes are free in %" PRIu32 " blocks of %" PRIu64 ", the largest free extent %" PRIu64 " bytes (add BlockKey entries to the configuration: BlockSize changes only with a cold start)",
			   ut->id, ut->name, nr, nr * SHMDEV_LAYOUT_INDEX_ENTRY, ut->max_count,
			   rm->total, t->nr_blocks, h->block_size, rm->largest);
}

/* A field table for @ut's fields (layout.h), written if there are blocks. */
static int plan_fields(struct plan *pl, struct layout_type *lt, const struct shmdev_type *ut)
{
	uint64_t bytes = layout_fields_bytes(ut->nr_fields), off = 0;
	int64_t blk = carve_any(pl, bytes, 64, &off);

	if (blk < 0)
		return shmdev_fail(pl->ctx, ENOSPC, "type %u \"%s\": no room for its field table (%" PRIu64 " bytes) in any block; append a block key to BlockKeys in the configuration",
				   ut->id, ut->name, bytes);
	if (pl->blocks) {
		if (layout_fields_write((char *)pl->blocks[blk] + off, ut))
			return shmdev_fail(pl->ctx, ENOMEM, "type %u \"%s\": out of memory writing its field table",
					   ut->id, ut->name);
		SHMDEV_CRASH_POINT(pl->crash, "plan:fields-written");
	}
	lt->fields_block = (uint32_t)blk;
	lt->fields_offset = off;
	lt->nr_fields = ut->nr_fields;
	return 0;
}

/*
 * A migration of @lt to @ut (migrate.c copies the objects): a new entry
 * with new slots for max_count objects, a new index if KEYED, a new field
 * table, all carved beside the old ones, which go back at the end of the
 * change.  -ENOSPC, saying how many bytes the new slots need, if the free
 * space cannot hold them.
 */
static int plan_migrate(struct plan *pl, struct layout_type *lt, const struct shmdev_type *ut,
			void *const *rblocks, const struct room *rm)
{
	struct layout_type old = *lt;
	/* The entry's own chunks are read from the copy: lt is rebuilt below. */
	const struct layout_chunk *oc = old.nr_chunks <= SHMDEV_LAYOUT_INLINE_CHUNKS ?
					old.chunks : layout_chunks(lt, rblocks);
	uint32_t slot_size, obj_offset, c;
	const char *what;
	uint64_t need;
	int err;

	if (!oc)
		return shmdev_fail(pl->ctx, EINVAL, "type %u \"%s\": migration planned without its chunk array",
				   ut->id, ut->name);
	layout_slot_geom(ut->size, ut->align, &slot_size, &obj_offset);
	need = ut->max_count * slot_size + layout_fields_bytes(ut->nr_fields) +
	       (ut->flags & SHMDEV_TYPE_KEYED ?
		SHMDEV_LAYOUT_INDEX_ENTRY * index_entries(ut->max_count) : 0);
	memset(lt, 0, sizeof(*lt));
	lt->id = old.id;
	lt->used = 1;
	lt->flags = old.flags;
	memcpy(lt->name, old.name, sizeof(lt->name));
	lt->size = ut->size;
	lt->align = norm_align(ut->align);
	lt->version = ut->version;
	lt->slot_size = slot_size;
	lt->obj_offset = obj_offset;
	what = "its key index";
	err = 0;
	if ((ut->flags & SHMDEV_TYPE_KEYED) && carve_index(pl, lt, ut->max_count, 0))
		err = -ENOSPC;
	if (!err) {
		what = "its slots";
		err = carve_slots(pl, lt, ut->max_count, rm);
	}
	if (!err) {
		what = "its field table";
		err = plan_fields(pl, lt, ut);
	}
	if (err == -ENOSPC)
		return shmdev_fail(pl->ctx, ENOSPC, "type %u \"%s\": migrating it from %" PRIu32 " to %" PRIu32 " bytes needs %" PRIu64 " bytes of free block space beside the old slots (%" PRIu64 " slots of %" PRIu32 " bytes%s and its field table; the key index and the field table each in one extent), and %s did not fit: the largest free extent is %" PRIu64 " bytes, %" PRIu64 " bytes are free in all in %" PRIu32 " blocks of %" PRIu64 "; nothing was changed: append a block key to BlockKeys in the configuration and open again",
				   ut->id, ut->name, old.size, ut->size, need, ut->max_count, slot_size,
				   ut->flags & SHMDEV_TYPE_KEYED ? ", its key index" : "", what,
				   rm->largest, rm->total, pl->t->nr_blocks, pl->h->block_size);
	if (err)
		return err;
	/* The old slots, index, chunk array and field table go back. */
	for (c = 0; c < old.nr_chunks; c++)
		give_back_later(pl, oc[c].block, oc[c].offset, oc[c].nr_slots * old.slot_size);
	if (old.nr_chunks > SHMDEV_LAYOUT_INLINE_CHUNKS)
		give_back_later(pl, old.xchunk_block, old.xchunk_offset,
				(uint64_t)old.xchunk_cap * sizeof(struct layout_chunk));
	if (old.nr_buckets)
		give_back_later(pl, old.hash_block, old.hash_offset,
				(uint64_t)SHMDEV_LAYOUT_INDEX_ENTRY * old.nr_buckets);
	if (old.nr_fields)
		give_back_later(pl, old.fields_block, old.fields_offset,
				layout_fields_bytes(old.nr_fields));
	return 0;
}

/* layout.h */
bool layout_migratable(const struct layout_type *lt, const struct shmdev_type *ut)
{
	return ut->nr_fields && lt->nr_fields && !strcmp(lt->name, ut->name) &&
	       lt->flags == ut->flags && ut->max_count >= lt->max_count;
}

static int cmp_type_id(const void *a, const void *b)
{
	const struct shmdev_type *x = *(const struct shmdev_type *const *)a;
	const struct shmdev_type *y = *(const struct shmdev_type *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static int compare_type(struct shmdev_ctx *ctx, const struct layout_type *lt,
			const struct shmdev_type *ut)
{
	uint32_t align = norm_align(ut->align);

	if (strcmp(lt->name, ut->name))
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": name was \"%s\", now \"%s\"" REUSE_HINT,
				   ut->id, ut->name, lt->name, ut->name);
	if (lt->size != ut->size)
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": size was %" PRIu32 ", now %" PRIu32 REUSE_HINT,
				   ut->id, ut->name, lt->size, ut->size);
	if (lt->align != align)
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": align was %" PRIu32 ", now %" PRIu32 REUSE_HINT,
				   ut->id, ut->name, lt->align, align);
	if (lt->version != ut->version)
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": version was %" PRIu32 ", now %" PRIu32 REUSE_HINT,
				   ut->id, ut->name, lt->version, ut->version);
	if (lt->flags != ut->flags)
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": flags was 0x%" PRIx32 ", now 0x%" PRIx32 REUSE_HINT,
				   ut->id, ut->name, lt->flags, ut->flags);
	if (ut->max_count < lt->max_count)
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": max_count was %" PRIu64 ", now %" PRIu64 "; lowering the capacity is refused" REUSE_HINT,
				   ut->id, ut->name, lt->max_count, ut->max_count);
	return 0;
}

static int plan_blocks(struct shmdev_ctx *ctx, const struct layout_header *h,
		       struct layout_table *t, const struct layout_params *p,
		       bool *changed)
{
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	uint32_t i, j;

	if (strncmp(h->process, p->process, sizeof(h->process)))
		return shmdev_fail(ctx, EINVAL, "process was \"%s\", now \"%s\"" REUSE_HINT,
				   h->process, p->process);
	if (h->block_size != p->block_size)
		return shmdev_fail(ctx, EINVAL, "BlockSize was %" PRIu64 ", now %" PRIu64 REUSE_HINT,
				   h->block_size, p->block_size);
	if (h->max_types != p->max_types)
		return shmdev_fail(ctx, EINVAL, "MaxTypeInfoNum was %" PRIu32 ", now %" PRIu32 REUSE_HINT,
				   h->max_types, p->max_types);
	for (i = 0; i < t->nr_blocks && i < p->nr_blocks; i++)
		if (blocks[i].key != p->block_keys[i])
			return shmdev_fail(ctx, EINVAL, "block %" PRIu32 ": key was 0x%" PRIx64 ", now 0x%" PRIx64 REUSE_HINT,
					   i, blocks[i].key, p->block_keys[i]);
	if (p->nr_blocks < t->nr_blocks)
		return shmdev_fail(ctx, EINVAL, "block count was %" PRIu32 ", now %zu; blocks cannot be removed" REUSE_HINT,
				   t->nr_blocks, p->nr_blocks);
	if (p->nr_blocks > h->max_blocks)
		return shmdev_fail(ctx, EINVAL, "block count was %" PRIu32 ", now %zu, beyond the layout's MaxBlockNum %" PRIu32 REUSE_HINT,
				   t->nr_blocks, p->nr_blocks, h->max_blocks);
	if (p->base_addr && t->base_addr && p->base_addr != t->base_addr)
		return shmdev_fail(ctx, EINVAL, "FixedAddress was 0x%" PRIx64 ", now 0x%" PRIx64 REUSE_HINT,
				   t->base_addr, p->base_addr);
	if (p->base_addr && !t->base_addr) {
		t->base_addr = p->base_addr;
		*changed = true;
	}
	/* A change died writing into the blocks: where, only "above carved" is known. */
	for (j = 0; p->dirty && j < t->nr_blocks; j++) {
		if (blocks[j].high != h->block_size)
			*changed = true;
		blocks[j].high = h->block_size;
	}
	for (; i < p->nr_blocks; i++) {
		blocks[i].used = 1;
		blocks[i].key = p->block_keys[i];
		blocks[i].carved = SHMDEV_LAYOUT_BLOCK_HDR;
		blocks[i].high = SHMDEV_LAYOUT_BLOCK_HDR;
		blocks[i].free_bytes = h->block_size - SHMDEV_LAYOUT_BLOCK_HDR;
		blocks[i].map_addr = 0;
		t->nr_blocks = i + 1;
		*changed = true;
	}
	return 0;
}

int layout_plan(struct shmdev_ctx *ctx, const void *base,
		const struct layout_params *p, const struct shmdev_type *types,
		size_t nr_types, bool readonly, struct layout_table *scratch,
		uint8_t *changes)
{
	return layout_plan_at(ctx, base, NULL, p, types, nr_types, readonly, scratch, changes);
}

int layout_plan_at(struct shmdev_ctx *ctx, const void *cbase, void *const *blocks,
		   const struct layout_params *p, const struct shmdev_type *types,
		   size_t nr_types, bool readonly, struct layout_table *scratch,
		   uint8_t *changes)
{
	void *base = (void *)cbase;
	const struct layout_header *h = base;
	const struct shmdev_type **order;
	struct layout_type *ltypes;
	struct plan pl = { .ctx = ctx, .crash = p->crash, .h = h, .t = scratch, .blocks = blocks };
	bool changed = false;
	size_t i, nr_freed = 2 * nr_types + 1;
	int err;

	memcpy(scratch, layout_active(base), h->table_size);
	memset(changes, 0, h->max_types);
	pl.holes = layout_holes(scratch, h->max_types, h->max_blocks);
	ltypes = layout_types(scratch);
	err = plan_blocks(ctx, h, scratch, p, &changed);
	if (err)
		return err;
	if (readonly && changed)
		return shmdev_fail(ctx, EROFS, "the configuration adds blocks or a fixed address; a read-only open cannot change the layout");

	/* Carve in id order, so that the result does not depend on the array order. */
	order = calloc(nr_types ? nr_types : 1, sizeof(*order));
	/*
	 * At most an old index and an old chunk array per type go back; a
	 * migrated type gives back its chunks and field table too.
	 */
	for (i = 0; p->migrate && i < h->max_types; i++)
		if (p->migrate[i] && ltypes[i].used)
			nr_freed += ltypes[i].nr_chunks + 2;
	pl.freed = calloc(nr_freed, sizeof(*pl.freed));
	if (!order || !pl.freed) {
		free(order);
		free(pl.freed);
		return shmdev_fail(ctx, ENOMEM, "out of memory planning %zu types", nr_types);
	}
	for (i = 0; i < nr_types; i++)
		order[i] = &types[i];
	qsort(order, nr_types, sizeof(*order), cmp_type_id);

	for (i = 0; i < nr_types; i++) {
		const struct shmdev_type *ut = order[i];
		struct layout_type *lt = &ltypes[ut->id];
		struct room rm = room_of(h, scratch);

		if (!lt->used) {
			if (readonly) {
				err = shmdev_fail(ctx, EROFS, "type %u \"%s\" is not in the layout; a read-only open cannot add it",
						  ut->id, ut->name);
				goto out;
			}
			memset(lt, 0, sizeof(*lt));
			lt->id = ut->id;
			lt->used = 1;
			lt->flags = ut->flags;
			strncpy(lt->name, ut->name, sizeof(lt->name) - 1);
			lt->size = ut->size;
			lt->align = norm_align(ut->align);
			lt->version = ut->version;
			layout_slot_geom(lt->size, lt->align, &lt->slot_size, &lt->obj_offset);
			if ((ut->flags & SHMDEV_TYPE_KEYED) && carve_index(&pl, lt, ut->max_count, 0)) {
				err = no_room_for_index(ctx, ut, &rm, scratch, h);
				goto out;
			}
			err = carve_slots(&pl, lt, ut->max_count, &rm);
			if (!err && ut->nr_fields)
				err = plan_fields(&pl, lt, ut);
			if (err)
				goto out;
			scratch->nr_types++;
			changes[ut->id] = LAYOUT_ADDED;
			changed = true;
			continue;
		}
		if (p->migrate && p->migrate[ut->id]) {
			err = plan_migrate(&pl, lt, ut, blocks ? blocks : p->rblocks, &rm);
			if (err)
				goto out;
			changes[ut->id] = LAYOUT_MIGRATED;
			changed = true;
			continue;
		}
		/* Both described: migrate.c decides, with the field tables. */
		if (layout_migratable(lt, ut) && !p->migrate)
			continue;
		err = compare_type(ctx, lt, ut);
		if (err)
			goto out;
		/* A description for a type stored without one: kept from now on. */
		if (ut->nr_fields && !lt->nr_fields && !readonly) {
			err = plan_fields(&pl, lt, ut);
			if (err)
				goto out;
			changes[ut->id] = LAYOUT_DESCRIBED;
			changed = true;
		}
		if (ut->max_count == lt->max_count)
			continue;
		if (readonly) {
			err = shmdev_fail(ctx, EROFS, "type %u \"%s\": max_count was %" PRIu64 ", now %" PRIu64 "; a read-only open cannot raise it",
					  ut->id, ut->name, lt->max_count, ut->max_count);
			goto out;
		}
		/*
		 * When max_count passes half the index, a new one (rebuilt from
		 * the slots after the commit) replaces it, and the old goes
		 * back; the index grows by doubling at least, which bounds what
		 * old indexes can keep carved.  With no room for a new one, the
		 * old one serves while it stays 4/5 full at most; past that the
		 * raise is refused (an open-addressing index cannot overfill).
		 */
		if ((ut->flags & SHMDEV_TYPE_KEYED) && 2 * ut->max_count > lt->nr_buckets) {
			uint32_t old_block = lt->hash_block, old_nr = lt->nr_buckets;
			uint64_t old_offset = lt->hash_offset;

			if (!carve_index(&pl, lt, ut->max_count, old_nr)) {
				give_back_later(&pl, old_block, old_offset,
						(uint64_t)old_nr * SHMDEV_LAYOUT_INDEX_ENTRY);
			} else if (5 * ut->max_count > 4ULL * old_nr) {
				err = no_room_for_index(ctx, ut, &rm, scratch, h);
				goto out;
			}
		}
		err = carve_slots(&pl, lt, ut->max_count - lt->max_count, &rm);
		if (err)
			goto out;
		changes[ut->id] = LAYOUT_RAISED;
		changed = true;
	}
	err = give_back(&pl);
	if (!err)
		err = changed;
out:
	free(order);
	free(pl.freed);
	return err;
}
