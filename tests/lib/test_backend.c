// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What each backend can give, and what it says when it cannot (issue 10,
 * items 17 and 18): Backend = auto falling back to POSIX is loud, and
 * HugePages = yes reaches every region, or the open says why not.  Runs on
 * the host with posix and in the VM with the device, like test_region.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <syslog.h>
#include <unistd.h>

#include "testutil.h"

#define MiB (1024ULL * 1024ULL)

static struct shmdev_ctx *ctx;

static bool is_posix(void)
{
	int fd;

	if (tu_backend() != SHMDEV_BACKEND_AUTO)
		return tu_backend() == SHMDEV_BACKEND_POSIX;
	fd = open("/dev/shmpool", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != EACCES;
	close(fd);
	return false;
}

static struct shmdev_region *open_ok(uint64_t key, uint64_t size,
				     unsigned int flags, enum shmdev_start start)
{
	struct shmdev_region *r = NULL;
	int ret = shmdev_region_open(ctx, tu_backend(), key, size, flags, 0, &r);

	ck_assert_msg(ret == 0, "open 0x%" PRIx64 ": %d %s", key, ret,
		      shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_region_start(r), start);
	return r;
}

/* ---- AUTO: a fall back to POSIX is loud (issue 10, item 18) --------------- */

struct log_cap {
	int warnings;
	char text[2048];
	int infos;		/* LOG_INFO lines, where the priority lets them */
	char info[2048];	/* all of them, one a line */
};

static void capture_warning(void *data, int priority, const char *file,
			    int line, const char *fn, const char *format,
			    va_list args)
{
	struct log_cap *c = data;

	(void)file;
	(void)line;
	(void)fn;
	if (priority == LOG_INFO) {
		size_t n = strlen(c->info);

		c->infos++;
		if (n + 1 < sizeof(c->info)) {
			vsnprintf(c->info + n, sizeof(c->info) - n - 1, format, args);
			strcat(c->info, "\n");
		}
	}
	if (priority != LOG_WARNING)
		return;
	if (c->warnings++ == 0)
		vsnprintf(c->text, sizeof(c->text), format, args);
}

START_TEST(test_auto_fallback_warns)
{
	uint64_t k1 = tu_key(60), k2 = tu_key(61);
	const char *env = getenv("SHMDEV_BACKEND"), *log = getenv("SHMDEV_LOG");
	char *saved = env ? strdup(env) : NULL, *saved_log = log ? strdup(log) : NULL;
	bool device = access("/dev/shmpool", F_OK) == 0;
	struct shmdev_region_info info;
	struct log_cap cap = { 0 };
	struct shmdev_region *r1, *r2;
	struct shmdev_ctx *c;
	enum shmdev_backend b;

	unsetenv("SHMDEV_BACKEND");
	unsetenv("SHMDEV_LOG");
	ck_assert_int_eq(shmdev_ctx_new(&c), 0);
	/* Shown by default: the default priority includes warnings. */
	ck_assert_int_ge(shmdev_get_log_priority(c), LOG_WARNING);
	shmdev_set_log_fn(c, capture_warning, &cap);

	ck_assert_int_eq(shmdev_backend_resolve(c, SHMDEV_BACKEND_AUTO, &b), 0);
	ck_assert_int_eq(b, device ? SHMDEV_BACKEND_DEVICE : SHMDEV_BACKEND_POSIX);
	ck_assert_int_eq(shmdev_region_open(c, SHMDEV_BACKEND_AUTO, k1, MiB,
					    SHMDEV_REGION_CREATE, 0, &r1), 0);
	ck_assert_int_eq(shmdev_region_open(c, SHMDEV_BACKEND_AUTO, k2, MiB,
					    SHMDEV_REGION_CREATE, 0, &r2), 0);
	ck_assert_int_eq(shmdev_region_stat(c, SHMDEV_BACKEND_AUTO, k1, &info), 0);
	ck_assert_int_eq(info.backend, b);
	ck_assert_int_eq(shmdev_region_backend(r1), b);
	if (device) {
		ck_assert_int_eq(cap.warnings, 0);
	} else {
		/* Once per context, naming the backend, the reason and the risk. */
		ck_assert_int_eq(cap.warnings, 1);
		ck_assert_msg(strstr(cap.text, "using the POSIX fallback (/dev/shm)"), "%s", cap.text);
		ck_assert_msg(strstr(cap.text, "/dev/shmpool: No such file or directory (module not loaded?)"),
			      "%s", cap.text);
		ck_assert_msg(strstr(cap.text, "RemoveIPC=yes"), "%s", cap.text);
		ck_assert_msg(strstr(cap.text, "pools start cold"), "%s", cap.text);
	}
	shmdev_region_close(r1);
	shmdev_region_close(r2);
	ck_assert_int_eq(shmdev_region_destroy(c, b, k1), 0);
	ck_assert_int_eq(shmdev_region_destroy(c, b, k2), 0);
	shmdev_ctx_unref(c);

	/* Named on purpose, POSIX says nothing. */
	memset(&cap, 0, sizeof(cap));
	ck_assert_int_eq(shmdev_ctx_new(&c), 0);
	shmdev_set_log_fn(c, capture_warning, &cap);
	ck_assert_int_eq(shmdev_backend_resolve(c, SHMDEV_BACKEND_POSIX, &b), 0);
	ck_assert_int_eq(b, SHMDEV_BACKEND_POSIX);
	ck_assert_int_eq(cap.warnings, 0);
	ck_assert_int_eq(shmdev_backend_resolve(c, (enum shmdev_backend)9, &b), -EINVAL);
	shmdev_ctx_unref(c);

	if (saved)
		setenv("SHMDEV_BACKEND", saved, 1);
	if (saved_log)
		setenv("SHMDEV_LOG", saved_log, 1);
	free(saved);
	free(saved_log);
}
END_TEST

/* ---- huge pages (issue 10, item 17) ---------------------------------------- */

/*
 * POSIX: the library reads /proc/self/mountinfo and shmem_enabled to know
 * whether /dev/shm gives huge pages; the tests hand it files of their own
 * (SHMDEV_TEST_MOUNTINFO, SHMDEV_TEST_THP_SHMEM).  The device ignores them.
 */
static char fake_dir[64];

static void fake_host(const char *shm_opts, const char *shmem_enabled)
{
	char path[128];
	FILE *f;

	if (!fake_dir[0]) {
		snprintf(fake_dir, sizeof(fake_dir), "/tmp/shmdev-huge.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(fake_dir));
	}
	snprintf(path, sizeof(path), "%s/mountinfo", fake_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "22 1 0:21 / /dev rw,nosuid - devtmpfs udev rw,size=4096k\n"
		   "25 22 0:23 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs %s\n"
		   "26 22 0:24 / /dev/pts rw - devpts devpts rw,huge=always\n", shm_opts);
	ck_assert_int_eq(fclose(f), 0);
	setenv("SHMDEV_TEST_MOUNTINFO", path, 1);
	snprintf(path, sizeof(path), "%s/shmem_enabled", fake_dir);
	unlink(path);
	if (shmem_enabled) {
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "%s\n", shmem_enabled);
		ck_assert_int_eq(fclose(f), 0);
	}
	setenv("SHMDEV_TEST_THP_SHMEM", path, 1);
}

static void fake_host_end(void)
{
	char path[128];

	unsetenv("SHMDEV_TEST_MOUNTINFO");
	unsetenv("SHMDEV_TEST_THP_SHMEM");
	if (!fake_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/mountinfo", fake_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/shmem_enabled", fake_dir);
	unlink(path);
	rmdir(fake_dir);
	fake_dir[0] = '\0';
}

#define THP_NEVER "always within_size advise [never] deny force"

/* Warnings of one context, captured (log_cap and capture_warning above). */
static struct shmdev_ctx *warn_ctx(struct log_cap *cap)
{
	struct shmdev_ctx *c = tu_ctx();

	memset(cap, 0, sizeof(*cap));
	shmdev_set_log_priority(c, LOG_WARNING);
	shmdev_set_log_fn(c, capture_warning, cap);
	return c;
}

/* Open @key with HUGE (created @size if absent); its stat's huge flag. */
static bool open_huge(struct shmdev_ctx *c, uint64_t key, uint64_t size)
{
	struct shmdev_region_info info;
	struct shmdev_region *r = NULL;
	int ret;

	ret = shmdev_region_open(c, tu_backend(), key, size,
				 SHMDEV_REGION_CREATE | SHMDEV_REGION_HUGE, 0, &r);
	ck_assert_msg(ret == 0, "%s", shmdev_errmsg(c));
	ck_assert_int_eq(shmdev_region_stat(c, tu_backend(), key, &info), 0);
	shmdev_region_close(r);
	return info.huge;
}

/* Whether this process maps @addr with VM_HUGEPAGE ("hg" in smaps). */
static bool mapped_hg(const void *addr)
{
	unsigned long a = (unsigned long)addr, lo, hi;
	bool in = false, hg = false;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8))
			hg = strstr(line, " hg") != NULL;
	}
	fclose(f);
	return hg;
}

