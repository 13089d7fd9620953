// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_threads: SHMDEV_POOL_THREADS, alloc+free throughput by thread count
 * (bench/README.md, "Threads").  A figure, never a test: the host is shared.
 *
 *   bench_threads [--pairs N] [--reps R]
 *       one line per case: million alloc+free pairs per second (the median
 *       of R repetitions, each running every case once in the order below,
 *       so that a change of the host's load meets all of them), each thread
 *       allocating a batch of 16 objects of 64 bytes and freeing them
 *       again, N pairs per thread:
 *         nolock 1        without the flag, one thread (the baseline)
 *         nolock 2 types  without the flag, two threads on two types (they
 *                         share nothing the library writes: the scaling the
 *                         host gives at all, the control for the rest)
 *         flag 1          with the flag, one thread
 *         flag 2 types    with the flag, two threads on two types
 *         flag 2 one      with the flag, two threads on one type
 *       then the ratios the issue asks about (2 types / 1, one type / 1) and
 *       the control's, each the median of the per-repetition ratios, then
 *       every repetition's ratios, and the load average.
 *
 *   bench_threads --counts N
 *       without the flag, one thread: N get, alloc, free, find (a hit) and
 *       force_get (a hit) through the noinline wrappers op_get, op_alloc,
 *       ..., for callgrind's instruction counts (bench/build.mk:
 *       bench-threads-counts).  --threads first: the same with the flag
 *       (one thread: the cost of the lock, uncontended).
 *
 * SHMDEV_BACKEND (default posix) and SHMDEV_POSIX_PREFIX as for the suites.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_median.h"
#include "shmdev.h"

#define BATCH	16
#define CAP	4096

static struct shmdev_ctx *ctx;
static struct shmdev_conf *conf;

