// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_pool: libshmdev's object pool against glibc malloc/free and a plain
 * intrusive free list (the floor), and restart times against shmget+shmat.
 * Boost.Interprocess is measured by bench_boost.cpp in the same run.
 *
 *   bench_pool pool [--sizes 64,256,1024] [--counts 1000,100000,10000000]
 *                   [--runs 5] [--ops 1000000]
 *   bench_pool restart [--counts ...] [--runs 5]
 *
 * Prints CSV rows (section,op,impl,size,live,value,unit,note) on stdout;
 * every value is the median of --runs runs of a fixed operation count.
 * A live count that does not fit in 45% of MemAvailable (or of the free
 * space of /dev/shm) is scaled down, and the row's note says so.
 * Regions use the POSIX backend unless SHMDEV_BACKEND says otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmdev.h"

#define MAX_LIST	8
#define HDR		16	/* a slot header, as in libshmdev and the floor */

struct opts {
	uint64_t sizes[MAX_LIST], counts[MAX_LIST];
	int nsizes, ncounts, runs;
	uint64_t ops;
	uint64_t key_base;
};

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_pool: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void row(const char *section, const char *op, const char *impl, uint64_t size,
		uint64_t live, double value, const char *unit, const char *note)
{
	printf("%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%.3f,%s,%s\n", section, op, impl, size, live,
	       value, unit, note ? note : "");
	fflush(stdout);
}

