// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The base layout: initialisation, verification, comparison with the
 * configuration and the registered types, carving of slot chunks and hash
 * buckets from the blocks, and the two-copy commit.  See layout.h for the
 * byte layout.  Works on plain memory only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "layout.h"

#define REUSE_HINT "; the layout cannot be reused (destroy the pool for a cold start)"

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

void layout_geom(uint32_t max_types, uint32_t max_blocks, struct layout_geom *g)
{
	uint64_t table = sizeof(struct layout_table) +
			 (uint64_t)max_types * sizeof(struct layout_type) +
			 (uint64_t)max_blocks * sizeof(struct layout_block) +
			 SHMDEV_LAYOUT_MAX_HOLES * sizeof(struct layout_extent);

	g->max_types = max_types;
	g->max_blocks = max_blocks;
	g->table_size = (uint32_t)round_up(table, 64);
	g->hot_offset = round_up(SHMDEV_LAYOUT_HEADER_SIZE + 2ULL * g->table_size, 64);
	g->base_size = g->hot_offset + (uint64_t)max_types * sizeof(struct layout_hot);
}

static uint32_t norm_align(uint32_t align)
{
	return align < 8 ? 8 : align;
}

void layout_slot_geom(uint32_t size, uint32_t align, uint32_t *slot_size,
		      uint32_t *obj_offset)
{
	uint32_t a = norm_align(align);

	*obj_offset = (uint32_t)round_up(SHMDEV_LAYOUT_SLOT_HDR, a);
	*slot_size = (uint32_t)round_up((uint64_t)*obj_offset + size, a);
}

int layout_check_types(struct shmdev_ctx *ctx, const struct shmdev_type *types,
		       size_t nr_types, uint32_t max_types)
{
	size_t i, j;

	if (nr_types && !types)
		return shmdev_fail(ctx, EINVAL, "%zu types but no type array", nr_types);
	for (i = 0; i < nr_types; i++) {
		const struct shmdev_type *t = &types[i];
		const char *name = t->name ? t->name : "(null)";
		size_t len = t->name ? strlen(t->name) : 0;

		if (t->id >= max_types)
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": id is beyond MaxTypeInfoNum %" PRIu32,
					   t->id, name, max_types);
		if (len == 0 || len >= SHMDEV_LAYOUT_NAME_MAX)
			return shmdev_fail(ctx, EINVAL, "type %u: name \"%s\" must have 1 to %u bytes",
					   t->id, name, SHMDEV_LAYOUT_NAME_MAX - 1);
		if (t->size == 0 || t->size > (1U << 30))
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": size %" PRIu32 " is not in 1..%u",
					   t->id, name, t->size, 1U << 30);
		if (t->align && (!is_pow2(t->align) || t->align > SHMDEV_LAYOUT_MAX_ALIGN))
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": align %" PRIu32 " is not a power of two up to %u",
					   t->id, name, t->align, SHMDEV_LAYOUT_MAX_ALIGN);
		if (t->max_count == 0 || t->max_count > SHMDEV_LAYOUT_MAX_SLOTS)
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": max_count %" PRIu64 " is not in 1..%llu",
					   t->id, name, t->max_count, SHMDEV_LAYOUT_MAX_SLOTS);
		if (t->flags & ~SHMDEV_TYPE_KEYED)
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": unknown flags 0x%" PRIx32,
					   t->id, name, t->flags & ~SHMDEV_TYPE_KEYED);
		for (j = 0; j < i; j++)
			if (types[j].id == t->id)
				return shmdev_fail(ctx, EINVAL, "type id %u is registered twice (\"%s\" and \"%s\")",
						   t->id, types[j].name, name);
	}
	return 0;
}

