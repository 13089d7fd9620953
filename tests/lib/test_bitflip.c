// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Bit-flip campaign (issue 7 §4).  A pool with objects of three types (one
 * KEYED, two layout commits so that both table copies are valid) is saved
 * byte for byte.  Each iteration restores it, corrupts one range of it (one
 * bit, several bits, random bytes or a zeroed range) in one target area,
 * and opens it again, read-only first and then as the owner:
 *
 *   target         what the design promises
 *   hdr-cold       header bytes 0..127 (magic + checksummed): refused,
 *                  even an all-zero magic, since a committed table shows
 *                  the pool was initialised (a cold start would lose it)
 *   hdr-hot        active / epochs / reserved: refused, or opened (repair)
 *   table-active   the table in force: refused (checksum)
 *   table-inactive the other copy: never read, opened intact
 *   hot            counters, free heads, watermarks: opened; check or a
 *                  repair finds and fixes; a lowered watermark loses objects
 *   slot-hdr       key/tag/next of a slot (not checksummed: per-object
 *                  state): opened; check or repair; objects may change
 *   hash           buckets of the KEYED index (derived): opened; check or
 *                  repair, objects intact
 *   payload        object bytes (user data): opened, structure intact
 *   region-hdr     the POSIX backend's header page of a region: refused
 *                  or opened
 *   forged         the cold header or the active table changed and the
 *                  checksum recomputed (a buggy or hostile writer, not a
 *                  random flip): the bounds checks of the table must hold
 *                  (refused, or opened and usable without a crash)
 *
 * Half of the iterations also mark the pool as crashed (epochs differ), so
 * that the repair runs over the corrupted bytes.  Whatever happens, the
 * library must not crash or read out of bounds (this runs under ASan+UBSan
 * and valgrind), a refusal carries a message, and every opened pool passes
 * shmdev_pool_check() after at most one repair.  The counts are printed
 * for SECURITY.md.
 *
 * Iterations: 2000, 150 under SHMDEV_TEST_QUICK, 400 in the VM;
 * SHMDEV_BITFLIP_ITERS overrides (make stress), SHMDEV_TEST_SEED replays.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define NR_REG		4	/* base + 3 blocks */
#define T_PLAYER	0
#define T_ITEM		1
#define T_SCENE		2
#define OBJ_MAX		128
#define MODEL_MAX	128
#define PHDR_LEN	128	/* bytes of the POSIX region header worth corrupting */

enum target {
	TG_HDR_COLD, TG_HDR_HOT, TG_TABLE_ACTIVE, TG_TABLE_INACTIVE, TG_HOT,
	TG_SLOT_HDR, TG_HASH, TG_PAYLOAD, TG_REGION_HDR, TG_FORGED, TG_MAX
};

static const char *const target_name[TG_MAX] = {
	"hdr-cold", "hdr-hot", "table-active", "table-inactive", "hot",
	"slot-hdr", "hash", "payload", "region-hdr", "forged",
};

enum mutation { MUT_FLIP1, MUT_FLIPN, MUT_BYTES, MUT_ZERO, MUT_MAX };

enum outcome {
	OC_REFUSED,	/* open refused with a message */
	OC_INTACT,	/* opened, check passes, every object as it was */
	OC_PAYLOAD,	/* the same, but some object's bytes changed (user data) */
	OC_REPAIRED,	/* check found it; after a repair everything is intact */
	OC_COLD,	/* the magic was zeroed: cold start, reported as CREATED */
	OC_ALTERED,	/* consistent after a repair, but objects lost or changed */
	OC_UNREPAIRED,	/* check still reports a problem after the repair */
	OC_MAX
};

static const char *const outcome_name[OC_MAX] = {
	"refused", "intact", "payload", "repaired", "cold", "altered", "unrepaired",
};

static const struct shmdev_type types_v1[] = {
	{ .id = T_PLAYER, .name = "Player", .size = 40, .max_count = 40,
	  .flags = SHMDEV_TYPE_KEYED, .version = 3 },
	{ .id = T_ITEM, .name = "Item", .size = 24, .max_count = 60 },
};

static const struct shmdev_type types_v2[] = {
	{ .id = T_PLAYER, .name = "Player", .size = 40, .max_count = 40,
	  .flags = SHMDEV_TYPE_KEYED, .version = 3 },
	{ .id = T_ITEM, .name = "Item", .size = 24, .max_count = 60 },
	{ .id = T_SCENE, .name = "Scene", .size = 100, .align = 16, .max_count = 10 },
};

#define NR_TYPES (sizeof(types_v2) / sizeof(types_v2[0]))

struct model_obj {
	uint16_t type;
	uint64_t handle;
	uint64_t key;
	unsigned char bytes[OBJ_MAX];
};