static uint64_t meminfo_kb(const char *name)
{
	char line[256];
	uint64_t v = 0;
	size_t n = strlen(name);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The live count that fits; *note set when scaled down. */
static uint64_t fit_count(uint64_t want, uint64_t bytes_each, char *note, size_t len)
{
	uint64_t avail = meminfo_kb("MemAvailable") * 1024, budget;
	struct statvfs sv;

	if (!statvfs("/dev/shm", &sv) && (uint64_t)sv.f_bavail * sv.f_frsize < avail)
		avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	budget = avail / 100 * 45;
	note[0] = '\0';
	if (!avail || want * bytes_each <= budget)
		return want;
	snprintf(note, len, "scaled from %" PRIu64 " to fit 45%% of free memory", want);
	return budget / bytes_each / 1000 * 1000;
}

/* ---- a pool of one type, on a config made for it ----------------------- */

struct bpool {
	struct shmdev_ctx *ctx;
	struct shmdev_conf *conf;
	struct shmdev_pool *pool;
};

static void bpool_open(struct bpool *b, uint64_t key, uint32_t size, uint64_t cap,
		       uint32_t flags, bool must_exist)
{
	uint64_t slot = (size + HDR + 7) / 8 * 8, total = cap * slot + cap * 8, block, nblocks;
	struct shmdev_type t = { .id = 1, .name = "Obj", .size = size, .version = 1,
				 .max_count = cap, .flags = flags };
	const char *backend = getenv("SHMDEV_BACKEND");
	char conf[512];
	int err;

	/* At most 8 chunks per type (the layout allows 16), 1 MiB blocks at least. */
	block = (total / 8 + (1 << 20) - 1) / (1 << 20) * (1 << 20);
	if (block < (1 << 20))
		block = 1 << 20;
	nblocks = total / block + 2;
	snprintf(conf, sizeof(conf),
		 "[global]\nProcessList = bench\n[bench]\nBaseKey = %" PRIu64 "\n"
		 "BlockSize = %" PRIu64 "\nBlockKeys = %" PRIu64 "-%" PRIu64 "\nBackend = %s\n"
		 "MaxTypeInfoNum = 4\n",
		 key, block, key + 1, key + nblocks, backend && *backend ? backend : "posix");
	if (shmdev_ctx_new(&b->ctx))
		die("shmdev_ctx_new failed");
	err = shmdev_conf_load_string(b->ctx, conf, "bench.ini", "bench", &b->conf);
	if (err)
		die("config: %s", shmdev_errmsg(b->ctx));
	err = shmdev_pool_open(b->ctx, b->conf, &t, 1, 0, &b->pool);
	if (err)
		die("shmdev_pool_open: %s", shmdev_errmsg(b->ctx));
	if (must_exist && shmdev_pool_start(b->pool) == SHMDEV_START_CREATED)
		die("the pool was expected to exist");
}

static void bpool_close(struct bpool *b, bool destroy)
{
	if (b->pool && shmdev_pool_close(b->pool))
		die("shmdev_pool_close: %s", shmdev_errmsg(b->ctx));
	b->pool = NULL;
	if (destroy && shmdev_pool_destroy(b->ctx, b->conf))
		die("shmdev_pool_destroy: %s", shmdev_errmsg(b->ctx));
	shmdev_conf_free(b->conf);
	shmdev_ctx_unref(b->ctx);
	memset(b, 0, sizeof(*b));
}

/* ---- the floor: an intrusive free list of slots ------------------------- */

struct flist {
	unsigned char *mem;
	uint64_t slot, cap, head;	/* head: slot + 1, 0 = empty */
};

struct fhdr {
	uint64_t next;
	uint32_t live, gen;
};

static void flist_init(struct flist *f, uint64_t size, uint64_t cap)
{
	uint64_t i;

	f->slot = (size + HDR + 7) / 8 * 8;
	f->cap = cap;
	f->mem = mmap(NULL, f->slot * cap, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->mem == MAP_FAILED)
		die("mmap %" PRIu64 " bytes: %s", f->slot * cap, strerror(errno));
	for (i = 0; i < cap; i++)
		((struct fhdr *)(f->mem + i * f->slot))->next = i + 2 <= cap ? i + 2 : 0;
	f->head = 1;
}

static inline uint64_t flist_alloc(struct flist *f, uint64_t size)
{
	uint64_t idx = f->head - 1;
	struct fhdr *h = (struct fhdr *)(f->mem + idx * f->slot);

	f->head = h->next;
	h->live = 1;
	memset(h + 1, 0, size);		/* like shmdev_alloc: zeroed */
	return idx;
}

static inline void flist_free(struct flist *f, uint64_t idx)
{
	struct fhdr *h = (struct fhdr *)(f->mem + idx * f->slot);

	h->live = 0;
	h->next = f->head;
	f->head = idx + 1;
}

/* ---- section 1: the object pool --------------------------------------- */

static int visit(void *obj, shmdev_handle_t h, void *data)
{
	(void)h;
	*(uint64_t *)data += *(const uint64_t *)obj;
	return 0;
}

static void bench_shmpool(const struct opts *o, uint64_t size, uint64_t live, const char *note)
{
	double af[16], az[16], gt[16], fe[16], fg[16];
	shmdev_handle_t *hs = malloc(live * sizeof(*hs));
	uint64_t i, k, n, passes;
	struct bpool b = { 0 };
	void *obj;
	int r;

	if (!hs)
		die("out of memory");
	bpool_open(&b, o->key_base, (uint32_t)size, live + 1024, 0, false);
	for (i = 0; i < live; i++) {
		if (shmdev_alloc(b.pool, 1, &obj, &hs[i]))
			die("alloc: %s", shmdev_errmsg(b.ctx));
		*(uint64_t *)obj = i;
	}
	for (r = 0; r < o->runs; r++) {
		uint64_t t, sum = 0;

		/*
		 * alloc+free: a new object replaces an old one, round the array.
		 * shmdev_alloc_raw does not zero, as malloc does not, and the
		 * object is written once, as malloc's is.
		 */
		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1) {
			shmdev_handle_t h;

			if (shmdev_alloc_raw(b.pool, 1, &obj, &h) || shmdev_free(b.pool, hs[k]))
				die("alloc/free: %s", shmdev_errmsg(b.ctx));
			*(uint64_t *)obj = i;
			hs[k] = h;
		}
		af[r] = (double)(now_ns() - t) / (double)o->ops;

		/* the same with shmdev_alloc, which zeroes the object */
		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1) {
			shmdev_handle_t h;

			if (shmdev_alloc(b.pool, 1, &obj, &h) || shmdev_free(b.pool, hs[k]))
				die("alloc/free: %s", shmdev_errmsg(b.ctx));
			*(uint64_t *)obj = i;
			hs[k] = h;
		}
		az[r] = (double)(now_ns() - t) / (double)o->ops;

		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1)
			sum += *(const uint64_t *)shmdev_get(b.pool, hs[k]);
		gt[r] = (double)(now_ns() - t) / (double)o->ops;

		passes = (o->ops + live - 1) / live;
		t = now_ns();
		for (n = 0; n < passes; n++)
			shmdev_foreach(b.pool, 1, visit, &sum);
		fe[r] = (double)(now_ns() - t) / (double)(passes * live);
		sink += sum;
	}
	bpool_close(&b, true);

	/* force_get on a keyed type (its own pool: memory) */
	bpool_open(&b, o->key_base, (uint32_t)size, live + 1024, SHMDEV_TYPE_KEYED, false);
	for (i = 0; i < live; i++)
		if (shmdev_force_get(b.pool, 1, i * 2654435761ULL + 1, &obj, NULL, NULL))
			die("force_get: %s", shmdev_errmsg(b.ctx));
	for (r = 0; r < o->runs; r++) {
		uint64_t t = now_ns(), sum = 0;

		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1) {
			shmdev_force_get(b.pool, 1, k * 2654435761ULL + 1, &obj, NULL, NULL);
			sum += *(const uint64_t *)obj;
		}
		fg[r] = (double)(now_ns() - t) / (double)o->ops;
		sink += sum;
	}
	bpool_close(&b, true);
	free(hs);
	row("pool", "alloc+free", "shmpool", size, live, median(af, o->runs), "ns/op", note);
	row("pool", "alloc+free", "shmpool zeroing", size, live, median(az, o->runs), "ns/op", note);
	row("pool", "get", "shmpool", size, live, median(gt, o->runs), "ns/op", note);
	row("pool", "force_get", "shmpool", size, live, median(fg, o->runs), "ns/op", note);
	row("pool", "foreach", "shmpool", size, live, median(fe, o->runs), "ns/op", note);
}

