#!/usr/bin/env bash
# Checks scripts/test-lanes.sh (make test's lanes) on a scratch Makefile:
# every line of a lane comes prefixed, the summary gives each lane's wall
# and CPU time (a lane that computes for about a second must not show CPU
# 0), a failing lane fails the run and has its log's tail repeated while
# the other lane still runs to its end, SHMPOOL_LANES_SERIAL=1 runs one lane
# after the other, and a bad lane spec is refused with exit 2.
#
# LANES (default scripts/test-lanes.sh) is the script under test.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
LANES=${LANES:-$TOP/scripts/test-lanes.sh}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # description command...
	local what=$1
	shift
	if "$@"; then echo "lanes: ok: $what"; else echo "lanes: FAILED: $what"; fails=$((fails + 1)); fi
}

# busy: two to three seconds of shell arithmetic on these machines (the
# CPU check wants at least 1 s, rounded, however fast the machine);
# slow: a wait, done after the other lane's failure.
cat >"$T/Makefile" <<'MK'
busy:
	@i=0; while [ $$i -lt 3000000 ]; do i=$$((i+1)); done; echo "busy in $(BUILD)"
slow:
	@sleep 2; echo "slow in $(BUILD) done"
fail:
	@echo "fail: the reason"; exit 3
MK
cd "$T" || exit 1

out=$(MAKE=make "$LANES" "one:b1:busy" "two:b2:slow" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "two passing lanes exit 0" [ "$rc" = 0 ]
check "a lane's lines come prefixed with its name" grep -qx '\[one\] busy in b1' <<<"$out"
check "each lane runs in its own build directory" grep -qx '\[two\] slow in b2 done' <<<"$out"
check "each lane's log is kept" grep -qx 'slow in b2 done' b2/test-lanes/two.log
cpu=$(sed -n 's/^test-lanes: *one *PASS *[0-9]* s, CPU \([0-9]*\) s .*/\1/p' <<<"$out")
check "the summary gives wall and CPU time, CPU not 0 for a busy lane (CPU ${cpu:-missing})" \
	[ "${cpu:-0}" -ge 1 ]

out=$(MAKE=make "$LANES" "bad:b3:fail" "good:b4:slow" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "a failing lane fails the run" [ "$rc" = 1 ]
check "the failing lane is named with its exit and time" \
	grep -q '^test-lanes: *bad *FAIL *exit 2 after [0-9]* s, CPU [0-9]* s' <<<"$out"
check "the failing lane's log tail is repeated" grep -qx '    fail: the reason' <<<"$out"
check "the other lane runs to its end" grep -q '^test-lanes: *good *PASS' <<<"$out"

out=$(SHMPOOL_LANES_SERIAL=1 MAKE=make "$LANES" "s1:b5:slow" "s2:b6:slow" 2>&1); rc=$?
first_done=$(grep -n 'slow in b5 done' <<<"$out" | cut -d: -f1)
second_start=$(grep -n 'BUILD=b6' <<<"$out" | cut -d: -f1)
check "serial mode passes" [ "$rc" = 0 ]
check "serial mode: the second lane starts after the first ends" [ "${first_done:-9999}" -lt "${second_start:-0}" ]

out=$(MAKE=make "$LANES" "Bad Name:b7:busy" 2>&1); rc=$?
check "a bad lane spec is refused with exit 2" [ "$rc" = 2 ]
check "a bad lane spec is named" grep -q "bad lane 'Bad Name:b7:busy'" <<<"$out"

[ "$fails" = 0 ] && { echo "lanes: all checks passed"; exit 0; }
echo "lanes: $fails check(s) failed"
exit 1
