// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Resource exhaustion (issue 7 §5), on whichever backend runs the suite:
 * posix on the host, /dev/shmpool in the VM.
 *
 *  - total bytes exhausted under load: several processes create regions at
 *    once until the space runs out.  The space is a 4 MiB tmpfs mounted on
 *    /dev/shm in a private mount namespace (posix), or the module's
 *    max_total_bytes set 4 MiB above what is in use (device).  Each creator
 *    stops on ENOSPC with a message naming the key; every listed region is
 *    whole; the totals add up; destroying them gives every byte back.
 *  - thousands of regions (5000; 500 under SHMDEV_TEST_QUICK;
 *    SHMDEV_EXHAUST_REGIONS overrides): created, listed, destroyed.  The
 *    module's max_regions is raised for it if it is lower.
 *  - few file descriptors: RLIMIT_NOFILE from "none left" upwards while a
 *    pool is created or resumed: EMFILE with a message, nothing half-made
 *    (a refused cold start leaves no region), nothing lost (a refused resume
 *    leaves the pool as it was).
 *
 * Module parameters changed here are restored by main(), also after a
 * failed test.  The memory cgroup case is in tests/stress (VM only).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/shmpool.h>
#include <valgrind/valgrind.h>

#include "testutil.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)
#define LOAD_PROCS 4
#define LOAD_SIZE (128 * KiB)
#define LOAD_SPACE (4 * MiB)
#define LOAD_KEY0 1000U		/* worker w uses keys LOAD_KEY0 + w * 4096 + i */
#define MANY_KEY0 20000U
#define PARAM_DIR "/sys/module/shmpool/parameters/"

static struct shmdev_ctx *ctx;

static bool is_device(void)
{
	int fd;

	if (tu_backend() == SHMDEV_BACKEND_POSIX)
		return false;
	if (tu_backend() == SHMDEV_BACKEND_DEVICE)
		return true;
	fd = open(SHMPOOL_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool param_read(const char *name, unsigned long long *v)
{
	char path[128];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fscanf(f, "%llu", v);
	fclose(f);
	return n == 1;
}

static bool param_write(const char *name, unsigned long long v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	f = fopen(path, "we");
	if (!f)
		return false;
	ok = fprintf(f, "%llu\n", v) > 0;
	return fclose(f) == 0 && ok;
}

static void device_info(struct shmpool_info *info)
{
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, SHMPOOL_DEVICE_PATH ": %s", strerror(errno));
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	ck_assert_msg(ioctl(fd, SHMPOOL_IOC_INFO, info) == 0, "INFO: %s", strerror(errno));
	close(fd);
}

/* Regions of this run's keys in [first, first + n): count and bytes. */
struct tally {
	uint64_t first, n;
	uint64_t count, bytes, bad_size, bad_state;
	uint64_t want_size;
};

static int tally_fn(const struct shmdev_region_info *info, void *data)
{
	struct tally *t = data;

	if (info->key < t->first || info->key >= t->first + t->n)
		return 0;
	t->count++;
	t->bytes += info->size;
	if (t->want_size && info->size != t->want_size)
		t->bad_size++;
	if (info->state != SHMDEV_STATE_NEW || info->owned)
		t->bad_state++;
	return 0;
}

static struct tally tally(unsigned int first, unsigned int n, uint64_t want_size)
{
	struct tally t = { .first = tu_key(first), .n = n, .want_size = want_size };

	ck_assert_msg(shmdev_region_list(ctx, tu_backend(), tally_fn, &t) == 0, "%s", shmdev_errmsg(ctx));
	return t;
}

static void destroy_range(unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		shmdev_region_destroy(ctx, tu_backend(), tu_key(first + i));
}

/* ---- total bytes under load -------------------------------------------- */

struct worker_result {
	uint32_t created;
	int32_t err;
	char msg[256];
};

static int worker(unsigned int w, int gate, struct worker_result *res)
{
	struct shmdev_ctx *c = tu_ctx();
	char byte;
	unsigned int i;

	/* Everyone starts when the parent closes the gate's write end. */
	if (read(gate, &byte, 1) != 0)
		return 2;
	for (i = 0; i < 4096; i++) {
		struct shmdev_region *r = NULL;
		int err = shmdev_region_open(c, tu_backend(), tu_key(LOAD_KEY0 + w * 4096 + i), LOAD_SIZE,
					     SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL, 0600, &r);

		if (err) {
			res->err = err;
			snprintf(res->msg, sizeof(res->msg), "%s", shmdev_errmsg(c));
			break;
		}
		/* The pages are there: touching them never faults. */
		memset(shmdev_region_addr(r), 0xa5, LOAD_SIZE);
		shmdev_region_close(r);
		res->created++;
	}
	shmdev_ctx_unref(c);
	return 0;
}

/* Private mount namespace with a small tmpfs on /dev/shm: false (and why) if not possible. */
static bool small_dev_shm(char *why, size_t len)
{
	char opt[64];

	if (getenv("CK_FORK") && !strcmp(getenv("CK_FORK"), "no")) {
		snprintf(why, len, "CK_FORK=no: the mount namespace would outlive the test");
		return false;
	}
	if (unshare(CLONE_NEWNS)) {
		snprintf(why, len, "unshare(CLONE_NEWNS): %s", strerror(errno));
		return false;
	}
	/* Private first, so that the tmpfs never shows outside this process. */
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL)) {
		snprintf(why, len, "making / private: %s", strerror(errno));
		return false;
	}
	snprintf(opt, sizeof(opt), "size=%llu,mode=1777", LOAD_SPACE);
	if (mount("shmpool-exhaust", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, opt)) {
		snprintf(why, len, "mount tmpfs on /dev/shm: %s", strerror(errno));
		return false;
	}
	return true;
}