struct model {
	size_t n;
	struct model_obj o[MODEL_MAX];
};

/* One contiguous corruption: where, and the bytes it leaves there. */
struct change {
	enum target target;
	enum mutation mut;
	int reg;		/* region index; for TG_REGION_HDR its header */
	size_t off, len;
	unsigned char after[512];
};

struct campaign {
	struct shmdev_conf *conf;
	enum shmdev_backend backend;
	uint64_t key[NR_REG];
	struct shmdev_region *raw[NR_REG];	/* plain (non-owner) mappings */
	unsigned char *golden[NR_REG];
	size_t size[NR_REG];
	bool posix;
	char phdr_path[NR_REG][300];
	unsigned char phdr_golden[NR_REG][PHDR_LEN];
	struct layout_geom geom;
	uint32_t active;			/* active copy in the saved image */
	struct model model;
	uint64_t rng;
	uint64_t counts[TG_MAX][OC_MAX];
	uint64_t rdonly_refused, rdonly_opened;
};

static struct shmdev_ctx *ctx;

static uint64_t rnd(struct campaign *c)
{
	/* splitmix64: small, seedable, good enough for picking bytes. */
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct campaign *c, uint64_t n)
{
	return n ? rnd(c) % n : 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/* 4 KiB blocks: the Item type spans two blocks (two chunks). */
static struct shmdev_conf *mkconf(void)
{
	return tu_conf(ctx, "zone", 0, "4K", 3, NULL);
}

static void fill(struct campaign *c, void *obj, uint32_t size, uint64_t key)
{
	unsigned char *b = obj;
	uint32_t i;

	for (i = 0; i < size; i++)
		b[i] = (unsigned char)rnd(c);
	if (key)
		memcpy(b, &key, sizeof(key));
}

/*
 * Retire one slot of @type (its generation set to the last, then used and
 * freed), so that flips meet RETIRED tags too.
 */
static void retire_one(struct campaign *c, struct shmdev_pool *pool, uint16_t type)
{
	uint32_t slot_size, obj_offset;
	struct layout_slot *s;
	shmdev_handle_t h;
	void *obj;
	int i;

	layout_slot_geom(types_v2[type].size, types_v2[type].align ? types_v2[type].align : 8,
			 &slot_size, &obj_offset);
	for (i = 0; i < 2; i++) {
		if (type == T_PLAYER)
			ck_assert_int_eq(shmdev_force_get(pool, type, rnd(c) | 1, &obj, &h, NULL), 0);
		else
			ck_assert_int_eq(shmdev_alloc(pool, type, &obj, &h), 0);
		ck_assert_int_eq(shmdev_free(pool, h), 0);
		s = (struct layout_slot *)((char *)obj - obj_offset);
		if (!i)
			s->tag = layout_tag(LAYOUT_SLOT_FREE, SHMDEV_LAYOUT_GEN_MAX);
	}
	ck_assert_uint_eq(layout_tag_state(s->tag), LAYOUT_SLOT_RETIRED);
}

/* Build the pool: two opens with a layout change between, frees for free lists. */
static void populate(struct campaign *c)
{
	struct shmdev_pool *pool = NULL;
	shmdev_handle_t h[64];
	void *obj;
	unsigned int i;

	ck_assert_msg(shmdev_pool_open(ctx, c->conf, types_v1, 2, 0, &pool) == 0, "%s", shmdev_errmsg(ctx));
	for (i = 0; i < 30; i++) {
		uint64_t key = rnd(c) | 1;

		ck_assert_int_eq(shmdev_force_get(pool, T_PLAYER, key, &obj, &h[i], NULL), 0);
		fill(c, obj, 40, key);
	}
	for (i = 0; i < 30; i += 5)
		ck_assert_int_eq(shmdev_free(pool, h[i]), 0);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, T_ITEM, &obj, &h[i]), 0);
		fill(c, obj, 24, 0);
	}
	for (i = 3; i < 50; i += 5)
		ck_assert_int_eq(shmdev_free(pool, h[i]), 0);
	retire_one(c, pool, T_ITEM);
	retire_one(c, pool, T_PLAYER);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	ck_assert_msg(shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool) == 0, "%s", shmdev_errmsg(ctx));
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(shmdev_alloc(pool, T_SCENE, &obj, &h[i]), 0);
		fill(c, obj, 100, 0);
	}
	ck_assert_int_eq(shmdev_free(pool, h[2]), 0);
	ck_assert_int_eq(shmdev_free(pool, h[5]), 0);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
}

