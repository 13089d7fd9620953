#!/usr/bin/env bash
# The C++ example in README.md ("Using it from C++") must compile against
# shmdev.hpp as built here, with and without exceptions, and behave as the
# README says: "new" on the first run, "resumed" with the level kept on the
# second, and it resumes the pool of the README's C example (the same
# layout), on the POSIX backend with the sample config.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
work=$(mktemp -d)
export SHMDEV_BACKEND=posix SHMDEV_POSIX_PREFIX="shmpool-readme-cpp-$$"
cleanup() {
	"$build/shmpoolctl" --backend posix rm --all --yes >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "readme-cpp: FAIL: $*" >&2; exit 1; }

awk '/^```cpp$/ {on=1; next} /^```$/ {on=0} on' "$top/README.md" >"$work/app.cpp"
awk '/^```c$/ {on=1; next} /^```$/ {on=0} on' "$top/README.md" >"$work/app.c"
[ -s "$work/app.cpp" ] || fail "no C++ example found in README.md"
flags=(-std=c++17 -Wall -Wextra -Werror -pedantic -I"$top/libshmdev" -I"$top/include/uapi")
libs=("$build/libshmdev.a" -linih -lrt)
${CXX:-g++} "${flags[@]}" -o "$work/app" "$work/app.cpp" "${libs[@]}"
${CXX:-g++} "${flags[@]}" -fno-exceptions -o "$work/app-noexc" "$work/app.cpp" "${libs[@]}"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$top/libshmdev" -I"$top/include/uapi" \
	-o "$work/app-c" "$work/app.c" "${libs[@]}"
cp "$top/conf/memorypool.ini" "$work/"
cd "$work"
run() {
	local out
	out=$("./$1")
	echo "readme C++ example: ./$1: $out"
	[ "$out" = "$2" ] || fail "./$1 printed '$out', expected '$2'"
}
run app "player 42: new, level 1"
run app-noexc "player 42: resumed, level 2"
run app-c "player 42: resumed, level 3"
run app "player 42: resumed, level 4"
echo "readme C++ example: 4 runs passed"
