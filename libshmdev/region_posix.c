// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * POSIX fallback backend: one shm_open() object per region.
 *
 * Object "/<prefix>.<key %016x>":
 *   [0, page)          struct posix_hdr, not part of what the user gets
 *   [page, page+size)  user data: shmdev_region_addr() is page-aligned
 * The object is mapped whole, once; a reader checks the header with pread()
 * before mapping anything.
 *
 * The owner lease is an OFD lock (F_OFD_SETLK) on byte 0 of the object: it
 * belongs to the open file description, so the kernel drops it when the
 * holder's last fd goes, whatever way the process dies, and F_OFD_GETLK can
 * test it without taking it (stat never makes an owner fail with EBUSY).
 * The header's state says OWNED while a lease is held; a new owner that
 * gets the lock and still reads OWNED knows the last owner crashed.
 *
 * Huge pages (SHMDEV_REGION_HUGE at creation, POSIX_HDR_HUGE in the
 * header): every mapping of such a region gets MADV_HUGEPAGE.  Whether
 * shmem then uses huge pages is the host's choice (mm/shmem.c,
 * shmem_is_huge()): /dev/shm mounted huge=always, within_size or advise, or
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled at force (deny: never).
 * Where it will not, the open warns with the reason, and stat reports the
 * region as not huge.
 *
 * Creation builds the object under "/<prefix>.<key>.new.<tid>" and then
 * publishes it with renameat2(RENAME_NOREPLACE): the name appears complete
 * or not at all.  A temporary left by a creator that died is removed by the
 * next creator of the same key.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region.h"

#define SHM_DIR "/dev/shm"
#define PREFIX_MAX 200
#define NAME_MAX_LEN (PREFIX_MAX + 64)
#define TMP_MAX_LEN (NAME_MAX_LEN + 32)
#define PATH_MAX_LEN (TMP_MAX_LEN + 16)

/* "SHMPOOLR" as a little-endian u64. */
#define POSIX_MAGIC 0x524c4f4f504d4853ULL
#define POSIX_VERSION 1
#define POSIX_HDR_HUGE (1U << 0)

/* The header page.  Written by the lease holder (or the creator) only. */
struct posix_hdr {
	uint64_t magic;		/* set last, before the object is published */
	uint32_t version;	/* POSIX_VERSION */
	uint32_t hdr_len;	/* bytes before the user data: the page size */
	uint64_t key;
	uint64_t size;		/* user bytes, a multiple of the page size */
	uint64_t generation;	/* OWNER opens so far */
	uint64_t ctime_ns;
	uint64_t atime_ns;
	uint64_t dtime_ns;
	uint32_t state;		/* enum shmdev_region_state */
	uint32_t owner_pid;
	uint32_t flags;		/* POSIX_HDR_* */
	uint32_t reserved;
};

#define BK "posix"

static int page_size(void)
{
	return (int)sysconf(_SC_PAGESIZE);
}

static bool prefix_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* The object name prefix: SHMDEV_POSIX_PREFIX or "shmpool.<euid>". */
static int get_prefix(struct shmdev_ctx *ctx, uint64_t key, char *buf,
		      size_t len)
{
	const char *env = getenv("SHMDEV_POSIX_PREFIX");
	size_t i;

	if (!env || !*env) {
		snprintf(buf, len, "shmpool.%u", (unsigned int)geteuid());
		return 0;
	}
	for (i = 0; env[i]; i++)
		if (!prefix_char_ok(env[i]) || i >= PREFIX_MAX)
			return shmdev_fail(ctx, EINVAL,
					   "region 0x%" PRIx64 " (" BK "): SHMDEV_POSIX_PREFIX=\"%s\" must be 1-%d of [A-Za-z0-9._-]",
					   key, env, PREFIX_MAX);
	snprintf(buf, len, "%s", env);
	return 0;
}

