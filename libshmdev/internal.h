/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libshmdev internals shared by its source files.  Not installed. */
#ifndef SHMDEV_INTERNAL_H
#define SHMDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <syslog.h>

#include "shmdev.h"

#define SHMDEV_EXPORT __attribute__((visibility("default")))

#define SHMDEV_ERRMSG_MAX 512

struct shmdev_ctx {
	int refcount;
	shmdev_log_fn log_fn;
	void *log_data;
	int log_priority;
	bool warned_fallback;	/* region.c: AUTO fell back to POSIX, said once */
	bool warned_no_huge;	/* region.c: HUGE asked, backend cannot, said once */
	bool warned_old_small;	/* region.c: HUGE asked, region made without */
	/*
	 * A pool opened with SHMDEV_POOL_THREADS made the context threaded:
	 * from then on every thread has its own message buffer (errkey, made
	 * by shmdev_ctx_threads(); the buffers are listed under errlock and
	 * freed with the context), and errmsg is no longer used.
	 */
	bool threaded;
	pthread_key_t errkey;
	pthread_mutex_t errlock;
	struct shmdev_errbuf *errbufs;
	char errmsg[SHMDEV_ERRMSG_MAX];
};

/* ctx.c: make @ctx threaded (idempotent); -ENOMEM/-EAGAIN on failure. */
int shmdev_ctx_threads(struct shmdev_ctx *ctx);
/* ctx.c: the calling thread's message buffer of a threaded context. */
char *shmdev_errbuf_thread(const struct shmdev_ctx *ctx);

/*
 * The message buffer of the calling thread: the context's own, or with
 * SHMDEV_POOL_THREADS the thread's (one test of a flag, on failure paths
 * and the checked paths only).
 */
static inline char *shmdev_errbuf(const struct shmdev_ctx *ctx)
{
	if (__builtin_expect(ctx->threaded, 0))
		return shmdev_errbuf_thread(ctx);
	return (char *)ctx->errmsg;
}

void shmdev_log(struct shmdev_ctx *ctx, int priority, const char *file,
		int line, const char *fn, const char *format, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * Record a failure: format the message into ctx->errmsg, log it at LOG_ERR
 * and return -@err (err is a positive errno), so that callers can write
 * "return shmdev_fail(ctx, EINVAL, "...", ...);".
 */
int shmdev_fail_at(struct shmdev_ctx *ctx, int err, const char *file,
		   int line, const char *fn, const char *format, ...)
	__attribute__((format(printf, 6, 7)));

#define shmdev_fail(ctx, err, ...) \
	shmdev_fail_at(ctx, err, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define shmdev_warn(ctx, ...) \
	shmdev_log(ctx, LOG_WARNING, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define shmdev_info(ctx, ...) \
	shmdev_log(ctx, LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define shmdev_dbg(ctx, ...) \
	shmdev_log(ctx, LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Clear the last error message (call at the start of a public entry point). */
static inline void shmdev_clear_error(struct shmdev_ctx *ctx)
{
	shmdev_errbuf(ctx)[0] = '\0';
}

#endif /* SHMDEV_INTERNAL_H */
