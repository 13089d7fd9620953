/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The base layout kept in the BaseKey region (the seed's InitBase /
 * ResumeBase), and the slot format of the object chunks carved from the
 * block regions.  Private to libshmdev; layout.c and layout_plan.c work on
 * plain memory so that they can be tested without regions.
 *
 * All integers are little-endian (the host order: big-endian hosts are
 * refused at build time).  Inside shared memory there are offsets and
 * indexes only, never pointers.
 *
 * Base region
 * -----------
 *   0                 struct layout_header (256 bytes)
 *   256               table copy 0  (table_size bytes)
 *   256 + table_size  table copy 1  (table_size bytes)
 *   hot_offset        struct layout_hot[max_types] (64 bytes each),
 *                     hot_offset = 256 + 2 * table_size rounded up to 64
 *
 * struct layout_header
 *   0   u64 magic          "SHMPOOL1" (0x314c4f4f504d4853); written last
 *                          on a cold start, so 0 means "never initialised"
 *   8   u32 version        SHMDEV_LAYOUT_VERSION
 *   12  u32 header_size    256
 *   16  u64 base_size      bytes of the whole layout (through the hot area)
 *   24  u64 block_size     BlockSize
 *   32  u64 start_time_ns  cold start time (CLOCK_REALTIME)
 *   40  u32 max_types      MaxTypeInfoNum
 *   44  u32 max_blocks     MaxBlockNum
 *   48  u32 table_size     bytes of one table copy
 *   52  u32 max_chunks     chunks kept in a type entry (SHMDEV_LAYOUT_INLINE_CHUNKS)
 *   56  char process[32]   process (section) name, NUL-padded
 *   88  u64 pool_id        random, drawn at the cold start: with start_time_ns
 *                          the pool's identity, which every block carries
 *   96  u8  reserved[32]   zero
 *   --- bytes 8..127 are "cold": covered by the table checksum ---
 *   128 u32 active         the table copy in force (0 or 1); the commit point
 *                          of a layout change
 *   132 u32 changing       1 while an owner writes chunk array entries into
 *                          blocks for a layout change not yet committed (the
 *                          only non-zero bytes a change writes into the free
 *                          space of blocks before its commit, possibly above
 *                          a block's high mark; a new block's header lies in
 *                          a block the old layout does not list): an
 *                          open that finds it set cannot tell where, so its
 *                          own change raises every block's high mark to
 *                          BlockSize (all that is carved from then on is
 *                          zeroed first); 0 again after the commit
 *   136 u64 open_epoch     owner opens; bumped (and stored) at each owner open
 *   144 u64 close_epoch    = open_epoch after a clean close.  open_epoch !=
 *                          close_epoch means an owner went without closing:
 *                          the next owner repairs.
 *   152 u64 tx_offset      byte offset of the transaction undo log in the
 *                          base region (after base_size), 0 if none
 *   160 u64 tx_size        its bytes (TxLogSize when the base was created);
 *                          the log's format is in libshmdev/tx.c
 *   168 u8  reserved[88]   zero
 *
 * struct layout_table (one copy; the other is the scratch for the next
 * change: a change is written into the inactive copy, checksummed, then
 * "active" is flipped with one aligned store, so a crash at any point leaves
 * either the old or the new layout, never a mix)
 *   0   u64 checksum       FNV-1a 64 over header bytes 8..127 then table
 *                          bytes 8..table_size-1
 *   8   u64 seq            layout changes so far (cold start = 1)
 *   16  u32 nr_blocks      block keys in use (config order)
 *   20  u32 nr_types       used TypeInfo entries
 *   24  u64 base_addr      fixed mapping address of the base, 0 if none
 *   32  struct layout_type types[max_types]   (608 bytes each)
 *   32 + 608*max_types     struct layout_block blocks[max_blocks] (48 each)
 *   ... + 48*max_blocks    struct layout_extent holes[64] (24 each): free
 *                          extents below the blocks' carved marks
 *
 * struct layout_type (TypeInfo; entry i describes type id i)
 *   0   u16 id             = i
 *   2   u16 used           1 if the type exists
 *   4   u32 flags          SHMDEV_TYPE_*
 *   8   char name[32]
 *   40  u32 size           object size
 *   44  u32 align          object alignment (power of two, >= 8)
 *   48  u32 version        user schema version
 *   52  u32 nr_chunks
 *   56  u64 max_count      capacity (sum of the chunks' nr_slots)
 *   64  u32 slot_size      stride of one slot
 *   68  u32 obj_offset     object offset inside a slot (after the header)
 *   72  u32 hash_block     block index of the key index (KEYED)
 *   76  u32 nr_buckets     entries of the key index: a power of two from 16
 *                          to 2^29, at least 5/4 max_count; 0 if not KEYED
 *   80  u64 hash_offset    byte offset of the key index in that block (a
 *                          multiple of 4)
 *   88  u32 xchunk_block   the chunk array of a type with more than 15
 *   92  u32 xchunk_cap       chunks lives in a block: its block, capacity
 *   96  u64 xchunk_offset    (entries), offset and the FNV-1a 64 of its
 *   104 u64 xchunk_sum       nr_chunks entries; all 0 while the chunks
 *                            fit the entry itself
 *   112 u64 fields_offset  the type's field table (issue 13): offset in
 *   120 u32 fields_block     block fields_block, nr_fields entries; all 0
 *   124 u32 nr_fields        for a type without field descriptions
 *   128 struct layout_chunk chunks[15] (32 bytes each), the chunks while
 *       nr_chunks <= 15:
 *         0 u32 block, 4 u32 reserved, 8 u64 offset (in the block),
 *         16 u64 first_slot, 24 u64 nr_slots
 *
 * Chunk arrays in blocks: the array of a type with more than 15 chunks is
 * nr_chunks entries (the same 32-byte struct layout_chunk) at xchunk_offset
 * of block xchunk_block, in a carved extent of xchunk_cap entries.  A raise
 * appends its chunks after the committed ones (entries past nr_chunks are
 * scratch, as the inactive table copy is) or, when the extent is full, copies
 * the array into a new extent twice the size; the table commit makes the new
 * entries and sum count.  The sum is a running FNV-1a, so appending extends
 * it.  A chunk never moves: objects never move.
 *
 * Field tables in blocks (libshmdev/fields.c): a carved extent of
 * 32 + 64 * nr_fields bytes at 64-byte alignment, written before the commit
 * that lists it and never changed after (a new description is a new table;
 * the old one is given back):
 *   0   u64 magic          "SHMPFLD1" (0x31444c46504d4853)
 *   8   u32 type           the type id
 *   12  u32 nr_fields
 *   16  u64 sum            FNV-1a 64 of bytes 0..15 and the entries
 *   24  u64 reserved       0
 *   32  struct layout_field[nr_fields], sorted by offset:
 *         0 char name[48] (NUL-terminated), 48 u32 kind, 52 u32 offset,
 *         56 u32 size, 60 u32 reserved (0)
 * A bad table (bounds, magic, sum, an entry out of the rules of fields.c)
 * makes the open and the check fail with -EUCLEAN naming the type.
 *
 * Migration (libshmdev/migrate.c): a type whose description changed gets
 * a new entry in the scratch table (new chunks for max_count slots, a new
 * index if KEYED, a new field table); every slot below the watermark is
 * copied into its new place before the commit (header verbatim: key, tag
 * with its generation, free list link; a live object converted), under the
 * "changing" flag; the old chunks, index, chunk array and field table are
 * given back by the same commit.  Slot numbers and generations carry over,
 * so handles stay valid.  A kill before the commit leaves the old layout.
 *
 * struct layout_block (BlockBase; entry i is the i-th configured key)
 *   0   u32 index          = i
 *   4   u32 used           1 if configured
 *   8   u64 key
 *   16  u64 carved         bytes handed out from the start of the block
 *   24  u64 free_bytes     block_size - carved (the free-block map is the
 *                          set of blocks whose free_bytes is not 0)
 *   32  u64 map_addr       fixed mapping address, 0 if none
 *   40  u64 high           bytes of the block ever carved (carved <= high):
 *                          above it the block is as created (zero); an
 *                          extent carved below it is zeroed before the
 *                          commit that hands it out
 *
 * struct layout_extent (a hole)
 *   0   u32 block, 4 u32 reserved, 8 u64 offset, 16 u64 len (0: unused entry)
 *
 * Carving and giving back: a block is carved from its start (after the block
 * header) upwards.  An extent the layout no longer needs (a KEYED type's
 * index outgrown by a raise, a chunk array moved to a bigger extent, the
 * old slots, index, chunk array and field table of a migrated type) is
 * given back: at the end of every change the block map is derived again
 * from the extents the new table uses (layout_plan.c, give_back_derived()):
 * each block's carved mark goes down to the end of its last used extent,
 * and the gaps below it become the holes, so adjacent free space is one
 * hole and a hole never touches the carved mark.  Gaps under 64 bytes
 * (alignment) are not listed; with more gaps than 64 entries the largest
 * are listed.  A gap not listed is not lost: the next change derives it
 * again and it joins a neighbour that goes back.  Later carves use the
 * holes first.  A raise
 * gives a KEYED type a new index only when max_count passes half its
 * entries, and a chunk array only grows by doubling.  Space given back by a
 * layout change is reused by later changes only (never before the commit
 * that gave it back: the active table still refers to it until then).
 * Block stats count holes as free.
 *
 * Hot area (NOT covered by the checksum: it changes on every alloc/free;
 * it is derived data that a repair rebuilds from the slots)
 * struct layout_hot (one per type id)
 *   0   u64 live_count     LIVE and LIVE_KEYED slots, plus the CACHED ones
 *                          (slots in the owner's thread caches: taken from
 *                          the free list, not handed out)
 *   8   u64 watermark      slots [0, watermark) have been initialised; the
 *                          ones above were never used and are not scanned
 *   16  u32 free_head      slot + 1 of the first free slot, 0 = empty
 *   20  u32 caches         thread caches of the owner that may hold this
 *                          type's slots (SHMDEV_POOL_THREADS, pool_cache.c;
 *                          0 otherwise): at most caches x
 *                          SHMDEV_LAYOUT_CACHE_SLOTS slots are CACHED
 *   24  u64 free_count     FREE slots (all on the free list)
 *   32  u64 allocs, 40 u64 frees   (statistics: no longer counted, so
 *                          that alloc and free touch only the fields a
 *                          repair rebuilds; 0 in new pools)
 *   48  u64 seq            change count: odd while the owner changes the
 *                          type's slots or this line, even between changes,
 *                          so that a read-only check can tell a consistent
 *                          read from a torn one (not derived; a repair
 *                          leaves it even)
 *   56  u64 retired        slots RETIRED (below)
 *
 * Checksum coverage: the cold header and the active table, i.e. everything
 * that changes only on a cold start or a layout change.  It is O(1) in the
 * object count, so a clean resume verifies it without touching objects.
 *
 * Block regions
 * -------------
 *   0   struct layout_block_hdr (64 bytes): the block's identity
 *   64  carved extents (slot chunks, key indexes, chunk arrays)
 *
 * Key index (KEYED types; libshmdev/pool_index.h): nr_buckets entries of 4
 * bytes, open addressing with linear probing, backward-shift deletion.  An
 * entry is 0 (empty) or slot + 1 (bits 0..27) with a fingerprint (bits
 * 28..31): the 4 bits of the key's hash h = key * 0x9e3779b97f4a7c15 just
 * below its home, the top log2(nr_buckets) bits of h.  One extent in one
 * block.  Sized at the carve for max_count at most half of nr_buckets (4/5
 * when no block has room for that): a
 * raise past it carves a new index, rebuilt from the slots after the
 * commit, and gives the old one back.  Derived data: a repair rebuilds it
 * from the slots' tags and keys.
 *
 * struct layout_block_hdr
 *   0   u64 magic          "SHMPBLK1" (0x314b4c42504d4853)
 *   8   u64 pool_id        = the base header's pool_id
 *   16  u64 start_time_ns  = the base header's start_time_ns
 *   24  u64 base_key       BaseKey of the pool
 *   32  u64 key            this block's key
 *   40  u32 index          this block's index in the layout
 *   44  u32 reserved
 *   48  u64 reserved
 *   56  u64 checksum       FNV-1a 64 of bytes 0..55
 * Written when the block joins the layout (cold start, block appended)
 * before the commit that lists it, into a region the cold start or append
 * made clean.  Every open (and shmdev_pool_check) compares each block of the
 * layout with it: a block that is missing (re-created empty) or foreign
 * (another pool's, another index's, an earlier cold start's) is refused.
 *
 * Slots (in block regions).  A chunk is nr_slots consecutive slots of
 * slot_size bytes starting at its offset.  Slot n of a type lives in the
 * chunk whose [first_slot, first_slot + nr_slots) holds n.  Where in a
 * 64-byte line a chunk begins is chosen per type (layout_plan.c,
 * slot_phase()) so that a get's tag and the object's first word share a
 * line where the stride allows; the offset is recorded, so the format does
 * not depend on it (any aligned offset is valid).
 *   0   u64 key            user key (KEYED objects)
 *   8   u32 tag            bits 0..7 state (FREE, LIVE, LIVE_KEYED,
 *                          RETIRED, CACHED), bits 8..31 generation (never 0
 *                          once used)
 *   12  u32 next           slot + 1: the free list link of a FREE slot, 0 =
 *                          end; unused (0) in a live or cached slot
 *   obj_offset             the object
 * The tag is the commit point of alloc and free: it is written with one
 * aligned release store after everything else about the slot.  Free lists,
 * counters and key indexes are rebuilt from tags and keys after a crash.
 *
 * Handles: type << 52 | slot << 24 | generation: 12 bits of type (type ids
 * are below SHMDEV_LAYOUT_MAX_TYPES = 4096), 28 of slot (max_count is at
 * most SHMDEV_LAYOUT_MAX_SLOTS = 2^28 - 1) and the 24 of the generation.
 *
 * Generations: a free moves a slot from generation g to g + 1, so an old
 * handle never matches again.  A slot whose generation would wrap (a free
 * at 2^24 - 1) is RETIRED instead: never reused, on no list, so that a
 * stale handle can never resolve.  With LIFO free lists a few hot slots
 * take most of the reuse: a type cycling 1,000 alloc/free pairs a second
 * retires one slot every 16,777,215 / 1,000 s = 4.7 hours (5 a day, about
 * 1,900 a year); at 10,000 a second, 51 a day.  The 16-bit generation of
 * layout version 1 wrapped after 65 s at 1,000 a second.  A raised
 * max_count adds capacity; a cold start begins with no retired slots.
 */
#ifndef SHMDEV_LAYOUT_H
#define SHMDEV_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the shmpool layout is little-endian; big-endian hosts are not supported"
#endif

#define SHMDEV_LAYOUT_MAGIC		0x314c4f4f504d4853ULL /* "SHMPOOL1" */
#define SHMDEV_LAYOUT_VERSION		3U	/* 2: 24-bit generations, RETIRED slots, block headers, chunk arrays, holes;
						 * 3: open-addressing key index (4-byte entries) instead of hash chains */
#define SHMDEV_LAYOUT_HEADER_SIZE	256U
#define SHMDEV_LAYOUT_COLD_SIZE		128U
#define SHMDEV_LAYOUT_INLINE_CHUNKS	15U	/* chunks in a type entry; more go to a block */
#define SHMDEV_LAYOUT_BLOCK_MAGIC	0x314b4c42504d4853ULL /* "SHMPBLK1" */
#define SHMDEV_LAYOUT_BLOCK_HDR		64U	/* struct layout_block_hdr at each block's start */
#define SHMDEV_LAYOUT_MAX_HOLES		64U	/* free extents a table keeps */
#define SHMDEV_LAYOUT_NAME_MAX		32U
#define SHMDEV_LAYOUT_MIN_BLOCKS	256U	/* MaxBlockNum unless more keys */
#define SHMDEV_LAYOUT_DEFAULT_TYPES	64U	/* MaxTypeInfoNum default */
#define SHMDEV_LAYOUT_MAX_TYPES		4096U	/* MaxTypeInfoNum limit of the config */
#define SHMDEV_LAYOUT_MAX_ALIGN		4096U
#define SHMDEV_LAYOUT_SLOT_BITS		28U	/* of a handle */
#define SHMDEV_LAYOUT_MAX_SLOTS		((1ULL << SHMDEV_LAYOUT_SLOT_BITS) - 1)
#define SHMDEV_LAYOUT_GEN_BITS		24U
#define SHMDEV_LAYOUT_GEN_MAX		((1U << SHMDEV_LAYOUT_GEN_BITS) - 1)
#define SHMDEV_LAYOUT_SLOT_HDR		16U
#define SHMDEV_LAYOUT_INDEX_ENTRY	4U	/* bytes of a key index entry */
#define SHMDEV_LAYOUT_MIN_INDEX		16U	/* entries of the smallest key index */
#define SHMDEV_LAYOUT_MAX_INDEX		(1U << 29)	/* ... of the biggest: 2 x max_count */

enum layout_slot_state {
	LAYOUT_SLOT_FREE = 0,
	LAYOUT_SLOT_LIVE = 1,
	LAYOUT_SLOT_LIVE_KEYED = 2,
	LAYOUT_SLOT_RETIRED = 3,	/* generation used up: never reused */
	/*
	 * Free, held in a thread cache of a SHMDEV_POOL_THREADS owner
	 * (pool_cache.c): on no shared list; its generation is the one its
	 * next alloc hands out.  Counted in live_count (taken from the free
	 * list), so that a thread's alloc and free from its cache (CACHED <->
	 * LIVE) change no shared counter.  Only while such an owner runs, or
	 * after it crashed: a clean close returns the caches, and a repair
	 * makes them FREE with the same generation.  A library from before
	 * this state repairs it as a bad state (FREE, the next generation),
	 * which is safe; its check of a live threaded owner reports it.
	 */
	LAYOUT_SLOT_CACHED = 4,
};

/* Slots one thread cache holds of a type at most (the check's bound). */
#define SHMDEV_LAYOUT_CACHE_SLOTS	64U

struct layout_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint64_t base_size;
	uint64_t block_size;
	uint64_t start_time_ns;
	uint32_t max_types;
	uint32_t max_blocks;
	uint32_t table_size;
	uint32_t max_chunks;
	char process[SHMDEV_LAYOUT_NAME_MAX];
	uint64_t pool_id;
	uint8_t reserved0[32];
	/* hot */
	uint32_t active;
	uint32_t changing;
	uint64_t open_epoch;
	uint64_t close_epoch;
	uint64_t tx_offset;
	uint64_t tx_size;
	uint8_t reserved2[88];
};

