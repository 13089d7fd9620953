/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The crash-point test hook.  Not installed.
 *
 * A crash point is a named place between two stores that matter on a path
 * that changes shared memory: the layout paths (cold start, type append,
 * max_count raise, clean close, the repair after a crash), alloc, free
 * and force_get, and transactions (tx.c: begin, add, alloc, free, publish,
 * commit, abort, and the rollback or finish of an open after a crash;
 * tests/lib/test_tx_crash.c enumerates them).  An owner open arms the hook from the environment, before
 * it creates or writes anything:
 *
 *   SHMDEV_TEST_KILL_AT=N        raise SIGKILL at the Nth point this pool
 *                                handle reaches, counted from the start of
 *                                shmdev_pool_open() (1 = "open:start");
 *   SHMDEV_TEST_KILL_AT=NAME     at the first point called NAME;
 *   SHMDEV_TEST_KILL_AT=NAME#K   at the Kth point called NAME;
 *   SHMDEV_TEST_KILL_LOG=FD      before the kill, write "N NAME\n" (the
 *                                point's number and name) to file
 *                                descriptor FD, so that a test learns where
 *                                its child died.
 *   SHMDEV_TEST_KILL_THREADS=T   with =NAME (T >= 2, a SHMDEV_POOL_THREADS
 *                                owner): a thread that reaches NAME stops
 *                                there until T threads have (each inside its
 *                                own change, holding its type's lock); the
 *                                Tth kills the process, so that T changes
 *                                are half done at once.  A thread that waits
 *                                20 s for the others exits the process with
 *                                status 97 (a test that cannot get there).
 *
 * Unset, or not a number or a name, it is inert: a point costs one test of
 * a flag that is false (the layout paths), and the alloc/free fast paths
 * have no points at all (an armed pool sends every call to the checked
 * paths, see pool_hot.c).  tests/lib/test_crashpoints.c enumerates every point
 * of every layout path; SECURITY.md lists them.
 */
#ifndef SHMDEV_CRASH_H
#define SHMDEV_CRASH_H

#include <stdbool.h>
#include <stdint.h>

#define SHMDEV_CRASH_NAME_MAX 48

struct shmdev_crash {
	bool armed;
	void *owner;			/* the pool this hook is part of */
	int log_fd;			/* -1: no log */
	uint64_t kill_at;		/* the Nth point, or the Kth of kill_name */
	uint64_t points;		/* points reached since the open began */
	uint64_t name_hits;		/* points called kill_name reached */
	uint32_t kill_threads;		/* SHMDEV_TEST_KILL_THREADS, 0 if unset */
	uint32_t arrived;		/* threads stopped at kill_name */
	char kill_name[SHMDEV_CRASH_NAME_MAX];	/* "" : kill by number */
};

/*
 * Read SHMDEV_TEST_KILL_AT and SHMDEV_TEST_KILL_LOG into @c (inert if
 * unset).  @owner: the object @c is part of; the kill keeps a pointer to it
 * on the stack, so that valgrind's leak check of the killed process finds
 * what it holds reachable instead of "possibly lost" through @c.
 */
void shmdev_crash_arm(struct shmdev_crash *c, void *owner);

/* Count point @name; SIGKILL the process if it is the chosen one. */
void shmdev_crash_hit(struct shmdev_crash *c, const char *name);

/* One crash point.  @c may be NULL (no hook: layout.c and layout_plan.c on plain memory). */
#define SHMDEV_CRASH_POINT(c, name) do { \
	if (__builtin_expect((c) != NULL && (c)->armed, 0)) \
		shmdev_crash_hit((c), (name)); \
} while (0)

#endif /* SHMDEV_CRASH_H */
