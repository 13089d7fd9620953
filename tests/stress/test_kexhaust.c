// SPDX-License-Identifier: GPL-2.0
/*
 * Resource exhaustion, the kernel's side (issue 7 §5).  A static Check
 * runner for the VM bench (build/vm/bin/stress_test_kexhaust), talking to
 * /dev/shmpool directly:
 *
 *  - thousands of regions (5000, SHMPOOL_STRESS_REGIONS), each mapped and
 *    touched: /proc/shmpool lists them all, INFO adds up, and after they
 *    are destroyed Shmem in /proc/meminfo is back at its baseline, exactly;
 *  - a memory cgroup limit: a child in a cgroup v2 group with memory.max
 *    8 MiB creates a 32 MiB region and writes every page.  It is OOM-killed
 *    (or gets a clear error); the region stays whole (what was written is
 *    there), shows the crash, is destroyed, and its memory comes back.
 *    The kernel prints an OOM report with a call trace, which fails a VM
 *    round unless announced: the child writes "SHMPOOL-VM: EXPECT-OOM
 *    <pid>" to the kernel log first, and the bench excuses the call trace
 *    of the report that kills that pid, nothing else (tests/vm/README.md).
 *    The test also checks the kernel log itself (an OOM kill of the child,
 *    no BUG or WARNING).  SHMPOOL_STRESS_MEMCG=0 skips it.
 *
 * Shmem is compared exactly: kt_meminfo_kb() folds the per-CPU counters
 * first, and Check's message files live on a ramfs (kt_tmp_off_shmem()).
 * Module parameters changed here are restored by main().  No region is
 * left behind.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/shmpool.h>

#include "kutil.h"

#define PARAM_DIR "/sys/module/shmpool/parameters/"
#define CG_ROOT "/sys/fs/cgroup"
#define CGROUP2_MAGIC 0x63677270
#define KEY_BASE 0x5354524553000000ULL	/* "STRES" + index */
#define MEMCG_LIMIT (8ULL << 20)
#define MEMCG_REGION (32ULL << 20)
#define PATTERN 0x6d656d6367000000ULL
#define TMP_DIR "/run/shmpool-stress-kexhaust"

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

static void info_get(struct shmpool_info *info)
{
	ck_assert_int_eq(kt_info(info), 0);
}

static int attach(int fd, uint64_t key, uint64_t size, uint32_t flags)
{
	return kt_attach(fd, key, size, flags, 0600, NULL);
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text);
}

static bool param_write(const char *name, unsigned long long v)
{
	char path[128], text[32];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	snprintf(text, sizeof(text), "%llu\n", v);
	return write_file(path, text);
}