struct layout_chunk {
	uint32_t block;
	uint32_t reserved;
	uint64_t offset;
	uint64_t first_slot;
	uint64_t nr_slots;
};

struct layout_type {
	uint16_t id;
	uint16_t used;
	uint32_t flags;
	char name[SHMDEV_LAYOUT_NAME_MAX];
	uint32_t size;
	uint32_t align;
	uint32_t version;
	uint32_t nr_chunks;
	uint64_t max_count;
	uint32_t slot_size;
	uint32_t obj_offset;
	uint32_t hash_block;
	uint32_t nr_buckets;
	uint64_t hash_offset;
	uint32_t xchunk_block;
	uint32_t xchunk_cap;
	uint64_t xchunk_offset;
	uint64_t xchunk_sum;
	uint64_t fields_offset;
	uint32_t fields_block;
	uint32_t nr_fields;
	struct layout_chunk chunks[SHMDEV_LAYOUT_INLINE_CHUNKS];
};

struct layout_block {
	uint32_t index;
	uint32_t used;
	uint64_t key;
	uint64_t carved;
	uint64_t free_bytes;
	uint64_t map_addr;
	uint64_t high;
};

struct layout_extent {
	uint32_t block;
	uint32_t reserved;
	uint64_t offset;
	uint64_t len;
};

