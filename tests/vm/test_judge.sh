#!/usr/bin/env bash
# Host test of the bench's kernel-log judge (vm_kernel_bad in lib.sh), on
# console logs kept in tests/vm/judge/ (a real 6.1 memory cgroup OOM kill,
# console copy and dmesg dump, and a WARN) and variants made from them:
# an announced OOM passes; a WARN, an unannounced OOM, an OOM announced for
# another pid or after the fact, or a report without its kill still fail.
# Then the debug kernel's reports: KASAN, KFENCE, atomic sleep, lockdep and
# kmemleak each fail, also without their header line; its clean boot passes.
# Last, a kernel that dies before init is told apart (run.sh boots again).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OOM=$HERE/judge/oom-announced.log
WARN=$HERE/judge/warn.log
checks=0 fails=0

# expect NAME LOG [PATTERN]: no bad line without PATTERN, else one matching it.
expect() {
	local name=$1 log=$2 want=${3:-} out
	checks=$((checks + 1))
	out=$(vm_kernel_bad "$log")
	if [ -z "$want" ] && [ -n "$out" ]; then
		echo "test_judge: $name: FAIL: flagged lines, none expected:" >&2
		printf '    %s\n' "$out" >&2
		fails=$((fails + 1))
	elif [ -n "$want" ] && ! grep -qE -- "$want" <<<"$out"; then
		echo "test_judge: $name: FAIL: no flagged line matches '$want' (flagged: ${out:-none})" >&2
		fails=$((fails + 1))
	fi
}

expect "announced OOM passes" "$OOM"

sed '/EXPECT-OOM/d' "$OOM" >"$T/unannounced.log"
expect "unannounced OOM fails" "$T/unannounced.log" 'Call Trace:'

sed 's/EXPECT-OOM 116/EXPECT-OOM 117/' "$OOM" >"$T/otherpid.log"
expect "OOM announced for another pid fails" "$T/otherpid.log" 'Call Trace:'

sed -e '/EXPECT-OOM/d' -e '/RMMOD ok/i [    4.800000] SHMPOOL-VM: EXPECT-OOM 116' "$OOM" >"$T/late.log"
expect "OOM announced after the report fails" "$T/late.log" 'Call Trace:'

sed '/Killed process/d' "$OOM" >"$T/nokill.log"
expect "OOM report without the kill fails" "$T/nokill.log" 'Call Trace:'

cat "$OOM" "$WARN" >"$T/warn-after.log"
expect "WARN after an announced OOM fails" "$T/warn-after.log" 'WARNING:'
expect "its call trace too" "$T/warn-after.log" '5\.100300\] Call Trace:'

sed 's/^\[    5\.100/[    4.720/' "$WARN" >"$T/warn-in.txt"
sed "/4.720461\]  <\/TASK>/r $T/warn-in.txt" "$OOM" >"$T/warn-inside.log"
expect "WARN inside an announced OOM report fails" "$T/warn-inside.log" 'WARNING:'

grep -v 'Call Trace' "$WARN" | sed 's/WARNING:/BUG: kernel NULL pointer dereference,/' |
	cat "$OOM" - >"$T/bug.log"
expect "BUG fails" "$T/bug.log" 'BUG: kernel NULL'

# The debug kernel's checkers, samples in tests/vm/judge/ (lockdep-held.log
# is captured from the debug round with a planted missing unlock; the
# others are written in the kernel's report formats).
# Each report fails, and still fails with its "BUG:"/"WARNING:" header line
# lost (a body line names it); a clean debug-kernel boot passes.
J=$HERE/judge
expect "KASAN report fails" "$J/kasan.log" 'BUG: KASAN: slab-use-after-free'
grep -v 'BUG: KASAN' "$J/kasan.log" | grep -v 'Call Trace' >"$T/kasan-nohdr.log"
expect "KASAN report without its header fails" "$T/kasan-nohdr.log" 'The buggy address belongs to'
expect "KFENCE report fails" "$J/kfence.log" 'BUG: KFENCE: out-of-bounds read'
grep -v 'BUG: KFENCE' "$J/kfence.log" >"$T/kfence-nohdr.log"
expect "KFENCE report without its header fails" "$T/kfence-nohdr.log" 'kfence-#72:'
expect "atomic sleep fails" "$J/atomic-sleep.log" 'BUG: sleeping function called from invalid context'
sed -e 's/BUG: sleeping/sleeping/' -e '/Call Trace/d' "$J/atomic-sleep.log" >"$T/sleep-nohdr.log"
expect "atomic sleep without BUG: fails" "$T/sleep-nohdr.log" 'sleeping function called from invalid context'
expect "lockdep: lock held on return to user fails" "$J/lockdep-held.log" 'WARNING: lock held when returning to user space'
grep -v 'WARNING:' "$J/lockdep-held.log" | grep -v 'Call Trace' >"$T/lockdep-nohdr.log"
expect "lockdep report without its header fails" "$T/lockdep-nohdr.log" 'leaving the kernel with locks still held'
expect "lockdep: circular dependency fails" "$J/lockdep-circular.log" 'possible circular locking dependency'
expect "kmemleak report fails" "$J/kmemleak.log" 'unreferenced object 0x'
expect "a clean debug-kernel boot passes" "$J/debug-boot.log"

# A kernel that dies before init (preinit-crash.log: the debug kernel under
# TCG on a loaded host) is told apart, so run.sh boots it again; a report
# after init ran, or a clean boot, is not.
expect_preinit() { # name log want-crash
	local out st=0
	checks=$((checks + 1))
	out=$(vm_preinit_crash "$2") || st=$?
	if [ "$3" = yes ] && { [ "$st" -ne 0 ] || ! grep -q 'BUG: KASAN: wild-memory-access' <<<"$out"; }; then
		echo "test_judge: $1: FAIL: not told a pre-init crash (${out:-nothing})" >&2
		fails=$((fails + 1))
	elif [ "$3" = no ] && [ "$st" -eq 0 ]; then
		echo "test_judge: $1: FAIL: told a pre-init crash: $out" >&2
		fails=$((fails + 1))
	fi
}
expect "a kernel dying before init fails" "$J/preinit-crash.log" 'BUG: KASAN: wild-memory-access'
expect_preinit "a kernel dying before init is a pre-init crash" "$J/preinit-crash.log" yes
{ echo 'SHMPOOL-VM: BOOT 7.3.4-shmpool-debug cpus=1'; cat "$J/preinit-crash.log"; } >"$T/postinit.log"
expect_preinit "a report after init ran is no pre-init crash" "$T/postinit.log" no
expect_preinit "a clean boot is no pre-init crash" "$J/debug-boot.log" no
grep -v 'SHMPOOL-VM' "$J/debug-boot.log" >"$T/silent.log"
expect_preinit "a boot with no report is no pre-init crash" "$T/silent.log" no

echo "$(((checks - fails) * 100 / checks))%: Checks: $checks, Failures: $fails, Errors: 0"
[ "$fails" -eq 0 ]
