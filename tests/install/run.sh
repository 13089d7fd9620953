#!/usr/bin/env bash
# The install test: "make install" into a temporary DESTDIR, build a program
# against it with pkg-config (shared and fully static), run it, check the
# installed files, the soname, the exported symbols and the version numbers,
# then "make uninstall" and check that it removed every file and the
# directories install created, and kept one that was there before.
#
#   tests/install/run.sh        (from the repository root; make test-install)
#
# Environment: MAKE (default make), BUILD (default build), CC (default cc),
# CXX (default g++: the C++ program, tests/install/hello_cpp.cpp).
set -euo pipefail

MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
CC=${CC:-cc}
CXX=${CXX:-g++}
PREFIX=/usr/local

fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
step() { echo "test-install: $*"; }

[ -f tests/install/hello.c ] || fail "run from the repository root"
D=$(mktemp -d "${TMPDIR:-/tmp}/shmpool-install.XXXXXX")
trap 'rm -rf "$D"' EXIT

# ---- versions: one number everywhere ------------------------------------
version=$(sed -n 's/^PACKAGE_VERSION *:\?= *//p' Makefile)
[ -n "$version" ] || fail "no PACKAGE_VERSION in the Makefile"
dkms_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
[ "$dkms_version" = "$version" ] ||
	fail "dkms.conf PACKAGE_VERSION \"$dkms_version\" != Makefile PACKAGE_VERSION \"$version\""
if [ -f kmod/shmpool.h ]; then
	kmod_version=$(sed -n 's/^#define[ \t]*SHMPOOL_VERSION[ \t]*"\(.*\)"$/\1/p' kmod/shmpool.h)
	[ "$kmod_version" = "$version" ] ||
		fail "kmod/shmpool.h SHMPOOL_VERSION \"$kmod_version\" != Makefile PACKAGE_VERSION \"$version\""
fi
step "version $version in Makefile, dkms.conf and kmod/shmpool.h"

