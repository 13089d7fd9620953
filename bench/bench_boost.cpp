// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_boost: Boost.Interprocess, the peer of bench_pool, with the same
 * operations and counts and the same CSV rows.
 *
 *   bench_boost pool [--sizes L] [--counts L] [--runs N] [--ops N]
 *       managed_shared_memory allocate/deallocate (rbtree_best_fit) and
 *       node_allocator allocate_one/deallocate_one, N live objects, a new
 *       object replacing an old one round the array, as bench_pool does.
 *   bench_boost restart [--counts L] [--runs N]
 *       process start -> open_only + find<T>("objects") of N 256-byte objects.
 */
#include <boost/interprocess/allocators/node_allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>

#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace bip = boost::interprocess;

static volatile uint64_t sink;

static uint64_t now_ns()
{
	timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void row(const char *section, const char *op, const char *impl, uint64_t size,
		uint64_t live, double value, const char *unit, const std::string &note)
{
	std::printf("%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%.3f,%s,%s\n", section, op, impl, size,
		    live, value, unit, note.c_str());
	std::fflush(stdout);
}

static uint64_t mem_available()
{
	char line[256];
	uint64_t v = 0;
	FILE *f = std::fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (std::fgets(line, sizeof(line), f))
		if (!std::strncmp(line, "MemAvailable:", 13))
			v = std::strtoull(line + 13, nullptr, 10) * 1024;
	std::fclose(f);
	struct statvfs sv;
	if (!statvfs("/dev/shm", &sv) && (uint64_t)sv.f_bavail * sv.f_frsize < v)
		v = (uint64_t)sv.f_bavail * sv.f_frsize;
	return v;
}

/* The same scaling rule as bench_pool. */
static uint64_t fit_count(uint64_t want, uint64_t each, std::string &note)
{
	uint64_t budget = mem_available() / 100 * 45;

	note.clear();
	if (!budget || want * each <= budget)
		return want;
	note = "scaled from " + std::to_string(want) + " to fit 45% of free memory";
	return budget / each / 1000 * 1000;
}

struct opts {
	std::vector<uint64_t> sizes{64, 256, 1024}, counts{1000, 100000, 10000000};
	int runs = 5;
	uint64_t ops = 1000000;
	std::string name;
};

template <size_t S> struct obj {
	unsigned char b[S];
};

template <size_t S>
static void bench_node(const opts &o, bip::managed_shared_memory &seg, uint64_t live,
		       const std::string &note)
{
	typedef bip::node_allocator<obj<S>, bip::managed_shared_memory::segment_manager> alloc_t;
	alloc_t al(seg.get_segment_manager());
	std::vector<typename alloc_t::pointer> ps(live);
	std::vector<double> af;

	for (uint64_t i = 0; i < live; i++)
		ps[i] = al.allocate_one();
	for (int r = 0; r < o.runs; r++) {
		uint64_t t = now_ns(), k = 0;

		for (uint64_t i = 0; i < o.ops; i++, k = k + 1 == live ? 0 : k + 1) {
			typename alloc_t::pointer p = al.allocate_one();
			p->b[0] = (unsigned char)i;
			al.deallocate_one(ps[k]);
			ps[k] = p;
		}
		af.push_back((double)(now_ns() - t) / (double)o.ops);
	}
	for (uint64_t i = 0; i < live; i++)
		al.deallocate_one(ps[i]);
	row("pool", "alloc+free", "Boost.IPC node_allocator", S, live, median(af), "ns/op", note);
}

static void bench_size(const opts &o, uint64_t size, uint64_t want)
{
	std::string note;
	uint64_t live = fit_count(want, size + 16 + 16, note); // as bench_pool: same counts
	uint64_t seg_size = live * (size + 64) * 5 / 4 + (16 << 20);

	bip::shared_memory_object::remove(o.name.c_str());
	{
		bip::managed_shared_memory seg(bip::create_only, o.name.c_str(), seg_size);
		std::vector<void *> ps(live);
		std::vector<double> af;

		for (uint64_t i = 0; i < live; i++)
			ps[i] = seg.allocate(size);
		for (int r = 0; r < o.runs; r++) {
			uint64_t t = now_ns(), k = 0;

			for (uint64_t i = 0; i < o.ops; i++, k = k + 1 == live ? 0 : k + 1) {
				void *p = seg.allocate(size);
				*(unsigned char *)p = (unsigned char)i;
				seg.deallocate(ps[k]);
				ps[k] = p;
			}
			af.push_back((double)(now_ns() - t) / (double)o.ops);
		}
		for (uint64_t i = 0; i < live; i++)
			seg.deallocate(ps[i]);
		row("pool", "alloc+free", "Boost.IPC managed_shm", size, live, median(af), "ns/op", note);
	}
	bip::shared_memory_object::remove(o.name.c_str());
	{
		bip::managed_shared_memory seg(bip::create_only, o.name.c_str(), seg_size);

		switch (size) {
		case 64: bench_node<64>(o, seg, live, note); break;
		case 256: bench_node<256>(o, seg, live, note); break;
		case 1024: bench_node<1024>(o, seg, live, note); break;
		default: std::fprintf(stderr, "bench_boost: node_allocator: only 64, 256, 1024\n");
		}
	}
	bip::shared_memory_object::remove(o.name.c_str());
}

/* restart: the child opens the segment and finds the objects */
static int child_main(const char *name)
{
	bip::managed_shared_memory seg(bip::open_only, name);
	std::pair<obj<256> *, size_t> r = seg.find<obj<256>>("objects");

	if (!r.first)
		return 1;
	sink += r.first[0].b[0];
	std::printf("%" PRIu64 "\n", now_ns());
	return 0;
}

static void bench_restart(const opts &o, const char *self)
{
	for (uint64_t want : o.counts) {
		std::string note;
		uint64_t live = fit_count(want, 272 * 2, note);
		const uint64_t slot = 272;
		uint64_t cap = std::max(live, (uint64_t)(64 << 20) / slot);
		std::vector<double> t;

		bip::shared_memory_object::remove(o.name.c_str());
		{
			bip::managed_shared_memory seg(bip::create_only, o.name.c_str(),
						       cap * slot + (16 << 20));
			obj<256> *a = seg.construct<obj<256>>("objects")[live]();
			for (uint64_t i = 0; i < live; i++)
				std::memset(a[i].b, (int)i, sizeof(a[i].b));
		}
		for (int r = 0; r < o.runs; r++) {
			int fds[2], st;
			char buf[64];

			if (pipe(fds))
				std::exit(1);
			uint64_t t0 = now_ns();
			pid_t pid = fork();
			if (pid == 0) {
				dup2(fds[1], 1);
				execl(self, self, "child", o.name.c_str(), (char *)nullptr);
				_exit(127);
			}
			close(fds[1]);
			ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
			close(fds[0]);
			if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || n <= 0) {
				std::fprintf(stderr, "bench_boost: restart child failed\n");
				std::exit(1);
			}
			buf[n] = '\0';
			t.push_back((double)(std::strtoull(buf, nullptr, 10) - t0) / 1e3);
		}
		bip::shared_memory_object::remove(o.name.c_str());
		std::string n2 = note.empty() ? "" : note + "; ";
		n2 += "pool " + std::to_string(cap * slot >> 20) + " MiB";
		row("restart", "open+find", "Boost.IPC", 256, live, median(t), "us", n2);
	}
}

