// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Typed object pools on the base layout (layout.h): open (cold start on
 * clean blocks, resume with every block's identity checked, repair after a
 * crash), alloc/get/free, force_get/find through the shared hash index,
 * foreach, handle_of, stats and the consistency check.
 *
 * Crash consistency: every slot has a header {key, tag, next}; the tag
 * (state + generation) is written last with a release store and is the
 * commit point of alloc and free.  Free lists, counters and hash chains are
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
 * object, stale handle, corruption), which looks again and reports.
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
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "layout.h"
#include "region.h"

#define FIXED_SPACING (2ULL << 20)	/* blocks of a FixedAddress pool sit 2 MiB-aligned */

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
	unsigned int shift;
	uint32_t nr_chunks;
	uint32_t *buckets;
	uint32_t nr_buckets;
	unsigned int hash_shift;
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
};

/*
 * One crash point of the SHMDEV_TEST_KILL_AT hook (crash.h), named
 * "path:step reached".  Of alloc and free only the checked slow paths have
 * them; with the hook armed nr_fast is 0, so every alloc and free takes
 * those, and the fast paths pay nothing more for the hook than the type
 * bound they check anyway.
 */
#define CRASH_POINT(p, name) SHMDEV_CRASH_POINT(&(p)->crash, name)

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint32_t load_tag(const struct layout_slot *s)
{
	return __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
}

static void store_tag(struct layout_slot *s, uint32_t tag)
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

static bool state_live(uint32_t st)
{
	return st == LAYOUT_SLOT_LIVE || st == LAYOUT_SLOT_LIVE_KEYED;
}

/* A chunk of any type by binary search on the chunk ends (a type may have thousands). */
static struct layout_slot *slot_search(const struct ptype *pt, uint64_t slot)
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

static void *slot_obj(const struct ptype *pt, struct layout_slot *s)
{
	return (char *)s + pt->obj_offset;
}

static uint64_t watermark(const struct ptype *pt)
{
	uint64_t wm = __atomic_load_n(&pt->hot->watermark, __ATOMIC_ACQUIRE);

	return wm < pt->cap ? wm : pt->cap;
}

static uint32_t bucket_of(const struct ptype *pt, uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> pt->hash_shift);
}

static const struct ptype *ptype_get(const struct shmdev_pool *p, uint16_t type)
{
	if (type >= p->nr_types || !p->types[type].used)
		return NULL;
	return &p->types[type];
}

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
static int build_view(struct shmdev_pool *p)
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
			pt->buckets = (uint32_t *)((char *)p->baddr[lt[i].hash_block] +
						   lt[i].hash_offset);
			pt->nr_buckets = lt[i].nr_buckets;
			pt->hash_shift = 64 - (unsigned int)__builtin_ctz(pt->nr_buckets);
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
 * Rebuild a type's derived data (free list, counters, hash chains) from the
 * slot tags.  Slots at or above the watermark were never used.  Returns the
 * number of live objects.
 */
