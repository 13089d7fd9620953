// SPDX-License-Identifier: GPL-2.0
/*
 * IPC namespace isolation: a child in its own IPC namespace
 * (unshare(CLONE_NEWIPC)) cannot see, attach or destroy the parent's
 * regions through any interface, the same key lives independently in both,
 * and when a namespace dies (no task, no /proc/PID/ns/ipc handle) its
 * regions are destroyed at the next call into the module at the latest
 * (test_nsproc.c: without any call, within reap_interval_ms), as SysV's are:
 * Shmem is back at its baseline and rmmod works.  Capabilities count in the
 * user namespace that owns the IPC namespace, and only there.
 *
 * Children report through their exit status (0 = every check held) and
 * print what failed on stderr.
 */
#include "kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define TAG 0x90
#define PG 4096UL
#define MB (1UL << 20)

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		return 1;						\
	}								\
} while (0)

/* Fork a child that runs @fn(@arg) in a new IPC namespace. */
static pid_t spawn_in_new_ns(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWIPC)) {
			perror("unshare(CLONE_NEWIPC)");
			_exit(120);
		}
		_exit(fn(arg));
	}
	return pid;
}

static void assert_child_ok(pid_t pid)
{
	int st = kt_wait(pid);

	ck_assert_msg(st == 0, "child failed with status %d (its stderr says why)", st);
}

/* Keys LIST returns in the caller's namespace, or -errno. */
static int list_keys(int fd, uint64_t *keys, int max)
{
	struct shmpool_region_info e[8];
	struct shmpool_list l = { .size = sizeof(l) };
	int n = 0;

	do {
		l.entries = (uintptr_t)e;
		l.count = 8;
		l.entry_size = sizeof(e[0]);
		l.flags = 0;
		if (ioctl(fd, SHMPOOL_IOC_LIST, &l) < 0)
			return -errno;
		for (unsigned int i = 0; i < l.count; i++)
			if (n < max)
				keys[n++] = e[i].key;
	} while (!(l.flags & SHMPOOL_LIST_END));
	return n;
}

/*
 * Region lines of /proc/shmpool as the caller sees it; *size is the size
 * shown for @key (0 if absent).  -1 if it cannot be read.
 */
static int proc_regions(uint64_t key, uint64_t *size)
{
	char line[512];
	int n = -1;
	FILE *f = fopen("/proc/shmpool", "r");

	*size = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long k, sz;

		if (n++ < 0)
			continue;	/* the header */
		if (sscanf(line, "%llu %llu", &k, &sz) == 2 && k == key)
			*size = sz;
	}
	fclose(f);
	return n;
}

static int map_fill(int fd, size_t len, uint8_t v)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, v, len);
	munmap(p, len);
	return 0;
}

/* The first and last byte of the region behind @fd, or -errno. */
static int map_read(int fd, size_t len, uint8_t *first, uint8_t *last)
{
	uint8_t *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*first = p[0];
	*last = p[len - 1];
	munmap(p, len);
	return 0;
}

