// SPDX-License-Identifier: LGPL-2.1-or-later
/* bench_tick's markdown tables and the targets of issue 12 (bench/README.md). */
#include <cinttypes>
#include <algorithm>
#include <cmath>
#include <cstdarg>

#include "bench_tick.h"

/* ---- the report --------------------------------------------------------- */

static std::string cell(double v, double r, bool show_ratio)
{
	char buf[64];

	if (std::isnan(v))
		return "–";
	if (v >= 100)
		snprintf(buf, sizeof(buf), "%.0f", v);
	else
		snprintf(buf, sizeof(buf), "%.1f", v);
	std::string s = buf;
	if (show_ratio && !std::isnan(r)) {
		snprintf(buf, sizeof(buf), " (%.2f×)", r);
		s += buf;
	}
	return s;
}

void print_count(const CountResult &cr, const Opts &o)
{
	printf("\n### %" PRIu64 " live objects\n\n", cr.n);
	printf("%d interleaved repetitions, median; a tick = %d lookups, %d finds, %d frees + allocs; "
	       "%d ticks per timed block; (×) = the peer's time / shmpool's, median of the per-repetition "
	       "ratios%s.  Times in ns per operation (alloc+free: per pair) unless the column says µs.\n\n",
	       cr.reps, o.k, o.k / 4, o.k * 3 / 100, cr.ticks,
	       cr.groups > 1 ? "; memory splits the peers into groups that each run with shmpool, "
			       "ratios are within a group" : "");
	printf("| peer |");
	for (int ph = 0; ph < NPH; ph++)
		printf(" %s |", phase_name[ph]);
	printf(" metadata + index, bytes/object | in huge pages |\n|---|");
	for (int ph = 0; ph <= NPH + 1; ph++)
		printf("---:|");
	printf("\n");
	for (const Row &r : cr.rows) {
		if (cr.groups > 1 && r.group > 0)
			printf("| %s (group %d) |", r.name.c_str(), r.group + 1);
		else
			printf("| %s |", r.name.c_str());
		for (int ph = 0; ph < NPH; ph++) {
			printf(" %s |", cell(r.val[ph], r.ratio[ph], r.name != "shmpool").c_str());
			if (csv && !std::isnan(r.val[ph]))
				fprintf(csv, "%" PRIu64 ",%s,%s,%.3f,%.4f,%d\n", cr.n, r.name.c_str(), phase_name[ph],
					r.val[ph], r.ratio[ph], r.group + 1);
		}
		printf(" %s |", cell(r.mem, NAN, false).c_str());
		if (std::isnan(r.huge))
			printf(" – |\n");
		else
			printf(" %.0f%% |\n", 100 * std::min(1.0, r.huge));
		if (csv && !std::isnan(r.mem))
			fprintf(csv, "%" PRIu64 ",%s,memory per object (B),%.1f,,%d\n", cr.n, r.name.c_str(), r.mem, r.group + 1);
		if (csv && !std::isnan(r.huge))
			fprintf(csv, "%" PRIu64 ",%s,in huge pages (share),%.3f,,%d\n", cr.n, r.name.c_str(), r.huge, r.group + 1);
	}
	if (cr.groups > 1)
		printf("\n(group N): run in group N with its own shmpool and floor (the rows above are group 1's): "
		       "its (×) is against that shmpool.\n");
	printf("\nIn huge pages: the share of the memory a peer's build added that the kernel gave as "
	       "transparent huge pages (/proc/self/smaps_rollup AnonHugePages + ShmemPmdMapped)%s.\n",
	       o.thp ? "; every peer asked for them (--thp) but tcmalloc, which has no switch for it"
		     : "; no peer asked for them (no --thp) but the raw pointer's THP row");
	fflush(stdout);
}