/* "/<prefix>.<key>", the object's shm_open() name. */
static int make_name(struct shmdev_ctx *ctx, uint64_t key, char *buf, size_t len)
{
	char prefix[PREFIX_MAX + 1];
	int ret = get_prefix(ctx, key, prefix, sizeof(prefix));

	if (ret)
		return ret;
	snprintf(buf, len, "/%s.%016" PRIx64, prefix, key);
	return 0;
}

/* Lease operations on the OFD lock of byte 0. */
static int lock_op(int fd, int cmd, short type, struct flock *out)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 1,
	};

	if (fcntl(fd, cmd, &fl))
		return -errno;
	if (out)
		*out = fl;
	return 0;
}

static int lease_take(int fd)
{
	int ret = lock_op(fd, F_OFD_SETLK, F_WRLCK, NULL);

	return (ret == -EAGAIN || ret == -EACCES) ? -EBUSY : ret;
}

static void lease_drop(int fd)
{
	lock_op(fd, F_OFD_SETLK, F_UNLCK, NULL);
}

/* 1 if another open file description holds the lease, 0 if not. */
static int lease_held(int fd)
{
	struct flock fl = { .l_type = F_UNLCK };
	int ret = lock_op(fd, F_OFD_GETLK, F_WRLCK, &fl);

	if (ret)
		return ret;
	return fl.l_type != F_UNLCK;
}

/*
 * Check that @h, mapped from an object of @st_size bytes, is the header of
 * region @key.  Returns 0 or fails with -EPROTO naming what is wrong.
 */
static int check_hdr(struct shmdev_ctx *ctx, uint64_t key, const char *name,
		     const struct posix_hdr *h, uint64_t st_size)
{
	uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);

	if (magic != POSIX_MAGIC)
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): " SHM_DIR "%s is not a shmpool region (bad magic 0x%016" PRIx64 "); remove it",
				   key, name, magic);
	if (h->version != POSIX_VERSION)
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): header version %u, this library knows %u",
				   key, h->version, POSIX_VERSION);
	if (h->hdr_len != (uint32_t)page_size())
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): header length %u is not the page size %d",
				   key, h->hdr_len, page_size());
	if (h->key != key)
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): object %s holds key 0x%" PRIx64,
				   key, name, h->key);
	if (h->size == 0 || h->hdr_len + h->size != st_size)
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): header says %" PRIu64 " bytes but the object has %" PRIu64 " after the header",
				   key, h->size, st_size - h->hdr_len);
	if (h->state > SHMDEV_STATE_CRASHED)
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): bad state %u in the header",
				   key, h->state);
	return 0;
}

/* Read and check the header of @fd into @h. */
static int read_hdr(struct shmdev_ctx *ctx, uint64_t key, const char *name,
		    int fd, struct posix_hdr *h)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return shmdev_fail(ctx, errno, "region 0x%" PRIx64 " (" BK "): fstat %s: %s",
				   key, name, strerror(errno));
	if (st.st_size < page_size())
		return shmdev_fail(ctx, EPROTO, "region 0x%" PRIx64 " (" BK "): " SHM_DIR "%s has %lld bytes, no room for a header: not a shmpool region; remove it",
				   key, name, (long long)st.st_size);
	n = pread(fd, h, sizeof(*h), 0);
	if (n != (ssize_t)sizeof(*h))
		return shmdev_fail(ctx, n < 0 ? errno : EIO, "region 0x%" PRIx64 " (" BK "): cannot read the header of %s: %s",
				   key, name, n < 0 ? strerror(errno) : "short read");
	return check_hdr(ctx, key, name, h, (uint64_t)st.st_size);
}

/* HUGE asked for: warn if this host will not give huge pages. */
static void check_huge(struct shmdev_region *r)
{
	char why[400];

	if (!shmdev_posix_huge_possible(why, sizeof(why)))
		shmdev_region_warn_no_huge(r, why);
}