struct layout_block_hdr {
	uint64_t magic;
	uint64_t pool_id;
	uint64_t start_time_ns;
	uint64_t base_key;
	uint64_t key;
	uint32_t index;
	uint32_t reserved;
	uint64_t reserved2;
	uint64_t checksum;
};

#define SHMDEV_LAYOUT_FIELDS_MAGIC	0x31444c46504d4853ULL /* "SHMPFLD1" */

struct layout_fields_hdr {
	uint64_t magic;
	uint32_t type;
	uint32_t nr_fields;
	uint64_t sum;
	uint64_t reserved;
};

struct layout_field {
	char name[SHMDEV_FIELD_NAME_MAX];
	uint32_t kind;
	uint32_t offset;
	uint32_t size;
	uint32_t reserved;
};

struct layout_table {
	uint64_t checksum;
	uint64_t seq;
	uint32_t nr_blocks;
	uint32_t nr_types;
	uint64_t base_addr;
	/* struct layout_type types[max_types]; struct layout_block blocks[]; */
};

struct layout_hot {
	uint64_t live_count;
	uint64_t watermark;
	uint32_t free_head;
	uint32_t caches;
	uint64_t free_count;
	uint64_t allocs;
	uint64_t frees;
	uint64_t seq;
	uint64_t retired;
};

