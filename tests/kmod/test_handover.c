// SPDX-License-Identifier: GPL-2.0
/*
 * Live update without the kexec: EXPORT hands out a region's shmem file and
 * freezes the region; ADOPT makes a memfd (what LUO gives back after the
 * kexec) a region with a key, uid, gid, mode and state, reported as
 * HANDED_OVER to the next attaches until an owner takes it up.  Both work
 * on every kernel, so this suite runs on the stock ones; the kexec itself
 * is tests/vm/kexec.sh.  Every bad input is tried, and each must leave
 * nothing behind (no region, no seal, no descriptor).
 */
#include "kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define TAG 0x4f
#define PG 4096ULL

static int export(uint64_t key, uint32_t flags, struct shmpool_export *out)
{
	struct shmpool_export e = { .size = sizeof(e), .flags = flags, .key = key };
	int fd = kt_open(), r;

	r = kt_ioctl(fd, SHMPOOL_IOC_EXPORT, &e);
	close(fd);
	if (out)
		*out = e;
	return r ? r : e.fd;
}

static int adopt_as(int mfd, uint64_t key, uint32_t uid, uint32_t gid,
		    uint32_t mode, uint32_t state, uint64_t req_size,
		    struct shmpool_adopt *out)
{
	struct shmpool_adopt a = {
		.size = sizeof(a), .key = key, .fd = mfd, .mode = mode,
		.uid = uid, .gid = gid, .state = state, .req_size = req_size,
	};
	int fd = kt_open(), r;

	r = kt_ioctl(fd, SHMPOOL_IOC_ADOPT, &a);
	close(fd);
	if (out)
		*out = a;
	return r;
}

static int adopt(int mfd, uint64_t key, uint32_t state)
{
	return adopt_as(mfd, key, geteuid(), getegid(), 0640, state, 0, NULL);
}

/* A memfd of @size bytes whose every 64-bit word is its index ^ @seed. */
static int filled_memfd(size_t size, uint64_t seed, unsigned int mfd_flags)
{
	int fd = memfd_create("handover-test", MFD_CLOEXEC | mfd_flags);
	uint64_t *p;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	for (size_t i = 0; i < size / 8; i++)
		p[i] = i ^ seed;
	ck_assert_int_eq(munmap(p, size), 0);
	return fd;
}

static void assert_pattern(const uint64_t *p, size_t size, uint64_t seed)
{
	for (size_t i = 0; i < size / 8; i++)
		ck_assert_msg(p[i] == (i ^ seed), "word %zu: %#" PRIx64, i, p[i]);
}

/* Attach @key (OWNER), check the pattern, leave cleanly; the result. */
static uint32_t owner_check(uint64_t key, size_t size, uint64_t seed,
			    struct shmpool_attach *out)
{
	struct shmpool_attach a;
	int fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_OWNER, 0, &a);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	assert_pattern(p, size, seed);
	ck_assert_int_eq(munmap(p, size), 0);
	ck_assert_int_eq(kt_detach(fd), 0);
	close(fd);
	if (out)
		*out = a;
	return a.result;
}

