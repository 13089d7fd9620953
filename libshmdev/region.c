// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regions: public entry points.  Checks the arguments, picks the backend
 * (argument, SHMDEV_BACKEND, AUTO rule) and hands over to region_posix.c or
 * region_device.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "region.h"

#define OPEN_FLAGS (SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL | \
		    SHMDEV_REGION_OWNER | SHMDEV_REGION_RDONLY | \
		    SHMDEV_REGION_HUGE | SHMDEV_REGION_HUGE_QUIET)

SHMDEV_EXPORT const char *shmdev_backend_name(enum shmdev_backend backend)
{
	switch (backend) {
	case SHMDEV_BACKEND_AUTO:
		return "auto";
	case SHMDEV_BACKEND_DEVICE:
		return "device";
	case SHMDEV_BACKEND_POSIX:
		return "posix";
	}
	return "unknown";
}

const char *shmdev_fmt_bytes(char buf[32], uint64_t n)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned int i = 0;
	uint64_t v = n;

	while (v && v % 1024 == 0 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, 32, "%" PRIu64 " %s", v, unit[i]);
	return buf;
}

uint64_t shmdev_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * AUTO without the module: say so, once per context, at LOG_WARNING (shown
 * by default).  POSIX objects are what systemd-logind's RemoveIPC=yes
 * deletes at the user's logout, and the device's regions are another set:
 * a host that boots without the module silently starts cold.
 */
static void warn_fallback(struct shmdev_ctx *ctx, int why)
{
	if (ctx->warned_fallback)
		return;
	ctx->warned_fallback = true;
	shmdev_warn(ctx, "Backend auto: using the POSIX fallback (/dev/shm), not the device: "
		    SHMPOOL_DEVICE_PATH ": %s (%s).  POSIX regions are deleted by systemd-logind "
		    "(RemoveIPC=yes) when their user's last session ends, and the device does not "
		    "see them: once the module is loaded, pools start cold.  Choose with Backend = "
		    "device (and load the module) or Backend = posix (or SHMDEV_BACKEND)",
		    strerror(why), why == ENOENT ? "module not loaded?" :
		    "no driver behind the node: module unloaded?");
}

void shmdev_region_warn_no_huge(struct shmdev_region *r, const char *why)
{
	if (r->ctx->warned_no_huge)
		return;
	r->ctx->warned_no_huge = true;
	if (r->flags & SHMDEV_REGION_HUGE_QUIET)
		shmdev_info(r->ctx, "region 0x%" PRIx64 " (%s): huge pages (the default; HugePages = no turns them off) cannot be had: %s: the regions get small pages",
			    r->key, shmdev_backend_name(r->backend), why);
	else
		shmdev_warn(r->ctx, "region 0x%" PRIx64 " (%s): HugePages = yes, but %s: the regions get small pages",
			    r->key, shmdev_backend_name(r->backend), why);
}

void shmdev_region_warn_old_small(struct shmdev_region *r)
{
	if (r->ctx->warned_old_small)
		return;
	r->ctx->warned_old_small = true;
	if (r->flags & SHMDEV_REGION_HUGE_QUIET)
		shmdev_info(r->ctx, "region 0x%" PRIx64 " (%s): created without huge pages; it keeps small ones until it is destroyed and created again (huge pages are the default now)",
			    r->key, shmdev_backend_name(r->backend));
	else
		shmdev_warn(r->ctx, "region 0x%" PRIx64 " (%s): HugePages = yes, but it was created without huge pages and keeps small ones until it is destroyed and created again (shmpoolctl stat shows which regions are huge)",
		    r->key, shmdev_backend_name(r->backend));
}

/*
 * The backend to use for @key: SHMDEV_BACKEND from the environment wins over
 * @asked; AUTO becomes DEVICE if /dev/shmpool opens, else POSIX.
 */