struct layout_slot {
	uint64_t key;
	uint32_t tag;
	uint32_t next;
};

_Static_assert(sizeof(struct layout_header) == SHMDEV_LAYOUT_HEADER_SIZE, "header");
_Static_assert(offsetof(struct layout_header, active) == SHMDEV_LAYOUT_COLD_SIZE, "cold");
_Static_assert(offsetof(struct layout_header, process) == 56, "process");
_Static_assert(sizeof(struct layout_chunk) == 32, "chunk");
_Static_assert(offsetof(struct layout_header, pool_id) == 88, "pool_id");
_Static_assert(offsetof(struct layout_type, xchunk_block) == 88, "type xchunk");
_Static_assert(offsetof(struct layout_type, chunks) == 128, "type chunks");
_Static_assert(sizeof(struct layout_block_hdr) == SHMDEV_LAYOUT_BLOCK_HDR, "block header");
_Static_assert(sizeof(struct layout_type) == 608, "type");
_Static_assert(offsetof(struct layout_type, fields_offset) == 112, "type fields");
_Static_assert(sizeof(struct layout_fields_hdr) == 32, "fields header");
_Static_assert(sizeof(struct layout_field) == 64, "field");
_Static_assert(sizeof(struct layout_block) == 48, "block");
_Static_assert(sizeof(struct layout_extent) == 24, "extent");
_Static_assert(sizeof(struct layout_table) == 32, "table");
_Static_assert(sizeof(struct layout_hot) == 64, "hot");
_Static_assert(sizeof(struct layout_slot) == SHMDEV_LAYOUT_SLOT_HDR, "slot");
/* A handle is type 12 | slot 28 | generation 24 bits. */
_Static_assert(SHMDEV_LAYOUT_MAX_TYPES <= 1U << (64 - SHMDEV_LAYOUT_SLOT_BITS - SHMDEV_LAYOUT_GEN_BITS),
	       "type ids fit a handle");