static int model_add(void *obj, shmdev_handle_t handle, void *data)
{
	struct model *m = data;
	struct model_obj *o = &m->o[m->n++];
	uint16_t type = shmdev_handle_type(handle);

	o->type = type;
	o->handle = handle;
	memcpy(o->bytes, obj, types_v2[type].size);
	if (type == T_PLAYER)
		memcpy(&o->key, obj, sizeof(o->key));
	return m->n == MODEL_MAX;
}

struct scan {
	const struct model *m;
	size_t seen;
	bool unknown;
};

static int scan_fn(void *obj, shmdev_handle_t handle, void *data)
{
	struct scan *s = data;
	size_t i;

	(void)obj;
	for (i = 0; i < s->m->n; i++)
		if (s->m->o[i].handle == handle)
			break;
	if (i == s->m->n)
		s->unknown = true;
	else
		s->seen++;
	return 0;
}

/*
 * 0 if @pool holds exactly the model's objects (same handles, keys, counts),
 * else 1.  *payload is set if some object's bytes differ.
 */
static int compare(struct shmdev_pool *pool, const struct model *m, bool *payload)
{
	struct scan s = { .m = m };
	size_t i, per[NR_TYPES] = { 0 };
	uint16_t t;

	*payload = false;
	for (t = 0; t < NR_TYPES; t++)
		if (shmdev_foreach(pool, t, scan_fn, &s))
			return 1;
	if (s.unknown || s.seen != m->n)
		return 1;
	for (i = 0; i < m->n; i++) {
		const struct model_obj *o = &m->o[i];
		shmdev_handle_t h = 0;
		void *obj = shmdev_get(pool, o->handle);

		if (!obj)
			return 1;
		per[o->type]++;
		if (o->type == T_PLAYER &&
		    (shmdev_find(pool, T_PLAYER, o->key, &h) != obj || h != o->handle))
			return 1;
		if (memcmp(obj, o->bytes, types_v2[o->type].size))
			*payload = true;
	}
	for (t = 0; t < NR_TYPES; t++) {
		struct shmdev_type_stats st;

		if (shmdev_pool_type_stats(pool, t, &st) || st.live_count != per[t])
			return 1;
	}
	return 0;
}

static int count_fn(void *obj, shmdev_handle_t handle, void *data)
{
	(void)obj;
	(void)handle;
	(*(uint64_t *)data)++;
	return 0;
}

/*
 * Drive the read paths (and on a writable pool the write paths) over a pool
 * that may be corrupt: results are ignored, only a crash or an out-of-bounds
 * access (ASan, valgrind) would fail.
 */
static void exercise(struct campaign *c, struct shmdev_pool *pool, bool writable)
{
	uint64_t n = 0;
	size_t i;
	uint16_t t;

	for (t = 0; t < NR_TYPES + 1; t++)
		shmdev_foreach(pool, t, count_fn, &n);
	for (i = 0; i < c->model.n; i++) {
		const struct model_obj *o = &c->model.o[i];
		void *obj = shmdev_get(pool, o->handle);

		if (obj)
			shmdev_handle_of(pool, obj);
		if (o->type == T_PLAYER)
			shmdev_find(pool, T_PLAYER, o->key, NULL);
	}
	shmdev_find(pool, T_PLAYER, rnd(c), NULL);
	shmdev_get(pool, rnd(c));
	if (!writable)
		return;
	for (t = 0; t < NR_TYPES; t++) {
		shmdev_handle_t h = 0;
		void *obj;

		if (shmdev_alloc(pool, t, &obj, &h) == 0)
			shmdev_free(pool, h);
	}
	for (i = 0; i < 3; i++) {
		shmdev_handle_t h = 0;
		void *obj;
		uint64_t key = i == 0 && c->model.n ? c->model.o[0].key : rnd(c);
		bool created = false;

		if (shmdev_force_get(pool, T_PLAYER, key ? key : 1, &obj, &h, &created) == 0 && created)
			shmdev_free(pool, h);
	}
	if (c->model.n)
		shmdev_free(pool, c->model.o[rnd_below(c, c->model.n)].handle);
}

/* ---- the saved image and its restoration ------------------------------- */

static void set_region_states_clean(struct campaign *c)
{
	int i;

	for (i = 0; i < NR_REG; i++) {
		struct shmdev_region *r = NULL;

		ck_assert_msg(shmdev_region_open(ctx, c->backend, c->key[i], 0, SHMDEV_REGION_OWNER, 0, &r) == 0,
			      "%s", shmdev_errmsg(ctx));
		ck_assert_int_eq(shmdev_region_detach(r), 0);
		shmdev_region_close(r);
	}
}

static void phdr_io(struct campaign *c, int reg, void *buf, bool write)
{
	int fd = open(c->phdr_path[reg], O_RDWR | O_CLOEXEC);
	ssize_t n;

	ck_assert_msg(fd >= 0, "open %s: %s", c->phdr_path[reg], strerror(errno));
	n = write ? pwrite(fd, buf, PHDR_LEN, 0) : pread(fd, buf, PHDR_LEN, 0);
	ck_assert_int_eq(n, PHDR_LEN);
	close(fd);
}

