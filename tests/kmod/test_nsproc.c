// SPDX-License-Identifier: GPL-2.0
/*
 * IPC namespace lifetime without anybody's help, and /proc/shmpool's
 * namespace (issue 10 items 7 and 11).
 *
 * - A namespace that dies loses its regions within reap_interval_ms with no
 *   other call into the module: the test only watches /proc/meminfo Shmem
 *   and /sys/module/shmpool/refcnt, then rmmod must work.  The wait is
 *   generous (TCG is slow): it bounds a hang, it does not time anything.
 * - /proc/shmpool lists the opener's namespace, as /proc/sysvipc/shm does:
 *   read from another namespace (inherited across unshare, or passed over
 *   SCM_RIGHTS) it still shows the opener's regions, and keeps the
 *   opener's namespace alive until closed.
 */
#include "kns.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>

#define TAG 0x43
#define MB (1UL << 20)
/* Polling bound, seconds: far above reap_interval_ms on the slowest VM. */
#define WAIT_S 120

static int map_fill(int fd, size_t len, uint8_t v)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, v, len);
	munmap(p, len);
	return 0;
}

/*
 * Set reap_interval_ms if the module has it (a module without it must
 * fail these tests by what it does, not by a missing parameter).
 */
static void set_interval(unsigned long long ms)
{
	unsigned long long v;

	if (kt_param_read("reap_interval_ms", &v))
		kt_param_set("reap_interval_ms", ms);
}

static long refcnt(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/module/shmpool/refcnt", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	return strtol(buf, NULL, 10);
}

/* Wait, calling nothing in the module, until Shmem is @kb and refcnt 0. */
static void wait_released(long kb)
{
	for (int i = 0; i < WAIT_S * 10; i++) {
		if (kt_meminfo_kb("Shmem") == kb && refcnt() == 0)
			return;
		usleep(100000);
	}
	ck_abort_msg("after %d s: Shmem %ld kB (want %ld), refcnt %ld (want 0)", WAIT_S,
		     kt_meminfo_kb("Shmem"), kb, refcnt());
}

struct ns_child {
	uint64_t key;
	int nregions;
	int proc_fd;		/* /proc/shmpool opened elsewhere, or -1 */
	int sock;		/* to send this namespace's /proc/shmpool, or -1 */
	struct kt_sync sync;
};

/* Regions of a line-per-region listing read from @fd (from its start). */
static int proc_keys(int fd, uint64_t *keys, int max)
{
	char buf[8192];
	ssize_t n, len = 0;
	char *line, *save;
	int i = -1;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	if (n < 0)
		return -errno;
	buf[len] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long k;

		if (i++ < 0)
			continue;	/* the header */
		if (sscanf(line, "%llu", &k) == 1 && i <= max)
			keys[i - 1] = k;
	}
	return i < 0 ? 0 : i;
}

/* In a new IPC namespace: make regions, drop every fd and mapping. */
static int make_regions(const struct ns_child *c)
{
	for (int i = 0; i < c->nregions; i++) {
		int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC), r;

		EXPECT(fd >= 0, "open: %s", strerror(errno));
		r = kt_attach(fd, c->key + i, MB, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
			      0600, NULL);
		EXPECT(r == 0, "ATTACH CREATE %d: %d", i, r);
		EXPECT(map_fill(fd, MB, 0x40 + i) == 0, "map");
		close(fd);
	}
	return 0;
}

