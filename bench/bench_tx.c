// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_tx: the cost of a transaction (issue 14, item 4), for `make bench`
 * (bench/bench.sh prints it after the tick tables).  Never a timed test.
 *
 *   bench_tx [--iters N] [--reps R]
 *
 * Rows (ns per operation, median of R interleaved repetitions of N each,
 * CLOCK_THREAD_CPUTIME_ID; the commit alone: CLOCK_MONOTONIC around each call):
 *   plain     the writes alone: two 256-byte objects rewritten (a memset
 *             of each, as a trade rewriting two players);
 *   tx        the same writes in a transaction: begin, tx_add of both
 *             objects (256 bytes each), the writes, commit;
 *   overhead  tx - plain (target: <= 150 ns);
 *   commit    the commit alone after 2 KiB and after 60 KiB of snapshots
 *             in the log: its cost does not depend on the bytes logged.
 * The pool is POSIX (SHMDEV_BACKEND=posix unless set), 64 KiB blocks,
 * TxLogSize 64K, under a prefix of its own; it is destroyed at the end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_median.h"
#include "shmdev.h"

struct obj {
	uint64_t gold;
	uint8_t rest[248];
};

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* For the commit alone: the vDSO clock (the thread CPU clock is a system call). */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(struct shmdev_ctx *ctx, const char *what)
{
	fprintf(stderr, "bench_tx: %s: %s\n", what, shmdev_errmsg(ctx));
	exit(1);
}

#define MAXREPS 64

int main(int argc, char **argv)
{
	static const struct shmdev_type type = { .id = 0, .name = "Obj", .size = sizeof(struct obj), .max_count = 64 };
	double plain[MAXREPS], tx[MAXREPS], over[MAXREPS], c_small[MAXREPS], c_big[MAXREPS];
	long iters = 1000000, reps = 5, r, i, k;
	struct shmdev_ctx *ctx = NULL;
	struct shmdev_conf *conf = NULL;
	struct shmdev_pool *pool = NULL;
	struct obj *a, *b, *many[64];
	char text[512], prefix[64];
	shmdev_handle_t h;
	uint64_t key = 0x7442000000ULL | (uint64_t)(getpid() & 0xffff) << 8, t0;
	volatile uint64_t sink = 0;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--iters"))
			iters = strtol(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--reps"))
			reps = strtol(argv[i + 1], NULL, 0);
	}
	if (iters < 1 || reps < 1 || reps > MAXREPS) {
		fprintf(stderr, "usage: bench_tx [--iters N] [--reps R (1..%d)]\n", MAXREPS);
		return 2;
	}
	setenv("SHMDEV_BACKEND", getenv("SHMDEV_BACKEND") ? getenv("SHMDEV_BACKEND") : "posix", 1);
	snprintf(prefix, sizeof(prefix), "shmpool-bench-tx.%d", (int)getpid());
	setenv("SHMDEV_POSIX_PREFIX", prefix, 0);
	snprintf(text, sizeof(text), "ProcessList = b\n[b]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 64K\nBlockKey = 0x%" PRIx64 "\nHugePages = no\nTxLogSize = 64K\n",
		 key, key + 1);
	if (shmdev_ctx_new(&ctx))
		return 1;
	if (shmdev_conf_load_string(ctx, text, "bench_tx.ini", "b", &conf))
		die(ctx, "config");
	shmdev_set_log_priority(ctx, 2);	/* the destroy of an absent pool is expected */
	shmdev_pool_destroy(ctx, conf);
	if (shmdev_pool_open(ctx, conf, &type, 1, 0, &pool))
		die(ctx, "open");
	for (k = 0; k < 64; k++)
		if (shmdev_alloc(pool, 0, (void **)&many[k], &h))
			die(ctx, "alloc");
	a = many[0];
	b = many[1];
	for (r = 0; r < reps; r++) {
		t0 = cpu_ns();
		for (i = 0; i < iters; i++) {
			memset(a, (int)i, sizeof(*a));
			memset(b, (int)i + 1, sizeof(*b));
			__asm__ volatile("" ::: "memory");
		}
		plain[r] = (double)(cpu_ns() - t0) / (double)iters;
		t0 = cpu_ns();
		for (i = 0; i < iters; i++) {
			if (shmdev_tx_begin(pool) || shmdev_tx_add(pool, a, sizeof(*a)) ||
			    shmdev_tx_add(pool, b, sizeof(*b)))
				die(ctx, "tx");
			memset(a, (int)i, sizeof(*a));
			memset(b, (int)i + 1, sizeof(*b));
			if (shmdev_tx_commit(pool))
				die(ctx, "commit");
		}
		tx[r] = (double)(cpu_ns() - t0) / (double)iters;
		over[r] = tx[r] - plain[r];
		/* The commit alone: 8 snapshots (2 KiB + headers), then 232 (about 60 KiB). */
		for (k = 0; k < 2; k++) {
			long n = k ? 232 : 8, j, loops = iters / 100 + 1;
			uint64_t spent = 0;

			for (i = 0; i < loops; i++) {
				if (shmdev_tx_begin(pool))
					die(ctx, "begin");
				for (j = 0; j < n; j++)
					if (shmdev_tx_add(pool, many[j % 64], sizeof(struct obj)))
						die(ctx, "add");
				t0 = mono_ns();
				if (shmdev_tx_commit(pool))
					die(ctx, "commit");
				spent += mono_ns() - t0;
			}
			(k ? c_big : c_small)[r] = (double)spent / (double)loops;
		}
	}
	sink += a->gold + b->gold;
	printf("### Transactions (bench_tx: POSIX backend, %ld iterations x %ld repetitions, median; thread CPU time)\n\n", iters, reps);
	printf("| measure | ns per operation | note |\n|---|---:|---|\n");
	printf("| two 256-byte objects rewritten, plain | %.1f | memset of each |\n", median(plain, (int)reps));
	printf("| the same in a transaction | %.1f | begin, 2 x tx_add (256 B), writes, commit |\n", median(tx, (int)reps));
	printf("| transaction overhead | %.1f | target <= 150 ns |\n", median(over, (int)reps));
	printf("| commit after 2 KiB logged | %.1f | CLOCK_MONOTONIC around the call, its reads included |\n", median(c_small, (int)reps));
	printf("| commit after 60 KiB logged | %.1f | the same: O(1) in the log size |\n", median(c_big, (int)reps));
	if (shmdev_pool_close(pool))
		die(ctx, "close");
	shmdev_pool_destroy(ctx, conf);
	shmdev_conf_free(conf);
	shmdev_ctx_unref(ctx);
	return (int)(sink & 0);
}