static void save(struct campaign *c)
{
	const struct layout_header *h;
	int i;

	for (i = 0; i < NR_REG; i++) {
		ck_assert_msg(shmdev_region_open(ctx, c->backend, c->key[i], 0, 0, 0, &c->raw[i]) == 0,
			      "%s", shmdev_errmsg(ctx));
		c->posix = shmdev_region_backend(c->raw[i]) == SHMDEV_BACKEND_POSIX;
		if (c->posix) {
			const char *prefix = getenv("SHMDEV_POSIX_PREFIX");

			/* The object name of region_posix.c: "<prefix>.<key as 16 hex digits>". */
			if (prefix && *prefix)
				snprintf(c->phdr_path[i], sizeof(c->phdr_path[i]), "/dev/shm/%s.%016" PRIx64,
					 prefix, c->key[i]);
			else
				snprintf(c->phdr_path[i], sizeof(c->phdr_path[i]), "/dev/shm/shmpool.%u.%016" PRIx64,
					 (unsigned int)geteuid(), c->key[i]);
		}
		c->size[i] = shmdev_region_size(c->raw[i]);
		c->golden[i] = malloc(c->size[i]);
		ck_assert_ptr_nonnull(c->golden[i]);
		memcpy(c->golden[i], shmdev_region_addr(c->raw[i]), c->size[i]);
		if (c->posix)
			phdr_io(c, i, c->phdr_golden[i], false);
	}
	h = (const struct layout_header *)c->golden[0];
	layout_geom(h->max_types, h->max_blocks, &c->geom);
	c->active = h->active;
	ck_assert_uint_eq(h->open_epoch, h->close_epoch);
}

/* Back to the saved image, regions clean; @crash makes the pool look crashed. */
static void restore(struct campaign *c, bool crash)
{
	struct layout_header *h;
	int i;

	for (i = 0; i < NR_REG; i++) {
		memcpy(shmdev_region_addr(c->raw[i]), c->golden[i], c->size[i]);
		if (c->posix)
			phdr_io(c, i, c->phdr_golden[i], true);
	}
	set_region_states_clean(c);
	h = shmdev_region_addr(c->raw[0]);
	if (crash)
		h->close_epoch = h->open_epoch - 1;
}

/* The checksum as layout.h documents it, over the saved geometry. */
static uint64_t doc_checksum(const struct campaign *c, const unsigned char *base)
{
	const unsigned char *t = base + SHMDEV_LAYOUT_HEADER_SIZE + (size_t)c->active * c->geom.table_size;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 8; i < SHMDEV_LAYOUT_COLD_SIZE; i++)
		h = (h ^ base[i]) * 0x100000001b3ULL;
	for (i = 8; i < c->geom.table_size; i++)
		h = (h ^ t[i]) * 0x100000001b3ULL;
	return h;
}

static void apply(struct campaign *c, const struct change *ch)
{
	if (ch->target == TG_REGION_HDR) {
		unsigned char buf[PHDR_LEN];

		phdr_io(c, ch->reg, buf, false);
		memcpy(buf + ch->off, ch->after, ch->len);
		phdr_io(c, ch->reg, buf, true);
		return;
	}
	memcpy((char *)shmdev_region_addr(c->raw[ch->reg]) + ch->off, ch->after, ch->len);
	if (ch->target == TG_FORGED) {
		unsigned char *base = shmdev_region_addr(c->raw[0]);
		uint64_t sum = doc_checksum(c, base);

		memcpy(base + SHMDEV_LAYOUT_HEADER_SIZE + (size_t)c->active * c->geom.table_size,
		       &sum, sizeof(sum));
	}
}

/* ---- choosing a corruption --------------------------------------------- */

static const struct layout_table *saved_table(const struct campaign *c, uint32_t copy)
{
	return (const struct layout_table *)(c->golden[0] + SHMDEV_LAYOUT_HEADER_SIZE +
					     (size_t)copy * c->geom.table_size);
}