int layout_check_params(struct shmdev_ctx *ctx, const struct layout_params *p)
{
	size_t i, j;

	if (!p->process || !*p->process || strlen(p->process) >= SHMDEV_LAYOUT_NAME_MAX)
		return shmdev_fail(ctx, EINVAL, "process name \"%s\" must have 1 to %u bytes",
				   p->process ? p->process : "(null)", SHMDEV_LAYOUT_NAME_MAX - 1);
	if (p->max_types == 0 || p->max_types > 65536)
		return shmdev_fail(ctx, EINVAL, "MaxTypeInfoNum %" PRIu32 " is not in 1..65536",
				   p->max_types);
	if (p->block_size < 4096 || p->block_size > (1ULL << 46))
		return shmdev_fail(ctx, EINVAL, "BlockSize %" PRIu64 " is not in 4096..2^46", p->block_size);
	if (p->nr_blocks > p->max_blocks)
		return shmdev_fail(ctx, EINVAL, "%zu block keys exceed MaxBlockNum %" PRIu32,
				   p->nr_blocks, p->max_blocks);
	for (i = 0; i < p->nr_blocks; i++) {
		if (!p->block_keys[i])
			return shmdev_fail(ctx, EINVAL, "block %zu: key 0 is not a valid key", i);
		for (j = 0; j < i; j++)
			if (p->block_keys[j] == p->block_keys[i])
				return shmdev_fail(ctx, EINVAL, "block key 0x%" PRIx64 " is listed twice",
						   p->block_keys[i]);
	}
	return 0;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t layout_checksum(const struct layout_header *h, const struct layout_table *t)
{
	uint64_t sum = FNV_INIT;

	/* The magic is left out: a cold start writes it after the checksum. */
	sum = fnv1a(sum, (const char *)h + sizeof(h->magic),
		    SHMDEV_LAYOUT_COLD_SIZE - sizeof(h->magic));
	return fnv1a(sum, (const char *)t + sizeof(t->checksum),
		     h->table_size - sizeof(t->checksum));
}

void layout_init_unsealed(void *base, const struct layout_params *p,
			  struct shmdev_crash *crash)
{
	struct layout_header *h = base;
	struct layout_geom g;
	struct layout_table *t;
	struct layout_type *types;
	struct layout_block *blocks;
	uint32_t i;

	layout_geom(p->max_types, p->max_blocks, &g);
	__atomic_store_n(&h->magic, 0, __ATOMIC_RELEASE);
	SHMDEV_CRASH_POINT(crash, "init:magic-cleared");
	memset((char *)base + sizeof(h->magic), 0, g.base_size - sizeof(h->magic));
	SHMDEV_CRASH_POINT(crash, "init:zeroed");
	h->version = SHMDEV_LAYOUT_VERSION;
	h->header_size = SHMDEV_LAYOUT_HEADER_SIZE;
	h->base_size = g.base_size;
	h->block_size = p->block_size;
	h->start_time_ns = p->start_time_ns;
	h->max_types = p->max_types;
	h->max_blocks = p->max_blocks;
	h->table_size = g.table_size;
	h->max_chunks = SHMDEV_LAYOUT_INLINE_CHUNKS;
	strncpy(h->process, p->process, sizeof(h->process) - 1);
	h->pool_id = p->pool_id;
	SHMDEV_CRASH_POINT(crash, "init:header");

	t = layout_table_at(base, h, 0);
	t->seq = 1;
	t->nr_blocks = (uint32_t)p->nr_blocks;
	t->base_addr = p->base_addr;
	types = layout_types(t);
	for (i = 0; i < p->max_types; i++)
		types[i].id = (uint16_t)i;
	blocks = layout_blocks(t, p->max_types);
	for (i = 0; i < p->max_blocks; i++) {
		blocks[i].index = i;
		if (i < p->nr_blocks) {
			blocks[i].used = 1;
			blocks[i].key = p->block_keys[i];
			blocks[i].carved = SHMDEV_LAYOUT_BLOCK_HDR;
			blocks[i].high = SHMDEV_LAYOUT_BLOCK_HDR;
			blocks[i].free_bytes = p->block_size - SHMDEV_LAYOUT_BLOCK_HDR;
		}
	}
	SHMDEV_CRASH_POINT(crash, "init:table");
	t->checksum = layout_checksum(h, t);
	SHMDEV_CRASH_POINT(crash, "init:checksummed");
	h->active = 0;
}

void layout_seal(void *base, struct shmdev_crash *crash)
{
	struct layout_header *h = base;

	__atomic_store_n(&h->magic, SHMDEV_LAYOUT_MAGIC, __ATOMIC_RELEASE);
	SHMDEV_CRASH_POINT(crash, "init:magic");
}

void layout_init(void *base, const struct layout_params *p, struct shmdev_crash *crash)
{
	layout_init_unsealed(base, p, crash);
	layout_seal(base, crash);
}

static uint64_t block_hdr_sum(const struct layout_block_hdr *b)
{
	return fnv1a(FNV_INIT, b, offsetof(struct layout_block_hdr, checksum));
}

void layout_block_hdr_init(void *blk, const struct layout_header *h, uint64_t base_key,
			   uint32_t index, uint64_t key)
{
	struct layout_block_hdr *b = blk;

	memset(b, 0, sizeof(*b));
	b->magic = SHMDEV_LAYOUT_BLOCK_MAGIC;
	b->pool_id = h->pool_id;
	b->start_time_ns = h->start_time_ns;
	b->base_key = base_key;
	b->key = key;
	b->index = index;
	b->checksum = block_hdr_sum(b);
}

bool layout_block_hdr_valid(const void *blk)
{
	const struct layout_block_hdr *b = blk;

	return b->magic == SHMDEV_LAYOUT_BLOCK_MAGIC && b->checksum == block_hdr_sum(b);
}

int layout_block_hdr_check(const void *blk, const struct layout_header *h, uint64_t base_key,
			   uint32_t index, uint64_t key, char *why, size_t len)
{
	const struct layout_block_hdr *b = blk;

	if (b->magic != SHMDEV_LAYOUT_BLOCK_MAGIC)
		snprintf(why, len, "it carries no block header (magic 0x%016" PRIx64 ")", b->magic);
	else if (b->checksum != block_hdr_sum(b))
		snprintf(why, len, "its block header is damaged (checksum mismatch)");
	else if (b->base_key != base_key)
		snprintf(why, len, "it is block %" PRIu32 " of the pool with BaseKey 0x%" PRIx64,
			 b->index, b->base_key);
	else if (b->pool_id != h->pool_id || b->start_time_ns != h->start_time_ns)
		snprintf(why, len, "it is from another cold start of this pool (pool id 0x%016" PRIx64 ", not 0x%016" PRIx64 ")",
			 b->pool_id, h->pool_id);
	else if (b->index != index || b->key != key)
		snprintf(why, len, "it is block %" PRIu32 " (key 0x%" PRIx64 ") of this pool",
			 b->index, b->key);
	else
		return 0;
	return -1;
}

const struct layout_chunk *layout_chunks(const struct layout_type *lt, void *const *blocks)
{
	if (lt->nr_chunks <= SHMDEV_LAYOUT_INLINE_CHUNKS)
		return lt->chunks;
	if (!blocks)
		return NULL;
	return (const struct layout_chunk *)((const char *)blocks[lt->xchunk_block] + lt->xchunk_offset);
}

/* Sequence number of table copy @copy of a layout of geometry @g, or 0 if out of @size. */
static uint64_t table_seq_at(const void *base, uint64_t size, const struct layout_geom *g,
			     uint32_t copy)
{
	uint64_t off = SHMDEV_LAYOUT_HEADER_SIZE + (uint64_t)copy * g->table_size;
	const struct layout_table *t = (const struct layout_table *)((const char *)base + off);

	if (g->table_size < sizeof(*t) || off + sizeof(*t) > size)
		return 0;
	return t->seq;
}

bool layout_was_committed(const void *base, uint64_t size, const struct layout_geom *expect)
{
	const struct layout_header *h = base;
	struct layout_geom g;
	uint32_t copy;

	if (size < SHMDEV_LAYOUT_HEADER_SIZE)
		return false;
	for (copy = 0; copy < 2; copy++)
		if (table_seq_at(base, size, expect, copy) >= 2)
			return true;
	/* The header's own geometry, where it differs from the config's and is sane. */
	if (h->max_types == 0 || h->max_types > SHMDEV_LAYOUT_MAX_TYPES ||
	    h->max_blocks == 0 || h->max_blocks > (1U << 20))
		return false;
	layout_geom(h->max_types, h->max_blocks, &g);
	for (copy = 0; copy < 2; copy++)
		if (table_seq_at(base, size, &g, copy) >= 2)
			return true;
	return false;
}

/* The chunks of type @i: contiguous from slot 0, in their blocks' bounds, max_count in all. */
static int verify_chunk_list(struct shmdev_ctx *ctx, const struct layout_header *h,
			     const struct layout_table *t, uint32_t i,
			     const struct layout_type *lt, const struct layout_chunk *chunks)
{
	uint64_t total = 0;
	uint32_t c;

	for (c = 0; c < lt->nr_chunks; c++) {
		const struct layout_chunk *ch = &chunks[c];

		if (ch->block >= t->nr_blocks || ch->first_slot != total ||
		    ch->nr_slots == 0 || ch->offset < SHMDEV_LAYOUT_BLOCK_HDR ||
		    ch->offset > h->block_size ||
		    ch->nr_slots > (h->block_size - ch->offset) / lt->slot_size ||
		    ch->offset % norm_align(lt->align))
			return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " chunk %" PRIu32 " is out of bounds",
					   i, c);
		total += ch->nr_slots;
	}
	if (total != lt->max_count || total > SHMDEV_LAYOUT_MAX_SLOTS)
		return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " chunks hold %" PRIu64 " slots, max_count is %" PRIu64,
				   i, total, lt->max_count);
	return 0;
}

