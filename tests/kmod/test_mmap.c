// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping rules: MAP_SHARED only, bounds, read-only attaches (and DETACH)
 * refusing PROT_WRITE now and through a later mprotect, unattached files.
 */
#include "kutil.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#define TAG 0x20
#define PG 4096UL

static void *map(int fd, size_t len, int prot, int flags, off_t off)
{
	return mmap(NULL, len, prot, flags, fd, off);
}

static int map_err(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = map(fd, len, prot, flags, off);

	if (p != MAP_FAILED) {
		munmap(p, len);
		return 0;
	}
	return -errno;
}

START_TEST(unattached_file_cannot_map)
{
	int fd = kt_open();

	ck_assert_int_eq(map_err(fd, PG, PROT_READ, MAP_SHARED, 0), -ENXIO);
	close(fd);
}
END_TEST

START_TEST(bounds)
{
	uint64_t key = KT_KEY(TAG, 1);
	int fd = kt_attach_fd(key, 4 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	uint8_t *p;

	ck_assert_int_eq(map_err(fd, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0), 0);
	ck_assert_int_eq(map_err(fd, PG, PROT_READ, MAP_SHARED, 3 * PG), 0);
	/* Oversize, past the end, straddling the end. */
	ck_assert_int_eq(map_err(fd, 5 * PG, PROT_READ, MAP_SHARED, 0), -EINVAL);
	ck_assert_int_eq(map_err(fd, PG, PROT_READ, MAP_SHARED, 4 * PG), -EINVAL);
	ck_assert_int_eq(map_err(fd, PG, PROT_READ, MAP_SHARED, 100 * PG), -EINVAL);
	ck_assert_int_eq(map_err(fd, 2 * PG, PROT_READ, MAP_SHARED, 3 * PG), -EINVAL);
	ck_assert_int_eq(map_err(fd, PG, PROT_READ, MAP_SHARED, (off_t)1 << 46), -EINVAL);
	/* Private mappings are refused, read-only or not. */
	ck_assert_int_eq(map_err(fd, PG, PROT_READ, MAP_PRIVATE, 0), -EINVAL);
	ck_assert_int_eq(map_err(fd, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0), -EINVAL);

	/* An offset mapping sees the right page. */
	p = map(fd, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	p[2 * PG + 5] = 42;
	{
		uint8_t *q = map(fd, PG, PROT_READ, MAP_SHARED, 2 * PG);

		ck_assert_ptr_ne(q, MAP_FAILED);
		ck_assert_uint_eq(q[5], 42);
		munmap(q, PG);
	}
	munmap(p, 4 * PG);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(rdonly_attach)
{
	uint64_t key = KT_KEY(TAG, 2);
	int wfd = kt_attach_fd(key, 2 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	int fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	uint8_t *w, *r;

	w = map(wfd, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ck_assert_ptr_ne(w, MAP_FAILED);
	w[7] = 99;
	ck_assert_int_eq(map_err(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0), -EACCES);
	ck_assert_int_eq(map_err(fd, PG, PROT_WRITE, MAP_SHARED, 0), -EACCES);
	r = map(fd, 2 * PG, PROT_READ, MAP_SHARED, 0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	ck_assert_uint_eq(r[7], 99);
	/* mprotect cannot add write later. */
	ck_assert_int_eq(mprotect(r, PG, PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(mprotect(r, PG, PROT_READ), 0);
	/* OWNER with RDONLY makes no sense. */
	{
		int fd2 = kt_open();

		ck_assert_int_eq(kt_attach(fd2, key, 0, SHMPOOL_ATTACH_RDONLY |
					   SHMPOOL_ATTACH_OWNER, 0, NULL), -EINVAL);
		close(fd2);
	}
	munmap(r, 2 * PG);
	munmap(w, 2 * PG);
	close(fd);
	close(wfd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

static sigjmp_buf jb;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

START_TEST(write_through_rdonly_mapping_faults)
{
	uint64_t key = KT_KEY(TAG, 3);
	int fd0 = kt_attach_fd(key, PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	int fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	volatile uint8_t *r = map(fd, PG, PROT_READ, MAP_SHARED, 0);
	struct sigaction sa = { .sa_handler = on_segv };
	volatile int faulted = 0;

	ck_assert_ptr_ne((void *)r, MAP_FAILED);
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0)
		r[0] = 1;
	else
		faulted = 1;
	ck_assert_int_eq(faulted, 1);
	ck_assert_uint_eq(r[0], 0);
	munmap((void *)r, PG);
	close(fd);
	close(fd0);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(device_opened_read_only)
{
	uint64_t key = KT_KEY(TAG, 4);
	int fd0 = kt_attach_fd(key, PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	int fd = kt_open_flags(O_RDONLY);
	void *p;

	/* A write attach through an O_RDONLY file still cannot map for writing. */
	ck_assert_int_eq(kt_attach(fd, key, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(map_err(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0), -EACCES);
	p = map(fd, PG, PROT_READ, MAP_SHARED, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(mprotect(p, PG, PROT_READ | PROT_WRITE), -1);
	munmap(p, PG);
	close(fd);
	close(fd0);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(detach_leaves_read_access)
{
	uint64_t key = KT_KEY(TAG, 5);
	int fd = kt_attach_fd(key, 2 * PG, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
			      0600, NULL);
	uint8_t *w = map(fd, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	uint8_t *r;

	ck_assert_ptr_ne(w, MAP_FAILED);
	w[0] = 5;
	ck_assert_int_eq(kt_detach(fd), 0);
	/* Existing mappings are untouched; new ones are read-only. */
	w[1] = 6;
	ck_assert_int_eq(map_err(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0), -EACCES);
	r = map(fd, PG, PROT_READ, MAP_SHARED, 0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	ck_assert_uint_eq(r[1], 6);
	munmap(r, PG);
	munmap(w, 2 * PG);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(mappings_follow_fork_and_count)
{
	uint64_t key = KT_KEY(TAG, 6);
	int fd = kt_attach_fd(key, 4 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	struct shmpool_region_info st;
	uint8_t *p = map(fd, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	pid_t pid;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.nmaps, 1);
	/* Splitting a mapping makes two VMAs, still one mapping. */
	ck_assert_int_eq(munmap(p + PG, PG), 0);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.nmaps, 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		p[0] = 77;
		_exit(0);
	}
	ck_assert_int_eq(kt_wait(pid), 0);
	ck_assert_uint_eq(p[0], 77);
	munmap(p, PG);
	munmap(p + 2 * PG, 2 * PG);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.nmaps, 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(lseek_and_read_are_refused)
{
	char buf[8];
	int fd = kt_open();

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), -1);
	ck_assert_int_eq(errno, ESPIPE);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), -1);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_mmap");
	TCase *tc = tcase_create("mmap");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, unattached_file_cannot_map);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, rdonly_attach);
	tcase_add_test(tc, write_through_rdonly_mapping_faults);
	tcase_add_test(tc, device_opened_read_only);
	tcase_add_test(tc, detach_leaves_read_access);
	tcase_add_test(tc, mappings_follow_fork_and_count);
	tcase_add_test(tc, lseek_and_read_are_refused);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