/* Byte range of a random initialised slot's header or object in a block. */
static void pick_slot(struct campaign *c, bool payload, int *reg, size_t *off, size_t *len)
{
	const struct layout_table *t = saved_table(c, c->active);
	const struct layout_type *lt = (const struct layout_type *)(t + 1);
	const struct layout_hot *hot = (const struct layout_hot *)(c->golden[0] + c->geom.hot_offset);
	uint16_t type = (uint16_t)rnd_below(c, NR_TYPES);
	uint64_t slot = rnd_below(c, hot[type].watermark);
	uint32_t i;

	for (i = 0; i < lt[type].nr_chunks; i++) {
		const struct layout_chunk *chk = &lt[type].chunks[i];

		if (slot >= chk->first_slot && slot - chk->first_slot < chk->nr_slots) {
			*reg = 1 + (int)chk->block;
			*off = chk->offset + (slot - chk->first_slot) * lt[type].slot_size;
			break;
		}
	}
	ck_assert_uint_lt(i, lt[type].nr_chunks);
	if (payload) {
		*off += lt[type].obj_offset;
		*len = lt[type].size;
	} else {
		*len = SHMDEV_LAYOUT_SLOT_HDR;
	}
}

/* Corrupt [off, off+len) of @base, writing the result into ch->after. */
static void mutate(struct campaign *c, struct change *ch, const unsigned char *base,
		   size_t area)
{
	size_t i, n;

	switch (ch->mut) {
	case MUT_FLIP1:
	case MUT_FLIPN:
		/* Bits within a window of up to 16 bytes. */
		ch->len = area < 16 ? area : 1 + rnd_below(c, 16);
		ch->off += rnd_below(c, area - ch->len + 1);
		memcpy(ch->after, base + ch->off, ch->len);
		n = ch->mut == MUT_FLIP1 ? 1 : 2 + rnd_below(c, 7);
		for (i = 0; i < n; i++) {
			uint64_t bit = rnd_below(c, ch->len * 8);

			ch->after[bit / 8] ^= (unsigned char)(1U << (bit % 8));
		}
		break;
	case MUT_BYTES:
		ch->len = 1 + rnd_below(c, area < 16 ? area : 16);
		ch->off += rnd_below(c, area - ch->len + 1);
		for (i = 0; i < ch->len; i++)
			ch->after[i] = (unsigned char)rnd(c);
		break;
	default:
		ch->len = 1 + rnd_below(c, area < sizeof(ch->after) ? area : sizeof(ch->after));
		ch->off += rnd_below(c, area - ch->len + 1);
		memset(ch->after, 0, ch->len);
		break;
	}
}

static void pick(struct campaign *c, struct change *ch)
{
	const struct layout_table *t = saved_table(c, c->active);
	const struct layout_type *lt = (const struct layout_type *)(t + 1);
	const unsigned char *base;
	size_t area;

again:
	memset(ch, 0, sizeof(*ch));
	do
		ch->target = (enum target)rnd_below(c, TG_MAX);
	while (ch->target == TG_REGION_HDR && !c->posix);
	ch->mut = (enum mutation)rnd_below(c, MUT_MAX);
	ch->reg = 0;
	switch (ch->target) {
	case TG_HDR_COLD:
		ch->off = 0;
		area = SHMDEV_LAYOUT_COLD_SIZE;
		break;
	case TG_HDR_HOT:
		ch->off = SHMDEV_LAYOUT_COLD_SIZE;
		area = SHMDEV_LAYOUT_HEADER_SIZE - SHMDEV_LAYOUT_COLD_SIZE;
		break;
	case TG_TABLE_ACTIVE:
	case TG_TABLE_INACTIVE:
		ch->off = SHMDEV_LAYOUT_HEADER_SIZE +
			  (size_t)(c->active ^ (ch->target == TG_TABLE_INACTIVE)) * c->geom.table_size;
		area = c->geom.table_size;
		break;
	case TG_HOT:
		ch->off = c->geom.hot_offset;
		area = NR_TYPES * sizeof(struct layout_hot);
		break;
	case TG_SLOT_HDR:
	case TG_PAYLOAD:
		pick_slot(c, ch->target == TG_PAYLOAD, &ch->reg, &ch->off, &area);
		break;
	case TG_FORGED:
		/* Cold header bytes 8..127 or the active table past its checksum. */
		if (rnd(c) & 1) {
			ch->off = 8;
			area = SHMDEV_LAYOUT_COLD_SIZE - 8;
		} else {
			/* The entries in use: head, types 0..2 (mostly their first chunks), blocks 0..3. */
			size_t tab = SHMDEV_LAYOUT_HEADER_SIZE + (size_t)c->active * c->geom.table_size;
			size_t blocks = tab + sizeof(struct layout_table) +
					(size_t)c->geom.max_types * sizeof(struct layout_type);

			switch (rnd_below(c, 4)) {
			case 0:
				ch->off = tab + 8;
				area = sizeof(struct layout_table) - 8;
				break;
			case 1:
				ch->off = blocks;
				area = 4 * sizeof(struct layout_block);
				break;
			default:
				ch->off = tab + sizeof(struct layout_table) +
					  rnd_below(c, NR_TYPES) * sizeof(struct layout_type);
				area = offsetof(struct layout_type, chunks) + 3 * sizeof(struct layout_chunk);
				break;
			}
		}
		break;
	case TG_HASH:
		ch->reg = 1 + (int)lt[T_PLAYER].hash_block;
		ch->off = lt[T_PLAYER].hash_offset;
		area = (size_t)lt[T_PLAYER].nr_buckets * SHMDEV_LAYOUT_INDEX_ENTRY;
		break;
	case TG_REGION_HDR:
		ch->reg = (int)rnd_below(c, NR_REG);
		ch->off = 0;
		area = PHDR_LEN;
		break;
	default:
		ck_abort();
	}
	base = ch->target == TG_REGION_HDR ? c->phdr_golden[ch->reg] : c->golden[ch->reg];
	mutate(c, ch, base, area);
	/* Zeroing zeros changes nothing: pick again. */
	if (!memcmp(base + ch->off, ch->after, ch->len))
		goto again;
}

