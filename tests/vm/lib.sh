# shellcheck shell=bash
# Shared helpers of the VM bench scripts (sourced, not run).
#
# Cache layout (SHMPOOL_CACHE, default /var/cache/shmpool/kernels):
#   <series>/kernel.env   what kernels.sh resolved: KREL, KDIR, VMLINUZ, KCHROOT
#   <series>/vmlinuz      the kernel image booted by run.sh
#   6.12/root-<krel>/     headers unpacked with dpkg -x (installing them with
#                         apt would drag a kernel image onto the host)
#   trixie/               debootstrap'd tree that builds the 7.x module

VM_ALL_SERIES=(6.1 6.12 7.x)
SHMPOOL_CACHE=${SHMPOOL_CACHE:-/var/cache/shmpool/kernels}
TRIXIE=$SHMPOOL_CACHE/trixie

vm_die() { echo "${0##*/}: error: $*" >&2; exit 1; }

vm_check_series() {
	local s
	for s in "${VM_ALL_SERIES[@]}"; do
		[ "$s" = "$1" ] && return 0
	done
	vm_die "unknown kernel series '$1' (known: ${VM_ALL_SERIES[*]})"
}

# Load <series>/kernel.env into KREL, KDIR, VMLINUZ, KCHROOT (the tree the
# build runs in, if any) and KCHECK (the sparse to use, if not the default).
vm_load_kernel() {
	local env=$SHMPOOL_CACHE/$1/kernel.env
	[ -r "$env" ] || vm_die "no kernel prepared for series $1 ($env missing): run tests/vm/kernels.sh $1"
	# shellcheck disable=SC2034 # used by the scripts that source this
	KREL='' KDIR='' VMLINUZ='' KCHROOT='' KCHECK=''
	# shellcheck disable=SC1090
	. "$env"
	[ -n "$KREL" ] && [ -n "$KDIR" ] && [ -f "$VMLINUZ" ] ||
		vm_die "incomplete kernel description $env: run tests/vm/kernels.sh $1"
}

# Run a command inside the trixie tree with /proc mounted (objtool reads it).
# Holds a lock so that two users never unmount /proc under each other, and
# unmounts on every exit path.
vm_in_trixie() {
	[ -f "$TRIXIE/.shmpool-ready" ] || vm_die "trixie tree $TRIXIE is not ready: run tests/vm/kernels.sh 7.x"
	(
		exec 9>"$SHMPOOL_CACHE/.trixie.lock"
		flock 9
		mounted=0
		cleanup() { [ $mounted -eq 0 ] || umount "$TRIXIE/proc" || umount -l "$TRIXIE/proc"; }
		trap cleanup EXIT
		trap 'exit 130' INT TERM
		if ! mountpoint -q "$TRIXIE/proc"; then
			mount -t proc proc "$TRIXIE/proc"
			mounted=1
		fi
		chroot "$TRIXIE" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
	)
}

# rm -rf of a tree that may hold mounts left by an interrupted debootstrap
# or chroot (proc, sys): unmount them first, deepest first, and never let rm
# leave the tree's file system.
vm_rm_tree() {
	local dir m
	[ -e "$1" ] || return 0
	dir=$(realpath "$1")
	for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" || umount -l "$m" || vm_die "cannot unmount $m; not removing $dir"
	done
	rm -rf --one-file-system "$dir"
}

# Lines of a console log that fail a round: see tests/vm/README.md.
VM_KERNEL_BAD='\<BUG\>|WARNING:|Oops|still has objects|Call Trace:|Kernel panic|general protection fault|UBSAN:|KASAN:|refcount_t:|list_(add|del) corruption'

# Print the lines of console log $1 that fail a round, as "N:line" (N counts
# the lines other than the BEGIN/END markers).  One exception: the "Call
# Trace:" line of an OOM report that kills a process a test announced
# beforehand by writing "SHMPOOL-VM: EXPECT-OOM <pid>" to /dev/kmsg.  The
# rest of such a report is judged as usual, and so is every other report.
# Kernel lines come twice (on the console as printed, then in the per-test
# dmesg dump) and may interleave with other output, so a report is found by
# its printk timestamps, not by position: from "<comm> invoked oom-killer"
# to the first "Killed process <pid>" after it, with no other report
# starting in between.
vm_kernel_bad() { # console-log
	local ts='\[ *([0-9]+\.[0-9]+)\]( \[ *[CT][0-9]+\])?' windows
	windows=$(sed -nE \
		-e "s/.*$ts SHMPOOL-VM: EXPECT-OOM ([0-9]+)\$/\\1 E \\3/p" \
		-e "s/.*$ts .* invoked oom-killer: .*/\\1 S -/p" \
		-e "s/.*$ts .*Killed process ([0-9]+) .*/\\1 K \\3/p" "$1" |
		LC_ALL=C sort -u -k1,1n -k2,2 -k3,3 |
		awk '$2 == "E" { want[$3] = 1 }
		     $2 == "S" { start = $1 }
		     $2 == "K" { if (start != "" && ($3 in want)) print start, $1; start = "" }')
	grep -vE '^SHMPOOL-VM: (BEGIN|END) ' "$1" | grep -nE "$VM_KERNEL_BAD" |
		OOM_WINDOWS=$windows awk '
		BEGIN { n = split(ENVIRON["OOM_WINDOWS"], w, "\n") }
		{
			line = $0
			sub(/^[0-9]+:/, "", line)
			if (line ~ /\[ *[0-9]+\.[0-9]+\]( \[ *[CT][0-9]+\])? Call Trace:[ \t]*$/) {
				t = line
				sub(/\]( \[ *[CT][0-9]+\])? Call Trace:.*$/, "", t)
				sub(/^.*\[ */, "", t)
				for (i = 1; i <= n; i++) {
					split(w[i], se, " ")
					if (t + 0 >= se[1] + 0 && t + 0 <= se[2] + 0)
						next
				}
			}
			print
		}'
}
