#!/bin/busybox sh
# shellcheck shell=dash
# /init of the kexec round's initramfs (built by tests/vm/kexec.sh).  One
# qemu run, three kernels, chosen by "shmpoolkx=" on the command line:
#
#   save     the demo zone server populates its world, runs and leaves
#            cleanly; each region's bytes are digested; shmpoolctl
#            liveupdate save preserves them; kexec into the same kernel
#            with shmpoolkx=restore.
#   restore  shmpoolctl liveupdate restore adopts them; the digests are
#            printed again (kexec.sh compares), the server resumes and
#            verifies every object's checksum; then kexec again, this time
#            without a save, with shmpoolkx=cold.
#   cold     restore finds no session; no region exists; the server
#            starts cold.  Power off.
#
# The initramfs must survive each kexec: this tree is packed again from
# the root file system (busybox cpio) and given to kexec --initrd.  Every
# step prints a "SHMPOOL-VM:" marker; kexec.sh judges them.

M() { echo "SHMPOOL-VM: $*"; }
# reboot, not poweroff: qemu's -no-reboot makes it an exit, and the debug
# kernel has no ACPI, so a power-off would only halt it (tests/vm/init.sh).
fail() { M "KEXEC-FAIL $*"; sync; reboot -f; }
now() { date +%s; }

ZONE="/bin/zone_demo v1 --players 3000 --items 8000 --item-cap 10000 --scenes 100 --seed 7"

setup() {
	/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
	/bin/busybox --install -s
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/shm
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	export PATH=/sbin:/bin:/usr/sbin:/usr/bin
	M "KMSG BEGIN boot"
	dmesg -c
	M "KMSG END boot"
}

load_module() {
	insmod /shmpool.ko || fail "insmod"
	i=0
	while [ ! -c /dev/shmpool ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -c /dev/shmpool ] || fail "no /dev/shmpool"
	M "INSMOD ok"
}

# One "DIGEST <stage> <key> <sha256>" line per region, of its bytes only.
digests() {
	for k in $(shmpoolctl list | awk '$1 ~ /^0x/ { print $1 }'); do
		shmpoolctl dump "$k" /tmp/d >/dev/null || fail "dump $k"
		M "DIGEST $1 $k $(tail -c +65 /tmp/d | sha256sum | cut -d' ' -f1)"
		rm -f /tmp/d
	done
}

# The server's lines, each prefixed, and its exit status.
zone() { # stage args...
	st=$1
	shift
	# shellcheck disable=SC2086 # ZONE is a list of words
	$ZONE "$@" >/tmp/zone.out 2>&1
	rc=$?
	sed "s/^/SHMPOOL-VM: ZONE $st /" /tmp/zone.out
	M "ZONE-RC $st $rc"
	[ "$rc" -eq 0 ] || fail "zone server ($st) exited with $rc"
}

# Load the same kernel with this very initramfs and command line $1.
kexec_load() { # stage
	cmd=$(sed "s/shmpoolkx=[a-z]*/shmpoolkx=$1/" /proc/cmdline)
	(cd / && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp \) -prune -o -print |
		cpio -o -H newc >/tmp/initrd.cpio 2>/dev/null) || fail "cannot pack the initramfs"
	kexec -s -l /boot/vmlinuz --initrd=/tmp/initrd.cpio --command-line="$cmd" ||
		fail "kexec -s -l (stage $1)"
	M "KEXEC-LOADED $1 initrd=$(wc -c </tmp/initrd.cpio)B"
}

stage_save() {
	[ -c /dev/liveupdate ] || fail "no /dev/liveupdate: the kernel lacks CONFIG_LIVEUPDATE, was not booted with kho=on liveupdate=on, or KHO could not reserve its scratch areas (the kernel's KHO lines above say which)"
	zone save --ticks 300 --verify
	digests save
	kexec_load restore
	shmpoolctl liveupdate save --pidfile /tmp/lu.pid >/tmp/save.out 2>&1 || {
		cat /tmp/save.out
		fail "liveupdate save"
	}
	sed 's/^/SHMPOOL-VM: SAVE /' /tmp/save.out
	# The regions are frozen now: no owner may take them before the kexec.
	$ZONE --ticks 1 >/tmp/z2 2>&1 && fail "a server started on a saved (frozen) pool"
	M "FROZEN ok"
	M "KMSG BEGIN save"
	dmesg -c
	M "KMSG END save"
	M "KEXEC-E $(now)"
	sync
	kexec -e
	fail "kexec -e returned"
}

stage_restore() {
	M "BOOTED restore $(now) uptime=$(cut -d' ' -f1 /proc/uptime)"
	shmpoolctl liveupdate restore >/tmp/restore.out 2>&1 || {
		cat /tmp/restore.out
		fail "liveupdate restore"
	}
	sed 's/^/SHMPOOL-VM: RESTORE /' /tmp/restore.out
	digests restore
	zone restore --ticks 50 --verify
	M "RESUMED $(now)"
	M "KMSG BEGIN restore"
	dmesg -c
	M "KMSG END restore"
	# Now a kexec without a save: the next kernel must start cold.
	kexec_load cold
	M "KEXEC-E $(now)"
	sync
	kexec -e
	fail "kexec -e returned"
}

stage_cold() {
	M "BOOTED cold $(now)"
	shmpoolctl liveupdate restore >/tmp/restore.out 2>&1 || {
		cat /tmp/restore.out
		fail "liveupdate restore without a session must succeed, restoring nothing"
	}
	sed 's/^/SHMPOOL-VM: RESTORE /' /tmp/restore.out
	n=$(shmpoolctl list | awk '$1 ~ /^0x/' | wc -l)
	[ "$n" -eq 0 ] || fail "$n region(s) exist after a kexec without save"
	zone cold --ticks 10 --verify
	zone cold --destroy
	rmmod shmpool || fail "rmmod"
	M "RMMOD ok"
	M "KMSG BEGIN final"
	dmesg -c
	M "KMSG END final"
	M "RESULT PASS"
}

setup
load_module
stage=$(sed -n 's/.*shmpoolkx=\([a-z]*\).*/\1/p' /proc/cmdline)
M "STAGE $stage $(uname -r)"
case $stage in
save) stage_save ;;
restore) stage_restore ;;
cold) stage_cold ;;
*) fail "unknown stage '$stage'" ;;
esac
sync
reboot -f