/* Bounds of everything the table points at, so that a bad table is never used. */
static int verify_table(struct shmdev_ctx *ctx, const struct layout_header *h,
			struct layout_table *t)
{
	struct layout_type *types = layout_types(t);
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	uint32_t i, nr_types = 0;

	if (t->nr_blocks > h->max_blocks)
		return shmdev_fail(ctx, EUCLEAN, "layout: %" PRIu32 " blocks exceed MaxBlockNum %" PRIu32,
				   t->nr_blocks, h->max_blocks);
	for (i = 0; i < h->max_blocks; i++) {
		struct layout_block *b = &blocks[i];
		bool want = i < t->nr_blocks;

		if (b->index != i || b->used != want ||
		    (want && (!b->key || b->carved < SHMDEV_LAYOUT_BLOCK_HDR ||
			      b->carved > b->high || b->high > h->block_size ||
			      b->free_bytes != h->block_size - b->carved)))
			return shmdev_fail(ctx, EUCLEAN, "layout: block entry %" PRIu32 " is inconsistent", i);
	}
	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES; i++) {
		const struct layout_extent *e = &layout_holes(t, h->max_types, h->max_blocks)[i];

		if (e->reserved || (!e->len && (e->block || e->offset)) ||
		    (e->len && (e->block >= t->nr_blocks || e->offset < SHMDEV_LAYOUT_BLOCK_HDR ||
				e->offset > blocks[e->block].carved ||
				e->len > blocks[e->block].carved - e->offset)))
			return shmdev_fail(ctx, EUCLEAN, "layout: hole %" PRIu32 " is inconsistent", i);
	}
	for (i = 0; i < h->max_types; i++) {
		struct layout_type *lt = &types[i];
		uint32_t slot_size, obj_offset;
		int err;

		if (lt->id != i || lt->used > 1)
			return shmdev_fail(ctx, EUCLEAN, "layout: type entry %" PRIu32 " is inconsistent", i);
		if (!lt->used)
			continue;
		nr_types++;
		layout_slot_geom(lt->size, lt->align, &slot_size, &obj_offset);
		if (lt->size == 0 || lt->size > (1U << 30) || !is_pow2(lt->align) ||
		    lt->align < 8 || lt->align > SHMDEV_LAYOUT_MAX_ALIGN ||
		    lt->slot_size != slot_size || lt->obj_offset != obj_offset ||
		    lt->nr_chunks == 0 || lt->nr_chunks > SHMDEV_LAYOUT_MAX_SLOTS ||
		    lt->flags & ~SHMDEV_TYPE_KEYED ||
		    memchr(lt->name, 0, sizeof(lt->name)) == NULL || !lt->name[0])
			return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " entry is inconsistent", i);
		if (lt->nr_chunks <= SHMDEV_LAYOUT_INLINE_CHUNKS) {
			if (lt->xchunk_block || lt->xchunk_cap || lt->xchunk_offset || lt->xchunk_sum)
				return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " entry is inconsistent", i);
			err = verify_chunk_list(ctx, h, t, i, lt, lt->chunks);
			if (err)
				return err;
		} else {
			/* The entries themselves: layout_verify_chunks(), with the blocks. */
			uint64_t carved = lt->xchunk_block < t->nr_blocks ?
					  blocks[lt->xchunk_block].carved : 0;

			if (lt->xchunk_block >= t->nr_blocks || lt->xchunk_cap < lt->nr_chunks ||
			    lt->xchunk_offset < SHMDEV_LAYOUT_BLOCK_HDR || lt->xchunk_offset % 8 ||
			    lt->xchunk_offset > carved ||
			    lt->xchunk_cap > (carved - lt->xchunk_offset) / sizeof(struct layout_chunk) ||
			    lt->max_count > SHMDEV_LAYOUT_MAX_SLOTS)
				return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " chunk array is out of bounds", i);
		}
		if (lt->flags & SHMDEV_TYPE_KEYED) {
			if (!is_pow2(lt->nr_buckets) || lt->hash_block >= t->nr_blocks ||
			    lt->hash_offset % 4 || lt->hash_offset < SHMDEV_LAYOUT_BLOCK_HDR ||
			    lt->hash_offset > h->block_size ||
			    lt->nr_buckets > (h->block_size - lt->hash_offset) / 4)
				return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " hash index is out of bounds", i);
		} else if (lt->nr_buckets) {
			return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " has a hash index but no KEYED flag", i);
		}
	}
	if (nr_types != t->nr_types)
		return shmdev_fail(ctx, EUCLEAN, "layout: %" PRIu32 " types in use, the table says %" PRIu32,
				   nr_types, t->nr_types);
	return 0;
}