_Static_assert(SHMDEV_LAYOUT_GEN_BITS + 8 == 32, "the generation fills the tag above its state byte");

static inline uint32_t layout_tag(uint32_t state, uint32_t gen)
{
	return state | gen << 8;
}

static inline uint32_t layout_tag_state(uint32_t tag)
{
	return tag & 0xff;
}

static inline uint32_t layout_tag_gen(uint32_t tag)
{
	return tag >> 8;
}

static inline uint64_t layout_handle(uint16_t type, uint32_t slot, uint32_t gen)
{
	return (uint64_t)type << 52 | (uint64_t)slot << 24 | gen;
}

static inline uint32_t layout_handle_type(uint64_t h)
{
	return (uint32_t)(h >> 52);
}

static inline uint32_t layout_handle_slot(uint64_t h)
{
	return (uint32_t)(h >> 24) & (uint32_t)SHMDEV_LAYOUT_MAX_SLOTS;
}

static inline uint32_t layout_handle_gen(uint64_t h)
{
	return (uint32_t)h & SHMDEV_LAYOUT_GEN_MAX;
}

/* Geometry of a base region for @max_types and @max_blocks. */
struct layout_geom {
	uint32_t max_types;
	uint32_t max_blocks;
	uint32_t table_size;
	uint64_t hot_offset;
	uint64_t base_size;
};

