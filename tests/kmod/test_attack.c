// SPDX-License-Identifier: GPL-2.0
/*
 * Every promise of a read-only mapping, tried through every path the kernel
 * offers, not only mmap() and mprotect(): a RDONLY attach (as nobody and as
 * root) and an owner's mapping made after DETACH must never write the
 * region, and a mapping made through a noexec mount must never execute.
 * Also: a failed ATTACH leaves no trace, max_total_bytes bounds what the
 * regions really hold, nmaps counts mappings, and a region's size is fixed.
 *
 * Each attack returns a bit mask of the paths that got through (0 when
 * none did), so a failure names the path.
 */
#include "kutil.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define TAG 0x70
#define PG 4096UL
#define LEN (4 * PG)
#define FILL 0xa5
#define NOBODY 65534

/* Which path got through. */
enum {
	P_MPROTECT	= 1 << 0,
	P_REMAP		= 1 << 1,
	P_MREMAP	= 1 << 2,
	P_MADVISE	= 1 << 3,
	P_PROCMEM	= 1 << 4,
	P_VMWRITEV	= 1 << 5,
	P_MAPFILES_RW	= 1 << 6,
	P_MAPFILES_FD	= 1 << 7,
	P_TRUNCATE	= 1 << 8,
	P_UFFD		= 1 << 9,
	P_FORK		= 1 << 10,
	P_PKEY		= 1 << 11,
	P_SETUP		= 1 << 15,	/* the attack could not even start */
};

/* The range [p, p + len) is one VMA; name its /proc/self/map_files entry. */
static void map_files_path(char *buf, size_t n, const void *p, size_t len)
{
	snprintf(buf, n, "/proc/self/map_files/%lx-%lx", (unsigned long)p,
		 (unsigned long)p + len);
}

/* Tries that need no second VMA: each one changes a byte if it can. */
static unsigned int try_write_in_place(uint8_t *p, size_t len)
{
	unsigned int got = 0;
	struct iovec lo, re;
	uint8_t b = 0x11;
	int fd;

	if (mprotect(p, len, PROT_READ | PROT_WRITE) == 0)
		got |= P_MPROTECT;
	if (syscall(SYS_pkey_mprotect, p, len, PROT_READ | PROT_WRITE, -1) == 0)
		got |= P_PKEY;
	if (madvise(p, len, MADV_REMOVE) == 0)
		got |= P_MADVISE;
#ifdef MADV_POPULATE_WRITE
	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		got |= P_MADVISE;
#endif
	fd = open("/proc/self/mem", O_RDWR);
	if (fd >= 0) {
		if (pwrite(fd, &b, 1, (off_t)(uintptr_t)p) == 1)
			got |= P_PROCMEM;
		close(fd);
	}
	lo.iov_base = &b;
	lo.iov_len = 1;
	re.iov_base = p + 1;
	re.iov_len = 1;
	if (process_vm_writev(getpid(), &lo, 1, &re, 1, 0) == 1)
		got |= P_VMWRITEV;
	return got;
}

/* userfaultfd: no mode may register a read-only shared mapping. */
static unsigned int try_uffd(uint8_t *p, size_t len)
{
	static const unsigned long long modes[] = {
		UFFDIO_REGISTER_MODE_MISSING,
#ifdef UFFDIO_REGISTER_MODE_WP
		UFFDIO_REGISTER_MODE_WP,
#endif
#ifdef UFFDIO_REGISTER_MODE_MINOR
		UFFDIO_REGISTER_MODE_MINOR,
#endif
	};
	unsigned int got = 0;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)p, .len = len },
			.mode = modes[i],
		};
		/* UFFD_USER_MODE_ONLY (1): what an unprivileged user may have. */
		int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | 1);

		if (fd < 0)
			fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
		if (fd < 0)
			continue;	/* no userfaultfd for this user: no path */
		if (ioctl(fd, UFFDIO_API, &api) == 0 &&
		    ioctl(fd, UFFDIO_REGISTER, &reg) == 0)
			got |= P_UFFD;
		close(fd);
	}
	return got;
}