static uint64_t repair_type(struct shmdev_pool *p, struct ptype *pt)
{
	struct layout_hot *hot = pt->hot;
	uint64_t wm = watermark(pt), slot, live = 0, nfree = 0, retired = 0, seq;
	uint32_t free_head = 0;

	/* Even again if a crash left a change open, then one change. */
	hot->seq += hot->seq & 1;
	seq = change_begin(hot);
	if (pt->keyed)
		memset(pt->buckets, 0, (size_t)pt->nr_buckets * sizeof(*pt->buckets));
	CRASH_POINT(p, "rebuild:index-cleared");
	/* Downwards, so that the lists come out in ascending slot order. */
	for (slot = wm; slot-- > 0;) {
		struct layout_slot *s = slot_at(pt, slot);
		uint32_t tag = load_tag(s), st = layout_tag_state(tag);
		uint32_t gen = layout_tag_gen(tag);

		if (st == LAYOUT_SLOT_LIVE_KEYED && !pt->keyed)
			store_tag(s, tag = layout_tag(st = LAYOUT_SLOT_LIVE, gen));
		if (st == LAYOUT_SLOT_LIVE && gen) {
			live++;
		} else if (st == LAYOUT_SLOT_LIVE_KEYED && gen) {
			uint32_t b = bucket_of(pt, s->key);

			s->next = pt->buckets[b];
			pt->buckets[b] = (uint32_t)slot + 1;
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
	CRASH_POINT(p, "rebuild:counts");
	change_end(hot, seq);
	return live;
}

static void close_regions(struct shmdev_pool *p)
{
	size_t i;

	for (i = 0; i < p->nr_blocks; i++) {
		if (p->blocks[i])
			shmdev_region_close(p->blocks[i]);
		p->blocks[i] = NULL;
	}
	if (p->base_region)
		shmdev_region_close(p->base_region);
	p->base_region = NULL;
}

static void pool_free(struct shmdev_pool *p)
{
	uint32_t i;

	for (i = 0; p->types && i < p->nr_types; i++)
		free(p->types[i].chunks);
	free(p->blocks);
	free(p->baddr);
	free(p->types);
	free(p->ranges);
	shmdev_ctx_unref(p->ctx);
	free(p);
}

static int open_base(struct shmdev_pool *p, const struct shmdev_proc_conf *pc,
		     uint64_t size)
{
	int err;

	if (p->rdonly) {
		err = shmdev_region_open(p->ctx, pc->backend, pc->base_key, 0,
					 SHMDEV_REGION_RDONLY, 0, &p->base_region);
		if (err == -ENOENT)
			return shmdev_fail(p->ctx, ENOENT, "pool of process \"%s\" does not exist (BaseKey 0x%" PRIx64 ")",
					   pc->name, pc->base_key);
		return err;
	}
	/*
	 * Create if absent.  An existing region opens at its own size, even
	 * one smaller than this geometry (MaxTypeInfoNum or the key count
	 * grew): the layout check then names what changed, and its message is
	 * the only one the user sees (no "requested N bytes" from below).
	 */
	return shmdev_region_open_any_size(p->ctx, pc->backend, pc->base_key, size,
					   SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER |
					   (pc->huge_pages ? SHMDEV_REGION_HUGE : 0),
					   pc->mode, &p->base_region);
}

/*
 * Whether the pool that block header @bh names is alive: its base region
 * exists with a layout of the same identity, or exists and cannot be read
 * (then the block is not taken either).  A quiet probe: a base that is gone
 * is the expected answer for an orphan block, not an error to log.
 */
static bool owner_alive(struct shmdev_pool *p, const struct layout_block_hdr *bh)
{
	struct shmdev_region *r = NULL;
	int prio = p->ctx->log_priority;
	bool alive = false;
	int err;

	p->ctx->log_priority = -1;
	err = shmdev_region_open(p->ctx, p->backend, bh->base_key, 0, SHMDEV_REGION_RDONLY, 0, &r);
	if (err && err != -ENOENT)
		alive = true;
	if (!err) {
		const struct layout_header *h = shmdev_region_addr(r);

		alive = shmdev_region_size(r) >= SHMDEV_LAYOUT_HEADER_SIZE &&
			__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == SHMDEV_LAYOUT_MAGIC &&
			h->pool_id == bh->pool_id && h->start_time_ns == bh->start_time_ns;
		shmdev_region_close(r);
	}
	p->ctx->log_priority = prio;
	shmdev_clear_error(p->ctx);
	return alive;
}

#define BLOCK_REFUSED "; the pool is refused (put the right block back, e.g. with shmpoolctl restore, or destroy the pool for a cold start)"

/*
 * Open the blocks.  Those of the committed layout must be this pool's own:
 * one that this open had to create (it was gone: its objects are lost) or
 * that carries another identity is refused with -EUCLEAN, never used.  The
 * ones that join the layout now (all of them on a cold start, appended keys
 * on a resume) must start clean: a region that survived from before is
 * destroyed and created again, unless it is a block of another pool that
 * still exists (-EEXIST); then each gets its header, before the commit that
 * lists it.  @created[i]: block i was created by this open (the failure
 * path destroys it again).
 */
static int open_blocks(struct shmdev_pool *p, const struct shmdev_proc_conf *pc,
		       bool cold, bool *created, bool *crash)
{
	unsigned int fl = p->rdonly ? SHMDEV_REGION_RDONLY :
				      SHMDEV_REGION_CREATE | SHMDEV_REGION_OWNER |
				      (pc->huge_pages ? SHMDEV_REGION_HUGE : 0);
	uint32_t committed = cold ? 0 : layout_active(p->base)->nr_blocks;
	char why[SHMDEV_ERRMSG_MAX];
	size_t i;
	int err;

	for (i = 0; i < pc->nr_blocks; i++) {
		struct shmdev_region *r;
		const void *addr;

		err = shmdev_region_open(p->ctx, pc->backend, pc->block_keys[i],
					 p->rdonly ? 0 : pc->block_size, fl, pc->mode, &r);
		if (err == -ENOENT && p->rdonly && i < committed)
			return shmdev_fail(p->ctx, EUCLEAN, "block %zu (key 0x%" PRIx64 ") of pool \"%s\" is missing: no region has its key" BLOCK_REFUSED,
					   i, pc->block_keys[i], pc->name);
		if (err)
			return err;
		p->blocks[i] = r;
		CRASH_POINT(p, "open:block");
		created[i] = shmdev_region_start(r) == SHMDEV_START_CREATED;
		if (shmdev_region_start(r) == SHMDEV_START_RESUMED_CRASH)
			*crash = true;
		if (shmdev_region_size(r) < pc->block_size)
			return shmdev_fail(p->ctx, EINVAL, "block %zu (key 0x%" PRIx64 ") has %" PRIu64 " bytes, BlockSize is %" PRIu64,
					   i, pc->block_keys[i], shmdev_region_size(r), pc->block_size);
		addr = shmdev_region_addr(r);
		if (i < committed) {
			if (created[i])
				return shmdev_fail(p->ctx, EUCLEAN, "block %zu (key 0x%" PRIx64 ") of pool \"%s\" is missing: its region was gone (this open removed the empty one it made; the objects it held are lost)" BLOCK_REFUSED,
						   i, pc->block_keys[i], pc->name);
			if (layout_block_hdr_check(addr, p->hdr, pc->base_key, (uint32_t)i,
						   pc->block_keys[i], why, sizeof(why)))
				return shmdev_fail(p->ctx, EUCLEAN, "block %zu (key 0x%" PRIx64 ") of pool \"%s\" is foreign: %s" BLOCK_REFUSED,
						   i, pc->block_keys[i], pc->name, why);
		} else if (!created[i] && layout_block_hdr_valid(addr)) {
			const struct layout_block_hdr *bh = addr;

			if (bh->base_key != pc->base_key && owner_alive(p, bh))
				return shmdev_fail(p->ctx, EEXIST, "block %zu (key 0x%" PRIx64 ") of pool \"%s\" is block %" PRIu32 " of the pool with BaseKey 0x%" PRIx64 ", which exists; a pool never takes another's block (fix the BlockKey entries)",
						   i, pc->block_keys[i], pc->name, bh->index, bh->base_key);
		}
	}
	if (p->rdonly)
		return 0;
	/* Every check passed: only now is a surviving region thrown away. */
	for (i = committed; i < pc->nr_blocks; i++) {
		if (!created[i]) {
			/* Destroyed and created again: see README "Cold start". */
			shmdev_region_close(p->blocks[i]);
			p->blocks[i] = NULL;
			err = shmdev_region_destroy(p->ctx, p->backend, pc->block_keys[i]);
			CRASH_POINT(p, "open:block-destroyed");
			if (!err)
				err = shmdev_region_open(p->ctx, pc->backend, pc->block_keys[i], pc->block_size,
							 fl | SHMDEV_REGION_EXCL, pc->mode, &p->blocks[i]);
			if (err) {
				snprintf(why, sizeof(why), "%s", shmdev_errmsg(p->ctx));
				return shmdev_fail(p->ctx, -err, "block %zu (key 0x%" PRIx64 ") of pool \"%s\": the region from before could not be replaced by a clean one: %s",
						   i, pc->block_keys[i], pc->name, why);
			}
			created[i] = true;
			CRASH_POINT(p, "open:block-recreated");
		}
		layout_block_hdr_init(shmdev_region_addr(p->blocks[i]), p->hdr, pc->base_key,
				      (uint32_t)i, pc->block_keys[i]);
		CRASH_POINT(p, "open:block-hdr");
	}
	return 0;
}

/* The identity of a new pool: random, never 0. */
static uint64_t new_pool_id(const struct shmdev_pool *p)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = now_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid() << 32 ^ (uintptr_t)p;
	return id ? id : 1;
}

static int remap_to(struct shmdev_pool *p, struct shmdev_region *r, uint64_t addr,
		    const char *what, size_t index)
{
	char why[SHMDEV_ERRMSG_MAX];
	int err;

	if (!addr || (uintptr_t)shmdev_region_addr(r) == addr)
		return 0;
	err = shmdev_region_remap(r, (void *)(uintptr_t)addr);
	if (!err)
		return 0;
	/* The region's message goes inside ours: copy it out of the context first. */
	snprintf(why, sizeof(why), "%s", shmdev_errmsg(p->ctx));
	return shmdev_fail(p->ctx, -err, "%s %zu: cannot map at the fixed address 0x%" PRIx64 ": %s",
			   what, index, addr, why);
}

/*
 * Fixed addresses: map the base and blocks where the layout recorded them
 * (or, on a cold start with FixedAddress, where the config says), and fill
 * the addresses to record into @scratch.
 */
static int place_fixed(struct shmdev_pool *p, const struct shmdev_proc_conf *pc,
		       struct layout_table *scratch)
{
	struct layout_table *t = layout_active(p->base);
	struct layout_block *blocks;
	uint64_t addr = t->base_addr, next;
	size_t i;
	int err;

	if (!addr && pc->fixed_addr)
		addr = pc->fixed_addr;
	if (addr) {
		err = remap_to(p, p->base_region, addr, "base", 0);
		if (err)
			return err;
		p->base = shmdev_region_addr(p->base_region);
		p->hdr = (struct layout_header *)p->base;
		t = layout_active(p->base);
	} else {
		addr = (uintptr_t)p->base;
	}
	blocks = layout_blocks(t, p->hdr->max_types);
	next = (addr + shmdev_region_size(p->base_region) + FIXED_SPACING - 1) & ~(FIXED_SPACING - 1);
	for (i = 0; i < p->nr_blocks; i++) {
		uint64_t want = i < t->nr_blocks ? blocks[i].map_addr : 0;

		if (!want && pc->fixed_addr)
			want = next;
		err = remap_to(p, p->blocks[i], want, "block", i);
		if (err)
			return err;
		next = ((uintptr_t)shmdev_region_addr(p->blocks[i]) + shmdev_region_size(p->blocks[i]) +
			FIXED_SPACING - 1) & ~(FIXED_SPACING - 1);
	}
	if (scratch) {
		blocks = layout_blocks(scratch, p->hdr->max_types);
		scratch->base_addr = (uintptr_t)p->base;
		for (i = 0; i < p->nr_blocks && i < scratch->nr_blocks; i++)
			if (!blocks[i].map_addr)
				blocks[i].map_addr = (uintptr_t)shmdev_region_addr(p->blocks[i]);
	}
	return 0;
}

/*
 * Whether the change to @scratch writes chunk array entries into the blocks,
 * where the block's high mark may not cover them (the only bytes a change
 * writes into free space that are not zeroes).
 */
static bool writes_chunk_arrays(const struct shmdev_pool *p, struct layout_table *scratch)
{
	const struct layout_type *cur = layout_types(layout_active(p->base));
	const struct layout_type *next = layout_types(scratch);
	uint32_t i;

	for (i = 0; i < p->hdr->max_types; i++)
		if (next[i].used && next[i].nr_chunks > SHMDEV_LAYOUT_INLINE_CHUNKS &&
		    (!cur[i].used || next[i].nr_chunks != cur[i].nr_chunks))
			return true;
	return false;
}

static bool fixed_changes(const struct shmdev_pool *p, const struct layout_table *scratch)
{
	struct layout_table *t = layout_active(p->base);

	return memcmp(t, scratch, p->hdr->table_size) != 0;
}

SHMDEV_EXPORT int shmdev_pool_open(struct shmdev_ctx *ctx, const struct shmdev_conf *conf,
				   const struct shmdev_type *types, size_t nr_types,
				   unsigned int flags, struct shmdev_pool **out)
{
	const struct shmdev_proc_conf *pc;
	struct layout_params lp;
	struct layout_geom g;
	struct shmdev_pool *p;
	struct layout_table *scratch = NULL;
	uint8_t *changes = NULL;
	bool *created = NULL;
	bool base_created = false, cold = false, crash = false, fixed;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	uint32_t i;
	int err, changed;

	if (!ctx || !out)
		return -EINVAL;
	*out = NULL;
	shmdev_clear_error(ctx);
	if (!conf)
		return shmdev_fail(ctx, EINVAL, "pool open: no configuration");
	if (flags & ~(SHMDEV_POOL_RDONLY | SHMDEV_POOL_FIXED_ADDR))
		return shmdev_fail(ctx, EINVAL, "pool open: unknown flags 0x%x",
				   flags & ~(SHMDEV_POOL_RDONLY | SHMDEV_POOL_FIXED_ADDR));
	pc = shmdev_conf_self(conf);
	if (!pc)
		return shmdev_fail(ctx, EINVAL, "pool open: the configuration was loaded without a process name, so it has no own section");
	memset(&lp, 0, sizeof(lp));
	lp.process = pc->name;
	lp.block_size = pc->block_size;
	lp.nr_blocks = pc->nr_blocks;
	lp.block_keys = pc->block_keys;
	lp.max_types = pc->max_types ? pc->max_types : SHMDEV_LAYOUT_DEFAULT_TYPES;
	lp.max_blocks = pc->nr_blocks > SHMDEV_LAYOUT_MIN_BLOCKS ? (uint32_t)pc->nr_blocks :
								   SHMDEV_LAYOUT_MIN_BLOCKS;
	lp.base_addr = pc->fixed_addr;
	lp.start_time_ns = now_ns(CLOCK_REALTIME);
	if (pc->nr_blocks > (1U << 20))
		return shmdev_fail(ctx, EINVAL, "pool open: %zu blocks are too many", pc->nr_blocks);
	if (pc->fixed_addr % 4096)
		return shmdev_fail(ctx, EINVAL, "FixedAddress 0x%" PRIx64 " is not page-aligned", pc->fixed_addr);
	err = layout_check_params(ctx, &lp);
	if (err)
		return err;
	err = layout_check_types(ctx, types, nr_types, lp.max_types);
	if (err)
		return err;
	layout_geom(lp.max_types, lp.max_blocks, &g);

	p = calloc(1, sizeof(*p));
	if (!p)
		return shmdev_fail(ctx, ENOMEM, "pool open: out of memory");
	p->ctx = shmdev_ctx_ref(ctx);
	p->flags = flags;
	p->rdonly = flags & SHMDEV_POOL_RDONLY;
	if (!p->rdonly)
		shmdev_crash_arm(&p->crash, p);
	CRASH_POINT(p, "open:start");
	p->backend = pc->backend;
	p->nr_blocks = pc->nr_blocks;
	fixed = (flags & SHMDEV_POOL_FIXED_ADDR) || pc->fixed_addr;
	p->blocks = calloc(pc->nr_blocks ? pc->nr_blocks : 1, sizeof(*p->blocks));
	created = calloc(pc->nr_blocks ? pc->nr_blocks : 1, sizeof(*created));
	if (!p->blocks || !created) {
		err = shmdev_fail(ctx, ENOMEM, "pool open: out of memory");
		goto fail;
	}

	err = open_base(p, pc, g.base_size);
	if (err)
		goto fail;
	CRASH_POINT(p, "open:base");
	p->backend = shmdev_region_backend(p->base_region);
	base_created = shmdev_region_start(p->base_region) == SHMDEV_START_CREATED;
	crash = shmdev_region_start(p->base_region) == SHMDEV_START_RESUMED_CRASH;
	p->base = shmdev_region_addr(p->base_region);
	p->hdr = (struct layout_header *)p->base;
	if (__atomic_load_n(&p->hdr->magic, __ATOMIC_ACQUIRE) == 0) {
		if (p->rdonly) {
			err = shmdev_fail(ctx, ENODATA, "pool of process \"%s\": the base region 0x%" PRIx64 " was never initialised",
					  pc->name, pc->base_key);
			goto fail;
		}
		/*
		 * Created now, or a cold start that died before its magic.  A
		 * layout committed since says the magic was damaged instead:
		 * a cold start would silently drop every object, so refuse.
		 */
		if (!base_created &&
		    layout_was_committed(p->base, shmdev_region_size(p->base_region), &g)) {
			err = shmdev_fail(ctx, EUCLEAN, "pool of process \"%s\": the base region 0x%" PRIx64 " has lost its magic but holds a committed layout (corrupt); refusing to cold-start over it (destroy the pool for a cold start)",
					  pc->name, pc->base_key);
			goto fail;
		}
		if (shmdev_region_size(p->base_region) < g.base_size) {
			err = shmdev_fail(ctx, EINVAL, "base region 0x%" PRIx64 " has %" PRIu64 " bytes, the layout needs %" PRIu64,
					  pc->base_key, shmdev_region_size(p->base_region), g.base_size);
			goto fail;
		}
		cold = true;
	}
	if (cold) {
		/* Sealed (magic) once the blocks carry their headers. */
		lp.pool_id = new_pool_id(p);
		layout_init_unsealed(p->base, &lp, &p->crash);
		p->geom = g;
	} else {
		err = layout_verify(ctx, p->base, shmdev_region_size(p->base_region), &p->geom);
		if (err)
			goto fail;
		/* A layout change died writing into the blocks (layout.h, "changing"). */
		lp.dirty = !p->rdonly && p->hdr->changing;
	}

	scratch = malloc(p->hdr->table_size);
	changes = calloc(p->hdr->max_types, 1);
	p->types = calloc(p->hdr->max_types, sizeof(*p->types));
	p->nr_types = p->hdr->max_types;
	p->baddr = calloc(pc->nr_blocks ? pc->nr_blocks : 1, sizeof(*p->baddr));
	if (!scratch || !changes || !p->types || !p->baddr) {
		err = shmdev_fail(ctx, ENOMEM, "pool open: out of memory");
		goto fail;
	}
	/*
	 * Refuse a mismatch before the blocks are touched (their size may be
	 * what changed): this plan computes the new table and writes nothing.
	 */
	changed = layout_plan(ctx, p->base, &lp, types, nr_types, p->rdonly, scratch, changes);
	if (changed < 0) {
		err = changed;
		goto fail;
	}
	err = open_blocks(p, pc, cold, created, &crash);
	if (err)
		goto fail;
	if (fixed) {
		err = place_fixed(p, pc, NULL);
		if (err)
			goto fail;
	}
	for (i = 0; i < pc->nr_blocks; i++)
		p->baddr[i] = shmdev_region_addr(p->blocks[i]);
	if (!cold) {
		err = layout_verify_chunks(ctx, p->base, p->baddr);
		if (err)
			goto fail;
	}
	if (!p->rdonly) {
		/*
		 * The same plan again, now writing into the blocks what the new
		 * table refers to there (chunk arrays, zeroes over re-used space):
		 * only bytes the active table does not refer to, flagged first.
		 */
		if (writes_chunk_arrays(p, scratch)) {
			__atomic_store_n(&p->hdr->changing, 1, __ATOMIC_RELEASE);
			CRASH_POINT(p, "open:changing-set");
		}
		lp.crash = &p->crash;
		changed = layout_plan_at(ctx, p->base, p->baddr, &lp, types, nr_types, false,
					 scratch, changes);
		if (changed < 0) {
			err = changed;
			goto fail;
		}
	}
	if (fixed && !p->rdonly) {
		err = place_fixed(p, pc, scratch);
		if (err)
			goto fail;
		if (fixed_changes(p, scratch))
			changed = 1;
	}
	if (cold)
		layout_seal(p->base, &p->crash);

	if (p->rdonly) {
		p->start = SHMDEV_START_RESUMED;
		err = build_view(p);
		if (err)
			goto fail;
		goto done;
	}

	if (p->hdr->open_epoch != p->hdr->close_epoch)
		crash = true;
	/* From here on the pool is dirty until a clean close. */
	__atomic_store_n(&p->hdr->open_epoch, p->hdr->open_epoch + 1, __ATOMIC_RELEASE);
	CRASH_POINT(p, "open:epoch");
	if (changed) {
		struct layout_hot *hot = layout_hot_at(p->base, &p->geom);

		for (i = 0; i < p->hdr->max_types; i++)
			if (changes[i] == LAYOUT_ADDED)
				memset(&hot[i], 0, sizeof(hot[i]));
		CRASH_POINT(p, "open:hot-cleared");
		layout_commit(p->base, scratch, &p->crash);
		if (p->hdr->changing) {
			__atomic_store_n(&p->hdr->changing, 0, __ATOMIC_RELEASE);
			CRASH_POINT(p, "open:changing-cleared");
		}
	}
	err = build_view(p);
	if (err)
		goto fail;
	if (crash && !cold) {
		uint64_t r0 = now_ns(CLOCK_MONOTONIC);

		p->repaired_objects = 0;
		for (i = 0; i < p->hdr->max_types; i++)
			if (p->types[i].used)
				p->repaired_objects += repair_type(p, &p->types[i]);
		CRASH_POINT(p, "repair:done");
		p->repair_ns = now_ns(CLOCK_MONOTONIC) - r0;
		shmdev_info(ctx, "pool \"%s\": repaired after a crash: %" PRIu64 " live objects in %" PRIu64 " ns",
			    pc->name, p->repaired_objects, p->repair_ns);
	} else {
		/* New or bigger hash indexes start empty and are refilled from the slots. */
		for (i = 0; i < p->hdr->max_types; i++)
			if (changes[i] != LAYOUT_SAME && p->types[i].keyed)
				repair_type(p, &p->types[i]);
	}
	p->start = cold ? SHMDEV_START_CREATED :
		   crash ? SHMDEV_START_RESUMED_CRASH : SHMDEV_START_RESUMED_CLEAN;
	p->nr_fast = p->crash.armed ? 0 : p->nr_types;
	CRASH_POINT(p, "open:done");
done:
	free(scratch);
	free(changes);
	free(created);
	p->open_ns = now_ns(CLOCK_MONOTONIC) - t0;
	*out = p;
	return 0;

fail:
	/* Nothing half-created: regions made by this cold start go again. */
	{
		char msg[SHMDEV_ERRMSG_MAX];
		bool destroy = base_created && !p->rdonly;
		uint64_t base_key = pc->base_key;
		size_t b;

		/* The region calls below reset the message: keep ours. */
		memcpy(msg, ctx->errmsg, sizeof(msg));
		for (b = 0; b < p->nr_blocks; b++) {
			if (!p->blocks[b])
				continue;
			if (!crash && !p->rdonly)
				shmdev_region_detach(p->blocks[b]);
			shmdev_region_close(p->blocks[b]);
			/* Created by this open (a cold start, an appended or a missing block). */
			if (!p->rdonly && created[b])
				shmdev_region_destroy(ctx, p->backend, pc->block_keys[b]);
		}
		if (p->base_region) {
			if (!crash && !p->rdonly)
				shmdev_region_detach(p->base_region);
			shmdev_region_close(p->base_region);
			if (destroy)
				shmdev_region_destroy(ctx, p->backend, base_key);
		}
		memcpy(ctx->errmsg, msg, sizeof(msg));
	}
	free(scratch);
	free(changes);
	free(created);
	pool_free(p);
	return err;
}

SHMDEV_EXPORT int shmdev_pool_close(struct shmdev_pool *p)
{
	int err = 0, e;
	size_t i;

	if (!p)
		return 0;
	shmdev_clear_error(p->ctx);
	if (!p->rdonly) {
		/* Every operation is complete here: the derived data is consistent. */
		CRASH_POINT(p, "close:start");
		__atomic_store_n(&p->hdr->close_epoch, p->hdr->open_epoch, __ATOMIC_RELEASE);
		CRASH_POINT(p, "close:marked-clean");
		for (i = 0; i < p->nr_blocks; i++) {
			e = shmdev_region_detach(p->blocks[i]);
			CRASH_POINT(p, "close:block-detached");
			if (e && !err)
				err = e;
		}
		e = shmdev_region_detach(p->base_region);
		CRASH_POINT(p, "close:base-detached");
		if (e && !err)
			err = e;
	}
	close_regions(p);
	pool_free(p);
	return err;
}

SHMDEV_EXPORT void shmdev_pool_abandon(struct shmdev_pool *p)
{
	if (!p)
		return;
	close_regions(p);
	pool_free(p);
}

SHMDEV_EXPORT int shmdev_pool_destroy(struct shmdev_ctx *ctx, const struct shmdev_conf *conf)
{
	const struct shmdev_proc_conf *pc;
	size_t i, found = 0;
	int err = 0, e;

	if (!ctx)
		return -EINVAL;
	shmdev_clear_error(ctx);
	pc = shmdev_conf_self(conf);
	if (!pc)
		return shmdev_fail(ctx, EINVAL, "pool destroy: the configuration was loaded without a process name, so it has no own section");
	for (i = 0; i <= pc->nr_blocks; i++) {
		uint64_t key = i < pc->nr_blocks ? pc->block_keys[i] : pc->base_key;

		e = shmdev_region_destroy(ctx, pc->backend, key);
		if (e == 0)
			found++;
		else if (e != -ENOENT && !err)
			err = e;
	}
	if (err)
		return err;
	if (!found)
		return shmdev_fail(ctx, ENOENT, "pool of process \"%s\" does not exist (BaseKey 0x%" PRIx64 ")",
				   pc->name, pc->base_key);
	return 0;
}

SHMDEV_EXPORT enum shmdev_start shmdev_pool_start(const struct shmdev_pool *p)
{
	return p ? p->start : (enum shmdev_start)0;
}

SHMDEV_EXPORT void shmdev_pool_stats(const struct shmdev_pool *p, struct shmdev_pool_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!p)
		return;
	st->start = p->start;
	st->start_time_ns = p->hdr->start_time_ns;
	st->generation = shmdev_region_generation(p->base_region);
	st->repaired_objects = p->repaired_objects;
	st->repair_ns = p->repair_ns;
	st->open_ns = p->open_ns;
}

