// SPDX-License-Identifier: LGPL-2.1-or-later
/* Shared test helpers: see testutil.h. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define TU_KEYS 65536U

/*
 * Base of this run's keys.  Tests are processes, not libraries: a file-scope
 * value set once in main() before Check forks is the simplest honest way.
 */
static uint64_t tu_key_base;

void tu_init(const char *suite)
{
	struct timespec ts;
	uint64_t salt;
	char prefix[128];

	clock_gettime(CLOCK_REALTIME, &ts);
	salt = ((uint64_t)getpid() << 20) ^ (uint64_t)ts.tv_nsec;
	if (!getenv("SHMDEV_POSIX_PREFIX")) {
		snprintf(prefix, sizeof(prefix), "shmdevtest.%s.%d", suite, (int)getpid());
		setenv("SHMDEV_POSIX_PREFIX", prefix, 1);
	}
	/* Keys 0x7e57xxxxxxxx0000 + i: far from anything a real config uses. */
	tu_key_base = 0x7e57000000000000ULL | ((salt & 0xffffffffULL) << 16);
}

uint64_t tu_key(unsigned int i)
{
	return tu_key_base + 1 + (i % (TU_KEYS - 1));
}

enum shmdev_backend tu_backend(void)
{
	const char *s = getenv("SHMDEV_BACKEND");

	if (s && !strcasecmp(s, "posix"))
		return SHMDEV_BACKEND_POSIX;
	if (s && !strcasecmp(s, "device"))
		return SHMDEV_BACKEND_DEVICE;
	return SHMDEV_BACKEND_AUTO;
}

struct shmdev_ctx *tu_ctx(void)
{
	struct shmdev_ctx *ctx = NULL;

	if (shmdev_ctx_new(&ctx)) {
		fprintf(stderr, "tu_ctx: shmdev_ctx_new failed\n");
		abort();
	}
	if (!getenv("SHMDEV_LOG"))
		shmdev_set_log_priority(ctx, -1);
	return ctx;
}

void tu_destroy(uint64_t key)
{
	struct shmdev_ctx *ctx = tu_ctx();

	shmdev_region_destroy(ctx, tu_backend(), key);
	shmdev_ctx_unref(ctx);
}

static int destroy_ours(const struct shmdev_region_info *info, void *data)
{
	struct shmdev_ctx *ctx = data;

	if (info->key > tu_key_base && info->key < tu_key_base + TU_KEYS)
		shmdev_region_destroy(ctx, tu_backend(), info->key);
	return 0;
}

/*
 * The POSIX list skips objects whose header is not a region's (a test may
 * have corrupted it on purpose), so sweep /dev/shm for this run's names too.
 */
static void unlink_posix_leftovers(void)
{
	const char *prefix = getenv("SHMDEV_POSIX_PREFIX");
	size_t plen = prefix ? strlen(prefix) : 0;
	struct dirent *d;
	DIR *dir;

	if (!plen || tu_backend() == SHMDEV_BACKEND_DEVICE)
		return;
	dir = opendir("/dev/shm");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char name[NAME_MAX + 2];
		unsigned long long key;
		char *end;

		if (strncmp(d->d_name, prefix, plen) || d->d_name[plen] != '.' ||
		    strlen(d->d_name + plen + 1) != 16)
			continue;
		errno = 0;
		key = strtoull(d->d_name + plen + 1, &end, 16);
		if (errno || *end || key <= tu_key_base || key >= tu_key_base + TU_KEYS)
			continue;
		snprintf(name, sizeof(name), "/%s", d->d_name);
		shm_unlink(name);
	}
	closedir(dir);
}

void tu_destroy_all(void)
{
	struct shmdev_ctx *ctx = tu_ctx();

	shmdev_region_list(ctx, tu_backend(), destroy_ours, ctx);
	shmdev_ctx_unref(ctx);
	unlink_posix_leftovers();
}