static int pick_backend(struct shmdev_ctx *ctx, enum shmdev_backend asked,
			uint64_t key, enum shmdev_backend *out)
{
	const char *env = getenv("SHMDEV_BACKEND");
	enum shmdev_backend b = asked;
	char what[40] = "regions";

	/* Key 0 here means "no key" (list); open/stat/destroy refuse it later. */
	if (key)
		snprintf(what, sizeof(what), "region 0x%" PRIx64, key);

	/* A bad value is refused even when the environment would override it. */
	if (b != SHMDEV_BACKEND_AUTO && b != SHMDEV_BACKEND_DEVICE && b != SHMDEV_BACKEND_POSIX)
		return shmdev_fail(ctx, EINVAL, "%s: backend %d is not AUTO, DEVICE or POSIX",
				   what, (int)b);
	if (env && *env) {
		if (!strcasecmp(env, "auto"))
			b = SHMDEV_BACKEND_AUTO;
		else if (!strcasecmp(env, "device"))
			b = SHMDEV_BACKEND_DEVICE;
		else if (!strcasecmp(env, "posix"))
			b = SHMDEV_BACKEND_POSIX;
		else
			return shmdev_fail(ctx, EINVAL,
					   "%s: SHMDEV_BACKEND=\"%s\" is not auto, device or posix",
					   what, env);
	}
	if (b == SHMDEV_BACKEND_AUTO) {
		int why = shmdev_device_probe();

		b = why ? SHMDEV_BACKEND_POSIX : SHMDEV_BACKEND_DEVICE;
		if (why)
			warn_fallback(ctx, why);
	}
	*out = b;
	return 0;
}

SHMDEV_EXPORT int shmdev_backend_resolve(struct shmdev_ctx *ctx,
					 enum shmdev_backend backend,
					 enum shmdev_backend *out)
{
	if (!ctx)
		return -EINVAL;
	shmdev_clear_error(ctx);
	if (!out)
		return shmdev_fail(ctx, EINVAL, "shmdev_backend_resolve: NULL out");
	return pick_backend(ctx, backend, 0, out);
}

/* Start of a call on one region: clear the last error, pick the backend, refuse key 0. */
static int keyed_backend(struct shmdev_ctx *ctx, enum shmdev_backend asked,
			 uint64_t key, enum shmdev_backend *out)
{
	int ret;

	shmdev_clear_error(ctx);
	ret = pick_backend(ctx, asked, key, out);
	if (ret)
		return ret;
	if (key == 0)
		return shmdev_fail(ctx, EINVAL, "region 0x0 (%s): key 0 is not a valid region key",
				   shmdev_backend_name(*out));
	return 0;
}

static int region_open(struct shmdev_ctx *ctx, enum shmdev_backend backend,
		       uint64_t key, uint64_t size, unsigned int flags,
		       uint32_t mode, bool any_size, struct shmdev_region **region)
{
	struct shmdev_region *r;
	enum shmdev_backend b;
	int ret;

	if (!ctx || !region)
		return -EINVAL;
	*region = NULL;
	ret = keyed_backend(ctx, backend, key, &b);
	if (ret)
		return ret;
	if (flags & ~OPEN_FLAGS)
		return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (%s): unknown open flags 0x%x",
				   key, shmdev_backend_name(b), flags & ~OPEN_FLAGS);
	if ((flags & SHMDEV_REGION_OWNER) && (flags & SHMDEV_REGION_RDONLY))
		return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (%s): OWNER and RDONLY exclude each other (the owner writes)",
				   key, shmdev_backend_name(b));
	if ((flags & SHMDEV_REGION_EXCL) && !(flags & SHMDEV_REGION_CREATE))
		return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (%s): EXCL needs CREATE",
				   key, shmdev_backend_name(b));
	if ((flags & SHMDEV_REGION_CREATE) && size == 0)
		return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (%s): size 0 cannot be created",
				   key, shmdev_backend_name(b));
	if (mode & ~0777U)
		return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (%s): mode 0%o has bits beyond 0777",
				   key, shmdev_backend_name(b), mode);
	if (mode == 0)
		mode = 0600;

	r = calloc(1, sizeof(*r));
	if (!r)
		return shmdev_fail(ctx, ENOMEM, "region 0x%" PRIx64 " (%s): out of memory",
				   key, shmdev_backend_name(b));
	r->ctx = shmdev_ctx_ref(ctx);
	r->backend = b;
	r->key = key;
	r->flags = flags;
	r->fd = -1;
	r->any_size = any_size;
	if (b == SHMDEV_BACKEND_DEVICE)
		ret = shmdev_device_open(r, size, mode);
	else
		ret = shmdev_posix_open(r, size, mode);
	if (ret) {
		shmdev_ctx_unref(r->ctx);
		free(r);
		return ret;
	}
	shmdev_dbg(ctx, "region 0x%" PRIx64 " (%s): %" PRIu64 " bytes at %p, start %d, generation %" PRIu64,
		   key, shmdev_backend_name(b), r->size, r->addr, (int)r->start,
		   r->generation);
	*region = r;
	return 0;
}