static void bench_malloc(const struct opts *o, uint64_t size, uint64_t live, const char *note)
{
	double af[16], gt[16], fe[16];
	uint64_t **ps = malloc(live * sizeof(*ps));
	uint64_t i, k;
	int r;

	if (!ps)
		die("out of memory");
	for (i = 0; i < live; i++) {
		ps[i] = malloc(size);
		if (!ps[i])
			die("malloc");
		*ps[i] = i;
	}
	for (r = 0; r < o->runs; r++) {
		uint64_t t, sum = 0;

		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1) {
			uint64_t *p = malloc(size);

			if (!p)
				die("malloc");
			*p = i;		/* touch it, as a user would */
			free(ps[k]);
			ps[k] = p;
		}
		af[r] = (double)(now_ns() - t) / (double)o->ops;
		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1)
			sum += *ps[k];
		gt[r] = (double)(now_ns() - t) / (double)o->ops;
		t = now_ns();
		for (k = 0; k < (o->ops + live - 1) / live * live; k++)
			sum += *ps[k % live];
		fe[r] = (double)(now_ns() - t) / (double)((o->ops + live - 1) / live * live);
		sink += sum;
	}
	for (i = 0; i < live; i++)
		free(ps[i]);
	free(ps);
	row("pool", "alloc+free", "glibc malloc", size, live, median(af, o->runs), "ns/op", note);
	row("pool", "get", "glibc malloc", size, live, median(gt, o->runs), "ns/op", note);
	row("pool", "foreach", "glibc malloc", size, live, median(fe, o->runs), "ns/op", note);
}

static void bench_flist(const struct opts *o, uint64_t size, uint64_t live, const char *note)
{
	double af[16], gt[16], fe[16];
	uint64_t *idx = malloc(live * sizeof(*idx)), i, k, n;
	struct flist f;
	int r;

	if (!idx)
		die("out of memory");
	flist_init(&f, size, live + 1024);
	for (i = 0; i < live; i++) {
		idx[i] = flist_alloc(&f, size);
		*(uint64_t *)(f.mem + idx[i] * f.slot + HDR) = i;
	}
	for (r = 0; r < o->runs; r++) {
		uint64_t t, sum = 0, passes;

		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1) {
			uint64_t x = flist_alloc(&f, size);

			flist_free(&f, idx[k]);
			idx[k] = x;
		}
		af[r] = (double)(now_ns() - t) / (double)o->ops;
		t = now_ns();
		for (i = 0, k = 0; i < o->ops; i++, k = k + 1 == live ? 0 : k + 1)
			sum += *(uint64_t *)(f.mem + idx[k] * f.slot + HDR);
		gt[r] = (double)(now_ns() - t) / (double)o->ops;
		passes = (o->ops + live - 1) / live;
		t = now_ns();
		for (n = 0; n < passes; n++)
			for (k = 0; k < f.cap; k++) {
				struct fhdr *h = (struct fhdr *)(f.mem + k * f.slot);

				if (h->live)
					sum += *(uint64_t *)(h + 1);
			}
		fe[r] = (double)(now_ns() - t) / (double)(passes * live);
		sink += sum;
	}
	munmap(f.mem, f.slot * f.cap);
	free(idx);
	row("pool", "alloc+free", "free list", size, live, median(af, o->runs), "ns/op", note);
	row("pool", "get", "free list", size, live, median(gt, o->runs), "ns/op", note);
	row("pool", "foreach", "free list", size, live, median(fe, o->runs), "ns/op", note);
}