/*
 * /proc/self/map_files: a writable fd, or through a read-only one a
 * writable mapping or a size change.
 */
static unsigned int try_map_files(uint8_t *p, size_t len)
{
	unsigned int got = 0;
	char path[96];
	int fd;

	map_files_path(path, sizeof(path), p, len);
	fd = open(path, O_RDWR);
	if (fd >= 0) {
		got |= P_MAPFILES_RW;
		close(fd);
	}
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		void *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (q != MAP_FAILED) {
			got |= P_MAPFILES_FD;
			munmap(q, len);
		}
		if (ftruncate(fd, 0) == 0 || ftruncate(fd, (off_t)len * 2) == 0 ||
		    fallocate(fd, 0, 0, (off_t)len * 2) == 0 ||
		    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG) == 0)
			got |= P_MAPFILES_FD;
		close(fd);
	}
	if (truncate(path, 0) == 0 || truncate(path, (off_t)len * 2) == 0)
		got |= P_TRUNCATE;
	return got;
}

/*
 * The whole battery against a read-only mapping @p of @len bytes (one
 * VMA).  Unmaps it at the end.
 */
static unsigned int try_write_everything(uint8_t *p, size_t len)
{
	unsigned int got = try_write_in_place(p, len);
	uint8_t *q;
	pid_t pid;
	int st;

	got |= try_uffd(p, len);
	got |= try_map_files(p, len);

	/* A child of fork has the same mapping: it must fail the same way. */
	pid = fork();
	if (pid == 0)
		_exit(try_write_in_place(p, len) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		got |= P_FORK;

	/* mremap moves the VMA; it must not gain anything on the way. */
	q = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return got | P_SETUP;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q);
	if (q == MAP_FAILED)
		return got | P_SETUP;
	if (try_write_in_place(q, len))
		got |= P_MREMAP;

	/*
	 * remap_file_pages() rebuilds the mapping from vma->vm_file with the
	 * VMA's protection: afterwards mprotect(PROT_WRITE) must still fail.
	 * Done for the whole range and for one page (the VMA then splits).
	 */
	(void)remap_file_pages(q, len, 0, 0, 0);
	if (try_write_in_place(q, len) || try_map_files(q, len) ||
	    try_uffd(q, len))
		got |= P_REMAP;
	(void)remap_file_pages(q + PG, PG, 0, 2, 0);
	if (mprotect(q + PG, PG, PROT_READ | PROT_WRITE) == 0 ||
	    mprotect(q, len, PROT_READ | PROT_WRITE) == 0)
		got |= P_REMAP;
	munmap(q, len);
	return got;
}

/* The same for PROT_EXEC. */
static unsigned int try_exec_in_place(uint8_t *p, size_t len)
{
	unsigned int got = 0;

	if (mprotect(p, len, PROT_READ | PROT_EXEC) == 0)
		got |= P_MPROTECT;
	if (syscall(SYS_pkey_mprotect, p, len, PROT_READ | PROT_EXEC, -1) == 0)
		got |= P_PKEY;
	return got;
}

static unsigned int try_exec_everything(uint8_t *p, size_t len)
{
	unsigned int got = try_exec_in_place(p, len);
	uint8_t *q;
	pid_t pid;
	int st;

	pid = fork();
	if (pid == 0)
		_exit(try_exec_in_place(p, len) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		got |= P_FORK;
	q = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return got | P_SETUP;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q);
	if (q == MAP_FAILED)
		return got | P_SETUP;
	if (try_exec_in_place(q, len))
		got |= P_MREMAP;
	(void)remap_file_pages(q, len, 0, 0, 0);
	if (try_exec_in_place(q, len))
		got |= P_REMAP;
	(void)remap_file_pages(q + PG, PG, 0, 2, 0);
	if (try_exec_in_place(q, len))
		got |= P_REMAP;
	munmap(q, len);
	return got;
}