SHMDEV_EXPORT int shmdev_region_open(struct shmdev_ctx *ctx,
				     enum shmdev_backend backend, uint64_t key,
				     uint64_t size, unsigned int flags,
				     uint32_t mode, struct shmdev_region **region)
{
	return region_open(ctx, backend, key, size, flags, mode, false, region);
}

int shmdev_region_open_any_size(struct shmdev_ctx *ctx, enum shmdev_backend backend,
				uint64_t key, uint64_t size, unsigned int flags,
				uint32_t mode, struct shmdev_region **region)
{
	return region_open(ctx, backend, key, size, flags, mode, true, region);
}

SHMDEV_EXPORT void *shmdev_region_addr(const struct shmdev_region *region)
{
	return region ? region->addr : NULL;
}

SHMDEV_EXPORT uint64_t shmdev_region_size(const struct shmdev_region *region)
{
	return region ? region->size : 0;
}

SHMDEV_EXPORT uint64_t shmdev_region_key(const struct shmdev_region *region)
{
	return region ? region->key : 0;
}

SHMDEV_EXPORT enum shmdev_start shmdev_region_start(const struct shmdev_region *region)
{
	return region ? region->start : (enum shmdev_start)0;
}

SHMDEV_EXPORT bool shmdev_region_handed_over(const struct shmdev_region *region)
{
	return region && region->handed_over;
}

SHMDEV_EXPORT enum shmdev_backend shmdev_region_backend(const struct shmdev_region *region)
{
	return region ? region->backend : SHMDEV_BACKEND_AUTO;
}

SHMDEV_EXPORT uint64_t shmdev_region_generation(const struct shmdev_region *region)
{
	return region ? region->generation : 0;
}

/*
 * The whole file is mapped at once (POSIX: header page and data), so the
 * move keeps the header just below @addr.  One mapping, not two, also keeps
 * valgrind's address-space manager happy with adjacent mappings of a file.
 */