void layout_geom(uint32_t max_types, uint32_t max_blocks, struct layout_geom *g);

struct shmdev_crash;

/* What the configuration says the layout must be. */
struct layout_params {
	const char *process;
	uint64_t block_size;
	size_t nr_blocks;
	const uint64_t *block_keys;
	uint32_t max_types;
	uint32_t max_blocks;
	uint64_t start_time_ns;
	uint64_t pool_id;		/* the cold start's random identity */
	bool dirty;			/* a change died writing: raise all high marks */
	struct shmdev_crash *crash;	/* layout_plan_at()'s crash points (crash.h), or NULL */
	uint64_t base_addr;		/* 0, or record this fixed base address */
	/*
	 * Migrations (migrate.c): max_types flags, 1 = migrate that type (a
	 * new entry, slots and field table), or NULL; @rblocks: the block
	 * addresses to read chunk arrays and field tables from when there
	 * are no blocks to write (a dry plan), or NULL.
	 */
	const uint8_t *migrate;
	void *const *rblocks;
};

/* Accessors into a base region (the header and a table copy). */
static inline struct layout_table *layout_table_at(void *base,
						   const struct layout_header *h,
						   uint32_t copy)
{
	return (struct layout_table *)((char *)base + SHMDEV_LAYOUT_HEADER_SIZE +
				       (size_t)copy * h->table_size);
}