/* Map all of region @r (header and data) from r->fd. */
static int map_all(struct shmdev_region *r, uint64_t size)
{
	int prot = (r->flags & SHMDEV_REGION_RDONLY) ? PROT_READ :
						       PROT_READ | PROT_WRITE;
	char b[32];
	void *p;

	r->hdr_len = (uint64_t)page_size();
	r->map_len = r->hdr_len + size;
	p = mmap(NULL, r->map_len, prot, MAP_SHARED, r->fd, 0);
	if (p == MAP_FAILED)
		return shmdev_fail(r->ctx, errno, "region 0x%" PRIx64 " (" BK "): cannot map %s: %s",
				   r->key, shmdev_fmt_bytes(b, size), strerror(errno));
	/* Ask for THP; whether shmem gives them is the mount's affair. */
	if (r->huge)
		madvise(p, r->map_len, MADV_HUGEPAGE);
	r->map = p;
	r->hdr = p;
	r->addr = (char *)p + r->hdr_len;
	r->size = size;
	return 0;
}

static void unmap_all(struct shmdev_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = r->hdr = r->addr = NULL;
}

static int open_error(struct shmdev_ctx *ctx, uint64_t key, const char *name,
		      int err)
{
	switch (err) {
	case ENOENT:
		return shmdev_fail(ctx, ENOENT, "region 0x%" PRIx64 " (" BK "): does not exist (%s); open with CREATE to make it",
				   key, name);
	case EACCES:
		return shmdev_fail(ctx, EACCES, "region 0x%" PRIx64 " (" BK "): permission denied on %s (check its mode and owner)",
				   key, name);
	default:
		return shmdev_fail(ctx, err, "region 0x%" PRIx64 " (" BK "): shm_open %s: %s",
				   key, name, strerror(err));
	}
}

