/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What campaign_tx and campaign_migrate share: the plan's random numbers,
 * a monotonic clock, a pool's destroy that tolerates an absent pool, the
 * seed and the VM's restart count from the environment, and the reaping
 * of a server that must have died of SIGKILL.
 */
#ifndef CAMPAIGN_COMMON_H
#define CAMPAIGN_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmdev.h"

/* xorshift64*: the plan of a campaign, replayed from its seed. */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t mono_ms(void)
{
	return mono_us() / 1000;
}

/* Destroy the pool; an absent one is fine, anything else ends the run. */
static inline void campaign_destroy(const char *prog, struct shmdev_ctx *ctx,
				    const struct shmdev_conf *conf)
{
	int err = shmdev_pool_destroy(ctx, conf);

	if (err && err != -ENOENT) {
		fprintf(stderr, "%s: destroy: %s\n", prog, shmdev_errmsg(ctx));
		exit(2);
	}
}

/*
 * The seed (--seed, else SHMPOOL_TEST_SEED, else the clock and pid) and,
 * in the VM with no arguments, the restarts (SHMPOOL_CAMPAIGN_RESTARTS
 * over @vm_default).
 */
static inline void campaign_env(int argc, uint64_t *seed, uint64_t *restarts, uint64_t vm_default)
{
	const char *env;

	if (argc == 1 && getenv("SHMPOOL_VM")) {
		*restarts = vm_default;
		env = getenv("SHMPOOL_CAMPAIGN_RESTARTS");
		if (env && *env)
			*restarts = strtoull(env, NULL, 0);
	}
	env = getenv("SHMPOOL_TEST_SEED");
	if (!*seed && env && *env)
		*seed = strtoull(env, NULL, 0);
	if (!*seed)
		*seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
}

/* Reap @pid: its wait status. */
static inline int campaign_reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		exit(2);
	}
	return st;
}

/* Reap @pid, which must have died of SIGKILL (else the run ends). */
static inline void campaign_reap_killed(const char *prog, pid_t pid)
{
	int st = campaign_reap(pid);

	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		fprintf(stderr, "%s: the server ended by itself (status 0x%x)\n", prog, st);
		exit(2);
	}
}

/* The first violation a check finds, with its message; later ones are dropped. */
struct campaign_verdict {
	char why[512];
	bool bad;
};

static inline void campaign_violation(struct campaign_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void campaign_violation(struct campaign_verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (v->bad)
		return;
	v->bad = true;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

#endif
