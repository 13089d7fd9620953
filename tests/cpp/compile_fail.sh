#!/usr/bin/env bash
# The compile-fail tests of shmdev.hpp: every CASE of tests/cpp/compile_fail.cpp
# must fail to compile, with its message; CASE=0 must compile (so a failure
# is the line under test, not the file).  Run from the repository root by
# "make test-cpp-compile-fail"; CXX and CXXFLAGS come from tests/cpp/build.mk.
set -euo pipefail
export LC_ALL=C	# plain quotes in the compiler's messages

CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:--std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude/uapi -Ilibshmdev}
SRC=tests/cpp/compile_fail.cpp
D=$(mktemp -d "${TMPDIR:-/tmp}/shmpool-cpp-fail.XXXXXX")
trap 'rm -rf "$D"' EXIT

# CASE|what|the message the compiler must give
cases=(
	"1|a handle<Player> passed for a handle<Item>|use of deleted function 'shmdev::handle<T>::handle\\(const shmdev::handle<U>&\\) \\[with U = Player.*T = Item\\]'"
	"2|a handle<Player> assigned to a handle<Item>|use of deleted function.*\\[with U = Player.*T = Item\\]"
	"3|a type holding std::string|shmdev: a pool object type must be trivially copyable"
	"4|a type with a virtual function|shmdev: a pool object type must not have virtual functions"
	"5|a type that is not standard-layout|shmdev: a pool object type must be standard-layout"
	"6|a type that is not registered|shmdev: this type is not registered"
	"7|find on a type that is not keyed|shmdev::pool::find needs a keyed type"
	"8|force_get on a type that is not keyed|shmdev::pool::force_get needs a keyed type"
	"9|a raw handle made into a typed one without from_raw|no matching function for call to 'shmdev::handle<Item>::handle\\(shmdev_handle_t\\)'"
	"10|get of a Player handle stored as an Item|cannot convert 'Player\\*' to 'Item\\*'"
	"11|get<Item> of a Player handle|use of deleted function.*\\[with U = Player.*T = Item\\]"
	"12|a result dropped|ignoring returned value of type 'shmdev::result<shmdev::ref<Item> >'"
	"13|a pool copied|use of deleted function 'shmdev::pool::pool\\(const shmdev::pool&\\)'"
	"14|a converter that takes the old object non-const|shmdev: a converter is called as fn\\(const Old &old, T &now\\)"
	"15|a converter from a struct of another type id|shmdev: a converter's old struct must be registered with T's type id"
	"16|a converter from T itself|shmdev: a converter reads the struct T was stored as, not T itself"
	"17|a converter returning bool|shmdev: a converter returns void, or int"
	"18|fast_path<Item>::get of a Player handle|use of deleted function.*\\[with U = Player.*T = Item\\]"
	"19|fast_path::find on a type that is not keyed|shmdev::fast_path::find needs a keyed type"
)

fail=0
# shellcheck disable=SC2086 # word splitting of CXXFLAGS is intended
if ! $CXX $CXXFLAGS -DCASE=0 -fsyntax-only "$SRC" 2>"$D/0.err"; then
	cat "$D/0.err" >&2
	echo "compile-fail: FAIL: CASE=0 (the control) does not compile" >&2
	exit 1
fi
echo "compile-fail: CASE=0 compiles (the control)"
for c in "${cases[@]}"; do
	IFS='|' read -r n what want <<<"$c"
	# shellcheck disable=SC2086
	if $CXX $CXXFLAGS -DCASE="$n" -fsyntax-only "$SRC" 2>"$D/$n.err"; then
		echo "compile-fail: FAIL: CASE=$n ($what) compiled" >&2
		fail=1
	elif ! grep -qE -- "$want" "$D/$n.err"; then
		echo "compile-fail: FAIL: CASE=$n ($what) failed, but without \"$want\":" >&2
		head -20 "$D/$n.err" >&2
		fail=1
	else
		echo "compile-fail: CASE=$n refused: $what"
	fi
done
[ $fail -eq 0 ] || exit 1
echo "compile-fail: PASS (${#cases[@]} cases)"
