// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Migration on resume (issue 13): a type registered with another size,
 * align, version or field list than the stored one, both described, is
 * migrated instead of refused.
 *
 *   pool_migrate_prepare()  after the blocks are open, before anything is
 *                           written: compares each described type with its
 *                           stored field table, refuses a change that needs
 *                           a converter the type does not have (-EINVAL
 *                           naming type, field, old and new kind), and plans
 *                           the change again without writing (-ENOSPC then,
 *                           naming the bytes the new slots need)
 *   pool_migrate_run()      after layout_plan_at() carved the new slots and
 *                           wrote the new field tables, before the commit:
 *                           copies every slot below the watermark into its
 *                           new place (header verbatim, a live object
 *                           converted, then the converter)
 *
 * The commit that switches the table makes the new slots count; a kill
 * before it leaves the old layout whole (only free space was written, under
 * the header's "changing" flag), and the next open migrates from scratch.
 * The KEYED index of a migrated type is new and empty: the open rebuilds it
 * from the slots after the commit through pool_repair_type(), as it does
 * for a raised type's new index.
 *
 * Conversions that are exact (no converter needed), field matched by name:
 *   same kind and size                      copied
 *   int -> wider int, uint -> wider uint    sign- / zero-extended
 *   uint -> wider int                       zero-extended
 *   float -> double                         converted
 *   bytes -> as many or more bytes          copied, the rest zero
 * Anything else (narrower, int <-> uint of the same size, int -> float,
 * handle <-> uint, ...) is left to the converter.  A new field takes its
 * default or zeroes; a removed one is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pool_internal.h"
#include "migrate.h"

enum conv_opcode { OP_COPY, OP_SEXT, OP_ZEXT, OP_F2D };

struct conv_op {
	uint32_t op;
	uint32_t src, dst;	/* offsets in the old and the new object */
	uint32_t n, m;		/* bytes read and written */
};

struct conv {
	struct conv_op *ops;
	uint32_t nr_ops;
	uint8_t *tmpl;		/* the new object before the copies: defaults */
	bool tmpl_zero;
	uint32_t new_size;
};

static void conv_free(struct conv *cv)
{
	free(cv->ops);
	free(cv->tmpl);
	memset(cv, 0, sizeof(*cv));
}

/* The exact conversion of old field @o into new field @n: 0 and @op, or -1. */
static int rule(const struct layout_field *o, const struct shmdev_field *n, struct conv_op *op)
{
	op->src = o->offset;
	op->dst = n->offset;
	op->n = o->size;
	op->m = n->size;
	if (o->kind == n->kind) {
		switch (o->kind) {
		case SHMDEV_FIELD_INT:
			if (n->size < o->size)
				return -1;
			op->op = n->size == o->size ? OP_COPY : OP_SEXT;
			return 0;
		case SHMDEV_FIELD_UINT:
			if (n->size < o->size)
				return -1;
			op->op = n->size == o->size ? OP_COPY : OP_ZEXT;
			return 0;
		case SHMDEV_FIELD_BYTES:
			if (n->size < o->size)
				return -1;
			op->op = OP_COPY;
			op->m = o->size;
			return 0;
		default:	/* float, double, handle: fixed sizes */
			op->op = OP_COPY;
			return o->size == n->size ? 0 : -1;
		}
	}
	if (o->kind == SHMDEV_FIELD_UINT && n->kind == SHMDEV_FIELD_INT && n->size > o->size) {
		op->op = OP_ZEXT;
		return 0;
	}
	if (o->kind == SHMDEV_FIELD_FLOAT && n->kind == SHMDEV_FIELD_DOUBLE) {
		op->op = OP_F2D;
		return 0;
	}
	return -1;
}

static int cmp_op(const void *a, const void *b)
{
	const struct conv_op *x = a, *y = b;

	return (x->src > y->src) - (x->src < y->src);
}

/*
 * The conversion of type @lt (stored fields @of) into @ut.  @cv may be NULL
 * (only the rules are checked).  -EINVAL naming the field a missing
 * converter would have to handle.
 */
static int conv_build(struct shmdev_ctx *ctx, const struct layout_type *lt,
		      const struct layout_field *of, const struct shmdev_type *ut,
		      struct conv *cv)
{
	struct conv c = { 0 };
	char k1[24], k2[24];
	uint32_t i, j, k;

	c.ops = calloc(ut->nr_fields ? ut->nr_fields : 1, sizeof(*c.ops));
	c.tmpl = calloc(1, ut->size);
	if (!c.ops || !c.tmpl) {
		conv_free(&c);
		return shmdev_fail(ctx, ENOMEM, "type %u \"%s\": out of memory planning its migration",
				   ut->id, ut->name);
	}
	c.new_size = ut->size;
	for (i = 0; i < ut->nr_fields; i++) {
		const struct shmdev_field *n = &ut->fields[i];

		for (j = 0; j < lt->nr_fields; j++)
			if (!strncmp(of[j].name, n->name, sizeof(of[j].name)))
				break;
		if (j == lt->nr_fields) {
			/* New: its default, or zeroes. */
			if (n->def)
				memcpy(c.tmpl + n->offset, n->def, n->size);
			continue;
		}
		if (!rule(&of[j], n, &c.ops[c.nr_ops])) {
			c.nr_ops++;
			continue;
		}
		if (!ut->convert) {
			conv_free(&c);
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": field \"%s\" was %s of %" PRIu32 " bytes, now %s of %" PRIu32 " bytes: not an exact conversion (narrower, or another kind) and the type has no converter; the migration is refused and nothing was changed",
					   ut->id, ut->name, n->name,
					   layout_kind_name(of[j].kind, k1, sizeof(k1)), of[j].size,
					   layout_kind_name(n->kind, k2, sizeof(k2)), n->size);
		}
		/* Left to the converter (the new field starts at its default). */
		if (n->def)
			memcpy(c.tmpl + n->offset, n->def, n->size);
	}
	/* Adjacent plain copies become one. */
	qsort(c.ops, c.nr_ops, sizeof(*c.ops), cmp_op);
	for (i = 0, k = 0; i < c.nr_ops; i++) {
		struct conv_op *last = k ? &c.ops[k - 1] : NULL;

		if (last && last->op == OP_COPY && c.ops[i].op == OP_COPY &&
		    last->n == last->m && c.ops[i].n == c.ops[i].m &&
		    last->src + last->n == c.ops[i].src && last->dst + last->m == c.ops[i].dst) {
			last->n += c.ops[i].n;
			last->m += c.ops[i].m;
			continue;
		}
		c.ops[k++] = c.ops[i];
	}
	c.nr_ops = k;
	c.tmpl_zero = true;
	for (i = 0; i < ut->size; i++)
		if (c.tmpl[i])
			c.tmpl_zero = false;
	if (cv)
		*cv = c;
	else
		conv_free(&c);
	return 0;
}

