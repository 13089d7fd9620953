/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The benches' one reader of /proc files in "Name:   N kB" lines
 * (/proc/meminfo, /proc/self/smaps_rollup), for C and C++.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sum in bytes of the @fields (names with their colon, NULL-ended) of @path; 0 if unreadable. */
static inline uint64_t bench_proc_bytes(const char *path, const char *const *fields)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen(path, "r");
	size_t i;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		for (i = 0; fields[i]; i++)
			if (!strncmp(line, fields[i], strlen(fields[i])))
				v += strtoull(line + strlen(fields[i]), NULL, 10) * 1024;
	fclose(f);
	return v;
}

#endif
