// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness for the base layout reader: the input is a base region
 * image.  Its active table's checksum is recomputed first (otherwise almost
 * every input would stop there), then layout_verify() must either refuse it
 * or accept a table whose every offset is in bounds; an accepted image is
 * planned against a fixed set of types and committed, and the result must
 * verify again.  Small geometries only (MaxTypeInfoNum, MaxBlockNum <= 64).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct shmdev_type fuzz_types[] = {
	{ .id = 0, .name = "Plain", .size = 24, .max_count = 8 },
	{ .id = 1, .name = "Keyed", .size = 40, .align = 16, .max_count = 8,
	  .flags = SHMDEV_TYPE_KEYED },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmdev_ctx *ctx = NULL;
	struct layout_header *h;
	struct layout_table *t, *scratch;
	struct layout_block *blocks;
	struct layout_params p;
	struct layout_geom g;
	uint64_t keys[64];
	uint8_t changes[64];
	uint32_t i;
	void *base;

	if (size < sizeof(struct layout_header) || size > (1U << 20))
		return 0;
	h = (struct layout_header *)data;
	if (h->max_types == 0 || h->max_types > 64 || h->max_blocks == 0 || h->max_blocks > 64)
		return 0;
	layout_geom(h->max_types, h->max_blocks, &g);
	base = calloc(1, g.base_size > size ? g.base_size : size);
	if (!base || shmdev_ctx_new(&ctx)) {
		free(base);
		return 0;
	}
	shmdev_set_log_priority(ctx, -1);
	memcpy(base, data, size);
	h = base;
	if (h->active <= 1 && h->table_size == g.table_size) {
		t = layout_table_at(base, h, h->active);
		t->checksum = layout_checksum(h, t);
	}
	if (layout_verify(ctx, base, g.base_size > size ? g.base_size : size, &g) == 0) {
		t = layout_active(base);
		blocks = layout_blocks(t, h->max_types);
		for (i = 0; i < t->nr_blocks; i++)
			keys[i] = blocks[i].key;
		memset(&p, 0, sizeof(p));
		h->process[sizeof(h->process) - 1] = '\0';
		p.process = h->process;
		p.block_size = h->block_size;
		p.nr_blocks = t->nr_blocks;
		p.block_keys = keys;
		p.max_types = h->max_types;
		p.max_blocks = h->max_blocks;
		scratch = malloc(h->table_size);
		if (scratch && layout_check_types(ctx, fuzz_types, 2, h->max_types) == 0 &&
		    layout_plan(ctx, base, &p, fuzz_types, 2, false, scratch, changes) > 0) {
			layout_commit(base, scratch, NULL);
			/* What the library writes, it must read back. */
			if (layout_verify(ctx, base, g.base_size > size ? g.base_size : size, &g))
				abort();
		}
		free(scratch);
	}
	shmdev_ctx_unref(ctx);
	free(base);
	return 0;
}