int layout_verify(struct shmdev_ctx *ctx, const void *cbase, uint64_t size,
		  struct layout_geom *g)
{
	void *base = (void *)cbase;
	const struct layout_header *h = base;
	struct layout_table *t;
	uint64_t sum;
	uint32_t active;

	if (size < SHMDEV_LAYOUT_HEADER_SIZE)
		return shmdev_fail(ctx, EUCLEAN, "base region of %" PRIu64 " bytes is too small for the layout header",
				   size);
	if (h->magic != SHMDEV_LAYOUT_MAGIC)
		return shmdev_fail(ctx, EUCLEAN, "base region: bad magic 0x%016" PRIx64 " (not a shmpool layout)",
				   h->magic);
	if (h->version != SHMDEV_LAYOUT_VERSION)
		return shmdev_fail(ctx, EPROTO, "layout version was %" PRIu32 ", now %u" REUSE_HINT,
				   h->version, SHMDEV_LAYOUT_VERSION);
	if (h->header_size != SHMDEV_LAYOUT_HEADER_SIZE || h->max_chunks != SHMDEV_LAYOUT_INLINE_CHUNKS)
		return shmdev_fail(ctx, EUCLEAN, "layout header: size %" PRIu32 " or chunk limit %" PRIu32 " is not this library's",
				   h->header_size, h->max_chunks);
	if (h->max_types == 0 || h->max_types > 65536 || h->max_blocks == 0 ||
	    h->max_blocks > (1U << 20))
		return shmdev_fail(ctx, EUCLEAN, "layout header: MaxTypeInfoNum %" PRIu32 " or MaxBlockNum %" PRIu32 " is out of range",
				   h->max_types, h->max_blocks);
	layout_geom(h->max_types, h->max_blocks, g);
	if (h->table_size != g->table_size || h->base_size != g->base_size)
		return shmdev_fail(ctx, EUCLEAN, "layout header: table size %" PRIu32 " / base size %" PRIu64 " do not match the geometry",
				   h->table_size, h->base_size);
	if (g->base_size > size)
		return shmdev_fail(ctx, EUCLEAN, "layout of %" PRIu64 " bytes does not fit the base region of %" PRIu64 " bytes",
				   g->base_size, size);
	if (h->block_size < 4096 || memchr(h->process, 0, sizeof(h->process)) == NULL)
		return shmdev_fail(ctx, EUCLEAN, "layout header: bad block size or process name");
	active = __atomic_load_n(&h->active, __ATOMIC_ACQUIRE);
	if (active > 1)
		return shmdev_fail(ctx, EUCLEAN, "layout header: active table %" PRIu32 " is not 0 or 1", active);
	t = layout_table_at(base, h, active);
	sum = layout_checksum(h, t);
	if (sum != t->checksum)
		return shmdev_fail(ctx, EUCLEAN, "layout checksum mismatch: stored 0x%016" PRIx64 ", computed 0x%016" PRIx64,
				   t->checksum, sum);
	return verify_table(ctx, h, t);
}