static int open_dev(void)
{
	return open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

/* ---- the parent's regions, from another namespace ---- */

struct invisible_arg {
	uint64_t key;
	int fd_parent;		/* opened (not attached) in the parent's namespace */
};

static int child_sees_nothing(void *p)
{
	const struct invisible_arg *a = p;
	struct shmpool_stat st = { .size = sizeof(st), .key = a->key };
	struct shmpool_destroy d = { .size = sizeof(d), .key = a->key };
	struct shmpool_info in = { .size = sizeof(in) };
	struct shmpool_attach at;
	uint64_t keys[8], psize;
	int fd = open_dev(), r;

	EXPECT(fd >= 0, "open: %s", strerror(errno));
	r = kt_ioctl(fd, SHMPOOL_IOC_STAT, &st);
	EXPECT(r == -ENOENT, "STAT of the parent's key: %d", r);
	/* A file opened in the parent's namespace acts in the caller's. */
	r = kt_ioctl(a->fd_parent, SHMPOOL_IOC_STAT, &st);
	EXPECT(r == -ENOENT, "STAT through the parent's file: %d", r);
	r = list_keys(fd, keys, 8);
	EXPECT(r == 0, "LIST returned %d entries (first %#" PRIx64 ")", r, r > 0 ? keys[0] : 0);
	r = list_keys(a->fd_parent, keys, 8);
	EXPECT(r == 0, "LIST through the parent's file returned %d", r);
	r = proc_regions(a->key, &psize);
	EXPECT(r == 0, "/proc/shmpool shows %d regions (parent's key size %" PRIu64 ")", r, psize);
	r = kt_ioctl(fd, SHMPOOL_IOC_INFO, &in);
	EXPECT(r == 0 && in.nr_regions == 0 && in.total_bytes == 0,
	       "INFO: %d, %u regions, %" PRIu64 " bytes", r, in.nr_regions,
	       (uint64_t)in.total_bytes);

	r = kt_attach(fd, a->key, 0, 0, 0, &at);
	EXPECT(r == -ENOENT, "ATTACH: %d", r);
	r = kt_attach(fd, a->key, 0, SHMPOOL_ATTACH_RDONLY, 0, &at);
	EXPECT(r == -ENOENT, "ATTACH RDONLY: %d", r);
	r = kt_attach(fd, a->key, 0, SHMPOOL_ATTACH_OWNER, 0, &at);
	EXPECT(r == -ENOENT, "ATTACH OWNER: %d", r);
	r = kt_attach(a->fd_parent, a->key, 0, 0, 0, &at);
	EXPECT(r == -ENOENT, "ATTACH through the parent's file: %d", r);
	r = kt_ioctl(fd, SHMPOOL_IOC_DESTROY, &d);
	EXPECT(r == -ENOENT, "DESTROY: %d", r);
	r = kt_ioctl(a->fd_parent, SHMPOOL_IOC_DESTROY, &d);
	EXPECT(r == -ENOENT, "DESTROY through the parent's file: %d", r);
	/* Nothing happened as a side effect either. */
	r = kt_ioctl(fd, SHMPOOL_IOC_INFO, &in);
	EXPECT(r == 0 && in.nr_regions == 0, "INFO after: %d, %u regions", r, in.nr_regions);
	close(fd);
	return 0;
}

START_TEST(parent_regions_invisible)
{
	const uint64_t key = KT_KEY(TAG, 1);
	struct invisible_arg a = { .key = key };
	struct shmpool_region_info info;
	uint8_t first, last;
	uint64_t psize;
	int fd;

	fd = kt_attach_fd(key, 3 * PG, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER, 0666, NULL);
	ck_assert_int_eq(map_fill(fd, 3 * PG, 'P'), 0);
	a.fd_parent = kt_open();
	assert_child_ok(spawn_in_new_ns(child_sees_nothing, &a));

	/* Still there, untouched, for the parent. */
	ck_assert_int_eq(kt_stat(key, &info), 0);
	ck_assert_uint_eq(info.size, 3 * PG);
	ck_assert_uint_eq(info.nattch, 1);
	ck_assert_int_eq(map_read(fd, 3 * PG, &first, &last), 0);
	ck_assert_uint_eq(first, 'P');
	ck_assert_uint_eq(last, 'P');
	ck_assert_int_eq(proc_regions(key, &psize), 1);
	ck_assert_uint_eq(psize, 3 * PG);
	close(a.fd_parent);
	ck_assert_int_eq(kt_detach(fd), 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* ---- one key, two namespaces ---- */

struct twin_arg {
	uint64_t key;
	struct kt_sync sync;
};

static int child_twin(void *p)
{
	struct twin_arg *a = p;
	struct shmpool_region_info info;
	struct shmpool_attach at;
	uint64_t keys[8], psize;
	uint8_t first, last;
	int fd, r;

	kt_sync_child(&a->sync);
	fd = open_dev();
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	/* CREATE|EXCL: the key is free in this namespace. */
	r = kt_attach(fd, a->key, 5 * PG, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL |
		      SHMPOOL_ATTACH_OWNER, 0600, &at);
	EXPECT(r == 0, "ATTACH CREATE|EXCL: %d", r);
	EXPECT(at.result == SHMPOOL_RESULT_CREATED, "result %u", at.result);
	EXPECT(at.info.size == 5 * PG, "size %" PRIu64, (uint64_t)at.info.size);
	EXPECT(at.info.generation == 1, "generation %" PRIu64, (uint64_t)at.info.generation);
	EXPECT(map_fill(fd, 5 * PG, 'C') == 0, "map");
	EXPECT(kt_detach(fd) == 0, "detach");
	close(fd);

	kt_signal(a->sync.c2p[1], 1);
	EXPECT(kt_await(a->sync.p2c[0]) == 2, "parent went away");

	/* The parent's work on its own region changed nothing here. */
	r = kt_stat(a->key, &info);
	EXPECT(r == 0 && info.size == 5 * PG && info.generation == 1 &&
	       info.state == SHMPOOL_STATE_CLEAN,
	       "STAT: %d size %" PRIu64 " generation %" PRIu64 " state %u", r,
	       (uint64_t)info.size, (uint64_t)info.generation, info.state);
	fd = open_dev();
	r = kt_attach(fd, a->key, 0, SHMPOOL_ATTACH_RDONLY, 0, &at);
	EXPECT(r == 0 && at.result == SHMPOOL_RESULT_RESUMED, "ATTACH: %d result %u", r,
	       at.result);
	EXPECT(map_read(fd, 5 * PG, &first, &last) == 0 && first == 'C' && last == 'C',
	       "contents %c %c", first, last);
	close(fd);
	r = list_keys(fd = open_dev(), keys, 8);
	close(fd);
	EXPECT(r == 1 && keys[0] == a->key, "LIST: %d entries", r);
	EXPECT(proc_regions(a->key, &psize) == 1 && psize == 5 * PG,
	       "/proc/shmpool: size %" PRIu64, psize);
	EXPECT(kt_destroy(a->key) == 0, "DESTROY");
	EXPECT(kt_stat(a->key, NULL) == -ENOENT, "STAT after DESTROY");
	return 0;
}

START_TEST(same_key_in_two_namespaces)
{
	const uint64_t key = KT_KEY(TAG, 2);
	struct twin_arg a = { .key = key };
	struct shmpool_region_info info;
	struct shmpool_attach at;
	uint8_t first, last;
	uint64_t psize;
	pid_t pid;
	int fd;

	fd = kt_attach_fd(key, 2 * PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	ck_assert_int_eq(map_fill(fd, 2 * PG, 'P'), 0);
	close(fd);

	kt_sync_init(&a.sync);
	pid = spawn_in_new_ns(child_twin, &a);
	kt_sync_parent(&a.sync);
	ck_assert_uint_eq(kt_await(a.sync.c2p[0]), 1);

	/* The child's creation of the same key did not touch the parent's. */
	ck_assert_int_eq(kt_stat(key, &info), 0);
	ck_assert_uint_eq(info.size, 2 * PG);
	ck_assert_uint_eq(info.generation, 0);
	ck_assert_uint_eq(info.state, SHMPOOL_STATE_NEW);
	ck_assert_int_eq(proc_regions(key, &psize), 1);
	ck_assert_uint_eq(psize, 2 * PG);
	ck_assert_uint_eq(kt_nr_regions(), 1);
	/* An OWNER attach here is not blocked by the child's region. */
	fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_OWNER, 0, &at);
	ck_assert_uint_eq(at.result, SHMPOOL_RESULT_RESUMED);
	ck_assert_uint_eq(at.info.size, 2 * PG);
	ck_assert_int_eq(map_read(fd, 2 * PG, &first, &last), 0);
	ck_assert_uint_eq(first, 'P');
	ck_assert_int_eq(map_fill(fd, 2 * PG, 'Q'), 0);
	ck_assert_int_eq(kt_detach(fd), 0);
	close(fd);

	kt_signal(a.sync.p2c[1], 2);
	assert_child_ok(pid);

	/* The child's DESTROY of "its" key left the parent's alone. */
	fd = kt_attach_fd(key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	ck_assert_int_eq(map_read(fd, 2 * PG, &first, &last), 0);
	ck_assert_uint_eq(first, 'Q');
	ck_assert_uint_eq(last, 'Q');
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

/* ---- a namespace that dies ---- */

struct dying_arg {
	uint64_t key;
	int nregions;
	size_t len;
	bool keep_fd_mapped;	/* leave the namespace, keep the memory */
	struct kt_sync sync;
};

/* Create regions, drop every fd and mapping, report, wait for the word. */
static int child_creates_then_waits(void *p)
{
	struct dying_arg *a = p;

	kt_sync_child(&a->sync);
	for (int i = 0; i < a->nregions; i++) {
		int fd = open_dev(), r;

		EXPECT(fd >= 0, "open: %s", strerror(errno));
		r = kt_attach(fd, a->key + i, a->len, SHMPOOL_ATTACH_CREATE |
			      SHMPOOL_ATTACH_OWNER, 0600, NULL);
		EXPECT(r == 0, "ATTACH CREATE %d: %d", i, r);
		EXPECT(map_fill(fd, a->len, 0x40 + i) == 0, "map");
		close(fd);	/* crashed owner: the region stays */
	}
	kt_signal(a->sync.c2p[1], 1);
	EXPECT(kt_await(a->sync.p2c[0]) == 2, "parent went away");
	return 0;
}

START_TEST(dead_namespace_loses_its_regions)
{
	struct dying_arg a = { .key = KT_KEY(TAG, 10), .nregions = 3, .len = MB };
	long base = kt_meminfo_kb("Shmem");
	struct shmpool_info in;
	pid_t pid;

	kt_sync_init(&a.sync);
	pid = spawn_in_new_ns(child_creates_then_waits, &a);
	kt_sync_parent(&a.sync);
	ck_assert_uint_eq(kt_await(a.sync.c2p[0]), 1);

	/* Alive: invisible here, but they hold memory and the module. */
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.nr_regions, 0);
	ck_assert_uint_eq(in.total_bytes, 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 3 * 1024);
	ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 3 * 1024);

	kt_signal(a.sync.p2c[1], 2);
	assert_child_ok(pid);

	/* Its last task is gone: the next call destroys its regions. */
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.nr_regions, 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/*
 * Reaping must not be skipped when the caller's own namespace has a table
 * too: it skips only when the caller's table is the only one.
 */
START_TEST(dead_namespace_reaped_beside_a_live_table)
{
	struct dying_arg a = { .key = KT_KEY(TAG, 15), .nregions = 2, .len = MB };
	uint64_t own = KT_KEY(TAG, 14);
	long base = kt_meminfo_kb("Shmem");
	int fd = open_dev(), r;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	r = kt_attach(fd, own, MB, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(map_fill(fd, MB, 0x33), 0);

	kt_sync_init(&a.sync);
	pid = spawn_in_new_ns(child_creates_then_waits, &a);
	kt_sync_parent(&a.sync);
	ck_assert_uint_eq(kt_await(a.sync.c2p[0]), 1);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 3 * 1024);
	kt_signal(a.sync.p2c[1], 2);
	assert_child_ok(pid);

	/* An ioctl on the file already open, from the live namespace. */
	ck_assert_int_eq(kt_query(fd, NULL), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 1024);
	ck_assert_int_eq(kt_stat(own, NULL), 0);
	close(fd);
	ck_assert_int_eq(kt_destroy(own), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/* A setns() into @nsfd, then the region @a->key must be there as left. */
static int child_setns_and_check(void *p)
{
	const struct dying_arg *a = p;
	struct shmpool_region_info info;
	uint8_t first, last;
	int fd, r;

	r = kt_stat(a->key, NULL);
	EXPECT(r == 0, "STAT in the kept namespace: %d", r);
	r = kt_stat(a->key, &info);
	EXPECT(info.state == SHMPOOL_STATE_CRASHED, "state %u", info.state);
	fd = open_dev();
	r = kt_attach(fd, a->key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	EXPECT(r == 0, "ATTACH: %d", r);
	EXPECT(map_read(fd, a->len, &first, &last) == 0 && first == 0x40 && last == 0x40,
	       "contents %#x %#x", first, last);
	close(fd);
	return 0;
}

START_TEST(namespace_handle_keeps_regions)
{
	struct dying_arg a = { .key = KT_KEY(TAG, 20), .nregions = 1, .len = MB };
	long base = kt_meminfo_kb("Shmem");
	char path[64];
	pid_t pid, pid2;
	int hfd;

	kt_sync_init(&a.sync);
	pid = spawn_in_new_ns(child_creates_then_waits, &a);
	kt_sync_parent(&a.sync);
	ck_assert_uint_eq(kt_await(a.sync.c2p[0]), 1);
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)pid);
	hfd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(hfd >= 0, "open %s: %s", path, strerror(errno));
	kt_signal(a.sync.p2c[1], 2);
	assert_child_ok(pid);

	/* No task left, but a handle: the namespace, and its regions, live. */
	ck_assert_uint_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 1024);
	ck_assert_int_eq(kt_module_unload(), -EWOULDBLOCK);
	pid2 = fork();
	ck_assert_int_ge(pid2, 0);
	if (pid2 == 0) {
		if (setns(hfd, CLONE_NEWIPC)) {
			perror("setns");
			_exit(120);
		}
		_exit(child_setns_and_check(&a));
	}
	assert_child_ok(pid2);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base + 1024);

	/* The handle was the last reference. */
	close(hfd);
	ck_assert_uint_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/*
 * Create and map a region, then leave the namespace (it dies with no task
 * left): the key goes, the mapping and the attached file stay usable, as
 * after DESTROY.
 */
static int child_leaves_namespace(void *p)
{
	const struct dying_arg *a = p;
	struct shmpool_query q;
	struct shmpool_info in = { .size = sizeof(in) };
	uint8_t *m;
	int fd, r;

	fd = open_dev();
	EXPECT(fd >= 0, "open: %s", strerror(errno));
	r = kt_attach(fd, a->key, a->len, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
		      0600, NULL);
	EXPECT(r == 0, "ATTACH CREATE: %d", r);
	m = mmap(NULL, a->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(m != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(m, 'M', a->len);

	EXPECT(unshare(CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	/* Any call reaps the namespace just left. */
	r = kt_ioctl(fd, SHMPOOL_IOC_INFO, &in);
	EXPECT(r == 0 && in.nr_regions == 0, "INFO: %d, %u regions", r, in.nr_regions);
	r = kt_query(fd, &q);
	EXPECT(r == 0, "QUERY: %d", r);
	EXPECT(q.info.flags & SHMPOOL_REGION_DESTROYED, "flags %#x", q.info.flags);
	EXPECT(q.info.key == a->key && q.info.size == a->len, "key/size");
	EXPECT(m[0] == 'M' && m[a->len - 1] == 'M', "mapping lost its contents");
	m[1] = 'N';
	EXPECT(m[1] == 'N', "mapping not writable");
	/* The attached file still maps the memory; the key is gone. */
	{
		uint8_t first, last;

		EXPECT(map_read(fd, a->len, &first, &last) == 0 && first == 'M', "remap");
	}
	EXPECT(kt_stat(a->key, NULL) == -ENOENT, "key still resolves");
	EXPECT(kt_detach(fd) == 0, "DETACH of a destroyed region's lease");
	munmap(m, a->len);
	close(fd);
	return 0;
}

START_TEST(mapping_outlives_its_namespace)
{
	struct dying_arg a = { .key = KT_KEY(TAG, 30), .len = 2 * MB };
	long base = kt_meminfo_kb("Shmem");

	assert_child_ok(spawn_in_new_ns(child_leaves_namespace, &a));
	ck_assert_uint_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/* Many short-lived namespaces: every table and pin goes away. */
static int child_churn(void *p)
{
	const struct dying_arg *a = p;
	int fd = open_dev(), r;

	EXPECT(fd >= 0, "open: %s", strerror(errno));
	r = kt_attach(fd, a->key, PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	EXPECT(r == 0, "ATTACH CREATE: %d", r);
	EXPECT(map_fill(fd, PG, 1) == 0, "map");
	/* Half keep the file open until exit, half close it first. */
	if (a->nregions & 1)
		close(fd);
	return 0;
}

START_TEST(namespace_churn_leaves_nothing)
{
	long base = kt_meminfo_kb("Shmem");

	for (int i = 0; i < 40; i++) {
		struct dying_arg a = { .key = KT_KEY(TAG, 40), .nregions = i };

		assert_child_ok(spawn_in_new_ns(child_churn, &a));
	}
	ck_assert_uint_eq(kt_nr_regions(), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/* ---- capabilities count in the user namespace owning the IPC namespace ---- */

struct caps_arg {
	uint64_t key;
	int fd[3];		/* opened by root beforehand: nobody cannot open */
	struct kt_sync sync;
};

static int create_as_nobody(void *p)
{
	const struct caps_arg *a = p;

	return -kt_attach(a->fd[0], a->key, PG, SHMPOOL_ATTACH_CREATE, 0600, NULL);
}

/*
 * In a new user and IPC namespace (uid 0 and 65534 mapped by the parent):
 * a region of uid 65534, mode 0600, is attached and destroyed by uid 0,
 * which holds CAP_IPC_OWNER only in the user namespace that owns this IPC
 * namespace.
 */
static int child_userns_owner(void *p)
{
	struct caps_arg *a = p;
	struct shmpool_destroy d = { .size = sizeof(d), .key = a->key };
	pid_t pid;
	int r;

	kt_sync_child(&a->sync);
	EXPECT(unshare(CLONE_NEWUSER | CLONE_NEWIPC) == 0, "unshare: %s", strerror(errno));
	kt_signal(a->sync.c2p[1], 1);
	EXPECT(kt_await(a->sync.p2c[0]) == 2, "parent went away");

	pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(120);
		_exit(create_as_nobody(a));
	}
	r = kt_wait(pid);
	EXPECT(r == 0, "nobody's ATTACH CREATE: status %d", r);
	r = kt_attach(a->fd[1], a->key, 0, 0, 0, NULL);
	EXPECT(r == 0, "ATTACH with CAP_IPC_OWNER in the owning user ns: %d", r);
	r = kt_ioctl(a->fd[2], SHMPOOL_IOC_DESTROY, &d);
	EXPECT(r == 0, "DESTROY with CAP_IPC_OWNER in the owning user ns: %d", r);
	return 0;
}

static void write_id_map(pid_t pid, const char *file)
{
	char path[64];
	static const char map[] = "0 0 1\n65534 65534 1\n";
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_msg(write(fd, map, strlen(map)) == (ssize_t)strlen(map), "write %s: %s",
		      path, strerror(errno));
	close(fd);
}

START_TEST(capabilities_of_the_owning_user_namespace)
{
	struct caps_arg a = { .key = KT_KEY(TAG, 50) };
	pid_t pid;

	for (int i = 0; i < 3; i++)
		a.fd[i] = kt_open();
	kt_sync_init(&a.sync);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_userns_owner(&a));
	kt_sync_parent(&a.sync);
	ck_assert_uint_eq(kt_await(a.sync.c2p[0]), 1);
	write_id_map(pid, "uid_map");
	write_id_map(pid, "gid_map");
	kt_signal(a.sync.p2c[1], 2);
	assert_child_ok(pid);
	ck_assert_int_eq(kt_stat(a.key, NULL), -ENOENT);
	for (int i = 0; i < 3; i++)
		close(a.fd[i]);
	ck_assert_uint_eq(kt_nr_regions(), 0);
}
END_TEST

/* Capabilities in a child user namespace: worth nothing in the initial IPC ns. */
static int child_caps_elsewhere(void *p)
{
	const struct caps_arg *a = p;
	struct shmpool_destroy d = { .size = sizeof(d), .key = a->key };
	int r;

	EXPECT(unshare(CLONE_NEWUSER) == 0, "unshare: %s", strerror(errno));
	r = kt_attach(a->fd[1], a->key, 0, 0, 0, NULL);
	EXPECT(r == -EACCES, "ATTACH: %d", r);
	r = kt_attach(a->fd[1], a->key, 0, SHMPOOL_ATTACH_RDONLY, 0, NULL);
	EXPECT(r == -EACCES, "ATTACH RDONLY: %d", r);
	r = kt_ioctl(a->fd[2], SHMPOOL_IOC_DESTROY, &d);
	EXPECT(r == -EPERM, "DESTROY: %d", r);
	return 0;
}

START_TEST(capabilities_of_another_user_namespace)
{
	struct caps_arg a = { .key = KT_KEY(TAG, 51) };
	pid_t pid;

	for (int i = 0; i < 3; i++)
		a.fd[i] = kt_open();
	ck_assert_int_eq(kt_run_as(65534, 65534, create_as_nobody, &a), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_caps_elsewhere(&a));
	assert_child_ok(pid);
	for (int i = 0; i < 3; i++)
		close(a.fd[i]);
	ck_assert_int_eq(kt_destroy(a.key), 0);
}
END_TEST

/* Check's message files grow with every assertion: keep them off Shmem. */
#define TMP_DIR "/run/shmpool-kmod-ns"

int main(void)
{
	Suite *s = suite_create("kmod_ns");
	TCase *tc = tcase_create("ns");
	bool tmp_ok;
	int rc;

	tmp_ok = kt_tmp_off_shmem(TMP_DIR);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, parent_regions_invisible);
	tcase_add_test(tc, same_key_in_two_namespaces);
	tcase_add_test(tc, dead_namespace_loses_its_regions);
	tcase_add_test(tc, dead_namespace_reaped_beside_a_live_table);
	tcase_add_test(tc, namespace_handle_keeps_regions);
	tcase_add_test(tc, mapping_outlives_its_namespace);
	tcase_add_test(tc, namespace_churn_leaves_nothing);
	tcase_add_test(tc, capabilities_of_the_owning_user_namespace);
	tcase_add_test(tc, capabilities_of_another_user_namespace);
	suite_add_tcase(s, tc);
	rc = kt_main(s);
	if (tmp_ok)
		kt_tmp_release(TMP_DIR);
	return rc;
}