void print_restart(const std::vector<RestartResult> &rs, const Opts &o)
{
	printf("\n### Restart, in-process (shmpool, POSIX backend; ms, median of %d)\n\n", o.reps);
	printf("Clean open: shmdev_pool_open of a pool closed cleanly, the regions still in memory, in "
	       "the thread's CPU time.  First pass: one get + read of every object, random order, on the "
	       "fresh mapping (the page faults); warm pass: the same again.  Crash: shmdev_pool_abandon, "
	       "then open; repair as shmdev_pool_stats reports it (the library's wall clock, which counts "
	       "the time other processes take the CPU); the last column divides the live count by the "
	       "CPU time of the whole crash open.\n\n");
	printf("| live | clean open | library's open_ns (wall) | first pass | warm pass | faults per object (ns) "
	       "| crash open | library's repair_ns (wall) | its rate | rate over the whole crash open (CPU) |\n"
	       "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (const RestartResult &r : rs) {
		printf("| %" PRIu64 " | %.3f | %.3f | %.3f | %.3f | %.1f | %.3f | %.3f | %.1f Mobj/s | %.1f Mobj/s |\n", r.n,
		       r.open_ms, r.open_lib_ms, r.first_ms, r.warm_ms, (r.first_ms - r.warm_ms) * 1e6 / (double)r.n,
		       r.crash_open_ms, r.repair_ms, r.repair_rate, r.crash_rate);
		if (csv)
			fprintf(csv, "%" PRIu64 ",shmpool,restart,%.4f,%.4f,%.2f,%.2f,%.4f,%.4f,%.2f\n", r.n, r.open_ms,
				r.open_lib_ms, r.first_ms, r.warm_ms, r.crash_open_ms, r.repair_ms, r.repair_rate);
	}
	fflush(stdout);
}

static const Row *find_row(const CountResult &cr, const char *name)
{
	for (const Row &r : cr.rows)
		if (r.name == name)
			return &r;
	return nullptr;
}

static void target(const char *what, const char *goal, bool met, const std::string &fig)
{
	printf("| %s | %s | %s | %s |\n", what, goal, met ? "met" : "**missed**", fig.c_str());
}

static std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static std::string fmt(const char *f, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return buf;
}

static bool is_malloc(const Row &r) { return r.name.find("+ table") != std::string::npos; }

