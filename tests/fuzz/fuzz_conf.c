// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer harness for shmdev_conf_load_string(): arbitrary bytes as
 * memorypool.ini.  Besides "no crash, no leak, no UB", a successful load
 * must satisfy what the loader promises (keys non-zero and unique across
 * every process, sizes in range, the selected process found), and a failed
 * one must leave a message and no conf.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmdev.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_conf: broken promise: %s\n", #cond); \
		abort(); \
	} \
} while (0)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void check_conf(const struct shmdev_conf *conf, const char *process)
{
	size_t n = shmdev_conf_nr_processes(conf), total = 0, i, j;
	uint64_t *keys;

	CHECK(n >= 1 && n <= 256);
	CHECK(shmdev_conf_process_at(conf, n) == NULL);
	for (i = 0; i < n; i++) {
		const struct shmdev_proc_conf *p = shmdev_conf_process_at(conf, i);

		CHECK(p && p->name && *p->name);
		CHECK(shmdev_conf_process(conf, p->name) == p);
		CHECK(p->base_key != 0);
		CHECK(p->block_size >= 4096 && p->block_size % 4096 == 0);
		CHECK(p->block_size <= (64ULL << 30));
		CHECK(p->nr_blocks >= 1 && p->nr_blocks <= 4096);
		CHECK(p->max_types >= 1 && p->max_types <= 4096);
		CHECK((p->mode & ~0777U) == 0 && (p->mode & 0600) == 0600);
		CHECK(p->fixed_addr % 4096 == 0);
		CHECK(p->backend <= SHMDEV_BACKEND_POSIX);
		total += 1 + p->nr_blocks;
	}
	keys = malloc(total * sizeof(*keys));
	CHECK(keys);
	total = 0;
	for (i = 0; i < n; i++) {
		const struct shmdev_proc_conf *p = shmdev_conf_process_at(conf, i);

		keys[total++] = p->base_key;
		for (j = 0; j < p->nr_blocks; j++) {
			CHECK(p->block_keys[j] != 0);
			keys[total++] = p->block_keys[j];
		}
	}
	qsort(keys, total, sizeof(*keys), cmp_u64);
	for (i = 1; i < total; i++)
		CHECK(keys[i] != keys[i - 1]);
	free(keys);
	if (process) {
		CHECK(shmdev_conf_self(conf));
		CHECK(!strcmp(shmdev_conf_self(conf)->name, process));
	} else {
		CHECK(!shmdev_conf_self(conf));
	}
}

static void load(struct shmdev_ctx *ctx, const char *text, const char *process)
{
	struct shmdev_conf *conf = (struct shmdev_conf *)&conf;
	int r = shmdev_conf_load_string(ctx, text, "fuzz.ini", process, &conf);

	if (r == 0) {
		CHECK(conf && !*shmdev_errmsg(ctx));
		check_conf(conf, process);
		shmdev_conf_free(conf);
	} else {
		CHECK(r < 0 && !conf && *shmdev_errmsg(ctx));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmdev_ctx *ctx = NULL;
	struct shmdev_conf *conf = NULL;
	char *text = malloc(size + 1);

	if (!text || shmdev_ctx_new(&ctx))
		abort();
	memcpy(text, data, size);
	text[size] = '\0';	/* an embedded NUL just ends the text early */
	shmdev_set_log_priority(ctx, -1);

	load(ctx, text, NULL);
	/* Again, selecting the first listed process and an unknown one. */
	if (shmdev_conf_load_string(ctx, text, "fuzz.ini", NULL, &conf) == 0) {
		char *first = strdup(shmdev_conf_process_at(conf, 0)->name);

		shmdev_conf_free(conf);
		CHECK(first);
		load(ctx, text, first);
		free(first);
		CHECK(shmdev_conf_load_string(ctx, text, "fuzz.ini",
					      "no such process!", &conf) < 0);
	}
	free(text);
	shmdev_ctx_unref(ctx);
	return 0;
}