/* Lines of /proc/shmpool (a header line, then one per region). */
static long proc_lines(void)
{
	FILE *f = fopen("/proc/shmpool", "re");
	long n = 0;
	int c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * Shmem must be back at @base exactly.  A destroyed region's pages go
 * synchronously with its last mapping and file, so there is nothing to
 * wait for.
 */
static void expect_shmem_back(long base)
{
	long now = kt_meminfo_kb("Shmem");

	ck_assert_msg(now == base, "Shmem %ld kB, baseline %ld kB", now, base);
}

START_TEST(test_thousands_touched_regions)
{
	const char *env = getenv("SHMPOOL_STRESS_REGIONS");
	unsigned int n = env && *env ? (unsigned int)strtoul(env, NULL, 0) : 5000, i;
	struct shmpool_info info0, info;
	long shmem0, shmem1, lines0;
	size_t pg = (size_t)page_size();

	info_get(&info0);
	if (info0.max_regions < info0.nr_regions + n)
		ck_assert(param_write("max_regions", info0.nr_regions + n));
	shmem0 = kt_meminfo_kb("Shmem");
	lines0 = proc_lines();
	for (i = 0; i < n; i++) {
		int fd = kt_open(), ret;
		char *p;

		ret = attach(fd, KEY_BASE + i, pg, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL);
		ck_assert_msg(ret == 0, "region %u: %s", i, strerror(-ret));
		p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		memcpy(p, &i, sizeof(i));
		munmap(p, pg);
		close(fd);
	}
	info_get(&info);
	ck_assert_uint_eq(info.nr_regions, info0.nr_regions + n);
	ck_assert_uint_eq(info.total_bytes, info0.total_bytes + (uint64_t)n * pg);
	ck_assert_int_eq(proc_lines(), lines0 + n);
	shmem1 = kt_meminfo_kb("Shmem");
	ck_assert_msg(shmem1 - shmem0 >= (long)(n * pg / 1024) * 9 / 10,
		      "Shmem grew by %ld kB for %u touched pages", shmem1 - shmem0, n);
	if (info.nr_regions == info.max_regions) {
		int fd = kt_open();

		ck_assert_int_eq(attach(fd, KEY_BASE + n, pg, SHMPOOL_ATTACH_CREATE), -ENOSPC);
		close(fd);
	}
	for (i = 0; i < n; i++)
		ck_assert_int_eq(kt_destroy(KEY_BASE + i), 0);
	info_get(&info);
	ck_assert_uint_eq(info.nr_regions, info0.nr_regions);
	ck_assert_uint_eq(info.total_bytes, info0.total_bytes);
	ck_assert_int_eq(proc_lines(), lines0);
	expect_shmem_back(shmem0);
	printf("kexhaust: %u regions touched (Shmem %ld -> %ld -> %ld kB), destroyed\n",
	       n, shmem0, shmem1, kt_meminfo_kb("Shmem"));
}
END_TEST

/* ---- memory cgroup ----------------------------------------------------- */

struct progress {
	volatile uint64_t pages;	/* pages written completely */
	volatile int err;
};

/*
 * Tell the VM bench, through the kernel log (so that it is ordered with the
 * OOM report, on the console and in the dmesg dump alike), that an OOM
 * kill of this process is expected: the bench then excuses the call trace
 * of the report that kills it, and only that one.
 */
static void announce_oom(void)
{
	char msg[64];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC), n;

	/* <12>: user facility, warning level, printed on the console too. */
	n = snprintf(msg, sizeof(msg), "<12>SHMPOOL-VM: EXPECT-OOM %d\n", (int)getpid());
	if (fd < 0 || write(fd, msg, (size_t)n) != n)
		fprintf(stderr, "kexhaust: memcg child: cannot announce the OOM kill in /dev/kmsg: %s\n",
			strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int memcg_child(const char *procs, struct progress *pr)
{
	size_t pg = (size_t)page_size(), i;
	int fd;
	char *p;

	if (!write_file(procs, "0\n"))
		return 2;
	announce_oom();
	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 2;
	pr->err = attach(fd, KEY_BASE + 100000, MEMCG_REGION,
			 SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL | SHMPOOL_ATTACH_OWNER);
	if (pr->err) {
		fprintf(stderr, "kexhaust: memcg child: attach: %s\n", strerror(-pr->err));
		return 3;
	}
	p = mmap(NULL, MEMCG_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		pr->err = -errno;
		fprintf(stderr, "kexhaust: memcg child: mmap: %s\n", strerror(errno));
		return 3;
	}
	for (i = 0; i < MEMCG_REGION / pg; i++) {
		*(uint64_t *)(p + i * pg) = PATTERN ^ i;
		pr->pages = i + 1;
	}
	return 0;
}

/* The kernel messages since @fd was opened at the end of /dev/kmsg. */
static void kmsg_judge(int fd, pid_t child, bool *oom_kill, unsigned int *bad)
{
	char rec[8192], want[64];

	snprintf(want, sizeof(want), "Killed process %d ", (int)child);
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, want))
			*oom_kill = true;
		/* The OOM report's stack trace is expected; these never are. */
		if (strstr(rec, "BUG") || strstr(rec, "WARNING:") || strstr(rec, "Oops") ||
		    strstr(rec, "still has objects") || strstr(rec, "general protection")) {
			fprintf(stderr, "kexhaust: kernel: %s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
			(*bad)++;
		}
	}
}

