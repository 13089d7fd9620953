// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_kpath: the kernel path of /dev/shmpool against SysV and POSIX shm,
 * run inside the VM bench (static; tests/vm/run.sh runs it as /init's test).
 *
 *  - attach latency: one open -> attach -> mmap -> munmap -> close cycle of
 *    an existing 64 MiB region: open+ATTACH+mmap, shmget+shmat(+shmdt),
 *    shm_open+mmap; ns per cycle, median of 5 runs of a fixed count;
 *  - first-touch page faults per GiB (getrusage minflt: a count, so the
 *    emulation does not distort it) writing one byte per 4 KiB page of a
 *    fresh 256 MiB region: /dev/shmpool, /dev/shmpool with
 *    SHMPOOL_ATTACH_HUGE, SysV.
 *
 * CSV rows "BENCHCSV,section,op,impl,size,live,value,unit,note" on stdout
 * (the prefix finds them in the console log).  Everything it creates is
 * destroyed before it exits, so the module unloads.
 *   bench_kpath [--iters N] [--touch-mib N]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmpool.h>

#define RUNS		5
#define KEY_LAT		0x6b700001ULL
#define KEY_TOUCH	0x6b700002ULL
#define KEY_HUGE	0x6b700003ULL
#define LAT_SIZE	(64ULL << 20)

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

static void latency(unsigned int iters)
{
	static const char *const names[] = { "open+ATTACH+mmap", "shmget+shmat", "shm_open+mmap" };
	double v[3][RUNS];
	int id, fd, r, which;
	unsigned int i;

	fd = sp_attach(KEY_LAT, LAT_SIZE, SHMPOOL_ATTACH_CREATE);
	if (fd < 0)
		die("create region: %s", strerror(-fd));
	close(fd);
	id = shmget((key_t)KEY_LAT, LAT_SIZE, IPC_CREAT | 0600);
	if (id < 0)
		die("shmget: %s", strerror(errno));
	fd = shm_open("/bench_kpath", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)LAT_SIZE))
		die("shm_open: %s", strerror(errno));
	close(fd);

	for (r = 0; r < RUNS; r++)
		for (which = 0; which < 3; which++) {
			uint64_t t = now_ns();

			for (i = 0; i < iters; i++) {
				void *p;

				if (which == 0) {
					fd = sp_attach(KEY_LAT, 0, 0);
					if (fd < 0)
						die("attach: %s", strerror(-fd));
					p = mmap(NULL, LAT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
					if (p == MAP_FAILED)
						die("mmap: %s", strerror(errno));
					munmap(p, LAT_SIZE);
					close(fd);
				} else if (which == 1) {
					int sid = shmget((key_t)KEY_LAT, 0, 0600);

					p = sid < 0 ? (void *)-1 : shmat(sid, NULL, 0);
					if (p == (void *)-1)
						die("shmat: %s", strerror(errno));
					shmdt(p);
				} else {
					fd = shm_open("/bench_kpath", O_RDWR, 0600);
					p = fd < 0 ? MAP_FAILED :
					    mmap(NULL, LAT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
					if (p == MAP_FAILED)
						die("shm_open+mmap: %s", strerror(errno));
					munmap(p, LAT_SIZE);
					close(fd);
				}
			}
			v[which][r] = (double)(now_ns() - t) / iters;
		}
	for (which = 0; which < 3; which++) {
		qsort(v[which], RUNS, sizeof(double), cmp_double);
		row("attach+map latency", names[which], LAT_SIZE, v[which][RUNS / 2], "ns/op",
		    "open->attach->mmap->munmap->close cycle");
	}
	sp_destroy(KEY_LAT);
	shmctl(id, IPC_RMID, NULL);
	shm_unlink("/bench_kpath");
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

int main(int argc, char **argv)
{
	unsigned int iters = 2000;
	uint64_t touch = 256;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--iters"))
			iters = (unsigned int)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--touch-mib"))
			touch = strtoull(argv[i + 1], NULL, 10);
		else
			die("unknown option %s", argv[i]);
	}
	if (!iters || !touch)
		die("--iters and --touch-mib must be positive");
	if (access(SHMPOOL_DEVICE_PATH, R_OK | W_OK))
		die("%s: %s (run inside the VM bench)", SHMPOOL_DEVICE_PATH, strerror(errno));
	latency(iters);
	faults(touch << 20);
	return 0;
}
