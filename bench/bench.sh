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
# from 5e6 live on), BENCH_K (3000 lookups per tick), BENCH_VM (auto|no).
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
SERIES=6.1

log() { echo "bench: $*" >&2; }

make --no-print-directory "$OUT/bench_tick" "$BUILD/vm/bench/bench_kpath" >/dev/null
mkdir -p "$OUT"
MACHINE="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start, $(date -u +%F)"
log "machine: $MACHINE"
log "1/2 bench_tick (live $COUNTS; restart $RCOUNTS; $RUNS runs, $RUNS_LARGE from 5e6 live)"
{
	echo "Machine: $MACHINE.  Host figures: POSIX backend, thread CPU time."
	SHMDEV_BACKEND=posix "$OUT/bench_tick" --counts "$COUNTS" --restart-counts "$RCOUNTS" \
		--reps "$RUNS" --reps-large "$RUNS_LARGE" --k "$K" --csv "$OUT/results.csv"
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
mv "$OUT/results.md.tmp" "$OUT/results.md"
cat "$OUT/results.md"
log "markdown: $OUT/results.md; CSV: $OUT/results.csv (bench_tick), $KROWS (kernel path)"
