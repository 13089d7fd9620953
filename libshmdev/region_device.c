// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device backend: regions held by the shmpool kernel module, reached through
 * /dev/shmpool and include/uapi/linux/shmpool.h.  One open file per region:
 * ATTACH binds it, mmap(MAP_SHARED) maps it, close() drops it (and the
 * kernel marks an owner that did not DETACH as crashed).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "region.h"

#define BK "device"
#define LIST_BATCH 32

/*
 * A node we may not open still counts: falling back to POSIX then would
 * silently give this user other regions than everyone else's.
 */
int shmdev_device_probe(void)
{
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDONLY | O_CLOEXEC);

	/*
	 * Only "there is no device" means absent.  Any other failure (EACCES,
	 * EMFILE, ENOMEM, ...) must surface as that error on the device, not
	 * as a switch to a different set of regions under POSIX shm.
	 */
	if (fd < 0)
		return (errno == ENOENT || errno == ENXIO || errno == ENODEV) ?
		       errno : 0;
	close(fd);
	return 0;
}

static int open_device(struct shmdev_ctx *ctx, uint64_t key, int oflag)
{
	int fd = open(SHMPOOL_DEVICE_PATH, oflag | O_CLOEXEC);
	int err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENOENT || err == ENXIO || err == ENODEV)
		return shmdev_fail(ctx, ENODEV, "region 0x%" PRIx64 " (" BK "): " SHMPOOL_DEVICE_PATH " is absent (%s): is the shmpool module loaded? SHMDEV_BACKEND=posix uses the fallback",
				   key, strerror(err));
	return shmdev_fail(ctx, err, "region 0x%" PRIx64 " (" BK "): cannot open " SHMPOOL_DEVICE_PATH " %s: %s",
			   key, oflag == O_RDONLY ? "read-only" : "read-write",
			   strerror(err));
}

static void info_from_kernel(struct shmdev_region_info *out,
			     const struct shmpool_region_info *in)
{
	memset(out, 0, sizeof(*out));
	out->key = in->key;
	out->size = in->size;
	out->generation = in->generation;
	out->ctime_ns = in->ctime_ns;
	out->atime_ns = in->atime_ns;
	out->dtime_ns = in->dtime_ns;
	out->uid = in->uid;
	out->gid = in->gid;
	out->mode = in->mode;
	out->owner_pid = in->owner_pid;
	out->nattch = in->nattch;
	out->nmaps = in->nmaps;
	out->state = in->state <= SHMPOOL_STATE_CRASHED ?
		     (enum shmdev_region_state)in->state : SHMDEV_STATE_CRASHED;
	out->owned = in->state == SHMPOOL_STATE_OWNED;
	out->huge = in->flags & SHMPOOL_REGION_HUGE;
	out->backend = SHMDEV_BACKEND_DEVICE;
}

#define SHMDEV_STR_(x) #x
#define SHMDEV_STR(x) SHMDEV_STR_(x)

/*
 * errno in words; ENOTTY from /dev/shmpool means a module of another ABI
 * (another ioctl magic), which must be refused by name.
 */
static const char *why(int err)
{
	if (err == ENOTTY)
		return "the module does not speak this library's ABI "
		       SHMDEV_STR(SHMPOOL_ABI_VERSION) " (ENOTTY): load the matching shmpool.ko";
	return strerror(err);
}

/* STAT on an open device file, for richer error messages; 0 or -errno. */
static int stat_key(int fd, uint64_t key, struct shmpool_region_info *info)
{
	struct shmpool_stat st = { .size = sizeof(st), .key = key };

	if (ioctl(fd, SHMPOOL_IOC_STAT, &st))
		return -errno;
	*info = st.info;
	return 0;
}

