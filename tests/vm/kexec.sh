#!/usr/bin/env bash
# The live-update round: in qemu on the custom kernel (series "debug", with
# KEXEC_FILE, KEXEC_HANDOVER, LIVEUPDATE and LIVEUPDATE_MEMFD), the demo zone
# server's pool is carried across a kexec into the same kernel by
# shmpoolctl liveupdate save/restore, then a kexec without save must give a
# cold start.  The steps run inside the VM (tests/vm/kexec-init.sh); this
# script builds the initramfs, boots, and judges the console:
#
#   - every stage reached (save, restore, cold) and RESULT PASS;
#   - the regions' digests after the restore equal those before the save;
#   - the resumed server reports start=clean handed_over=1, the same
#     objects and ticks it left with, and 0 bad checksums;
#   - the cold boot has no region and the server starts cold;
#   - no kernel report (the debug kernel's KASAN, lockdep, ...).
#
#   tests/vm/kexec.sh [SERIES]      (default: debug)
#
# Prints the hand-over time: from "kexec -e" in the old kernel to the server
# resumed in the new one (host clock, console lines stamped as they arrive:
# the old kernel's shutdown, the new one's boot under qemu, insmod, restore,
# server start), and the restore's own time.  Needs: $BUILD/kmod/SERIES/
# shmpool.ko, $BUILD/shmpoolctl, $BUILD/vm/demo/zone_demo, kexec (kexec-tools).
# Environment: SHMPOOL_VM_TIMEOUT (default 1800), SHMPOOL_VM_ACCEL (kvm|tcg,
# default tcg), SHMPOOL_VM_MEM (default 2G), SHMPOOL_VM_BOOT_TRIES (boots when
# the first kernel dies before init, default 2), SHMPOOL_KEXEC_JUDGE_ONLY=1
# (judge the kept log of the last run again, without booting).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

BUILD=${BUILD:-build}
SERIES=${1:-debug}
VM_TIMEOUT=${SHMPOOL_VM_TIMEOUT:-1800}
MEM=${SHMPOOL_VM_MEM:-2G}
ACCEL=${SHMPOOL_VM_ACCEL:-tcg}
WORK=$BUILD/vm/work
LOGS=$BUILD/vm/logs
LOG=$LOGS/kexec-$SERIES.log

vm_load_kernel "$SERIES"
KO=$BUILD/kmod/$SERIES/shmpool.ko
CTL=$BUILD/shmpoolctl
ZONE=$BUILD/vm/demo/zone_demo
KEXEC=$(command -v kexec || true)
BUSYBOX=$(command -v busybox || true)
for f in "$KO" "$CTL" "$ZONE"; do
	[ -x "$f" ] || [ -f "$f" ] || vm_die "$f is missing (make test-vm-kexec builds it)"
done
[ -n "$KEXEC" ] || vm_die "kexec not found (apt install kexec-tools; scripts/install-deps.sh)"
[ -n "$BUSYBOX" ] || vm_die "busybox not found (apt install busybox-static)"

copy_bin() { # file dest-path root
	local lib
	install -D -m 755 "$1" "$3$2"
	ldd "$1" >/dev/null 2>&1 || return 0
	for lib in $(ldd "$1" | grep -oE '/[^ ]+'); do
		[ -e "$3$lib" ] || install -D -m 755 "$lib" "$3$lib"
	done
}

mkdir -p "$WORK" "$LOGS"
if [ -n "${SHMPOOL_KEXEC_JUDGE_ONLY:-}" ]; then
	# Judge the kept log of the last run again (for work on this script).
	[ -f "$LOG.stamped" ] || vm_die "no $LOG.stamped to judge"
	secs=0 qrc=0
else
root=$WORK/root-kexec
cpio=$WORK/initramfs-kexec.cpio
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,boot,root}
install -m 755 "$BUSYBOX" "$root/bin/busybox"
install -m 755 "$HERE/kexec-init.sh" "$root/init"
install -m 644 "$KO" "$root/shmpool.ko"
install -m 644 "$VMLINUZ" "$root/boot/vmlinuz"
copy_bin "$CTL" /bin/shmpoolctl "$root"
copy_bin "$ZONE" /bin/zone_demo "$root"
copy_bin "$KEXEC" /sbin/kexec "$root"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio -o -0 -H newc --quiet -R 0:0) >"$cpio"
rm -rf "$root"

cpu=max
[ "$ACCEL" = kvm ] && cpu=host
# kho_scratch: KHO's default scratch is 200% of the early allocations, twice
# and each contiguous; with KASAN's shadow in a 2 GiB guest that is two
# ~780 MiB areas, which a randomly placed (KASLR) kernel image sometimes
# leaves no room for: "KHO: Failed to reserve scratch area, disabling kexec
# handover", and no /dev/liveupdate (seen in 2 of 4 boots).  Fixed sizes
# that the next kernel's early allocations (~400 MiB) fit in.
KHO_SCRATCH=${SHMPOOL_KHO_SCRATCH:-256M,64M,256M}
CMDLINE="console=ttyS0 panic=-1 loglevel=5 printk.time=1 kho=on kho_scratch=$KHO_SCRATCH liveupdate=on shmpoolkx=save ${SHMPOOL_VM_APPEND:-}"
echo "vm kexec [$SERIES] $KREL: booting ($ACCEL; save, kexec, restore, kexec without save; log $LOG)"
# Each console line is stamped with the host's clock as it arrives: the
# guest's own clocks restart at each kexec (and the kernel may have no RTC).
# No filter before it: a pipe would buffer the lines and bunch the stamps.
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "${l%$'\r'}"; done; }
start=$EPOCHREALTIME
# A first kernel that dies in its own boot, before init, is booted once
# more (as run.sh does; tests/vm/README.md): no shmpool code ran.
BOOT_TRIES=${SHMPOOL_VM_BOOT_TRIES:-2}
[[ $BOOT_TRIES =~ ^[1-9][0-9]*$ ]] || vm_die "SHMPOOL_VM_BOOT_TRIES must be a positive integer, not '$BOOT_TRIES'"
for try in $(seq 1 "$BOOT_TRIES"); do
	set +o pipefail
	timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -cpu "$cpu" -smp 2 -m "$MEM" \
		-nographic -no-reboot -nic none -kernel "$VMLINUZ" -initrd "$cpio" -append "$CMDLINE" \
		</dev/null 2>&1 | stamp >"$LOG.stamped"
	qrc=${PIPESTATUS[0]}
	set -o pipefail
	cut -d' ' -f2- "$LOG.stamped" >"$LOG"
	vm_retry_preinit "$LOG" "$try" "$BOOT_TRIES" "vm kexec [$SERIES] $KREL" || break
