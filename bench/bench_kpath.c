// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_kpath: the kernel path of /dev/shmpool against SysV and POSIX shm,
 * run inside the VM bench (static; tests/vm/run.sh runs it as /init's test).
 *
 *  - attach latency of an existing 64 MiB region, key -> mapping with the
 *    calls a program makes: open+ATTACH+mmap, shmget+shmat, shm_open+mmap;
 *    their teardown (munmap+close, shmdt); the full cycle; ATTACH+mmap of a
 *    /dev/shmpool file opened beforehand; and the single shot, the first
 *    attach+map of a fresh process (the restart path).  ns per operation,
 *    median of 5 runs of a fixed count;
 *  - first-touch page faults per GiB (getrusage minflt: a count, so the
 *    emulation does not distort it) writing one byte per 4 KiB page of a
 *    fresh 256 MiB region: /dev/shmpool, /dev/shmpool with
 *    SHMPOOL_ATTACH_HUGE, SysV.
 *
 * CSV rows "BENCHCSV,section,op,impl,size,live,value,unit,note" on stdout
 * (the prefix finds them in the console log).  Everything it creates is
 * destroyed before it exits, so the module unloads.
 *   bench_kpath [--iters N] [--singles N] [--touch-mib N]
 * (or BENCH_KPATH_ITERS, _SINGLES, _TOUCH_MIB; --touch-mib 0 skips the
 * faults, --singles 0 the single shots).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmpool.h>

#define RUNS		5
#define KEY_LAT		0x6b700001ULL
#define KEY_TOUCH	0x6b700002ULL
#define KEY_HUGE	0x6b700003ULL
#define LAT_SIZE	(64ULL << 20)
#define BATCH		100
#define POSIX_NAME	"/bench_kpath"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_kpath: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void row(const char *op, const char *impl, uint64_t size, double value,
		const char *unit, const char *note)
{
	printf("BENCHCSV,kernel,%s,%s,%" PRIu64 ",0,%.3f,%s,%s\n", op, impl, size, value, unit, note);
	fflush(stdout);
}

/* An open /dev/shmpool file attached to @key; -errno on failure. */
static int sp_attach(uint64_t key, uint64_t size, uint32_t flags)
{
	struct shmpool_attach a = { .size = sizeof(a), .flags = flags, .key = key,
				    .req_size = size, .mode = 0600 };
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SHMPOOL_IOC_ATTACH, &a)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void sp_destroy(uint64_t key)
{
	struct shmpool_destroy d = { .size = sizeof(d), .key = key };
	int fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		ioctl(fd, SHMPOOL_IOC_DESTROY, &d);
		close(fd);
	}
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Faults per GiB writing one byte per page of @p (@size bytes). */
static double touch_faults(volatile char *p, uint64_t size)
{
	long before = minflt();
	uint64_t off;

	for (off = 0; off < size; off += 4096)
		p[off] = 1;
	return (double)(minflt() - before) * (double)(1ULL << 30) / (double)size;
}

/*
 * The attach latency, one system call at a time ("phases"), so that the
 * table can say where the time goes.  A phase runs over a batch of BATCH
 * regions under one pair of clock reads (a system call under TCG's HPET
 * clocksource), then the next phase over the same batch.
 */
enum impl { IMPL_SHMPOOL, IMPL_SYSV, IMPL_POSIX, NR_IMPLS };

#define MAX_PHASES	5

struct lat_ctx {
	void *maps[BATCH];
	int fds[BATCH];
	int ids[BATCH];
};

typedef void phase_fn(struct lat_ctx *c, unsigned int i);

struct phase {
	const char *name;
	phase_fn *fn;
	bool setup;		/* part of key -> mapping, not of the teardown */
	bool device_open;	/* open(/dev/shmpool) */
};

struct impl_desc {
	const char *setup_name;
	const char *teardown_name;
	unsigned int nr;
	struct phase ph[MAX_PHASES];
};

static void ph_sp_open(struct lat_ctx *c, unsigned int i)
{
	c->fds[i] = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (c->fds[i] < 0)
		die("open %s: %s", SHMPOOL_DEVICE_PATH, strerror(errno));
}

static void ph_sp_attach(struct lat_ctx *c, unsigned int i)
{
	struct shmpool_attach a = { .size = sizeof(a), .key = KEY_LAT, .mode = 0600 };

	if (ioctl(c->fds[i], SHMPOOL_IOC_ATTACH, &a))
		die("ATTACH: %s", strerror(errno));
}