START_TEST(test_huge_flag)
{
	uint64_t key = tu_key(46);
	struct log_cap cap;
	struct shmdev_ctx *c;
	struct shmdev_region *r = NULL;

	/* Where the host gives huge pages, HUGE regions are huge. */
	fake_host("rw,nosuid,nodev,huge=advise,inode64", THP_NEVER);
	c = warn_ctx(&cap);
	ck_assert(open_huge(c, key, 2 * MiB));
	ck_assert_int_eq(cap.warnings, 0);
	/* POSIX: each mapping asks for THP (MADV_HUGEPAGE). */
	ck_assert_int_eq(shmdev_region_open(c, tu_backend(), key, 0, 0, 0, &r), 0);
	if (is_posix() && access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0)
		ck_assert(mapped_hg(shmdev_region_addr(r)));
	shmdev_region_close(r);
	ck_assert_int_eq(shmdev_region_destroy(c, tu_backend(), key), 0);
	shmdev_ctx_unref(c);
	fake_host_end();
}
END_TEST

/*
 * A HUGE region really gets huge pages where /dev/shm gives them to a
 * MADV_HUGEPAGE mapping (huge=advise): in a child with a mount namespace of
 * its own and such a tmpfs on /dev/shm (root only), a new 8 MiB region is
 * PMD-mapped at once (ShmemPmdMapped in smaps).  Reserving it with
 * posix_fallocate, which has no mapping, gave it small pages for good.
 * 0 passed, 1 failed, 77 not possible here (not root, no THP, no mount, a
 * mapping that is not 2 MiB-aligned).
 */
