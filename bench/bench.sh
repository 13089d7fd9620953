#!/usr/bin/env bash
# `make bench`: run every benchmark in one go, write $BUILD/bench/results.csv
# and print the markdown tables (bench/README.md explains them).
#
# Environment: BENCH_SIZES (64,256,1024), BENCH_COUNTS (1e3,1e5,1e7),
# BENCH_RUNS (5), BENCH_OPS (1000000), BENCH_VM (auto|no).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
OUT=$BUILD/bench
CSV=$OUT/results.csv
SIZES=${BENCH_SIZES:-64,256,1024}
COUNTS=${BENCH_COUNTS:-1000,100000,10000000}
RUNS=${BENCH_RUNS:-5}
OPS=${BENCH_OPS:-1000000}
SERIES=6.1

log() { echo "bench: $*" >&2; }

# Boost.Interprocess is only a peer in the benchmark: its headers are this
# script's own dependency, not the tests'.
if [ ! -f /usr/include/boost/interprocess/managed_shared_memory.hpp ]; then
	if [ "$(id -u)" -eq 0 ]; then
		log "installing libboost-dev (Boost.Interprocess, the peer)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		apt-get install -y -q --no-install-recommends libboost-dev >/dev/null
	else
		log "no Boost headers and not root: the Boost columns stay empty"
	fi
fi
make --no-print-directory bench-build >/dev/null
if [ -f /usr/include/boost/interprocess/managed_shared_memory.hpp ]; then
	make --no-print-directory "$OUT/bench_boost" >/dev/null
fi

mkdir -p "$OUT"
echo "section,op,impl,size,live,value,unit,note" >"$CSV.tmp"
MACHINE="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r), $(date -u +%F)"
log "machine: $MACHINE"
log "1/3 object pool (sizes $SIZES, live $COUNTS, $RUNS runs of $OPS ops)"
SHMDEV_BACKEND=posix "$OUT/bench_pool" pool --sizes "$SIZES" --counts "$COUNTS" --runs "$RUNS" --ops "$OPS" >>"$CSV.tmp"
[ ! -x "$OUT/bench_boost" ] ||
	"$OUT/bench_boost" pool --sizes "$SIZES" --counts "$COUNTS" --runs "$RUNS" --ops "$OPS" >>"$CSV.tmp"
log "2/3 restart (live $COUNTS, $RUNS runs)"
SHMDEV_BACKEND=posix "$OUT/bench_pool" restart --counts "$COUNTS" --runs "$RUNS" >>"$CSV.tmp"
[ ! -x "$OUT/bench_boost" ] || "$OUT/bench_boost" restart --counts "$COUNTS" --runs "$RUNS" >>"$CSV.tmp"

log "3/3 kernel path"
KLOG=$BUILD/vm/logs/$SERIES.log
if [ -c /dev/shmpool ]; then
	"$BUILD/vm/bench/bench_kpath" | sed -n 's/^BENCHCSV,//p' >>"$CSV.tmp"
elif [ "${BENCH_VM:-auto}" != no ] && [ "$(id -u)" -eq 0 ]; then
	log "no /dev/shmpool here: booting the $SERIES kernel with the module in qemu"
	tests/vm/kernels.sh "$SERIES" >&2
	BUILD=$BUILD tests/vm/build-kmod.sh "$SERIES" >&2
	BUILD=$BUILD VM_TEST_BINS=$BUILD/vm/bench/bench_kpath SHMPOOL_VM_TIMEOUT=900 \
		tests/vm/run.sh "$SERIES" | grep -E 'PASS|FAIL' >&2 || log "the VM round failed: see $KLOG"
	tr -d '\r' <"$KLOG" | sed -n 's/^BENCHCSV,//p' >>"$CSV.tmp"
else
	log "no /dev/shmpool and no VM (BENCH_VM=no or not root): kernel rows skipped"
fi
mv "$CSV.tmp" "$CSV"

