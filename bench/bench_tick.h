/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench_tick: what the driver (bench_tick.cpp) and the report share. */
#ifndef BENCH_TICK_H
#define BENCH_TICK_H

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

enum Phase { PH_TICK, PH_GET, PH_FIND, PH_AF64, PH_AF64Z, PH_AF128K, PH_AF256, PH_AF256Z, PH_BARE64, PH_BARE256, NPH };
extern const char *const phase_name[NPH];

struct Row {
	std::string name;
	int group;
	double val[NPH], ratio[NPH];
	double mem;
	double huge;	/* share of its memory in huge pages */
};

struct CountResult {
	uint64_t n;
	std::vector<Row> rows;
	int groups;
	int ticks;
	int reps;
};

struct RestartResult {
	uint64_t n;
	double open_ms, open_lib_ms, first_ms, warm_ms, crash_open_ms, repair_ms, repair_rate;
	double crash_rate;	/* live objects / the crash open's CPU time, Mobj/s */
};

struct Opts {
	std::vector<uint64_t> counts = { 10000, 1000000, 10000000 };
	std::vector<uint64_t> restart_counts = { 1000, 10000, 1000000, 10000000 };
	int reps = 5;
	int reps_large = 3;	/* at 5e6 live and more: the run's length */
	int k = 3000;
	uint64_t mem_budget = 8ULL << 30;
	bool thp = false;	/* --thp */	/* --mem-gib: all groups' peers together */
	const char *csv = nullptr;
	std::string only;	/* ",word,word,": --only */
	std::string phases;	/* ",tick,get,": --phases */
};

extern FILE *csv;	/* --csv, or NULL */

void print_count(const CountResult &cr, const Opts &o);
void print_restart(const std::vector<RestartResult> &rs, const Opts &o);
void print_targets(const std::vector<CountResult> &crs, const std::vector<RestartResult> &rs);

#endif