#define HUGE_SKIP 77

static uint64_t pmd_mapped_kib(const void *addr)
{
	unsigned long a = (unsigned long)addr, lo, hi, kib;
	uint64_t sum = 0;
	bool in = false;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in && sscanf(line, "ShmemPmdMapped: %lu kB", &kib) == 1)
			sum += kib;
	}
	fclose(f);
	return sum;
}

static int huge_real_child(void *arg)
{
	struct shmdev_region *r = NULL;
	struct shmdev_ctx *c;
	uint64_t kib;

	(void)arg;
	unsetenv("SHMDEV_TEST_MOUNTINFO");
	unsetenv("SHMDEV_TEST_THP_SHMEM");
	if (geteuid() || access("/sys/kernel/mm/transparent_hugepage/shmem_enabled", R_OK) ||
	    unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) ||
	    mount("shmdev-test", "/dev/shm", "tmpfs", 0, "huge=advise,size=64m,mode=1777"))
		return HUGE_SKIP;
	c = tu_ctx();
	if (shmdev_region_open(c, SHMDEV_BACKEND_POSIX, tu_key(47), 8 * MiB,
			       SHMDEV_REGION_CREATE | SHMDEV_REGION_HUGE, 0, &r)) {
		fprintf(stderr, "huge region: %s\n", shmdev_errmsg(c));
		return 1;
	}
	/*
	 * The mapping (header page first) must start on a 2 MiB boundary for
	 * the kernel to map it by PMD; valgrind places mappings itself.
	 */
	if (((uintptr_t)shmdev_region_addr(r) - (uintptr_t)sysconf(_SC_PAGESIZE)) % (2 * MiB)) {
		shmdev_region_close(r);
		shmdev_ctx_unref(c);
		return HUGE_SKIP;
	}
	kib = pmd_mapped_kib(shmdev_region_addr(r));
	shmdev_region_close(r);
	shmdev_ctx_unref(c);
	if (kib < 2048) {
		fprintf(stderr, "huge region on a huge=advise /dev/shm: %" PRIu64 " KiB PMD-mapped\n", kib);
		return 1;
	}
	return 0;
}