int pool_migrate_prepare(struct shmdev_pool *p, struct layout_params *lp,
			 const struct shmdev_type *types, size_t nr_types,
			 struct layout_table *scratch, uint8_t *changes, uint8_t *migrate)
{
	struct layout_type *lts = layout_types(layout_active(p->base));
	size_t i, nr = 0;
	bool any = false;
	int err;

	memset(migrate, 0, p->hdr->max_types);
	for (i = 0; i < nr_types; i++) {
		const struct shmdev_type *ut = &types[i];
		const struct layout_type *lt = &lts[ut->id];

		if (!lt->used || !layout_migratable(lt, ut))
			continue;
		any = true;
		if (lt->size == ut->size && lt->align == (ut->align < 8 ? 8 : ut->align) &&
		    lt->version == ut->version && layout_fields_same(lt, p->baddr, ut))
			continue;
		err = conv_build(p->ctx, lt, layout_fields(lt, p->baddr), ut, NULL);
		if (err)
			return err;
		if (ut->convert &&
		    ((ut->convert_from_version && ut->convert_from_version != lt->version) ||
		     (ut->convert_from_size && ut->convert_from_size != lt->size)))
			return shmdev_fail(p->ctx, EINVAL, "type %u \"%s\": its converter reads version %" PRIu32 " (%" PRIu32 " bytes), but the stored type is version %" PRIu32 " (%" PRIu32 " bytes); the migration is refused and nothing was changed",
					   ut->id, ut->name, ut->convert_from_version,
					   ut->convert_from_size, lt->version, lt->size);
		if (p->rdonly)
			return shmdev_fail(p->ctx, EROFS, "type %u \"%s\": the program's description differs from the stored one; a read-only open cannot migrate it",
					   ut->id, ut->name);
		migrate[ut->id] = 1;
		nr++;
	}
	/*
	 * A transaction a crash left open is rolled back after the layout
	 * change (pool_open.c), and its snapshots name the objects' old places:
	 * migrating first would put the rollback's bytes into freed space.
	 */
	if (nr && pool_tx_open_after_crash(p))
		return shmdev_fail(p->ctx, EAGAIN, "pool: %zu type(s) would migrate, but a transaction that a crash interrupted is still open in the pool's log, and its rollback needs the objects where they are; nothing was changed: open the pool once with the types as stored (the build that crashed), which rolls it back, then upgrade",
				   nr);
	if (!any)
		return -ENOENT;		/* nothing deferred: the first plan stands */
	lp->migrate = migrate;
	lp->rblocks = p->baddr;
	/* The whole change again, without writing: -ENOSPC here changes nothing. */
	return layout_plan(p->ctx, p->base, lp, types, nr_types, p->rdonly, scratch, changes);
}

