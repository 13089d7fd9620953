#!/usr/bin/env bash
# Boot each kernel series in qemu with the freshly built shmpool.ko and run
# every VM test binary inside; see tests/vm/README.md.
#
#   tests/vm/run.sh [SERIES...]            one round per series (default: all)
#   tests/vm/run.sh --shell SERIES         interactive shell in the VM
#
# Test binaries: $VM_TEST_BINS (space-separated, run in that order), else
# every file in $BUILD/vm/bin.  Extra programs the binaries run (e.g.
# /usr/bin/trinity): $VM_EXTRA_PROGS, absolute host paths, copied to the same
# path in the VM with their libraries.  Modules: $BUILD/kmod/<series>/shmpool.ko
# (tests/vm/build-kmod.sh).  Console logs: $BUILD/vm/logs/<series>.log.
#
# Environment:
#   SHMPOOL_VM_TIMEOUT       seconds per VM (default 1800)
#   SHMPOOL_VM_TEST_TIMEOUT  seconds per test binary inside the VM (default 900)
#   SHMPOOL_VM_CK_MULT       CK_TIMEOUT_MULTIPLIER inside the VM (default 10:
#                            software emulation is slow)
#   SHMPOOL_VM_ENV           extra NAME=VALUE words for every test binary,
#                            e.g. "CK_RUN_SUITE=owner CK_VERBOSITY=verbose"
#   SHMPOOL_VM_ACCEL         kvm, tcg or auto (default: kvm only if it boots)
#   SHMPOOL_VM_APPEND        extra kernel command line
#   SHMPOOL_VM_MEM, SHMPOOL_VM_SMP   guest memory and vCPUs (2G, 2)
#   SHMPOOL_VM_BOOT_TRIES    boots of a round whose kernel dies before init
#                            (default 2; each such boot is named and kept)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

BUILD=${BUILD:-build}
VM_TIMEOUT=${SHMPOOL_VM_TIMEOUT:-1800}
TEST_TIMEOUT=${SHMPOOL_VM_TEST_TIMEOUT:-900}
CK_MULT=${SHMPOOL_VM_CK_MULT:-10}
MEM=${SHMPOOL_VM_MEM:-2G}
SMP=${SHMPOOL_VM_SMP:-2}
BOOT_TRIES=${SHMPOOL_VM_BOOT_TRIES:-2}
MODE=run

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }

SERIES=()
while [ $# -gt 0 ]; do
	case $1 in
	--shell) MODE=shell ;;
	-h | --help) usage 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; usage 2 >&2 ;;
	*) vm_check_series "$1"; SERIES+=("$1") ;;
	esac
	shift
