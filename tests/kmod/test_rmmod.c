// SPDX-License-Identifier: GPL-2.0
/*
 * Persistence against the module itself: rmmod is refused while any region
 * exists or any mapping of a region (even a destroyed one) is left,
 * accepted once all are gone, and then /proc/meminfo Shmem is back to its
 * baseline.  Every test leaves the module loaded.
 */
#include "kutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define TAG 0x50
#define MB (1UL << 20)

/*
 * Shmem is compared exactly, with no tolerance: the regions' pages are freed
 * synchronously by the last munmap/close (the final fput runs before the
 * syscall returns), kt_meminfo_kb() folds the per-CPU vmstat deltas
 * first, and main() moves Check's own message files, which grow
 * with every assertion, off tmpfs onto a ramfs that Shmem does not count.
 */
static void assert_shmem_kb(long want)
{
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), want);
}

START_TEST(rmmod_refused_while_regions_exist)
{
	long base = kt_meminfo_kb("Shmem");
	uint8_t *p;
	int fd;

	ck_assert_int_eq(kt_nr_regions(), 0);
	fd = kt_attach_fd(KT_KEY(TAG, 1), 4 * MB, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	p = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0x5a, 4 * MB);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 4096);
	munmap(p, 4 * MB);
	close(fd);
	close(kt_attach_fd(KT_KEY(TAG, 2), MB, SHMPOOL_ATTACH_CREATE, 0600, NULL));

	/* No file open, no mapping: the regions alone pin the module. */
	ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
	ck_assert(kt_module_loaded());
	/* And their contents are intact. */
	fd = kt_attach_fd(KT_KEY(TAG, 1), 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	p = mmap(NULL, 4 * MB, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_uint_eq(p[4 * MB - 1], 0x5a);
	munmap(p, 4 * MB);
	close(fd);

	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 1)), 0);
	ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 2)), 0);
	assert_shmem_kb(base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert(!kt_module_loaded());
	assert_shmem_kb(base);
	ck_assert_int_eq(kt_module_load(""), 0);
	ck_assert_int_eq(kt_nr_regions(), 0);
}
END_TEST

START_TEST(open_file_pins_module)
{
	int fd = kt_open();

	ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
	close(fd);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

START_TEST(mapping_outlives_destroy_and_pins_module)
{
	long base = kt_meminfo_kb("Shmem");
	struct shmpool_info in;
	uint8_t *p;
	int fd;

	fd = kt_attach_fd(KT_KEY(TAG, 3), 2 * MB, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
			  0600, NULL);
	p = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0x11, 2 * MB);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 3)), 0);
	close(fd);
	/* The mapping holds the memory, which still counts in the totals... */
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 2048);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.nr_regions, 0);
	ck_assert_uint_eq(in.total_bytes, 2 * MB);
	/* ...and the module: its vm_operations serve the mapping. */
	ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
	ck_assert_uint_eq(p[MB], 0x11);
	p[MB] = 0x22;
	ck_assert_uint_eq(p[MB], 0x22);
	/* fork copies the mapping, which pins the module in the child too. */
	{
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(p[MB] == 0x22 && kt_module_unload() == -EWOULDBLOCK ? 0 : 1);
		ck_assert_int_eq(kt_wait(pid), 0);
	}
	munmap(p, 2 * MB);
	assert_shmem_kb(base);
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.total_bytes, 0);
	ck_assert_int_eq(kt_module_unload(), 0);
	assert_shmem_kb(base);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

START_TEST(reload_cycles_leave_nothing)
{
	long base = kt_meminfo_kb("Shmem");

	for (int i = 0; i < 5; i++) {
		uint8_t *p;
		int fd;

		fd = kt_attach_fd(KT_KEY(TAG, 10 + i), MB, SHMPOOL_ATTACH_CREATE |
				  SHMPOOL_ATTACH_HUGE * (i & 1), 0600, NULL);
		p = mmap(NULL, MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		memset(p, i, MB);
		munmap(p, MB);
		close(fd);
		ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
		ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 10 + i)), 0);
		ck_assert_int_eq(kt_module_unload(), 0);
		assert_shmem_kb(base);
		ck_assert_int_eq(kt_module_load(""), 0);
	}
}
END_TEST

START_TEST(region_cache_is_not_merged)
{
	struct stat st;

	/*
	 * A merged (aliased) cache would hide leaked regions from
	 * kmem_cache_destroy()'s "still has objects" check at unload.
	 */
	if (lstat("/sys/kernel/slab", &st) != 0)
		return;		/* no SLUB sysfs: nothing to check */
	ck_assert_int_eq(lstat("/sys/kernel/slab/shmpool_region", &st), 0);
	ck_assert_msg(S_ISDIR(st.st_mode), "shmpool_region is an alias of another cache");
}
END_TEST

/* Check's message files grow with every assertion: keep them off Shmem. */
#define TMP_DIR "/run/shmpool-kmod-test"

int main(void)
{
	Suite *s = suite_create("kmod_rmmod");
	TCase *tc = tcase_create("rmmod");
	bool tmp_ok;
	int rc;

	tmp_ok = kt_tmp_off_shmem(TMP_DIR);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, rmmod_refused_while_regions_exist);
	tcase_add_test(tc, open_file_pins_module);
	tcase_add_test(tc, mapping_outlives_destroy_and_pins_module);
	tcase_add_test(tc, reload_cycles_leave_nothing);
	tcase_add_test(tc, region_cache_is_not_merged);
	suite_add_tcase(s, tc);
	rc = kt_main(s);
	if (tmp_ok)
		kt_tmp_release(TMP_DIR);
	return rc;
}
