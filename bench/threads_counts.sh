#!/usr/bin/env bash
# `make bench-threads-counts`: bench_threads --counts under callgrind, then
# the instructions per call of op_get, op_alloc and op_free (the noinline
# wrappers of shmdev_get, shmdev_alloc and shmdev_free, without
# SHMDEV_POOL_THREADS), from callgrind's inclusive costs and call counts.
# BENCH: the binary (bench_threads); N: calls of each; OUT: callgrind file;
# FLAG=--threads: with SHMDEV_POOL_THREADS (the lock's cost, one thread).
set -euo pipefail
: "${BENCH:?}" "${N:?}" "${OUT:?}"
SHMDEV_BACKEND=${SHMDEV_BACKEND:-posix} valgrind --tool=callgrind --callgrind-out-file="$OUT" \
	"$BENCH" ${FLAG:-} --counts "$N" >/dev/null 2>"$OUT.log" || { tail "$OUT.log" >&2; exit 1; }
# The wrappers' call counts are known: N each, +16 warm-up allocs, frees and
# force_gets (bench_threads.c).
callgrind_annotate --inclusive=yes --auto=no "$OUT" | awk -v n="$N" '
/:op_(get|alloc|free|find|force_get) \[/ {
	line = $0; gsub(/,/, "", line); split(line, f, /[ \t]+/)
	ir = f[1] == "" ? f[2] : f[1]
	match($0, /:op_[a-z_]+/); fn = substr($0, RSTART + 1, RLENGTH - 1)
	calls = fn == "op_alloc" || fn == "op_free" || fn == "op_force_get" ? n + 16 : n
	printf "  %-10s %6.2f instructions per call\n", fn, ir / calls
}'