static inline struct layout_type *layout_types(struct layout_table *t)
{
	return (struct layout_type *)(t + 1);
}

static inline struct layout_block *layout_blocks(struct layout_table *t,
						 uint32_t max_types)
{
	return (struct layout_block *)(layout_types(t) + max_types);
}

static inline struct layout_extent *layout_holes(struct layout_table *t, uint32_t max_types,
						 uint32_t max_blocks)
{
	return (struct layout_extent *)(layout_blocks(t, max_types) + max_blocks);
}

/* Bytes of block @block in holes of table @t. */
uint64_t layout_hole_bytes(const struct layout_header *h, struct layout_table *t, uint32_t block);

static inline struct layout_hot *layout_hot_at(void *base, const struct layout_geom *g)
{
	return (struct layout_hot *)((char *)base + g->hot_offset);
}

/* Slot geometry of a type: stride and object offset. */
void layout_slot_geom(uint32_t size, uint32_t align, uint32_t *slot_size,
		      uint32_t *obj_offset);

/* Check user type descriptions alone (ids, names, sizes...). */
int layout_check_types(struct shmdev_ctx *ctx, const struct shmdev_type *types,
		       size_t nr_types, uint32_t max_types);

/* Check the config parameters alone (block size, keys, limits). */
int layout_check_params(struct shmdev_ctx *ctx, const struct layout_params *p);

/* FNV-1a checksum of the cold header and table copy @t. */
uint64_t layout_checksum(const struct layout_header *h, const struct layout_table *t);

/*
 * Write a fresh header and an empty table (blocks from @p, no types) into
 * @base (at least layout geometry base_size bytes, zeroed by the caller or
 * not).  The magic is written last.  @crash: the test hook's crash points
 * (crash.h) between the stores, or NULL.
 */
void layout_init(void *base, const struct layout_params *p, struct shmdev_crash *crash);

/*
 * layout_init() without its last store: the magic stays 0 until
 * layout_seal(), so that a cold start can write its blocks' headers first.
 */
void layout_init_unsealed(void *base, const struct layout_params *p,
			  struct shmdev_crash *crash);
void layout_seal(void *base, struct shmdev_crash *crash);

/* Write the identity header of block @index (key @key) of the pool @h at @blk. */
void layout_block_hdr_init(void *blk, const struct layout_header *h, uint64_t base_key,
			   uint32_t index, uint64_t key);

/* Whether @blk starts with a block header, intact (magic and checksum). */
bool layout_block_hdr_valid(const void *blk);

/*
 * Whether @blk is block @index (key @key) of the pool @h: 0, or -1 with the
 * reason in @why ("it carries no block header", "it is block 2 of this
 * pool", "it belongs to another pool (BaseKey 0x...)", ...).
 */
int layout_block_hdr_check(const void *blk, const struct layout_header *h, uint64_t base_key,
			   uint32_t index, uint64_t key, char *why, size_t len);

/*
 * The chunk array of @lt: its own entries, or the array in block
 * lt->xchunk_block, found through @blocks (the block addresses in layout
 * order); NULL if that is needed and @blocks is NULL.
 */
const struct layout_chunk *layout_chunks(const struct layout_type *lt, void *const *blocks);

/*
 * Whether @base (@size bytes) holds a table copy committed after a finished
 * layout_init(): sequence 2 or more, looked for where the geometry @expect
 * (from the config) and the header's own geometry put the tables.  Used
 * when the magic is 0.  layout_init() zeroes the region before it writes
 * anything and writes only sequence 1, so a cold start that died before
 * its magic never shows a 2: a true answer means the header was damaged,
 * and a cold start would throw live objects away.
 */
bool layout_was_committed(const void *base, uint64_t size, const struct layout_geom *expect);

/*
 * Verify a base region of @size bytes: magic, version, geometry, the active
 * table's checksum.  -EUCLEAN / -EPROTO with a message otherwise.
 * Fills @g on success.
 */
int layout_verify(struct shmdev_ctx *ctx, const void *base, uint64_t size,
		  struct layout_geom *g);

/*
 * The part of the verification that needs the blocks (@blocks: their
 * addresses, at least block_size bytes each, in layout order): the chunk
 * arrays kept in blocks, their sums and bounds, and the field tables
 * (layout_verify_fields()).  After layout_verify().
 */
int layout_verify_chunks(struct shmdev_ctx *ctx, const void *base, void *const *blocks);