SHMDEV_EXPORT int shmdev_pool_type_stats(const struct shmdev_pool *p, uint16_t type,
					 struct shmdev_type_stats *st)
{
	const struct ptype *pt;
	const struct layout_type *lt;

	if (!p || !st)
		return -EINVAL;
	pt = ptype_get(p, type);
	if (!pt) {
		/* A normal probe (tools walk every id): message, but no log line. */
		snprintf(p->ctx->errmsg, sizeof(p->ctx->errmsg), "type %u is not in the layout", type);
		return -ENOENT;
	}
	lt = &layout_types(layout_active(p->base))[type];
	memset(st, 0, sizeof(*st));
	st->id = type;
	memcpy(st->name, lt->name, sizeof(st->name));
	st->name[sizeof(st->name) - 1] = '\0';
	st->size = lt->size;
	st->align = lt->align;
	st->version = lt->version;
	st->max_count = lt->max_count;
	st->live_count = __atomic_load_n(&pt->hot->live_count, __ATOMIC_RELAXED);
	st->retired_count = __atomic_load_n(&pt->hot->retired, __ATOMIC_RELAXED);
	return 0;
}

SHMDEV_EXPORT int shmdev_pool_block_stats(const struct shmdev_pool *p, uint32_t index,
					  struct shmdev_block_stats *st)
{
	struct layout_table *t;
	const struct layout_block *b;
	uint64_t holes;

