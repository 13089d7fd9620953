// SPDX-License-Identifier: LGPL-2.1-or-later
/* The crash-point test hook: see crash.h. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"

void shmdev_crash_arm(struct shmdev_crash *c, void *owner)
{
	const char *at = getenv("SHMDEV_TEST_KILL_AT");
	const char *log = getenv("SHMDEV_TEST_KILL_LOG");
	const char *threads = getenv("SHMDEV_TEST_KILL_THREADS");
	const char *hash;
	char *end;
	size_t len;

	memset(c, 0, sizeof(*c));
	c->owner = owner;
	c->log_fd = -1;
	if (!at || !*at)
		return;
	if (*at >= '0' && *at <= '9') {
		c->kill_at = strtoull(at, &end, 10);
		if (*end)
			c->kill_at = 0;
	} else {
		hash = strchr(at, '#');
		len = hash ? (size_t)(hash - at) : strlen(at);
		if (len >= sizeof(c->kill_name))
			return;
		memcpy(c->kill_name, at, len);
		c->kill_at = 1;
		if (hash) {
			c->kill_at = strtoull(hash + 1, &end, 10);
			if (*end)
				c->kill_at = 0;
		}
	}
	if (!c->kill_at)
		return;
	if (threads && *threads && c->kill_name[0]) {
		unsigned long t = strtoul(threads, &end, 10);

		if (!*end && t >= 2 && t <= 1024)
			c->kill_threads = (uint32_t)t;
	}
	if (log && *log) {
		long fd = strtol(log, &end, 10);

		if (!*end && fd >= 0 && fd <= INT32_MAX)
			c->log_fd = (int)fd;
	}
	c->armed = true;
}

void shmdev_crash_hit(struct shmdev_crash *c, const char *name)
{
	char line[SHMDEV_CRASH_NAME_MAX + 32];
	void *volatile owner;
	int n;

	/* Atomic: threads of a SHMDEV_POOL_THREADS owner reach points at once. */
	uint64_t point = __atomic_add_fetch(&c->points, 1, __ATOMIC_RELAXED);

	if (c->kill_name[0] && c->kill_threads) {
		if (strcmp(name, c->kill_name))
			return;
		/* Stop here until kill_threads threads are stopped at NAME. */
		if (__atomic_add_fetch(&c->arrived, 1, __ATOMIC_ACQ_REL) < c->kill_threads) {
			struct timespec ms = { 0, 1000000 };
			int i;

			for (i = 0; i < 20000; i++)
				nanosleep(&ms, NULL);
			_exit(97);
		}
	} else if (c->kill_name[0]) {
		if (strcmp(name, c->kill_name) ||
		    __atomic_add_fetch(&c->name_hits, 1, __ATOMIC_RELAXED) != c->kill_at)
			return;
	} else if (point != c->kill_at) {
		return;
	}
	if (c->log_fd >= 0) {
		n = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", point, name);
		if (n >= (int)sizeof(line))
			n = (int)sizeof(line) - 1;
		if (n > 0 && write(c->log_fd, line, (size_t)n) < 0) {
			/* The kill matters more than its log line. */
		}
	}
	owner = c->owner;
	raise(SIGKILL);
	(void)owner;
}