/* Explain a failed ATTACH of @r (errno @err) in words. */
static int attach_error(struct shmdev_region *r, int fd,
			const struct shmpool_attach *a, int err)
{
	struct shmdev_ctx *ctx = r->ctx;
	struct shmpool_info mi = { .size = sizeof(mi) };
	struct shmpool_region_info ri;
	char b1[32], b2[32];

	switch (err) {
	case ENOENT:
		return shmdev_fail(ctx, ENOENT, "region 0x%" PRIx64 " (" BK "): does not exist; open with CREATE to make it",
				   r->key);
	case EEXIST:
		return shmdev_fail(ctx, EEXIST, "region 0x%" PRIx64 " (" BK "): already exists (CREATE|EXCL)",
				   r->key);
	case EBUSY:
		if (stat_key(fd, r->key, &ri) == 0 && ri.owner_pid)
			return shmdev_fail(ctx, EBUSY, "region 0x%" PRIx64 " (" BK "): the owner lease is held by pid %u",
					   r->key, ri.owner_pid);
		return shmdev_fail(ctx, EBUSY, "region 0x%" PRIx64 " (" BK "): the owner lease is held by another process",
				   r->key);
	case EACCES:
		if (stat_key(fd, r->key, &ri) == 0)
			return shmdev_fail(ctx, EACCES, "region 0x%" PRIx64 " (" BK "): permission denied (mode 0%o, uid %u, gid %u; asked %s)",
					   r->key, ri.mode, ri.uid, ri.gid,
					   (r->flags & SHMDEV_REGION_RDONLY) ? "read" : "read-write");
		return shmdev_fail(ctx, EACCES, "region 0x%" PRIx64 " (" BK "): permission denied",
				   r->key);
	case ENOSPC:
		if (ioctl(fd, SHMPOOL_IOC_INFO, &mi) == 0)
			return shmdev_fail(ctx, ENOSPC, "region 0x%" PRIx64 " (" BK "): no room for %s: this namespace holds %u regions, %s (limits %u, %s); your uid %u regions, %s (limits %u, %s)%s; module-wide limits %u regions, %s",
					   r->key, shmdev_fmt_bytes((char[32]){0}, a->req_size),
					   mi.nr_regions, shmdev_fmt_bytes(b1, mi.total_bytes),
					   mi.max_regions_per_ns,
					   shmdev_fmt_bytes((char[32]){0}, mi.max_bytes_per_ns),
					   mi.user_regions, shmdev_fmt_bytes(b2, mi.user_bytes),
					   mi.max_regions_per_user,
					   shmdev_fmt_bytes((char[32]){0}, mi.max_bytes_per_user),
					   mi.limits_exempt ? " (exempt: CAP_SYS_RESOURCE)" : "",
					   mi.max_regions,
					   shmdev_fmt_bytes((char[32]){0}, mi.max_total_bytes));
		break;
	case EFBIG:
		if (ioctl(fd, SHMPOOL_IOC_INFO, &mi) == 0)
			return shmdev_fail(ctx, EFBIG, "region 0x%" PRIx64 " (" BK "): size %s is above the module's max_region_bytes %s",
					   r->key, shmdev_fmt_bytes(b1, a->req_size),
					   shmdev_fmt_bytes(b2, mi.max_region_bytes));
		break;
	case EINVAL:
		if (a->info.size && a->req_size > a->info.size)
			return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (" BK "): requested %s but it holds %s; destroy it or fix the size",
					   r->key, shmdev_fmt_bytes(b1, a->req_size),
					   shmdev_fmt_bytes(b2, a->info.size));
		return shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (" BK "): the module refused flags 0x%x, size %" PRIu64 ", mode 0%o",
				   r->key, a->flags, (uint64_t)a->req_size, a->mode);
	case ENOMEM:
		return shmdev_fail(ctx, ENOMEM, "region 0x%" PRIx64 " (" BK "): not enough memory to commit %s (see vm.overcommit_memory)",
				   r->key, shmdev_fmt_bytes(b1, a->req_size));
	case ENOTTY:
	case E2BIG:
		return shmdev_fail(ctx, err, "region 0x%" PRIx64 " (" BK "): the module does not speak this library's ABI %d (%s)",
				   r->key, SHMPOOL_ABI_VERSION, strerror(err));
	}
	return shmdev_fail(ctx, err, "region 0x%" PRIx64 " (" BK "): attach failed: %s",
			   r->key, strerror(err));
}

