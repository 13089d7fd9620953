#!/usr/bin/env bash
# Build shmpool.ko for each kernel series with W=1 and sparse (C=1), each in
# its own copy of the sources ($BUILD/kmod/<series>/: kbuild's M= writes its
# objects next to the sources).  Any "warning:" or "error:" line in the
# build log fails the build.
#
#   tests/vm/build-kmod.sh [SERIES...]      (default: 6.1 6.12 7.x; also debug)
#
# Output: $BUILD/kmod/<series>/shmpool.ko and build.log.  A build whose
# sources, kernel and flags have not changed since its last clean build is
# not redone (the kernel's .config is part of that).  Run from the
# repository root; BUILD defaults to "build".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BUILD=${BUILD:-build}
KBUILD_ARGS=(W=1 C=1)
JOBS=$(nproc)

SERIES=("$@")
[ ${#SERIES[@]} -gt 0 ] || SERIES=("${VM_ALL_SERIES[@]}")
for s in "${SERIES[@]}"; do vm_check_series "$s"; done
[ -f Kbuild ] && [ -d kmod ] || vm_die "run from the repository root (no ./Kbuild or ./kmod)"

# The module's sources: ./Kbuild, kmod/ and the headers it includes.
src_files() {
	echo Kbuild
	find kmod include -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort
}

build_one() {
	local s=$1 out=$BUILD/kmod/$1 stamp log rc=0 tmp='' nsrc nchecked
	local -a args=("${KBUILD_ARGS[@]}")
	vm_load_kernel "$s"
	[ -z "$KCHECK" ] || args+=(CHECK="$KCHECK")
	# The kernel's .config too: the debug series keeps its release name
	# across a config change, which changes structure layouts.
	stamp=$( { echo "$KREL ${args[*]}"; src_files | xargs sha256sum
		! [ -f "$KCHROOT$KDIR/.config" ] || sha256sum <"$KCHROOT$KDIR/.config"; } |
		sha256sum | cut -d' ' -f1)
	if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/shmpool.ko" ]; then
		echo "kmod [$s]: up to date ($out/shmpool.ko, $KREL)"
		return 0
	fi
	echo "kmod [$s]: building against $KREL with ${args[*]}"
	rm -rf "$out"
	mkdir -p "$out"
	src_files | cpio -pdm --quiet "$out"
	log=$(realpath "$out")/build.log
	if [ -z "$KCHROOT" ]; then
		make -C "$KDIR" M="$(realpath "$out")" "${args[@]}" -j"$JOBS" modules >"$log" 2>&1 || rc=$?
	else
		# The 7.x headers need trixie's gcc-14 and libc: build in the tree.
		mkdir -p "$KCHROOT/build"
		tmp=$(mktemp -d "$KCHROOT/build/shmpool.XXXXXX")
		cp -a "$out/." "$tmp/"
		vm_in_trixie make -C "$KDIR" M="${tmp#"$KCHROOT"}" "${args[@]}" -j"$JOBS" modules >"$log" 2>&1 || rc=$?
		cp -a "$tmp/." "$out/"
		rm -rf "$tmp"
	fi
	if [ $rc -ne 0 ]; then
		tail -n 30 "$log" >&2
		echo "kmod [$s]: FAILED: make exited with $rc (log: $log)" >&2
		return 1
	fi
	if grep -iE 'warning:|error:' "$log" >&2; then
		echo "kmod [$s]: FAILED: the build printed warnings (log: $log)" >&2
		rm -f "$out/shmpool.ko"
		return 1
	fi
	[ -f "$out/shmpool.ko" ] || { echo "kmod [$s]: FAILED: no shmpool.ko produced (log: $log)" >&2; return 1; }
	# kbuild turns C=1 off with a mere notice when sparse is unusable.
	nsrc=$(grep '^  CC \[M\] ' "$log" | grep -cvE '(\.mod|\.module-common)\.o$' || true)
	nchecked=$(grep -c '^  CHECK ' "$log" || true)
	if [ "$nchecked" -lt "$nsrc" ] || [ "$nsrc" -eq 0 ]; then
		echo "kmod [$s]: FAILED: sparse checked $nchecked of $nsrc sources (log: $log)" >&2
		rm -f "$out/shmpool.ko"
		return 1
	fi
	echo "$stamp" >"$out/.stamp"
	echo "kmod [$s]: ok ($out/shmpool.ko, $nchecked files checked by sparse)"
}

fail=0
for s in "${SERIES[@]}"; do
	build_one "$s" || fail=1
done
exit $fail