int layout_verify_chunks(struct shmdev_ctx *ctx, const void *cbase, void *const *blocks)
{
	void *base = (void *)cbase;
	const struct layout_header *h = base;
	struct layout_table *t = layout_active(base);
	struct layout_type *types = layout_types(t);
	uint32_t i;
	int err;

	for (i = 0; i < h->max_types; i++) {
		const struct layout_type *lt = &types[i];
		const struct layout_chunk *chunks;

		if (!lt->used || lt->nr_chunks <= SHMDEV_LAYOUT_INLINE_CHUNKS)
			continue;
		chunks = layout_chunks(lt, blocks);
		if (fnv1a(FNV_INIT, chunks, (size_t)lt->nr_chunks * sizeof(*chunks)) != lt->xchunk_sum)
			return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " \"%s\": its chunk array in block %" PRIu32 " does not match its checksum",
					   i, lt->name, lt->xchunk_block);
		err = verify_chunk_list(ctx, h, t, i, lt, chunks);
		if (err)
			return err;
	}
	return 0;
}

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

/* Carve @bytes at @align past @block's carved mark (find_room() said it fits). */
static uint64_t carve_at(struct plan *pl, uint32_t block, uint64_t bytes, uint64_t align)
{
	struct layout_block *b = &layout_blocks(pl->t, pl->h->max_types)[block];
	uint64_t off = round_up(b->carved, align);

	zero_reused(pl, block, off, off + bytes);
	b->carved = off + bytes;
	b->free_bytes = pl->h->block_size - b->carved;
	return off;
}