static void section_pool(const struct opts *o)
{
	int s, c;

	for (s = 0; s < o->nsizes; s++)
		for (c = 0; c < o->ncounts; c++) {
			uint64_t size = o->sizes[s], live;
			char note[128];

			/* two copies may be live at once: pool + handle array, malloc */
			live = fit_count(o->counts[c], size + HDR + 16, note, sizeof(note));
			if (live < 1000)
				continue;
			bench_shmpool(o, size, live, note);
			bench_malloc(o, size, live, note);
			bench_flist(o, size, live, note);
		}
}

/* ---- section 2: restart ------------------------------------------------- */

/*
 * A child process opens what the parent prepared and writes the
 * CLOCK_MONOTONIC time at which it is ready; the parent took the time just
 * before fork(), so the figure covers process creation, exec and the open.
 */
enum child_mode { CHILD_CLEAN, CHILD_CRASH, CHILD_SHM };

static double run_child(const char *self, enum child_mode mode, uint64_t key, uint64_t size,
			uint64_t cap, uint64_t *repaired, double *repair_ns)
{
	char modes[8], keys[32], sizes[32], caps[32], buf[128];
	int fds[2], st;
	uint64_t t0, ready = 0;
	ssize_t n;
	pid_t pid;

	snprintf(modes, sizeof(modes), "%d", (int)mode);
	snprintf(keys, sizeof(keys), "%" PRIu64, key);
	snprintf(sizes, sizeof(sizes), "%" PRIu64, size);
	snprintf(caps, sizeof(caps), "%" PRIu64, cap);
	if (pipe(fds))
		die("pipe: %s", strerror(errno));
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execl(self, self, "child", modes, keys, sizes, caps, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || n <= 0)
		die("restart child (mode %d) failed", (int)mode);
	buf[n] = '\0';
	if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %lf", &ready, repaired, repair_ns) != 3)
		die("restart child said '%s'", buf);
	return (double)(ready - t0);
}

static int child_main(int argc, char **argv)
{
	uint64_t key, size, cap, ready;
	struct shmdev_pool_stats ps = { 0 };
	struct bpool b = { 0 };
	int mode;

	if (argc != 6)
		return 2;
	mode = atoi(argv[2]);
	key = strtoull(argv[3], NULL, 10);
	size = strtoull(argv[4], NULL, 10);
	cap = strtoull(argv[5], NULL, 10);
	if (mode == CHILD_SHM) {
		int id = shmget((key_t)key, 0, 0600);
		volatile char *p;

		if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
			return 1;
		(void)p[0];
		ready = now_ns();
		printf("%" PRIu64 " 0 0\n", ready);
		return 0;
	}
	bpool_open(&b, key, (uint32_t)size, cap, 0, true);
	ready = now_ns();
	shmdev_pool_stats(b.pool, &ps);
	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", ready, ps.repaired_objects, ps.repair_ns);
	fflush(stdout);
	if (mode == CHILD_CRASH) {
		/* leave it crashed again, for the next run */
		shmdev_pool_abandon(b.pool);
		b.pool = NULL;
	}
	bpool_close(&b, false);
	return 0;
}

