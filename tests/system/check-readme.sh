#!/usr/bin/env bash
# README's package list and `make deps-build` (scripts/install-deps.sh
# --build) must name the same packages: the system test builds its images
# from the script's list and then follows README, so either one drifting
# breaks a test.  Also: every README block the system test runs is there.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
readme=$top/README.md
fail() { echo "system-readme: FAIL: $*" >&2; exit 1; }

# shellcheck disable=SC2016 # the backticks are README's, not an expansion
doc=$(tr '\n' ' ' <"$readme" | sed -n 's/.*To build and run shmpool a host needs `\([^`]*\)`.*/\1/p')
[ -n "$doc" ] || fail "README.md: no \"To build and run shmpool a host needs \`...\`\" sentence"
script=$("$top/scripts/install-deps.sh" --print-build | tr '\n' ' ')
# shellcheck disable=SC2086 # split into words on purpose
a=$(printf '%s\n' $doc | LC_ALL=C sort | tr '\n' ' ')
# shellcheck disable=SC2086
b=$(printf '%s\n' $script | LC_ALL=C sort | tr '\n' ' ')
[ "$a" = "$b" ] || fail "README lists '$a' but make deps-build installs '$b'"

want="deps group install dkms load example inspect remove"
got=$(sed -n 's/^<!-- system-test: \([a-z0-9-]*\) as [a-z]* -->$/\1/p' "$readme" | tr '\n' ' ')
[ "$got" = "$want " ] || fail "README's system-test blocks are '$got', tests/system/walk.sh expects '$want'"
echo "system-readme: package list and walk blocks agree: PASS"