/* Slot @n of the type whose chunks are @ch (cursor @c, slots ascending). */
static char *walk(const struct layout_chunk *ch, void *const *blocks, uint32_t slot_size,
		  uint32_t *c, uint64_t n)
{
	while (n >= ch[*c].first_slot + ch[*c].nr_slots)
		(*c)++;
	return (char *)blocks[ch[*c].block] + ch[*c].offset + (n - ch[*c].first_slot) * slot_size;
}

static void convert_obj(const struct conv *cv, const char *src, char *dst)
{
	uint32_t i;

	if (!cv->tmpl_zero)
		memcpy(dst, cv->tmpl, cv->new_size);
	for (i = 0; i < cv->nr_ops; i++) {
		const struct conv_op *op = &cv->ops[i];
		int64_t v = 0;
		uint64_t u = 0;
		float f;
		double d;

		switch (op->op) {
		case OP_COPY:
			memcpy(dst + op->dst, src + op->src, op->m);
			break;
		case OP_ZEXT:
			memcpy(&u, src + op->src, op->n);	/* little-endian (layout.h) */
			memcpy(dst + op->dst, &u, op->m);
			break;
		case OP_SEXT:
			memcpy(&v, src + op->src, op->n);
			v = (int64_t)((uint64_t)v << (64 - 8 * op->n)) >> (64 - 8 * op->n);
			memcpy(dst + op->dst, &v, op->m);
			break;
		case OP_F2D:
			memcpy(&f, src + op->src, sizeof(f));
			d = f;
			memcpy(dst + op->dst, &d, sizeof(d));
			break;
		}
	}
}

/*
 * Fault in the new slots below @wm in one call per chunk (the kernel then
 * allocates the pages in a batch, not one fault at a time): most of the
 * time of a migration into fresh memory.  A kernel without
 * MADV_POPULATE_WRITE (before 5.14) faults them in as they are written.
 */
