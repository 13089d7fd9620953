#!/usr/bin/env bash
# `make bench`: bench_tick (shmpool against the slab floor, four malloc
# families with an id table and Boost.Interprocess, interleaved in one
# process), then the kernel path in the VM.  Prints the markdown tables,
# writes $BUILD/bench/results.md and results.csv (bench/README.md explains
# them).
#
# Environment: BENCH_COUNTS (10000,1000000,10000000), BENCH_RESTART_COUNTS
# (1000,10000,1000000,10000000; with only BENCH_COUNTS given: 1000 and its
# largest), BENCH_RUNS (5: interleaved repetitions), BENCH_RUNS_LARGE (3:
# from 5e6 live on), BENCH_K (3000 lookups per tick), BENCH_MEM_GIB (8: the
# peers of one group together, at most), BENCH_THP (auto|no), BENCH_VM
# (auto|no).
#
# Huge pages: shmem gives them to /dev/shm only where that tmpfs is mounted
# huge=advise (or always, within_size); shmem_enabled in sysfs rules the
# kernel's internal mount, not /dev/shm (mm/shmem.c).  As root (and
# BENCH_THP=auto), bench_tick runs in a mount namespace of its own, with a
# huge=advise tmpfs of its own on /dev/shm, and with --thp: every peer asks
# for transparent huge pages.  Nothing changes outside that namespace (no
# sysfs knob, no remount), and its /dev/shm goes with it.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
OUT=$BUILD/bench
COUNTS=${BENCH_COUNTS:-10000,1000000,10000000}
if [ -n "${BENCH_RESTART_COUNTS:-}" ]; then
	RCOUNTS=$BENCH_RESTART_COUNTS
elif [ -n "${BENCH_COUNTS:-}" ]; then
	RCOUNTS=1000,$(tr ',' '\n' <<<"$COUNTS" | sort -g | tail -n1)
else
	RCOUNTS=1000,10000,1000000,10000000
fi
RUNS=${BENCH_RUNS:-5}
RUNS_LARGE=${BENCH_RUNS_LARGE:-3}
K=${BENCH_K:-3000}
MEM_GIB=${BENCH_MEM_GIB:-8}
SERIES=6.1

log() { echo "bench: $*" >&2; }

make --no-print-directory "$OUT/bench_tick" "$BUILD/vm/bench/bench_kpath" >/dev/null
mkdir -p "$OUT"
MACHINE="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start, $(date -u +%F)"
log "machine: $MACHINE"
TICK=(nice "$OUT/bench_tick" --counts "$COUNTS" --restart-counts "$RCOUNTS" --reps "$RUNS"
	--reps-large "$RUNS_LARGE" --k "$K" --mem-gib "$MEM_GIB" --csv "$OUT/results.csv")
PAGES="4 KiB pages (no huge pages for any peer but the raw pointer's THP row)"
if [ "${BENCH_THP:-auto}" != no ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
	unshare --mount --propagation private true 2>/dev/null; then
	log "huge pages: bench_tick runs in its own mount namespace with a huge=advise tmpfs on /dev/shm (nothing changes outside it)"
	PAGES="transparent huge pages asked for by every peer (bench_tick --thp, in a mount namespace with a huge=advise tmpfs of its own on /dev/shm); the last column says what each got"
	TICK=(unshare --mount --propagation private -- sh -c \
		'mount -t tmpfs -o huge=advise,mode=1777,size=50% bench-shm /dev/shm && exec "$@"' sh
		"${TICK[@]}" --thp)
else
	log "huge pages: not asked for (BENCH_THP=no, not root, or no unshare): 4 KiB pages"
fi
log "1/2 bench_tick (live $COUNTS; restart $RCOUNTS; $RUNS runs, $RUNS_LARGE from 5e6 live; groups of at most $MEM_GIB GiB)"
{
	echo "Machine: $MACHINE.  Host figures: POSIX backend, thread CPU time, $PAGES."
	SHMDEV_BACKEND=posix "${TICK[@]}"
} >"$OUT/results.md.tmp"

log "2/2 kernel path"
KLOG=$BUILD/vm/logs/$SERIES.log
KROWS=$OUT/kpath.csv
: >"$KROWS"
if [ -c /dev/shmpool ]; then
	"$BUILD/vm/bench/bench_kpath" | sed -n 's/^BENCHCSV,//p' >>"$KROWS"
elif [ "${BENCH_VM:-auto}" != no ] && [ "$(id -u)" -eq 0 ]; then
	log "no /dev/shmpool here: booting the $SERIES kernel with the module in qemu"
	tests/vm/kernels.sh "$SERIES" >&2
	BUILD=$BUILD tests/vm/build-kmod.sh "$SERIES" >&2
	BUILD=$BUILD VM_TEST_BINS=$BUILD/vm/bench/bench_kpath SHMPOOL_VM_TIMEOUT=900 \
		tests/vm/run.sh "$SERIES" | grep -E 'PASS|FAIL' >&2 || log "the VM round failed: see $KLOG"
	tr -d '\r' <"$KLOG" | sed -n 's/^BENCHCSV,//p' >>"$KROWS"
else
	log "no /dev/shmpool and no VM (BENCH_VM=no or not root): kernel rows skipped"
fi
{
	echo
	echo "### Kernel path, in the VM (the $SERIES kernel in qemu, software emulation; same boot)"
	echo
	if [ -s "$KROWS" ]; then
		echo "| measure | impl | region | value | note |"
		echo "|---|---|---:|---:|---|"
		awk -F, '{ printf "| %s | %s | %d MiB | %s %s | %s |\n", $2, $3, $4 / 1048576, $6, $7, $8 }' "$KROWS"
	else
		echo "Not run (no /dev/shmpool, and no VM: BENCH_VM=no, not root, or the VM round failed)."
	fi
} >>"$OUT/results.md.tmp"
# A transaction's cost, beside the tick (bench/bench_tx.c).
make --no-print-directory "$OUT/bench_tx" >/dev/null
log "transactions (bench_tx)"
{
	echo
	"$OUT/bench_tx" --iters 1000000 --reps "$RUNS"
} >>"$OUT/results.md.tmp"
# The C++ layer against the C calls it wraps (bench/bench_cpp.cpp, issue 15):
# times, then instructions per call under callgrind.
make --no-print-directory "$OUT/bench_cpp" >/dev/null
log "C++ layer (bench_cpp)"
{
	echo
	"$OUT/bench_cpp" --reps "$RUNS"
	echo
	BENCH=$OUT/bench_cpp N=100000 OUT=$OUT/bench_cpp.callgrind bench/cpp_counts.sh
} >>"$OUT/results.md.tmp"
mv "$OUT/results.md.tmp" "$OUT/results.md"
cat "$OUT/results.md"
log "markdown: $OUT/results.md; CSV: $OUT/results.csv (bench_tick), $KROWS (kernel path)"
