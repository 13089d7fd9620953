#!/usr/bin/env bash
# Install every Debian package the build and the tests need.  Idempotent and
# quiet when everything is present.  Kernel images and headers for the VM
# bench are fetched separately by tests/vm/kernels.sh.
set -euo pipefail

# `make deps-build` (--build): only what building and running shmpool needs on
# a production host, the list README's "Installation for real use" names.
# --print-build prints it, one a line (tests/system builds its images with it).
BUILD_PKGS=(build-essential pkg-config libinih-dev libkmod-dev dkms man-db)
case ${1:-} in
--print-build) printf '%s\n' "${BUILD_PKGS[@]}"; exit 0 ;;
--build) MODE=build ;;
'') MODE=all ;;
*) echo "install-deps: unknown option '$1' (--build, --print-build)" >&2; exit 2 ;;
esac

PKGS=(
	build-essential g++ pkg-config
	check libsubunit-dev
	libinih-dev libkmod-dev
	valgrind
	clang libclang-rt-14-dev
	qemu-system-x86 busybox-static cpio trinity
	kexec-tools
	debootstrap debian-archive-keyring sparse bc flex bison libelf-dev kmod
	linux-headers-amd64 dwarves
	dkms man-db
	# bench/: the peers of bench_tick (make bench, and its smoke pass in make test)
	g++ libboost-dev libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
)

[ "$MODE" = all ] || PKGS=("${BUILD_PKGS[@]}")
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
