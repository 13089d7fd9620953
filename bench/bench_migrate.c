// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_migrate: the migration rate of a resume that changes a type
 * (issue 13).  For each count: a pool of COUNT live 256-byte "Player"
 * objects (13 described fields) is built and closed, then opened with a
 * 320-byte Player (fields added and moved, two ints widened); the figure
 * is the old objects' bytes over the time the library took to copy and
 * convert them (shmdev_pool_stats: migrated_bytes / migrate_ns), and the
 * whole open beside it.  Target (issue 13): >= 1 GB/s of old objects.
 * Each count runs four ways, interleaved run after run (equal work under
 * the same load; medians): with 4 KiB pages (HugePages = no) and with huge
 * pages (HugePages = yes: 2 MiB where /dev/shm gives them to a
 * MADV_HUGEPAGE mapping, which `make bench-migrate` arranges as root in a
 * private mount namespace; the row says how much was mapped huge), each
 * with the new slots' pages first touched by the migration (a fresh pool's
 * free space: the kernel zeroes and maps them during it) and with the
 * blocks' pages made resident before (MADV_POPULATE_WRITE, no byte
 * written).
 *
 *   bench_migrate [--counts 100000,1000000] [--runs N]
 *
 * POSIX backend under its own prefix; the pool is destroyed after each run.
 * Prints the load average, then one line per count and way (the median of
 * the runs, 5 by default, and the best rate).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_proc.h"
#include "shmdev.h"

struct p1 {
	uint64_t id, scene, gold, exp;
	uint32_t level, hp, mp, flags;
	int32_t x, y;
	uint64_t items[8];
	char name[24];
	uint8_t reserved[104];
	uint64_t sum;
};

struct p2 {
	uint64_t id, scene, gold, exp;
	uint64_t level;			/* widened */
	uint32_t hp, mp, flags;
	int64_t x, y;			/* widened */
	uint64_t items[8];
	char name[24];
	uint64_t achievements[8];	/* new */
	uint8_t reserved[88];
	uint64_t sum;
};

_Static_assert(sizeof(struct p1) == 256, "p1");
_Static_assert(sizeof(struct p2) == 320, "p2");

#define ITEMS(T) SHMDEV_FIELD_AS(T, items, SHMDEV_FIELD_BYTES)
static const struct shmdev_field f1[] = {
	SHMDEV_FIELD(struct p1, id), SHMDEV_FIELD(struct p1, scene), SHMDEV_FIELD(struct p1, gold),
	SHMDEV_FIELD(struct p1, exp), SHMDEV_FIELD(struct p1, level), SHMDEV_FIELD(struct p1, hp),
	SHMDEV_FIELD(struct p1, mp), SHMDEV_FIELD(struct p1, flags), SHMDEV_FIELD(struct p1, x),
	SHMDEV_FIELD(struct p1, y), ITEMS(struct p1), SHMDEV_FIELD(struct p1, name),
	SHMDEV_FIELD(struct p1, sum),
};

static const struct shmdev_field f2[] = {
	SHMDEV_FIELD(struct p2, id), SHMDEV_FIELD(struct p2, scene), SHMDEV_FIELD(struct p2, gold),
	SHMDEV_FIELD(struct p2, exp), SHMDEV_FIELD(struct p2, level), SHMDEV_FIELD(struct p2, hp),
	SHMDEV_FIELD(struct p2, mp), SHMDEV_FIELD(struct p2, flags), SHMDEV_FIELD(struct p2, x),
	SHMDEV_FIELD(struct p2, y), ITEMS(struct p2), SHMDEV_FIELD(struct p2, name),
	SHMDEV_FIELD_AS(struct p2, achievements, SHMDEV_FIELD_BYTES), SHMDEV_FIELD(struct p2, sum),
};

#define NF(f) ((uint32_t)(sizeof(f) / sizeof((f)[0])))

