// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Library context: reference count, log callback, last error message (one
 * per context, or one per thread once a SHMDEV_POOL_THREADS pool made the
 * context threaded).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static void log_stderr(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)file;
	(void)line;
	fprintf(stderr, "libshmdev: %s%s", priority <= LOG_ERR ? "" : fn,
		priority <= LOG_ERR ? "" : ": ");
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

static int priority_from_env(void)
{
	const char *s = getenv("SHMDEV_LOG");

	/* Warnings by default: an AUTO backend that fell back must be seen. */
	if (!s || !*s)
		return LOG_WARNING;
	if (!strcasecmp(s, "warning"))
		return LOG_WARNING;
	if (!strcasecmp(s, "debug"))
		return LOG_DEBUG;
	if (!strcasecmp(s, "info"))
		return LOG_INFO;
	if (!strcasecmp(s, "err"))
		return LOG_ERR;
	if (!strcasecmp(s, "none"))
		return -1;
	return LOG_WARNING;
}

SHMDEV_EXPORT int shmdev_ctx_new(struct shmdev_ctx **out)
{
	struct shmdev_ctx *ctx;

	if (!out)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->refcount = 1;
	ctx->log_fn = log_stderr;
	ctx->log_priority = priority_from_env();
	*out = ctx;
	return 0;
}

SHMDEV_EXPORT struct shmdev_ctx *shmdev_ctx_ref(struct shmdev_ctx *ctx)
{
	if (ctx)
		ctx->refcount++;
	return ctx;
}

/* One thread's message buffer of a threaded context, listed in the context. */
struct shmdev_errbuf {
	struct shmdev_errbuf *next, **pprev;
	struct shmdev_ctx *ctx;
	char msg[SHMDEV_ERRMSG_MAX];
};

/* Thread exit (the key still exists, so the context does): drop its buffer. */
static void errbuf_release(void *arg)
{
	struct shmdev_errbuf *b = arg;
	struct shmdev_ctx *ctx = b->ctx;

	pthread_mutex_lock(&ctx->errlock);
	*b->pprev = b->next;
	if (b->next)
		b->next->pprev = b->pprev;
	pthread_mutex_unlock(&ctx->errlock);
	free(b);
}

int shmdev_ctx_threads(struct shmdev_ctx *ctx)
{
	int err;

	if (ctx->threaded)
		return 0;
	err = pthread_mutex_init(&ctx->errlock, NULL);
	if (err)
		return -err;
	err = pthread_key_create(&ctx->errkey, errbuf_release);
	if (err) {
		pthread_mutex_destroy(&ctx->errlock);
		return -err;
	}
	/* The opening thread keeps the message it had. */
	ctx->threaded = true;
	strcpy(shmdev_errbuf_thread(ctx), ctx->errmsg);
	return 0;
}

char *shmdev_errbuf_thread(const struct shmdev_ctx *cctx)
{
	/* A buffer is the calling thread's own: only the list is shared. */
	static _Thread_local char nomem[SHMDEV_ERRMSG_MAX];
	struct shmdev_ctx *ctx = (struct shmdev_ctx *)cctx;
	struct shmdev_errbuf *b = pthread_getspecific(ctx->errkey);

	if (b)
		return b->msg;
	b = calloc(1, sizeof(*b));
	if (!b)
		return nomem;
	b->ctx = ctx;
	if (pthread_setspecific(ctx->errkey, b)) {
		free(b);
		return nomem;
	}
	pthread_mutex_lock(&ctx->errlock);
	b->next = ctx->errbufs;
	if (b->next)
		b->next->pprev = &b->next;
	b->pprev = &ctx->errbufs;
	ctx->errbufs = b;
	pthread_mutex_unlock(&ctx->errlock);
	return b->msg;
}

SHMDEV_EXPORT struct shmdev_ctx *shmdev_ctx_unref(struct shmdev_ctx *ctx)
{
	if (!ctx || --ctx->refcount != 0)
		return NULL;
	if (ctx->threaded) {
		/* No destructor runs after the delete: free every thread's buffer. */
		pthread_key_delete(ctx->errkey);
		while (ctx->errbufs) {
			struct shmdev_errbuf *b = ctx->errbufs;

			ctx->errbufs = b->next;
			free(b);
		}
		pthread_mutex_destroy(&ctx->errlock);
	}
	free(ctx);
	return NULL;
}

SHMDEV_EXPORT void shmdev_set_log_fn(struct shmdev_ctx *ctx, shmdev_log_fn fn,
				     void *data)
{
	if (!ctx)
		return;
	ctx->log_fn = fn ? fn : log_stderr;
	ctx->log_data = data;
}

SHMDEV_EXPORT void shmdev_set_log_priority(struct shmdev_ctx *ctx, int priority)
{
	if (ctx)
		ctx->log_priority = priority;
}

SHMDEV_EXPORT int shmdev_get_log_priority(const struct shmdev_ctx *ctx)
{
	return ctx ? ctx->log_priority : -EINVAL;
}

SHMDEV_EXPORT const char *shmdev_errmsg(const struct shmdev_ctx *ctx)
{
	return ctx ? shmdev_errbuf(ctx) : "no context";
}

void shmdev_log(struct shmdev_ctx *ctx, int priority, const char *file,
		int line, const char *fn, const char *format, ...)
{
	va_list args;

	if (priority > ctx->log_priority)
		return;
	va_start(args, format);
	ctx->log_fn(ctx->log_data, priority, file, line, fn, format, args);
	va_end(args);
}

int shmdev_fail_at(struct shmdev_ctx *ctx, int err, const char *file,
		   int line, const char *fn, const char *format, ...)
{
	char *msg = shmdev_errbuf(ctx);
	va_list args;

	va_start(args, format);
	vsnprintf(msg, SHMDEV_ERRMSG_MAX, format, args);
	va_end(args);
	shmdev_log(ctx, LOG_ERR, file, line, fn, "%s", msg);
	return -err;
}