/* A region of @size bytes with the pattern, left CLEAN. */
static void make_region(uint64_t key, size_t size, uint64_t seed)
{
	int fd = kt_attach_fd(key, size, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
			      0600, NULL);
	uint64_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	for (size_t i = 0; i < size / 8; i++)
		p[i] = i ^ seed;
	ck_assert_int_eq(munmap(p, size), 0);
	ck_assert_int_eq(kt_detach(fd), 0);
	close(fd);
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

START_TEST(export_gives_the_memory_and_freezes)
{
	uint64_t key = KT_KEY(TAG, 1);
	struct shmpool_export e;
	struct shmpool_region_info info;
	struct stat st;
	int efd, fd;
	void *p;

	make_region(key, 4 * PG, 0x1111);
	efd = export(key, 0, &e);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(fcntl(efd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fcntl(efd, F_GETFL) & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(fstat(efd, &st), 0);
	ck_assert_int_eq(st.st_size, 4 * PG);
	ck_assert_uint_eq(e.info.size, 4 * PG);
	ck_assert_uint_eq(e.info.state, SHMPOOL_STATE_CLEAN);
	ck_assert(e.info.flags & SHMPOOL_REGION_FROZEN);
	/* The size stays sealed, the memory unpunched, through the exported file. */
	ck_assert_int_eq(ftruncate(efd, 8 * PG), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(efd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG), -1);
	ck_assert_int_eq(errno, EPERM);
	/* A live region's file cannot become a second region sharing its memory. */
	ck_assert_int_eq(adopt(efd, KT_KEY(TAG, 11), SHMPOOL_STATE_CLEAN), -EBUSY);
	ck_assert_int_eq(kt_stat(KT_KEY(TAG, 11), NULL), -ENOENT);
	p = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, efd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	assert_pattern(p, 4 * PG, 0x1111);
	munmap(p, 4 * PG);

	/* Frozen: no owner, no DESTROY; readers still welcome. */
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_OWNER, 0, NULL), -EBUSY);
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL), 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), -EBUSY);
	ck_assert_int_eq(kt_stat(key, &info), 0);
	ck_assert(info.flags & SHMPOOL_REGION_FROZEN);
	ck_assert_uint_eq(info.state, SHMPOOL_STATE_CLEAN);

	/* Thawed: as before, and no descriptor comes with a thaw. */
	ck_assert_int_eq(export(key, SHMPOOL_EXPORT_THAW, &e), -1);
	ck_assert(!(e.info.flags & SHMPOOL_REGION_FROZEN));
	ck_assert_uint_eq(owner_check(key, 4 * PG, 0x1111, NULL), SHMPOOL_RESULT_RESUMED);
	close(efd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(export_refuses_and_leaks_nothing)
{
	uint64_t key = KT_KEY(TAG, 2);
	struct shmpool_region_info info;
	struct shmpool_export e = { .size = sizeof(e) };
	int free_fd = lowest_free_fd(), fd, owner, efd;

	ck_assert_int_eq(export(KT_KEY(TAG, 99), 0, NULL), -ENOENT);
	ck_assert_int_eq(export(0, 0, NULL), -EINVAL);
	make_region(key, PG, 2);
	ck_assert_int_eq(export(key, 1U << 7, NULL), -EINVAL);
	fd = kt_open();
	e.key = key;
	e.reserved = 1;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_EXPORT, &e), -EINVAL);
	/* The output cannot be written back: no descriptor, no freeze. */
	{
		struct shmpool_export *ro = mmap(NULL, PG, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ck_assert_ptr_ne(ro, MAP_FAILED);
		ro->size = sizeof(*ro);
		ro->key = key;
		ck_assert_int_eq(mprotect(ro, PG, PROT_READ), 0);
		ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_EXPORT, ro), -EFAULT);
		ck_assert_int_eq(kt_stat(key, &info), 0);
		ck_assert(!(info.flags & SHMPOOL_REGION_FROZEN));
		ck_assert_int_eq(lowest_free_fd(), free_fd + 1);
		/* A freeze made before stays: the failed call undoes only its own. */
		efd = export(key, 0, NULL);
		ck_assert_int_ge(efd, 0);
		ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_EXPORT, ro), -EFAULT);
		ck_assert_int_eq(kt_stat(key, &info), 0);
		ck_assert(info.flags & SHMPOOL_REGION_FROZEN);
		ck_assert_int_eq(export(key, SHMPOOL_EXPORT_THAW, NULL), -1);
		close(efd);
		munmap(ro, PG);
	}
	close(fd);

	/* A live owner must leave first: the carried state must be final. */
	owner = kt_attach_fd(key, 0, SHMPOOL_ATTACH_OWNER, 0, NULL);
	ck_assert_int_eq(export(key, 0, NULL), -EBUSY);
	ck_assert_int_eq(kt_stat(key, &info), 0);
	ck_assert(!(info.flags & SHMPOOL_REGION_FROZEN));
	close(owner);
	ck_assert_int_eq(lowest_free_fd(), free_fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* The device is opened as root; the ioctl checks the caller's credentials. */
struct as_other {
	int fd;
	uint64_t key;
};

static int export_as_other(void *arg)
{
	struct as_other *o = arg;
	struct shmpool_export e = { .size = sizeof(e), .key = o->key };

	if (ioctl(o->fd, SHMPOOL_IOC_EXPORT, &e) == 0)
		return 101;
	return errno == EPERM ? 0 : 102;
}

START_TEST(export_needs_the_owner)
{
	struct as_other o = { .fd = kt_open(), .key = KT_KEY(TAG, 3) };
	struct shmpool_region_info info;

	make_region(o.key, PG, 3);
	ck_assert_int_eq(kt_run_as(65534, 65534, export_as_other, &o), 0);
	ck_assert_int_eq(kt_stat(o.key, &info), 0);
	ck_assert(!(info.flags & SHMPOOL_REGION_FROZEN));
	close(o.fd);
	ck_assert_int_eq(kt_destroy(o.key), 0);
}
END_TEST

START_TEST(adopt_makes_a_handed_over_region)
{
	uint64_t key = KT_KEY(TAG, 4);
	struct shmpool_adopt a;
	struct shmpool_attach at;
	struct shmpool_region_info info;
	int mfd = filled_memfd(8 * PG, 0x4444, MFD_ALLOW_SEALING);

	ck_assert_int_eq(adopt_as(mfd, key, geteuid(), getegid(), 0640,
				  SHMPOOL_STATE_CRASHED, 8 * PG, &a), 0);
	ck_assert_uint_eq(a.info.key, key);
	ck_assert_uint_eq(a.info.size, 8 * PG);
	ck_assert_uint_eq(a.info.mode, 0640);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_CRASHED);
	ck_assert(a.info.flags & SHMPOOL_REGION_HANDED_OVER);
	/* Sealed like a created region, through the caller's own fd too. */
	ck_assert_int_eq(fcntl(mfd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW),
			 F_SEAL_SHRINK | F_SEAL_GROW);
	ck_assert_int_eq(ftruncate(mfd, PG), -1);
	close(mfd);

	/* Readers see the hand-over; the first owner takes it up. */
	close(kt_attach_fd(key, 0, SHMPOOL_ATTACH_RDONLY, 0, &at));
	ck_assert_uint_eq(at.result, SHMPOOL_RESULT_HANDED_OVER);
	ck_assert_uint_eq(owner_check(key, 8 * PG, 0x4444, &at), SHMPOOL_RESULT_HANDED_OVER);
	ck_assert_uint_eq(at.info.state, SHMPOOL_STATE_CRASHED);
	ck_assert_uint_eq(at.info.uid, geteuid());
	ck_assert_uint_eq(owner_check(key, 8 * PG, 0x4444, &at), SHMPOOL_RESULT_RESUMED);
	ck_assert_uint_eq(at.info.state, SHMPOOL_STATE_CLEAN);
	ck_assert_int_eq(kt_stat(key, &info), 0);
	ck_assert(!(info.flags & SHMPOOL_REGION_HANDED_OVER));
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* EXPORT, let the region go, ADOPT the file again: a kexec without kexec. */
START_TEST(export_then_adopt_round_trip)
{
	uint64_t key = KT_KEY(TAG, 5);
	struct shmpool_export e;
	struct shmpool_adopt a;
	struct shmpool_attach at;
	struct shmpool_info in0, in1;
	int efd;

	make_region(key, 16 * PG, 0x5555);
	efd = export(key, 0, &e);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(export(key, SHMPOOL_EXPORT_THAW, NULL), -1);
	ck_assert_int_eq(kt_info(&in0), 0);
	ck_assert_int_eq(kt_destroy(key), 0);
	ck_assert_int_eq(adopt_as(efd, key, e.info.uid, e.info.gid, e.info.mode,
				  e.info.state, e.info.size, &a), 0);
	close(efd);
	ck_assert_int_eq(kt_info(&in1), 0);
	ck_assert_uint_eq(in1.nr_regions, in0.nr_regions);
	ck_assert_uint_eq(in1.total_bytes, in0.total_bytes);
	ck_assert_uint_eq(owner_check(key, 16 * PG, 0x5555, &at), SHMPOOL_RESULT_HANDED_OVER);
	ck_assert_uint_eq(at.info.state, SHMPOOL_STATE_CLEAN);
	ck_assert_uint_eq(at.info.mode, 0600);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* Nothing changed: no region, the same totals, the memfd unsealed. */
static void assert_no_trace(const struct shmpool_info *before, uint64_t key, int mfd)
{
	struct shmpool_info after;

	ck_assert_int_eq(kt_info(&after), 0);
	ck_assert_uint_eq(after.nr_regions, before->nr_regions);
	ck_assert_uint_eq(after.total_bytes, before->total_bytes);
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
	if (mfd >= 0)
		ck_assert_int_eq(fcntl(mfd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW), 0);
}

START_TEST(adopt_bad_input)
{
	uint64_t key = KT_KEY(TAG, 6);
	struct shmpool_info before;
	int mfd = filled_memfd(4 * PG, 6, MFD_ALLOW_SEALING);
	int pfd[2], other, dfd, tfd;
	struct shmpool_adopt a = { .size = sizeof(a) };
	void *p;

	ck_assert_int_eq(kt_info(&before), 0);
	/* Not a descriptor, not shmem. */
	ck_assert_int_eq(adopt(-1, key, SHMPOOL_STATE_CLEAN), -EBADF);
	ck_assert_int_eq(adopt(9999, key, SHMPOOL_STATE_CLEAN), -EBADF);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(adopt(pfd[0], key, SHMPOOL_STATE_CLEAN), -EINVAL);
	close(pfd[0]);
	close(pfd[1]);
	other = kt_open();
	ck_assert_int_eq(adopt(other, key, SHMPOOL_STATE_CLEAN), -EINVAL);
	close(other);
	/* A tmpfs file with a name: reachable by path, refused. */
	tfd = open("/dev/shm/shmpool-handover-test", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (tfd >= 0) {
		ck_assert_int_eq(ftruncate(tfd, PG), 0);
		ck_assert_int_eq(adopt(tfd, key, SHMPOOL_STATE_CLEAN), -EINVAL);
		unlink("/dev/shm/shmpool-handover-test");
		close(tfd);
	}
	/* Bad fields. */
	ck_assert_int_eq(adopt(mfd, 0, SHMPOOL_STATE_CLEAN), -EINVAL);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_OWNED), -EINVAL);
	ck_assert_int_eq(adopt(mfd, key, 7), -EINVAL);
	ck_assert_int_eq(adopt_as(mfd, key, geteuid(), getegid(), 01777,
				  SHMPOOL_STATE_CLEAN, 0, NULL), -EINVAL);
	ck_assert_int_eq(adopt_as(mfd, key, geteuid(), getegid(), 0600,
				  SHMPOOL_STATE_CLEAN, 2 * PG, NULL), -EINVAL);
	ck_assert_int_eq(adopt_as(mfd, key, (uint32_t)-1, getegid(), 0600,
				  SHMPOOL_STATE_CLEAN, 0, NULL), -EINVAL);
	other = kt_open();
	a.key = key;
	a.fd = mfd;
	a.flags = 1;
	ck_assert_int_eq(kt_ioctl(other, SHMPOOL_IOC_ADOPT, &a), -EINVAL);
	a.flags = 0;
	a.reserved = 1;
	ck_assert_int_eq(kt_ioctl(other, SHMPOOL_IOC_ADOPT, &a), -EINVAL);
	close(other);
	assert_no_trace(&before, key, mfd);

	/* Other users of the memory: a mapping, a second descriptor. */
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, mfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EBUSY);
	munmap(p, PG);
	dfd = dup(mfd);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EBUSY);
	close(dfd);
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
		dfd = open(path, O_RDONLY);
		ck_assert_int_ge(dfd, 0);
		ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EBUSY);
		close(dfd);
	}
	assert_no_trace(&before, key, mfd);

	/* Size: zero, not page aligned. */
	ck_assert_int_eq(ftruncate(mfd, 0), 0);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EINVAL);
	ck_assert_int_eq(ftruncate(mfd, PG + 1), 0);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EINVAL);
	ck_assert_int_eq(ftruncate(mfd, 4 * PG), 0);
	assert_no_trace(&before, key, mfd);

	/* Sealed against writing: it could never be a writable region. */
	ck_assert_int_eq(fcntl(mfd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), 0);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EPERM);
	close(mfd);
	assert_no_trace(&before, key, -1);
}
END_TEST