int shmdev_device_open(struct shmdev_region *r, uint64_t size, uint32_t mode)
{
	bool rdonly = r->flags & SHMDEV_REGION_RDONLY;
	struct shmpool_attach a = {
		.size = sizeof(a),
		.key = r->key,
		.req_size = size,
		.mode = mode,
	};
	char b[32];
	void *p;
	int fd, ret, tries;

	if (r->flags & SHMDEV_REGION_CREATE)
		a.flags |= SHMPOOL_ATTACH_CREATE;
	if (r->flags & SHMDEV_REGION_EXCL)
		a.flags |= SHMPOOL_ATTACH_EXCL;
	if (r->flags & SHMDEV_REGION_OWNER)
		a.flags |= SHMPOOL_ATTACH_OWNER;
	if (rdonly)
		a.flags |= SHMPOOL_ATTACH_RDONLY;
	if (r->flags & SHMDEV_REGION_HUGE)
		a.flags |= SHMPOOL_ATTACH_HUGE;

	fd = open_device(r->ctx, r->key, rdonly ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return fd;
	for (tries = 0; ioctl(fd, SHMPOOL_IOC_ATTACH, &a); tries++) {
		int err = errno;

		/*
		 * any_size: an existing region of another size is opened at its
		 * own (req_size 0), quietly; if it went in between, create again.
		 * A failed ATTACH binds nothing, so the file can try again.
		 */
		if (r->any_size && tries < 4 && err == EINVAL && a.req_size &&
		    a.info.size && a.req_size > a.info.size) {
			a.req_size = 0;
			a.flags &= ~(__u32)SHMPOOL_ATTACH_CREATE;
			memset(&a.info, 0, sizeof(a.info));
			continue;
		}
		/* The module has no huge mount (no THP): small pages, said so. */
		if (err == EOPNOTSUPP && (a.flags & SHMPOOL_ATTACH_HUGE) && tries < 4) {
			shmdev_region_warn_no_huge(r, "the module cannot give huge pages here (status: huge pages not supported; a kernel without transparent huge pages)");
			a.flags &= ~(__u32)SHMPOOL_ATTACH_HUGE;
			memset(&a.info, 0, sizeof(a.info));
			continue;
		}
		if (r->any_size && tries < 4 && err == ENOENT && !a.req_size &&
		    (r->flags & SHMDEV_REGION_CREATE)) {
			a.req_size = size;
			a.flags |= SHMPOOL_ATTACH_CREATE;
			memset(&a.info, 0, sizeof(a.info));
			continue;
		}
		ret = attach_error(r, fd, &a, err);
		close(fd);
		return ret;
	}

	/*
	 * HANDED_OVER (ADOPT, a live update) is a resume like RESUMED: the
	 * lease state the region carried decides clean or crash below.
	 */
	r->handed_over = a.result == SHMPOOL_RESULT_HANDED_OVER;
	if (a.result == SHMPOOL_RESULT_CREATED)
		r->start = SHMDEV_START_CREATED;
	else if (!(r->flags & SHMDEV_REGION_OWNER))
		r->start = SHMDEV_START_RESUMED;
	else if (a.info.state == SHMPOOL_STATE_CRASHED ||
		 a.info.state == SHMPOOL_STATE_OWNED)
		r->start = SHMDEV_START_RESUMED_CRASH;
	else	/* CLEAN, or NEW: a region that never had an owner */
		r->start = SHMDEV_START_RESUMED_CLEAN;
	if ((a.flags & SHMPOOL_ATTACH_HUGE) && a.result != SHMPOOL_RESULT_CREATED &&
	    !(a.info.flags & SHMPOOL_REGION_HUGE))
		shmdev_region_warn_old_small(r);
	r->generation = a.info.generation;
	r->leased = r->flags & SHMDEV_REGION_OWNER;
	r->size = a.info.size;
	r->fd = fd;

	p = mmap(NULL, r->size, rdonly ? PROT_READ : PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		struct shmpool_destroy d = { .size = sizeof(d), .key = r->key };
		struct shmpool_detach dt = { .size = sizeof(dt) };

		ret = shmdev_fail(r->ctx, errno, "region 0x%" PRIx64 " (" BK "): cannot map %s: %s",
				  r->key, shmdev_fmt_bytes(b, r->size), strerror(errno));
		/* Leave no trace: a new region goes, a clean one stays clean. */
		if (r->start == SHMDEV_START_CREATED)
			ioctl(fd, SHMPOOL_IOC_DESTROY, &d);
		else if (r->start == SHMDEV_START_RESUMED_CLEAN)
			ioctl(fd, SHMPOOL_IOC_DETACH, &dt);
		close(fd);
		r->fd = -1;
		r->leased = false;
		return ret;
	}
	r->addr = p;
	r->map = p;
	r->map_len = r->size;
	return 0;
}

int shmdev_device_detach(struct shmdev_region *r)
{
	struct shmpool_detach d = { .size = sizeof(d) };

	if (ioctl(r->fd, SHMPOOL_IOC_DETACH, &d))
		return shmdev_fail(r->ctx, errno, "region 0x%" PRIx64 " (" BK "): detach failed: %s",
				   r->key, strerror(errno));
	r->leased = false;
	return 0;
}

void shmdev_device_close(struct shmdev_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
}

int shmdev_device_stat(struct shmdev_ctx *ctx, uint64_t key,
		       struct shmdev_region_info *info)
{
	struct shmpool_region_info ri;
	int fd, ret;

	fd = open_device(ctx, key, O_RDONLY);
	if (fd < 0)
		return fd;
	ret = stat_key(fd, key, &ri);
	close(fd);
	if (ret == -ENOENT)
		return shmdev_fail(ctx, ENOENT, "region 0x%" PRIx64 " (" BK "): does not exist",
				   key);
	if (ret)
		return shmdev_fail(ctx, -ret, "region 0x%" PRIx64 " (" BK "): stat failed: %s",
				   key, why(-ret));
	info_from_kernel(info, &ri);
	return 0;
}

int shmdev_device_destroy(struct shmdev_ctx *ctx, uint64_t key)
{
	struct shmpool_destroy d = { .size = sizeof(d), .key = key };
	int fd, err;

	fd = open_device(ctx, key, O_RDONLY);
	if (fd < 0)
		return fd;
	if (!ioctl(fd, SHMPOOL_IOC_DESTROY, &d)) {
		close(fd);
		return 0;
	}
	err = errno;
	close(fd);
	if (err == ENOENT)
		return shmdev_fail(ctx, ENOENT, "region 0x%" PRIx64 " (" BK "): cannot destroy: does not exist",
				   key);
	if (err == EPERM)
		return shmdev_fail(ctx, EPERM, "region 0x%" PRIx64 " (" BK "): cannot destroy: not its owner or creator uid, and no CAP_SYS_ADMIN",
				   key);
	return shmdev_fail(ctx, err, "region 0x%" PRIx64 " (" BK "): cannot destroy: %s",
			   key, why(err));
}

int shmdev_device_list(struct shmdev_ctx *ctx,
		       int (*fn)(const struct shmdev_region_info *info, void *data),
		       void *data)
{
	struct shmpool_region_info ents[LIST_BATCH];
	struct shmpool_list l = {
		.size = sizeof(l),
		.entries = (uintptr_t)ents,
		.entry_size = sizeof(ents[0]),
	};
	int fd, ret = 0;
	uint32_t i;

	fd = open_device(ctx, 0, O_RDONLY);
	if (fd < 0)
		return fd;
	for (;;) {
		l.flags = 0;
		l.count = LIST_BATCH;
		if (ioctl(fd, SHMPOOL_IOC_LIST, &l)) {
			ret = shmdev_fail(ctx, errno, "regions (" BK "): list from 0x%" PRIx64 " failed: %s",
					  (uint64_t)l.cursor, why(errno));
			break;
		}
		for (i = 0; i < l.count && i < LIST_BATCH && !ret; i++) {
			struct shmdev_region_info info;

			/* Keys that no longer resolve are not listed (as POSIX). */
			if (ents[i].flags & SHMPOOL_REGION_DESTROYED)
				continue;
			info_from_kernel(&info, &ents[i]);
			ret = fn(&info, data);
		}
		if (ret || (l.flags & SHMPOOL_LIST_END) || l.count == 0)
			break;
	}
	close(fd);
	return ret;
}