/*
 * Take up to @max units of @unit bytes at @align from the start of hole @e
 * (the bytes before the aligned start are lost to alignment).  Returns the
 * units taken, their offset in @off.
 */
static uint64_t take_hole(struct plan *pl, struct layout_extent *e, uint64_t unit,
			  uint64_t align, uint64_t max, uint64_t *off)
{
	uint64_t start = round_up(e->offset, align), end = e->offset + e->len, n;

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

		if (take_hole(pl, &pl->holes[i], bytes, align, 1, off))
			return b;
	}
	blk = find_room(pl->h, pl->t, bytes, align);
	if (blk >= 0)
		*off = carve_at(pl, (uint32_t)blk, bytes, align);
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
 * The end of a change: the extents it no longer uses become holes (merged
 * with a neighbour), and carved marks go down over holes that end at them.
 * With every hole entry taken, an extent stays carved.
 */
static void give_back(struct plan *pl)
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

static uint64_t blocks_free(const struct layout_header *h, struct layout_table *t)
{
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < t->nr_blocks; i++)
		sum += blocks[i].free_bytes + layout_hole_bytes(h, t, i);
	return sum;
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
 * in order.  @free_before: the free bytes before this type's change, for
 * the message.
 */
static int carve_slots(struct plan *pl, struct layout_type *lt, uint64_t n, uint64_t free_before)
{
	const struct layout_header *h = pl->h;
	struct layout_table *t = pl->t;
	struct layout_block *blocks = layout_blocks(t, h->max_types);
	uint64_t need = n, a = norm_align(lt->align), first = lt->max_count;
	struct layout_chunk ch;
	uint32_t i;
	int err;

	for (i = 0; i < SHMDEV_LAYOUT_MAX_HOLES && need; i++) {
		uint32_t b = pl->holes[i].block;
		uint64_t off, take = take_hole(pl, &pl->holes[i], lt->slot_size, a, need, &off);

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
		uint64_t off = round_up(blocks[i].carved, a), fit, take;

		if (off >= h->block_size)
			continue;
		fit = (h->block_size - off) / lt->slot_size;
		if (!fit)
			continue;
		take = fit < need ? fit : need;
		memset(&ch, 0, sizeof(ch));
		ch.block = i;
		ch.offset = carve_at(pl, i, take * lt->slot_size, a);
		ch.first_slot = first + (n - need);
		ch.nr_slots = take;
		need -= take;
		err = add_chunk(pl, lt, &ch);
		if (err)
			return err;
	}
	if (need)
		return shmdev_fail(pl->ctx, ENOSPC, "type %u \"%s\": no room for %" PRIu64 " slots of %" PRIu32 " bytes; %" PRIu64 " bytes are free in %" PRIu32 " blocks of %" PRIu64 " (add BlockKey entries to the configuration: BlockSize changes only with a cold start)",
				   lt->id, lt->name, n, lt->slot_size, free_before,
				   t->nr_blocks, h->block_size);
	lt->max_count += n;
	return 0;
}

