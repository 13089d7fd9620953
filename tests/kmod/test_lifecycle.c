// SPDX-License-Identifier: GPL-2.0
/*
 * Region lifecycle: create vs resume, crash vs clean detection, the owner
 * lease, persistence across processes, DESTROY while mapped, QUERY, STAT,
 * LIST, INFO and the /proc listing.
 */
#include "kutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAG 0x10

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Fork a child that attaches @key as owner, then ends as @how says. */
enum child_end { END_EXIT, END_DETACH, END_KILL };

static void owner_child_ends(uint64_t key, enum child_end how)
{
	struct kt_sync s;
	pid_t pid;

	kt_sync_init(&s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct shmpool_attach a;
		int fd;

		kt_sync_child(&s);
		fd = open(SHMPOOL_DEVICE_PATH, O_RDWR);
		if (fd < 0 || kt_attach(fd, key, 0, SHMPOOL_ATTACH_OWNER, 0, &a))
			_exit(10);
		if (how == END_DETACH && kt_detach(fd))
			_exit(11);
		kt_signal(s.c2p[1], 1);
		if (how == END_KILL)
			pause();
		_exit(0);		/* no close(): exit releases the file */
	}
	kt_sync_parent(&s);
	ck_assert_int_eq(kt_await(s.c2p[0]), 1);
	if (how == END_KILL) {
		kill(pid, SIGKILL);
		ck_assert_int_eq(kt_wait(pid), 128 + SIGKILL);
	} else {
		ck_assert_int_eq(kt_wait(pid), 0);
	}
	close(s.p2c[1]);
	close(s.c2p[0]);
}

START_TEST(create_then_resume_across_child)
{
	uint64_t key = KT_KEY(TAG, 1);
	struct shmpool_attach a;
	uint64_t t0 = now_ns();
	pid_t pid;
	int fd;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int cfd = open(SHMPOOL_DEVICE_PATH, O_RDWR);

		if (kt_attach(cfd, key, 10000, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL,
			      0600, &a))
			_exit(1);
		if (a.result != SHMPOOL_RESULT_CREATED || a.info.size != 3 * 4096 ||
		    a.info.state != SHMPOOL_STATE_NEW || a.info.generation != 0)
			_exit(2);
		_exit(0);
	}
	ck_assert_int_eq(kt_wait(pid), 0);

	/* The region outlived its creator. */
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_CREATE, 0600, &a), 0);
	ck_assert_uint_eq(a.result, SHMPOOL_RESULT_RESUMED);
	ck_assert_uint_eq(a.info.key, key);
	ck_assert_uint_eq(a.info.size, 3 * 4096);
	ck_assert_uint_eq(a.info.mode, 0600);
	ck_assert_uint_eq(a.info.uid, 0);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_NEW);
	ck_assert_uint_ge(a.info.ctime_ns, t0 - 1000000000ULL);
	ck_assert_uint_le(a.info.ctime_ns, now_ns());
	ck_assert_uint_eq(a.info.atime_ns, 0);
	ck_assert_uint_eq(a.info.nattch, 1);
	/* CREATE|EXCL on an existing key. */
	{
		int fd2 = kt_open();

		ck_assert_int_eq(kt_attach(fd2, key, 4096, SHMPOOL_ATTACH_CREATE |
					   SHMPOOL_ATTACH_EXCL, 0600, NULL), -EEXIST);
		/* Without CREATE, an absent key. */
		ck_assert_int_eq(kt_attach(fd2, key + 1000, 4096, 0, 0, NULL), -ENOENT);
		close(fd2);
	}
	/* One attach per file. */
	ck_assert_int_eq(kt_attach(fd, key, 0, 0, 0, NULL), -EALREADY);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
}
END_TEST