# ---- install -------------------------------------------------------------
step "make install DESTDIR=$D PREFIX=$PREFIX"
# A directory that was there before install: uninstall must leave it.
mkdir -p "$D$PREFIX/share/man"
before=$(cd "$D" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
$MAKE --no-print-directory -s install DESTDIR="$D" PREFIX="$PREFIX" BUILD="$BUILD" >"$D.log" 2>&1 ||
	{ cat "$D.log" >&2; rm -f "$D.log"; fail "make install failed"; }
rm -f "$D.log"

R=$D$PREFIX
expected=(
	"$PREFIX/bin/shmpoolctl"
	"$PREFIX/include/linux/shmpool.h"
	"$PREFIX/include/shmdev.h"
	"$PREFIX/include/shmdev.hpp"
	"$PREFIX/lib/libshmdev.a"
	"$PREFIX/lib/libshmdev.so"
	"$PREFIX/lib/libshmdev.so.0"
	"$PREFIX/lib/pkgconfig/libshmdev.pc"
	"$PREFIX/share/doc/shmpool/examples/modprobe.d-shmpool.conf"
	"$PREFIX/share/doc/shmpool/examples/modules-load.d-shmpool.conf"
	"$PREFIX/share/doc/shmpool/examples/player.c"
	"$PREFIX/share/doc/shmpool/.installed-dirs"
	"$PREFIX/share/man/man8/shmpoolctl.8"
	"/lib/udev/rules.d/60-shmpool.rules"
)
for f in conf/memorypool.ini conf/memorypool.ini.tmpl; do
	[ -f "$f" ] && expected+=("$PREFIX/share/doc/shmpool/examples/${f#conf/}")
done
for f in libshmdev/*.3; do
	[ -f "$f" ] && expected+=("$PREFIX/share/man/man3/${f#libshmdev/}")
done
got=$(cd "$D" && find . ! -type d | sed 's|^\.||' | LC_ALL=C sort)
want=$(printf '%s\n' "${expected[@]}" | LC_ALL=C sort)
[ "$got" = "$want" ] || fail "installed files differ from the expected list:
$(diff <(echo "$want") <(echo "$got") || true)"
[ "$(readlink "$R/lib/libshmdev.so")" = libshmdev.so.0 ] || fail "libshmdev.so is not a symlink to libshmdev.so.0"
step "installed exactly the ${#expected[@]} expected files"

# ---- the shared library: soname and exported symbols ---------------------
soname=$(readelf -d "$R/lib/libshmdev.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libshmdev.so.0 ] || fail "soname is \"$soname\", expected libshmdev.so.0"
bad=$(readelf --dyn-syms -W "$R/lib/libshmdev.so.0" |
	awk '$7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") && $8 != "" { print $8 }' |
	grep -v -E '^(shmdev_[a-z0-9_]+@@LIBSHMDEV_0|LIBSHMDEV_0)$' || true)
[ -z "$bad" ] || fail "exported symbols outside shmdev_*@@LIBSHMDEV_0: $bad"
step "soname libshmdev.so.0; every exported symbol is shmdev_*@@LIBSHMDEV_0"

# ---- pkg-config ------------------------------------------------------------
export PKG_CONFIG_PATH=$R/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
export PKG_CONFIG_LIBDIR=$R/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig
[ "$(pkg-config --modversion libshmdev)" = "$version" ] ||
	fail "pkg-config --modversion libshmdev: $(pkg-config --modversion libshmdev 2>&1)"
cflags=$(pkg-config --cflags libshmdev)
libs=$(pkg-config --libs libshmdev)
static_libs=$(pkg-config --static --libs libshmdev)
step "pkg-config: cflags \"$cflags\", libs \"$libs\", static \"$static_libs\""
case " $cflags " in *" -I$R/include "*) ;; *) fail "cflags do not point into DESTDIR: $cflags" ;; esac
case " $libs " in *" -L$R/lib "*) ;; *) fail "libs do not point into DESTDIR: $libs" ;; esac
case " $static_libs " in *" -linih "*) ;; *) fail "static libs lack inih (Requires.private): $static_libs" ;; esac

# ---- build and run a program against the tree ----------------------------
# shellcheck disable=SC2086 # word splitting of the flags is intended
$CC -std=c11 -Wall -Wextra -Werror $cflags -o "$D/hello" tests/install/hello.c $libs ||
	fail "cannot build hello.c against the installed tree"
resolved=$(LD_LIBRARY_PATH=$R/lib ldd "$D/hello" | awk '$1 == "libshmdev.so.0" { print $3 }')
[ "$resolved" = "$R/lib/libshmdev.so.0" ] || fail "hello resolves libshmdev.so.0 to \"$resolved\""
out=$(LD_LIBRARY_PATH=$R/lib "$D/hello") || fail "hello failed: $out"
[ "$out" = "abi 2, zone: base 0x1000, 4 blocks, key=14" ] || fail "hello printed \"$out\""
step "shared: $out"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror -static $cflags -o "$D/hello-static" tests/install/hello.c $static_libs ||
	fail "cannot link hello.c statically with pkg-config --static"
out=$("$D/hello-static") || fail "static hello failed: $out"
step "static: $out"
rm -f "$D/hello" "$D/hello-static"

# The C++ layer: shmdev.hpp from the same tree, the same .pc file.
# shellcheck disable=SC2086
$CXX -std=c++17 -Wall -Wextra -Werror -pedantic $cflags -o "$D/hello_cpp" tests/install/hello_cpp.cpp $libs ||
	fail "cannot build hello_cpp.cpp against the installed tree"
out=$(LD_LIBRARY_PATH=$R/lib "$D/hello_cpp") || fail "hello_cpp failed: $out"
[ "$out" = "c++: zone: base 0x1000, 4 blocks, key=14, Item 16 bytes" ] || fail "hello_cpp printed \"$out\""
step "C++ (shmdev.hpp, pkg-config): $out"
rm -f "$D/hello_cpp"

# ---- the tool and the man page from the tree -----------------------------
"$R/bin/shmpoolctl" --version | grep -qx "shmpoolctl $version (ABI 2)" ||
	fail "installed shmpoolctl --version: $("$R/bin/shmpoolctl" --version 2>&1)"
if command -v man >/dev/null; then
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$R/share/man/man8/shmpoolctl.8" 2>&1 >/dev/null || true)
	[ -z "$warn" ] || fail "man page warnings: $warn"
fi
step "installed shmpoolctl runs; man page renders without warnings"

# ---- uninstall -----------------------------------------------------------
$MAKE --no-print-directory -s uninstall DESTDIR="$D" PREFIX="$PREFIX" BUILD="$BUILD" >/dev/null ||
	fail "make uninstall failed"
left=$(cd "$D" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
[ "$left" = "$before" ] || fail "make uninstall left files or directories behind: $left"
step "make uninstall removed everything, the directories install created included"
echo "test-install: PASS"
