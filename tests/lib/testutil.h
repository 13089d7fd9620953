/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers shared by the libshmdev Check suites: names and keys that
 * are unique to one test run, and fork/kill helpers for crash tests.
 */
#ifndef SHMDEV_TESTUTIL_H
#define SHMDEV_TESTUTIL_H

#include <stdbool.h>
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

/* True when SHMDEV_TEST_QUICK is set (valgrind runs: fewer iterations). */
bool tu_quick(void);

#endif /* SHMDEV_TESTUTIL_H */