static std::vector<uint64_t> parse_list(const char *s)
{
	std::vector<uint64_t> v;
	char *end;

	while (*s) {
		double x = std::strtod(s, &end);
		if (end == s || x < 1 || (*end && *end != ',')) {
			std::fprintf(stderr, "bench_boost: bad list '%s'\n", s);
			std::exit(2);
		}
		v.push_back((uint64_t)x);
		s = *end ? end + 1 : end;
	}
	return v;
}

int main(int argc, char **argv)
{
	std::string what = argc > 1 ? argv[1] : "";
	opts o;

	if (what == "child" && argc == 3)
		return child_main(argv[2]);
	if (what != "pool" && what != "restart") {
		std::fprintf(stderr, "usage: bench_boost pool|restart [--sizes L] [--counts L] [--runs N] [--ops N]\n");
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		std::string a = argv[i];
		if (a == "--sizes")
			o.sizes = parse_list(argv[i + 1]);
		else if (a == "--counts")
			o.counts = parse_list(argv[i + 1]);
		else if (a == "--runs")
			o.runs = std::atoi(argv[i + 1]);
		else if (a == "--ops")
			o.ops = std::strtoull(argv[i + 1], nullptr, 10);
		else {
			std::fprintf(stderr, "bench_boost: unknown option %s\n", a.c_str());
			return 2;
		}
	}
	if (o.runs < 1 || !o.ops)
		return 2;
	o.name = "shmpool-bench-boost." + std::to_string(getpid());
	try {
		if (what == "pool") {
			for (uint64_t s : o.sizes)
				for (uint64_t c : o.counts)
					bench_size(o, s, c);
		} else {
			bench_restart(o, "/proc/self/exe");
		}
	} catch (const std::exception &e) {
		bip::shared_memory_object::remove(o.name.c_str());
		std::fprintf(stderr, "bench_boost: %s\n", e.what());
		return 1;
	}
	return 0;
}