static void die(const char *what)
{
	fprintf(stderr, "bench_threads: %s: %s\n", what, ctx ? shmdev_errmsg(ctx) : "");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct shmdev_pool *open_pool(unsigned int flags)
{
	static const struct shmdev_type types[] = {
		{ .id = 0, .name = "T0", .size = 64, .max_count = CAP },
		{ .id = 1, .name = "T1", .size = 64, .max_count = CAP },
		{ .id = 2, .name = "K2", .size = 64, .max_count = CAP, .flags = SHMDEV_TYPE_KEYED },
	};
	struct shmdev_pool *pool;

	if (shmdev_pool_open(ctx, conf, types, 3, flags, &pool))
		die("pool open");
	return pool;
}

struct job {
	struct shmdev_pool *pool;
	uint16_t type;
	uint64_t pairs;
	pthread_barrier_t *go;
	uint64_t t0, t1;	/* the thread's own start and end */
};

static void *churn(void *arg)
{
	struct job *j = arg;
	shmdev_handle_t h[BATCH];
	uint64_t n;
	void *obj;
	int i;

	if (j->go)
		pthread_barrier_wait(j->go);
	j->t0 = now_ns();
	for (n = 0; n < j->pairs; n += BATCH) {
		for (i = 0; i < BATCH; i++)
			if (shmdev_alloc(j->pool, j->type, &obj, &h[i]))
				die("alloc");
		for (i = 0; i < BATCH; i++)
			if (shmdev_free(j->pool, h[i]))
				die("free");
	}
	j->t1 = now_ns();
	return NULL;
}

/* Million pairs per second of @nthreads threads, on one type or on two. */
static double run(unsigned int flags, unsigned int nthreads, bool two_types, uint64_t pairs)
{
	struct shmdev_pool *pool = open_pool(flags);
	pthread_barrier_t go;
	pthread_t th[2];
	struct job j[2];
	uint64_t t0, t1;
	unsigned int i;

	pthread_barrier_init(&go, NULL, nthreads + 1);
	for (i = 0; i < nthreads; i++) {
		j[i] = (struct job){ .pool = pool, .type = two_types ? (uint16_t)i : 0,
				     .pairs = pairs, .go = &go };
		if (pthread_create(&th[i], NULL, churn, &j[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&go);
	/* From the first thread's start to the last one's end. */
	t0 = UINT64_MAX;
	t1 = 0;
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		t0 = j[i].t0 < t0 ? j[i].t0 : t0;
		t1 = j[i].t1 > t1 ? j[i].t1 : t1;
	}
	pthread_barrier_destroy(&go);
	if (shmdev_pool_close(pool))
		die("close");
	return (double)(pairs * nthreads) / (double)(t1 > t0 ? t1 - t0 : 1) * 1e3;
}

/* The cases, run in this order in every repetition (interleaved). */
enum { C_BASE, C_BASE2, C_ONE, C_TWO, C_SAME, NR_CASES };

static void measure(uint64_t pairs, int reps)
{
	static const struct { unsigned int flags, threads; bool two; const char *name; } cs[NR_CASES] = {
		{ 0, 1, false, "nolock 1" },
		{ 0, 2, true, "nolock 2 types" },
		{ SHMDEV_POOL_THREADS, 1, false, "flag 1" },
		{ SHMDEV_POOL_THREADS, 2, true, "flag 2 types" },
		{ SHMDEV_POOL_THREADS, 2, false, "flag 2 one" },
	};
	double *v = calloc((size_t)reps * (NR_CASES + 3), sizeof(*v)), *col;
	double load[3] = { 0, 0, 0 };
	int r, c;

	if (!v)
		die("out of memory");
	for (r = 0; r < reps; r++)
		for (c = 0; c < NR_CASES; c++)
			v[c * reps + r] = run(cs[c].flags, cs[c].threads, cs[c].two, pairs);
	/* Per-repetition ratios, before the medians sort the columns. */
	col = v + NR_CASES * reps;
	for (r = 0; r < reps; r++) {
		col[r] = v[C_BASE2 * reps + r] / v[C_BASE * reps + r];
		col[reps + r] = v[C_TWO * reps + r] / v[C_ONE * reps + r];
		col[2 * reps + r] = v[C_SAME * reps + r] / v[C_ONE * reps + r];
	}
	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	printf("bench_threads: million alloc+free pairs per second, median of %d interleaved repetitions, %" PRIu64 " pairs per thread (load average %.2f at the end)\n",
	       reps, pairs, load[0]);
	for (c = 0; c < NR_CASES; c++) {
		printf("  %-15s %8.2f", cs[c].name, median(v + c * reps, reps));
		if (c == C_BASE2)
			printf("   %.2fx nolock 1 (the host's own scaling: the control)", median(col, reps));
		else if (c == C_TWO)
			printf("   %.2fx flag 1 (target 1.7x)", median(col + reps, reps));
		else if (c == C_SAME)
			printf("   %.2fx flag 1 (target 1.2x)", median(col + 2 * reps, reps));
		printf("\n");
	}
	printf("  per repetition (control, 2 types, one type):");
	for (r = 0; r < reps; r++)
		printf(" %.2f/%.2f/%.2f", v[C_BASE2 * reps + r] / v[C_BASE * reps + r],
		       v[C_TWO * reps + r] / v[C_ONE * reps + r], v[C_SAME * reps + r] / v[C_ONE * reps + r]);
	printf("\n");
	free(v);
}

/* For callgrind: one call each, not inlined, so that its cost is its own. */
__attribute__((noinline)) void *op_get(struct shmdev_pool *pool, shmdev_handle_t h);
__attribute__((noinline)) int op_alloc(struct shmdev_pool *pool, void **obj, shmdev_handle_t *h);
__attribute__((noinline)) int op_free(struct shmdev_pool *pool, shmdev_handle_t h);
__attribute__((noinline)) void *op_find(struct shmdev_pool *pool, uint64_t key);
__attribute__((noinline)) int op_force_get(struct shmdev_pool *pool, uint64_t key, void **obj);

void *op_get(struct shmdev_pool *pool, shmdev_handle_t h)
{
	return shmdev_get(pool, h);
}

int op_alloc(struct shmdev_pool *pool, void **obj, shmdev_handle_t *h)
{
	return shmdev_alloc(pool, 0, obj, h);
}

int op_free(struct shmdev_pool *pool, shmdev_handle_t h)
{
	return shmdev_free(pool, h);
}

void *op_find(struct shmdev_pool *pool, uint64_t key)
{
	return shmdev_find(pool, 2, key, NULL);
}

int op_force_get(struct shmdev_pool *pool, uint64_t key, void **obj)
{
	return shmdev_force_get(pool, 2, key, obj, NULL, NULL);
}

static void counts(uint64_t n, unsigned int flags)
{
	struct shmdev_pool *pool = open_pool(flags);
	shmdev_handle_t h[BATCH];
	uintptr_t sum = 0;
	uint64_t i;
	void *obj;
	int k;

	/* Warm: every slot of the batch once through the free list. */
	for (k = 0; k < BATCH; k++)
		if (op_alloc(pool, &obj, &h[k]))
			die("alloc");
	for (k = 0; k < BATCH; k++)
		op_free(pool, h[k]);
	/* Keys 0..15 exist: find and force_get hit (force_get: 16 warm-up misses). */
	for (k = 0; k < BATCH; k++)
		if (op_force_get(pool, (uint64_t)k, &obj))
			die("force_get");
	for (i = 0; i < n; i += BATCH) {
		for (k = 0; k < BATCH; k++)
			if (op_alloc(pool, &obj, &h[k]))
				die("alloc");
		for (k = 0; k < BATCH; k++)
			sum += (uintptr_t)op_get(pool, h[k]);
		for (k = 0; k < BATCH; k++)
			op_free(pool, h[k]);
		for (k = 0; k < BATCH; k++)
			sum += (uintptr_t)op_find(pool, (uint64_t)k);
		for (k = 0; k < BATCH; k++)
			sum += (uintptr_t)op_force_get(pool, (uint64_t)k, &obj);
	}
	if (shmdev_pool_close(pool))
		die("close");
	printf("counts: %" PRIu64 " of each (checksum %" PRIxPTR ")\n", n, sum & 0xff);
}

int main(int argc, char **argv)
{
	uint64_t pairs = 4000000, ncounts = 0;
	const char *backend = getenv("SHMDEV_BACKEND");
	char text[512];
	int reps = 5, threads = 0, i;

	for (i = 1; i < argc && !strcmp(argv[i], "--threads"); i++)
		threads = 1;
	for (; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--pairs"))
			pairs = strtoull(argv[i + 1], NULL, 0) / BATCH * BATCH;
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--counts"))
			ncounts = strtoull(argv[i + 1], NULL, 0) / BATCH * BATCH;
	}
	if (i < argc || !pairs || reps < 1) {
		fprintf(stderr, "usage: bench_threads [--pairs N] [--reps R] | [--threads] --counts N\n");
		return 2;
	}
	if (shmdev_ctx_new(&ctx))
		die("ctx");
	/* Keys of this process: parallel runs never meet. */
	snprintf(text, sizeof(text),
		 "ProcessList = bthr\n[bthr]\nBaseKey = 0x7b%06x00\nBlockSize = 1M\n"
		 "BlockKey = 0x7b%06x01\nBackend = %s\nHugePages = no\nMaxTypeInfoNum = 8\n",
		 (unsigned int)getpid() & 0xffffff, (unsigned int)getpid() & 0xffffff,
		 backend && *backend ? backend : "posix");
	if (shmdev_conf_load_string(ctx, text, "bench_threads.ini", "bthr", &conf))
		die("config");
	if (ncounts) {
		counts(ncounts, threads ? SHMDEV_POOL_THREADS : 0);
	} else {
		measure(pairs, reps);
	}
	shmdev_pool_destroy(ctx, conf);
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
	return 0;
}
