// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Open of a pool (cold start on clean blocks, resume with every block's
 * identity checked, append of blocks and raise of max_count, repair after a
 * crash), close, abandon, destroy, and the start and stats queries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"
#include "pool_internal.h"
#include "region.h"

#define FIXED_SPACING (2ULL << 20)	/* blocks of a FixedAddress pool sit 2 MiB-aligned */

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
	pool_tx_free(p);
	pool_cache_free(p);
	pool_locks_free(p);
	shmdev_ctx_unref(p->ctx);
	free(p);
}

/*
 * The huge-page flags of a pool's regions: HugePages = yes asks loudly,
 * no HugePages line asks quietly (the default, issue 12), = no not at all.
 */
static unsigned int pool_huge_flags(const struct shmdev_proc_conf *pc)
{
	if (!pc->huge_pages)
		return 0;
	return SHMDEV_REGION_HUGE | (pc->huge_pages_set ? 0 : SHMDEV_REGION_HUGE_QUIET);
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
					   pool_huge_flags(pc),
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
				      pool_huge_flags(pc);
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

	for (i = 0; i < p->hdr->max_types; i++) {
		if (next[i].used && next[i].nr_chunks > SHMDEV_LAYOUT_INLINE_CHUNKS &&
		    (!cur[i].used || next[i].nr_chunks != cur[i].nr_chunks))
			return true;
		/* A new field table, and with it a migration's slots (migrate.c). */
		if (next[i].nr_fields && (next[i].fields_offset != cur[i].fields_offset ||
					  next[i].fields_block != cur[i].fields_block))
			return true;
	}
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
	uint8_t *changes = NULL, *migrate = NULL;
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
	if (flags & ~(SHMDEV_POOL_RDONLY | SHMDEV_POOL_FIXED_ADDR | SHMDEV_POOL_THREADS))
		return shmdev_fail(ctx, EINVAL, "pool open: unknown flags 0x%x",
				   flags & ~(SHMDEV_POOL_RDONLY | SHMDEV_POOL_FIXED_ADDR | SHMDEV_POOL_THREADS));
	if ((flags & SHMDEV_POOL_RDONLY) && (flags & SHMDEV_POOL_THREADS))
		return shmdev_fail(ctx, EINVAL, "pool open: SHMDEV_POOL_THREADS is for the owner, not with SHMDEV_POOL_RDONLY (flags 0x%x)",
				   flags);
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

	/* The layout, then the transaction log (tx.c). */
	err = open_base(p, pc, pool_tx_base_bytes(&g, pc));
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
		pool_tx_init_cold(p, pc);
	} else {
		err = layout_verify(ctx, p->base, shmdev_region_size(p->base_region), &p->geom);
		if (err)
			goto fail;
		/* A layout change died writing into the blocks (layout.h, "changing"). */
		lp.dirty = !p->rdonly && p->hdr->changing;
	}

	scratch = malloc(p->hdr->table_size);
	changes = calloc(p->hdr->max_types, 1);
	migrate = calloc(p->hdr->max_types, 1);
	p->types = calloc(p->hdr->max_types, sizeof(*p->types));
	p->nr_types = p->hdr->max_types;
	p->baddr = calloc(pc->nr_blocks ? pc->nr_blocks : 1, sizeof(*p->baddr));
	if (!scratch || !changes || !migrate || !p->types || !p->baddr) {
		err = shmdev_fail(ctx, ENOMEM, "pool open: out of memory");
		goto fail;
	}
	/* SHMDEV_POOL_THREADS: the locks before anything is written (pool_lock.c). */
	if (flags & SHMDEV_POOL_THREADS) {
		err = pool_locks_init(p);
		if (!err)
			err = pool_cache_init(p);
		if (err)
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
	/* The transaction log, where the base is mapped now (tx.c). */
	err = pool_tx_attach(p, pc);
	if (err)
		goto fail;
	if (!cold) {
		err = layout_verify_chunks(ctx, p->base, p->baddr);
		if (err)
			goto fail;
		/* Described types that changed: migrate, or refuse (migrate.c). */
		err = pool_migrate_prepare(p, &lp, types, nr_types, scratch, changes, migrate);
		if (err < 0 && err != -ENOENT)
			goto fail;
		if (err >= 0)
			changed = err;
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
		err = pool_migrate_run(p, scratch, changes, types, nr_types);
		if (err)
			goto fail;
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
		err = pool_build_view(p);
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
	err = pool_build_view(p);
	if (err)
		goto fail;
	/* A transaction the crash interrupted: rolled back before anything else. */
	if (!cold) {
		bool undone = false;

		err = pool_tx_recover(p, &undone);
		if (err)
			goto fail;
		crash |= undone;
	}
	if (crash && !cold) {
		uint64_t r0 = now_ns(CLOCK_MONOTONIC);

		p->repaired_objects = 0;
		for (i = 0; i < p->hdr->max_types; i++)
			if (p->types[i].used)
				p->repaired_objects += pool_repair_type(p, &p->types[i]);
		CRASH_POINT(p, "repair:done");
		p->repair_ns = now_ns(CLOCK_MONOTONIC) - r0;
		shmdev_info(ctx, "pool \"%s\": repaired after a crash: %" PRIu64 " live objects in %" PRIu64 " ns",
			    pc->name, p->repaired_objects, p->repair_ns);
	} else {
		/* New or bigger key indexes start empty and are refilled from the slots. */
		for (i = 0; i < p->hdr->max_types; i++)
			if (changes[i] != LAYOUT_SAME && changes[i] != LAYOUT_DESCRIBED &&
			    p->types[i].keyed)
				pool_index_rebuild(p, &p->types[i]);
	}
	p->start = cold ? SHMDEV_START_CREATED :
		   crash ? SHMDEV_START_RESUMED_CRASH : SHMDEV_START_RESUMED_CLEAN;
	if (!cold && shmdev_region_handed_over(p->base_region))
		shmdev_info(ctx, "pool \"%s\": handed over by a kernel live update, resumed %s",
			    pc->name, crash ? "after a crash" : "clean");
	p->nr_fast = p->crash.armed ? 0 : p->nr_types;
	if (p->locks) {
		/* Every alloc, free and force_get through its checked path: the lock. */
		p->nr_unlocked = p->nr_fast;
		p->nr_fast = 0;
	}
	CRASH_POINT(p, "open:done");
done:
	free(scratch);
	free(changes);
	free(migrate);
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
		memcpy(msg, shmdev_errbuf(ctx), sizeof(msg));
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
		memcpy(shmdev_errbuf(ctx), msg, sizeof(msg));
	}
	free(scratch);
	free(changes);
	free(migrate);
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
		/* An open transaction is aborted first (tx.c). */
		pool_tx_close(p);
		/* SHMDEV_POOL_THREADS: the threads' caches back to the free lists. */
		pool_cache_return_all(p);
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

SHMDEV_EXPORT bool shmdev_pool_handed_over(const struct shmdev_pool *p)
{
	return p && shmdev_region_handed_over(p->base_region);
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
	st->migrated_objects = p->migrated_objects;
	st->migrated_bytes = p->migrated_bytes;
	st->migrate_ns = p->migrate_ns;
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
		snprintf(shmdev_errbuf(p->ctx), SHMDEV_ERRMSG_MAX, "type %u is not in the layout", type);
		return -ENOENT;
	}
	lt = &layout_types(layout_active(p->base))[type];
	memset(st, 0, sizeof(*st));
	pool_lock_type(p, type);	/* SHMDEV_POOL_THREADS: the counters are plain stores */
	st->id = type;
	memcpy(st->name, lt->name, sizeof(st->name));
	st->name[sizeof(st->name) - 1] = '\0';
	st->size = lt->size;
	st->align = lt->align;
	st->version = lt->version;
	st->max_count = lt->max_count;
	/* SHMDEV_POOL_THREADS: live_count counts the caches' slots too (pool_cache.c). */
	st->live_count = __atomic_load_n(&pt->hot->live_count, __ATOMIC_RELAXED) -
			 pool_cache_count(p, type);
	st->retired_count = __atomic_load_n(&pt->hot->retired, __ATOMIC_RELAXED);
	pool_unlock_type(p, type);
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
		snprintf(shmdev_errbuf(p->ctx), SHMDEV_ERRMSG_MAX, "block %" PRIu32 " is not in the layout (it has %" PRIu32 " blocks)",
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