static int child_dies_with_regions(void *p)
{
	EXPECT(unshare(CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	return make_regions(p);
}

START_TEST(dead_namespace_released_without_any_call)
{
	struct ns_child c = { .key = KT_KEY(TAG, 1), .nregions = 3 };
	long base = kt_meminfo_kb("Shmem");

	set_interval(200);
	ck_assert_int_eq(kns_run_in(-1, 0, 0, child_dies_with_regions, &c), 0);
	/* From here on, nothing opens /dev/shmpool or calls into it. */
	wait_released(base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/* Same with the default interval, regions kept mapped until exit. */
static int child_dies_mapped(void *p)
{
	const struct ns_child *c = p;
	int fd, r;
	uint8_t *m;

	EXPECT(unshare(CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	EXPECT(fd >= 0, "open");
	r = kt_attach(fd, c->key, 2 * MB, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER, 0600, NULL);
	EXPECT(r == 0, "ATTACH: %d", r);
	m = mmap(NULL, 2 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(m != MAP_FAILED, "mmap");
	memset(m, 1, 2 * MB);
	return 0;		/* exit drops the mapping, the file, the namespace */
}

START_TEST(dead_namespace_released_default_interval)
{
	struct ns_child c = { .key = KT_KEY(TAG, 5) };
	long base = kt_meminfo_kb("Shmem");

	ck_assert_int_eq(kns_run_in(-1, 0, 0, child_dies_mapped, &c), 0);
	wait_released(base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/*
 * In a new namespace: the inherited /proc/shmpool (opened in the parent's)
 * lists the parent's region, never this namespace's; this namespace's own
 * /proc/shmpool goes to the parent over SCM_RIGHTS.
 */
static int child_reads_parents_proc(void *p)
{
	struct ns_child *c = p;
	uint64_t keys[8];
	int n, own;

	EXPECT(unshare(CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	if (make_regions(c))
		return 1;
	n = proc_keys(c->proc_fd, keys, 8);
	EXPECT(n == 1 && keys[0] == c->key - 1,
	       "the parent's /proc/shmpool read here lists %d regions (first %#" PRIx64 ")", n,
	       n > 0 ? keys[0] : 0);
	own = open("/proc/shmpool", O_RDONLY | O_CLOEXEC);
	EXPECT(own >= 0, "open /proc/shmpool");
	n = proc_keys(own, keys, 8);
	EXPECT(n == 1 && keys[0] == c->key, "own /proc/shmpool: %d regions", n);
	EXPECT(kns_send_fd(c->sock, own) == 0, "send: %s", strerror(errno));
	close(own);
	return 0;
}

START_TEST(proc_lists_the_openers_namespace)
{
	struct ns_child c = { .key = KT_KEY(TAG, 11), .nregions = 1 };
	long base = kt_meminfo_kb("Shmem");
	uint64_t keys[8];
	int sv[2], fd, theirs;

	fd = kt_attach_fd(KT_KEY(TAG, 10), MB, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	close(fd);
	c.proc_fd = open("/proc/shmpool", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(c.proc_fd, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c.sock = sv[0];
	ck_assert_int_eq(kns_run_in(-1, 0, 0, child_reads_parents_proc, &c), 0);
	theirs = kns_recv_fd(sv[1]);
	ck_assert_int_ge(theirs, 0);

	/* The child is gone; its /proc/shmpool still lists its namespace. */
	ck_assert_int_eq(proc_keys(theirs, keys, 8), 1);
	ck_assert_uint_eq(keys[0], c.key);
	ck_assert_int_eq(proc_keys(c.proc_fd, keys, 8), 1);
	ck_assert_uint_eq(keys[0], KT_KEY(TAG, 10));
	/* And keeps that namespace alive, as /proc/sysvipc/shm does. */
	ck_assert_int_eq(kt_info(NULL), 0);
	ck_assert_int_eq(proc_keys(theirs, keys, 8), 1);
	ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 10)), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 1024);

	/* Closed: the namespace dies, its region goes without any call. */
	close(theirs);
	close(c.proc_fd);
	close(sv[0]);
	close(sv[1]);
	wait_released(base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

static void setup(void)
{
	kt_clean_setup();
	set_interval(1000);
}

/* Check's message files grow with every assertion: keep them off Shmem. */
#define TMP_DIR "/run/shmpool-kmod-nsproc"

int main(void)
{
	Suite *s = suite_create("kmod_nsproc");
	TCase *tc = tcase_create("nsproc");
	bool tmp_ok;
	int rc;

	tmp_ok = kt_tmp_off_shmem(TMP_DIR);
	tcase_set_timeout(tc, WAIT_S + 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, dead_namespace_released_without_any_call);
	tcase_add_test(tc, dead_namespace_released_default_interval);
	tcase_add_test(tc, proc_lists_the_openers_namespace);
	suite_add_tcase(s, tc);
	rc = kt_main(s);
	if (tmp_ok)
		kt_tmp_release(TMP_DIR);
	return rc;
}