static void section_restart(const struct opts *o, const char *self)
{
	const uint64_t size = 256, slot = (size + HDR + 7) / 8 * 8;
	int c, r;

	for (c = 0; c < o->ncounts; c++) {
		double cl[16], cr[16], sh[16], rp[16], rate[16];
		uint64_t live, cap, i, repaired = 0;
		struct bpool b = { 0 };
		char note[160], mib[32];
		void *obj;
		int id;

		live = fit_count(o->counts[c], slot * 2, note, sizeof(note));
		/* the pool is at least 64 MiB: capacity beyond the live objects */
		cap = live > (64ULL << 20) / slot ? live : (64ULL << 20) / slot;
		bpool_open(&b, o->key_base, (uint32_t)size, cap, 0, false);
		for (i = 0; i < live; i++) {
			shmdev_handle_t h;

			if (shmdev_alloc(b.pool, 1, &obj, &h))
				die("alloc: %s", shmdev_errmsg(b.ctx));
			memset(obj, (int)i, size);
		}
		bpool_close(&b, false);
		for (r = 0; r < o->runs; r++)
			cl[r] = run_child(self, CHILD_CLEAN, o->key_base, size, cap, &repaired, &rp[0]);
		/* crash it once; then every run repairs and leaves it crashed */
		bpool_open(&b, o->key_base, (uint32_t)size, cap, 0, true);
		shmdev_pool_abandon(b.pool);
		b.pool = NULL;
		bpool_close(&b, false);
		for (r = 0; r < o->runs; r++) {
			double rns;

			cr[r] = run_child(self, CHILD_CRASH, o->key_base, size, cap, &repaired, &rns);
			rp[r] = rns;
			rate[r] = rns > 0 ? (double)repaired / (rns / 1e9) : 0;
		}
		bpool_open(&b, o->key_base, (uint32_t)size, cap, 0, true);
		bpool_close(&b, true);

		/* SysV of the same size, its pages touched as the pool's are */
		id = shmget((key_t)(o->key_base & 0x7fffffff), cap * slot, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0)
			die("shmget %" PRIu64 " bytes: %s", cap * slot, strerror(errno));
		{
			char *p = shmat(id, NULL, 0);

			if (p == (void *)-1)
				die("shmat: %s", strerror(errno));
			memset(p, 1, live * slot);
			shmdt(p);
		}
		for (r = 0; r < o->runs; r++)
			sh[r] = run_child(self, CHILD_SHM, o->key_base & 0x7fffffff, 0, 0, &repaired, &rp[15]);
		shmctl(id, IPC_RMID, NULL);

		snprintf(mib, sizeof(mib), "pool %.0f MiB", (double)(cap * slot) / (1 << 20));
		if (!note[0])
			snprintf(note, sizeof(note), "%s", mib);
		else
			strncat(note, "; ", sizeof(note) - strlen(note) - 1),
			strncat(note, mib, sizeof(note) - strlen(note) - 1);
		row("restart", "clean resume", "shmpool", size, live, median(cl, o->runs) / 1e3, "us", note);
		row("restart", "crash resume", "shmpool", size, live, median(cr, o->runs) / 1e3, "us", note);
		{
			double rns = median(rp, o->runs), ops = median(rate, o->runs);

			row("restart", "crash repair", "shmpool", size, live, rns / 1e3, "us", note);
			row("restart", "repair rate", "shmpool", size, live, ops / 1e6, "Mobj/s", note);
			row("restart", "repair rate", "shmpool", size, live,
			    rns > 0 ? (double)(live * slot) / rns : 0, "GB/s", note);
		}
		row("restart", "open", "shmget+shmat", size, live, median(sh, o->runs) / 1e3, "us", note);
	}
}

/* ---- main ----------------------------------------------------------------- */

static int parse_list(const char *arg, uint64_t *out)
{
	char *end;
	int n = 0;

	while (*arg && n < MAX_LIST) {
		double v = strtod(arg, &end);	/* 1e7 is welcome */

		if (end == arg || v < 1)
			die("bad number list '%s'", arg);
		out[n++] = (uint64_t)v;
		arg = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			die("bad number list '%s'", arg);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct opts o = { .sizes = { 64, 256, 1024 }, .nsizes = 3,
			  .counts = { 1000, 100000, 10000000 }, .ncounts = 3,
			  .runs = 5, .ops = 1000000 };
	const char *what = argc > 1 ? argv[1] : "";
	int i;

	if (!strcmp(what, "child"))
		return child_main(argc, argv);
	if (strcmp(what, "pool") && strcmp(what, "restart")) {
		fprintf(stderr, "usage: bench_pool pool|restart [--sizes L] [--counts L] [--runs N] [--ops N]\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			die("%s needs a value", argv[i]);
		if (!strcmp(argv[i], "--sizes"))
			o.nsizes = parse_list(argv[++i], o.sizes);
		else if (!strcmp(argv[i], "--counts"))
			o.ncounts = parse_list(argv[++i], o.counts);
		else if (!strcmp(argv[i], "--runs"))
			o.runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ops"))
			o.ops = strtoull(argv[++i], NULL, 10);
		else
			die("unknown option %s", argv[i]);
	}
	if (o.runs < 1 || o.runs > 15 || !o.ops)
		die("--runs must be 1..15 and --ops positive");
	/* keys of this run only: a parallel run never meets them */
	o.key_base = 0x5e000000ULL + (uint64_t)getpid() * 4096;
	if (!getenv("SHMDEV_POSIX_PREFIX")) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "shmpool-bench.%d", (int)getpid());
		setenv("SHMDEV_POSIX_PREFIX", prefix, 1);
	}
	if (!strcmp(what, "pool"))
		section_pool(&o);
	else
		section_restart(&o, "/proc/self/exe");
	return 0;
}
