// SPDX-License-Identifier: LGPL-2.1-or-later
/* Library context: reference count, log callback, last error message. */
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

SHMDEV_EXPORT struct shmdev_ctx *shmdev_ctx_unref(struct shmdev_ctx *ctx)
{
	if (ctx && --ctx->refcount == 0)
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
	return ctx ? ctx->errmsg : "no context";
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
	va_list args;

	va_start(args, format);
	vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), format, args);
	va_end(args);
	shmdev_log(ctx, LOG_ERR, file, line, fn, "%s", ctx->errmsg);
	return -err;
}