START_TEST(test_huge_pages_real)
{
	int ret;

	if (!is_posix())
		return;
	ret = tu_run_in_child(huge_real_child, NULL);
	if (ret == HUGE_SKIP) {
		fprintf(stderr, "test_huge_pages_real: skipped (needs root, THP, a private mount of /dev/shm and a 2 MiB-aligned mapping)\n");
		return;
	}
	ck_assert_msg(ret == 0, "the child failed (%d)", ret);
}
END_TEST

/* Where the host cannot, the open says why and goes on with small pages. */
START_TEST(test_huge_unavailable_posix)
{
	static const struct {
		const char *opts, *thp, *why;
		bool huge;
	} cases[] = {
		{ "rw,nosuid,nodev,inode64", THP_NEVER,
		  "/dev/shm is mounted huge=never (the default; %s/shmem_enabled is [never], which does not rule it): remount it with huge=advise or huge=within_size, or use Backend = device", false },
		{ "rw,huge=never", "always within_size advise never deny [force]", NULL, true },
		{ "rw,huge=within_size", THP_NEVER, NULL, true },
		{ "rw,huge=always", "always within_size advise never [deny] force",
		  "%s/shmem_enabled is [deny]", false },
		{ "rw,huge=always", NULL,
		  "%s/shmem_enabled cannot be read (a kernel without transparent huge pages)", false },
	};
	uint64_t key = tu_key(47);
	char why[512], want[700];
	struct log_cap cap;
	struct shmdev_ctx *c;
	size_t i;

	if (!is_posix())
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_host(cases[i].opts, cases[i].thp);
		c = warn_ctx(&cap);
		ck_assert_int_eq(open_huge(c, key, MiB), cases[i].huge);
		if (cases[i].why) {
			snprintf(why, sizeof(why), cases[i].why, fake_dir);
			snprintf(want, sizeof(want), "region 0x%" PRIx64 " (posix): HugePages = yes, but %s: the regions get small pages",
				 key, why);
			ck_assert_int_eq(cap.warnings, 1);
			ck_assert_str_eq(cap.text, want);
		} else {
			ck_assert_msg(cap.warnings == 0, "%zu: %s", i, cap.text);
		}
		/* Once per context: a pool's many regions say it once. */
		ck_assert_int_eq(open_huge(c, key, MiB), cases[i].huge);
		ck_assert_int_le(cap.warnings, 1);
		ck_assert_int_eq(shmdev_region_destroy(c, tu_backend(), key), 0);
		shmdev_ctx_unref(c);
	}
	fake_host_end();
}
END_TEST