/* Create @key (LEN bytes, @mode) filled with FILL; returns the owner's fd. */
static int make_filled(uint64_t key, uint32_t mode)
{
	int fd = kt_attach_fd(key, LEN, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL,
			      mode, NULL);
	uint8_t *w = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(w, MAP_FAILED);
	memset(w, FILL, LEN);
	munmap(w, LEN);
	return fd;
}

/* Every byte of @key is still FILL, and its size is still LEN. */
static void assert_untouched(uint64_t key)
{
	struct shmpool_region_info st;
	int fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	uint8_t *r = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	for (size_t i = 0; i < LEN; i++)
		ck_assert_msg(r[i] == FILL, "byte %zu of key %#llx is %#x, want %#x",
			      i, (unsigned long long)key, r[i], FILL);
	munmap(r, LEN);
	close(fd);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.size, LEN);
}

struct ro_case {
	int fd;			/* /dev/shmpool, opened O_RDWR by root */
	uint64_t key;
	unsigned int *got;	/* shared with the parent */
};

/* Attach read-only through @c->fd, map, attack; the paths go to *c->got. */
static int attack_rdonly(void *arg)
{
	struct ro_case *c = arg;
	uint8_t *p;

	if (kt_attach(c->fd, c->key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL))
		return 1;
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED)
		return 2;
	*c->got = try_write_everything(p, LEN);
	return 0;
}