SHMDEV_EXPORT int shmdev_region_remap(struct shmdev_region *r, void *addr)
{
	long page = sysconf(_SC_PAGESIZE);
	char *want;
	void *p;
	int prot;

	if (!r)
		return -EINVAL;
	prot = (r->flags & SHMDEV_REGION_RDONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
	shmdev_clear_error(r->ctx);
	if (addr == r->addr)
		return 0;
	if (!addr || (uintptr_t)addr % (uintptr_t)page || (uintptr_t)addr <= r->hdr_len)
		return shmdev_fail(r->ctx, EINVAL, "region 0x%" PRIx64 " (%s): address %p is not page-aligned and non-NULL",
				   r->key, shmdev_backend_name(r->backend), addr);
	want = (char *)addr - r->hdr_len;
	p = mmap(want, r->map_len, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, r->fd, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		return shmdev_fail(r->ctx, err, "region 0x%" PRIx64 " (%s): cannot map %" PRIu64 " bytes at %p: %s%s",
				   r->key, shmdev_backend_name(r->backend), r->size, addr,
				   strerror(err), err == EEXIST ? " (the address is taken)" : "");
	}
	if (p != want) {
		/* Without MAP_FIXED_NOREPLACE support the address is a hint. */
		munmap(p, r->map_len);
		return shmdev_fail(r->ctx, EEXIST, "region 0x%" PRIx64 " (%s): cannot map %" PRIu64 " bytes at %p: the address is taken (placed at %p instead)",
				   r->key, shmdev_backend_name(r->backend), r->size, addr,
				   (char *)p + r->hdr_len);
	}
	/* As map_all() in region_posix.c: the new mapping asks for THP too. */
	if (r->huge)
		madvise(p, r->map_len, MADV_HUGEPAGE);
	munmap(r->map, r->map_len);
	r->map = p;
	r->addr = (char *)p + r->hdr_len;
	if (r->hdr)
		r->hdr = p;
	return 0;
}

SHMDEV_EXPORT int shmdev_region_detach(struct shmdev_region *r)
{
	if (!r)
		return -EINVAL;
	shmdev_clear_error(r->ctx);
	if (!r->leased)
		return shmdev_fail(r->ctx, EPERM, "region 0x%" PRIx64 " (%s): cannot detach: this handle does not hold the owner lease%s",
				   r->key, shmdev_backend_name(r->backend),
				   (r->flags & SHMDEV_REGION_OWNER) ? " (already detached)" : " (not opened with OWNER)");
	if (r->backend == SHMDEV_BACKEND_DEVICE)
		return shmdev_device_detach(r);
	return shmdev_posix_detach(r);
}

SHMDEV_EXPORT void shmdev_region_close(struct shmdev_region *r)
{
	if (!r)
		return;
	if (r->backend == SHMDEV_BACKEND_DEVICE)
		shmdev_device_close(r);
	else
		shmdev_posix_close(r);
	shmdev_ctx_unref(r->ctx);
	free(r);
}

SHMDEV_EXPORT int shmdev_region_stat(struct shmdev_ctx *ctx,
				     enum shmdev_backend backend, uint64_t key,
				     struct shmdev_region_info *info)
{
	enum shmdev_backend b;
	int ret;

	if (!ctx || !info)
		return -EINVAL;
	ret = keyed_backend(ctx, backend, key, &b);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	if (b == SHMDEV_BACKEND_DEVICE)
		return shmdev_device_stat(ctx, key, info);
	return shmdev_posix_stat(ctx, key, info);
}

SHMDEV_EXPORT int shmdev_region_destroy(struct shmdev_ctx *ctx,
					enum shmdev_backend backend, uint64_t key)
{
	enum shmdev_backend b;
	int ret;

	if (!ctx)
		return -EINVAL;
	ret = keyed_backend(ctx, backend, key, &b);
	if (ret)
		return ret;
	if (b == SHMDEV_BACKEND_DEVICE)
		return shmdev_device_destroy(ctx, key);
	return shmdev_posix_destroy(ctx, key);
}

SHMDEV_EXPORT int shmdev_region_list(struct shmdev_ctx *ctx,
				     enum shmdev_backend backend,
				     int (*fn)(const struct shmdev_region_info *info, void *data),
				     void *data)
{
	enum shmdev_backend b;
	int ret;

	if (!ctx || !fn)
		return -EINVAL;
	shmdev_clear_error(ctx);
	ret = pick_backend(ctx, backend, 0, &b);
	if (ret)
		return ret;
	if (b == SHMDEV_BACKEND_DEVICE)
		return shmdev_device_list(ctx, fn, data);
	return shmdev_posix_list(ctx, fn, data);
}
