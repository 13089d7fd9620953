// SPDX-License-Identifier: LGPL-2.1-or-later
/* The shmpool adapter of the bench (peer_shmpool.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_shmpool.h"

#define HDR	16	/* a slot header (libshmdev/layout.h) */

void sp_die(const struct sp_pool *p, const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, p->ctx ? shmdev_errmsg(p->ctx) : "no context");
	exit(1);
}

void sp_open(struct sp_pool *p, uint64_t key, const struct sp_type *types, int nr, bool huge)
{
	struct shmdev_type t[8];
	static const char *names[8] = { "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8" };
	uint64_t total = 0, block, nblocks;
	const char *backend = getenv("SHMDEV_BACKEND");
	char conf[512];
	int i;

	if (nr < 1 || nr > SP_TYPES_MAX) {
		fprintf(stderr, "bench: sp_open: %d types (1..%d)\n", nr, SP_TYPES_MAX);
		exit(1);
	}
	memset(t, 0, sizeof(t));
	for (i = 0; i < nr; i++) {
		t[i].id = (uint16_t)(i + 1);
		t[i].name = names[i];
		t[i].size = types[i].size;
		t[i].version = 1;
		t[i].max_count = types[i].cap;
		t[i].flags = types[i].keyed ? SHMDEV_TYPE_KEYED : 0;
		/* the slots (and up to a line to place slot 0) */
		total += types[i].cap * ((types[i].size + HDR + 7) / 8 * 8) + 64;
		/* a KEYED type's key index: 4-byte entries, at most half full */
		if (types[i].keyed) {
			uint64_t entries = 16;

			while (entries < 2 * types[i].cap)
				entries <<= 1;
			total += entries * 4;
		}
	}
	/*
	 * One block holds every type's slots, so that each type is one chunk:
	 * shmdev_fast_init()'s bound then covers every slot and every get is
	 * inline (a type spread over chunks sends the slots past its first
	 * chunk to shmdev_get_typed()).  Sized to the count: what the layout
	 * carves, 64 KiB for the block's header and the extents' alignment,
	 * in 2 MiB multiples for huge pages (with HugePages a block is
	 * resident whole from its creation, so slack here is memory).
	 */
	block = (total + (64 << 10) + (2 << 20) - 1) / (2 << 20) * (2 << 20);
	nblocks = 1;
	snprintf(conf, sizeof(conf),
		 "[global]\nProcessList = bench\n[bench]\nBaseKey = %" PRIu64 "\n"
		 "BlockSize = %" PRIu64 "\nBlockKeys = %" PRIu64 "-%" PRIu64 "\nBackend = %s\n"
		 "MaxTypeInfoNum = 8\nHugePages = %s\n",
		 key, block, key + 1, key + nblocks, backend && *backend ? backend : "posix",
		 huge ? "yes" : "no");
	if (!p->ctx && shmdev_ctx_new(&p->ctx)) {
		fprintf(stderr, "bench: shmdev_ctx_new failed\n");
		exit(1);
	}
	if (!p->conf && shmdev_conf_load_string(p->ctx, conf, "bench.ini", "bench", &p->conf))
		sp_die(p, "config");
	if (shmdev_pool_open(p->ctx, p->conf, t, (size_t)nr, 0, &p->pool))
		sp_die(p, "shmdev_pool_open");
	memset(p->fast, 0, sizeof(p->fast));
	memset(p->ffast, 0, sizeof(p->ffast));
	for (i = 0; i < nr; i++) {
		if (shmdev_fast_init(p->pool, t[i].id, &p->fast[t[i].id]))
			sp_die(p, "shmdev_fast_init");
		if (types[i].keyed && shmdev_find_fast_init(p->pool, t[i].id, &p->ffast[t[i].id]))
			sp_die(p, "shmdev_find_fast_init");
	}
}

int sp_start(const struct sp_pool *p)
{
	switch (shmdev_pool_start(p->pool)) {
	case SHMDEV_START_CREATED:
		return 0;
	case SHMDEV_START_RESUMED_CLEAN:
		return 1;
	case SHMDEV_START_RESUMED_CRASH:
		return 2;
	default:
		return 3;
	}
}

void sp_stats(const struct sp_pool *p, uint64_t *open_ns, uint64_t *repair_ns, uint64_t *repaired)
{
	struct shmdev_pool_stats st;

	shmdev_pool_stats(p->pool, &st);
	*open_ns = st.open_ns;
	*repair_ns = st.repair_ns;
	*repaired = st.repaired_objects;
}

uint64_t sp_bytes_used(const struct sp_pool *p)
{
	struct shmdev_block_stats bs;
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; shmdev_pool_block_stats(p->pool, i, &bs) == 0; i++)
		sum += bs.used_bytes;
	return sum;
}

void sp_close(struct sp_pool *p)
{
	if (p->pool && shmdev_pool_close(p->pool))
		sp_die(p, "shmdev_pool_close");
	p->pool = NULL;
	memset(p->fast, 0, sizeof(p->fast));
	memset(p->ffast, 0, sizeof(p->ffast));
}

void sp_abandon(struct sp_pool *p)
{
	if (p->pool)
		shmdev_pool_abandon(p->pool);
	p->pool = NULL;
	memset(p->fast, 0, sizeof(p->fast));
	memset(p->ffast, 0, sizeof(p->ffast));
}

void sp_destroy(struct sp_pool *p)
{
	sp_close(p);
	if (p->conf && shmdev_pool_destroy(p->ctx, p->conf))
		sp_die(p, "shmdev_pool_destroy");
	shmdev_conf_free(p->conf);
	shmdev_ctx_unref(p->ctx);
	memset(p, 0, sizeof(*p));
}