	if (!p || !st)
		return -EINVAL;
	/* The active table: a read-only inspector sees the owner's last commit. */
	t = layout_active(p->base);
	if (index >= t->nr_blocks) {
		/* The end of a walk (tools probe until here): message, but no log line. */
		snprintf(p->ctx->errmsg, sizeof(p->ctx->errmsg), "block %" PRIu32 " is not in the layout (it has %" PRIu32 " blocks)",
			 index, t->nr_blocks);
		return -ENOENT;
	}
	b = &layout_blocks(t, p->hdr->max_types)[index];
	holes = layout_hole_bytes(p->hdr, t, index);
	memset(st, 0, sizeof(*st));
	st->index = index;
	st->key = b->key;
	st->size = p->hdr->block_size;
	/* Holes (extents given back below the carved mark) are free. */
	st->used_bytes = b->carved - holes;
	st->free_bytes = b->free_bytes + holes;
	return 0;
}

/*
 * Take a free slot (free list first, then the never-used ones) and commit it
 * live: the checked path, with the crash points and the corruption reports.
 * @zero: clear the object (before the commit, so that a crash never leaves
 * a live object half cleared).
 */
static int alloc_slot(struct shmdev_pool *p, struct ptype *pt, uint32_t state,
		      uint64_t key, bool zero, void **obj, shmdev_handle_t *handle)
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
	if (state == LAYOUT_SLOT_LIVE_KEYED)
		s->next = pt->buckets[bucket_of(pt, key)];
	CRASH_POINT(p, "alloc:prepared");
	tag = load_tag(s);
	gen = layout_tag_gen(tag) ? layout_tag_gen(tag) : 1;
	store_tag(s, layout_tag(state, gen));	/* commit */
	CRASH_POINT(p, "alloc:committed");
	if (state == LAYOUT_SLOT_LIVE_KEYED) {
		pt->buckets[bucket_of(pt, key)] = (uint32_t)slot + 1;
		CRASH_POINT(p, "alloc:indexed");
	}
	hot->live_count++;
	change_end(hot, seq);
	*obj = slot_obj(pt, s);
	if (handle)
		*handle = layout_handle(pt->id, (uint32_t)slot, gen);
	return 0;
}

