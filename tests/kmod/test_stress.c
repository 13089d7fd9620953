// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress: several processes attach (some as owner), map, write
 * and verify, detach or just exit, destroy and re-create a small set of
 * keys, while others list them and read /proc/shmpool, and the parent kills
 * workers at random.  Bounded by SHMPOOL_STRESS_SECONDS (default 20) with
 * SHMPOOL_STRESS_PROCS workers (default 4).
 *
 * Then a seeded random sequence across processes (issue 7): workers do
 * random open, attach, mmap, munmap, mprotect, touch, detach, close,
 * destroy, fork (children that run a burst, some in a new IPC namespace
 * that dies with them) and kill of those children, on a small shared key
 * space; every result must be one the ABI allows.  Bounded by operation
 * count: SHMPOOL_SEQ_OPS per worker (default 20000), SHMPOOL_SEQ_PROCS
 * workers (default 4), seed SHMPOOL_TEST_SEED (printed).  At the end every
 * region is destroyed, rmmod succeeds and Shmem is back at its baseline.
 */
#include "kutil.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

/* ---- multi-process seeded random sequence ---- */

#define SEQ_TAG 0x71
#define SEQ_KEYS 4
#define SEQ_SLOTS 6
#define SEQ_MAPS 12
#define SEQ_KIDS 4
#define SEQ_PAGES 8

struct seq_map {
	uint8_t *p;
	size_t len;
	int prot;
};

/* One process's view: its files, mappings and children. */
struct seq_state {
	int id;				/* worker number, for messages */
	int byte;			/* offset only this process writes */
	bool child;			/* a forked burst: no further forks */
	uint64_t rng;
	long op;
	int fd[SEQ_SLOTS];		/* -1: closed */
	struct seq_map map[SEQ_MAPS];
	pid_t kid[SEQ_KIDS];		/* 0: none */
	long kids_started, kids_killed;
	long attached, mapped, destroyed;	/* successes, for the summary */
};

#define SEQ_FAIL(st, ...) do { fprintf(stderr, "seq %d%s op %ld: ", (st)->id,	\
	(st)->child ? " (child)" : "", (st)->op); fprintf(stderr, __VA_ARGS__);	\
	fputc('\n', stderr); _exit(1); } while (0)

static uint32_t seq_rn(struct seq_state *st, uint32_t n)
{
	return (uint32_t)(xs(&st->rng) % n);
}

/* @err must be 0 or one of the -errno values that follow (0-terminated). */
static void seq_expect(struct seq_state *st, const char *what, int err, ...)
{
	va_list ap;
	int ok;

	if (!err)
		return;
	va_start(ap, err);
	while ((ok = va_arg(ap, int)) != 0 && ok != err)
		;
	va_end(ap);
	if (!ok)
		SEQ_FAIL(st, "%s: unexpected %s", what, strerror(-err));
}

static void seq_attach(struct seq_state *st, int s)
{
	static const uint32_t flag_sets[] = {
		0, SHMPOOL_ATTACH_CREATE, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_OWNER,
		SHMPOOL_ATTACH_OWNER, SHMPOOL_ATTACH_RDONLY,
		SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_RDONLY,
		SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL,
		SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_HUGE,
	};
	uint32_t flags = flag_sets[seq_rn(st, sizeof(flag_sets) / sizeof(flag_sets[0]))];
	uint64_t key = KT_KEY(SEQ_TAG, seq_rn(st, SEQ_KEYS));
	uint64_t size = seq_rn(st, 4) ? (1 + seq_rn(st, SEQ_PAGES)) * PG : 0;

	int r;

	if (st->fd[s] < 0)
		return;
	/*
	 * ENOENT: absent without CREATE; EINVAL: larger than the existing
	 * region, or size 0 on creation; EEXIST, EBUSY, EALREADY and
	 * EOPNOTSUPP (no huge mount): as documented.
	 */
	r = kt_attach(st->fd[s], key, size, flags, 0600, NULL);
	seq_expect(st, "attach", r, -ENOENT, -EINVAL, -EEXIST, -EBUSY, -EALREADY,
		   -EOPNOTSUPP, 0);
	st->attached += !r;
}

