// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Field descriptions (issue 13): the rules a type's field list obeys, the
 * field tables the layout keeps in blocks (format in layout.h), their
 * verification, and the public walk of a stored table.  The migration that
 * uses them is in migrate.c.
 *
 * Rules of a field list (the program's and the stored one alike):
 *   - 1 to SHMDEV_FIELDS_MAX fields, names of 1 to 47 bytes, unique;
 *   - kinds and sizes: int and uint 1, 2, 4 or 8 bytes, float 4, double 8,
 *     handle 8, bytes 1 or more;
 *   - each field inside the object (offset + size <= the type's size), and
 *     no two overlap (they are leaves of a flattened struct).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* FNV-1a 64, as layout_internal.h's (which its two users alone include). */
#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *q = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= q[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *layout_kind_name(uint32_t kind, char *buf, size_t len)
{
	static const char *const names[] = { "none", "int", "uint", "float", "double", "bytes", "handle" };

	if (kind < sizeof(names) / sizeof(names[0]))
		return names[kind];
	snprintf(buf, len, "kind %" PRIu32, kind);
	return buf;
}

/* The size rule of @kind: 0 if @size fits it. */
static int kind_size_ok(uint32_t kind, uint32_t size)
{
	switch (kind) {
	case SHMDEV_FIELD_INT:
	case SHMDEV_FIELD_UINT:
		return size == 1 || size == 2 || size == 4 || size == 8 ? 0 : -1;
	case SHMDEV_FIELD_FLOAT:
		return size == 4 ? 0 : -1;
	case SHMDEV_FIELD_DOUBLE:
	case SHMDEV_FIELD_HANDLE:
		return size == 8 ? 0 : -1;
	case SHMDEV_FIELD_BYTES:
		return size ? 0 : -1;
	}
	return -1;
}

static int cmp_field_offset(const void *a, const void *b)
{
	const struct layout_field *x = a, *y = b;

	if (x->offset != y->offset)
		return (x->offset > y->offset) - (x->offset < y->offset);
	return (x->size > y->size) - (x->size < y->size);
}

/*
 * The rules over @nr entries @f (sorted by offset if @sorted, else a sorted
 * copy is checked) of a type of @size bytes.  -@err with a message that
 * @what starts ("type 1 \"Player\"" or "layout: type 1 \"Player\": its
 * field table").
 */
static int check_entries(struct shmdev_ctx *ctx, int err, const char *what,
			 const struct layout_field *f, uint32_t nr, uint32_t size)
{
	struct layout_field *s;
	char kb[24];
	uint32_t i, j;
	int ret = 0;

	if (nr == 0 || nr > SHMDEV_FIELDS_MAX)
		return shmdev_fail(ctx, err, "%s: %" PRIu32 " fields is not in 1..%u", what, nr, SHMDEV_FIELDS_MAX);
	for (i = 0; i < nr; i++) {
		size_t len = strnlen(f[i].name, sizeof(f[i].name));

		if (len == 0 || len >= sizeof(f[i].name))
			return shmdev_fail(ctx, err, "%s: field %" PRIu32 ": name must have 1 to %u bytes",
					   what, i, SHMDEV_FIELD_NAME_MAX - 1);
		if (f[i].kind == SHMDEV_FIELD_NONE)
			return shmdev_fail(ctx, err, "%s: field \"%s\" has no kind (a struct or an array of non-char: list its leaves, or describe it as SHMDEV_FIELD_BYTES)",
					   what, f[i].name);
		if (kind_size_ok(f[i].kind, f[i].size))
			return shmdev_fail(ctx, err, "%s: field \"%s\": %s of %" PRIu32 " bytes is not a valid kind and size",
					   what, f[i].name, layout_kind_name(f[i].kind, kb, sizeof(kb)), f[i].size);
		if (f[i].offset > size || f[i].size > size - f[i].offset)
			return shmdev_fail(ctx, err, "%s: field \"%s\" (offset %" PRIu32 ", %" PRIu32 " bytes) is beyond the object's %" PRIu32 " bytes",
					   what, f[i].name, f[i].offset, f[i].size, size);
		if (f[i].reserved)
			return shmdev_fail(ctx, err, "%s: field \"%s\": reserved bits set", what, f[i].name);
		for (j = 0; j < i; j++)
			if (!strcmp(f[j].name, f[i].name))
				return shmdev_fail(ctx, err, "%s: field \"%s\" is listed twice", what, f[i].name);
	}
	s = malloc((size_t)nr * sizeof(*s));
	if (!s)
		return shmdev_fail(ctx, ENOMEM, "%s: out of memory checking %" PRIu32 " fields", what, nr);
	memcpy(s, f, (size_t)nr * sizeof(*s));
	qsort(s, nr, sizeof(*s), cmp_field_offset);
	for (i = 1; i < nr; i++)
		if (s[i].offset < s[i - 1].offset + s[i - 1].size) {
			ret = shmdev_fail(ctx, err, "%s: fields \"%s\" and \"%s\" overlap", what,
					  s[i - 1].name, s[i].name);
			break;
		}
	free(s);
	return ret;
}

/* @t's fields as table entries, sorted by offset; NULL (ENOMEM) or the array. */
static struct layout_field *user_entries(const struct shmdev_type *t)
{
	struct layout_field *f = calloc(t->nr_fields ? t->nr_fields : 1, sizeof(*f));
	uint32_t i;

	if (!f)
		return NULL;
	for (i = 0; i < t->nr_fields; i++) {
		const struct shmdev_field *u = &t->fields[i];

		/* Too long a name stays unterminated: check_entries() says so. */
		if (u->name)
			memcpy(f[i].name, u->name, strnlen(u->name, sizeof(f[i].name)));
		f[i].kind = u->kind;
		f[i].offset = u->offset;
		f[i].size = u->size;
	}
	qsort(f, t->nr_fields, sizeof(*f), cmp_field_offset);
	return f;
}

int layout_check_fields(struct shmdev_ctx *ctx, const struct shmdev_type *t)
{
	struct layout_field *f;
	char what[64];
	uint32_t i;
	int err;

	if (!t->nr_fields) {
		if (t->fields || t->convert)
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": a field list or converter without nr_fields",
					   t->id, t->name);
		return 0;
	}
	if (!t->fields)
		return shmdev_fail(ctx, EINVAL, "type %u \"%s\": %" PRIu32 " fields but no field array",
				   t->id, t->name, t->nr_fields);
	for (i = 0; i < t->nr_fields; i++)
		if (!t->fields[i].name)
			return shmdev_fail(ctx, EINVAL, "type %u \"%s\": field %" PRIu32 " has no name",
					   t->id, t->name, i);
	snprintf(what, sizeof(what), "type %u \"%s\"", t->id, t->name);
	f = user_entries(t);
	if (!f)
		return shmdev_fail(ctx, ENOMEM, "%s: out of memory", what);
	err = check_entries(ctx, EINVAL, what, f, t->nr_fields, t->size);
	free(f);
	return err;
}

static uint64_t fields_sum(const struct layout_fields_hdr *fh, const struct layout_field *f,
			   uint32_t nr)
{
	return fnv1a(fnv1a(FNV_INIT, fh, offsetof(struct layout_fields_hdr, sum)), f,
		     (size_t)nr * sizeof(*f));
}

int layout_fields_write(void *dst, const struct shmdev_type *t)
{
	struct layout_fields_hdr *fh = dst;
	struct layout_field *f = (struct layout_field *)(fh + 1);
	struct layout_field *u = user_entries(t);
	uint32_t i;

	if (!u)
		return -ENOMEM;
	memset(fh, 0, layout_fields_bytes(t->nr_fields));
	fh->magic = SHMDEV_LAYOUT_FIELDS_MAGIC;
	fh->type = t->id;
	fh->nr_fields = t->nr_fields;
	for (i = 0; i < t->nr_fields; i++)
		f[i] = u[i];
	free(u);
	fh->sum = fields_sum(fh, f, t->nr_fields);
	return 0;
}

const struct layout_field *layout_fields(const struct layout_type *lt, void *const *blocks)
{
	if (!lt->nr_fields || !blocks)
		return NULL;
	return (const struct layout_field *)((const char *)blocks[lt->fields_block] +
					     lt->fields_offset + sizeof(struct layout_fields_hdr));
}

bool layout_fields_same(const struct layout_type *lt, void *const *blocks,
			const struct shmdev_type *t)
{
	const struct layout_field *f = layout_fields(lt, blocks);
	struct layout_field *u;
	bool same;

	if (!f || lt->nr_fields != t->nr_fields)
		return false;
	u = user_entries(t);
	same = u && !memcmp(u, f, (size_t)t->nr_fields * sizeof(*u));
	free(u);
	return same;
}

static void fields_what(const struct layout_type *lt, uint32_t i, char *what, size_t len)
{
	snprintf(what, len, "layout: type %" PRIu32 " \"%.31s\": its field table", i, lt->name);
}

int layout_verify_fields_place(struct shmdev_ctx *ctx, const struct layout_header *h,
			       const struct layout_table *t, uint32_t i)
{
	const struct layout_type *lt = &layout_types((struct layout_table *)t)[i];
	const struct layout_block *bl = layout_blocks((struct layout_table *)t, h->max_types);
	uint64_t carved;
	char what[96];

	if (!lt->used)
		return 0;
	fields_what(lt, i, what, sizeof(what));
	if (!lt->nr_fields) {
		if (lt->fields_block || lt->fields_offset)
			return shmdev_fail(ctx, EUCLEAN, "%s has no fields but a place (block %" PRIu32 ", offset %" PRIu64 ")",
					   what, lt->fields_block, lt->fields_offset);
		return 0;
	}
	carved = lt->fields_block < t->nr_blocks ? bl[lt->fields_block].carved : 0;
	if (lt->nr_fields > SHMDEV_FIELDS_MAX || lt->fields_block >= t->nr_blocks ||
	    lt->fields_offset < SHMDEV_LAYOUT_BLOCK_HDR || lt->fields_offset % 64 ||
	    lt->fields_offset > carved ||
	    layout_fields_bytes(lt->nr_fields) > carved - lt->fields_offset)
		return shmdev_fail(ctx, EUCLEAN, "%s (%" PRIu32 " fields at block %" PRIu32 " offset %" PRIu64 ") is out of bounds",
				   what, lt->nr_fields, lt->fields_block, lt->fields_offset);
	return 0;
}

int layout_verify_fields(struct shmdev_ctx *ctx, const void *cbase, void *const *blocks)
{
	void *base = (void *)cbase;
	const struct layout_header *h = base;
	struct layout_table *t = layout_active(base);
	struct layout_type *types = layout_types(t);
	char what[96];
	uint32_t i;
	int err;

	for (i = 0; i < h->max_types; i++) {
		const struct layout_type *lt = &types[i];
		const struct layout_fields_hdr *fh;

		err = layout_verify_fields_place(ctx, h, t, i);
		if (err)
			return err;
		if (!lt->used || !lt->nr_fields)
			continue;
		fields_what(lt, i, what, sizeof(what));
		fh = (const struct layout_fields_hdr *)((const char *)blocks[lt->fields_block] + lt->fields_offset);
		if (fh->magic != SHMDEV_LAYOUT_FIELDS_MAGIC || fh->type != i ||
		    fh->nr_fields != lt->nr_fields || fh->reserved)
			return shmdev_fail(ctx, EUCLEAN, "%s in block %" PRIu32 " has a bad header (magic 0x%016" PRIx64 ", type %" PRIu32 ", %" PRIu32 " fields)",
					   what, lt->fields_block, fh->magic, fh->type, fh->nr_fields);
		if (fh->sum != fields_sum(fh, (const struct layout_field *)(fh + 1), lt->nr_fields))
			return shmdev_fail(ctx, EUCLEAN, "%s in block %" PRIu32 " does not match its checksum",
					   what, lt->fields_block);
		err = check_entries(ctx, EUCLEAN, what, (const struct layout_field *)(fh + 1),
				    lt->nr_fields, lt->size);
		if (err)
			return err;
	}
	return 0;
}

SHMDEV_EXPORT const char *shmdev_field_kind_name(uint32_t kind)
{
	char buf[24];

	return kind <= SHMDEV_FIELD_HANDLE ? layout_kind_name(kind, buf, sizeof(buf)) : "unknown";
}

SHMDEV_EXPORT int shmdev_pool_type_field(const struct shmdev_pool *p, uint16_t type,
					 uint32_t index, struct shmdev_field_info *fi)
{
	const struct layout_type *lt;
	const struct layout_field *f;

	if (!p || !fi)
		return -EINVAL;
	if (!ptype_get(p, type)) {
		snprintf(p->ctx->errmsg, sizeof(p->ctx->errmsg), "type %u is not in the layout", type);
		return -ENOENT;
	}
	if (layout_active(p->base)->seq != p->view_seq) {
		snprintf(p->ctx->errmsg, sizeof(p->ctx->errmsg), "the layout changed since the pool was opened (attach again)");
		return -EAGAIN;
	}
	lt = &layout_types(layout_active(p->base))[type];
	if (index >= lt->nr_fields) {
		/* The end of a walk: message, no log line. */
		snprintf(p->ctx->errmsg, sizeof(p->ctx->errmsg), "type %u has %" PRIu32 " fields",
			 type, lt->nr_fields);
		return -ENOENT;
	}
	f = &layout_fields(lt, p->baddr)[index];
	memset(fi, 0, sizeof(*fi));
	memcpy(fi->name, f->name, sizeof(fi->name));
	fi->name[sizeof(fi->name) - 1] = '\0';
	fi->kind = f->kind;
	fi->offset = f->offset;
	fi->size = f->size;
	return 0;
}