static int writable(struct shmdev_pool *p, const char *what)
{
	if (p->rdonly)
		return shmdev_fail(p->ctx, EROFS, "%s: the pool is open read-only", what);
	return 0;
}

/*
 * The fast path of alloc: the same stores in the same order as alloc_slot()
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
alloc_fast(struct shmdev_pool *p, uint16_t type, bool zero, void **obj,
	   shmdev_handle_t *handle)
{
	struct ptype *pt;
	struct layout_hot *hot;
	struct layout_slot *s;
	uint64_t wm, seq;
	uint32_t head, tag, slot;

	if (unlikely(type >= p->nr_fast))
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
	shmdev_clear_error(p->ctx);
	*obj = slot_obj(pt, s);
	if (handle)
		*handle = pt->hid | (uint64_t)slot << 24 | layout_tag_gen(tag);
	return 0;
}

static __attribute__((noinline)) int alloc_checked(struct shmdev_pool *p, uint16_t type,
						   bool zero, void **obj,
						   shmdev_handle_t *handle)
{
	struct ptype *pt;
	int err;

	shmdev_clear_error(p->ctx);
	err = writable(p, "alloc");
	if (err)
		return err;
	pt = (struct ptype *)ptype_get(p, type);
	if (!pt)
		return shmdev_fail(p->ctx, ENOENT, "alloc: type %u is not in the layout", type);
	return alloc_slot(p, pt, LAYOUT_SLOT_LIVE, 0, zero, obj, handle);
}

SHMDEV_EXPORT int shmdev_alloc(struct shmdev_pool *p, uint16_t type, void **obj,
			       shmdev_handle_t *handle)
{
	int ret;

	if (unlikely(!p || !obj))
		return -EINVAL;
	ret = alloc_fast(p, type, true, obj, handle);
	return likely(ret <= 0) ? ret : alloc_checked(p, type, true, obj, handle);
}

SHMDEV_EXPORT int shmdev_alloc_raw(struct shmdev_pool *p, uint16_t type, void **obj,
				   shmdev_handle_t *handle)
{
	int ret;

	if (unlikely(!p || !obj))
		return -EINVAL;
	ret = alloc_fast(p, type, false, obj, handle);
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

/* Unlink @slot from its hash chain; false if it is not there. */
static bool hash_unlink(struct shmdev_pool *p, const struct ptype *pt,
			struct layout_slot *s, uint64_t slot)
{
	uint32_t *link = &pt->buckets[bucket_of(pt, s->key)];
	uint64_t steps = 0, wm = watermark(pt);