void print_targets(const std::vector<CountResult> &crs, const std::vector<RestartResult> &rs)
{
	printf("\n### Targets (issue 12, item 3), from this run\n\n| target | goal | | measured |\n|---|---|---|---|\n");
	for (const CountResult &cr : crs) {
		const Row *shm = find_row(cr, "shmpool"), *slab = find_row(cr, "slab floor");
		const Row *raw = find_row(cr, "raw pointer (4 KiB pages)"), *rawh = find_row(cr, "raw pointer (THP madvise)");
		const Row *glibc = find_row(cr, "glibc + table");
		double worst = INFINITY, best_find = INFINITY;
		std::string who;

		if (!shm || !slab)
			continue;
		if (cr.n >= 1000000) {
			double r = 1 / slab->ratio[PH_TICK];

			target(fmt("tick, %" PRIu64 " live", cr.n).c_str(), "shmpool ≤ 1.15× the slab floor", r <= 1.15,
			       fmt("%.2f× (%.0f against %.0f µs)", r, shm->val[PH_TICK], slab->val[PH_TICK]));
			for (const Row &p : cr.rows)
				if (is_malloc(p) && p.ratio[PH_TICK] < worst) {
					worst = p.ratio[PH_TICK];
					who = p.name;
				}
			target(fmt("tick, %" PRIu64 " live", cr.n).c_str(), "every malloc peer + table ≥ 1.5× shmpool",
			       worst >= 1.5, fmt("slowest-to-beat: %s at %.2f×", who.c_str(), worst));
		}
		if (cr.n >= 1000000 && raw) {
			/*
			 * Like against like: the THP raw pointer when shmpool's
			 * memory is mostly in huge pages (the target says both
			 * on huge pages), else the 4 KiB one.
			 */
			bool shm_huge = !std::isnan(shm->huge) && shm->huge >= 0.5;
			const Row *peer = shm_huge && rawh ? rawh : raw;
			double r = 1 / peer->ratio[PH_GET];

			target(fmt("random get, %" PRIu64 " live", cr.n).c_str(), "≤ 1.5× a raw pointer touch", r <= 1.5,
			       fmt("%.2f× the %s raw pointer (%.1f against %.1f ns; shmpool %.0f%% in huge pages); "
				   "%.2f× the 4 KiB one", r, peer == rawh ? "THP" : "4 KiB", shm->val[PH_GET],
				   peer->val[PH_GET], std::isnan(shm->huge) ? 0.0 : 100 * std::min(1.0, shm->huge),
				   1 / raw->ratio[PH_GET]));
		}
		for (const Row &p : cr.rows)
			if (is_malloc(p) && p.ratio[PH_FIND] < best_find)
				best_find = p.ratio[PH_FIND];
		if (!std::isinf(best_find))	/* the phase ran (--phases) */
		target(fmt("find, %" PRIu64 " live", cr.n).c_str(), "≤ 1.0× the peers' open-addressing table",
		       1 / best_find <= 1.0, fmt("%.2f× the fastest peer table (%.1f ns)", 1 / best_find, shm->val[PH_FIND]));
		static const Phase af[] = { PH_AF64, PH_AF128K, PH_AF256 };
		static const Phase bare[] = { PH_BARE64, PH_TICK, PH_BARE256 };
		for (int i = 0; i < 3; i++) {
			double best = INFINITY, best_bare = INFINITY;
			std::string bn, bbn;

			for (const Row &p : cr.rows) {
				if (!is_malloc(p))
					continue;
				if (p.ratio[af[i]] < best) {
					best = p.ratio[af[i]];
					bn = p.name;
				}
				if (bare[i] != PH_TICK && p.val[bare[i]] / shm->val[af[i]] < best_bare) {
					best_bare = p.val[bare[i]] / shm->val[af[i]];
					bbn = p.name.substr(0, p.name.find(' '));
				}
			}
			if (std::isinf(best) || std::isnan(best))
				continue;
			target(fmt("%s, %" PRIu64 " live", phase_name[af[i]], cr.n).c_str(),
			       "not slower than the best malloc peer", 1 / best <= 1.0,
			       fmt("%.2f× the best with its table (%s)%s", 1 / best, bn.c_str(),
				   bare[i] != PH_TICK ? fmt("; %.2f× bare %s (no table)", 1 / best_bare, bbn.c_str()).c_str() : ""));
		}
		if (glibc)
			target(fmt("memory per object, %" PRIu64 " live", cr.n).c_str(), "≤ glibc's + 8 bytes",
			       shm->mem <= glibc->mem + 8, fmt("%.1f against %.1f bytes (glibc + its table)", shm->mem, glibc->mem));
	}
	const RestartResult *lo = nullptr, *hi = nullptr;
	for (const RestartResult &r : rs) {
		if (!lo || r.n < lo->n)
			lo = &r;
		if (!hi || r.n > hi->n)
			hi = &r;
	}
	if (hi) {
		double best = std::max(hi->repair_rate, hi->crash_rate);

		target(fmt("crash repair, %" PRIu64 " objects", hi->n).c_str(), "≥ 100 Mobj/s", best >= 100,
		       fmt("%.1f Mobj/s over the crash open's CPU time (%.1f ms); the library's wall-clock "
			   "repair_ns says %.1f Mobj/s (%.1f ms)", hi->crash_rate, hi->crash_open_ms,
			   hi->repair_rate, hi->repair_ms));
		target(fmt("clean open, %" PRIu64 " against %" PRIu64, hi->n, lo->n).c_str(), "≤ 2×",
		       hi->open_ms <= 2 * lo->open_ms,
		       fmt("%.2f× (%.3f against %.3f ms)", hi->open_ms / lo->open_ms, hi->open_ms, lo->open_ms));
	}
	fflush(stdout);
}

