/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the tests/stress runners (on top of tests/kmod/kutil.h).
 */
#ifndef SHMPOOL_SUTIL_H
#define SHMPOOL_SUTIL_H

#include <stdbool.h>

/*
 * Mount a ramfs on @dir and point Check's TEMP there.  /tmp, /dev/shm and
 * TMPDIR are tmpfs in the VM, and tmpfs pages count in Shmem: Check's
 * message files, which grow with every assertion, would move the figure a
 * test compares exactly.  ramfs pages do not count.  Call it from main(),
 * before srunner_run_all().  False (with a message) if no ramfs.
 */
bool st_tmp_off_shmem(const char *dir);
/* Undo st_tmp_off_shmem() at the end of main(). */
void st_tmp_release(const char *dir);

#endif