	while (*link && steps++ <= wm) {
		uint64_t cur = *link - 1;
		struct layout_slot *c = cur < wm ? slot_at(pt, cur) : NULL;

		if (!c)
			return false;
		if (cur == slot) {
			CRASH_POINT(p, "free:unlink");
			*link = c->next;
			CRASH_POINT(p, "free:unlinked");
			return true;
		}
		link = &c->next;
	}
	return false;
}

static __attribute__((noinline)) int free_checked(struct shmdev_pool *p, shmdev_handle_t h)
{
	const struct ptype *pt = NULL;
	struct layout_hot *hot;
	struct layout_slot *s;
	uint64_t slot = layout_handle_slot(h), seq;
	uint32_t tag, gen;
	int err;

	shmdev_clear_error(p->ctx);
	err = writable(p, "free");
	if (err)
		return err;
	s = live_slot(p, h, &pt);
	if (!s)
		return shmdev_fail(p->ctx, ESTALE, "free: handle 0x%016" PRIx64 " (type %u, slot %" PRIu64 ", generation %u) does not name a live object",
				   h, layout_handle_type(h), slot, layout_handle_gen(h));
	hot = pt->hot;
	tag = load_tag(s);
	seq = change_begin(hot);
	if (layout_tag_state(tag) == LAYOUT_SLOT_LIVE_KEYED && !hash_unlink(p, pt, s, slot)) {
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

/*
 * The fast path of free, for a plain live object: the stores of
 * free_checked() in the same order, without the crash points (see
 * alloc_fast() for the ordering).  Keyed objects, stale handles and the
 * hook take the checked path.
 */
SHMDEV_EXPORT int shmdev_free(struct shmdev_pool *p, shmdev_handle_t h)
{
	uint32_t type = layout_handle_type(h), slot = layout_handle_slot(h), tag;
	uint32_t gen = layout_handle_gen(h);
	struct layout_hot *hot;
	struct layout_slot *s;
	struct ptype *pt;
	uint64_t seq;

	if (unlikely(!p))
		return -EINVAL;
	if (unlikely(type >= p->nr_fast))
		return free_checked(p, h);
	pt = &p->types[type];
	hot = pt->hot;
	if (unlikely(slot >= __atomic_load_n(&hot->watermark, __ATOMIC_ACQUIRE)))
		return free_checked(p, h);
	SLOT_QUICK(pt, slot, s, return free_checked(p, h));
	tag = load_tag(s);
	/* Generation 0 (never valid) and the last one (retires) go checked. */
	if (unlikely(tag != layout_tag(LAYOUT_SLOT_LIVE, gen) ||
		     gen - 1 >= SHMDEV_LAYOUT_GEN_MAX - 1))
		return free_checked(p, h);
	/* FREE with the next generation: LIVE gen -> FREE gen + 1 */
	tag += layout_tag(LAYOUT_SLOT_FREE, 1) - LAYOUT_SLOT_LIVE;
	seq = change_begin(hot);
	s->next = hot->free_head;
	store_tag(s, tag);	/* commit */
	hot->free_head = slot + 1;
	hot->free_count++;
	hot->live_count--;
	change_end(hot, seq);
	shmdev_clear_error(p->ctx);
	return 0;
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
	size_t lo = 0, hi;
	const struct prange *r = NULL;
	const struct ptype *pt;
	struct layout_slot *s;
	uint64_t off, slot;
	uint32_t tag;

	if (!p || !obj)
		return SHMDEV_HANDLE_NONE;
	hi = p->nr_ranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a < p->ranges[mid].start) {
			hi = mid;
		} else if (a >= p->ranges[mid].end) {
			lo = mid + 1;
		} else {
			r = &p->ranges[mid];
			break;
		}
	}
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

static struct layout_slot *hash_find(const struct ptype *pt, uint64_t key, uint64_t *slotp)
{
	uint64_t wm = watermark(pt), steps = 0;
	uint32_t i = pt->buckets[bucket_of(pt, key)];

	while (i && steps++ <= wm) {
		uint64_t slot = i - 1;
		struct layout_slot *s = slot < wm ? slot_at(pt, slot) : NULL;

		if (!s)
			return NULL;
		if (layout_tag_state(load_tag(s)) == LAYOUT_SLOT_LIVE_KEYED && s->key == key) {
			*slotp = slot;
			return s;
		}
		i = s->next;
	}
	return NULL;
}

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

SHMDEV_EXPORT int shmdev_force_get(struct shmdev_pool *p, uint16_t type, uint64_t key,
				   void **obj, shmdev_handle_t *handle, bool *created)
{
	const struct ptype *pt = NULL;
	struct layout_slot *s;
	uint64_t slot;
	int err;

	if (!p || !obj)
		return -EINVAL;
	shmdev_clear_error(p->ctx);
	err = writable(p, "force_get");
	if (err)
		return err;
	err = keyed_type(p, type, "force_get", &pt);
	if (err)
		return err;
	s = hash_find(pt, key, &slot);
	if (s) {
		*obj = slot_obj(pt, s);
		if (handle)
			*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(load_tag(s)));
		if (created)
			*created = false;
		return 0;
	}
	err = alloc_slot(p, (struct ptype *)pt, LAYOUT_SLOT_LIVE_KEYED, key, true, obj, handle);
	if (!err && created)
		*created = true;
	return err;
}

