// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress: several processes attach (some as owner), map, write
 * and verify, detach or just exit, destroy and re-create a small set of
 * keys, while others list them and read /proc/shmpool, and the parent kills
 * workers at random.  Bounded by SHMPOOL_STRESS_SECONDS (default 20) with
 * SHMPOOL_STRESS_PROCS workers (default 4).
 */
#include "kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define TAG 0x70
#define PG 4096UL
#define NKEYS 6
#define PAGES 16

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define FAIL(...) do { fprintf(stderr, "worker %d: ", w); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); _exit(1); } while (0)

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One worker: runs until killed, or exits on its own (0) now and then. */
static void worker(int w, uint64_t seed)
{
	for (uint64_t iter = 0;; iter++) {
		uint64_t key = KT_KEY(TAG, xs(&seed) % NKEYS);
		uint32_t flags = SHMPOOL_ATTACH_CREATE;
		struct shmpool_attach a;
		volatile uint64_t *p;
		int fd, r;
		bool owner = false;

		if (xs(&seed) % 3 == 0)
			flags |= SHMPOOL_ATTACH_OWNER;
		if (xs(&seed) % 7 == 0)
			flags |= SHMPOOL_ATTACH_HUGE;
		fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			FAIL("open: %s", strerror(errno));
		r = kt_attach(fd, key, (1 + xs(&seed) % PAGES) * PG, flags, 0600, &a);
		if (r == -EBUSY && (flags & SHMPOOL_ATTACH_OWNER)) {
			close(fd);
			continue;
		}
		if (r == -EOPNOTSUPP && (flags & SHMPOOL_ATTACH_HUGE)) {
			close(fd);
			continue;
		}
		if (r == -EINVAL && a.info.size && a.info.size < PAGES * PG) {
			/* Somebody created it smaller: fine, ask for any size. */
			r = kt_attach(fd, key, 0, flags & ~SHMPOOL_ATTACH_CREATE, 0600, &a);
			if (r == -EBUSY || r == -ENOENT) {
				close(fd);
				continue;
			}
		}
		if (r)
			FAIL("attach %#" PRIx64 " flags %#x: %s", key, flags, strerror(-r));
		owner = flags & SHMPOOL_ATTACH_OWNER;
		if (owner && a.info.state == SHMPOOL_STATE_OWNED)
			FAIL("owner attach saw OWNED");
		if (a.info.size % PG || a.info.size == 0)
			FAIL("size %" PRIu64, (uint64_t)a.info.size);

		p = mmap(NULL, a.info.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			FAIL("mmap: %s", strerror(errno));
		/* Each worker owns one 64-byte slot of the first page. */
		for (int i = 0; i < 64; i++) {
			uint64_t v = ((uint64_t)w << 48) | (iter << 8) | i;

			p[w * 8] = v;
			if (p[w * 8] != v)
				FAIL("readback");
		}
		/* And scribbles over the last page. */
		p[a.info.size / 8 - 1 - w] = iter;

		switch (xs(&seed) % 8) {
		case 0:
			r = kt_destroy(key);
			if (r && r != -ENOENT)
				FAIL("destroy: %s", strerror(-r));
			break;
		case 1:
			if (owner) {
				r = kt_detach(fd);
				if (r)
					FAIL("detach: %s", strerror(-r));
			}
			break;
		case 2:
			/* Leave with the lease, the file and the mapping. */
			_exit(0);
		default:
			break;
		}
		if (xs(&seed) % 2)
			munmap((void *)p, a.info.size);
		else
			munmap((void *)p, PG);	/* leave the rest mapped a while */
		close(fd);
		if (xs(&seed) % 16 == 0)
			_exit(0);	/* drops the partial mappings left behind */
	}
}

/* A reader: LIST, STAT, INFO and /proc/shmpool in a loop. */
static void reader(int w)
{
	struct shmpool_region_info e[4];
	char line[512];

	for (;;) {
		struct shmpool_list l = { .size = sizeof(l) };
		int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		FILE *f;

		if (fd < 0)
			FAIL("open");
		do {
			l.entries = (uintptr_t)e;
			l.count = 4;
			l.entry_size = sizeof(e[0]);
			l.flags = 0;
			if (kt_ioctl(fd, SHMPOOL_IOC_LIST, &l))
				FAIL("list");
			for (unsigned int i = 0; i < l.count; i++)
				if (e[i].state > SHMPOOL_STATE_CRASHED || e[i].size == 0)
					FAIL("bad entry");
		} while (!(l.flags & SHMPOOL_LIST_END));
		close(fd);
		f = fopen("/proc/shmpool", "r");
		if (!f)
			FAIL("proc");
		while (fgets(line, sizeof(line), f))
			;
		fclose(f);
		if (kt_info(NULL))
			FAIL("info");
	}
}

static pid_t spawn(int w, uint64_t seed, bool is_reader)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (is_reader)
			reader(w);
		else
			worker(w, seed);
		_exit(0);
	}
	return pid;
}