static void ph_mmap(struct lat_ctx *c, unsigned int i)
{
	c->maps[i] = mmap(NULL, LAT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, c->fds[i], 0);
	if (c->maps[i] == MAP_FAILED)
		die("mmap: %s", strerror(errno));
}

static void ph_munmap(struct lat_ctx *c, unsigned int i)
{
	if (munmap(c->maps[i], LAT_SIZE))
		die("munmap: %s", strerror(errno));
}

static void ph_close(struct lat_ctx *c, unsigned int i)
{
	if (close(c->fds[i]))
		die("close: %s", strerror(errno));
}

static void ph_shmget(struct lat_ctx *c, unsigned int i)
{
	c->ids[i] = shmget((key_t)KEY_LAT, 0, 0600);
	if (c->ids[i] < 0)
		die("shmget: %s", strerror(errno));
}

static void ph_shmat(struct lat_ctx *c, unsigned int i)
{
	c->maps[i] = shmat(c->ids[i], NULL, 0);
	if (c->maps[i] == (void *)-1)
		die("shmat: %s", strerror(errno));
}

static void ph_shmdt(struct lat_ctx *c, unsigned int i)
{
	if (shmdt(c->maps[i]))
		die("shmdt: %s", strerror(errno));
}

static void ph_shm_open(struct lat_ctx *c, unsigned int i)
{
	c->fds[i] = shm_open(POSIX_NAME, O_RDWR, 0600);
	if (c->fds[i] < 0)
		die("shm_open: %s", strerror(errno));
}

static const struct impl_desc impls[NR_IMPLS] = {
	[IMPL_SHMPOOL] = { "open+ATTACH+mmap", "munmap+close of /dev/shmpool", 5, {
		{ "open(/dev/shmpool)", ph_sp_open, true, true },
		{ "ioctl(ATTACH)", ph_sp_attach, true, false },
		{ "mmap(/dev/shmpool fd)", ph_mmap, true, false },
		{ "munmap(/dev/shmpool map)", ph_munmap, false, false },
		{ "close(/dev/shmpool fd)", ph_close, false, false },
	} },
	[IMPL_SYSV] = { "shmget+shmat", "shmdt", 3, {
		{ "shmget", ph_shmget, true, false },
		{ "shmat", ph_shmat, true, false },
		{ "shmdt", ph_shmdt, false, false },
	} },
	[IMPL_POSIX] = { "shm_open+mmap", "munmap+close of shm_open", 4, {
		{ "shm_open", ph_shm_open, true, false },
		{ "mmap(shm_open fd)", ph_mmap, true, false },
		{ "munmap(shm_open map)", ph_munmap, false, false },
		{ "close(shm_open fd)", ph_close, false, false },
	} },
};

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The cost of one now_ns() pair (a system call when the clock has no vDSO). */
static double clock_pair_ns(void)
{
	double v[101];
	unsigned int i;

	for (i = 0; i < 101; i++) {
		uint64_t t = now_ns();

		v[i] = (double)(now_ns() - t);
	}
	return median(v, 101);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22	/* Linux 5.14 */
#endif

/* The program's image, from its first byte to the end of its bss. */
extern char __executable_start[], end[];

/*
 * Map every page of the program's own image (code, constants, data) into
 * this process's page tables, so that the single shot does not pay the
 * minor faults of first touching them: a program pays those for its own
 * code whatever it attaches with.  Pages that are not mapped are skipped.
 */
static void prefault_image(void)
{
	uintptr_t a = (uintptr_t)__executable_start & ~(uintptr_t)4095;

	for (; a < (uintptr_t)end; a += 4096)
		madvise((void *)a, 4096, MADV_POPULATE_READ);
}

/* Write 16 KiB of stack below the caller's frame (see single_shot()). */
static __attribute__((noinline)) void prefault_stack(void)
{
	volatile char buf[16384];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 256)
		buf[i] = 0;
}

/*
 * One fresh process per sample: the first key -> mapping of a program that
 * has just started, as on a restart (its exit tears it down), less the
 * cost of reading the clock.  Returns ns.
 */