static uint64_t dev_shm_used(void)
{
	struct statvfs sv;

	ck_assert_int_eq(statvfs("/dev/shm", &sv), 0);
	return (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

/* No temporary of a creator ("<name>.new.<tid>") is left in /dev/shm. */
static unsigned int dev_shm_temporaries(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	unsigned int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".new."))
			n++;
	closedir(d);
	return n;
}

START_TEST(test_total_bytes_under_load)
{
	bool dev = is_device();
	struct worker_result *res;
	struct shmpool_info info0, info;
	unsigned long long old_max = 0;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), created = 0;
	struct tally t;
	pid_t pids[LOAD_PROCS];
	char why[256];
	int gate[2];
	unsigned int w;

	if (dev) {
		device_info(&info0);
		if (!param_read("max_total_bytes", &old_max) ||
		    !param_write("max_total_bytes", info0.total_bytes + LOAD_SPACE)) {
			printf("exhaust: total bytes: skipped: cannot set " PARAM_DIR "max_total_bytes\n");
			return;
		}
	} else if (!small_dev_shm(why, sizeof(why))) {
		printf("exhaust: total bytes: skipped: %s\n", why);
		return;
	}
	res = mmap(NULL, sizeof(*res) * LOAD_PROCS, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(res, MAP_FAILED);
	memset(res, 0, sizeof(*res) * LOAD_PROCS);
	ck_assert_int_eq(pipe(gate), 0);
	for (w = 0; w < LOAD_PROCS; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0) {
			close(gate[1]);
			_exit(worker(w, gate[0], &res[w]));
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (w = 0; w < LOAD_PROCS; w++) {
		int status;

		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %u: status 0x%x", w, status);
		/* Out of space, said plainly, naming the key that did not fit. */
		ck_assert_msg(res[w].err == -ENOSPC, "worker %u stopped with %d: %s", w, res[w].err, res[w].msg);
		ck_assert_msg(strstr(res[w].msg, "0x7e57"), "worker %u: message lacks the key: %s", w, res[w].msg);
		created += res[w].created;
	}
	printf("exhaust: %u processes created %" PRIu64 " regions of %llu KiB in %llu MiB (%s), then: %s\n",
	       LOAD_PROCS, created, LOAD_SIZE / KiB, LOAD_SPACE / MiB, dev ? "max_total_bytes" : "tmpfs",
	       res[0].msg);
	ck_assert_uint_gt(created, 4);

	/* Only whole regions exist, and they are all the space there was. */
	t = tally(LOAD_KEY0, LOAD_PROCS * 4096, LOAD_SIZE);
	ck_assert_uint_eq(t.count, created);
	ck_assert_uint_eq(t.bad_size, 0);
	ck_assert_uint_eq(t.bad_state, 0);
	if (dev) {
		device_info(&info);
		ck_assert_uint_eq(info.nr_regions, info0.nr_regions + created);
		ck_assert_uint_eq(info.total_bytes, info0.total_bytes + created * LOAD_SIZE);
		/* Full, give or take what the creators that failed last had in flight. */
		ck_assert_uint_gt(info.total_bytes + LOAD_PROCS * LOAD_SIZE, info0.total_bytes + LOAD_SPACE);
	} else {
		ck_assert_uint_eq(dev_shm_temporaries(), 0);
		ck_assert_uint_eq(dev_shm_used(), created * (LOAD_SIZE + page));
		ck_assert_uint_gt(dev_shm_used() + LOAD_PROCS * (LOAD_SIZE + page), LOAD_SPACE);
	}

	/* Every byte comes back, and can be used again. */
	destroy_range(LOAD_KEY0, LOAD_PROCS * 4096);
	t = tally(LOAD_KEY0, LOAD_PROCS * 4096, 0);
	ck_assert_uint_eq(t.count, 0);
	if (dev) {
		device_info(&info);
		ck_assert_uint_eq(info.nr_regions, info0.nr_regions);
		ck_assert_uint_eq(info.total_bytes, info0.total_bytes);
		ck_assert(param_write("max_total_bytes", old_max));
	} else {
		ck_assert_uint_eq(dev_shm_used(), 0);
	}
	munmap(res, sizeof(*res) * LOAD_PROCS);
}
END_TEST

/* ---- thousands of regions ---------------------------------------------- */

START_TEST(test_thousands_of_regions)
{
	const char *env = getenv("SHMDEV_EXHAUST_REGIONS");
	unsigned int n = env && *env ? (unsigned int)strtoul(env, NULL, 0) : tu_quick() ? 500 : 5000;
	bool dev = is_device();
	struct shmpool_info info0, info;
	unsigned long long max_regions;
	struct tally t;
	unsigned int i;

	ck_assert_uint_le(n, 40000);
	if (dev) {
		device_info(&info0);
		if (info0.max_regions < info0.nr_regions + n) {
			ck_assert_msg(param_read("max_regions", &max_regions), "max_regions unreadable");
			ck_assert(param_write("max_regions", info0.nr_regions + n));
		}
	}
	for (i = 0; i < n; i++) {
		struct shmdev_region *r = NULL;
		int err = shmdev_region_open(ctx, tu_backend(), tu_key(MANY_KEY0 + i), 4096,
					     SHMDEV_REGION_CREATE | SHMDEV_REGION_EXCL, 0600, &r);

		ck_assert_msg(err == 0, "region %u of %u: %s", i, n, shmdev_errmsg(ctx));
		*(uint32_t *)shmdev_region_addr(r) = i;
		shmdev_region_close(r);
	}
	t = tally(MANY_KEY0, n, 4096);
	ck_assert_uint_eq(t.count, n);
	ck_assert_uint_eq(t.bad_size, 0);
	if (dev) {
		struct shmdev_region *r = NULL;

		device_info(&info);
		ck_assert_uint_eq(info.nr_regions, info0.nr_regions + n);
		/* One more than max_regions: ENOSPC naming the limit. */
		if (info.nr_regions == info.max_regions) {
			ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(MANY_KEY0 + n), 4096,
							    SHMDEV_REGION_CREATE, 0600, &r), -ENOSPC);
			ck_assert_ptr_nonnull(strstr(shmdev_errmsg(ctx), "regions"));
		}
	}
	/* Spot checks: the contents are each region's own. */
	for (i = 0; i < n; i += n / 7 + 1) {
		struct shmdev_region *r = NULL;

		ck_assert_int_eq(shmdev_region_open(ctx, tu_backend(), tu_key(MANY_KEY0 + i), 0, 0, 0, &r), 0);
		ck_assert_uint_eq(*(uint32_t *)shmdev_region_addr(r), i);
		shmdev_region_close(r);
	}
	for (i = 0; i < n; i++)
		ck_assert_msg(shmdev_region_destroy(ctx, tu_backend(), tu_key(MANY_KEY0 + i)) == 0,
			      "%s", shmdev_errmsg(ctx));
	t = tally(MANY_KEY0, n + 1, 0);
	ck_assert_uint_eq(t.count, 0);
	if (dev) {
		device_info(&info);
		ck_assert_uint_eq(info.nr_regions, info0.nr_regions);
		ck_assert_uint_eq(info.total_bytes, info0.total_bytes);
	}
	printf("exhaust: %u regions created, listed and destroyed\n", n);
}
END_TEST

