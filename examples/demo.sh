#!/usr/bin/env bash
# `make demo`: run the hot-restart story of the demo zone server
# (examples/zone_demo.c) where the real module is, with progress lines.
#
#   examples/demo.sh [auto|device|posix|vm]      (make demo BACKEND=...)
#
#   auto    /dev/shmpool if it exists or the module loads on this kernel;
#           otherwise the VM bench's 6.1 kernel with the module, in qemu
#   device  this machine's /dev/shmpool (loading the module if needed)
#   posix   this machine, POSIX shm fallback backend
#   vm      the VM, even where /dev/shmpool exists
#
# ZONE_DEMO_SCALE=small|full (default full: 351k objects).  The binaries
# are built by `make demo-build`: $BUILD/examples/zone_demo and, static for
# the VM, $BUILD/vm/demo/zone_demo.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
MODE=${1:-auto}
SCALE=${ZONE_DEMO_SCALE:-full}
DEMO=$BUILD/examples/zone_demo
DEMO_STATIC=$BUILD/vm/demo/zone_demo
SERIES=6.1

die() { echo "demo: error: $*" >&2; exit 1; }

case $SCALE in small | full) ;; *) die "ZONE_DEMO_SCALE must be small or full, not '$SCALE'" ;; esac
[ -x "$DEMO" ] || die "$DEMO is missing: run 'make demo-build'"

on_host() { # backend
	echo "demo: running on this machine ($(uname -r)), backend $1"
	SHMDEV_BACKEND=$1 ZONE_DEMO_SCALE=$SCALE "$DEMO" story
}

# Is /dev/shmpool here, or can the module be loaded on the running kernel?
device_here() {
	[ -c /dev/shmpool ] && return 0
	[ -e /proc/modules ] || return 1	# a kernel without module support
	[ "$(id -u)" -eq 0 ] || return 1
	if ! modprobe shmpool 2>/dev/null; then
		make --no-print-directory module >/dev/null 2>&1 && insmod shmpool.ko 2>/dev/null || return 1
	fi
	for _ in $(seq 50); do
		[ -c /dev/shmpool ] && return 0
		sleep 0.1
	done
	return 1
}

# The story lines among the console output of the VM.
STORY_RE='^(zone_demo[: ]|\[[0-9]/[0-9]\]|      |  (server|\||stderr))'

# run.sh's own lines, each once (it repeats its summary), as they come.
show_run() {
	local -A seen=()
	local l
	while IFS= read -r l; do
		case $l in "== VM rounds" | [0-9]*"%: Kernels"*) continue ;; esac
		[ -z "${seen[$l]:-}" ] || continue
		seen[$l]=1
		# The verdict waits until the story lines are all out.
		case $l in *": PASS "* | *": FAIL "* | "    - "*) echo "demo: $l" >>"$summary"; continue ;; esac
		echo "demo: $l"
	done
}

in_vm() {
	local log=$BUILD/vm/logs/$SERIES.log seen summary rc=0 tailpid
	[ "$(id -u)" -eq 0 ] || die "the VM needs root (apt for the kernel, qemu); or: make demo BACKEND=posix"
	[ -x "$DEMO_STATIC" ] || die "$DEMO_STATIC is missing: run 'make demo-build'"
	echo "demo: no /dev/shmpool on this kernel ($(uname -r)): running the story in a VM"
	echo "demo: preparing the $SERIES kernel and building shmpool.ko for it"
	tests/vm/kernels.sh "$SERIES" | sed 's/^/demo:   /'
	BUILD=$BUILD tests/vm/build-kmod.sh "$SERIES" | sed 's/^/demo:   /'
	seen=$(mktemp)
	summary=$(mktemp)
	rm -f "$log.raw"
	# Follow the console as it is written (run.sh keeps it in $log.raw
	# until qemu ends), printing the story lines live.
	tail -n +1 -F "$log.raw" 2>/dev/null > >(sed -u 's/\r$//' | grep --line-buffered -E "$STORY_RE" | tee "$seen") &
	tailpid=$!
	echo "demo: booting the $SERIES kernel in qemu (software emulation: slower than the host)"
	BUILD=$BUILD VM_TEST_BINS=$DEMO_STATIC SHMPOOL_VM_ENV="ZONE_DEMO_SCALE=$SCALE" \
		SHMPOOL_VM_TIMEOUT=${SHMPOOL_VM_TIMEOUT:-900} tests/vm/run.sh "$SERIES" |
		show_run || rc=$?
	sleep 1
	{ kill "$tailpid" && wait "$tailpid"; } 2>/dev/null || true
	# Whatever the live view missed (the log is final now).
	if [ -f "$log" ]; then
		grep -E "$STORY_RE" "$log" | tail -n +$(($(wc -l <"$seen") + 1)) || true
	fi
	cat "$summary"
	rm -f "$seen" "$summary"
	[ "$rc" -eq 0 ] || die "the VM round failed; console log: $log"
}

case $MODE in
posix) on_host posix ;;
device)
	device_here || die "no /dev/shmpool here and the module does not load (try BACKEND=vm or BACKEND=posix)"
	on_host device
	;;
vm) in_vm ;;
auto)
	if device_here; then
		on_host device
	else
		in_vm
	fi
	;;
*) die "unknown backend '$MODE' (auto, device, posix or vm)" ;;
esac
