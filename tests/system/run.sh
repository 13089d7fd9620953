#!/usr/bin/env bash
# The system test: boot a real Debian system (systemd, udev, logind, dkms)
# per suite under qemu (software emulation) and walk README's installation
# section in it (tests/system/walk.sh); see tests/system/README.md.
#
#   tests/system/run.sh [SUITE...]     bookworm (6.1), trixie (6.12); default both
#
# The image (tests/system/image.sh, cached) is never written: each boot
# runs on qemu's copy-on-write snapshot of it (snapshot=on, a temporary
# overlay qemu discards at exit).  The tree under test (git's tracked
# and untracked-but-not-ignored files) goes in on a second, read-only disk;
# results come back on the serial console: $BUILD/system/<suite>.log.
#
# Environment: SHMPOOL_SYSTEM_TIMEOUT seconds per boot (default 3600),
# SHMPOOL_SYSTEM_MEM, SHMPOOL_SYSTEM_SMP (2G, 2), BUILD (build),
# SHMPOOL_SYSTEM_SERIAL=1 boots the suites one after the other.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$TOP/tests/vm/lib.sh"	# vm_kernel_bad: the VM rounds' kernel log judge

BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
TIMEOUT=${SHMPOOL_SYSTEM_TIMEOUT:-3600}
MEM=${SHMPOOL_SYSTEM_MEM:-2G}
SMP=${SHMPOOL_SYSTEM_SMP:-2}
CACHE=${SHMPOOL_SYSTEM_CACHE:-/var/cache/shmpool/system}
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(bookworm trixie)

die() { echo "system: error: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (make deps)"

WORK=$BUILD/system
mkdir -p "$WORK"

# The tree under test, as an ext4 disk (mkfs.ext4 -d: no mount needed).
make_walk_disk() {
	local stage=$WORK/tree
	rm -rf "$stage" "$WORK/walk.img"
	mkdir -p "$stage"
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' |
		tar --null -T - -cf -) | tar -C "$stage" -xf -
	mkfs.ext4 -q -F -L shmpool-walk -d "$stage" "$WORK/walk.img" 256M >/dev/null
	rm -rf "$stage"
}

# Print the reasons a console log fails, one a line.
judge() { # log qemu-rc
	local log=$1 qrc=$2 line
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		echo "the system timed out after ${TIMEOUT}s (SHMPOOL_SYSTEM_TIMEOUT)"
	fi
	grep -aq 'SYSTEM-BEGIN: ' "$log" || echo "the walk never started: the system did not boot or the unit did not run"
	grep -aq '^SYSTEM-DONE: ' "$log" || echo "no final marker: the walk crashed, hung or was cut"
	grep -aq '^SYSTEM-DONE: .* 0 failed' "$log" || grep -aq '^SYSTEM-FAIL' "$log" ||
		echo "the walk did not report 0 failed"
	grep -aE '^SYSTEM-FAIL: ' "$log" | sed 's/^SYSTEM-FAIL: /failed: /'
	grep -aE '^ *WALK-LINE-FAILED: ' "$log" | sed 's/^ */  /'
	vm_kernel_bad "$log" | head -n 3 |
		while IFS= read -r line; do echo "kernel: ${line:0:160}"; done
	return 0
}

# One suite's boot, walk and verdict; prints its result lines.
boot() { # suite
	local suite=$1 img=$CACHE/$1 log=$WORK/$1.log start secs qrc=0 reasons
	echo "system [$suite] $(cat "$img/krel"): booting (tcg), walking README; log $log"
	start=$(date +%s)
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp "$SMP" -m "$MEM" \
		-nographic -no-reboot -nic none \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 panic=-1 quiet printk.time=1 systemd.show_status=0" \
		-drive "file=$img/root.img,if=virtio,format=raw,snapshot=on,cache=unsafe" \
		-drive "file=$WORK/walk.img,if=virtio,format=raw,readonly=on" \
		</dev/null >"$log" 2>&1 || qrc=$?
	secs=$(( $(date +%s) - start ))
	grep -aE '^SYSTEM-(PASS|FAIL)' "$log" | sed "s/^/system [$suite] /" || true
	reasons=$(judge "$log" "$qrc")
	if [ -z "$reasons" ]; then
		echo "system [$suite]: PASS ($(sed -n 's/^SYSTEM-DONE: //p' "$log"), boot to power-off ${secs}s)"
		return 0
	fi
	echo "system [$suite]: FAIL (${secs}s, log $log):"
	echo "$reasons" | sed 's/^/  /'
	return 1
}

# The images first (built once and cached; debootstrap is mostly download
# and unpacking), then the systems.  The suites boot side by side, so that
# make test's third lane takes about one walk's wall time instead of the
# sum of two; each suite's result lines are printed together.
make_walk_disk
for suite in "${SUITES[@]}"; do "$HERE/image.sh" "$suite"; done
rc=0
if [ "${SHMPOOL_SYSTEM_SERIAL:-0}" = 1 ]; then
	for suite in "${SUITES[@]}"; do boot "$suite" || rc=1; done
	exit $rc
fi
pids=()
for suite in "${SUITES[@]}"; do
	boot "$suite" >"$WORK/$suite.result" 2>&1 &
	pids+=($!)
done
for i in "${!SUITES[@]}"; do
	wait "${pids[i]}" || rc=1
	cat "$WORK/${SUITES[i]}.result"
done
exit $rc