/* ---- file descriptors -------------------------------------------------- */

static struct shmdev_conf *mkconf(unsigned int nblocks)
{
	struct shmdev_conf *conf = NULL;
	char text[2048];
	int n;
	unsigned int i;

	n = snprintf(text, sizeof(text), "ProcessList = zone\n[zone]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 64K\n",
		     tu_key(0));
	for (i = 1; i <= nblocks; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "BlockKey = 0x%" PRIx64 "\n", tu_key(i));
	ck_assert_msg(shmdev_conf_load_string(ctx, text, "exhaust.ini", "zone", &conf) == 0,
		      "%s", shmdev_errmsg(ctx));
	return conf;
}

static const struct shmdev_type fd_types[] = {
	{ .id = 0, .name = "Player", .size = 64, .max_count = 500, .flags = SHMDEV_TYPE_KEYED },
	{ .id = 1, .name = "Item", .size = 32, .max_count = 2000 },
};

/* The highest open descriptor below the soft limit (valgrind keeps its own above). */
static int top_fd(void)
{
	struct rlimit rl;
	int fd, top = -1;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	for (fd = 0; fd < (int)rl.rlim_cur && fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			top = fd;
	return top;
}

static void set_nofile(rlim_t cur)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = cur;
	ck_assert_msg(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit %llu: %s",
		      (unsigned long long)cur, strerror(errno));
}