done
[ ${#SERIES[@]} -gt 0 ] || SERIES=("${VM_ALL_SERIES[@]}")
[ "$MODE" = run ] || [ ${#SERIES[@]} -eq 1 ] || vm_die "--shell takes exactly one series"
for v in VM_TIMEOUT TEST_TIMEOUT CK_MULT SMP BOOT_TRIES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || vm_die "$v must be a positive integer, not '${!v}'"
done
command -v qemu-system-x86_64 >/dev/null || vm_die "qemu-system-x86_64 not found (apt install qemu-system-x86)"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
	vm_die "a static busybox is needed (apt install busybox-static)"

if [ -n "${VM_TEST_BINS:-}" ]; then
	read -r -a BINS <<<"$VM_TEST_BINS"
else
	mapfile -t BINS < <(find "$BUILD/vm/bin" -maxdepth 1 -type f -perm -u+x 2>/dev/null | LC_ALL=C sort)
fi
[ ${#BINS[@]} -gt 0 ] || [ "$MODE" = shell ] || vm_die "no test binaries (VM_TEST_BINS empty, nothing in $BUILD/vm/bin)"
EXTRA=()
[ -z "${VM_EXTRA_PROGS:-}" ] || read -r -a EXTRA <<<"$VM_EXTRA_PROGS"
for p in "${EXTRA[@]}"; do
	[[ $p == /* ]] || vm_die "VM_EXTRA_PROGS: '$p' is not an absolute path"
	[ -f "$p" ] && [ -x "$p" ] || vm_die "VM_EXTRA_PROGS: $p missing or not executable (scripts/install-deps.sh installs the packages)"
done
declare -A SEEN=()
for b in "${BINS[@]}"; do
	[ -x "$b" ] || vm_die "test binary $b missing or not executable"
	[ -z "${SEEN[${b##*/}]:-}" ] || vm_die "two test binaries named ${b##*/}: ${SEEN[${b##*/}]} and $b"
	SEEN[${b##*/}]=$b
done

WORK=$BUILD/vm/work
LOGS=$BUILD/vm/logs
mkdir -p "$WORK" "$LOGS"

# Copy a binary and, should it be dynamic, the libraries it links.
copy_bin() { # file dest-dir root
	local lib
	install -D -m 755 "$1" "$2/${1##*/}"
	ldd "$1" >/dev/null 2>&1 || return 0
	for lib in $(ldd "$1" | grep -oE '/[^ ]+'); do
		[ -e "$3$lib" ] || install -D -m 755 "$lib" "$3$lib"
	done
}

# The initramfs tree of one round.
make_root() { # root ko mode
	local root=$1 ko=$2 b
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,tests,root}
	install -m 755 "$BUSYBOX" "$root/bin/busybox"
	install -m 755 "$HERE/init.sh" "$root/init"
	[ -z "$ko" ] || install -m 644 "$ko" "$root/shmpool.ko"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	: >"$root/tests/ORDER"
	for b in "${BINS[@]}"; do
		copy_bin "$b" "$root/tests" "$root"
		basename "$b" >>"$root/tests/ORDER"
	done
	for b in "${EXTRA[@]}"; do
		copy_bin "$b" "$root${b%/*}" "$root"
	done
	{
		printf 'MODE=%q\nMODNAME=%q\nTEST_TIMEOUT=%q\nCK_MULT=%q\n' \
			"$3" "$(basename "${ko:-shmpool.ko}" .ko)" "$TEST_TIMEOUT" "$CK_MULT"
		printf 'TEST_ENV=%q\n' "${SHMPOOL_VM_ENV:-}"
	} >"$root/etc/shmpool-vm.conf"
}

pack() { # root cpio
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio -o -0 -H newc --quiet -R 0:0) >"$2"
}

# printk.time: vm_kernel_bad tells OOM reports apart by their timestamps.
# kfence.sample_interval: Debian's 6.12 and 7.x build KFENCE in but leave it
# off (0); 100 ms is the upstream default.  6.1 lacks KFENCE and ignores it.
CMDLINE="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic loglevel=5 slab_nomerge printk.time=1 kfence.sample_interval=100 ${SHMPOOL_VM_APPEND:-}"

# The qemu command line, in QEMU[].
qemu_cmd() { # accel vmlinuz cpio
	local cpu=max
	[ "$1" = kvm ] && cpu=host
	QEMU=(qemu-system-x86_64 -accel "$1" -cpu "$cpu" -smp "$SMP" -m "$MEM"
		-nographic -no-reboot -nic none
		-kernel "$2" -initrd "$3" -append "$CMDLINE")
}

# KVM only if /dev/kvm is usable and really boots a Debian kernel: some
# hosts (PVM) offer a /dev/kvm that cannot run a stock kernel.  The answer
# is kept per host kernel.
pick_accel() {
	local probe root log
	probe=$SHMPOOL_CACHE/accel.$(uname -r)
	case ${SHMPOOL_VM_ACCEL:-auto} in
	kvm | tcg) echo "$SHMPOOL_VM_ACCEL"; return 0 ;;
	auto) ;;
	*) vm_die "SHMPOOL_VM_ACCEL must be kvm, tcg or auto" ;;
	esac
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		echo tcg
		return 0
	fi
	if [ -f "$probe" ]; then
		cat "$probe"
		return 0
	fi
	root=$WORK/kvm-probe
	log=$WORK/kvm-probe.log
	rm -rf "$root"
	mkdir -p "$root/bin"
	install -m 755 "$BUSYBOX" "$root/bin/busybox"
	printf '#!/bin/busybox sh\n/bin/busybox echo SHMPOOL-VM: KVM-PROBE-OK\n/bin/busybox reboot -f\n' >"$root/init"
	chmod 755 "$root/init"
	pack "$root" "$WORK/kvm-probe.cpio"
	qemu_cmd kvm "$VMLINUZ" "$WORK/kvm-probe.cpio"
	if timeout -k 5 30 "${QEMU[@]}" </dev/null >"$log" 2>&1 &&
		grep -q 'SHMPOOL-VM: KVM-PROBE-OK' "$log"; then
		echo kvm | tee "$probe"
	else
		echo tcg | tee "$probe"
	fi
	rm -rf "$root" "$WORK/kvm-probe.cpio"
}

TOTAL_CHECKS=0 TOTAL_FAILS=0 TOTAL_ERRS=0 PASSED=0 FAILED=0
SUMMARY=()

# Judge one console log; print the reasons of a failure, one a line.
judge() { # log nbins qemu-rc
	local log=$1 nbins=$2 qrc=$3 line name st begun ended
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		echo "the VM timed out after ${VM_TIMEOUT}s (SHMPOOL_VM_TIMEOUT)"
	fi
	grep -q '^SHMPOOL-VM: RESULT ' "$log" || echo "no final marker: the VM crashed, hung or was cut"
	grep -q '^SHMPOOL-VM: INSMOD ok' "$log" || echo "the module did not load or /dev/shmpool did not appear"
	begun=$(grep -c '^SHMPOOL-VM: BEGIN ' "$log" || true)
	ended=0
	while read -r _ _ name st _; do
		ended=$((ended + 1))
		[ "$st" = status=0 ] || echo "$name failed ($st)"
	done < <(grep '^SHMPOOL-VM: END ' "$log" || true)
	[ "$begun" -eq "$ended" ] || echo "$(grep '^SHMPOOL-VM: BEGIN ' "$log" | tail -n1 | cut -d' ' -f3) never ended"
	[ "$ended" -eq "$nbins" ] || echo "$ended of $nbins test binaries finished"
	grep -q '^SHMPOOL-VM: RMMOD ok' "$log" || ! grep -q '^SHMPOOL-VM: RESULT ' "$log" ||
		echo "rmmod failed: regions left behind"
	! grep -q '^SHMPOOL-VM: KFENCE sample_interval=0$' "$log" ||
		echo "KFENCE is built in but off (kfence.sample_interval=0)"
	vm_kernel_bad "$log" | head -n 3 |
		while IFS= read -r line; do echo "kernel: ${line:0:160}"; done
	return 0
}

round() { # series
	local s=$1 ko root cpio log start secs qrc=0 accel reasons checks fails errs first=${#SUMMARY[@]} try slowest
	vm_load_kernel "$s"
	ko=$BUILD/kmod/$s/shmpool.ko
	[ -f "$ko" ] || vm_die "no module for $s: $ko missing (make test-kmod, or tests/vm/build-kmod.sh $s)"
	accel=$(pick_accel)
	root=$WORK/root-$s
	cpio=$WORK/initramfs-$s.cpio
	log=$LOGS/$s.log
	make_root "$root" "$ko" "$MODE"
	pack "$root" "$cpio"
	rm -rf "$root"
	if [ "$MODE" = shell ]; then
		echo "vm [$s] $KREL: interactive shell ($accel); Ctrl-A x quits qemu; console also in $log"
		qemu_cmd "$accel" "$VMLINUZ" "$cpio"
		"${QEMU[@]}" | tee "$log"
		return 0
	fi
	echo "vm [$s] $KREL: booting ($accel, ${#BINS[@]} test binaries${EXTRA[*]:+, with ${EXTRA[*]}}, log $log)"
	start=$(date +%s)
	qemu_cmd "$accel" "$VMLINUZ" "$cpio"
	mkdir -p "$LOGS"
	for try in $(seq 1 "$BOOT_TRIES"); do
		qrc=0
		timeout -k 10 "$VM_TIMEOUT" "${QEMU[@]}" </dev/null >"$log.raw" 2>&1 || qrc=$?
		tr -d '\r' <"$log.raw" >"$log"
		rm -f "$log.raw"
		# A kernel that dies in its own boot, before init ran: no shmpool
		# code has run, so it says nothing about the module.  Seen on
		# the debug kernel (7.3.4) about 1 boot in 35 under TCG on a
		# loaded host: "tsc: Unable to calibrate against PIT", then a
		# KASAN wild-memory-access in an early timer interrupt.  Kept,
		# named, and booted again; the last try's crash fails the round.
		vm_retry_preinit "$log" "$try" "$BOOT_TRIES" "vm [$s] $KREL" || break
	done
	secs=$(($(date +%s) - start))
	# Check prints "NN%: Checks: C, Failures: F, Errors: E" per runner.
	read -r checks fails errs < <(sed -nE 's/.*[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/p' "$log" |
		awk '{ c += $1; f += $2; e += $3 } END { print c + 0, f + 0, e + 0 }')
	TOTAL_CHECKS=$((TOTAL_CHECKS + checks)) TOTAL_FAILS=$((TOTAL_FAILS + fails)) TOTAL_ERRS=$((TOTAL_ERRS + errs))
	reasons=$(judge "$log" "${#BINS[@]}" "$qrc")
	if [ -z "$reasons" ]; then
		PASSED=$((PASSED + 1))
		SUMMARY+=("vm [$s] $KREL: PASS  ${#BINS[@]} binaries, $checks checks, $fails failures, $errs errors, rmmod ok, ${secs}s")
	else
		FAILED=$((FAILED + 1))
		SUMMARY+=("vm [$s] $KREL: FAIL  ${#BINS[@]} binaries, $checks checks, $fails failures, $errs errors, ${secs}s, log $log")
		while IFS= read -r r; do SUMMARY+=("    - $r"); done <<<"$reasons"
	fi
	slowest=$(sed -nE 's/^SHMPOOL-VM: END ([^ ]+) status=[0-9]+ seconds=([0-9]+)$/\2 \1/p' "$log" |
		sort -rn | head -n 5 | awk '{ printf "%s%s %ss", (NR > 1 ? ", " : ""), $2, $1 }')
	[ -z "$slowest" ] || SUMMARY+=("    slowest: $slowest")
	printf '%s\n' "${SUMMARY[@]:first}"
}

for s in "${SERIES[@]}"; do
	round "$s"
done
[ "$MODE" = run ] || exit 0

echo "== VM rounds"
printf '%s\n' "${SUMMARY[@]}"
n=$((PASSED + FAILED))
echo "$((PASSED * 100 / n))%: Kernels: $n, Passed: $PASSED, Failed: $FAILED; Checks: $TOTAL_CHECKS, Failures: $TOTAL_FAILS, Errors: $TOTAL_ERRS"
[ "$FAILED" -eq 0 ]