static void seq_mmap(struct seq_state *st, int s)
{
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE };
	/* Half at offset 0, so that most fit; the rest probe the bounds. */
	size_t off = seq_rn(st, 2) ? 0 : seq_rn(st, SEQ_PAGES) * PG;
	size_t len = (1 + seq_rn(st, SEQ_PAGES)) * PG;
	int prot = prots[seq_rn(st, 3)], m;
	void *p;

	if (st->fd[s] < 0)
		return;
	for (m = 0; m < SEQ_MAPS && st->map[m].p; m++)
		;
	if (m == SEQ_MAPS)
		return;
	p = mmap(NULL, len, prot, seq_rn(st, 10) ? MAP_SHARED : MAP_PRIVATE, st->fd[s], off);
	if (p == MAP_FAILED) {
		/* ENXIO unattached, EINVAL range or private, EACCES read-only. */
		seq_expect(st, "mmap", -errno, -ENXIO, -EINVAL, -EACCES, 0);
		return;
	}
	st->map[m] = (struct seq_map){ .p = p, .len = len, .prot = prot };
	st->mapped++;
}

static void seq_touch(struct seq_state *st)
{
	struct seq_map *mp = &st->map[seq_rn(st, SEQ_MAPS)];
	volatile uint8_t *b;

	if (!mp->p || !(mp->prot & PROT_READ))
		return;
	b = mp->p + seq_rn(st, mp->len / PG) * PG + st->byte;
	(void)*b;
	if (mp->prot & PROT_WRITE) {
		uint8_t v = (uint8_t)st->op;

		/* Only this process writes this byte: no race. */
		*b = v;
		if (*b != v)
			SEQ_FAIL(st, "readback");
	}
}

static void seq_mprotect(struct seq_state *st)
{
	struct seq_map *mp = &st->map[seq_rn(st, SEQ_MAPS)];
	int prot = seq_rn(st, 2) ? PROT_READ | PROT_WRITE : PROT_READ;

	if (!mp->p)
		return;
	if (mprotect(mp->p, mp->len, prot) == 0)
		mp->prot = prot;
	else	/* adding PROT_WRITE to a read-only attach's mapping */
		seq_expect(st, "mprotect", -errno, -EACCES, 0);
}

static void seq_munmap(struct seq_state *st)
{
	int m0 = seq_rn(st, SEQ_MAPS), m = m0;
	struct seq_map *mp;

	while (!st->map[m].p) {		/* the next mapping from a random start */
		m = (m + 1) % SEQ_MAPS;
		if (m == m0)
			return;
	}
	mp = &st->map[m];
	if (munmap(mp->p, mp->len))
		SEQ_FAIL(st, "munmap: %s", strerror(errno));
	memset(mp, 0, sizeof(*mp));
}

/* Collect child @k if it ended (or wait for it): it must have passed. */
static void seq_reap_kid(struct seq_state *st, int k, bool block)
{
	int status;
	pid_t r;

	if (!st->kid[k])
		return;
	r = waitpid(st->kid[k], &status, block ? 0 : WNOHANG);
	if (r == 0)
		return;
	if (r < 0)
		SEQ_FAIL(st, "waitpid: %s", strerror(errno));
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
	    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		SEQ_FAIL(st, "child %d ended with status %#x", (int)st->kid[k], status);
	st->kid[k] = 0;
}

static void seq_reap_kids(struct seq_state *st, bool block)
{
	for (int k = 0; k < SEQ_KIDS; k++)
		seq_reap_kid(st, k, block);
}

static void seq_run(struct seq_state *st, long nops);

