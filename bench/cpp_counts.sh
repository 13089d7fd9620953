#!/usr/bin/env bash
# `make bench-cpp`, second table: bench_cpp --counts under callgrind, then the
# instructions per call of each operation's C and C++ side (the out-of-line
# op_c_* and op_cpp_* functions of bench/bench_cpp.cpp, each called N times),
# from callgrind's inclusive costs.  callgrind_annotate lists a function once
# per source file its inlined code came from, and names the binary on one of
# those rows only; the largest row is the whole call.  A clock-free
# comparison: equal counts mean the layer costs nothing.
# BENCH: the binary; N: calls of each; OUT: callgrind file.
set -euo pipefail
: "${BENCH:?}" "${N:?}" "${OUT:?}"
SHMDEV_BACKEND=${SHMDEV_BACKEND:-posix} valgrind --tool=callgrind --callgrind-out-file="$OUT" \
	"$BENCH" --counts "$N" >/dev/null 2>"$OUT.log" || { tail "$OUT.log" >&2; exit 1; }
callgrind_annotate --inclusive=yes --auto=no "$OUT" | awk -v n="$N" '
/:op_(c|cpp)_[a-z_]+( |$)/ {
	line = $0; gsub(/,/, "", line); split(line, f, /[ \t]+/)
	ir = f[1] == "" ? f[2] : f[1]
	match($0, /:op_(c|cpp)_[a-z_]+/); fn = substr($0, RSTART + 1, RLENGTH - 1)
	side = fn ~ /^op_cpp_/ ? "cpp" : "c"; op = fn; sub(/^op_(c|cpp)_/, "", op)
	if (ir / n > v[op, side])
		v[op, side] = ir / n
	ops[op] = 1
}
END {
	print "| operation | C instructions/call | C++ instructions/call |"
	print "|---|---|---|"
	split("get_fast get_call alloc_free find_fast find force_get", order, " ")
	for (i = 1; i <= 6; i++) {
		op = order[i]
		if (op in ops)
			printf "| %s | %.2f | %.2f |\n", op, v[op, "c"], v[op, "cpp"]
	}
}'