/* A region made without HUGE, opened with it: a warning, not a failure. */
START_TEST(test_huge_existing_small)
{
	uint64_t key = tu_key(48);
	struct shmdev_region *r;
	struct log_cap cap;
	struct shmdev_ctx *c;

	fake_host("rw,huge=advise", THP_NEVER);
	r = open_ok(key, 2 * MiB, SHMDEV_REGION_CREATE, SHMDEV_START_CREATED);
	shmdev_region_close(r);
	c = warn_ctx(&cap);
	ck_assert(!open_huge(c, key, 2 * MiB));
	ck_assert_int_eq(cap.warnings, 1);
	ck_assert_msg(strstr(cap.text, "HugePages = yes, but it was created without huge pages and keeps small ones until it is destroyed and created again"),
		      "%s", cap.text);
	ck_assert_int_eq(shmdev_region_destroy(c, tu_backend(), key), 0);
	shmdev_ctx_unref(c);
	fake_host_end();
}
END_TEST

static long meminfo_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * HugePages = yes reaches every region of a pool: each is flagged huge, and
 * on the device, touching the blocks grows ShmemHugePages.
 */
START_TEST(test_pool_huge_pages)
{
	static const struct shmdev_type types[] = {
		{ .id = 1, .name = "Obj", .size = 64, .max_count = 16 },
	};
	uint64_t keys[3] = { tu_key(50), tu_key(51), tu_key(52) };
	struct shmdev_region_info info;
	struct shmdev_conf *conf = NULL;
	struct shmdev_pool *pool = NULL;
	long before, after;
	char text[512];
	size_t i;

	fake_host("rw,huge=within_size", THP_NEVER);
	snprintf(text, sizeof(text),
		 "ProcessList = p\n[p]\nBaseKey = %" PRIu64 "\nBlockSize = 4M\n"
		 "BlockKeys = %" PRIu64 ", %" PRIu64 "\nHugePages = yes\n",
		 keys[0], keys[1], keys[2]);
	ck_assert_msg(shmdev_conf_load_string(ctx, text, "huge.ini", "p", &conf) == 0,
		      "%s", shmdev_errmsg(ctx));
	ck_assert_msg(shmdev_pool_open(ctx, conf, types, 1, 0, &pool) == 0, "%s",
		      shmdev_errmsg(ctx));
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(shmdev_region_stat(ctx, tu_backend(), keys[i], &info), 0);
		ck_assert_msg(info.huge, "region 0x%" PRIx64 " is not huge", keys[i]);
	}
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* The device's huge tmpfs gives THP on first touch (no khugepaged). */
	before = meminfo_kb("ShmemHugePages");
	if (!is_posix() && before >= 0) {
		struct shmdev_region *r[2];

		for (i = 0; i < 2; i++) {
			ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), keys[1 + i], 0, 0, 0, &r[i]), 0);
			memset(shmdev_region_addr(r[i]), 0x5a, shmdev_region_size(r[i]));
		}
		after = meminfo_kb("ShmemHugePages");
		printf("test_pool_huge_pages: 8 MiB of HUGE blocks touched: ShmemHugePages %ld kB -> %ld kB\n",
		       before, after);
		/* 8 MiB touched: at least one 2 MiB huge page, generously. */
		ck_assert_msg(after - before >= 2048, "ShmemHugePages %ld kB -> %ld kB",
			      before, after);
		for (i = 0; i < 2; i++)
			shmdev_region_close(r[i]);
	}
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	shmdev_conf_free(conf);
	fake_host_end();
}
END_TEST

/*
 * Huge pages by default (issue 12): a pool whose config has no HugePages
 * line asks for them on every region, quietly (where the host cannot give
 * them: one LOG_INFO line with the reason and the way to turn them off, no
 * warning); HugePages = no asks for none; HugePages = yes warns as before.
 */