static int die(struct shmdev_ctx *ctx, const char *what)
{
	fprintf(stderr, "bench_migrate: %s: %s\n", what, shmdev_errmsg(ctx));
	exit(1);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Fault in every page of the pool's blocks (keys 0x7e570001 + i), writing
 * nothing: the migration then finds its new slots resident.
 */
static void populate_blocks(struct shmdev_ctx *ctx, uint64_t nb)
{
	uint64_t i;

	for (i = 0; i < nb; i++) {
		struct shmdev_region *r = NULL;

		if (shmdev_region_open(ctx, SHMDEV_BACKEND_POSIX, 0x7e570001 + i, 0, 0, 0, &r))
			die(ctx, "block open");
		if (madvise(shmdev_region_addr(r), shmdev_region_size(r), MADV_POPULATE_WRITE))
			perror("bench_migrate: madvise(MADV_POPULATE_WRITE)");
		shmdev_region_close(r);
	}
}

/* Bytes of shmem this process maps with huge pages (PMDs) now. */
static uint64_t shmem_pmd_bytes(void)
{
	static const char *const fields[] = { "ShmemPmdMapped:", NULL };

	return bench_proc_bytes("/proc/self/smaps_rollup", fields);
}

/*
 * One run at @count: the rate in GB/s, the open in ms into *open_ms.
 * @huge: HugePages = yes (huge pages where /dev/shm gives them), else no;
 * @resident: the blocks' pages faulted in before the migration; the shmem
 * this process maps with huge pages after the migration into *huge_got.
 */
static double run(struct shmdev_ctx *ctx, uint64_t count, bool huge, bool resident,
		  double *open_ms, double *mig_ms, uint64_t *huge_got)
{
	const uint64_t block = 64ULL << 20;
	uint64_t need = count * (272 + 336) + count / 4 + (8ULL << 20), nb = need / block + 2, i;
	struct shmdev_type t1 = { .id = 1, .name = "Player", .size = sizeof(struct p1), .version = 1,
				  .max_count = count, .flags = SHMDEV_TYPE_KEYED,
				  .nr_fields = NF(f1), .fields = f1 };
	struct shmdev_type t2 = t1;
	struct shmdev_pool_stats st;
	struct shmdev_conf *conf = NULL;
	struct shmdev_pool *pool = NULL;
	char *text = malloc(64 + nb * 40);
	size_t len;

	if (!text)
		exit(1);
	len = (size_t)sprintf(text, "ProcessList = bench\n[bench]\nBaseKey = 0x7e570000\nBlockSize = 64M\nHugePages = %s\n",
			      huge ? "yes" : "no");
	for (i = 0; i < nb; i++)
		len += (size_t)sprintf(text + len, "BlockKey = 0x%" PRIx64 "\n", 0x7e570001 + i);
	if (shmdev_conf_load_string(ctx, text, "bench.ini", "bench", &conf))
		die(ctx, "config");
	free(text);
	shmdev_pool_destroy(ctx, conf);
	if (shmdev_pool_open(ctx, conf, &t1, 1, 0, &pool))
		die(ctx, "open v1");
	for (i = 0; i < count; i++) {
		struct p1 *p;

		if (shmdev_force_get(pool, 1, 1000 + i, (void **)&p, NULL, NULL))
			die(ctx, "force_get");
		p->id = 1000 + i;
		p->level = (uint32_t)i;
		p->x = -(int32_t)(i & 0xffff);
		snprintf(p->name, sizeof(p->name), "p%" PRIu64, i % 1000000000);
		p->sum = i * 7;
	}
	if (shmdev_pool_close(pool))
		die(ctx, "close v1");
	if (resident)
		populate_blocks(ctx, nb);
	t2.size = sizeof(struct p2);
	t2.version = 2;
	t2.fields = f2;
	t2.nr_fields = NF(f2);
	if (shmdev_pool_open(ctx, conf, &t2, 1, 0, &pool))
		die(ctx, "open v2 (the migration)");
	shmdev_pool_stats(pool, &st);
	*huge_got = shmem_pmd_bytes();
	if (st.migrated_objects != count) {
		fprintf(stderr, "bench_migrate: migrated %" PRIu64 " objects, not %" PRIu64 "\n",
			st.migrated_objects, count);
		exit(1);
	}
	{
		struct p2 *p = shmdev_find(pool, 1, 1000 + count - 1, NULL);

		if (!p || p->level != count - 1 || p->x != -(int64_t)((count - 1) & 0xffff) ||
		    p->sum != (count - 1) * 7) {
			fprintf(stderr, "bench_migrate: the last player did not migrate right\n");
			exit(1);
		}
	}
	shmdev_pool_close(pool);
	shmdev_pool_destroy(ctx, conf);
	shmdev_conf_free(conf);
	*open_ms = (double)st.open_ns / 1e6;
	*mig_ms = (double)st.migrate_ns / 1e6;
	return (double)st.migrated_bytes / (double)st.migrate_ns;
}

static const char *loadavg(void)
{
	static char text[128];
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f || !fgets(text, sizeof(text), f))
		snprintf(text, sizeof(text), "unknown\n");
	if (f)
		fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	const char *counts = "100000,1000000";
	struct shmdev_ctx *ctx;
	int runs = 5, i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--counts") && i + 1 < argc)
			counts = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_migrate [--counts N,N...] [--runs N]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 50)
		runs = 5;
	if (!getenv("SHMDEV_POSIX_PREFIX")) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "shmpool-bench-migrate-%d", (int)getpid());
		setenv("SHMDEV_POSIX_PREFIX", prefix, 1);
	}
	setenv("SHMDEV_BACKEND", "posix", 0);
	if (shmdev_ctx_new(&ctx))
		return 1;
	shmdev_set_log_priority(ctx, 2);	/* the destroy of a pool not there is no news */
	printf("Load average at the start: %s", loadavg());
	printf("| objects | old bytes | pages | new slots' pages | migration (median) | rate (median) | rate (best) | whole open (median) |\n"
	       "|--------:|----------:|:------|:-----------------|-------------------:|--------------:|------------:|--------------------:|\n");
	while (*counts) {
		uint64_t count = strtoull(counts, NULL, 10);
		double rate[4][50], open_ms[4][50], mig_ms[4][50];
		uint64_t got[4] = { 0 };
		int c;

		if (!count)
			break;
		/* The four ways interleaved, run after run: equal work, the same load. */
		for (r = 0; r < runs; r++)
			for (c = 0; c < 4; c++) {
				uint64_t g = 0;

				rate[c][r] = run(ctx, count, c >= 2, c % 2, &open_ms[c][r], &mig_ms[c][r], &g);
				if (g > got[c])
					got[c] = g;
			}
		for (c = 0; c < 4; c++) {
			char pages[64];

			if (c < 2)
				snprintf(pages, sizeof(pages), "4 KiB");
			else if (got[c])
				snprintf(pages, sizeof(pages), "2 MiB (%.0f MB mapped huge)", (double)got[c] / 1e6);
			else
				snprintf(pages, sizeof(pages), "4 KiB (huge pages asked, none given)");
			qsort(rate[c], (size_t)runs, sizeof(double), cmp_d);
			qsort(mig_ms[c], (size_t)runs, sizeof(double), cmp_d);
			qsort(open_ms[c], (size_t)runs, sizeof(double), cmp_d);
			printf("| %" PRIu64 " | %.1f MB | %s | %s | %.1f ms | %.2f GB/s | %.2f GB/s | %.1f ms |\n",
			       count, (double)count * 256 / 1e6, pages,
			       c % 2 ? "resident before" : "first touched by it", mig_ms[c][runs / 2],
			       rate[c][runs / 2], rate[c][runs - 1], open_ms[c][runs / 2]);
		}
		fflush(stdout);
		counts = strchr(counts, ',');
		if (!counts)
			break;
		counts++;
	}
	printf("Load average at the end: %s", loadavg());
	shmdev_ctx_unref(ctx);
	return 0;
}
