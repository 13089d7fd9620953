// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What an open derives from the shared memory: the process-local view of
 * the layout (struct ptype per type, the chunk ranges for handle_of) and,
 * after a crash, a type's derived data rebuilt from its slot tags.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

static int cmp_range(const void *a, const void *b)
{
	const struct prange *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/*
 * The chunk table of a type (see PTYPE_CTAB).  layout_verify() made the
 * chunks contiguous from slot 0 and their sum max_count.
 */
static void build_ctab(struct ptype *pt)
{
	uint64_t min = UINT64_MAX, nb, b;
	uint32_t c;

	for (c = 0; c + 1 < pt->nr_chunks; c++)
		if (pt->chunks[c].nr < min)
			min = pt->chunks[c].nr;
	pt->shift = 63 - (unsigned int)__builtin_clzll(min);
	nb = pt->cap ? ((pt->cap - 1) >> pt->shift) + 1 : 0;
	/* ctab holds chunk indexes in a byte. */
	pt->ctab_ok = nb <= PTYPE_CTAB && pt->nr_chunks <= 256;
	if (!pt->ctab_ok)
		return;
	for (b = 0, c = 0; b < nb; b++) {
		while (c + 1 < pt->nr_chunks && (b << pt->shift) >= pt->end[c])
			c++;
		pt->ctab[b] = (uint8_t)c;
	}
}

/* (Re)build the process-local view from the active table. */
int pool_build_view(struct shmdev_pool *p)
{
	struct layout_table *t = layout_active(p->base);
	struct layout_type *lt = layout_types(t);
	struct layout_hot *hot = layout_hot_at(p->base, &p->geom);
	struct prange *ranges;
	size_t n = 0;
	uint32_t i, c;

	for (i = 0; i < p->geom.max_types; i++)
		n += lt[i].used ? lt[i].nr_chunks : 0;
	ranges = calloc(n ? n : 1, sizeof(*ranges));
	if (!ranges)
		return shmdev_fail(p->ctx, ENOMEM, "out of memory for %zu chunk ranges", n);
	n = 0;
	for (i = 0; i < p->geom.max_types; i++) {
		struct ptype *pt = &p->types[i];
		const struct layout_chunk *lc;

		free(pt->chunks);
		memset(pt, 0, sizeof(*pt));
		pt->hot = &hot[i];	/* cap 0 keeps the fast paths away from it */
		if (!lt[i].used)
			continue;
		/* Verified by layout_verify() and, for arrays in blocks, layout_verify_chunks(). */
		lc = layout_chunks(&lt[i], p->baddr);
		pt->chunks = malloc((size_t)lt[i].nr_chunks *
				    (sizeof(*pt->chunks) + sizeof(*pt->end) + sizeof(*pt->bias)));
		if (!pt->chunks) {
			free(ranges);
			return shmdev_fail(p->ctx, ENOMEM, "out of memory for the %" PRIu32 " chunks of type %" PRIu32,
					   lt[i].nr_chunks, i);
		}
		pt->end = (uint64_t *)(pt->chunks + lt[i].nr_chunks);
		pt->bias = (uintptr_t *)(pt->end + lt[i].nr_chunks);
		pt->used = true;
		pt->id = (uint16_t)i;
		pt->keyed = lt[i].flags & SHMDEV_TYPE_KEYED;
		/* Locks (SHMDEV_POOL_THREADS) send find through pool_lock.c. */
		pt->direct = pt->keyed && !(p->flags & SHMDEV_POOL_THREADS);
		pt->size = lt[i].size;
		pt->slot_size = lt[i].slot_size;
		pt->obj_offset = lt[i].obj_offset;
		pt->cap = lt[i].max_count;
		pt->hot = &hot[i];
		pt->name = lt[i].name;
		pt->nr_chunks = lt[i].nr_chunks;
		for (c = 0; c < lt[i].nr_chunks; c++) {
			const struct layout_chunk *ch = &lc[c];
			char *b = p->baddr[ch->block];

			pt->chunks[c].first = ch->first_slot;
			pt->chunks[c].nr = ch->nr_slots;
			pt->chunks[c].base = b + ch->offset;
			ranges[n].start = (uintptr_t)pt->chunks[c].base;
			ranges[n].end = ranges[n].start + ch->nr_slots * pt->slot_size;
			ranges[n].type = (uint16_t)i;
			ranges[n].chunk = c;
			n++;
			pt->bias[c] = (uintptr_t)pt->chunks[c].base - ch->first_slot * pt->slot_size;
			pt->end[c] = ch->first_slot + ch->nr_slots;
		}
		build_ctab(pt);
		pt->end0 = pt->end[0];
		pt->base0 = pt->bias[0];
		pt->hid = layout_handle((uint16_t)i, 0, 0);
		if (pt->keyed) {
			/* layout_verify(): a power of two from 16 to 2^30, in its block. */
			pt->index = (uint32_t *)((char *)p->baddr[lt[i].hash_block] +
						 lt[i].hash_offset);
			pt->index_mask = lt[i].nr_buckets - 1;
			pt->index_shift = 64 - (unsigned int)__builtin_ctz(lt[i].nr_buckets);
		}
	}
	qsort(ranges, n, sizeof(*ranges), cmp_range);
	free(p->ranges);
	p->ranges = ranges;
	p->nr_ranges = n;
	p->view_seq = t->seq;
	return 0;
}

/*
 * Rebuild a type's derived data (free list, counters, key index) from the
 * slot tags, in one pass (the index as pool_index_rebuild() does it; the
 * slots a thread cache held, CACHED, become FREE).  Slots at or above the
 * watermark were never used.  Returns the number of live objects.
 */
uint64_t pool_repair_type(struct shmdev_pool *p, struct ptype *pt)
{
	struct layout_hot *hot = pt->hot;
	uint64_t wm = watermark(pt), slot, live = 0, nfree = 0, retired = 0, seq;
	uint32_t free_head = 0;

	/* Even again if a crash left a change open, then one change. */
	hot->seq += hot->seq & 1;
	seq = change_begin(hot);
	if (pt->keyed)
		memset(pt->index, 0, ((size_t)pt->index_mask + 1) * sizeof(*pt->index));
	CRASH_POINT(p, "rebuild:index-cleared");
	/* Downwards, so that the lists come out in ascending slot order. */
	for (slot = wm; slot-- > 0;) {
		struct layout_slot *s = slot_at(pt, slot);
		uint32_t tag = load_tag(s), st = layout_tag_state(tag);
		uint32_t gen = layout_tag_gen(tag);

		if (st == LAYOUT_SLOT_LIVE_KEYED && !pt->keyed)
			store_tag(s, tag = layout_tag(st = LAYOUT_SLOT_LIVE, gen));
		/*
		 * In a thread cache of the crashed owner (pool_cache.c): free,
		 * and its generation was never handed out, so it stays.
		 */
		if (st == LAYOUT_SLOT_CACHED && gen)
			store_tag(s, tag = layout_tag(st = LAYOUT_SLOT_FREE, gen));
		if (st == LAYOUT_SLOT_LIVE && gen) {
			live++;
		} else if (st == LAYOUT_SLOT_LIVE_KEYED && gen) {
			index_add(pt, s->key, slot);
			live++;
		} else if ((st == LAYOUT_SLOT_RETIRED && gen) ||
			   (st != LAYOUT_SLOT_FREE && gen == SHMDEV_LAYOUT_GEN_MAX)) {
			/* Retired stays retired: its generations are used up. */
			if (st != LAYOUT_SLOT_RETIRED)
				store_tag(s, layout_tag(LAYOUT_SLOT_RETIRED, gen));
			retired++;
		} else {
			/*
			 * A bad state may hide a handed-out generation: the
			 * next one, so that no old handle meets the new object.
			 */
			if (st != LAYOUT_SLOT_FREE || !gen)
				store_tag(s, layout_tag(LAYOUT_SLOT_FREE,
							st != LAYOUT_SLOT_FREE ? gen + 1 : 1));
			s->next = free_head;
			free_head = (uint32_t)slot + 1;
			nfree++;
		}
		CRASH_POINT(p, "rebuild:slot");
	}
	hot->watermark = wm;
	hot->free_head = free_head;
	CRASH_POINT(p, "rebuild:free-list");
	hot->free_count = nfree;
	hot->live_count = live;
	hot->retired = retired;
	hot->caches = 0;	/* the caches died with their owner */
	CRASH_POINT(p, "rebuild:counts");
	change_end(hot, seq);
	return live;
}