static void rdonly_attach_as(uid_t uid, uint64_t key)
{
	struct ro_case c = { .key = key };
	int owner = make_filled(key, 0644);
	int st;

	c.got = mmap(NULL, sizeof(*c.got), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(c.got, MAP_FAILED);
	c.fd = kt_open();
	st = uid ? kt_run_as(uid, uid, attack_rdonly, &c) : attack_rdonly(&c);
	ck_assert_int_eq(st, 0);
	ck_assert_msg(*c.got == 0, "uid %u: a read-only attach wrote through paths %#x",
		      (unsigned int)uid, *c.got);
	close(c.fd);
	assert_untouched(key);
	close(owner);
	ck_assert_int_eq(kt_destroy(key), 0);
}

START_TEST(rdonly_attach_never_writes_as_nobody)
{
	rdonly_attach_as(NOBODY, KT_KEY(TAG, 1));
}
END_TEST

START_TEST(rdonly_attach_never_writes_as_root)
{
	rdonly_attach_as(0, KT_KEY(TAG, 2));
}
END_TEST

START_TEST(mapping_after_detach_never_writes)
{
	uint64_t key = KT_KEY(TAG, 3);
	int owner = make_filled(key, 0600);
	int fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_OWNER, 0, NULL);
	uint8_t *w = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint8_t *p;
	unsigned int got;

	ck_assert_ptr_ne(w, MAP_FAILED);
	ck_assert_int_eq(kt_detach(fd), 0);
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	got = try_write_everything(p, LEN);
	ck_assert_msg(got == 0, "a mapping made after DETACH wrote through paths %#x", got);
	/* The mapping made before DETACH stays writable, as documented. */
	w[0] = FILL;
	munmap(w, LEN);
	close(fd);
	assert_untouched(key);
	close(owner);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(device_opened_rdonly_never_writes)
{
	uint64_t key = KT_KEY(TAG, 4);
	int owner = make_filled(key, 0600);
	int fd = kt_open_flags(O_RDONLY);
	uint8_t *p;
	unsigned int got;

	/* A write attach through a read-only open file maps read-only. */
	ck_assert_int_eq(kt_attach(fd, key, 0, 0, 0, NULL), 0);
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	got = try_write_everything(p, LEN);
	ck_assert_msg(got == 0, "an O_RDONLY device file wrote through paths %#x", got);
	close(fd);
	assert_untouched(key);
	close(owner);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

#define NOEXEC_DIR "/run/shmpool-noexec"

START_TEST(noexec_mount_never_executes)
{
	uint64_t key = KT_KEY(TAG, 5);
	char dev[64];
	unsigned int got;
	uint8_t *p;
	int fd;

	mkdir("/run", 0755);
	mkdir(NOEXEC_DIR, 0755);
	ck_assert_int_eq(mount("devtmpfs", NOEXEC_DIR, "devtmpfs", MS_NOEXEC | MS_NOSUID, NULL), 0);
	snprintf(dev, sizeof(dev), "%s/%s", NOEXEC_DIR, SHMPOOL_DEVICE_NAME);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(kt_attach(fd, key, LEN, SHMPOOL_ATTACH_CREATE, 0600, NULL), 0);
	ck_assert(mmap(NULL, LEN, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0) == MAP_FAILED);
	ck_assert_int_eq(errno, EPERM);
	/* Read-write and read-only mappings alike. */
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	got = try_exec_everything(p, LEN);
	ck_assert_msg(got == 0, "a read-write mapping through noexec executed via %#x", got);
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	got = try_exec_everything(p, LEN);
	ck_assert_msg(got == 0, "a read-only mapping through noexec executed via %#x", got);
	close(fd);
	ck_assert_int_eq(umount2(NOEXEC_DIR, MNT_DETACH), 0);
	rmdir(NOEXEC_DIR);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* The same region through /dev (exec allowed) still maps PROT_EXEC. */
START_TEST(exec_allowed_where_the_mount_allows_it)
{
	uint64_t key = KT_KEY(TAG, 6);
	int fd = kt_attach_fd(key, LEN, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	uint8_t *p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ | PROT_EXEC), 0);
	/* remap_file_pages keeps a writable mapping writable. */
	munmap(p, LEN);
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(remap_file_pages(p, LEN, 0, 0, 0), 0);
	p[0] = 1;
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ | PROT_WRITE), 0);
	p[1] = 2;
	munmap(p, LEN);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A failed ATTACH leaves nothing behind. */

struct flip {
	uint8_t *page;		/* the page the output area ends in */
	volatile int stop;
};

/* Unmap and map back the last page of the output area, forever. */
static void *flipper(void *arg)
{
	struct flip *f = arg;

	while (!f->stop) {
		munmap(f->page, PG);
		if (mmap(f->page, PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
	}
	return NULL;
}

/* The output area: its input fields end one page, its info fills the next. */
#define OUT_AT(page) ((struct shmpool_attach *)((page) - offsetof(struct shmpool_attach, info)))

static long attach_at(int fd, struct shmpool_attach *a, uint64_t key, uint32_t flags)
{
	struct shmpool_attach in = {
		.size = sizeof(in), .flags = flags, .key = key, .req_size = LEN, .mode = 0600,
	};

	/* Only the input part: the output part may be unmapped right now. */
	memcpy(a, &in, offsetof(struct shmpool_attach, info));
	return ioctl(fd, SHMPOOL_IOC_ATTACH, a) == 0 ? 0 : -errno;
}

START_TEST(failed_attach_leaves_no_trace)
{
	uint64_t key = KT_KEY(TAG, 10), fresh = KT_KEY(TAG, 11);
	struct shmpool_region_info before, after;
	struct flip f = { 0 };
	long iters = kt_env_long("SHMPOOL_ATTACH_RACE_ITERS", 3000);
	unsigned long efault = 0;
	uint8_t *area;
	pthread_t t;

	close(kt_attach_fd(key, LEN, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	area = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(area, MAP_FAILED);
	f.page = area + PG;

	/* Deterministic: an output area in a read-only page. */
	{
		int fd = kt_open();

		ck_assert_int_eq(mprotect(f.page, PG, PROT_READ), 0);
		ck_assert_int_eq(kt_stat(key, &before), 0);
		ck_assert_int_eq(attach_at(fd, OUT_AT(f.page), key,
					   SHMPOOL_ATTACH_OWNER), -EFAULT);
		ck_assert_int_eq(attach_at(fd, OUT_AT(f.page), fresh,
					   SHMPOOL_ATTACH_CREATE), -EFAULT);
		ck_assert_int_eq(kt_stat(fresh, NULL), -ENOENT);
		ck_assert_int_eq(kt_query(fd, NULL), -ENOTCONN);
		close(fd);
		ck_assert_int_eq(kt_stat(key, &after), 0);
		ck_assert_uint_eq(after.state, before.state);
		ck_assert_uint_eq(after.generation, before.generation);
		ck_assert_uint_eq(after.nattch, 0);
		ck_assert_int_eq(mprotect(f.page, PG, PROT_READ | PROT_WRITE), 0);
	}

	/* Racing: another thread unmaps the output area's second page. */
	ck_assert_int_eq(pthread_create(&t, NULL, flipper, &f), 0);
	for (long i = 0; i < iters; i++) {
		struct shmpool_attach *a = OUT_AT(f.page);
		int fd = kt_open();
		long r;

		ck_assert_int_eq(kt_stat(key, &before), 0);
		r = attach_at(fd, a, key, SHMPOOL_ATTACH_OWNER);
		if (r == 0) {
			ck_assert_int_eq(kt_detach(fd), 0);
			close(fd);
			continue;
		}
		ck_assert_int_eq(r, -EFAULT);
		efault++;
		ck_assert_int_eq(kt_stat(key, &after), 0);
		ck_assert_uint_eq(after.generation, before.generation);
		ck_assert_uint_eq(after.state, before.state);
		ck_assert_uint_eq(after.nattch, 0);
		ck_assert_uint_eq(after.owner_pid, 0);
		ck_assert_int_eq(kt_query(fd, NULL), -ENOTCONN);
		/* A new owner can take the lease at once: nothing holds it. */
		close(fd);
		ck_assert_int_eq(kt_stat(key, &after), 0);
		ck_assert_msg(after.state == before.state,
			      "a failed ATTACH left state %u (was %u)", after.state, before.state);
		/* And a failed CREATE creates nothing. */
		fd = kt_open();
		r = attach_at(fd, a, fresh, SHMPOOL_ATTACH_CREATE);
		if (r == -EFAULT)
			ck_assert_int_eq(kt_stat(fresh, NULL), -ENOENT);
		close(fd);
		if (r == 0)
			ck_assert_int_eq(kt_destroy(fresh), 0);
	}
	f.stop = 1;
	pthread_join(t, NULL);
	fprintf(stderr, "failed_attach_leaves_no_trace: %lu EFAULTs in %ld attaches\n",
		efault, iters);
	munmap(area, 2 * PG);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* max_total_bytes bounds what regions really hold. */

START_TEST(total_bytes_bounds_destroyed_but_mapped)
{
	const unsigned long limit = 8UL << 20, rsize = 1UL << 20;
	unsigned long long saved = kt_param_get("max_total_bytes");
	long base = kt_meminfo_kb("Shmem");
	struct shmpool_info in;
	void *maps[64];
	int n = 0, r = 0;

	kt_param_set("max_total_bytes", limit);
	for (n = 0; n < 64; n++) {
		int fd = kt_open();

		r = kt_attach(fd, KT_KEY(TAG, 20), rsize, SHMPOOL_ATTACH_CREATE, 0600, NULL);
		if (r) {
			close(fd);
			break;
		}
		maps[n] = mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(maps[n], MAP_FAILED);
		memset(maps[n], 1, rsize);
		ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 20)), 0);
		close(fd);
		/* INFO counts the destroyed, still mapped regions. */
		ck_assert_int_eq(kt_info(&in), 0);
		ck_assert_uint_eq(in.total_bytes, (uint64_t)(n + 1) * rsize);
		ck_assert_uint_eq(in.nr_regions, 0);
	}
	ck_assert_int_eq(r, -ENOSPC);
	ck_assert_int_eq(n, (int)(limit / rsize));
	ck_assert_int_le(kt_meminfo_kb("Shmem") - base, (long)(limit / 1024));
	for (int i = 0; i < n; i++)
		munmap(maps[i], rsize);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.total_bytes, 0);
	close(kt_attach_fd(KT_KEY(TAG, 20), rsize, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 20)), 0);
	kt_param_set("max_total_bytes", saved);
}
END_TEST

/* ------------------------------------------------------------------ */
/* nmaps counts mappings, not VMAs or file references. */

static unsigned int nmaps(uint64_t key)
{
	struct shmpool_region_info st;

	ck_assert_int_eq(kt_stat(key, &st), 0);
	return st.nmaps;
}

START_TEST(nmaps_counts_mappings)
{
	uint64_t key = KT_KEY(TAG, 30);
	int fd = kt_attach_fd(key, 8 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	struct kt_sync s;
	uint8_t *p, *q, *t;
	pid_t pid;

	p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_uint_eq(nmaps(key), 1);
	/* Split in three by mprotect: still one mapping. */
	ck_assert_int_eq(mprotect(p + 2 * PG, PG, PROT_READ), 0);
	ck_assert_uint_eq(nmaps(key), 1);
	/* A hole punched by munmap: still one. */
	ck_assert_int_eq(munmap(p + 5 * PG, PG), 0);
	ck_assert_uint_eq(nmaps(key), 1);
	/* mremap moves a piece: still one. */
	t = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(t, MAP_FAILED);
	q = mremap(p + 6 * PG, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, t);
	ck_assert_ptr_eq(q, t);
	ck_assert_uint_eq(nmaps(key), 1);
	/* A second mmap is a second mapping. */
	t = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(t, MAP_FAILED);
	ck_assert_uint_eq(nmaps(key), 2);
	/* A fork's copy is a mapping of its own (one per mapping copied). */
	kt_sync_init(&s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		kt_sync_child(&s);
		kt_signal(s.c2p[1], 1);
		kt_await(s.p2c[0]);
		_exit(0);
	}
	kt_sync_parent(&s);
	kt_await(s.c2p[0]);
	ck_assert_uint_eq(nmaps(key), 4);
	kt_signal(s.p2c[1], 1);
	ck_assert_int_eq(kt_wait(pid), 0);
	ck_assert_uint_eq(nmaps(key), 2);
	/* MAP_FIXED over the second mapping replaces it. */
	ck_assert_ptr_eq(mmap(t, PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0), t);
	ck_assert_uint_eq(nmaps(key), 2);
	/* remap_file_pages over all of a mapping: still one each. */
	ck_assert_int_eq(remap_file_pages(t, PG, 0, 3, 0), 0);
	ck_assert_uint_eq(nmaps(key), 2);
	munmap(t, PG);
	ck_assert_uint_eq(nmaps(key), 1);
	munmap(p, 5 * PG);
	ck_assert_uint_eq(nmaps(key), 1);
	munmap(q, 2 * PG);
	ck_assert_uint_eq(nmaps(key), 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/*
 * Neighbouring mappings of one attach, rebuilt by remap_file_pages(): the
 * kernel may merge the rebuilt range into its neighbour (6.12 and later
 * do).  However it goes, every mapping is counted while it lives and
 * released with its last VMA: nothing keeps the region afterwards.
 */
static void adjacent_remaps(uint32_t flags, int prot)
{
	uint64_t key = KT_KEY(TAG, 31);
	struct shmpool_info in;
	uint8_t *a, *b;
	int owner = kt_attach_fd(key, 8 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	int fd = kt_attach_fd(key, 0, flags, 0, NULL);

	a = mmap(NULL, 8 * PG, prot, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(a, MAP_FAILED);
	ck_assert_int_eq(munmap(a + 4 * PG, 4 * PG), 0);
	b = mmap(a + 4 * PG, 4 * PG, prot, MAP_SHARED | MAP_FIXED, fd, 4 * PG);
	ck_assert_ptr_eq(b, a + 4 * PG);
	ck_assert_uint_eq(nmaps(key), 2);
	(void)remap_file_pages(b, 4 * PG, 0, 4, 0);
	(void)remap_file_pages(b + PG, PG, 0, 5, 0);
	(void)remap_file_pages(a + 3 * PG, PG, 0, 3, 0);
	ck_assert_uint_ge(nmaps(key), 1);
	ck_assert_uint_le(nmaps(key), 5);
	ck_assert_int_eq(munmap(a, 8 * PG), 0);
	ck_assert_uint_eq(nmaps(key), 0);
	close(fd);
	close(owner);
	ck_assert_int_eq(kt_destroy(key), 0);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.total_bytes, 0);
}

START_TEST(adjacent_remaps_release_everything)
{
	adjacent_remaps(SHMPOOL_ATTACH_RDONLY, PROT_READ);
	adjacent_remaps(0, PROT_READ | PROT_WRITE);
	adjacent_remaps(0, PROT_READ);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A region's size never changes. */

START_TEST(size_is_fixed_through_map_files)
{
	uint64_t key = KT_KEY(TAG, 40);
	int owner = make_filled(key, 0600);
	uint8_t *w = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, owner, 0);
	unsigned int got;
	char path[96];
	int fd;

	ck_assert_ptr_ne(w, MAP_FAILED);
	/* No hole punched through a writable mapping either. */
	ck_assert_int_eq(madvise(w, LEN, MADV_REMOVE), -1);
	ck_assert_int_eq(errno, EPERM);
	got = try_map_files(w, LEN);
	ck_assert_msg(!(got & (P_TRUNCATE | P_MAPFILES_FD)),
		      "root changed the size or got write access via map_files: %#x", got);
	/* Even with a writable fd (if one can be had), never a size change. */
	map_files_path(path, sizeof(path), w, LEN);
	fd = open(path, O_RDWR);
	if (fd >= 0) {
		ck_assert_int_ne(ftruncate(fd, 0), 0);
		ck_assert_int_ne(ftruncate(fd, (off_t)LEN * 2), 0);
		ck_assert_int_ne(fallocate(fd, 0, 0, (off_t)LEN * 2), 0);
		close(fd);
	}
	munmap(w, LEN);
	assert_untouched(key);
	close(owner);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

#define TMP_DIR "/run/shmpool-kmod-attack"

int main(void)
{
	Suite *s = suite_create("kmod_attack");
	TCase *tc = tcase_create("attack");
	bool tmp_ok;
	int rc;

	tmp_ok = kt_tmp_off_shmem(TMP_DIR);
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, rdonly_attach_never_writes_as_nobody);
	tcase_add_test(tc, rdonly_attach_never_writes_as_root);
	tcase_add_test(tc, mapping_after_detach_never_writes);
	tcase_add_test(tc, device_opened_rdonly_never_writes);
	tcase_add_test(tc, noexec_mount_never_executes);
	tcase_add_test(tc, exec_allowed_where_the_mount_allows_it);
	tcase_add_test(tc, failed_attach_leaves_no_trace);
	tcase_add_test(tc, total_bytes_bounds_destroyed_but_mapped);
	tcase_add_test(tc, nmaps_counts_mappings);
	tcase_add_test(tc, adjacent_remaps_release_everything);
	tcase_add_test(tc, size_is_fixed_through_map_files);
	suite_add_tcase(s, tc);
	rc = kt_main(s);
	if (tmp_ok)
		kt_tmp_release(TMP_DIR);
	return rc;
}