# ---- markdown ---------------------------------------------------------------
awk -F, '
function v(key) { return (key in val) ? val[key] : "" }
function fmt(x) { return x == "" ? "–" : (x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x)) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "–" : sprintf("%.2f×", a / b) }
NR == 1 { next }
{
	if ($2 == "repair rate") $2 = $2 " " $7
	key = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
	val[key] = $6
	unit[key] = $7
	note[$1 SUBSEP $4 SUBSEP $5] = $8
	if ($1 == "pool" && !(($4 SUBSEP $5) in seen_sl)) { seen_sl[$4 SUBSEP $5] = 1; sl[++nsl] = $4 SUBSEP $5 }
	if ($1 == "restart" && !($5 in seen_l)) { seen_l[$5] = 1; ls[++nl] = $5 }
	if ($1 == "kernel") { kr[++nk] = $0 }
}
END {
	nops = split("alloc+free get force_get foreach", ops, " ")
	print "### Object pool, host (ns per operation, median)"
	print ""
	print "| op | size | live | shmpool | shmpool zeroing | glibc malloc | free list | Boost managed_shm | Boost node_allocator | shmpool / malloc | Boost managed / shmpool | Boost node / shmpool |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (o = 1; o <= nops; o++)
		for (i = 1; i <= nsl; i++) {
			split(sl[i], p, SUBSEP)
			k = "pool" SUBSEP ops[o] SUBSEP
			a = v(k "shmpool" SUBSEP sl[i]); m = v(k "glibc malloc" SUBSEP sl[i])
			z = v(k "shmpool zeroing" SUBSEP sl[i])
			f = v(k "free list" SUBSEP sl[i]); b = v(k "Boost.IPC managed_shm" SUBSEP sl[i])
			n = v(k "Boost.IPC node_allocator" SUBSEP sl[i])
			if (a == "" && m == "") continue
			nt = note["pool" SUBSEP sl[i]]
			printf "| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", ops[o], p[1], p[2], nt != "" ? " (" nt ")" : "",
				fmt(a), fmt(z), fmt(m), fmt(f), fmt(b), fmt(n), ratio(a, m), ratio(b, a), ratio(n, a)
		}
	print ""
	print "### Restart, host: process start to pool ready (µs, median; 256-byte objects)"
	print ""
	print "| live objects | pool | clean resume | crash resume | of which repair | repair rate | shmget+shmat | Boost open+find |"
	print "|---:|---|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nl; i++) {
		k = "restart" SUBSEP
		t = SUBSEP "256" SUBSEP ls[i]
		nt = note["restart" SUBSEP "256" SUBSEP ls[i]]
		printf "| %s | %s | %s | %s | %s | %s Mobj/s, %s GB/s | %s | %s |\n", ls[i], nt,
			fmt(v(k "clean resume" SUBSEP "shmpool" t)), fmt(v(k "crash resume" SUBSEP "shmpool" t)),
			fmt(v(k "crash repair" SUBSEP "shmpool" t)),
			fmt(v(k "repair rate Mobj/s" SUBSEP "shmpool" t)), fmt(v(k "repair rate GB/s" SUBSEP "shmpool" t)), fmt(v(k "open" SUBSEP "shmget+shmat" t)),
			fmt(v(k "open+find" SUBSEP "Boost.IPC" t))
	}
	print ""
	print "### Kernel path, in the VM (same boot)"
	print ""
	print "| measure | impl | region | value | note |"
	print "|---|---|---:|---:|---|"
	for (i = 1; i <= nk; i++) {
		split(kr[i], c, ",")
		printf "| %s | %s | %d MiB | %s %s | %s |\n", c[2], c[3], c[4] / 1048576, fmt(c[6]), c[7], c[8]
	}
}' "$CSV" >"$OUT/results.md.tmp"
{
	echo "Machine: $MACHINE.  Host figures: POSIX backend; kernel figures: the $SERIES kernel in qemu (software emulation)."
	echo
	cat "$OUT/results.md.tmp"
} >"$OUT/results.md"
rm -f "$OUT/results.md.tmp"
cat "$OUT/results.md"
log "CSV: $CSV; markdown: $OUT/results.md"
