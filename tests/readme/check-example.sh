#!/usr/bin/env bash
# The C example in README.md must compile against the library as built here,
# and behave as the README says: "new" on the first run, "resumed" with the
# level kept on the second, on the POSIX backend with the sample config.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
work=$(mktemp -d)
export SHMDEV_BACKEND=posix SHMDEV_POSIX_PREFIX="shmpool-readme-$$"
cleanup() {
	"$build/shmpoolctl" --backend posix rm --all --yes >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

awk '/^```c$/ {on=1; next} /^```$/ {on=0} on' "$top/README.md" >"$work/app.c"
[ -s "$work/app.c" ] || { echo "readme: no C example found in README.md" >&2; exit 1; }
${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$top/libshmdev" -I"$top/include/uapi" \
	-o "$work/app" "$work/app.c" "$build/libshmdev.a" -linih -lrt
cp "$top/conf/memorypool.ini" "$work/"
cd "$work"
first=$(./app)
second=$(./app)
echo "readme example: $first / $second"
[ "$first" = "player 42: new, level 1" ] || { echo "readme: first run printed '$first'" >&2; exit 1; }
[ "$second" = "player 42: resumed, level 2" ] || { echo "readme: second run printed '$second'" >&2; exit 1; }
echo "readme example: 1 passed, 0 failed"
