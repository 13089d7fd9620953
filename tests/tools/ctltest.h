/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the shmpoolctl suite's files share (tests/tools/): running the tool
 * as a program and checking its output, regions made and read back with
 * libshmdev, and the per-test temporary directory.
 */
#ifndef SHMPOOL_CTLTEST_H
#define SHMPOOL_CTLTEST_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "shmdev.h"

#define MULTICALL "__shmpoolctl"

struct run {
	int status;		/* exit status, or 1000 + signal */
	char out[65536];
	char err[8192];
};

/* The per-test temporary directory (setup() makes it, teardown() removes it). */
extern char tmpdir[256];

/* Run shmpoolctl with @args (NULL-terminated), as @uid unless it is -1. */
int ctl_runv(struct run *r, long uid, const char *const *args);

#define CTL(r, ...) ctl_runv(r, -1, (const char *const[]){ __VA_ARGS__, NULL })
#define CTL_AS(r, uid, ...) ctl_runv(r, uid, (const char *const[]){ __VA_ARGS__, NULL })

#define ck_run(r, code, ...) do { \
	int rc_ = CTL(r, __VA_ARGS__); \
	ck_assert_msg(rc_ == (code), "exit %d (want %d)\nstdout: %s\nstderr: %s", \
		      rc_, (code), (r)->out, (r)->err); \
} while (0)

#define ck_starts(s, prefix) \
	ck_assert_msg(!strncmp((s), (prefix), strlen(prefix)), "does not start with \"%s\":\n%s", \
		      (prefix), (s))

#define ck_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)), "\"%s\" not in:\n%s", (needle), (hay))

const char *hex(uint64_t key, char *buf);
const char *dec(uint64_t key, char *buf);
void write_file(const char *path, const char *text);
/* @name inside tmpdir, in @buf (512 bytes). */
char *path_of(const char *name, char *buf);
bool have_device(void);
/* The backend the tool lists: the suite's, AUTO resolved. */
const char *backend(void);
/* Without the module, auto lists POSIX and says so out loud. */
void check_auto_fallback(void);
/* Create region @key of @size bytes filled from @seed; closed again. */
void make_region(uint64_t key, uint64_t size, uint32_t mode, unsigned int seed);
/* Whether region @key holds the pattern of make_region(@seed). */
bool region_has(uint64_t key, uint64_t size, unsigned int seed);
int region_stat(uint64_t key, struct shmdev_region_info *in);
void setup(void);
void teardown(void);

/* The "pool" test case (ctltest_pool.c): pool show, check, dump/restore of pools. */
void ctl_add_pool_tcase(Suite *s);

#endif
