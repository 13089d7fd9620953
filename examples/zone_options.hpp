// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zone_options.hpp: the command line of the C++ zone server
 * (zone_server.cpp): its options, --help and their parsing, the same as
 * zone_server.c's.  Included by zone_server.cpp only (one translation unit).
 */
#ifndef ZONE_OPTIONS_HPP
#define ZONE_OPTIONS_HPP

#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <getopt.h>

namespace {

struct options {
	const char *tmpl = nullptr;	/* pool config template; null: built in */
	const char *conf = nullptr;	/* or a rendered memorypool.ini */
	unsigned long world = 1, zone = 900;
	std::uint64_t players = 100000, items = 250000, item_cap = 300000, scenes = 1000,
		      guilds = 2000;
	unsigned int change_permille = 10;
	long long ticks = -1;		/* -1: until SIGTERM */
	unsigned int tick_ms = 0, report_ms = 500;
	std::uint64_t seed = 0;
	bool verify = false, destroy = false;
};

void usage(FILE *f)
{
	std::fprintf(f,
		"usage: zone_server_cpp [OPTION]...\n"
		"The demo zone server in C++ (shmdev.hpp): the same world, config and\n"
		"checksums as zone_server, so either resumes the other's pool.\n\n"
		"  --template PATH   pool config template (default: a built-in copy of\n"
		"                    examples/zone.ini.tmpl)\n"
		"  --conf PATH       a rendered memorypool.ini instead (process \"zone\")\n"
		"  --world N         WORLD_ID for the template (default 1)\n"
		"  --zone N          ZONE_ID for the template (default 900)\n"
		"  --players N       player ids, and Player capacity (default 100000)\n"
		"  --items N         items handed out on a cold start (default 250000)\n"
		"  --item-cap N      Item capacity (default 300000)\n"
		"  --scenes N        scenes (default 1000)\n"
		"  --guilds N        accepted for zone_server's options; unused (v1)\n"
		"  --change N        objects changed per tick, per mille (default 10)\n"
		"  --ticks N         run N ticks then exit cleanly (default: until SIGTERM)\n"
		"  --tick-ms N       tick period; 0 = back to back, full load (default 0)\n"
		"  --report-ms N     a phase=running line every N ms (default 500)\n"
		"  --seed N          random seed (default: the time)\n"
		"  --verify          after a start, check every object and reference\n"
		"  --destroy         destroy the pool (the next start is cold) and exit\n"
		"Build: cpp.  Exit status: 0 ok, 1 error, 3 layout refused, 4 corrupt.\n");
}

bool parse_u64(const char *name, const char *arg, std::uint64_t min, std::uint64_t &out)
{
	char *end;

	errno = 0;
	unsigned long long v = std::strtoull(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v < min) {
		std::fprintf(stderr, "zone_server: --%s: '%s' is not a number >= %" PRIu64 "\n",
			     name, arg, min);
		return false;
	}
	out = v;
	return true;
}

/* 0 to run, 1 on a bad option, 2 after --help. */
int parse_args(int argc, char **argv, std::uint64_t default_seed, options &o)
{
	static const option longopts[] = {
		{ "template", required_argument, nullptr, 'T' },
		{ "conf", required_argument, nullptr, 'c' },
		{ "world", required_argument, nullptr, 'w' },
		{ "zone", required_argument, nullptr, 'z' },
		{ "players", required_argument, nullptr, 'p' },
		{ "items", required_argument, nullptr, 'i' },
		{ "item-cap", required_argument, nullptr, 'I' },
		{ "scenes", required_argument, nullptr, 's' },
		{ "guilds", required_argument, nullptr, 'g' },
		{ "change", required_argument, nullptr, 'C' },
		{ "ticks", required_argument, nullptr, 't' },
		{ "tick-ms", required_argument, nullptr, 'm' },
		{ "report-ms", required_argument, nullptr, 'r' },
		{ "seed", required_argument, nullptr, 'S' },
		{ "verify", no_argument, nullptr, 'v' },
		{ "destroy", no_argument, nullptr, 'D' },
		{ "help", no_argument, nullptr, 'h' },
		{ nullptr, 0, nullptr, 0 },
	};
	int c;

	o = options();
	o.seed = default_seed;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
		const char *name = "";
		std::uint64_t v;

		for (const option *l = longopts; l->name; l++)
			if (l->val == c)
				name = l->name;
		switch (c) {
		case 'T': o.tmpl = optarg; continue;
		case 'c': o.conf = optarg; continue;
		case 'v': o.verify = true; continue;
		case 'D': o.destroy = true; continue;
		case 'h': usage(stdout); return 2;
		case '?': usage(stderr); return 1;
		}
		if (!parse_u64(name, optarg, c == 't' || c == 'm' || c == 'C' || c == 'S' ? 0 : 1, v))
			return 1;
		switch (c) {
		case 'w': o.world = (unsigned long)v; break;
		case 'z': o.zone = (unsigned long)v; break;
		case 'p': o.players = v; break;
		case 'i': o.items = v; break;
		case 'I': o.item_cap = v; break;
		case 's': o.scenes = v; break;
		case 'g': o.guilds = v; break;
		case 'C': o.change_permille = v > 1000 ? 1000 : (unsigned int)v; break;
		case 't': o.ticks = v > LLONG_MAX ? LLONG_MAX : (long long)v; break;
		case 'm': o.tick_ms = v > 60000 ? 60000 : (unsigned int)v; break;
		case 'r': o.report_ms = v > 3600000 ? 3600000 : (unsigned int)v; break;
		case 'S': o.seed = v; break;
		}
	}
	if (optind < argc) {
		std::fprintf(stderr, "zone_server: unexpected argument '%s'\n", argv[optind]);
		return 1;
	}
	return 0;
}

} // namespace

#endif /* ZONE_OPTIONS_HPP */