START_TEST(test_memcg_limit)
{
	const char *on = getenv("SHMPOOL_STRESS_MEMCG");
	char cg[128], path[192], buf[512], limit[32];
	struct shmpool_region_info ri;
	struct shmpool_info info0, info;
	struct progress *pr;
	struct statfs sfs;
	bool mounted = false, oom_kill = false;
	unsigned int bad = 0;
	long shmem0;
	size_t pg = (size_t)page_size(), i;
	pid_t pid;
	int status, fd, kmsg;
	char *p;
	FILE *f;

	if (on && !strcmp(on, "0")) {
		printf("kexhaust: memcg: skipped (SHMPOOL_STRESS_MEMCG=0)\n");
		return;
	}
	if (statfs(CG_ROOT, &sfs) || sfs.f_type != CGROUP2_MAGIC) {
		mkdir(CG_ROOT, 0755);
		if (mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL)) {
			printf("kexhaust: memcg: skipped: cannot mount cgroup2 on " CG_ROOT ": %s\n", strerror(errno));
			return;
		}
		mounted = true;
	}
	f = fopen(CG_ROOT "/cgroup.controllers", "re");
	if (!f || !fgets(buf, sizeof(buf), f) || !strstr(buf, "memory")) {
		printf("kexhaust: memcg: skipped: no memory controller in " CG_ROOT "/cgroup.controllers\n");
		if (f)
			fclose(f);
		if (mounted)
			umount(CG_ROOT);
		return;
	}
	fclose(f);
	ck_assert_msg(write_file(CG_ROOT "/cgroup.subtree_control", "+memory\n"), "enabling memory: %s",
		      strerror(errno));
	snprintf(cg, sizeof(cg), CG_ROOT "/shmpool-stress.%d", (int)getpid());
	ck_assert_msg(mkdir(cg, 0755) == 0, "mkdir %s: %s", cg, strerror(errno));
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	snprintf(limit, sizeof(limit), "%llu\n", MEMCG_LIMIT);
	ck_assert(write_file(path, limit));
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	write_file(path, "0\n");	/* absent without swap accounting: fine */

	/* The shared progress page is shmem too: in the baseline. */
	pr = mmap(NULL, sizeof(*pr), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(pr, MAP_FAILED);
	memset((void *)pr, 0, sizeof(*pr));
	info_get(&info0);
	shmem0 = kt_meminfo_kb("Shmem");
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(kmsg, 0);
	lseek(kmsg, 0, SEEK_END);

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(memcg_child(path, pr));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	kmsg_judge(kmsg, pid, &oom_kill, &bad);
	close(kmsg);
	printf("kexhaust: memcg: memory.max %llu MiB, region %llu MiB: child %s after %" PRIu64 " pages (%s)\n",
	       MEMCG_LIMIT >> 20, MEMCG_REGION >> 20,
	       WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited", (uint64_t)pr->pages,
	       oom_kill ? "OOM kill in the kernel log" : pr->err ? strerror(-pr->err) : "no error");
	ck_assert_uint_eq(bad, 0);
	/* Killed by the OOM killer, or refused plainly: never past the limit. */
	ck_assert_msg((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_kill) ||
		      (WIFEXITED(status) && WEXITSTATUS(status) == 3),
		      "child status 0x%x after %" PRIu64 " pages", status, (uint64_t)pr->pages);
	ck_assert_uint_lt(pr->pages * pg, MEMCG_LIMIT + (1ULL << 20));

	if (WIFSIGNALED(status)) {
		/* The region is whole, shows the crash, and holds what was written. */
		ck_assert_int_eq(kt_stat(KEY_BASE + 100000, &ri), 0);
		ck_assert_uint_eq(ri.size, MEMCG_REGION);
		ck_assert_uint_eq(ri.state, SHMPOOL_STATE_CRASHED);
		ck_assert_uint_eq(ri.nattch, 0);
		ck_assert_uint_eq(ri.nmaps, 0);
		fd = kt_open();
		ck_assert_int_eq(attach(fd, KEY_BASE + 100000, 0, SHMPOOL_ATTACH_RDONLY), 0);
		p = mmap(NULL, MEMCG_REGION, PROT_READ, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		for (i = 0; i < pr->pages; i++)
			ck_assert_uint_eq(*(uint64_t *)(p + i * pg), PATTERN ^ i);
		munmap(p, MEMCG_REGION);
		close(fd);
		ck_assert_int_eq(kt_destroy(KEY_BASE + 100000), 0);
	} else {
		ck_assert_int_eq(kt_stat(KEY_BASE + 100000, &ri), -ENOENT);
	}
	info_get(&info);
	ck_assert_uint_eq(info.nr_regions, info0.nr_regions);
	ck_assert_uint_eq(info.total_bytes, info0.total_bytes);
	expect_shmem_back(shmem0);
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	f = fopen(path, "re");
	while (f && fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "oom_kill ", 9))
			printf("kexhaust: memcg: memory.events %s", buf);
	if (f)
		fclose(f);
	ck_assert_msg(rmdir(cg) == 0, "rmdir %s: %s", cg, strerror(errno));
	if (mounted)
		umount(CG_ROOT);
	munmap((void *)pr, sizeof(*pr));
}
END_TEST

