# shellcheck shell=bash
# Shared helpers of the VM bench scripts (sourced, not run).
#
# Cache layout (SHMPOOL_CACHE, default /var/cache/shmpool/kernels):
#   <series>/kernel.env   what kernels.sh resolved: KREL, KDIR, VMLINUZ, KCHROOT
#   <series>/vmlinuz      the kernel image booted by run.sh
#   6.12/root-<krel>/     headers unpacked with dpkg -x (installing them with
#                         apt would drag a kernel image onto the host)
#   trixie/               debootstrap'd tree that builds the 7.x module
#   debug/                the debug series (tests/vm/debug-kernel.sh): kernel.env,
#                         vmlinuz, config, build.log, stamp; its build tree is
#                         trixie/usr/src/shmpool-debug/

VM_ALL_SERIES=(6.1 6.12 7.x)
# Also known, never a default: "debug", the custom KASAN/lockdep/kmemleak/
# KFENCE 7.x kernel of tests/vm/debug-kernel.sh (its own round, test-vm-debug).
VM_KNOWN_SERIES=("${VM_ALL_SERIES[@]}" debug)
SHMPOOL_CACHE=${SHMPOOL_CACHE:-/var/cache/shmpool/kernels}
TRIXIE=$SHMPOOL_CACHE/trixie

vm_die() { echo "${0##*/}: error: $*" >&2; exit 1; }

vm_check_series() {
	local s
	for s in "${VM_KNOWN_SERIES[@]}"; do
		[ "$s" = "$1" ] && return 0
	done
	vm_die "unknown kernel series '$1' (known: ${VM_KNOWN_SERIES[*]})"
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

# Print the name of the package with the highest candidate version among
# those on stdin.  $1: command prefix to run apt-cache (empty or a chroot).
vm_newest_pkg() {
	local -a names
	local best='' bestv='' p v
	mapfile -t names
	[ ${#names[@]} -gt 0 ] || return 1
	while read -r p v; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bestv"; then
			best=$p bestv=$v
		fi
	done < <("$@" apt-cache show --no-all-versions "${names[@]}" 2>/dev/null |
		awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }')
	[ -n "$best" ] && echo "$best"
}

# Print the first PKG that apt can install (a record of that very name with
# a candidate version); fail if none can.  WRAPPER (e.g. vm_in_trixie) runs
# apt-cache elsewhere.  `apt-cache show` exiting 0 is not the test: it does
# so for a name that is only referenced (bookworm-security listed
# linux-image-6.1.0-57-amd64, the signed image, only as what its -unsigned
# build replaces, before the signed build came), and for a virtual name it
# shows a provider's record (linux-kbuild-6.12); `apt-get download` of
# either name fails.
vm_first_available() { # [WRAPPER...] -- PKG...
	local -a wrap=()
	local p out
	while [ $# -gt 0 ] && [ "$1" != -- ]; do wrap+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	for p in "$@"; do
		# Not `apt-cache show | grep -q`: grep leaves at the first match,
		# apt-cache dies of SIGPIPE and pipefail fails the test.
		out=$("${wrap[@]}" apt-cache show --no-all-versions "$p" 2>/dev/null) || continue
		if awk -v want="$p" '/^Package:/ { name = $2 }
			/^Version:/ && name == want { found = 1 }
			END { exit !found }' <<<"$out"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Run a command inside the trixie tree with /proc mounted (objtool reads it).
# Users share /proc: each holds a shared lock while its command runs (a
# kernel build takes many minutes, and must not block a module build); the
# mount is made under the exclusive lock, and the last user out, the one
# that gets the exclusive lock without waiting, unmounts it, on every exit
# path.
vm_in_trixie() {
	[ -f "$TRIXIE/.shmpool-ready" ] || vm_die "trixie tree $TRIXIE is not ready: run tests/vm/kernels.sh 7.x"
	(
		exec 9>"$SHMPOOL_CACHE/.trixie.lock"
		cleanup() {
			flock -u 9
			if flock -x -n 9 && mountpoint -q "$TRIXIE/proc"; then
				umount "$TRIXIE/proc" || umount -l "$TRIXIE/proc"
			fi
		}
		trap cleanup EXIT
		trap 'exit 130' INT TERM
		while :; do
			flock -s 9
			! mountpoint -q "$TRIXIE/proc" || break
			flock -u 9
			flock -x 9
			mountpoint -q "$TRIXIE/proc" || mount -t proc proc "$TRIXIE/proc"
			flock -u 9
		done
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

# Lines of a console log that fail a round: see tests/vm/README.md.  The
# reports of the debug kernel's checkers mostly start with "BUG:" or
# "WARNING:" already; they are also named by a line of their body, so that a
# report whose header was lost or interleaved still fails: KASAN, KFENCE
# ("kfence-#N:" object lines), lockdep, DEBUG_ATOMIC_SLEEP and kmemleak
# (whose reports, read from /sys/kernel/debug/kmemleak, have no header).
VM_KERNEL_BAD='\<BUG\>|WARNING:|Oops|still has objects|Call Trace:|Kernel panic|general protection fault|UBSAN:|KASAN:|refcount_t:|list_(add|del) corruption'
VM_KERNEL_BAD+='|KFENCE:|kfence-#[0-9]+:|The buggy address belongs to'
VM_KERNEL_BAD+='|possible (circular|recursive) locking|inconsistent lock state|bad unlock balance|lock held when returning to user space|leaving the kernel with locks still held|held lock freed|INFO: trying to register non-static key|Invalid wait context|DEBUG_LOCKS_WARN_ON'
VM_KERNEL_BAD+='|sleeping function called from invalid context|scheduling while atomic'
VM_KERNEL_BAD+='|unreferenced object 0x'

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
	# A clean log is no error: grep finding nothing must not fail the pipe.
	grep -vE '^SHMPOOL-VM: (BEGIN|END) ' "$1" | { grep -nE "$VM_KERNEL_BAD" || true; } |
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

# The first kernel report of a console log in which init never ran (no
# SHMPOOL-VM line at all): the kernel died in its own boot, before any
# shmpool code.  Status 1 if init ran or the kernel reported nothing.
vm_preinit_crash() { # console-log
	! grep -q 'SHMPOOL-VM: ' "$1" || return 1
	vm_kernel_bad "$1" | head -n 1 | grep . | sed 's/^[0-9]*://'
}

# After boot @try of @tries: if the kernel died before init (above), keep
# the log as LOG.preinitN, say so under @label, and succeed: boot again.
# Fails when init ran, the kernel reported nothing, or no try is left.
vm_retry_preinit() { # console-log try tries label
	local crash
	crash=$(vm_preinit_crash "$1") || return 1
	[ "$2" -lt "$3" ] || return 1
	cp "$1" "$1.preinit$2"
	echo "$4: the kernel crashed in its own boot, before init (no shmpool code ran): ${crash:0:120}; booting again (log $1.preinit$2)"
}
