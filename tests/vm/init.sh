#!/bin/busybox sh
# shellcheck shell=dash
# /init of the VM bench's initramfs (built by tests/vm/run.sh).
#
# Mounts the usual file systems, loads /shmpool.ko, runs every test binary
# of /tests/ORDER in its own clean environment, then checks that the module
# unloads (the tests must leave no region behind) and powers off.  Every
# step prints a "SHMPOOL-VM:" marker on the serial console; run.sh reads the
# verdicts from them.  In shell mode it gives an interactive shell instead;
# `/init run-tests [NAME...]` runs the tests from there.
#
# Settings come from /etc/shmpool-vm.conf: MODE (run|shell), MODNAME,
# TEST_TIMEOUT (seconds per binary), CK_MULT (Check timeout multiplier),
# TEST_ENV (extra NAME=VALUE words given to every binary).

M() { echo "SHMPOOL-VM: $*"; }
KMEMLEAK=/sys/kernel/debug/kmemleak

setup() {
	/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
	/bin/busybox --install -s
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/shm /dev/pts
	mount -t devpts devpts /dev/pts
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	hostname shmpool-vm
	# kmemleak (the debug kernel): what boot left unreferenced is not ours;
	# a scan then "clear" keeps it out of the report of the final scan.
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	if [ -w "$KMEMLEAK" ]; then
		echo scan >"$KMEMLEAK"
		echo clear >"$KMEMLEAK"
	fi
	# The boot messages go to the log once, so later dumps are per test.
	M "KMSG BEGIN boot"
	dmesg -c
	M "KMSG END boot"
}

module_loaded() { grep -q "^$MODNAME " /proc/modules; }

load_module() {
	M "BOOT $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo) $(grep MemTotal /proc/meminfo | tr -s ' ')"
	# run.sh fails a round whose kernel has KFENCE but left it off.
	M "KFENCE sample_interval=$(cat /sys/module/kfence/parameters/sample_interval 2>/dev/null || echo absent)"
	SHMEM_BEFORE=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)
	if ! insmod /shmpool.ko; then
		M "INSMOD FAILED"
		return 1
	fi
	i=0
	while [ ! -c /dev/shmpool ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -c /dev/shmpool ]; then
		M "DEVICE MISSING /dev/shmpool"
		return 1
	fi
	M "INSMOD ok $(ls -l /dev/shmpool)"
	kmsg insmod
}

# Kernel messages since the last dump, between markers.
kmsg() {
	M "KMSG BEGIN $1"
	dmesg -c
	M "KMSG END $1"
}

run_tests() {
	failed=0
	ran=0
	tests=${*:-$(cat /tests/ORDER)}
	for t in $tests; do
		module_loaded || { M "NOTE module not loaded before $t: loading it"; insmod /shmpool.ko; }
		dir=/tmp/run.$t
		rm -rf "$dir"
		mkdir -p "$dir"
		M "BEGIN $t"
		t0=$(cut -d. -f1 /proc/uptime)
		# shellcheck disable=SC2086 # TEST_ENV is a list of words
		(cd "$dir" && exec env -i PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME="$dir" \
			TMPDIR="$dir" SHMPOOL_VM=1 SHMPOOL_KO=/shmpool.ko \
			CK_TIMEOUT_MULTIPLIER="$CK_MULT" $TEST_ENV \
			timeout -s KILL "$TEST_TIMEOUT" "/tests/$t" </dev/null)
		rc=$?
		M "END $t status=$rc seconds=$(($(cut -d. -f1 /proc/uptime) - t0))"
		kmsg "$t"
		ran=$((ran + 1))
		[ $rc -eq 0 ] || failed=$((failed + 1))
		rm -rf "$dir"
	done
}

# The debug kernel's kmemleak: objects the tests and rmmod left unreferenced
# (older than kmemleak's 5 s minimum age), printed between markers; run.sh
# fails the round on any "unreferenced object".  Absent on stock kernels.
kmemleak_report() {
	[ -w "$KMEMLEAK" ] || return 0
	sleep 6
	echo scan >"$KMEMLEAK"
	M "KMEMLEAK BEGIN"
	cat "$KMEMLEAK"
	leaks=$(grep -c '^unreferenced object' "$KMEMLEAK")
	M "KMEMLEAK END $leaks suspected leaks"
	[ "$leaks" -eq 0 ] || verdict=FAIL
	kmsg kmemleak
}

finish() {
	verdict=PASS
	[ "$failed" -eq 0 ] || verdict=FAIL
	if ! module_loaded; then
		M "NOTE module was not loaded at the end: loading it to test rmmod"
		insmod /shmpool.ko
	fi
	if rmmod "$MODNAME"; then
		M "RMMOD ok"
	else
		M "RMMOD FAILED (regions left behind?)"
		cat /proc/shmpool* 2>/dev/null
		verdict=FAIL
	fi
	kmsg final
	kmemleak_report
	M "SHMEM before=${SHMEM_BEFORE}kB after=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)kB"
	M "RESULT $verdict ran=$ran failed=$failed"
}

. /etc/shmpool-vm.conf
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

if [ "$1" = run-tests ]; then
	shift
	run_tests "$@"
	exit $failed
fi

setup
failed=0
ran=0
if load_module; then
	if [ "$MODE" = shell ]; then
		M "SHELL: tests are in /tests; '/init run-tests [NAME...]' runs them; exit ends the VM"
		setsid cttyhack sh -l
	else
		run_tests
		finish
	fi
else
	kmsg insmod
	M "RESULT FAIL module did not load"
fi
sync
# A reboot, which qemu's -no-reboot turns into an exit: the debug kernel has
# no ACPI, so a power-off would only halt it.
reboot -f
