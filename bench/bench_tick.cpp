// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_tick: shmpool against its peers on what a game server does each
 * tick, in one process, interleaved (bench/README.md explains every row).
 *
 *   bench_tick [--counts 10000,1000000,10000000] [--reps 5] [--reps-large 3]
 *              [--k 3000] [--restart-counts 1000,10000,1000000,10000000]
 *              [--csv FILE]
 *
 * --reps-large applies from 5e6 live objects on (the run's length).  --only
 * keeps shmpool and the peers whose name starts with one of the words given
 * (slab, raw, glibc, jemalloc, mimalloc, tcmalloc, Boost): for profiling.
 * --phases keeps the phases named (tick, get, find, af64, af64z, af128k,
 * af256, af256z, bare64, bare256): the others' cells stay empty.
 *
 * The population: 3 types, 64 and 256 bytes plain, 128 bytes KEYED, a third
 * of the live count each.  Every peer (peers.h, bench_boost_peer.h) builds
 * the same objects in the same order and then runs the same operations on
 * them, in the same random order (one shuffled permutation per type, shared
 * by all); each phase runs once per peer per repetition, the peers in a
 * rotating order, and a ratio is the median of the per-repetition ratios.
 *
 * The malloc families other than glibc's come from their Debian shared
 * libraries loaded with dlmopen(LM_ID_NEWLM) into their own link namespace,
 * so that their malloc does not replace the process's (jemalloc needs the
 * static TLS surplus raised: the program re-executes itself with
 * GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <ctime>
#include <string>
#include <type_traits>
#include <vector>

#include "bench_boost_peer.h"
#include "bench_proc.h"
#include "bench_tick.h"
#include "peers.h"

static volatile uint64_t sink;
FILE *csv;
bool bench_thp;		/* --thp: every peer asks for transparent huge pages */

[[noreturn]] void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_tick: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *bench_map(uint64_t bytes, bool huge)
{
	void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap %" PRIu64 " bytes: %s", bytes, strerror(errno));
	madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/*
 * The thread's CPU time, not the wall clock: on a shared machine a timed
 * block that loses the CPU does not count the other processes' time (their
 * cache and memory-bandwidth pressure still shows; see bench/README.md).
 * It counts the kernel's work for the thread too (the page faults of a
 * first pass, the mmap calls of an open).
 */
static uint64_t now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rss_bytes()
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Bytes of the process's memory in huge pages now (anonymous THP and shmem
 * mapped by PMD), from /proc/self/smaps_rollup: which peers really got them.
 */
static uint64_t huge_bytes()
{
	static const char *const fields[] = { "AnonHugePages:", "ShmemPmdMapped:", nullptr };

	return bench_proc_bytes("/proc/self/smaps_rollup", fields);
}

static uint64_t mem_available()
{
	static const char *const fields[] = { "MemAvailable:", nullptr };

	return bench_proc_bytes("/proc/meminfo", fields);
}

struct Rng {
	uint64_t s;
	uint64_t next()
	{
		uint64_t z = (s += 0x9E3779B97F4A7C15ULL);

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		return z ^ (z >> 31);
	}
	/* uniform in [0, n) without a division */
	uint64_t below(uint64_t n) { return (uint64_t)(((unsigned __int128)next() * n) >> 64); }
};

static double median(std::vector<double> v)
{
	if (v.empty())
		return NAN;
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the workload ------------------------------------------------------- */

enum { NT = 3, TKEY = 1 };	/* types 0: 64 B, 1: 128 B KEYED, 2: 256 B */
static const uint32_t type_size[NT] = { 64, 128, 256 };
#define TOUCH 2			/* the word a workload reads and writes */
#define ABSENT (1ULL << 63)	/* present keys never have it */

struct Shared {			/* read-only, the same for every peer */
	uint64_t n[NT];		/* live objects per type */
	std::vector<uint32_t> perm[NT];
	int k;			/* lookups per tick */
	int ticks;		/* per timed block */
};

struct World {			/* one peer's copy of the logical state */
	std::vector<uint64_t> ref[NT];
	std::vector<uint64_t> keys;
	uint64_t cursor[NT] = {};
	uint64_t next_key = 1;
	Rng rng = { 42 };
	std::vector<void *> bare[NT];	/* malloc peers: bare malloc churn */
};

static uint64_t fresh_key(World &w)
{
	/*
	 * Distinct, well mixed, non-zero, below ABSENT: each step is a
	 * bijection of the 63-bit space (an odd multiplier, a right xorshift).
	 * A plain n * C would meet the tables' Fibonacci hash (k * C) as
	 * n * C^2, whose top bits cluster: long probe runs in every table.
	 */
	const uint64_t m = ABSENT - 1;
	uint64_t x = w.next_key++;

	x = (x * 0xBF58476D1CE4E5B9ULL) & m;
	x ^= x >> 31;
	x = (x * 0x94D049BB133111EBULL) & m;
	x ^= x >> 29;
	return x;
}

static uint64_t *word(void *obj) { return static_cast<uint64_t *>(obj); }

template <class P>
static void build(P &p, const Shared &s, World &w)
{
	uint64_t most = std::max(s.n[0], std::max(s.n[1], s.n[2]));

	for (int t = 0; t < NT; t++)
		w.ref[t].assign(s.n[t], 0);
	w.keys.assign(s.n[TKEY], 0);
	for (uint64_t i = 0; i < most; i++)
		for (int t = 0; t < NT; t++) {
			void *obj;

			if (i >= s.n[t])
				continue;
			if (t == TKEY) {
				w.keys[i] = fresh_key(w);
				obj = p.keyed(t, w.keys[i], &w.ref[t][i]);
			} else {
				obj = p.alloc(t, false, &w.ref[t][i]);
			}
			word(obj)[TOUCH] = i;
		}
}

/* One tick: K lookups that touch, K/4 finds (1 in 5 absent), 3% of K churn. */
template <class P>
static uint64_t tick(P &p, const Shared &s, World &w)
{
	uint64_t sum = 0;
	int k = s.k, finds = s.k / 4, churn = s.k * 3 / 100;

	for (int j = 0; j < k; j++) {
		int t = j % NT;
		uint64_t c = w.cursor[t];
		void *obj = p.get(t, w.ref[t][s.perm[t][c]]);

		w.cursor[t] = c + 1 == s.n[t] ? 0 : c + 1;
		if (__builtin_expect(obj != nullptr, 1))	/* as a caller checks */
			sum += word(obj)[TOUCH]++;
	}
	for (int j = 0; j < finds; j++) {
		uint64_t key = w.keys[w.rng.below(s.n[TKEY])];
		void *obj;

		if (j % 5 == 4)
			key |= ABSENT;
		obj = p.find(TKEY, key);
		if (obj)
			sum += word(obj)[TOUCH];
	}
	for (int j = 0; j < churn; j++) {
		int t = j % NT;
		uint64_t pos = w.rng.below(s.n[t]), r;
		void *obj;

		p.free(t, w.ref[t][pos]);
		if (t == TKEY) {
			w.keys[pos] = fresh_key(w);
			obj = p.keyed(t, w.keys[pos], &r);
		} else {
			obj = p.alloc(t, false, &r);
		}
		word(obj)[TOUCH] = pos;
		w.ref[t][pos] = r;
	}
	return sum;
}

/* A full pass of random gets over type 0 (64 B): ns per get. */
/*
 * The timed blocks are not inlined: callgrind then counts each (peer,
 * phase) under its own symbol (bench/counts.sh).
 */
#define BLOCK __attribute__((noinline))

template <class P>
static BLOCK double tick_block(P &p, const Shared &s, World &w)
{
	uint64_t t0 = now_ns(), sum = 0;

	for (int i = 0; i < s.ticks; i++)
		sum += tick(p, s, w);
	sink += sum;
	return (double)(now_ns() - t0) / s.ticks / 1000.0;
}

template <class P>
static BLOCK double pass_get(P &p, const Shared &s, World &w)
{
	uint64_t sum = 0, t0 = now_ns();

	for (uint64_t i = 0; i < s.n[0]; i++) {
		void *obj = p.get(0, w.ref[0][s.perm[0][i]]);

		if (__builtin_expect(obj != nullptr, 1))
			sum += word(obj)[TOUCH];
	}
	sink += sum;
	return (double)(now_ns() - t0) / (double)s.n[0];
}

/* Every key of the KEYED type once, in random order, 1 in 4 made absent. */
template <class P>
static BLOCK double pass_find(P &p, const Shared &s, World &w)
{
	uint64_t sum = 0, t0 = now_ns(), n = s.n[TKEY];

	for (uint64_t i = 0; i < n; i++) {
		uint64_t key = w.keys[s.perm[TKEY][i]];
		void *obj = p.find(TKEY, (i & 3) == 3 ? key | ABSENT : key);

		if (obj)
			sum += word(obj)[TOUCH];
	}
	sink += sum;
	return (double)(now_ns() - t0) / (double)n;
}

/* Every object of type t freed and replaced, in random order: ns per pair. */
template <int t, bool zero, class P>
static BLOCK double pass_churn(P &p, const Shared &s, World &w)
{
	uint64_t t0 = now_ns(), n = s.n[t];

	for (uint64_t i = 0; i < n; i++) {
		uint64_t pos = s.perm[t][i], r;
		void *obj;

		p.free(t, w.ref[t][pos]);
		if (t == TKEY) {
			w.keys[pos] = fresh_key(w);
			obj = p.keyed(t, w.keys[pos], &r);
		} else {
			obj = p.alloc(t, zero, &r);
		}
		word(obj)[TOUCH] = i;
		w.ref[t][pos] = r;
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* Free and malloc again every object of a private pointer array (at most
 * BARE_MAX), in random order, besides the peer's own objects. */
#define BARE_MAX (1ULL << 20)
template <class P>
static BLOCK double bare_churn(P &p, World &w, const Shared &s, int t)
{
	std::vector<void *> &b = w.bare[t];
	uint64_t n = std::min<uint64_t>(s.n[t], BARE_MAX), t0;

	if (b.empty()) {
		b.resize(n);
		for (uint64_t i = 0; i < n; i++)
			b[i] = p.m.malloc(type_size[t]);
	}
	t0 = now_ns();
	for (uint64_t i = 0, j = 0; j < n; i++) {
		uint64_t pos = s.perm[t][i];

		if (pos >= n)
			continue;
		p.m.free(b[pos]);
		b[pos] = p.m.malloc(type_size[t]);
		word(b[pos])[TOUCH] = i;
		j++;
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* One type per family: callgrind names each family's blocks apart. */
template <int F>
struct MallocPeerF : MallocPeer {
	using MallocPeer::MallocPeer;
};

/* ---- peers in a box: one virtual call per timed block ------------------ */

/* --phases names them so */
static const char *const phase_key[NPH] = {
	"tick", "get", "find", "af64", "af64z", "af128k", "af256", "af256z", "bare64", "bare256",
};
const char *const phase_name[NPH] = {
	"tick (µs)", "get (ns)", "find (ns)", "alloc+free 64", "alloc+free 64 zeroing",
	"force_get+free 128 keyed", "alloc+free 256", "alloc+free 256 zeroing",
	"bare malloc+free 64", "bare malloc+free 256",
};

struct Box {
	std::string name;
	World w;
	double mem_per_obj = NAN;	/* bytes beyond the object: metadata + index */
	double huge_share = NAN;	/* of the memory its build added, in huge pages */
	virtual ~Box() {}
	virtual void build(const Shared &s) = 0;
	virtual double run(Phase ph, const Shared &s) = 0;	/* NAN: not this peer's */
	virtual void destroy() = 0;
};

template <class P>
struct PeerBox : Box {
	P p;
	template <class... A>
	explicit PeerBox(const char *n, A &&...a) : p(a...) { name = n; }
	void build(const Shared &s) override { ::build(p, s, w); }
	double run(Phase ph, const Shared &s) override
	{
		switch (ph) {
		case PH_TICK:
			return tick_block(p, s, w);
		case PH_GET:
			return pass_get(p, s, w);
		case PH_FIND:
			return pass_find(p, s, w);
		case PH_AF64:
			return pass_churn<0, false>(p, s, w);
		case PH_AF64Z:
			return pass_churn<0, true>(p, s, w);
		case PH_AF128K:
			return pass_churn<TKEY, true>(p, s, w);
		case PH_AF256:
			return pass_churn<2, false>(p, s, w);
		case PH_AF256Z:
			return pass_churn<2, true>(p, s, w);
		default:
			return bare(ph, s);
		}
	}
	/* Bare malloc churn (no table): only the malloc peers have it. */
	double bare(Phase ph, const Shared &s)
	{
		if constexpr (std::is_base_of<MallocPeer, P>::value)
			return bare_churn(p, w, s, ph == PH_BARE64 ? 0 : 2);
		return NAN;
	}
	void destroy() override { p.destroy(); }
};

/* The raw pointer: gets only, on 4 KiB or transparent huge pages. */
struct RawPeer {
	unsigned char *mem = nullptr;
	uint64_t bytes = 0;
	bool huge;
	explicit RawPeer(bool h) : huge(h) {}
	void *get(int, uint64_t ref) const { return reinterpret_cast<void *>(ref); }
	void destroy()
	{
		if (mem)
			munmap(mem, bytes);
		mem = nullptr;
	}
};

struct RawBox : Box {
	RawPeer p;
	explicit RawBox(const char *n, bool huge) : p(huge) { name = n; }
	void build(const Shared &s) override
	{
		p.bytes = s.n[0] * 64;
		p.mem = static_cast<unsigned char *>(bench_map(p.bytes, p.huge));
		w.ref[0].resize(s.n[0]);
		for (uint64_t i = 0; i < s.n[0]; i++) {
			w.ref[0][i] = (uint64_t)(p.mem + i * 64);
			word(p.mem + i * 64)[TOUCH] = i;
		}
	}
	double run(Phase ph, const Shared &s) override { return ph == PH_GET ? pass_get(p, s, w) : NAN; }
	void destroy() override { p.destroy(); }
};

/* ---- peers ------------------------------------------------------------- */

static uint64_t key_base;

struct ShmBox : PeerBox<ShmPeer> {
	TypeSpec ts[NT];
	ShmBox() : PeerBox<ShmPeer>("shmpool") {}
	void build(const Shared &s) override
	{
		for (int t = 0; t < NT; t++)
			ts[t] = { type_size[t], t == TKEY, s.n[t] + s.n[t] / 8 + 1024 };
		p.open(key_base, ts, NT, bench_thp);
		PeerBox<ShmPeer>::build(s);
	}
};

struct SlabBox : PeerBox<SlabPeer> {
	SlabBox() : PeerBox<SlabPeer>("slab floor") {}
	void build(const Shared &s) override
	{
		TypeSpec ts[NT];

		for (int t = 0; t < NT; t++)
			ts[t] = { type_size[t], t == TKEY, s.n[t] + s.n[t] / 8 + 1024 };
		p.open(ts, NT);
		PeerBox<SlabPeer>::build(s);
	}
};

template <int F>
struct MallocBox : PeerBox<MallocPeerF<F>> {
	explicit MallocBox(const char *n, const MallocFns &f) : PeerBox<MallocPeerF<F>>(n, f) {}
	void build(const Shared &s) override
	{
		TypeSpec ts[NT];

		for (int t = 0; t < NT; t++)
			ts[t] = { type_size[t], t == TKEY, s.n[t] + 1024 };
		this->p.open(ts, NT);
		PeerBox<MallocPeerF<F>>::build(s);
	}
	void destroy() override
	{
		for (int t = 0; t < NT; t++)
			for (void *b : this->w.bare[t])
				this->p.m.free(b);
		PeerBox<MallocPeerF<F>>::destroy();
	}
};

template <class P>
struct BoostBox : PeerBox<P> {
	explicit BoostBox(const char *n) : PeerBox<P>(n) {}
	void build(const Shared &s) override
	{
		TypeSpec ts[NT];

		for (int t = 0; t < NT; t++)
			ts[t] = { type_size[t], t == TKEY, s.n[t] + 1024 };
		this->p.open(ts, NT);
		PeerBox<P>::build(s);
	}
};

static bool load_malloc(const char *lib, const char *name, MallocFns *f)
{
	void *h = dlmopen(LM_ID_NEWLM, lib, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "bench_tick: %s: %s (the %s peer is skipped)\n", lib, dlerror(), name);
		return false;
	}
	f->name = name;
	f->malloc = reinterpret_cast<void *(*)(size_t)>(dlsym(h, "malloc"));
	f->free = reinterpret_cast<void (*)(void *)>(dlsym(h, "free"));
	return f->malloc && f->free;
}

/* ---- the driver --------------------------------------------------------- */

static MallocFns fns_glibc = { "glibc", malloc, free }, fns_je, fns_mi, fns_tc;
static bool have_je, have_mi, have_tc;

static std::vector<Box *> make_others()
{
	std::vector<Box *> v;

	v.push_back(new MallocBox<0>("glibc + table", fns_glibc));
	if (have_je)
		v.push_back(new MallocBox<1>("jemalloc + table", fns_je));
	if (have_mi)
		v.push_back(new MallocBox<2>("mimalloc + table", fns_mi));
	if (have_tc)
		v.push_back(new MallocBox<3>("tcmalloc + table", fns_tc));
	v.push_back(new BoostBox<BoostPeer<NodeLocked>>("Boost node_allocator (locked)"));
	v.push_back(new BoostBox<BoostPeer<NodePrivate>>("Boost private_node_allocator (no lock)"));
	return v;
}

static void make_shared(Shared &s, uint64_t n, int k)
{
	Rng rng = { 7 };

	s.n[0] = n / 3;
	s.n[1] = n / 3;
	s.n[2] = n - 2 * (n / 3);
	for (int t = 0; t < NT; t++) {
		s.perm[t].resize(s.n[t]);
		for (uint64_t i = 0; i < s.n[t]; i++)
			s.perm[t][i] = (uint32_t)i;
		for (uint64_t i = s.n[t] - 1; i > 0; i--)
			std::swap(s.perm[t][i], s.perm[t][rng.below(i + 1)]);
	}
	s.k = k;
	/* a block's lookups cover every object at least once */
	s.ticks = (int)std::max<uint64_t>(n / (uint64_t)k + 1, 100);
}

static double avg_size() { return (64.0 + 128.0 + 256.0) / 3; }

static CountResult run_count(const Opts &o, uint64_t n)
{
	CountResult cr = { n, {}, 0, 0, n >= 5000000 ? std::min(o.reps, o.reps_large) : o.reps };
	Shared s;
	std::vector<Box *> others = make_others();
	/* measured: 190 (shmpool) to 255 (glibc) bytes per object, with the references */
	uint64_t est = n * 260 + (64 << 20);

	if (!o.only.empty()) {	/* no group without a peer that --only names */
		std::vector<Box *> keep;

		for (Box *b : others)
			if (o.only.find("," + b->name.substr(0, b->name.find(' ')) + ",") != std::string::npos)
				keep.push_back(b);
			else
				delete b;
		others = keep;
	}
	make_shared(s, n, o.k);
	cr.ticks = s.ticks;
	/* at least one group: shmpool, the floor and the raw pointers */
	for (size_t first = 0, per_group = 1; first == 0 || first < others.size();
	     first += per_group, cr.groups++) {
		std::vector<Box *> boxes = { new ShmBox(), new SlabBox() };
		int g = cr.groups;
		/*
		 * What fits now: the machine is shared, and other jobs' memory
		 * moves; never more than --mem-gib (BENCH_MEM_GIB) in all.
		 */
		uint64_t budget = std::min<uint64_t>(mem_available() / 100 * 70, o.mem_budget),
			 fit = budget / est;

		per_group = fit > 3 + (uint64_t)(g == 0) ? fit - 2 - (g == 0) : 1;
		if (fit < 3)
			fprintf(stderr, "bench_tick: %" PRIu64 " live: %.1f GB available, about %.1f GB needed "
				"for shmpool, the floor and one peer: the run may fail\n", n,
				(double)mem_available() / 1e9, 3.0 * (double)est / 1e9);

		if (g == 0) {
			boxes.push_back(new RawBox("raw pointer (4 KiB pages)", false));
			boxes.push_back(new RawBox("raw pointer (THP madvise)", true));
		}
		for (size_t i = first; i < others.size() && i < first + per_group; i++)
			boxes.push_back(others[i]);
		if (!o.only.empty()) {	/* --only: shmpool stays, it is the base */
			std::vector<Box *> keep;

			for (Box *b : boxes)
				if (b == boxes[0] || o.only.find("," + b->name.substr(0, b->name.find(' ')) + ",") != std::string::npos)
					keep.push_back(b);
				else
					delete b;
			boxes = keep;
		}
		fprintf(stderr, "bench_tick: %" PRIu64 " live, group %d: building", n, g + 1);
		for (Box *b : boxes) {
			uint64_t r0 = rss_bytes(), h0 = huge_bytes(), grew;

			fprintf(stderr, " [%s]", b->name.c_str());
			b->build(s);
			grew = rss_bytes() - r0;
			b->mem_per_obj = (double)grew / (double)n - avg_size();
			b->huge_share = grew ? (double)(huge_bytes() - h0) / (double)grew : 0;
		}
		fputc('\n', stderr);
		std::vector<std::vector<double>> vals(boxes.size() * NPH);
		for (int ph = 0; ph < NPH; ph++) {
			if (!o.phases.empty() && o.phases.find("," + std::string(phase_key[ph]) + ",") == std::string::npos)
				continue;
			fprintf(stderr, "bench_tick: %" PRIu64 " live, group %d: %s\n", n, g + 1, phase_name[ph]);
			for (int r = 0; r < cr.reps; r++)
				for (size_t j = 0; j < boxes.size(); j++) {
					size_t i = (j + (size_t)r) % boxes.size();
					double v = boxes[i]->run((Phase)ph, s);

					if (!std::isnan(v))
						vals[i * NPH + ph].push_back(v);
				}
		}
		for (size_t i = 0; i < boxes.size(); i++) {
			Row row;

			row.name = boxes[i]->name;
			row.group = g;
			row.mem = (dynamic_cast<RawBox *>(boxes[i])) ? NAN : boxes[i]->mem_per_obj;
			row.huge = boxes[i]->huge_share;
			for (int ph = 0; ph < NPH; ph++) {
				std::vector<double> &v = vals[i * NPH + ph], &base = vals[0 * NPH + ph];
				std::vector<double> rat;

				row.val[ph] = median(v);
				if (v.size() == base.size())
					for (size_t r = 0; r < v.size(); r++)
						rat.push_back(v[r] / base[r]);
				row.ratio[ph] = median(rat);
			}
			/* shmpool and the floor: the first group's figures */
			if (g == 0 || (row.name != "shmpool" && row.name != "slab floor"))
				cr.rows.push_back(row);
		}
		for (Box *b : boxes) {
			b->destroy();
			delete b;
		}
	}
	return cr;
}

static RestartResult run_restart(const Opts &o, uint64_t n)
{
	RestartResult rr = { n, 0, 0, 0, 0, 0, 0, 0, 0 };
	std::vector<double> open_ms, open_lib, first, warm, copen, rep, rate;
	Shared s;
	ShmBox b;

	make_shared(s, n, o.k);
	fprintf(stderr, "bench_tick: restart at %" PRIu64 " live: building\n", n);
	b.build(s);
	sp_close(&b.p.p);
	for (int r = 0; r < o.reps; r++) {
		uint64_t t0 = now_ns(), on, rn, ro, sum = 0;

		b.p.open(key_base, b.ts, NT, bench_thp);
		open_ms.push_back((double)(now_ns() - t0) / 1e6);
		if (sp_start(&b.p.p) != 1)
			bench_die("restart: the pool did not resume clean");
		sp_stats(&b.p.p, &on, &rn, &ro);
		open_lib.push_back((double)on / 1e6);
		for (int pass = 0; pass < 2; pass++) {
			t0 = now_ns();
			for (int t = 0; t < NT; t++)
				for (uint64_t i = 0; i < s.n[t]; i++)
					sum += word(b.p.get(t, b.w.ref[t][s.perm[t][i]]))[TOUCH];
			(pass ? warm : first).push_back((double)(now_ns() - t0) / 1e6);
		}
		sink += sum;
		sp_close(&b.p.p);
	}
	for (int r = 0; r < o.reps; r++) {
		uint64_t t0, on, rn, ro;

		b.p.open(key_base, b.ts, NT, bench_thp);
		sp_abandon(&b.p.p);
		t0 = now_ns();
		b.p.open(key_base, b.ts, NT, bench_thp);
		copen.push_back((double)(now_ns() - t0) / 1e6);
		if (sp_start(&b.p.p) != 2)
			bench_die("restart: the pool did not resume after a crash");
		sp_stats(&b.p.p, &on, &rn, &ro);
		if (ro != n)
			bench_die("restart: repair found %" PRIu64 " objects, not %" PRIu64, ro, n);
		rep.push_back((double)rn / 1e6);
		rate.push_back((double)ro * 1e3 / (double)rn);
		sp_close(&b.p.p);
	}
	b.p.open(key_base, b.ts, NT, bench_thp);
	b.destroy();
	rr.open_ms = median(open_ms);
	rr.open_lib_ms = median(open_lib);
	rr.first_ms = median(first);
	rr.warm_ms = median(warm);
	rr.crash_open_ms = median(copen);
	rr.repair_ms = median(rep);
	rr.repair_rate = median(rate);
	rr.crash_rate = (double)n / 1e3 / rr.crash_open_ms;
	return rr;
}

/*
 * The regions a killed run left behind (its pid is gone): shmpool's POSIX
 * regions of keys KEY_BASE + (pid << 8) + i, and the Boost segments.
 */
#define KEY_BASE 0x5BE0000000ULL
static void remove_stale()
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		unsigned long long key = 0;
		long pid = -1;
		const char *dot = strrchr(e->d_name, '.');

		if (!strncmp(e->d_name, "shmpool-bench-boost-", 20))
			pid = atol(e->d_name + 20);
		else if (!strncmp(e->d_name, "shmpool.", 8) && dot && sscanf(dot + 1, "%llx", &key) == 1 &&
			 key >= KEY_BASE && key - KEY_BASE < (1ULL << 32))
			pid = (long)((key - KEY_BASE) >> 8);
		if (pid > 0 && kill((pid_t)pid, 0) && errno == ESRCH) {
			char path[300];

			snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
			if (!unlink(path))
				fprintf(stderr, "bench_tick: removed %s (left by the killed run %ld)\n", path, pid);
		}
	}
	closedir(d);
}

/* ---- main --------------------------------------------------------------- */

static std::vector<uint64_t> parse_list(const char *arg)
{
	std::vector<uint64_t> v;
	const char *p = arg;

	while (*p) {
		char *end;
		double d = strtod(p, &end);

		if (end == p || d < 1 || d > 1e9 || (*end && *end != ','))
			bench_die("bad count list \"%s\"", arg);
		v.push_back((uint64_t)d);
		p = *end ? end + 1 : end;
	}
	return v;
}

int main(int argc, char **argv)
{
	Opts o;

	/* jemalloc's initial-exec TLS needs room in a second namespace */
	if (!getenv("BENCH_TICK_REEXEC")) {
		std::string t = "glibc.rtld.optional_static_tls=65536";
		const char *old = getenv("GLIBC_TUNABLES");

		/*
		 * --thp: each malloc family's own switch for transparent huge
		 * pages (madvise); tcmalloc (gperftools) has none.
		 */
		for (int i = 1; i < argc; i++)
			if (!strcmp(argv[i], "--thp")) {
				t += ":glibc.malloc.hugetlb=1";
				setenv("MALLOC_CONF", "thp:always,metadata_thp:always", 1);
				setenv("MIMALLOC_LARGE_OS_PAGES", "1", 1);
			}
		if (old && *old)
			t = std::string(old) + ":" + t;
		setenv("GLIBC_TUNABLES", t.c_str(), 1);
		setenv("BENCH_TICK_REEXEC", "1", 1);
		execv("/proc/self/exe", argv);
		bench_die("re-exec: %s", strerror(errno));
	}
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];

		if (i + 1 < argc && a == "--counts")
			o.counts = parse_list(argv[++i]);
		else if (i + 1 < argc && a == "--restart-counts")
			o.restart_counts = parse_list(argv[++i]);
		else if (i + 1 < argc && a == "--reps")
			o.reps = atoi(argv[++i]);
		else if (i + 1 < argc && a == "--reps-large")
			o.reps_large = atoi(argv[++i]);
		else if (i + 1 < argc && a == "--only")
			o.only = std::string(",") + argv[++i] + ",";
		else if (i + 1 < argc && a == "--phases")
			o.phases = std::string(",") + argv[++i] + ",";
		else if (i + 1 < argc && a == "--k")
			o.k = atoi(argv[++i]);
		else if (i + 1 < argc && a == "--csv")
			o.csv = argv[++i];
		else if (a == "--thp")
			bench_thp = o.thp = true;
		else if (i + 1 < argc && a == "--mem-gib")
			o.mem_budget = (uint64_t)(atof(argv[++i]) * (1 << 30));
		else
			bench_die("usage: bench_tick [--counts N,..] [--restart-counts N,..] [--reps R] [--reps-large R] [--k K] [--csv FILE] [--mem-gib G] [--thp] [--only slab,glibc,..] [--phases tick,get,..] (bad \"%s\")",
				  a.c_str());
	}
	if (o.reps < 1 || o.reps > 99 || o.reps_large < 1 || o.reps_large > 99 || o.k < 100)
		bench_die("--reps and --reps-large 1..99, --k ≥ 100 (got %d, %d, %d)", o.reps, o.reps_large, o.k);
	if (o.mem_budget < (64ULL << 20))
		bench_die("--mem-gib: at least 0.0625 (64 MiB)");
	for (uint64_t n : o.counts)
		if (n < 300)
			bench_die("count %" PRIu64 ": at least 300", n);
	if (o.csv && !(csv = fopen(o.csv, "w")))
		bench_die("%s: %s", o.csv, strerror(errno));
	key_base = KEY_BASE + ((uint64_t)getpid() << 8);
	remove_stale();
	have_je = load_malloc("libjemalloc.so.2", "jemalloc", &fns_je);
	have_mi = load_malloc("libmimalloc.so.2", "mimalloc", &fns_mi);
	have_tc = load_malloc("libtcmalloc_minimal.so.4", "tcmalloc", &fns_tc);

	std::vector<CountResult> crs;
	std::vector<RestartResult> rs;
	for (uint64_t n : o.counts) {
		crs.push_back(run_count(o, n));
		print_count(crs.back(), o);
	}
	for (uint64_t n : o.restart_counts)
		rs.push_back(run_restart(o, n));
	if (!rs.empty())
		print_restart(rs, o);
	print_targets(crs, rs);
	if (csv)
		fclose(csv);
	return 0;
}