done
secs=$(echo "$EPOCHREALTIME - $start" | bc)
fi

# ---- the verdict --------------------------------------------------------
reasons=()
bad() { reasons+=("$*"); }
[ "$qrc" -ne 124 ] && [ "$qrc" -ne 137 ] || bad "the VM timed out after ${VM_TIMEOUT}s"
while IFS= read -r l; do bad "${l#SHMPOOL-VM: }"; done < <(grep '^SHMPOOL-VM: KEXEC-FAIL' "$LOG" || true)
# Why a kernel has no /dev/liveupdate, in its own words.
while IFS= read -r l; do bad "kernel: $l"; done < <(grep -oE '(KHO: Failed|luo: Disabling).*' "$LOG" | sort -u || true)
for st in save restore cold; do
	grep -q "^SHMPOOL-VM: STAGE $st " "$LOG" || bad "stage $st never started"
done
grep -q '^SHMPOOL-VM: RESULT PASS' "$LOG" || bad "no RESULT PASS: the VM crashed, hung or failed"
grep -q '^SHMPOOL-VM: FROZEN ok' "$LOG" || bad "a saved pool was not frozen"

# Digests: the same regions, byte for byte.
before=$(sed -n 's/^SHMPOOL-VM: DIGEST save //p' "$LOG" | sort)
after=$(sed -n 's/^SHMPOOL-VM: DIGEST restore //p' "$LOG" | sort)
nreg=$(printf '%s\n' "$before" | grep -c . || true)
[ "$nreg" -gt 0 ] || bad "no region digested before the save"
[ "$before" = "$after" ] || bad "region digests differ after the restore: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -n 4 | tr '\n' ' ')"

# The server: what it left with, what it found.
pick() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p"; }
field() { { grep "ZONE $1 .*phase=$2 " "$LOG" || true; } | head -n 1 | pick "$3"; }
lastfield() { { grep "ZONE $1 .*phase=$2 " "$LOG" || true; } | tail -n 1 | pick "$3"; }
r_start=$(field restore open start)
r_ho=$(field restore open handed_over)
[ "$r_start" = clean ] || bad "resumed server: start=$r_start, not clean"
[ "$r_ho" = 1 ] || bad "resumed server: handed_over=$r_ho, not 1"
s_obj=$(lastfield save stop objects)
s_ticks=$(lastfield save stop ticks)
r_obj=$(field restore open objects)
r_ticks=$(field restore open ticks)
[ -n "$s_obj" ] && [ "$s_obj" = "$r_obj" ] || bad "objects: $s_obj before, $r_obj after"
[ -n "$s_ticks" ] && [ "$s_ticks" = "$r_ticks" ] || bad "ticks: $s_ticks before, $r_ticks after"
r_bad=$(field restore verify bad_checksums)
[ "$r_bad" = 0 ] || bad "resumed server: bad_checksums=$r_bad"
c_start=$(field cold open start)
[ "$c_start" = cold ] || bad "after a kexec without save: start=$c_start, not cold"
grep -q '^SHMPOOL-VM: RESTORE .*nothing restored' "$LOG" || bad "restore without a session did not say it restored nothing"

while IFS= read -r l; do bad "kernel: ${l:0:160}"; done < <(vm_kernel_bad "$LOG" | head -n 3)

# Hand-over time: "kexec -e" in the old kernel to the server resumed in
# the new one, by the host's stamps of those two console lines.
when() { sed -n "s/^\([0-9.]*\) SHMPOOL-VM: $1.*/\1/p" "$LOG.stamped" | head -n 1 || true; }
t_kexec=$(when KEXEC-E)
t_resumed=$(when RESUMED)
handover=?
[ -z "$t_kexec" ] || [ -z "$t_resumed" ] || handover=$(printf '%.1f' "$(echo "$t_resumed - $t_kexec" | bc)")
restore_line=$(sed -n 's/^SHMPOOL-VM: RESTORE \(liveupdate restore: [0-9].*\)/\1/p' "$LOG" | head -n 1)
save_line=$(sed -n 's/^SHMPOOL-VM: SAVE \(liveupdate save: .*\)/\1/p' "$LOG" | head -n 1)

if [ ${#reasons[@]} -eq 0 ]; then
	echo "vm kexec [$SERIES] $KREL: PASS  $nreg regions carried, digests equal, server resumed clean (objects=$r_obj ticks=$r_ticks bad_checksums=0), cold start without save; hand-over ${handover}s (kexec -e to server resumed), round ${secs%.*}s"
	echo "    $save_line"
	echo "    $restore_line"
	exit 0
fi
echo "vm kexec [$SERIES] $KREL: FAIL  round ${secs%.*}s, log $LOG"
printf '    - %s\n' "${reasons[@]}"
exit 1