static double single_shot(const struct impl_desc *d, double clock_ns, double *calls,
			  double *faults)
{
	uint64_t dt[MAX_PHASES + 1];
	struct lat_ctx c;
	unsigned int p, n;
	int pfd[2], st;
	double sum = 0;
	pid_t pid;

	for (n = 0; n < d->nr && d->ph[n].setup; n++)
		;
	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		uint64_t t, u;

		/*
		 * The child's first write to each stack page is a copy-on-write
		 * fault, and its first touch of each page of code or constants a
		 * minor fault (about 11k instructions each), as many as the
		 * layout of the binary and ASLR decide.  They are the program's,
		 * not the attach path's: take them before the clock starts.
		 */
		memset(&c, 0, sizeof(c));
		memset(dt, 0, sizeof(dt));
		prefault_stack();
		prefault_image();
		dt[MAX_PHASES] = (uint64_t)minflt();
		t = now_ns();
		for (p = 0; p < n; p++) {
			d->ph[p].fn(&c, 0);
			u = now_ns();
			dt[p] = u - t;
			t = u;
		}
		dt[MAX_PHASES] = (uint64_t)minflt() - dt[MAX_PHASES];
		_exit(write(pfd[1], dt, sizeof(dt)) == sizeof(dt) ? 0 : 1);
	}
	close(pfd[1]);
	if (read(pfd[0], dt, sizeof(dt)) != sizeof(dt))
		die("single shot child failed");
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("single shot child failed");
	for (p = 0; p < n; p++) {
		calls[p] = (double)dt[p] - clock_ns;
		sum += calls[p];
	}
	*faults = (double)dt[MAX_PHASES];
	return sum;
}

/* Per-run sums of some phases of @d (@t: ns per op, by run and phase). */
static double phases_median(const struct impl_desc *d, double t[RUNS][MAX_PHASES],
			    int setup, int with_open)
{
	double sum[RUNS];
	unsigned int p;
	int r;

	for (r = 0; r < RUNS; r++) {
		sum[r] = 0;
		for (p = 0; p < d->nr; p++)
			if ((setup < 0 || d->ph[p].setup == setup) &&
			    (with_open || !d->ph[p].device_open))
				sum[r] += t[r][p];
	}
	return median(sum, RUNS);
}

/*
 * An ioctl that the module rejects at once (ENOTTY): the system call's
 * entry, fd lookup, LSM hook and dispatch, the part of ioctl(ATTACH) that
 * is not the module's.
 */
static void ioctl_floor(unsigned int iters)
{
	double v[RUNS];
	unsigned int i;
	int fd, r;

	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", SHMPOOL_DEVICE_PATH, strerror(errno));
	for (r = 0; r < RUNS; r++) {
		uint64_t t = now_ns();

		for (i = 0; i < iters; i++)
			if (ioctl(fd, _IO(SHMPOOL_IOC_MAGIC, 0x7f), NULL) != -1 || errno != ENOTTY)
				die("unknown ioctl: not ENOTTY");
		v[r] = (double)(now_ns() - t) / iters;
	}
	close(fd);
	row("one call", "ioctl(unknown command)", LAT_SIZE, median(v, RUNS), "ns/op",
	    "ENOTTY at once: what every ioctl costs before the module's own work");
}

/*
 * No page is touched: all three map lazily, so this is the attach path
 * alone (the faults are counted separately).
 */