SHMDEV_EXPORT void *shmdev_find(const struct shmdev_pool *p, uint16_t type, uint64_t key,
				shmdev_handle_t *handle)
{
	const struct ptype *pt = p ? ptype_get(p, type) : NULL;
	struct layout_slot *s;
	uint64_t slot;

	if (!pt || !pt->keyed)
		return NULL;
	s = hash_find(pt, key, &slot);
	if (!s)
		return NULL;
	if (handle)
		*handle = layout_handle(pt->id, (uint32_t)slot, layout_tag_gen(load_tag(s)));
	return slot_obj(pt, s);
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

/* ---- consistency check ------------------------------------------------ */

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

/* Chunks, chunk arrays and hash arrays must lie below each block's carved mark and never overlap. */
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
		n += lt[ty].used ? lt[ty].nr_chunks + 2 : 0;
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
						   lt[ty].hash_offset + 4ULL * lt[ty].nr_buckets,
						   lt[ty].hash_block, (uint16_t)ty, "hash index" };
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

static int check_type(struct shmdev_pool *p, const struct ptype *pt)
{
	struct layout_hot *hot = pt->hot;
	uint64_t wm = hot->watermark, slot, live = 0, nfree = 0, keyed = 0, retired = 0, steps;
	uint8_t *seen = NULL;
	uint32_t i, b;
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
		else if (st != LAYOUT_SLOT_FREE)
			BAD("check: type %u \"%s\": slot %" PRIu64 " has bad state %" PRIu32,
			    pt->id, pt->name, slot, st);
		else
			nfree++;
	}
	if (live != hot->live_count)
		BAD("check: type %u \"%s\": %" PRIu64 " live slots, live count says %" PRIu64,
		    pt->id, pt->name, live, hot->live_count);
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
	/* Every keyed live slot is in its own bucket's chain once; keys are unique. */
	steps = 0;
	for (b = 0; b < pt->nr_buckets; b++) {
		for (i = pt->buckets[b]; i; i = slot_at(pt, i - 1)->next) {
			struct layout_slot *s;
			uint64_t n;
			uint32_t j;

			slot = i - 1;
			if (slot >= wm)
				BAD("check: type %u \"%s\": bucket %" PRIu32 " reaches slot %" PRIu64 ", beyond the watermark",
				    pt->id, pt->name, b, slot);
			s = slot_at(pt, slot);
			if (seen[slot])
				BAD("check: type %u \"%s\": slot %" PRIu64 " is reached twice (free list or hash chains)",
				    pt->id, pt->name, slot);
			seen[slot] = 1;
			if (layout_tag_state(load_tag(s)) != LAYOUT_SLOT_LIVE_KEYED)
				BAD("check: type %u \"%s\": bucket %" PRIu32 " holds slot %" PRIu64 ", which is not a keyed live object",
				    pt->id, pt->name, b, slot);
			if (bucket_of(pt, s->key) != b)
				BAD("check: type %u \"%s\": key %" PRIu64 " of slot %" PRIu64 " is in bucket %" PRIu32 ", not its own",
				    pt->id, pt->name, s->key, slot, b);
			for (j = s->next, n = 0; j && n <= wm; j = slot_at(pt, j - 1)->next, n++) {
				if (j - 1 >= wm)
					break;
				if (slot_at(pt, j - 1)->key == s->key)
					BAD("check: type %u \"%s\": key %" PRIu64 " is held by slots %" PRIu64 " and %" PRIu32,
					    pt->id, pt->name, s->key, slot, j - 1);
			}
			steps++;
		}
	}
	if (steps != keyed)
		BAD("check: type %u \"%s\": hash index holds %" PRIu64 " objects, %" PRIu64 " keyed objects are live",
		    pt->id, pt->name, steps, keyed);
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
		shmdev_log(p->ctx, LOG_ERR, __FILE__, __LINE__, __func__, "%s", p->ctx->errmsg);
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
	/* The owner: nothing changes the pool under its own check. */
	err = check_layout(p);
	for (i = 0; i < p->nr_types && !err; i++)
		if (p->types[i].used)
			err = check_type(p, &p->types[i]);
	return err;
}