START_TEST(adopt_existing_key_and_limits)
{
	uint64_t key = KT_KEY(TAG, 7);
	struct shmpool_info before;
	unsigned long long region_bytes = kt_param_get("max_region_bytes");
	unsigned long long regions = kt_param_get("max_regions");
	int mfd = filled_memfd(4 * PG, 7, MFD_ALLOW_SEALING);

	make_region(key, PG, 7);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EEXIST);
	ck_assert_int_eq(fcntl(mfd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW), 0);
	ck_assert_uint_eq(owner_check(key, PG, 7, NULL), SHMPOOL_RESULT_RESUMED);

	/* Limits, with one other region in place (0 would mean the default). */
	make_region(KT_KEY(TAG, 70), PG, 70);
	ck_assert_int_eq(kt_destroy(key), 0);
	ck_assert_int_eq(kt_info(&before), 0);
	kt_param_set("max_region_bytes", 2 * PG);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -EFBIG);
	kt_param_set("max_region_bytes", region_bytes);
	kt_param_set("max_regions", before.nr_regions);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), -ENOSPC);
	kt_param_set("max_regions", regions);
	assert_no_trace(&before, key, mfd);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 70)), 0);
	ck_assert_int_eq(adopt(mfd, key, SHMPOOL_STATE_CLEAN), 0);
	close(mfd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

static int adopt_other_owner(void *arg)
{
	struct as_other *o = arg;
	int mfd = memfd_create("x", 0), r, fd = o->fd;
	struct shmpool_adopt a = {
		.size = sizeof(a), .key = o->key, .fd = mfd, .mode = 0600,
		.uid = 0, .gid = 0, .state = SHMPOOL_STATE_CLEAN,
	};

	if (mfd < 0 || ftruncate(mfd, 4096))
		return 100;
	if (ioctl(fd, SHMPOOL_IOC_ADOPT, &a) == 0)
		return 101;
	if (errno != EPERM)
		return 102;
	/* As oneself it is allowed. */
	a.uid = getuid();
	a.gid = getgid();
	r = ioctl(fd, SHMPOOL_IOC_ADOPT, &a);
	return r == 0 ? 0 : 103;
}

START_TEST(adopt_for_another_user_needs_privilege)
{
	struct as_other o = { .fd = kt_open(), .key = KT_KEY(TAG, 8) };
	struct shmpool_region_info info;

	ck_assert_int_eq(kt_run_as(65534, 65534, adopt_other_owner, &o), 0);
	close(o.fd);
	ck_assert_int_eq(kt_stat(o.key, &info), 0);
	ck_assert_uint_eq(info.uid, 65534);
	ck_assert_uint_eq(info.gid, 65534);
	ck_assert(info.flags & SHMPOOL_REGION_HANDED_OVER);
	ck_assert_int_eq(kt_destroy(o.key), 0);
}
END_TEST

static void setup(void)
{
	kt_clean_setup();
}

int main(void)
{
	Suite *s = suite_create("kmod_handover");
	TCase *tc = tcase_create("handover");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, export_gives_the_memory_and_freezes);
	tcase_add_test(tc, export_refuses_and_leaks_nothing);
	tcase_add_test(tc, export_needs_the_owner);
	tcase_add_test(tc, adopt_makes_a_handed_over_region);
	tcase_add_test(tc, export_then_adopt_round_trip);
	tcase_add_test(tc, adopt_bad_input);
	tcase_add_test(tc, adopt_existing_key_and_limits);
	tcase_add_test(tc, adopt_for_another_user_needs_privilege);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