START_TEST(processes_attach_map_write_destroy)
{
	long secs = kt_env_long("SHMPOOL_STRESS_SECONDS", 20);
	int nproc = (int)kt_env_long("SHMPOOL_STRESS_PROCS", 4);
	uint64_t seed = (uint64_t)kt_env_long("SHMPOOL_TEST_SEED", (long)time(NULL)) | 1;
	pid_t pids[64];
	double end = now() + secs;
	long spawned = 0, killed = 0;
	struct shmpool_info in;

	if (nproc < 1)
		nproc = 1;
	if (nproc > 63)
		nproc = 63;
	fprintf(stderr, "stress: %d workers + 1 reader for %ld s, seed %" PRIu64 "\n",
		nproc, secs, seed);
	for (int w = 0; w < nproc; w++)
		pids[w] = spawn(w, seed + w * 7919, false);
	pids[nproc] = spawn(nproc, 0, true);

	while (now() < end) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid > 0) {
			int w;

			for (w = 0; w <= nproc && pids[w] != pid; w++)
				;
			ck_assert_int_lt(w, nproc + 1);
			ck_assert_msg(WIFSIGNALED(st) || WEXITSTATUS(st) == 0,
				      "worker %d failed (status %#x)", w, st);
			if (WIFSIGNALED(st))
				ck_assert_int_eq(WTERMSIG(st), SIGKILL);
			pids[w] = spawn(w, seed + ++spawned * 104729, w == nproc);
			continue;
		}
		usleep(20000);
		if (xs(&seed) % 10 == 0) {
			kill(pids[xs(&seed) % nproc], SIGKILL);
			killed++;
		}
	}
	for (int w = 0; w <= nproc; w++)
		kill(pids[w], SIGKILL);
	for (int w = 0; w <= nproc; w++) {
		int st = kt_wait(pids[w]);

		ck_assert_msg(st == 0 || st == 128 + SIGKILL, "worker %d: status %d", w, st);
	}
	fprintf(stderr, "stress: %ld respawns, %ld kills\n", spawned, killed);

	/* Every file is gone: no lease, no attachment may remain. */
	for (int k = 0; k < NKEYS; k++) {
		struct shmpool_region_info st;

		if (kt_stat(KT_KEY(TAG, k), &st))
			continue;
		ck_assert_uint_eq(st.nattch, 0);
		ck_assert_uint_eq(st.owner_pid, 0);
		ck_assert_uint_eq(st.nmaps, 0);
		ck_assert_uint_ne(st.state, SHMPOOL_STATE_OWNED);
		ck_assert_int_eq(kt_destroy(KT_KEY(TAG, k)), 0);
	}
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.nr_regions, 0);
	ck_assert_uint_eq(in.total_bytes, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_stress");
	TCase *tc = tcase_create("stress");

	tcase_set_timeout(tc, kt_env_long("SHMPOOL_STRESS_SECONDS", 20) * 3 + 60);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, processes_attach_map_write_destroy);
	suite_add_tcase(s, tc);
	return kt_main(s);
}
