// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_cpp: what the C++ layer (libshmdev/shmdev.hpp) costs over the C calls
 * it wraps (issue 15, item 5), for `make bench` (bench/bench.sh prints it
 * after the tick tables) and `make bench-cpp`.  Never a timed test.
 *
 *   bench_cpp [--ops N] [--reps R] [--items N] [--players N]
 *   bench_cpp --counts N     (for callgrind: bench/cpp_counts.sh)
 *
 * One pool, opened through the C++ layer; the C rows call the C functions on
 * the same pool (pool.native()), so both sides do the same work on the same
 * objects in the same order:
 *   get (inline)   K random live Items, one field read: shmdev_get_fast()
 *                  against fast_path<Item>::get();
 *   get (call)     the same through the library: shmdev_get_typed() against
 *                  pool::get() (which wraps it);
 *   alloc+free     shmdev_alloc() + shmdev_free() against pool::alloc<Item>()
 *                  + pool::free() (shmdev_free_typed(): the C++ free checks
 *                  the handle's type);
 *   find           random Player keys, one in ten absent: shmdev_find()
 *                  against pool::find<Player>();
 *   force_get      random present keys: shmdev_force_get() against
 *                  pool::force_get<Player>().
 * Each repetition runs every row's C and C++ loops back to back, C first in
 * even repetitions and C++ first in odd ones; a row prints the median ns per
 * operation of each side (CLOCK_MONOTONIC around the loop) and the median
 * of the per-repetition ratios C++/C.  The pool is POSIX (SHMDEV_BACKEND
 * unless set) under a prefix of its own, 4 KiB pages, destroyed at the end.
 */
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench_median.h"
#include "shmdev.hpp"

namespace {

struct Item {
	std::uint64_t stamp;
	std::uint8_t rest[56];
};
struct Player {
	std::uint64_t id, gold;
	std::uint8_t rest[240];
};

} // namespace

SHMDEV_TYPE(Item, 0, "Item", 1, shmdev::plain);
SHMDEV_TYPE(Player, 1, "Player", 1, shmdev::keyed);

namespace {

struct world {
	shmdev::pool *pool;
	shmdev_pool *c;			/* the same pool, for the C rows */
	shmdev_ctx *ctx;		/* its context, for the C rows' messages */
	shmdev_fast cf;			/* shmdev_get_fast's, for Item */
	shmdev::fast_path<Item> fp;
	struct shmdev_find_fast cff;		/* shmdev_find_fast's, for Player */
	shmdev::fast_path<Player> pfp;
	std::vector<shmdev::handle<Item>> items;	/* live, in random order */
	std::vector<std::uint64_t> keys;		/* find: 1 in 10 absent */
	std::vector<std::uint64_t> present;		/* force_get */
};

std::uint64_t now_ns()
{
	timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (std::uint64_t)ts.tv_sec * 1000000000ULL + (std::uint64_t)ts.tv_nsec;
}

[[noreturn]] void die(const char *what, const std::string &msg)
{
	std::fprintf(stderr, "bench_cpp: %s: %s\n", what, msg.c_str());
	std::exit(1);
}

volatile std::uint64_t sink;

} // namespace

/*
 * One call of each side, out of line and with C names, so that callgrind's
 * inclusive cost per call is the operation's (bench/cpp_counts.sh).
 */
extern "C" {
__attribute__((noinline)) std::uint64_t op_c_get_fast(world *w, std::size_t i)
{
	auto *it = static_cast<Item *>(shmdev_get_fast(&w->cf, w->items[i].raw()));

	return it ? it->stamp : 0;
}
__attribute__((noinline)) std::uint64_t op_cpp_get_fast(world *w, std::size_t i)
{
	Item *it = w->fp.get(w->items[i]);

	return it ? it->stamp : 0;
}
__attribute__((noinline)) std::uint64_t op_c_get_call(world *w, std::size_t i)
{
	auto *it = static_cast<Item *>(shmdev_get_typed(w->c, 0, w->items[i].raw()));

	return it ? it->stamp : 0;
}
__attribute__((noinline)) std::uint64_t op_cpp_get_call(world *w, std::size_t i)
{
	Item *it = w->pool->get(w->items[i]);

	return it ? it->stamp : 0;
}
__attribute__((noinline)) std::uint64_t op_c_alloc_free(world *w, std::size_t)
{
	void *obj;
	shmdev_handle_t h;

	if (shmdev_alloc(w->c, 0, &obj, &h) || shmdev_free(w->c, h))
		die("C alloc+free", shmdev_errmsg(w->ctx));
	return h;
}
__attribute__((noinline)) std::uint64_t op_cpp_alloc_free(world *w, std::size_t)
{
	auto r = w->pool->alloc<Item>();

	if (!r || !w->pool->free(r->handle))
		die("C++ alloc+free", r.message());
	return r->handle.raw();
}
__attribute__((noinline)) std::uint64_t op_c_find(world *w, std::size_t i)
{
	shmdev_handle_t h;
	auto *p = static_cast<Player *>(shmdev_find(w->c, 1, w->keys[i], &h));

	return p ? p->gold : 0;
}
__attribute__((noinline)) std::uint64_t op_cpp_find(world *w, std::size_t i)
{
	auto r = w->pool->find<Player>(w->keys[i]);

	return r ? r->gold : 0;
}
__attribute__((noinline)) std::uint64_t op_c_find_fast(world *w, std::size_t i)
{
	shmdev_handle_t h;
	auto *p = static_cast<Player *>(shmdev_find_fast(&w->cff, w->keys[i], &h));

	return p ? p->gold : 0;
}
__attribute__((noinline)) std::uint64_t op_cpp_find_fast(world *w, std::size_t i)
{
	auto r = w->pfp.find(w->keys[i]);

	return r ? r->gold : 0;
}
__attribute__((noinline)) std::uint64_t op_c_force_get(world *w, std::size_t i)
{
	void *obj;
	shmdev_handle_t h;
	bool created;

	if (shmdev_force_get(w->c, 1, w->present[i], &obj, &h, &created))
		die("C force_get", shmdev_errmsg(w->ctx));
	return static_cast<Player *>(obj)->gold;
}
__attribute__((noinline)) std::uint64_t op_cpp_force_get(world *w, std::size_t i)
{
	auto r = w->pool->force_get<Player>(w->present[i]);

	if (!r)
		die("C++ force_get", r.message());
	return r->ptr->gold;
}
}

namespace {

using op_fn = std::uint64_t (*)(world *, std::size_t);

struct row {
	const char *name;
	op_fn c, cpp;
	std::size_t (*span)(const world &);	/* the index range the op cycles through */
	std::vector<double> c_ns, cpp_ns, ratio;
};

std::size_t span_items(const world &w) { return w.items.size(); }
std::size_t span_one(const world &) { return 1; }
std::size_t span_keys(const world &w) { return w.keys.size(); }
std::size_t span_present(const world &w) { return w.present.size(); }

double run(world *w, op_fn f, std::size_t span, long ops)
{
	std::uint64_t t0 = now_ns(), acc = 0;
	std::size_t i = 0;

	for (long n = 0; n < ops; n++) {
		acc += f(w, i);
		if (++i == span)
			i = 0;
	}
	sink = sink + acc;
	return (double)(now_ns() - t0) / (double)ops;
}

/* The median of the repetitions (bench_median.h; sorts @v, read no more after). */
double median_of(std::vector<double> &v)
{
	return median(v.data(), (int)v.size());
}

long arg(int argc, char **argv, const char *name, long def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!std::strcmp(argv[i], name)) {
			char *end;
			long v = std::strtol(argv[i + 1], &end, 0);

			if (!*argv[i + 1] || *end) {
				std::fprintf(stderr, "bench_cpp: %s \"%s\": not a number\n", name, argv[i + 1]);
				std::exit(2);
			}
			return v;
		}
	return def;
}

} // namespace

