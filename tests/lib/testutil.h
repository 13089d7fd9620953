/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers shared by the libshmdev Check suites: names and keys that
 * are unique to one test run, one-process configs and pool opens that
 * assert, the suites' checked fixture and runner, and fork/kill helpers
 * for crash tests.
 */
#ifndef SHMDEV_TESTUTIL_H
#define SHMDEV_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmdev.h"

/*
 * Call first in main(): gives this run its own SHMDEV_POSIX_PREFIX (unless
 * the environment set one) and its own range of region keys, so that
 * parallel or repeated runs never meet.  @suite names the prefix.
 */
void tu_init(const char *suite);

/* The i-th region key of this run (non-zero, i < 65536). */
uint64_t tu_key(unsigned int i);

/* The backend the suites use: SHMDEV_BACKEND from the environment, or AUTO. */
enum shmdev_backend tu_backend(void);

/* A context whose log is silent (errors stay in shmdev_errmsg()). */
struct shmdev_ctx *tu_ctx(void);

/* Destroy region @key if it exists (cleanup; ignores -ENOENT). */
void tu_destroy(uint64_t key);

/* Destroy every region of this run's key range (fixture teardown). */
void tu_destroy_all(void);

/*
 * Run @fn(@arg) in a child.  The child reports fn's return value to the
 * parent (tu_child_wait_ready()) and then, if @hold, waits to be killed;
 * otherwise it exits with fn's return value (0..255).
 */
struct tu_child {
	pid_t pid;
	int ready_fd;		/* parent's end of the report pipe */
};
void tu_child_start(struct tu_child *c, int (*fn)(void *arg), void *arg,
		    bool hold);
/* fn's return value as the child reported it, or -1 if it died first. */
int tu_child_wait_ready(struct tu_child *c);
/* SIGKILL the child and reap it. */
void tu_child_kill(struct tu_child *c);
/*
 * Reap the child: its exit status (0..255), or 1000 + the signal number
 * that killed it.
 */
int tu_child_wait(struct tu_child *c);

/* Run @fn(@arg) in a child and return tu_child_wait()'s result. */
int tu_run_in_child(int (*fn)(void *arg), void *arg);

/*
 * Render and load (asserting that it loads) a one-process config: section
 * [@process] with BaseKey tu_key(@first), BlockSize @block_size, the
 * @nr_blocks BlockKey lines tu_key(@first + 1) ... tu_key(@first +
 * @nr_blocks), then the lines of @extra (may be NULL).
 */
struct shmdev_conf *tu_conf(struct shmdev_ctx *ctx, const char *process,
			    unsigned int first, const char *block_size,
			    unsigned int nr_blocks, const char *extra);

/* Destroy the pool @conf describes (ignoring errors), then free @conf. */
void tu_pool_destroy(struct shmdev_ctx *ctx, struct shmdev_conf *conf);

/* shmdev_pool_open(), asserting that it succeeds. */
struct shmdev_pool *tu_pool_open(struct shmdev_ctx *ctx, struct shmdev_conf *conf,
				 const struct shmdev_type *types, size_t nr_types,
				 unsigned int flags);

/* tu_pool_open(), then assert that the start was @want and the pool checks. */
struct shmdev_pool *tu_pool_start(struct shmdev_ctx *ctx, struct shmdev_conf *conf,
				  const struct shmdev_type *types, size_t nr_types,
				  unsigned int flags, enum shmdev_start want);

/*
 * The pool of the API and handle suites: process "zone", BlockSize 1M,
 * keys tu_key(0) (base) and tu_key(1), tu_key(2) (blocks); the types
 * Item (plain, up to 100) and Player (keyed, up to 50).
 */
#define TU_ITEM		0
#define TU_PLAYER	1
#define TU_ZONE_NR_TYPES 2

struct tu_item {
	uint64_t stamp;
	uint32_t n;
};

struct tu_player {
	uint64_t id;
	uint64_t gold;
};

extern const struct shmdev_type tu_zone_types[TU_ZONE_NR_TYPES];
struct shmdev_conf *tu_zone_conf(struct shmdev_ctx *ctx);
/* Open it (asserting success): with tu_zone_types, or read-only without. */
struct shmdev_pool *tu_zone_open(struct shmdev_ctx *ctx, struct shmdev_conf *conf,
				 unsigned int flags);
/* Destroy it (ignoring errors). */
void tu_zone_destroy(struct shmdev_ctx *ctx);

/*
 * Checked fixture of a suite, set up once in main() before the runner
 * forks: tu_setup() sets *@ctxp to tu_ctx() and then calls @sweep (a
 * failed test skips its teardown: every test starts from nothing);
 * tu_teardown() calls @sweep again and drops the context.  @sweep may be
 * NULL.  For a sweep in the Check parent that runs even after a failed
 * test, add tu_destroy_all as the unchecked teardown.
 */
void tu_fixture(struct shmdev_ctx **ctxp, void (*sweep)(void));
void tu_setup(void);
void tu_teardown(void);

/* Run @s, sweep this run's regions, and return main()'s exit status. */
int tu_run(Suite *s);

/* True when SHMDEV_TEST_QUICK is set (valgrind runs: fewer iterations). */
bool tu_quick(void);

#endif /* SHMDEV_TESTUTIL_H */