static bool overlaps(const struct change *ch, size_t off, size_t len)
{
	return ch->off < off + len && off < ch->off + ch->len;
}

/* Did the change hit a watermark of a type in use? */
static bool hits_watermark(const struct campaign *c, const struct change *ch)
{
	uint16_t t;

	for (t = 0; t < NR_TYPES; t++)
		if (overlaps(ch, c->geom.hot_offset + t * sizeof(struct layout_hot) +
				 offsetof(struct layout_hot, watermark), sizeof(uint64_t)))
			return true;
	return false;
}

/* ---- one iteration ----------------------------------------------------- */

static enum outcome run_one(struct campaign *c, const struct change *ch, bool crash,
			    uint64_t iter, bool *stale_table)
{
	struct shmdev_pool *pool = NULL;
	const struct layout_header *h;
	bool payload = false;
	int err;

	restore(c, crash);
	apply(c, ch);
	h = shmdev_region_addr(c->raw[0]);
	*stale_table = h->active == !c->active;

	/* A reader (shmpoolctl pool show) first: no lease, no repair. */
	err = shmdev_pool_open(ctx, c->conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool);
	if (err) {
		ck_assert_msg(*shmdev_errmsg(ctx), "iteration %" PRIu64 ": read-only open %d without a message",
			      iter, err);
		c->rdonly_refused++;
	} else {
		c->rdonly_opened++;
		shmdev_pool_check(pool);
		exercise(c, pool, false);
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
		pool = NULL;
	}

	err = shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool);
	if (err) {
		ck_assert_msg(*shmdev_errmsg(ctx), "iteration %" PRIu64 ": open %d without a message", iter, err);
		return OC_REFUSED;
	}
	if (shmdev_pool_start(pool) == SHMDEV_START_CREATED) {
		exercise(c, pool, true);
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
		return OC_COLD;
	}
	if (shmdev_pool_check(pool) == 0) {
		int diff = compare(pool, &c->model, &payload);

		exercise(c, pool, true);
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
		if (diff)
			return OC_ALTERED;
		return payload ? OC_PAYLOAD : OC_INTACT;
	}
	ck_assert_msg(*shmdev_errmsg(ctx), "iteration %" PRIu64 ": check failed without a message", iter);
	/* Detected.  Use the corrupt pool anyway, then repair the same damage. */
	exercise(c, pool, true);
	shmdev_pool_abandon(pool);
	pool = NULL;
	restore(c, true);
	apply(c, ch);
	((struct layout_header *)shmdev_region_addr(c->raw[0]))->close_epoch ^= 1;
	err = shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool);
	ck_assert_msg(err == 0, "iteration %" PRIu64 ": opened once, refused after: %s", iter,
		      shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CRASH);
	if (shmdev_pool_check(pool)) {
		ck_assert_msg(*shmdev_errmsg(ctx), "iteration %" PRIu64 ": check failed without a message", iter);
		exercise(c, pool, true);
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
		return OC_UNREPAIRED;
	}
	err = compare(pool, &c->model, &payload);
	exercise(c, pool, true);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	return err ? OC_ALTERED : OC_REPAIRED;
}