/* A child with a copy of every file and mapping runs a short burst. */
static void seq_fork(struct seq_state *st)
{
	int k;
	pid_t pid;

	for (k = 0; k < SEQ_KIDS && st->kid[k]; k++)
		;
	if (k == SEQ_KIDS)
		return;
	pid = fork();
	if (pid < 0)
		SEQ_FAIL(st, "fork: %s", strerror(errno));
	if (pid == 0) {
		st->child = true;
		st->byte += 1 + k;
		st->rng ^= 0x9e3779b97f4a7c15ULL * (uint64_t)(st->op + 1);
		memset(st->kid, 0, sizeof(st->kid));
		/* Some children work in a namespace of their own, which dies with them. */
		if (seq_rn(st, 4) == 0 && unshare(CLONE_NEWIPC))
			SEQ_FAIL(st, "unshare: %s", strerror(errno));
		seq_run(st, 1 + seq_rn(st, 64));
		_exit(0);	/* files released at exit: leases end crashed */
	}
	st->kid[k] = pid;
	st->kids_started++;
}

static void seq_run(struct seq_state *st, long nops)
{
	for (long n = 0; n < nops; n++, st->op++) {
		int s = seq_rn(st, SEQ_SLOTS);
		struct shmpool_region_info info;
		uint32_t op = seq_rn(st, 32);

		switch (op) {
		case 0: case 1: case 2:
			if (st->fd[s] < 0) {
				st->fd[s] = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
				if (st->fd[s] < 0)
					SEQ_FAIL(st, "open: %s", strerror(errno));
				if (seq_rn(st, 2))
					seq_attach(st, s);
			}
			break;
		case 3: case 4: case 5: case 6:
			seq_attach(st, s);
			break;
		case 7: case 8: case 9: case 10: case 29: case 30:
			seq_mmap(st, s);
			break;
		case 11: case 12: case 13:
			seq_munmap(st);
			break;
		case 14: case 15:
			seq_mprotect(st);
			break;
		case 16: case 17: case 18: case 19:
			seq_touch(st);
			break;
		case 20:
			if (st->fd[s] >= 0)
				seq_expect(st, "detach", kt_detach(st->fd[s]), -ENOTCONN,
					   -EPERM, 0);
			break;
		case 21: case 22: case 28:
			if (st->fd[s] >= 0) {
				close(st->fd[s]);
				st->fd[s] = -1;
			}
			break;
		case 23: {
			int r = kt_destroy(KT_KEY(SEQ_TAG, seq_rn(st, SEQ_KEYS)));

			seq_expect(st, "destroy", r, -ENOENT, 0);
			st->destroyed += !r;
			break;
		}
		case 24:
			seq_expect(st, "stat", kt_stat(KT_KEY(SEQ_TAG, seq_rn(st, SEQ_KEYS)), &info),
				   -ENOENT, 0);
			break;
		case 25:
			if (st->fd[s] >= 0)
				seq_expect(st, "query", kt_query(st->fd[s], NULL), -ENOTCONN, 0);
			break;
		case 26:
			if (!st->child && seq_rn(st, 4) == 0)
				seq_fork(st);
			break;
		case 27:
			if (!st->child) {
				int k = seq_rn(st, SEQ_KIDS);

				seq_reap_kids(st, false);
				if (st->kid[k] && seq_rn(st, 2) == 0) {
					kill(st->kid[k], SIGKILL);
					st->kids_killed++;
					seq_reap_kid(st, k, true);
				}
			}
			break;
		default:
			break;		/* idle: lets the other processes interleave */
		}
	}
}

static void seq_worker(int id, uint64_t seed, long nops)
{
	struct seq_state st = { .id = id, .rng = seed, .byte = id * (SEQ_KIDS + 1) };

	for (int s = 0; s < SEQ_SLOTS; s++)
		st.fd[s] = -1;
	seq_run(&st, nops);
	seq_reap_kids(&st, true);
	fprintf(stderr, "seq %d: %ld ops: %ld attaches, %ld mappings, %ld destroys, "
		"%ld children (%ld killed)\n", id, st.op, st.attached, st.mapped,
		st.destroyed, st.kids_started, st.kids_killed);
	_exit(0);		/* files and mappings go with the process */
}