static void prefault(struct shmdev_pool *p, const struct layout_type *nt,
		     const struct layout_chunk *nc, uint64_t wm)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uint32_t c;

	for (c = 0; c < nt->nr_chunks && nc[c].first_slot < wm; c++) {
		uint64_t n = wm - nc[c].first_slot < nc[c].nr_slots ? wm - nc[c].first_slot : nc[c].nr_slots;
		uintptr_t a = (uintptr_t)p->baddr[nc[c].block] + nc[c].offset;
		uintptr_t start = a & ~(page - 1), end = a + n * nt->slot_size;

		/* Only writes of zeroes' pages: the bytes are the layout's free space. */
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	}
#else
	(void)p, (void)nt, (void)nc, (void)wm;
#endif
}

/* Copy type @id's slots from the active table's places to @scratch's. */
static int migrate_type(struct shmdev_pool *p, struct layout_table *scratch, uint32_t id,
			const struct shmdev_type *ut, uint64_t *objects)
{
	const struct layout_type *ot = &layout_types(layout_active(p->base))[id];
	const struct layout_type *nt = &layout_types(scratch)[id];
	const struct layout_chunk *oc = layout_chunks(ot, p->baddr);
	const struct layout_chunk *nc = layout_chunks(nt, p->baddr);
	struct layout_hot *hot = &layout_hot_at(p->base, &p->geom)[id];
	uint64_t wm = hot->watermark < ot->max_count ? hot->watermark : ot->max_count, n;
	uint32_t ci = 0, cj = 0;
	struct conv cv;
	int err;

	err = conv_build(p->ctx, ot, layout_fields(ot, p->baddr), ut, &cv);
	if (err)
		return err;
	prefault(p, nt, nc, wm);
	CRASH_POINT(p, "migrate:type");
	for (n = 0; n < wm; n++) {
		const char *os = walk(oc, p->baddr, ot->slot_size, &ci, n);
		char *ns = walk(nc, p->baddr, nt->slot_size, &cj, n);
		uint32_t tag = load_tag((const struct layout_slot *)os);

		memcpy(ns, os, SHMDEV_LAYOUT_SLOT_HDR);
		if (state_live(layout_tag_state(tag)) && layout_tag_gen(tag)) {
			convert_obj(&cv, os + ot->obj_offset, ns + nt->obj_offset);
			if (ut->convert) {
				CRASH_POINT(p, "migrate:convert");
				err = ut->convert(os + ot->obj_offset, ns + nt->obj_offset, ut->convert_data);
				if (err) {
					conv_free(&cv);
					return shmdev_fail(p->ctx, EINVAL, "type %u \"%s\": the converter failed on slot %" PRIu64 " (it returned %d); the migration is abandoned and the stored layout is unchanged",
							   id, ut->name, n, err);
				}
			}
			(*objects)++;
		}
		CRASH_POINT(p, "migrate:slot");
	}
	conv_free(&cv);
	return 0;
}

int pool_migrate_run(struct shmdev_pool *p, struct layout_table *scratch, const uint8_t *changes,
		     const struct shmdev_type *types, size_t nr_types)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), objects = 0, bytes = 0;
	size_t i, nr = 0;
	int err;

	for (i = 0; i < nr_types; i++)
		nr += changes[types[i].id] == LAYOUT_MIGRATED;
	if (!nr)
		return 0;
	for (i = 0; i < nr_types; i++) {
		const struct layout_type *ot = &layout_types(layout_active(p->base))[types[i].id];
		uint64_t before = objects;

		if (changes[types[i].id] != LAYOUT_MIGRATED)
			continue;
		err = migrate_type(p, scratch, types[i].id, &types[i], &objects);
		if (err)
			return err;
		bytes += (objects - before) * ot->size;
		shmdev_info(p->ctx, "type %u \"%s\": migrated %" PRIu64 " objects from %" PRIu32 " to %" PRIu32 " bytes",
			    types[i].id, types[i].name, objects - before, ot->size, types[i].size);
	}
	CRASH_POINT(p, "migrate:done");
	p->migrated_objects = objects;
	p->migrated_bytes = bytes;
	p->migrate_ns = now_ns(CLOCK_MONOTONIC) - t0;
	return 0;
}