/* Remove "<prefix>.<key>.new.<tid>" temporaries whose creator is gone. */
static void sweep_temporaries(const char *name)
{
	char stem[NAME_MAX_LEN + 8];
	struct dirent *de;
	size_t len;
	DIR *d;

	snprintf(stem, sizeof(stem), "%s.new.", name + 1);
	len = strlen(stem);
	d = opendir(SHM_DIR);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long tid;

		if (strncmp(de->d_name, stem, len))
			continue;
		errno = 0;
		tid = strtol(de->d_name + len, &end, 10);
		if (errno || *end || tid <= 0)
			continue;
		if (kill((pid_t)tid, 0) && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* Publish @tmp as @name, failing with -EEXIST if @name exists. */
static int publish(const char *tmp, const char *name)
{
	char from[PATH_MAX_LEN], to[PATH_MAX_LEN];

	snprintf(from, sizeof(from), SHM_DIR "%s", tmp);
	snprintf(to, sizeof(to), SHM_DIR "%s", name);
	if (!renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No RENAME_NOREPLACE here: link() is atomic and fails on EEXIST too. */
	if (link(from, to))
		return -errno;
	unlink(from);
	return 0;
}

/*
 * Reserve the @len bytes of a new HUGE region through its mapping, which
 * map_all() gave MADV_HUGEPAGE: MADV_POPULATE_WRITE faults every page in as
 * a write fault of that mapping would, so shmem allocates huge pages where
 * the mount gives them to such a mapping (mm/shmem.c:
 * shmem_huge_global_enabled(), huge=advise: VM_HUGEPAGE), and a full
 * /dev/shm fails here (-EFAULT from the fault's SIGBUS: -ENOSPC).  A kernel
 * without MADV_POPULATE_WRITE (before 5.14: -EINVAL) gets the fallocate
 * reservation, and small pages where the mount is huge=advise.
 */
static int populate_huge(struct shmdev_region *r, int fd, uint64_t len)
{
	int ret;

	if (!madvise(r->map, r->map_len, MADV_POPULATE_WRITE))
		return 0;
	if (errno == EFAULT || errno == ENOMEM)
		return errno == EFAULT ? -ENOSPC : -ENOMEM;
	if (errno != EINVAL)
		return -errno;
	ret = posix_fallocate(fd, 0, (off_t)len);
	return -ret;
}

/*
 * Create region r->key of @size bytes under @name.  On success r->fd and
 * r->hdr are set (and the lease is held with OWNER).  -EEXIST, without a
 * message, if someone else published the name first.
 */
static int posix_create(struct shmdev_region *r, const char *name,
			uint64_t size, uint32_t mode)
{
	struct shmdev_ctx *ctx = r->ctx;
	uint64_t page = (uint64_t)page_size();
	char tmp[TMP_MAX_LEN], why[512];
	struct posix_hdr *h;
	bool populate;
	char sz[32];
	uint64_t now;
	int fd, ret;

	if (size > (uint64_t)INT64_MAX - 2 * page)
		return shmdev_fail(ctx, EFBIG, "region 0x%" PRIx64 " (" BK "): size %" PRIu64 " is too large",
				   r->key, size);
	size = (size + page - 1) / page * page;

	sweep_temporaries(name);
	snprintf(tmp, sizeof(tmp), "%s.new.%d", name, (int)gettid());
	fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return shmdev_fail(ctx, errno, "region 0x%" PRIx64 " (" BK "): cannot create %s: %s",
				   r->key, tmp, strerror(errno));
	/* shm_open() applied the umask: the region gets exactly @mode. */
	if (fchmod(fd, mode)) {
		ret = shmdev_fail(ctx, errno, "region 0x%" PRIx64 " (" BK "): chmod 0%o %s: %s",
				  r->key, mode, tmp, strerror(errno));
		goto err_unlink;
	}
	if (ftruncate(fd, (off_t)(page + size))) {
		ret = shmdev_fail(ctx, errno, "region 0x%" PRIx64 " (" BK "): cannot size %s to %s: %s",
				  r->key, tmp, shmdev_fmt_bytes(sz, size), strerror(errno));
		goto err_unlink;
	}
	/*
	 * Reserve the pages now, as the device charges its commit at creation:
	 * a full /dev/shm must fail here, not SIGBUS a server later.  A HUGE
	 * region on a host that gives huge pages is reserved through its
	 * MADV_HUGEPAGE mapping instead (populate_huge()): fallocate has no
	 * mapping, so under huge=advise it gets small pages, which the region
	 * would keep for good.
	 */
	r->huge = r->flags & SHMDEV_REGION_HUGE;
	populate = r->huge && shmdev_posix_huge_possible(why, sizeof(why));
	if (!populate && (ret = posix_fallocate(fd, 0, (off_t)(page + size)))) {
		ret = shmdev_fail(ctx, ret, "region 0x%" PRIx64 " (" BK "): cannot reserve %s in " SHM_DIR ": %s",
				  r->key, shmdev_fmt_bytes(sz, size), strerror(ret));
		goto err_unlink;
	}
	if ((r->flags & SHMDEV_REGION_OWNER) && (ret = lease_take(fd))) {
		ret = shmdev_fail(ctx, -ret, "region 0x%" PRIx64 " (" BK "): cannot lock the new %s: %s",
				  r->key, tmp, strerror(-ret));
		goto err_unlink;
	}
	r->fd = fd;
	ret = map_all(r, size);
	if (ret)
		goto err_unlink;
	if (populate && (ret = populate_huge(r, fd, page + size))) {
		unmap_all(r);
		ret = shmdev_fail(ctx, -ret, "region 0x%" PRIx64 " (" BK "): cannot reserve %s in " SHM_DIR ": %s",
				  r->key, shmdev_fmt_bytes(sz, size), strerror(-ret));
		goto err_unlink;
	}
	h = r->hdr;
	now = shmdev_now_ns();
	h->version = POSIX_VERSION;
	h->hdr_len = (uint32_t)page;
	h->key = r->key;
	h->size = size;
	h->ctime_ns = now;
	h->flags = (r->flags & SHMDEV_REGION_HUGE) ? POSIX_HDR_HUGE : 0;
	if (r->flags & SHMDEV_REGION_OWNER) {
		h->generation = 1;
		h->atime_ns = now;
		h->state = SHMDEV_STATE_OWNED;
		h->owner_pid = (uint32_t)getpid();
	} else {
		h->state = SHMDEV_STATE_NEW;
	}
	__atomic_store_n(&h->magic, POSIX_MAGIC, __ATOMIC_RELEASE);

	ret = publish(tmp, name);
	if (ret) {
		unmap_all(r);
		if (ret != -EEXIST)
			ret = shmdev_fail(ctx, -ret, "region 0x%" PRIx64 " (" BK "): cannot publish %s as %s: %s",
					  r->key, tmp, name, strerror(-ret));
		goto err_unlink;
	}
	return 0;

err_unlink:
	shm_unlink(tmp);
	close(fd);
	r->fd = -1;
	return ret;
}

/* Take the lease of an existing region and learn how its last owner left. */
static int posix_own(struct shmdev_region *r, const char *name)
{
	struct posix_hdr *h = r->hdr;
	int ret = lease_take(r->fd);
	uint64_t now;

	if (ret == -EBUSY)
		return shmdev_fail(r->ctx, EBUSY, "region 0x%" PRIx64 " (" BK "): the owner lease is held by pid %u",
				   r->key, __atomic_load_n(&h->owner_pid, __ATOMIC_RELAXED));
	if (ret)
		return shmdev_fail(r->ctx, -ret, "region 0x%" PRIx64 " (" BK "): cannot lock %s: %s",
				   r->key, name, strerror(-ret));
	now = shmdev_now_ns();
	switch (h->state) {
	case SHMDEV_STATE_OWNED:	/* we got the lock: its holder died */
	case SHMDEV_STATE_CRASHED:
		r->start = SHMDEV_START_RESUMED_CRASH;
		if (h->state == SHMDEV_STATE_OWNED)
			h->dtime_ns = now;
		break;
	default:			/* CLEAN, or NEW: nobody ever crashed */
		r->start = SHMDEV_START_RESUMED_CLEAN;
		break;
	}
	h->generation++;
	h->atime_ns = now;
	h->owner_pid = (uint32_t)getpid();
	__atomic_store_n(&h->state, SHMDEV_STATE_OWNED, __ATOMIC_RELEASE);
	r->generation = h->generation;
	r->leased = true;
	return 0;
}

int shmdev_posix_open(struct shmdev_region *r, uint64_t size, uint32_t mode)
{
	struct shmdev_ctx *ctx = r->ctx;
	bool rdonly = r->flags & SHMDEV_REGION_RDONLY;
	char name[NAME_MAX_LEN];
	struct posix_hdr h;
	char want[32], have[32];
	int attempt, ret;

	ret = make_name(ctx, r->key, name, sizeof(name));
	if (ret)
		return ret;
	/*
	 * A racing creator may publish between our failed open and our own
	 * publish: then open what it made.  Destroys racing with that could
	 * loop, hence the bound.
	 */
	for (attempt = 0; ; attempt++) {
		r->fd = shm_open(name, rdonly ? O_RDONLY : O_RDWR, 0);
		if (r->fd >= 0)
			break;
		if (errno != ENOENT || !(r->flags & SHMDEV_REGION_CREATE) || attempt == 8)
			return open_error(ctx, r->key, name, errno);
		ret = posix_create(r, name, size, mode);
		if (ret == 0) {
			if (r->huge)
				check_huge(r);
			r->start = SHMDEV_START_CREATED;
			r->generation = ((struct posix_hdr *)r->hdr)->generation;
			r->leased = r->flags & SHMDEV_REGION_OWNER;
			return 0;
		}
		if (ret != -EEXIST)
			return ret;
		if (r->flags & SHMDEV_REGION_EXCL)
			break;
	}
	if (r->flags & SHMDEV_REGION_EXCL) {
		ret = shmdev_fail(ctx, EEXIST, "region 0x%" PRIx64 " (" BK "): already exists (CREATE|EXCL)",
				  r->key);
		goto err_close;
	}

	ret = read_hdr(ctx, r->key, name, r->fd, &h);
	if (ret)
		goto err_close;
	if (size > h.size && !r->any_size) {
		ret = shmdev_fail(ctx, EINVAL, "region 0x%" PRIx64 " (" BK "): requested %s but it holds %s; destroy it or fix the size",
				  r->key, shmdev_fmt_bytes(want, size),
				  shmdev_fmt_bytes(have, h.size));
		goto err_close;
	}
	r->huge = h.flags & POSIX_HDR_HUGE;
	ret = map_all(r, h.size);
	if (ret)
		goto err_close;
	if ((r->flags & SHMDEV_REGION_HUGE) && !r->huge)
		shmdev_region_warn_old_small(r);
	else if (r->flags & SHMDEV_REGION_HUGE)
		check_huge(r);
	if (r->flags & SHMDEV_REGION_OWNER) {
		ret = posix_own(r, name);
		if (ret)
			goto err_unmap;
	} else {
		r->start = SHMDEV_START_RESUMED;
		r->generation = h.generation;
	}
	return 0;

err_unmap:
	unmap_all(r);
err_close:
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	return ret;
}

int shmdev_posix_detach(struct shmdev_region *r)
{
	struct posix_hdr *h = r->hdr;

	h->dtime_ns = shmdev_now_ns();
	h->owner_pid = 0;
	__atomic_store_n(&h->state, SHMDEV_STATE_CLEAN, __ATOMIC_RELEASE);
	lease_drop(r->fd);
	r->leased = false;
	return 0;
}

void shmdev_posix_close(struct shmdev_region *r)
{
	/* A lease still held is dropped by close(): the header says OWNED. */
	unmap_all(r);
	if (r->fd >= 0)
		close(r->fd);
}

/* Fill @info for object @name opened as @fd. */
static int stat_fd(struct shmdev_ctx *ctx, uint64_t key, const char *name,
		   int fd, struct shmdev_region_info *info)
{
	struct posix_hdr h;
	struct stat st;
	int ret, held;

	ret = read_hdr(ctx, key, name, fd, &h);
	if (ret)
		return ret;
	if (fstat(fd, &st))
		return shmdev_fail(ctx, errno, "region 0x%" PRIx64 " (" BK "): fstat %s: %s",
				   key, name, strerror(errno));
	if (h.state == SHMDEV_STATE_OWNED) {
		held = lease_held(fd);
		if (held < 0)
			return shmdev_fail(ctx, -held, "region 0x%" PRIx64 " (" BK "): cannot test the lease of %s: %s",
					   key, name, strerror(-held));
		/* Read again: the owner may have detached since. */
		ret = read_hdr(ctx, key, name, fd, &h);
		if (ret)
			return ret;
		if (h.state == SHMDEV_STATE_OWNED && !held) {
			/* The header was never cleared: its owner died. */
			h.state = SHMDEV_STATE_CRASHED;
		}
	}
	memset(info, 0, sizeof(*info));
	info->key = key;
	info->size = h.size;
	info->generation = h.generation;
	info->ctime_ns = h.ctime_ns;
	info->atime_ns = h.atime_ns;
	info->dtime_ns = h.dtime_ns;
	info->uid = st.st_uid;
	info->gid = st.st_gid;
	info->mode = st.st_mode & 0777;
	/* Huge only if asked at creation and shmem in SHM_DIR gives them now. */
	if (h.flags & POSIX_HDR_HUGE) {
		char why[400];

		info->huge = shmdev_posix_huge_possible(why, sizeof(why));
	}
	info->backend = SHMDEV_BACKEND_POSIX;
	info->state = (enum shmdev_region_state)h.state;
	info->owned = h.state == SHMDEV_STATE_OWNED;
	info->owner_pid = info->owned ? h.owner_pid : 0;
	return 0;
}

int shmdev_posix_stat(struct shmdev_ctx *ctx, uint64_t key,
		      struct shmdev_region_info *info)
{
	char name[NAME_MAX_LEN];
	int fd, ret;

	ret = make_name(ctx, key, name, sizeof(name));
	if (ret)
		return ret;
	fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return open_error(ctx, key, name, errno);
	ret = stat_fd(ctx, key, name, fd, info);
	close(fd);
	return ret;
}

int shmdev_posix_destroy(struct shmdev_ctx *ctx, uint64_t key)
{
	char name[NAME_MAX_LEN];
	int ret;

	ret = make_name(ctx, key, name, sizeof(name));
	if (ret)
		return ret;
	if (shm_unlink(name)) {
		int err = errno;

		if (err == ENOENT)
			return shmdev_fail(ctx, ENOENT, "region 0x%" PRIx64 " (" BK "): cannot destroy: does not exist (%s)",
					   key, name);
		if (err == EACCES)
			err = EPERM;
		return shmdev_fail(ctx, err, "region 0x%" PRIx64 " (" BK "): cannot destroy %s: %s",
				   key, name, strerror(err));
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The key of "<prefix>.<16 hex digits>", or 0 if @d_name is not one. */
static uint64_t key_of(const char *d_name, const char *prefix, size_t plen)
{
	const char *hex = d_name + plen + 1;
	uint64_t key = 0;
	int i;

	if (strncmp(d_name, prefix, plen) || d_name[plen] != '.')
		return 0;
	for (i = 0; i < 16; i++) {
		char c = hex[i];

		if (!isxdigit((unsigned char)c) || isupper((unsigned char)c))
			return 0;
		key = key << 4 | (uint64_t)(isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
	}
	return hex[16] ? 0 : key;
}

int shmdev_posix_list(struct shmdev_ctx *ctx,
		      int (*fn)(const struct shmdev_region_info *info, void *data),
		      void *data)
{
	char prefix[PREFIX_MAX + 1];
	uint64_t *keys = NULL;
	size_t n = 0, cap = 0, i, plen;
	struct dirent *de;
	int ret;
	DIR *d;

	ret = get_prefix(ctx, 0, prefix, sizeof(prefix));
	if (ret)
		return ret;
	plen = strlen(prefix);
	d = opendir(SHM_DIR);
	if (!d)
		return shmdev_fail(ctx, errno, "regions (" BK "): cannot read " SHM_DIR ": %s",
				   strerror(errno));
	while ((de = readdir(d))) {
		uint64_t key = key_of(de->d_name, prefix, plen);

		if (!key)
			continue;
		if (n == cap) {
			uint64_t *k = realloc(keys, (cap ? cap * 2 : 64) * sizeof(*k));

			if (!k) {
				closedir(d);
				free(keys);
				return shmdev_fail(ctx, ENOMEM, "regions (" BK "): out of memory listing " SHM_DIR);
			}
			keys = k;
			cap = cap ? cap * 2 : 64;
		}
		keys[n++] = key;
	}
	closedir(d);
	if (n)
		qsort(keys, n, sizeof(*keys), cmp_u64);

	for (i = 0; i < n; i++) {
		struct shmdev_region_info info;

		ret = shmdev_posix_stat(ctx, keys[i], &info);
		if (ret) {
			/* Destroyed since the scan, or not ours: not a region. */
			shmdev_dbg(ctx, "skipping 0x%" PRIx64 ": %s", keys[i],
				   shmdev_errmsg(ctx));
			shmdev_clear_error(ctx);
			ret = 0;
			continue;
		}
		ret = fn(&info, data);
		if (ret)
			break;
	}
	free(keys);
	return ret;
}
