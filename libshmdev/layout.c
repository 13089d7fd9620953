// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The base layout: geometry, initialisation, block headers, verification
 * and the two-copy commit.  The planning of a layout change (comparison
 * with the configuration and the registered types, carving of slot chunks
 * and key indexes from the blocks) is in layout_plan.c.  See layout.h for
 * the byte layout.  Works on plain memory only.
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
	int err;

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
		err = layout_check_fields(ctx, t);	/* fields.c */
		if (err)
			return err;
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
		err = layout_verify_fields_place(ctx, h, t, i);	/* fields.c */
		if (err)
			return err;
		if (lt->flags & SHMDEV_TYPE_KEYED) {
			/*
			 * Carved like the chunks: an index past its block's
			 * carved bytes is a space the next change may carve
			 * again (and the block map derived from the used
			 * extents would then exceed the block's high mark).
			 */
			uint64_t carved = lt->hash_block < t->nr_blocks ? blocks[lt->hash_block].carved : 0;

			if (!is_pow2(lt->nr_buckets) || lt->nr_buckets < SHMDEV_LAYOUT_MIN_INDEX ||
			    lt->nr_buckets > SHMDEV_LAYOUT_MAX_INDEX || lt->hash_block >= t->nr_blocks ||
			    lt->hash_offset % SHMDEV_LAYOUT_INDEX_ENTRY ||
			    lt->hash_offset < SHMDEV_LAYOUT_BLOCK_HDR ||
			    lt->hash_offset > carved ||
			    lt->nr_buckets > (carved - lt->hash_offset) / SHMDEV_LAYOUT_INDEX_ENTRY)
				return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " key index is out of bounds", i);
			/* Open addressing: at most 4/5 full, so that every probe ends soon. */
			if (5 * lt->max_count > 4ULL * lt->nr_buckets)
				return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " key index of %" PRIu32 " entries cannot hold max_count %" PRIu64,
						   i, lt->nr_buckets, lt->max_count);
		} else if (lt->nr_buckets) {
			return shmdev_fail(ctx, EUCLEAN, "layout: type %" PRIu32 " has a key index but no KEYED flag", i);
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
	return layout_verify_fields(ctx, base, blocks);	/* fields.c */
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