/*
 * Running out of descriptors must not make AUTO pick POSIX when the device
 * exists: that would silently open a different set of regions.
 */
static void assert_no_silent_fallback(void)
{
	if (access(SHMPOOL_DEVICE_PATH, F_OK) != 0 || tu_backend() == SHMDEV_BACKEND_POSIX)
		return;
	ck_assert_msg(!strstr(shmdev_errmsg(ctx), "(posix)"),
		      "AUTO fell back to POSIX with the device present: %s", shmdev_errmsg(ctx));
}

#define NR_FD_BLOCKS 6

START_TEST(test_few_file_descriptors)
{
	struct shmdev_conf *conf = mkconf(NR_FD_BLOCKS);
	struct shmdev_pool *pool = NULL;
	struct rlimit saved;
	struct tally t;
	rlim_t base;
	unsigned int extra, refused = 0, nplugs = 0;
	bool created = false;
	int *plugs, fd, err;
	void *obj;

	if (RUNNING_ON_VALGRIND) {
		/* Its RLIMIT_NOFILE is virtual: an fd the kernel gave is closed again, as EMFILE. */
		printf("exhaust: file descriptors: skipped under valgrind (it emulates RLIMIT_NOFILE)\n");
		shmdev_conf_free(conf);
		return;
	}
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
	/* Plug the holes below the highest descriptor: then the limit is exact. */
	base = (rlim_t)top_fd() + 1;
	plugs = calloc(base, sizeof(*plugs));
	ck_assert_ptr_nonnull(plugs);
	for (fd = 0; fd < (int)base; fd++)
		if (fcntl(fd, F_GETFD) == -1) {
			ck_assert_int_eq(open("/dev/null", O_RDONLY | O_CLOEXEC), fd);
			plugs[nplugs++] = fd;
		}

	/* Cold start: from no descriptor left to enough; a refusal leaves no region. */
	for (extra = 0; !created; extra++) {
		ck_assert_uint_lt(extra, 64);
		set_nofile(base + extra);
		err = shmdev_pool_open(ctx, conf, fd_types, 2, 0, &pool);
		set_nofile(saved.rlim_cur);
		if (err) {
			ck_assert_msg(err == -EMFILE, "limit %u: %d %s", extra, err, shmdev_errmsg(ctx));
			ck_assert_msg(strstr(shmdev_errmsg(ctx), "0x7e57"), "no key in: %s", shmdev_errmsg(ctx));
		assert_no_silent_fallback();
			printf("exhaust: RLIMIT_NOFILE %llu: %s\n",
			       (unsigned long long)(base + extra), shmdev_errmsg(ctx));
			t = tally(0, NR_FD_BLOCKS + 1, 0);
			ck_assert_msg(t.count == 0, "limit %u: %" PRIu64 " regions left after a refused cold start",
				      extra, t.count);
			refused++;
			continue;
		}
		ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_CREATED);
		created = true;
	}
	ck_assert_uint_ge(refused, 1);
	ck_assert_int_eq(shmdev_force_get(pool, 0, 77, &obj, NULL, NULL), 0);
	memset(obj, 0x77, 64);
	ck_assert_int_eq(shmdev_pool_close(pool), 0);

	/* Resume: a refusal destroys nothing; the pool comes back clean and whole. */
	for (extra = 0;; extra++) {
		ck_assert_uint_lt(extra, 64);
		set_nofile(base + extra);
		err = shmdev_pool_open(ctx, conf, fd_types, 2, 0, &pool);
		set_nofile(saved.rlim_cur);
		if (!err)
			break;
		ck_assert_msg(err == -EMFILE, "limit %u: %d %s", extra, err, shmdev_errmsg(ctx));
		ck_assert_msg(strstr(shmdev_errmsg(ctx), "0x7e57"), "no key in: %s", shmdev_errmsg(ctx));
		assert_no_silent_fallback();
		t = tally(0, NR_FD_BLOCKS + 1, 0);
		ck_assert_uint_eq(t.count, NR_FD_BLOCKS + 1);
	}
	ck_assert_int_eq(shmdev_pool_start(pool), SHMDEV_START_RESUMED_CLEAN);
	obj = shmdev_find(pool, 0, 77, NULL);
	ck_assert_ptr_nonnull(obj);
	ck_assert_uint_eq(((unsigned char *)obj)[63], 0x77);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "%s", shmdev_errmsg(ctx));
	ck_assert_int_eq(shmdev_pool_close(pool), 0);
	printf("exhaust: pool of %u blocks refused with EMFILE %u times, then opened\n", NR_FD_BLOCKS, refused);
	while (nplugs)
		close(plugs[--nplugs]);
	free(plugs);
	ck_assert_int_eq(shmdev_pool_destroy(ctx, conf), 0);
	shmdev_conf_free(conf);
}
END_TEST

static void setup(void)
{
	ctx = tu_ctx();
}

static void teardown(void)
{
	ctx = shmdev_ctx_unref(ctx);
}

static void cleanup_regions(void)
{
	tu_destroy_all();
}

int main(void)
{
	static const char *const params[] = { "max_regions", "max_total_bytes" };
	unsigned long long saved[2];
	bool have[2];
	Suite *s = suite_create("exhaust");
	SRunner *sr;
	TCase *tc;
	size_t i;
	int failed;

	tu_init("exhaust");
	/* Restored whatever the tests do (they change them only on the device). */
	for (i = 0; i < 2; i++)
		have[i] = param_read(params[i], &saved[i]);

	tc = tcase_create("exhaust");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, cleanup_regions);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_total_bytes_under_load);
	tcase_add_test(tc, test_thousands_of_regions);
	tcase_add_test(tc, test_few_file_descriptors);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_destroy_all();
	for (i = 0; i < 2; i++)
		if (have[i] && !param_write(params[i], saved[i]))
			fprintf(stderr, "exhaust: cannot restore %s to %llu\n", params[i], saved[i]);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
