#!/usr/bin/env bash
# `make bench-counts`: bench_tick once under callgrind with its cache
# simulation, then per peer and phase: instructions, simulated first-level
# data-cache misses (reads + writes) and last-level misses per operation.
# Counts, not times: what a shared, noisy machine cannot blur.  The caches
# are valgrind's model of this CPU's, and the misses are those of one pass
# at BENCH_COUNTS_N live objects (90000 unless set), not of 1e6 or 1e7.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
OUT=$BUILD/bench
N=${BENCH_COUNTS_N:-90000}
K=3000
case $N in '' | *[!0-9]*) echo "bench-counts: BENCH_COUNTS_N=\"$N\" is not a count" >&2; exit 1 ;; esac
[ "$N" -ge 3000 ] || { echo "bench-counts: BENCH_COUNTS_N=$N: at least 3000" >&2; exit 1; }

# BENCH_COUNTS_REPARSE=1: the tables again from the last callgrind.txt
if [ -z "${BENCH_COUNTS_REPARSE:-}" ]; then
echo "bench-counts: bench_tick at $N live under callgrind (a minute or more)" >&2
# bench_tick re-executes itself to set GLIBC_TUNABLES: not under valgrind
SHMDEV_BACKEND=posix BENCH_TICK_REEXEC=1 GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536 \
	valgrind --tool=callgrind --cache-sim=yes \
	--callgrind-out-file="$OUT/callgrind.out" \
	"$OUT/bench_tick" --counts "$N" --restart-counts 300 --reps 1 --k "$K" >/dev/null 2>"$OUT/callgrind.log" ||
	{ tail "$OUT/callgrind.log" >&2; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$OUT/callgrind.out" >"$OUT/callgrind.txt"
fi

# n per type as bench_tick splits it; a tick block runs max(N/K + 1, 100) ticks
awk -v n="$N" -v k="$K" '
BEGIN {
	n0 = int(n / 3); n2 = n - 2 * n0
	ticks = int(n / k) + 1; if (ticks < 100) ticks = 100
	peer["ShmPeer"] = "shmpool"; peer["SlabPeer"] = "slab floor"; peer["RawPeer"] = "raw pointer"
	peer["MallocPeerF<0>"] = "glibc + table"; peer["MallocPeerF<1>"] = "jemalloc + table"
	peer["MallocPeerF<2>"] = "mimalloc + table"; peer["MallocPeerF<3>"] = "tcmalloc + table"
	peer["BoostPeer<NodeLocked>"] = "Boost node_allocator (locked)"
	peer["BoostPeer<NodePrivate>"] = "Boost private_node_allocator (no lock)"
}
/^Events shown:/ { for (i = 3; i <= NF; i++) col[$i] = i - 2 }
/ (=>|<=) / { next }	# call-tree lines name callees and callers: not costs of their own
/double (tick_block|pass_get|pass_find|pass_churn|bare_churn)</ {
	# one line per source file of the function (inlined code): summed
	line = $0
	gsub(/,/, "", line)
	nf = split(line, f, /[ \t]+/)
	j = 0
	for (i = 1; i <= nf && j < 9; i++)
		if (f[i] ~ /^[0-9]+$/) v[++j] = f[i]; else if (f[i] == ".") v[++j] = 0
	match($0, /double [a-z_]+</); fn = substr($0, RSTART + 7, RLENGTH - 8)
	rest = substr($0, RSTART + RLENGTH)
	targs = ""
	if (fn == "pass_churn") {
		match(rest, /^[0-9], (true|false), /); targs = substr(rest, 1, RLENGTH - 2); rest = substr(rest, RLENGTH + 1)
	}
	p = ""
	for (q in peer) if (index(rest, q) == 1) p = peer[q]
	if (p == "") next
	if (fn == "tick_block") { ph = "tick (per tick)"; ops = ticks }
	else if (fn == "pass_get") { ph = "get"; ops = n0 }
	else if (fn == "pass_find") { ph = "find"; ops = n0 }
	else if (fn == "bare_churn") { ph = "bare malloc+free 64 and 256"; ops = (n0 < 1048576 ? n0 : 1048576) + (n2 < 1048576 ? n2 : 1048576) }
	else {
		split(targs, a, ", ")
		ph = (a[1] == 0 ? "alloc+free 64" : a[1] == 1 ? "force_get+free 128 keyed" : "alloc+free 256") (a[2] == "true" && a[1] != 1 ? " zeroing" : "")
		ops = a[1] == 2 ? n2 : n0
	}
	if (p == "raw pointer") ops *= 2	# its two rows (4 KiB, THP) share the symbol
	key = ph SUBSEP p
	if (!(key in nops)) { keys[++nkeys] = key }
	nops[key] = ops
	ir[key] += v[col["Ir"]]; d1[key] += v[col["D1mr"]] + v[col["D1mw"]]; ll[key] += v[col["DLmr"]] + v[col["DLmw"]]
}
END {
	printf "### Counts under callgrind, %d live objects (per operation; a tick: per tick)\n\n", n
	print "| phase | peer | instructions | D1 misses | LL misses |"
	print "|---|---|---:|---:|---:|"
	split("tick (per tick)|get|find|alloc+free 64|alloc+free 64 zeroing|force_get+free 128 keyed|alloc+free 256|alloc+free 256 zeroing|bare malloc+free 64 and 256", order, "|")
	for (i = 1; i in order; i++)
		for (k = 1; k <= nkeys; k++) {
			split(keys[k], kp, SUBSEP)
			if (kp[1] == order[i])
				printf "| %s | %s | %.1f | %.2f | %.2f |\n", kp[1], kp[2], ir[keys[k]] / nops[keys[k]], d1[keys[k]] / nops[keys[k]], ll[keys[k]] / nops[keys[k]]
		}
}' "$OUT/callgrind.txt" | tee "$OUT/counts.md"