START_TEST(oversize_request_reports_actual_size)
{
	uint64_t key = KT_KEY(TAG, 2);
	struct shmpool_attach a;
	int fd = kt_attach_fd(key, 8192, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	int fd2 = kt_open();

	ck_assert_int_eq(kt_attach(fd2, key, 8193, SHMPOOL_ATTACH_CREATE, 0600, &a), -EINVAL);
	ck_assert_uint_eq(a.info.size, 8192);
	/* Not attached, not resized. */
	ck_assert_int_eq(kt_query(fd2, NULL), -ENOTCONN);
	ck_assert_int_eq(kt_attach(fd2, key, 8192, 0, 0, &a), 0);
	ck_assert_uint_eq(a.info.size, 8192);
	close(fd2);
	fd2 = kt_open();
	ck_assert_int_eq(kt_attach(fd2, key, 100, 0, 0, &a), 0);
	close(fd2);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

static void check_next_owner(uint64_t key, uint32_t want_state, uint64_t want_gen)
{
	struct shmpool_region_info st;
	struct shmpool_attach a;
	struct shmpool_query q;
	int fd;

	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.state, want_state);
	ck_assert_uint_eq(st.owner_pid, 0);
	ck_assert_uint_ne(st.dtime_ns, 0);

	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_OWNER, 0, &a), 0);
	ck_assert_uint_eq(a.result, SHMPOOL_RESULT_RESUMED);
	ck_assert_uint_eq(a.info.state, want_state);
	ck_assert_uint_eq(a.info.generation, want_gen);
	ck_assert_uint_eq(a.info.owner_pid, getpid());
	/* QUERY reports the same state again... */
	ck_assert_int_eq(kt_query(fd, &q), 0);
	ck_assert_uint_eq(q.info.state, want_state);
	ck_assert_uint_eq(q.result, SHMPOOL_RESULT_RESUMED);
	ck_assert_uint_eq(q.attach_flags, SHMPOOL_ATTACH_OWNER);
	ck_assert_uint_eq(q.info.generation, want_gen);
	/* ...while STAT shows the current one. */
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.state, SHMPOOL_STATE_OWNED);
	ck_assert_uint_eq(st.owner_pid, getpid());
	ck_assert_uint_ge(st.atime_ns, st.dtime_ns);
	ck_assert_int_eq(kt_detach(fd), 0);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert_uint_eq(st.state, SHMPOOL_STATE_CLEAN);
	close(fd);
}