/* Per-type outcome of layout_plan(). */
enum layout_change {
	LAYOUT_SAME = 0,
	LAYOUT_ADDED = 1,	/* new type: hot entry to initialise */
	LAYOUT_RAISED = 2,	/* max_count raised: index to rebuild if KEYED */
	LAYOUT_MIGRATED = 3,	/* new slots (migrate.c): index to rebuild if KEYED */
	LAYOUT_DESCRIBED = 4,	/* only a field table added to a type without */
};

/* ---- field tables (fields.c) ---- */

/* Bytes of a field table of @nr fields. */
static inline uint64_t layout_fields_bytes(uint32_t nr)
{
	return sizeof(struct layout_fields_hdr) + (uint64_t)nr * sizeof(struct layout_field);
}

/* Check the field descriptions of user type @t (layout_check_types()). */
int layout_check_fields(struct shmdev_ctx *ctx, const struct shmdev_type *t);

/* Write @t's field table (sorted by offset) at @dst: 0, or -ENOMEM (nothing written). */
int layout_fields_write(void *dst, const struct shmdev_type *t);

/* The entries of @lt's field table (after layout_verify_fields()), or NULL if none. */
const struct layout_field *layout_fields(const struct layout_type *lt, void *const *blocks);

/* Whether @lt's stored table describes exactly @t's fields. */
bool layout_fields_same(const struct layout_type *lt, void *const *blocks,
			const struct shmdev_type *t);

/*
 * Where type @i's field table lies, from the table alone (layout_verify()):
 * none without fields, else in a block, carved, at most SHMDEV_FIELDS_MAX
 * entries.  -EUCLEAN naming the type.
 */
int layout_verify_fields_place(struct shmdev_ctx *ctx, const struct layout_header *h,
			       const struct layout_table *t, uint32_t i);

/* Every type's field table: bounds, magic, sum, entries.  -EUCLEAN naming the type. */
int layout_verify_fields(struct shmdev_ctx *ctx, const void *base, void *const *blocks);

/*
 * Whether the stored @lt and the program's @ut, both described, may differ
 * by a migration (same name and flags, no capacity lowered): the plan then
 * leaves the type to migrate.c, which reads the field tables.
 */
bool layout_migratable(const struct layout_type *lt, const struct shmdev_type *ut);

/* "int", "uint", "float", "double", "bytes", "handle", or "kind N" into @buf. */
const char *layout_kind_name(uint32_t kind, char *buf, size_t len);

/*
 * Compare the active layout of @base with @p and @types.  Refuse a mismatch
 * (-EINVAL... with "type 3 "Item": size was 128, now 136; ..."), else build
 * the new table into @scratch (table_size bytes): blocks appended, new types
 * carved, raised types extended.  Nothing in @base is written.  @changes has
 * max_types entries.  Returns 1 if the layout changes, 0 if not.
 * If @readonly, any change is refused with -EROFS.
 */
int layout_plan(struct shmdev_ctx *ctx, const void *base,
		const struct layout_params *p, const struct shmdev_type *types,
		size_t nr_types, bool readonly, struct layout_table *scratch,
		uint8_t *changes);

/*
 * layout_plan() that also writes, into the blocks (@blocks: their addresses
 * in layout order, the appended ones included), what the new table refers
 * to there: chunk array entries, and zeroes over re-used extents.  It writes
 * only bytes the active table does not refer to, so a crash before
 * layout_commit() leaves the old layout whole.  With @blocks NULL it is
 * layout_plan(), which computes the same table without touching a block.
 */
int layout_plan_at(struct shmdev_ctx *ctx, const void *base, void *const *blocks,
		   const struct layout_params *p, const struct shmdev_type *types,
		   size_t nr_types, bool readonly, struct layout_table *scratch,
		   uint8_t *changes);

/*
 * Make @scratch the layout: copy it into the inactive table, checksum it
 * and flip "active".  The caller orders this after writing everything the
 * new layout refers to.  @crash: as for layout_init().
 */
void layout_commit(void *base, const struct layout_table *scratch, struct shmdev_crash *crash);

/* The active table. */
static inline struct layout_table *layout_active(void *base)
{
	struct layout_header *h = base;

	return layout_table_at(base, h, __atomic_load_n(&h->active, __ATOMIC_ACQUIRE) & 1);
}

#endif /* SHMDEV_LAYOUT_H */