int main(int argc, char **argv)
{
	long counts = arg(argc, argv, "--counts", 0);
	long ops = arg(argc, argv, "--ops", 1000000), reps = arg(argc, argv, "--reps", 7);
	long nitems = arg(argc, argv, "--items", 1000000), nplayers = arg(argc, argv, "--players", 200000);
	std::uint64_t base = 0x7443000000ULL | (std::uint64_t)(getpid() & 0xffff) << 8;
	char text[512], prefix[64];

	if (ops < 1 || reps < 1 || nitems < 2 || nplayers < 1 || counts < 0) {
		std::fprintf(stderr, "usage: bench_cpp [--ops N] [--reps R] [--items N] [--players N] | --counts N\n");
		return 2;
	}
	if (counts) {
		ops = counts;
		nitems = std::min(nitems, 100000L);
		nplayers = std::min(nplayers, 20000L);
	}
	setenv("SHMDEV_BACKEND", getenv("SHMDEV_BACKEND") ? getenv("SHMDEV_BACKEND") : "posix", 1);
	std::snprintf(prefix, sizeof(prefix), "shmpool-bench-cpp.%d", (int)getpid());
	setenv("SHMDEV_POSIX_PREFIX", prefix, 0);
	std::snprintf(text, sizeof(text),
		      "ProcessList = b\n[b]\nBaseKey = 0x%" PRIx64 "\nBlockSize = 64M\n"
		      "BlockKey = 0x%" PRIx64 "\nBlockKey = 0x%" PRIx64 "\nBlockKey = 0x%" PRIx64
		      "\nHugePages = no\n",
		      base, base + 1, base + 2, base + 3);
	auto ctx = shmdev::context::create();
	if (!ctx)
		die("context", ctx.message());
	ctx->set_log_priority(2);	/* the destroy of an absent pool is expected */
	auto conf = shmdev::config::load_string(*ctx, text, "bench_cpp.ini", "b");
	if (!conf)
		die("config", conf.message());
	(void)shmdev::pool::destroy(*ctx, *conf);
	auto opened = shmdev::pool::open(*ctx, *conf, { shmdev::type<Item>((std::uint32_t)nitems),
							shmdev::type<Player>((std::uint32_t)nplayers) });
	if (!opened)
		die("open", opened.message());

	world w;
	w.pool = &*opened;
	w.c = opened->native();
	w.ctx = ctx->native();
	if (shmdev_fast_init(w.c, 0, &w.cf))
		die("fast_init", shmdev_errmsg(ctx->native()));
	auto fp = opened->fast<Item>();
	if (!fp)
		die("fast<Item>", fp.message());
	w.fp = *fp;
	if (shmdev_find_fast_init(w.c, 1, &w.cff))
		die("find_fast_init", shmdev_errmsg(ctx->native()));
	auto pfp = opened->fast<Player>();
	if (!pfp)
		die("fast<Player>", pfp.message());
	w.pfp = *pfp;

	/* Every Item but one live (alloc+free cycles the one left), in random order. */
	std::mt19937_64 rng(7);
	for (long i = 0; i + 1 < nitems; i++) {
		auto r = opened->alloc<Item>();
		if (!r)
			die("populate", r.message());
		r->ptr->stamp = (std::uint64_t)i;
		w.items.push_back(r->handle);
	}
	std::shuffle(w.items.begin(), w.items.end(), rng);
	for (long i = 0; i < nplayers - nplayers / 10; i++) {
		std::uint64_t key = 1000 + (std::uint64_t)i * 7;
		auto r = opened->force_get<Player>(key);
		if (!r)
			die("populate", r.message());
		r->ptr->gold = key;
		w.present.push_back(key);
	}
	w.keys = w.present;
	for (long i = 0; i < nplayers / 10; i++)
		w.keys.push_back(2 + (std::uint64_t)i * 7);	/* never a key: absent */
	std::shuffle(w.keys.begin(), w.keys.end(), rng);
	std::shuffle(w.present.begin(), w.present.end(), rng);

	std::vector<row> rows = {
		{ "get (inline)", op_c_get_fast, op_cpp_get_fast, span_items, {}, {}, {} },
		{ "get (call)", op_c_get_call, op_cpp_get_call, span_items, {}, {}, {} },
		{ "alloc+free", op_c_alloc_free, op_cpp_alloc_free, span_one, {}, {}, {} },
		{ "find (inline)", op_c_find_fast, op_cpp_find_fast, span_keys, {}, {}, {} },
		{ "find (call)", op_c_find, op_cpp_find, span_keys, {}, {}, {} },
		{ "force_get", op_c_force_get, op_cpp_force_get, span_present, {}, {}, {} },
	};
	if (counts) {
		for (auto &r : rows) {
			run(&w, r.c, r.span(w), ops);
			run(&w, r.cpp, r.span(w), ops);
		}
		return opened->close().has_value() ? 0 : 1;
	}
	std::fprintf(stderr, "bench_cpp: %ld Items, %ld Players, %ld ops per loop, %ld repetitions\n",
		     nitems, nplayers, ops, reps);
	for (long rep = 0; rep < reps; rep++) {
		for (auto &r : rows) {
			double c, cpp;
			if (rep % 2 == 0) {
				c = run(&w, r.c, r.span(w), ops);
				cpp = run(&w, r.cpp, r.span(w), ops);
			} else {
				cpp = run(&w, r.cpp, r.span(w), ops);
				c = run(&w, r.c, r.span(w), ops);
			}
			r.c_ns.push_back(c);
			r.cpp_ns.push_back(cpp);
			r.ratio.push_back(cpp / c);
		}
	}
	std::printf("| operation (%ld Items, %ld Players) | C ns/op | C++ ns/op | C++ / C |\n", nitems, nplayers);
	std::printf("|---|---|---|---|\n");
	for (auto &r : rows)
		std::printf("| %s | %.1f | %.1f | %.3f |\n", r.name, median_of(r.c_ns), median_of(r.cpp_ns),
			    median_of(r.ratio));
	std::printf("\nMedians of %ld interleaved repetitions (C and C++ back to back, the order alternating), %ld operations each.\n",
		    reps, ops);
	auto closed = opened->close();
	if (!closed)
		die("close", closed.message());
	(void)shmdev::pool::destroy(*ctx, *conf);
	return 0;
}