START_TEST(crash_by_sigkill)
{
	uint64_t key = KT_KEY(TAG, 3);
	int fd = kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL);

	close(fd);
	owner_child_ends(key, END_KILL);
	check_next_owner(key, SHMPOOL_STATE_CRASHED, 2);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(crash_by_exit_without_detach)
{
	uint64_t key = KT_KEY(TAG, 4);
	int fd = kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL);

	close(fd);
	owner_child_ends(key, END_EXIT);
	check_next_owner(key, SHMPOOL_STATE_CRASHED, 2);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(clean_by_detach)
{
	uint64_t key = KT_KEY(TAG, 5);
	struct shmpool_attach a;
	int fd = kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL);

	close(fd);
	owner_child_ends(key, END_DETACH);
	check_next_owner(key, SHMPOOL_STATE_CLEAN, 2);
	/* A third owner sees the clean DETACH of the second. */
	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_OWNER, 0, &a), 0);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_CLEAN);
	ck_assert_uint_eq(a.info.generation, 3);
	close(fd);
	ck_assert_int_eq(kt_stat(key, &a.info), 0);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_CRASHED);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(first_owner_sees_new_and_detach_rules)
{
	uint64_t key = KT_KEY(TAG, 6);
	struct shmpool_attach a;
	int fd, fd2;

	fd = kt_open();
	ck_assert_int_eq(kt_detach(fd), -ENOTCONN);
	ck_assert_int_eq(kt_attach(fd, key, 4096, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
				   0600, &a), 0);
	ck_assert_uint_eq(a.result, SHMPOOL_RESULT_CREATED);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_NEW);
	ck_assert_uint_eq(a.info.generation, 1);
	ck_assert_uint_ne(a.info.atime_ns, 0);
	/* A non-owner cannot DETACH. */
	fd2 = kt_attach_fd(key, 0, 0, 0, NULL);
	ck_assert_int_eq(kt_detach(fd2), -EPERM);
	close(fd2);
	ck_assert_int_eq(kt_detach(fd), 0);
	ck_assert_int_eq(kt_detach(fd), -EPERM);	/* the lease is gone */
	close(fd);
	ck_assert_int_eq(kt_stat(key, &a.info), 0);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_CLEAN);	/* close after DETACH */
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(owner_lease_contention_and_release_on_death)
{
	uint64_t key = KT_KEY(TAG, 7);
	struct shmpool_attach a;
	struct kt_sync s;
	pid_t pid;
	int fd;

	close(kt_attach_fd(key, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	kt_sync_init(&s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int cfd = open(SHMPOOL_DEVICE_PATH, O_RDWR);

		kt_sync_child(&s);
		if (kt_attach(cfd, key, 0, SHMPOOL_ATTACH_OWNER, 0, NULL))
			_exit(1);
		kt_signal(s.c2p[1], 1);
		pause();
		_exit(0);
	}
	kt_sync_parent(&s);
	ck_assert_int_eq(kt_await(s.c2p[0]), 1);

	fd = kt_open();
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_OWNER, 0, NULL), -EBUSY);
	/* A failed attach leaves the file free for another try. */
	ck_assert_int_eq(kt_query(fd, NULL), -ENOTCONN);
	ck_assert_int_eq(kt_stat(key, &a.info), 0);
	ck_assert_uint_eq(a.info.owner_pid, pid);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_OWNED);
	/* Plain attaches are fine while the lease is held. */
	{
		int fd2 = kt_attach_fd(key, 0, 0, 0, &a);

		ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_OWNED);
		ck_assert_uint_eq(a.info.nattch, 2);
		close(fd2);
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(kt_wait(pid), 128 + SIGKILL);
	ck_assert_int_eq(kt_attach(fd, key, 0, SHMPOOL_ATTACH_OWNER, 0, &a), 0);
	ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_CRASHED);
	ck_assert_uint_eq(a.info.generation, 2);

	/* The lease follows the open file, and close() releases it. */
	{
		int fd3 = kt_open();

		ck_assert_int_eq(kt_attach(fd3, key, 0, SHMPOOL_ATTACH_OWNER, 0, NULL), -EBUSY);
		close(fd);
		ck_assert_int_eq(kt_attach(fd3, key, 0, SHMPOOL_ATTACH_OWNER, 0, &a), 0);
		ck_assert_uint_eq(a.info.state, SHMPOOL_STATE_CRASHED);
		ck_assert_uint_eq(a.info.generation, 3);
		close(fd3);
	}
	close(s.p2c[1]);
	close(s.c2p[0]);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(data_survives_to_a_later_process_at_another_address)
{
	uint64_t key = KT_KEY(TAG, 8);
	const size_t size = 64 * 4096;
	struct kt_sync s;
	uint64_t addr1;
	pid_t pid;

	kt_sync_init(&s);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR);
		uint32_t *p;

		kt_sync_child(&s);
		if (kt_attach(fd, key, size, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
			      0600, NULL))
			_exit(1);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(2);
		for (size_t i = 0; i < size / 4; i++)
			p[i] = (uint32_t)(i * 2654435761u);
		if (kt_detach(fd))
			_exit(3);
		kt_signal(s.c2p[1], (uintptr_t)p);
		_exit(0);
	}
	kt_sync_parent(&s);
	addr1 = kt_await(s.c2p[0]);
	ck_assert_int_eq(kt_wait(pid), 0);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct shmpool_attach a;
		int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR);
		uint32_t *p;
		void *block;

		/* Occupy the first process's address so ours must differ. */
		block = mmap((void *)(uintptr_t)addr1, size, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (block == MAP_FAILED && errno != EEXIST)
			_exit(10);
		if (kt_attach(fd, key, size, SHMPOOL_ATTACH_OWNER, 0, &a))
			_exit(11);
		if (a.result != SHMPOOL_RESULT_RESUMED || a.info.state != SHMPOOL_STATE_CLEAN)
			_exit(12);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(13);
		if ((uintptr_t)p == addr1)
			_exit(14);
		for (size_t i = 0; i < size / 4; i++)
			if (p[i] != (uint32_t)(i * 2654435761u))
				_exit(15);
		_exit(0);
	}
	ck_assert_int_eq(kt_wait(pid), 0);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(destroy_while_mapped)
{
	uint64_t key = KT_KEY(TAG, 9);
	const size_t size = 16 * 4096;
	struct shmpool_attach a;
	struct shmpool_query q;
	volatile uint8_t *p;
	uint8_t *p2;
	int fd, fd2;

	fd = kt_attach_fd(key, size, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne((void *)p, MAP_FAILED);
	memset((void *)p, 0xab, size);
	ck_assert_int_eq(kt_stat(key, &a.info), 0);
	ck_assert_uint_eq(a.info.nmaps, 1);

	ck_assert_int_eq(kt_destroy(key), 0);
	/* The key stops resolving at once. */
	ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
	ck_assert_int_eq(kt_destroy(key), -ENOENT);
	/* The attached file and its mapping live on. */
	ck_assert_int_eq(kt_query(fd, &q), 0);
	ck_assert(q.info.flags & SHMPOOL_REGION_DESTROYED);
	ck_assert_uint_eq(p[size - 1], 0xab);
	p[0] = 0xcd;
	ck_assert_uint_eq(p[0], 0xcd);
	/* The same key now makes a fresh, zeroed region. */
	fd2 = kt_attach_fd(key, size, SHMPOOL_ATTACH_CREATE, 0600, &a);
	ck_assert_uint_eq(a.result, SHMPOOL_RESULT_CREATED);
	p2 = mmap(NULL, size, PROT_READ, MAP_SHARED, fd2, 0);
	ck_assert_ptr_ne(p2, MAP_FAILED);
	ck_assert_uint_eq(p2[0], 0);
	ck_assert_uint_eq(p[0], 0xcd);
	/* Mapping a destroyed region is still allowed through its file. */
	{
		uint8_t *p3 = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

		ck_assert_ptr_ne(p3, MAP_FAILED);
		ck_assert_uint_eq(p3[0], 0xcd);
		munmap(p3, size);
	}
	close(fd);		/* the region object goes; the mapping stays */
	ck_assert_uint_eq(p[1], 0xab);
	munmap((void *)p, size);
	munmap(p2, size);
	close(fd2);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

START_TEST(info_reports_limits_and_totals)
{
	uint64_t key = KT_KEY(TAG, 10);
	struct shmpool_info in, in2;
	int fd;

	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.abi_version, SHMPOOL_ABI_VERSION);
	ck_assert_uint_eq(in.max_regions, kt_param_get("max_regions"));
	ck_assert_uint_eq(in.max_region_bytes, kt_param_get("max_region_bytes"));
	if (kt_param_get("max_total_bytes") == 0) {
		long total_kb = kt_meminfo_kb("MemTotal");

		/* Half of RAM as the kernel counts it at load time. */
		ck_assert_uint_le(in.max_total_bytes, (uint64_t)total_kb * 1024 / 2 + 4096);
		ck_assert_uint_ge(in.max_total_bytes, (uint64_t)total_kb * 1024 / 4);
	} else {
		ck_assert_uint_eq(in.max_total_bytes, kt_param_get("max_total_bytes"));
	}
	ck_assert_uint_le(in.huge_supported, 1);
	ck_assert_int_gt(strnlen(in.version, sizeof(in.version)), 0);
	ck_assert_int_lt(strnlen(in.version, sizeof(in.version)), sizeof(in.version));

	fd = kt_attach_fd(key, 5 * 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL);
	ck_assert_int_eq(kt_info(&in2), 0);
	ck_assert_uint_eq(in2.nr_regions, in.nr_regions + 1);
	ck_assert_uint_eq(in2.total_bytes, in.total_bytes + 5 * 4096);
	ck_assert_int_eq(kt_destroy(key), 0);
	ck_assert_int_eq(kt_info(&in2), 0);
	ck_assert_uint_eq(in2.nr_regions, in.nr_regions);
	/* Still attached: bytes not yet freed. */
	ck_assert_uint_eq(in2.total_bytes, in.total_bytes + 5 * 4096);
	close(fd);
	ck_assert_int_eq(kt_info(&in2), 0);
	ck_assert_uint_eq(in2.total_bytes, in.total_bytes);
}
END_TEST

START_TEST(list_with_small_pages)
{
	const int n = 11;
	struct shmpool_region_info e[3];
	struct shmpool_list l;
	uint64_t seen[32];
	int fd, got = 0, calls = 0;

	for (int i = 0; i < n; i++) {
		/* Insert out of order; LIST returns key order. */
		uint64_t key = KT_KEY(TAG, 100 + (i * 7) % n);

		close(kt_attach_fd(key, 4096 * (1 + (i % 3)), SHMPOOL_ATTACH_CREATE,
				   0640, NULL));
	}
	fd = kt_open();
	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.cursor = KT_KEY(TAG, 0);
	do {
		l.entries = (uintptr_t)e;
		l.count = 3;
		l.entry_size = sizeof(e[0]);
		l.flags = 0;
		ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
		ck_assert_uint_le(l.count, 3);
		for (unsigned int i = 0; i < l.count; i++) {
			ck_assert_int_lt(got, 32);
			seen[got++] = e[i].key;
			ck_assert_uint_eq(e[i].mode, 0640);
		}
		ck_assert_int_lt(++calls, 20);
	} while (!(l.flags & SHMPOOL_LIST_END));
	ck_assert_int_eq(got, n);
	for (int i = 0; i < n; i++)
		ck_assert_uint_eq(seen[i], KT_KEY(TAG, 100 + i));
	ck_assert_int_eq(calls, 4);

	/* A cursor in the middle, and count 0. */
	l.cursor = KT_KEY(TAG, 105);
	l.count = 0;
	l.flags = 0;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
	ck_assert_uint_eq(l.count, 0);
	ck_assert_uint_eq(l.cursor, KT_KEY(TAG, 105));
	ck_assert(!(l.flags & SHMPOOL_LIST_END));
	l.count = 3;
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
	ck_assert_uint_eq(l.count, 3);
	ck_assert_uint_eq(e[0].key, KT_KEY(TAG, 105));
	ck_assert_uint_eq(l.cursor, KT_KEY(TAG, 108));

	/* A larger entry_size: the unknown tail of each entry is zeroed. */
	{
		struct big { struct shmpool_region_info i; uint64_t extra[3]; } b[2];

		memset(b, 0xff, sizeof(b));
		l.cursor = KT_KEY(TAG, 100);
		l.entries = (uintptr_t)b;
		l.count = 2;
		l.entry_size = sizeof(b[0]);
		l.flags = 0;
		ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
		ck_assert_uint_eq(l.count, 2);
		ck_assert_uint_eq(b[1].i.key, KT_KEY(TAG, 101));
		ck_assert_uint_eq(b[0].extra[2], 0);
		ck_assert_uint_eq(b[1].extra[0], 0);
	}
	close(fd);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(kt_destroy(KT_KEY(TAG, 100 + i)), 0);
}
END_TEST

START_TEST(list_max_key)
{
	struct shmpool_region_info e[2];
	struct shmpool_list l = { .size = sizeof(l) };
	int fd;

	close(kt_attach_fd(UINT64_MAX, 4096, SHMPOOL_ATTACH_CREATE, 0600, NULL));
	fd = kt_open();
	l.cursor = UINT64_MAX;
	l.entries = (uintptr_t)e;
	l.count = 2;
	l.entry_size = sizeof(e[0]);
	ck_assert_int_eq(kt_ioctl(fd, SHMPOOL_IOC_LIST, &l), 0);
	ck_assert_uint_eq(l.count, 1);
	ck_assert(l.flags & SHMPOOL_LIST_END);
	close(fd);
	ck_assert_int_eq(kt_destroy(UINT64_MAX), 0);
}
END_TEST

/* Find the /proc/shmpool line of @key and parse it. */
struct proc_row {
	unsigned long long key, size, gen, ctime, atime, dtime;
	unsigned int perms, uid, gid, nattch, nmaps;
	int owner_pid;
	char state[16], flags[16];
};

static int proc_find(uint64_t key, struct proc_row *row, char *header, size_t hlen)
{
	char line[512];
	FILE *f = fopen("/proc/shmpool", "r");
	int found = 0;

	ck_assert_ptr_nonnull(f);
	if (fgets(line, sizeof(line), f) && header)
		snprintf(header, hlen, "%s", line);
	while (fgets(line, sizeof(line), f)) {
		struct proc_row r;

		if (sscanf(line, "%llu %llu %o %u %u %d %u %u %llu %15s %15s %llu %llu %llu",
			   &r.key, &r.size, &r.perms, &r.uid, &r.gid, &r.owner_pid,
			   &r.nattch, &r.nmaps, &r.gen, r.state, r.flags, &r.ctime,
			   &r.atime, &r.dtime) != 14)
			continue;
		if (r.key == key) {
			*row = r;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

START_TEST(proc_listing)
{
	uint64_t key = KT_KEY(TAG, 200);
	struct proc_row r;
	char header[512];
	void *p;
	int fd;

	fd = kt_attach_fd(key, 3 * 4096, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
			  0640, NULL);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert(proc_find(key, &r, header, sizeof(header)));
	ck_assert_ptr_nonnull(strstr(header, "key"));
	ck_assert_ptr_nonnull(strstr(header, "owner_pid"));
	ck_assert_ptr_nonnull(strstr(header, "state"));
	ck_assert_ptr_nonnull(strstr(header, "dtime"));
	ck_assert_uint_eq(r.size, 3 * 4096);
	ck_assert_uint_eq(r.perms, 0640);
	ck_assert_uint_eq(r.uid, 0);
	ck_assert_uint_eq(r.gid, 0);
	ck_assert_int_eq(r.owner_pid, getpid());
	ck_assert_uint_eq(r.nattch, 1);
	ck_assert_uint_eq(r.nmaps, 1);
	ck_assert_uint_eq(r.gen, 1);
	ck_assert_str_eq(r.state, "owned");
	ck_assert_str_eq(r.flags, "-");
	ck_assert_uint_ge(r.ctime, (unsigned long long)time(NULL) - 60);
	ck_assert_uint_ge(r.atime, r.ctime);
	ck_assert_uint_eq(r.dtime, 0);

	close(fd);
	ck_assert(proc_find(key, &r, NULL, 0));
	ck_assert_str_eq(r.state, "crashed");
	ck_assert_int_eq(r.owner_pid, 0);
	ck_assert_uint_eq(r.nattch, 0);
	ck_assert_uint_eq(r.nmaps, 1);		/* the mapping outlives the file */
	ck_assert_uint_ne(r.dtime, 0);
	munmap(p, 4096);
	ck_assert(proc_find(key, &r, NULL, 0));
	ck_assert_uint_eq(r.nmaps, 0);
	ck_assert_int_eq(kt_destroy(key), 0);
	ck_assert(!proc_find(key, &r, NULL, 0));
}
END_TEST

START_TEST(huge_regions)
{
	uint64_t key = KT_KEY(TAG, 300);
	const size_t size = 4 << 20;
	struct shmpool_info in;
	struct shmpool_attach a;
	struct shmpool_region_info st;
	long hp0;
	uint8_t *p;
	int fd;

	ck_assert_int_eq(kt_info(&in), 0);
	fd = kt_open();
	if (!in.huge_supported) {
		ck_assert_int_eq(kt_attach(fd, key, size, SHMPOOL_ATTACH_CREATE |
					   SHMPOOL_ATTACH_HUGE, 0600, NULL), -EOPNOTSUPP);
		ck_assert_int_eq(kt_stat(key, NULL), -ENOENT);
		close(fd);
		return;
	}
	ck_assert_int_eq(kt_attach(fd, key, size, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_HUGE,
				   0600, &a), 0);
	ck_assert(a.info.flags & SHMPOOL_REGION_HUGE);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	/* get_unmapped_area is forwarded to shmem: PMD-aligned. */
	ck_assert_uint_eq((uintptr_t)p % (2 << 20), 0);
	hp0 = kt_meminfo_kb("ShmemHugePages");
	memset(p, 1, size);
	/* Backed by transparent huge pages, whatever shmem_enabled says. */
	ck_assert_int_gt(kt_meminfo_kb("ShmemHugePages"), hp0);
	ck_assert_int_eq(kt_stat(key, &st), 0);
	ck_assert(st.flags & SHMPOOL_REGION_HUGE);
	munmap(p, size);
	close(fd);
	ck_assert_int_eq(kt_destroy(key), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, create_then_resume_across_child);
	tcase_add_test(tc, oversize_request_reports_actual_size);
	tcase_add_test(tc, crash_by_sigkill);
	tcase_add_test(tc, crash_by_exit_without_detach);
	tcase_add_test(tc, clean_by_detach);
	tcase_add_test(tc, first_owner_sees_new_and_detach_rules);
	tcase_add_test(tc, owner_lease_contention_and_release_on_death);
	tcase_add_test(tc, data_survives_to_a_later_process_at_another_address);
	tcase_add_test(tc, destroy_while_mapped);
	tcase_add_test(tc, info_reports_limits_and_totals);
	tcase_add_test(tc, list_with_small_pages);
	tcase_add_test(tc, list_max_key);
	tcase_add_test(tc, proc_listing);
	tcase_add_test(tc, huge_regions);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