static void latency(unsigned int iters, unsigned int singles)
{
	static double t[NR_IMPLS][RUNS][MAX_PHASES];
	double clock_ns, v[RUNS], setup[NR_IMPLS], cycle[NR_IMPLS], open_fd;
	unsigned int i, b, n, p;
	struct lat_ctx c;
	int id, fd, r, w;
	char note[160];

	fd = sp_attach(KEY_LAT, LAT_SIZE, SHMPOOL_ATTACH_CREATE);
	if (fd < 0)
		die("create region: %s", strerror(-fd));
	close(fd);
	id = shmget((key_t)KEY_LAT, LAT_SIZE, IPC_CREAT | 0600);
	if (id < 0)
		die("shmget: %s", strerror(errno));
	fd = shm_open(POSIX_NAME, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)LAT_SIZE))
		die("shm_open: %s", strerror(errno));
	close(fd);

	/* Warm every path up once (first-use allocations, caches). */
	for (w = 0; w < NR_IMPLS; w++)
		for (p = 0; p < impls[w].nr; p++)
			impls[w].ph[p].fn(&c, 0);

	memset(t, 0, sizeof(t));
	for (r = 0; r < RUNS; r++)
		for (w = 0; w < NR_IMPLS; w++)
			for (i = 0; i < iters; i += n) {
				n = iters - i < BATCH ? iters - i : BATCH;
				for (p = 0; p < impls[w].nr; p++) {
					uint64_t t0 = now_ns();

					for (b = 0; b < n; b++)
						impls[w].ph[p].fn(&c, b);
					t[w][r][p] += (double)(now_ns() - t0) / iters;
				}
			}

	for (w = 0; w < NR_IMPLS; w++) {
		const struct impl_desc *d = &impls[w];

		setup[w] = phases_median(d, t[w], 1, 1);
		cycle[w] = phases_median(d, t[w], -1, 1);
		row("attach+map", d->setup_name, LAT_SIZE, setup[w],
		    "ns/op", "key -> mapping: the calls a program makes; no page touched");
		row("unmap+close", d->teardown_name, LAT_SIZE, phases_median(d, t[w], 0, 1),
		    "ns/op", "the teardown of attach+map");
		row("full cycle", d->setup_name, LAT_SIZE, cycle[w],
		    "ns/op", "attach+map then unmap+close");
	}
	open_fd = phases_median(&impls[IMPL_SHMPOOL], t[IMPL_SHMPOOL], 1, 0);
	row("attach+map (device already open)", "ATTACH+mmap", LAT_SIZE, open_fd, "ns/op",
	    "open(/dev/shmpool) done beforehand and untimed");
	/* The target (issue 6) is a ratio to shmget+shmat: say it outright. */
	row("vs shmget+shmat", "open+ATTACH+mmap", LAT_SIZE,
	    100 * setup[IMPL_SHMPOOL] / setup[IMPL_SYSV], "%", "attach+map");
	row("vs shmget+shmat", "ATTACH+mmap (device already open)", LAT_SIZE,
	    100 * open_fd / setup[IMPL_SYSV], "%", "attach+map");
	row("vs shmget+shmat", "shm_open+mmap", LAT_SIZE,
	    100 * setup[IMPL_POSIX] / setup[IMPL_SYSV], "%", "attach+map");
	row("vs shmget+shmat+shmdt", "open+ATTACH+mmap+munmap+close", LAT_SIZE,
	    100 * cycle[IMPL_SHMPOOL] / cycle[IMPL_SYSV], "%", "full cycle");
	for (w = 0; w < NR_IMPLS; w++)
		for (p = 0; p < impls[w].nr; p++) {
			for (r = 0; r < RUNS; r++)
				v[r] = t[w][r][p];
			row("one call", impls[w].ph[p].name, LAT_SIZE, median(v, RUNS), "ns/op",
			    "each system call of the cycles above");
		}

	ioctl_floor(iters);

	if (singles) {
		double *shot = calloc((size_t)singles * NR_IMPLS * (MAX_PHASES + 2), sizeof(double));
		double *calls, *flt;

		if (!shot)
			die("out of memory");
		calls = shot + (size_t)singles * NR_IMPLS;
		flt = calls + (size_t)singles * NR_IMPLS * MAX_PHASES;
		clock_ns = clock_pair_ns();
		snprintf(note, sizeof(note),
			 "first call in a fresh process; median of %u; clock read (%.0f ns) subtracted",
			 singles, clock_ns);
		/* Interleaved, so that a drift of the host's speed hits all three. */
		for (i = 0; i < singles; i++)
			for (w = 0; w < NR_IMPLS; w++) {
				double ph[MAX_PHASES];

				shot[w * singles + i] = single_shot(&impls[w], clock_ns, ph,
								    &flt[w * singles + i]);
				for (p = 0; p < MAX_PHASES; p++)
					calls[((size_t)w * MAX_PHASES + p) * singles + i] = ph[p];
			}
		for (w = 0; w < NR_IMPLS; w++) {
			setup[w] = median(shot + w * singles, singles);
			row("single shot", impls[w].setup_name, LAT_SIZE, setup[w], "ns/op", note);
		}
		row("vs shmget+shmat", "open+ATTACH+mmap (single shot)", LAT_SIZE,
		    100 * setup[IMPL_SHMPOOL] / setup[IMPL_SYSV], "%", "single shot");
		for (w = 0; w < NR_IMPLS; w++)
			row("single shot faults", impls[w].setup_name, LAT_SIZE,
			    median(flt + w * singles, singles), "faults",
			    "minor faults inside the single shot (the program's own pages are faulted in before)");
		for (w = 0; w < NR_IMPLS; w++)
			for (p = 0; p < impls[w].nr && impls[w].ph[p].setup; p++)
				row("single shot call", impls[w].ph[p].name, LAT_SIZE,
				    median(calls + ((size_t)w * MAX_PHASES + p) * singles, singles),
				    "ns/op", "each call of the single shot");
		free(shot);
	}

	sp_destroy(KEY_LAT);
	shmctl(id, IPC_RMID, NULL);
	shm_unlink(POSIX_NAME);
}