START_TEST(test_pool_huge_default)
{
	static const struct shmdev_type types[] = {
		{ .id = 1, .name = "Obj", .size = 64, .max_count = 16 },
	};
	static const struct {
		const char *line, *shm;	/* the config's HugePages line, the faked mount */
		bool asked, can, warns;
	} cases[] = {
		{ "", "rw,huge=within_size", true, true, false },
		{ "", "rw,nosuid,nodev,inode64", true, false, false },
		{ "HugePages = no\n", "rw,huge=within_size", false, true, false },
		{ "HugePages = no\n", "rw,nosuid,nodev,inode64", false, false, false },
		{ "HugePages = yes\n", "rw,nosuid,nodev,inode64", true, false, true },
	};
	uint64_t keys[3] = { tu_key(53), tu_key(54), tu_key(55) };
	struct shmdev_region_info info;
	const struct shmdev_proc_conf *pc;
	struct log_cap cap;
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shmdev_conf *conf = NULL;
		struct shmdev_pool *pool = NULL;
		struct shmdev_ctx *c;
		char text[512];
		/* The device's module has its own huge mount: the fake is POSIX's. */
		bool huge = cases[i].asked && (cases[i].can || !is_posix());

		if (!is_posix() && !cases[i].can)
			continue;
		fake_host(cases[i].shm, THP_NEVER);
		c = warn_ctx(&cap);
		shmdev_set_log_priority(c, LOG_INFO);
		snprintf(text, sizeof(text),
			 "ProcessList = p\n[p]\nBaseKey = %" PRIu64 "\nBlockSize = 4M\n"
			 "BlockKeys = %" PRIu64 ", %" PRIu64 "\n%s",
			 keys[0], keys[1], keys[2], cases[i].line);
		ck_assert_msg(shmdev_conf_load_string(c, text, "huge.ini", "p", &conf) == 0,
			      "%s", shmdev_errmsg(c));
		pc = shmdev_conf_self(conf);
		ck_assert_int_eq(pc->huge_pages, cases[i].asked);
		ck_assert_int_eq(pc->huge_pages_set, cases[i].line[0] != '\0');
		ck_assert_msg(shmdev_pool_open(c, conf, types, 1, 0, &pool) == 0, "%s",
			      shmdev_errmsg(c));
		for (k = 0; k < 3; k++) {
			ck_assert_int_eq(shmdev_region_stat(c, tu_backend(), keys[k], &info), 0);
			ck_assert_msg(info.huge == huge, "case %zu: region 0x%" PRIx64 " huge %d",
				      i, keys[k], info.huge);
		}
		ck_assert_msg(cap.warnings == (cases[i].warns ? 1 : 0), "case %zu: %d warnings: %s",
			      i, cap.warnings, cap.text);
		if (cases[i].asked && !cases[i].can && !cases[i].warns) {
			ck_assert_msg(strstr(cap.info, "huge pages (the default; HugePages = no turns them off) cannot be had: /dev/shm is mounted huge=never"),
				      "case %zu: %d info lines: %s", i, cap.infos, cap.info);
		} else {
			ck_assert_msg(!strstr(cap.info, "huge pages"), "case %zu: %s", i, cap.info);
		}
		ck_assert_int_eq(shmdev_pool_close(pool), 0);
		ck_assert_int_eq(shmdev_pool_destroy(c, conf), 0);
		shmdev_conf_free(conf);
		shmdev_ctx_unref(c);
		fake_host_end();
	}
}
END_TEST

static Suite *backend_suite(void)
{
	Suite *s = suite_create("backend");
	TCase *tc;

	tc = tcase_create("auto");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_add_test(tc, test_auto_fallback_warns);
	suite_add_tcase(s, tc);

	tc = tcase_create("huge");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_unchecked_fixture(tc, NULL, tu_destroy_all);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_huge_flag);
	tcase_add_test(tc, test_huge_pages_real);
	tcase_add_test(tc, test_huge_unavailable_posix);
	tcase_add_test(tc, test_huge_existing_small);
	tcase_add_test(tc, test_pool_huge_pages);
	tcase_add_test(tc, test_pool_huge_default);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tu_init("backend");
	tu_fixture(&ctx, NULL);
	return tu_run(backend_suite());
}
