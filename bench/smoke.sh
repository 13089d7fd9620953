#!/usr/bin/env bash
# `make bench-smoke` (part of `make test-host`): bench_tick at tiny counts,
# one repetition; checks that every peer ran every phase it has and that
# every table came out.  No timing is checked.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "bench smoke: $*" >&2; sed 's/^/  | /' "$TMP/out" "$TMP/err" >&2; exit 1; }

SHMDEV_BACKEND=posix "$BUILD/bench/bench_tick" --counts 3000 --restart-counts 300,3000 --reps 1 --k 300 \
	--csv "$TMP/csv" >"$TMP/out" 2>"$TMP/err" || fail "bench_tick failed"
! grep -q "skipped" "$TMP/err" || fail "a peer was skipped"

# name: the phases it must have a figure for (columns 2..11 of the table)
check() {
	local name=$1 want=$2 line cells i
	line=$(grep -F "| $name |" "$TMP/out") || fail "no row for \"$name\""
	IFS='|' read -r -a cells <<<"$line"
	for i in $want; do
		[[ "${cells[$i]}" =~ [0-9] ]] || fail "\"$name\": no figure in column $i"
	done
}
ALL="2 3 4 5 6 7 8 9"
check "shmpool" "$ALL 12 13"
check "slab floor" "$ALL 12 13"
check "raw pointer (4 KiB pages)" "3"
check "raw pointer (THP madvise)" "3"
for m in glibc jemalloc mimalloc tcmalloc; do
	check "$m + table" "$ALL 10 11 12"
done
check "Boost node_allocator (locked)" "$ALL 12"
check "Boost private_node_allocator (no lock)" "$ALL 12"
grep -q "^| 3000 | [0-9.]* | .* Mobj/s |$" "$TMP/out" || fail "no restart row"
for t in "find, 3000 live" "alloc+free 64, 3000 live" "memory per object" "crash repair" "clean open"; do
	grep -q "^| $t" "$TMP/out" || fail "no target row \"$t\""
done
[ "$(wc -l <"$TMP/csv")" -ge 80 ] || fail "the CSV has $(wc -l <"$TMP/csv") rows"

# Groups (a memory budget too small for more than one peer beside shmpool and
# the floor) and --thp (every peer asks for huge pages; where /dev/shm gives
# none, the run goes on with small ones).
SHMDEV_BACKEND=posix "$BUILD/bench/bench_tick" --counts 3000 --restart-counts '' --reps 1 --k 300 \
	--mem-gib 0.0625 --thp --only slab,glibc,tcmalloc --phases tick,get >"$TMP/out" 2>"$TMP/err" ||
	fail "bench_tick --mem-gib --thp failed"
check "shmpool" "2 3 13"
check "slab floor" "2 3 13"
check "glibc + table" "2 3"
check "tcmalloc + table (group 2)" "2 3"
grep -q "asked for them (--thp)" "$TMP/out" || fail "no word of --thp under the table"
echo "bench smoke: ok (10 peers, restart, targets; groups, --thp)"