START_TEST(multiprocess_random_sequence)
{
	long nops = kt_env_long("SHMPOOL_SEQ_OPS", 20000);
	int nproc = (int)kt_env_long("SHMPOOL_SEQ_PROCS", 4);
	const char *env = getenv("SHMPOOL_TEST_SEED");
	uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	long base = kt_meminfo_kb("Shmem");
	pid_t pids[32];
	struct shmpool_info in;

	if (nproc < 1)
		nproc = 1;
	if (nproc > 32)
		nproc = 32;
	fprintf(stderr, "multiprocess_random_sequence: seed %" PRIu64
		" (SHMPOOL_TEST_SEED), %d processes x %ld ops (SHMPOOL_SEQ_PROCS, SHMPOOL_SEQ_OPS)\n",
		seed, nproc, nops);
	for (int w = 0; w < nproc; w++) {
		uint64_t s = (seed + 1) * 0x9e3779b97f4a7c15ULL + (uint64_t)w * 7919;

		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0)
			seq_worker(w, s ? s : 1, nops);
	}
	for (int w = 0; w < nproc; w++)
		ck_assert_msg(kt_wait(pids[w]) == 0, "worker %d failed (seed %" PRIu64 ")", w, seed);

	/* Every process is gone: no lease and no attachment may remain. */
	for (int k = 0; k < SEQ_KEYS; k++) {
		struct shmpool_region_info st;

		if (kt_stat(KT_KEY(SEQ_TAG, k), &st))
			continue;
		ck_assert_uint_eq(st.nattch, 0);
		ck_assert_uint_eq(st.owner_pid, 0);
		ck_assert_uint_eq(st.nmaps, 0);
		ck_assert_uint_ne(st.state, SHMPOOL_STATE_OWNED);
		ck_assert_int_eq(kt_destroy(KT_KEY(SEQ_TAG, k)), 0);
	}
	/* The namespaces children made died with them: reaped by now. */
	ck_assert_int_eq(kt_info(&in), 0);
	ck_assert_uint_eq(in.nr_regions, 0);
	ck_assert_uint_eq(in.total_bytes, 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_unload(), 0);
	ck_assert_int_eq(kt_meminfo_kb("Shmem"), base);
	ck_assert_int_eq(kt_module_load(""), 0);
}
END_TEST

/* Check's message files grow with every assertion: keep them off Shmem. */
static const char ramfs_dir[] = "/run/shmpool-kmod-stress";

static void check_tmp_off_shmem(void)
{
	mkdir("/run", 0755);
	mkdir(ramfs_dir, 0700);
	if (mount("ramfs", ramfs_dir, "ramfs", 0, NULL) == 0)
		setenv("TEMP", ramfs_dir, 1);
	else
		fprintf(stderr, "warning: no ramfs for Check's files; Shmem may be noisy\n");
}

int main(void)
{
	Suite *s = suite_create("kmod_stress");
	TCase *tc = tcase_create("stress");
	TCase *tq = tcase_create("sequence");
	int rc;

	check_tmp_off_shmem();
	tcase_set_timeout(tc, kt_env_long("SHMPOOL_STRESS_SECONDS", 20) * 3 + 60);
	tcase_add_checked_fixture(tc, kt_clean_setup, NULL);
	tcase_add_test(tc, processes_attach_map_write_destroy);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tq, 900);
	tcase_add_checked_fixture(tq, kt_clean_setup, NULL);
	tcase_add_test(tq, multiprocess_random_sequence);
	suite_add_tcase(s, tq);
	rc = kt_main(s);
	umount(ramfs_dir);
	return rc;
}