static void faults(uint64_t size)
{
	char thp[128] = "unknown", note[200];
	struct shmpool_info info = { .size = sizeof(info) };
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	int fd, id, pass;
	void *p;

	if (f) {
		if (fgets(thp, sizeof(thp), f))
			thp[strcspn(thp, "\n")] = '\0';
		fclose(f);
	}
	fd = open(SHMPOOL_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, SHMPOOL_IOC_INFO, &info))
		die("SHMPOOL_IOC_INFO: %s", strerror(errno));
	close(fd);
	snprintf(note, sizeof(note), "huge_supported=%u; shmem_enabled: %s",
		 info.huge_supported, thp);

	for (pass = 0; pass < 2; pass++) {
		uint64_t key = pass ? KEY_HUGE : KEY_TOUCH;

		fd = sp_attach(key, size, SHMPOOL_ATTACH_CREATE | SHMPOOL_ATTACH_EXCL |
			       (pass ? SHMPOOL_ATTACH_HUGE : 0));
		if (fd < 0) {
			row("first-touch faults", pass ? "/dev/shmpool HUGE" : "/dev/shmpool", size,
			    -1, "faults/GiB", strerror(-fd));
			continue;
		}
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		row("first-touch faults", pass ? "/dev/shmpool HUGE" : "/dev/shmpool", size,
		    touch_faults(p, size), "faults/GiB", note);
		munmap(p, size);
		close(fd);
		sp_destroy(key);
	}
	id = shmget((key_t)KEY_TOUCH, size, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
		die("shmget/shmat: %s", strerror(errno));
	row("first-touch faults", "SysV shm", size, touch_faults(p, size), "faults/GiB", note);
	shmdt(p);
	shmctl(id, IPC_RMID, NULL);
}

/* A count from @s (an option or environment value); dies naming it if bad. */
static unsigned long long count_arg(const char *name, const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		die("%s: '%s' is not a count", name, s);
	return v;
}

int main(int argc, char **argv)
{
	unsigned int iters = 2000, singles = 31;
	uint64_t touch = 256;
	const char *e;
	int i;

	/* The VM bench passes no arguments: the environment can set them. */
	if ((e = getenv("BENCH_KPATH_ITERS")))
		iters = (unsigned int)count_arg("BENCH_KPATH_ITERS", e);
	if ((e = getenv("BENCH_KPATH_SINGLES")))
		singles = (unsigned int)count_arg("BENCH_KPATH_SINGLES", e);
	if ((e = getenv("BENCH_KPATH_TOUCH_MIB")))
		touch = count_arg("BENCH_KPATH_TOUCH_MIB", e);
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--iters"))
			iters = (unsigned int)count_arg(argv[i], argv[i + 1]);
		else if (!strcmp(argv[i], "--singles"))
			singles = (unsigned int)count_arg(argv[i], argv[i + 1]);
		else if (!strcmp(argv[i], "--touch-mib"))
			touch = count_arg(argv[i], argv[i + 1]);
		else
			die("unknown option %s", argv[i]);
	}
	if (i < argc)
		die("option %s needs a value", argv[i]);
	if (!iters || iters > 10000000)
		die("--iters must be 1..10000000, not %u", iters);
	if (touch > (1ULL << 20))
		die("--touch-mib %" PRIu64 " is too large", touch);
	if (access(SHMPOOL_DEVICE_PATH, R_OK | W_OK))
		die("%s: %s (run inside the VM bench)", SHMPOOL_DEVICE_PATH, strerror(errno));
	latency(iters, singles);
	if (touch)
		faults(touch << 20);
	return 0;
}