/* What each target may come to; anything else fails the test. */
static void judge(const struct campaign *c, const struct change *ch, enum outcome oc,
		  bool stale_table, uint64_t iter, unsigned int seed)
{
	bool ok;

	switch (ch->target) {
	case TG_HDR_COLD:
		/*
		 * Even a zeroed magic is refused: the committed table says the
		 * pool was initialised, so a cold start would lose objects.
		 */
		ok = oc == OC_REFUSED;
		break;
	case TG_HDR_HOT:
		/* Selecting the other (older, valid) table cannot be told from a commit. */
		ok = oc == OC_REFUSED || oc == OC_INTACT || oc == OC_REPAIRED ||
		     (oc == OC_ALTERED && stale_table);
		break;
	case TG_TABLE_ACTIVE:
		ok = oc == OC_REFUSED;
		break;
	case TG_TABLE_INACTIVE:
		ok = oc == OC_INTACT;
		break;
	case TG_HOT:
		ok = oc == OC_INTACT || oc == OC_REPAIRED ||
		     (oc == OC_ALTERED && hits_watermark(c, ch));
		break;
	case TG_HASH:
		ok = oc == OC_INTACT || oc == OC_REPAIRED;
		break;
	case TG_PAYLOAD:
		ok = oc == OC_INTACT || oc == OC_PAYLOAD;
		break;
	case TG_SLOT_HDR:
		ok = oc != OC_COLD && oc != OC_REFUSED;
		break;
	case TG_FORGED:
		/* A valid checksum over bad values: anything but a crash. */
		ok = oc != OC_COLD;
		break;
	default:
		ok = oc == OC_REFUSED || oc == OC_INTACT || oc == OC_REPAIRED;
		break;
	}
	ck_assert_msg(ok, "iteration %" PRIu64 " (SHMDEV_TEST_SEED=%u): %s, mutation %d at region %d offset %zu length %zu: outcome %s (%s)",
		      iter, seed, target_name[ch->target], ch->mut, ch->reg, ch->off, ch->len,
		      outcome_name[oc], shmdev_errmsg(ctx));
}

static unsigned int test_seed(void)
{
	const char *s = getenv("SHMDEV_TEST_SEED");

	if (s && *s)
		return (unsigned int)strtoul(s, NULL, 0);
	return (unsigned int)time(NULL) ^ (unsigned int)getpid();
}

static void report(const struct campaign *c, uint64_t iters, unsigned int seed)
{
	uint64_t tot[OC_MAX] = { 0 };
	int t, o;

	printf("bitflip: %" PRIu64 " corruptions (SHMDEV_TEST_SEED=%u, backend %s)\n", iters, seed,
	       c->posix ? "posix" : "device");
	printf("bitflip: %-15s", "target");
	for (o = 0; o < OC_MAX; o++)
		printf(" %10s", outcome_name[o]);
	printf("\n");
	for (t = 0; t < TG_MAX; t++) {
		printf("bitflip: %-15s", target_name[t]);
		for (o = 0; o < OC_MAX; o++) {
			printf(" %10" PRIu64, c->counts[t][o]);
			tot[o] += c->counts[t][o];
		}
		printf("\n");
	}
	printf("bitflip: tried %" PRIu64 ", refused %" PRIu64 ", tolerated %" PRIu64 " (intact %" PRIu64 ", payload %" PRIu64 ", repaired %" PRIu64 "), cold %" PRIu64 ", altered %" PRIu64 ", unrepaired %" PRIu64 "; read-only opens: %" PRIu64 " refused, %" PRIu64 " opened; crashes 0\n",
	       iters, tot[OC_REFUSED], tot[OC_INTACT] + tot[OC_PAYLOAD] + tot[OC_REPAIRED],
	       tot[OC_INTACT], tot[OC_PAYLOAD], tot[OC_REPAIRED], tot[OC_COLD], tot[OC_ALTERED],
	       tot[OC_UNREPAIRED], c->rdonly_refused, c->rdonly_opened);
	fflush(stdout);
}

START_TEST(test_bitflip_campaign)
{
	struct campaign *c = calloc(1, sizeof(*c));
	struct shmdev_pool *pool = NULL;
	unsigned int seed = test_seed();
	uint64_t iters, i;
	int r;

	ck_assert_ptr_nonnull(c);
	iters = env_u64("SHMDEV_BITFLIP_ITERS", tu_quick() ? 150 : getenv("SHMPOOL_VM") ? 400 : 2000);
	c->rng = seed;
	c->conf = mkconf();
	c->backend = tu_backend();
	for (r = 0; r < NR_REG; r++)
		c->key[r] = tu_key((unsigned int)r);
	populate(c);
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool), 0);
	for (r = 0; r < (int)NR_TYPES; r++)
		ck_assert_int_eq(shmdev_foreach(pool, (uint16_t)r, model_add, &c->model), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	ck_assert_uint_eq(c->model.n, 24 + 40 + 6);
	save(c);
	for (i = 0; i < iters; i++) {
		struct change ch;
		enum outcome oc;
		bool crash = rnd(c) & 1, stale = false;

		pick(c, &ch);
		oc = run_one(c, &ch, crash, i, &stale);
		judge(c, &ch, oc, stale, i, seed);
		c->counts[ch.target][oc]++;
	}
	report(c, iters, seed);
	for (r = 0; r < NR_REG; r++) {
		shmdev_region_close(c->raw[r]);
		free(c->golden[r]);
	}
	shmdev_conf_free(c->conf);
	free(c);
}
END_TEST

