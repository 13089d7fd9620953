#!/usr/bin/env bash
# The DKMS test: the module sources as "make dkms-install" stages them are
# added, built and installed with dkms for each kernel series (default 6.1
# and 6.12, the kernels the VM bench prepares with tests/vm/kernels.sh), in
# private dkms, source and install trees so that the system's own
# /var/lib/dkms, /usr/src and /lib/modules are never touched; then
# "dkms remove --all" must leave nothing behind.
#
#   tests/install/dkms.sh [SERIES...]      (from the repository root, as root)
#
# Environment: MAKE, BUILD, SHMPOOL_CACHE (see tests/vm/lib.sh).
set -euo pipefail
. tests/vm/lib.sh

MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
SERIES=("$@")
[ ${#SERIES[@]} -gt 0 ] || SERIES=(6.1 6.12)

fail() { echo "test-dkms: FAIL: $*" >&2; exit 1; }
step() { echo "test-dkms: $*"; }

if [ ! -f dkms.conf ] || [ ! -f Kbuild ]; then
	fail "run from the repository root (no dkms.conf or Kbuild)"
fi
command -v dkms >/dev/null || fail "dkms is not installed (scripts/install-deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || fail "must run as root (dkms, and tests/vm/kernels.sh for missing kernels)"

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
[ "$version" = "$(sed -n 's/^PACKAGE_VERSION *:\?= *//p' Makefile)" ] ||
	fail "dkms.conf PACKAGE_VERSION \"$version\" differs from the Makefile's"

# Every kernel first (kernels.sh is a no-op when its cache is fresh).
for s in "${SERIES[@]}"; do
	vm_check_series "$s"
	(vm_load_kernel "$s") >/dev/null 2>&1 || tests/vm/kernels.sh "$s"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/shmpool-dkms.XXXXXX")
TREES=(--sourcetree "$T/src" --dkmstree "$T/dkms" --installtree "$T/modules")
cleanup() {
	dkms remove -m shmpool -v "$version" --all "${TREES[@]}" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/src" "$T/dkms" "$T/modules"

# What "make dkms-install" puts under /usr/src, staged here.
$MAKE --no-print-directory -s dkms-install DESTDIR="$T/stage" BUILD="$BUILD" >/dev/null ||
	fail "make dkms-install failed"
staged=$T/stage/usr/src/shmpool-$version
if [ ! -f "$staged/dkms.conf" ] || [ ! -f "$staged/Kbuild" ]; then
	fail "make dkms-install staged no dkms.conf/Kbuild"
fi

# "dkms add PATH" copies a source tree with a dkms.conf into the source tree.
dkms add "$staged" "${TREES[@]}" >"$T/add.log" 2>&1 || { cat "$T/add.log" >&2; fail "dkms add"; }
step "dkms add $version: ok"

for s in "${SERIES[@]}"; do
	vm_load_kernel "$s"
	[ -z "$KCHROOT" ] || fail "[$s] needs a chroot toolchain: not covered by this test"
	log=$T/build-$s.log
	if ! dkms build -m shmpool -v "$version" -k "$KREL" --kernelsourcedir "$KDIR" \
		"${TREES[@]}" >"$log" 2>&1; then
		cat "$log" >&2
		cat "$T/dkms/shmpool/$version/build/make.log" >&2 2>/dev/null || true
		fail "[$s] dkms build for $KREL"
	fi
	# Compressed (.ko.xz ...) when the kernel's config asks for it.
	ko=$(find "$T/dkms/shmpool/$version/$KREL" -name 'shmpool.ko*' -path '*/module/*' | head -n1)
	[ -n "$ko" ] || fail "[$s] dkms build produced no shmpool.ko"
	vermagic=$(modinfo -F vermagic "$ko")
	[ "${vermagic%% *}" = "$KREL" ] || fail "[$s] built for \"$vermagic\", not $KREL"
	[ "$(modinfo -F version "$ko")" = "$version" ] || fail "[$s] module version is not $version"

	mkdir -p "$T/modules/$KREL"
	dkms install -m shmpool -v "$version" -k "$KREL" --kernelsourcedir "$KDIR" --no-depmod \
		"${TREES[@]}" >"$log" 2>&1 || { cat "$log" >&2; fail "[$s] dkms install for $KREL"; }
	ls "$T/modules/$KREL/updates/dkms/shmpool.ko"* >/dev/null 2>&1 ||
		fail "[$s] dkms install put no shmpool.ko in updates/dkms"
	dkms status -m shmpool -v "$version" -k "$KREL" "${TREES[@]}" | grep -q ': installed' ||
		fail "[$s] dkms status does not say installed: $(dkms status -m shmpool "${TREES[@]}")"
	step "[$s] dkms build + install for $KREL: ok"
done

dkms remove -m shmpool -v "$version" --all "${TREES[@]}" >"$T/remove.log" 2>&1 ||
	{ cat "$T/remove.log" >&2; fail "dkms remove --all"; }
left=$(find "$T/dkms" "$T/modules" ! -type d)
[ -z "$left" ] || fail "dkms remove --all left files: $left"
step "dkms remove --all: nothing left"
echo "test-dkms: PASS"