/*
 * A bucket array for @lt's capacity: one bucket per slot, halved until it
 * fits, but more than @min buckets.  1 if none fits (a raise then keeps the
 * index it has).
 */
static int carve_buckets(struct plan *pl, struct layout_type *lt, uint64_t max_count,
			 uint64_t min)
{
	uint64_t nr = 16, off = 0;
	int64_t blk;

	while (nr < max_count && nr < (1ULL << 31))
		nr <<= 1;
	for (;;) {
		blk = carve_any(pl, nr * 4, 64, &off);
		if (blk >= 0 || nr == 16 || nr / 2 <= min)
			break;
		nr >>= 1;
	}
	if (blk < 0)
		return 1;
	lt->hash_block = (uint32_t)blk;
	lt->hash_offset = off;
	lt->nr_buckets = (uint32_t)nr;
	return 0;
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
	size_t i;
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
	/* At most an old index and an old chunk array per type go back. */
	pl.freed = calloc(2 * nr_types + 1, sizeof(*pl.freed));
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
		uint64_t free_before = blocks_free(h, scratch);

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
			if ((ut->flags & SHMDEV_TYPE_KEYED) &&
			    carve_buckets(&pl, lt, ut->max_count, 0)) {
				err = shmdev_fail(ctx, ENOSPC, "type %u \"%s\": no room for its hash index (64 bytes) in any block; %" PRIu64 " bytes are free in %" PRIu32 " blocks of %" PRIu64 " (add BlockKey entries to the configuration: BlockSize changes only with a cold start)",
						  ut->id, ut->name, free_before, scratch->nr_blocks, h->block_size);
				goto out;
			}
			err = carve_slots(&pl, lt, ut->max_count, free_before);
			if (err)
				goto out;
			scratch->nr_types++;
			changes[ut->id] = LAYOUT_ADDED;
			changed = true;
			continue;
		}
		err = compare_type(ctx, lt, ut);
		if (err)
			goto out;
		if (ut->max_count == lt->max_count)
			continue;
		if (readonly) {
			err = shmdev_fail(ctx, EROFS, "type %u \"%s\": max_count was %" PRIu64 ", now %" PRIu64 "; a read-only open cannot raise it",
					  ut->id, ut->name, lt->max_count, ut->max_count);
			goto out;
		}
		/*
		 * A bigger bucket array keeps chains short: when max_count has
		 * passed twice the buckets, a new index (rebuilt from the slots
		 * after the commit) replaces the old, which goes back.  Growing
		 * by doubling bounds what old indexes can keep carved.
		 */
		if ((ut->flags & SHMDEV_TYPE_KEYED) && ut->max_count > 2ULL * lt->nr_buckets) {
			uint32_t old_block = lt->hash_block, old_nr = lt->nr_buckets;
			uint64_t old_offset = lt->hash_offset;

			if (!carve_buckets(&pl, lt, ut->max_count, old_nr))
				give_back_later(&pl, old_block, old_offset, 4ULL * old_nr);
		}
		err = carve_slots(&pl, lt, ut->max_count - lt->max_count, free_before);
		if (err)
			goto out;
		changes[ut->id] = LAYOUT_RAISED;
		changed = true;
	}
	give_back(&pl);
	err = changed;
out:
	free(order);
	free(pl.freed);
	return err;
}

void layout_commit(void *base, const struct layout_table *scratch, struct shmdev_crash *crash)
{
	struct layout_header *h = base;
	uint32_t active = __atomic_load_n(&h->active, __ATOMIC_ACQUIRE) & 1;
	struct layout_table *cur = layout_table_at(base, h, active);
	struct layout_table *next = layout_table_at(base, h, !active);
	uint64_t seq = cur->seq + 1;

	memcpy(next, scratch, h->table_size);
	SHMDEV_CRASH_POINT(crash, "commit:copied");
	next->seq = seq;
	SHMDEV_CRASH_POINT(crash, "commit:seq");
	next->checksum = layout_checksum(h, next);
	SHMDEV_CRASH_POINT(crash, "commit:checksummed");
	/* The flip is the commit point: everything above is visible first. */
	__atomic_store_n(&h->active, !active, __ATOMIC_RELEASE);
	SHMDEV_CRASH_POINT(crash, "commit:flipped");
}