/*
 * The two corruptions the design cannot tell from a legitimate state, kept
 * as tests so that a change of behaviour is noticed (SECURITY.md lists
 * them).  Both are reported to the application, as a cold start or by the
 * objects a type lost, not by a refusal.
 */
static struct campaign *small_pool(void)
{
	struct campaign *c = calloc(1, sizeof(*c));
	struct shmdev_pool *pool = NULL;
	int r;

	ck_assert_ptr_nonnull(c);
	c->rng = 42;
	c->conf = mkconf();
	c->backend = tu_backend();
	for (r = 0; r < NR_REG; r++)
		c->key[r] = tu_key((unsigned int)r);
	populate(c);
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool), 0);
	for (r = 0; r < (int)NR_TYPES; r++)
		ck_assert_int_eq(shmdev_foreach(pool, (uint16_t)r, model_add, &c->model), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	save(c);
	return c;
}

static void small_pool_free(struct campaign *c)
{
	int r;

	for (r = 0; r < NR_REG; r++) {
		shmdev_region_close(c->raw[r]);
		free(c->golden[r]);
	}
	shmdev_conf_free(c->conf);
	free(c);
}

/*
 * A zeroed magic over a layout committed since its cold start is damage,
 * not "never initialised": refused, and nothing is touched.
 */
START_TEST(test_zeroed_magic_is_refused)
{
	struct campaign *c = small_pool();
	struct shmdev_pool *pool = NULL;
	struct shmdev_type_stats st;
	struct layout_header *h = shmdev_region_addr(c->raw[0]);

	h->magic = 0;
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool), -EUCLEAN);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "lost its magic"));
	ck_assert_uint_eq(h->magic, 0);
	/* Put the magic back: every object is still there. */
	h->magic = SHMDEV_LAYOUT_MAGIC;
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool), 0);
	ck_assert_int_ne(shmdev_pool_start(pool), SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_PLAYER, &st), 0);
	ck_assert_uint_gt(st.live_count, 0);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	small_pool_free(c);
}
END_TEST

/* Magic 0 and no committed table: a cold start that died before its magic. */
START_TEST(test_unfinished_cold_start_is_redone)
{
	struct campaign *c = small_pool();
	struct shmdev_pool *pool = NULL;
	struct layout_header *h = shmdev_region_addr(c->raw[0]);
	struct layout_table *t0 = layout_table_at(h, h, 0), *t1 = layout_table_at(h, h, 1);

	/* What layout_init() leaves if killed just before its last store. */
	h->magic = 0;
	memset(t1, 0, h->table_size);
	t0->seq = 1;
	t0->checksum = layout_checksum(h, t0);
	h->active = 0;
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, NULL, 0, SHMDEV_POOL_RDONLY, &pool), -ENODATA);
	ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "never initialised"));
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool), 0);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_CREATED);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	small_pool_free(c);
}
END_TEST

/*
 * "active" naming the other copy, when that copy holds the previous valid
 * layout, looks exactly like a crash between writing a new table and
 * flipping "active": the older layout is used, the type added since is
 * added again, empty.
 */
START_TEST(test_active_flip_selects_the_older_table)
{
	struct campaign *c = small_pool();
	struct shmdev_pool *pool = NULL;
	struct shmdev_type_stats st;
	struct layout_header *h = shmdev_region_addr(c->raw[0]);
	bool payload;

	h->active ^= 1;
	ck_assert_int_eq(shmdev_pool_open(ctx, c->conf, types_v2, NR_TYPES, 0, &pool), 0);
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CLEAN);
	ck_assert_int_eq(shmdev_pool_check(pool), 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_SCENE, &st), 0);
	ck_assert_uint_eq(st.live_count, 0);
	ck_assert_int_eq(shmdev_pool_type_stats(pool, T_PLAYER, &st), 0);
	ck_assert_uint_eq(st.live_count, 24);
	ck_assert_int_eq(compare(pool, &c->model, &payload), 1);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	small_pool_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bitflip");
	TCase *tc;

	tu_init("bitflip");
	tu_fixture(&ctx, tu_destroy_all);
	tc = tcase_create("campaign");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 1800);
	tcase_add_test(tc, test_bitflip_campaign);
	suite_add_tcase(s, tc);

	tc = tcase_create("magic-and-tables");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_zeroed_magic_is_refused);
	tcase_add_test(tc, test_unfinished_cold_start_is_redone);
	tcase_add_test(tc, test_active_flip_selects_the_older_table);
	suite_add_tcase(s, tc);

	return tu_run(s);
}