void tu_child_start(struct tu_child *c, int (*fn)(void *arg), void *arg,
		    bool hold)
{
	int p[2];

	if (pipe(p)) {
		perror("tu_child_start: pipe");
		abort();
	}
	c->pid = fork();
	if (c->pid < 0) {
		perror("tu_child_start: fork");
		abort();
	}
	if (c->pid == 0) {
		int ret;

		close(p[0]);
		/* A held child must not outlive a test that failed early. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ret = fn(arg);
		if (write(p[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(125);
		if (hold)
			for (;;)
				pause();
		_exit(ret & 0xff);
	}
	close(p[1]);
	c->ready_fd = p[0];
}

int tu_child_wait_ready(struct tu_child *c)
{
	int ret;
	ssize_t n;

	do {
		n = read(c->ready_fd, &ret, sizeof(ret));
	} while (n < 0 && errno == EINTR);
	return n == sizeof(ret) ? ret : -1;
}

int tu_child_wait(struct tu_child *c)
{
	int status;

	while (waitpid(c->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	close(c->ready_fd);
	c->ready_fd = -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void tu_child_kill(struct tu_child *c)
{
	kill(c->pid, SIGKILL);
	tu_child_wait(c);
}

int tu_run_in_child(int (*fn)(void *arg), void *arg)
{
	struct tu_child c;

	tu_child_start(&c, fn, arg, false);
	return tu_child_wait(&c);
}

bool tu_quick(void)
{
	const char *s = getenv("SHMDEV_TEST_QUICK");

	return s && *s && strcmp(s, "0");
}

struct shmdev_conf *tu_conf(struct shmdev_ctx *ctx, const char *process,
			    unsigned int first, const char *block_size,
			    unsigned int nr_blocks, const char *extra)
{
	struct shmdev_conf *conf = NULL;
	char text[4096];
	unsigned int i;
	int n, err;

	n = snprintf(text, sizeof(text), "ProcessList = %s\n[%s]\nBaseKey = 0x%" PRIx64 "\nBlockSize = %s\n",
		     process, process, tu_key(first), block_size);
	for (i = 1; i <= nr_blocks; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "BlockKey = 0x%" PRIx64 "\n",
			      tu_key(first + i));
	n += snprintf(text + n, sizeof(text) - (size_t)n, "%s", extra ? extra : "");
	ck_assert_msg(n > 0 && (size_t)n < sizeof(text), "tu_conf: %d bytes of config", n);
	err = shmdev_conf_load_string(ctx, text, "test.ini", process, &conf);
	ck_assert_msg(err == 0, "conf: %s", shmdev_errmsg(ctx));
	return conf;
}

void tu_pool_destroy(struct shmdev_ctx *ctx, struct shmdev_conf *conf)
{
	shmdev_pool_destroy(ctx, conf);
	shmdev_conf_free(conf);
}

struct shmdev_pool *tu_pool_open(struct shmdev_ctx *ctx, struct shmdev_conf *conf,
				 const struct shmdev_type *types, size_t nr_types,
				 unsigned int flags)
{
	struct shmdev_pool *pool = NULL;
	int err = shmdev_pool_open(ctx, conf, types, nr_types, flags, &pool);

	ck_assert_msg(err == 0, "pool open: %d %s", err, shmdev_errmsg(ctx));
	return pool;
}

struct shmdev_pool *tu_pool_start(struct shmdev_ctx *ctx, struct shmdev_conf *conf,
				  const struct shmdev_type *types, size_t nr_types,
				  unsigned int flags, enum shmdev_start want)
{
	struct shmdev_pool *pool = tu_pool_open(ctx, conf, types, nr_types, flags);

	ck_assert_int_eq(shmdev_pool_start(pool), want);
	ck_assert_msg(shmdev_pool_check(pool) == 0, "check: %s", shmdev_errmsg(ctx));
	return pool;
}

const struct shmdev_type tu_zone_types[TU_ZONE_NR_TYPES] = {
	{ .id = TU_ITEM, .name = "Item", .size = sizeof(struct tu_item), .version = 1,
	  .max_count = 100 },
	{ .id = TU_PLAYER, .name = "Player", .size = sizeof(struct tu_player),
	  .version = 1, .max_count = 50, .flags = SHMDEV_TYPE_KEYED },
};

struct shmdev_conf *tu_zone_conf(struct shmdev_ctx *ctx)
{
	return tu_conf(ctx, "zone", 0, "1M", 2, NULL);
}

struct shmdev_pool *tu_zone_open(struct shmdev_ctx *ctx, struct shmdev_conf *conf,
				 unsigned int flags)
{
	bool ro = flags & SHMDEV_POOL_RDONLY;

	return tu_pool_open(ctx, conf, ro ? NULL : tu_zone_types,
			    ro ? 0 : TU_ZONE_NR_TYPES, flags);
}

void tu_zone_destroy(struct shmdev_ctx *ctx)
{
	tu_pool_destroy(ctx, tu_zone_conf(ctx));
}

/* Set once in main() before Check forks, like tu_key_base. */
static struct shmdev_ctx **tu_fixture_ctx;
static void (*tu_fixture_sweep)(void);

void tu_fixture(struct shmdev_ctx **ctxp, void (*sweep)(void))
{
	tu_fixture_ctx = ctxp;
	tu_fixture_sweep = sweep;
}

void tu_setup(void)
{
	*tu_fixture_ctx = tu_ctx();
	if (tu_fixture_sweep)
		tu_fixture_sweep();
}

void tu_teardown(void)
{
	if (tu_fixture_sweep)
		tu_fixture_sweep();
	*tu_fixture_ctx = shmdev_ctx_unref(*tu_fixture_ctx);
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_destroy_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