/* After a failed test: whatever is left of ours goes (LIST from our first key). */
static void cleanup(void)
{
	struct shmpool_region_info e[256];
	struct shmpool_list l = {
		.size = sizeof(l), .cursor = KEY_BASE, .entries = (uintptr_t)e,
		.entry_size = sizeof(e[0]),
	};
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	uint32_t i;

	if (fd < 0)
		return;
	do {
		l.count = 256;
		l.flags = 0;
		if (ioctl(fd, SHMPOOL_IOC_LIST, &l))
			break;
		for (i = 0; i < l.count; i++) {
			struct shmpool_destroy d = { .size = sizeof(d), .key = e[i].key };

			if (e[i].key >> 24 == KEY_BASE >> 24)
				ioctl(fd, SHMPOOL_IOC_DESTROY, &d);
		}
	} while (!(l.flags & SHMPOOL_LIST_END) && l.count);
	close(fd);
}

int main(void)
{
	static const char *const params[] = { "max_regions", "max_total_bytes", "max_region_bytes" };
	unsigned long long saved[3];
	bool have[3];
	Suite *s = suite_create("kexhaust");
	SRunner *sr;
	TCase *tc;
	size_t i;
	bool tmp_ok;
	int failed;

	if (access(SHMPOOL_DEVICE_PATH, R_OK | W_OK)) {
		printf("kexhaust: skipped: " SHMPOOL_DEVICE_PATH " is not here (this runs in the VM bench)\n");
		return EXIT_SUCCESS;
	}
	for (i = 0; i < 3; i++)
		have[i] = kt_param_read(params[i], &saved[i]);
	tmp_ok = kt_tmp_off_shmem(TMP_DIR);
	tc = tcase_create("kexhaust");
	tcase_add_unchecked_fixture(tc, NULL, cleanup);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_thousands_touched_regions);
	tcase_add_test(tc, test_memcg_limit);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (i = 0; i < 3; i++)
		if (have[i] && !param_write(params[i], saved[i]))
			fprintf(stderr, "kexhaust: cannot restore %s to %llu\n", params[i], saved[i]);
	if (tmp_ok)
		kt_tmp_release(TMP_DIR);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
