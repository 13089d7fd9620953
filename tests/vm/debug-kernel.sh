#!/usr/bin/env bash
# Build and cache the "debug" kernel series of the VM bench: Debian's newest
# 7.x linux-source (trixie or trixie-backports, resolved at run time,
# nothing pinned), configured as `make tinyconfig` plus tests/vm/debug.config
# (what the bench needs, KASAN, lockdep, kmemleak, KFENCE, DEBUG_VM, ...,
# kexec handover and the Live Update Orchestrator), built with trixie's
# gcc-14 inside the trixie tree of tests/vm/kernels.sh.
#
#   tests/vm/debug-kernel.sh          (kernels.sh debug runs it too)
#
# Result, in the shape of the other series: $SHMPOOL_CACHE/debug/kernel.env
# (KREL, KDIR, VMLINUZ, KCHROOT, KCHECK, plus SRCPKG and SRCVER), vmlinuz,
# config (the final .config) and build.log.  The build tree is
# $SHMPOOL_CACHE/trixie/usr/src/shmpool-debug/ (KDIR, inside the tree).
#
# The kernel is rebuilt only when the stamp changes: the source package and
# version, debug.config and this script's recipe.  The apt resolution is
# redone after SHMPOOL_KERNELS_TTL seconds (default one day) or with
# SHMPOOL_KERNELS_REFRESH=1; offline, a cached kernel is kept.
# SHMPOOL_DEBUG_JOBS: make -j (default: the number of CPUs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

FRAG=$HERE/debug.config
DIR=$SHMPOOL_CACHE/debug
TOP=/usr/src/shmpool-debug # inside the trixie tree
TTL=${SHMPOOL_KERNELS_TTL:-86400}
REFRESH=${SHMPOOL_KERNELS_REFRESH:-0}
JOBS=${SHMPOOL_DEBUG_JOBS:-$(nproc)}
BUILD_PKGS=(flex bison bc libelf-dev libssl-dev cpio xz-utils kmod)
# Bump when the way the kernel is made changes (not the fragment: hashed).
RECIPE="tinyconfig+debug.config+merge_config-m+olddefconfig v1"

log() { echo "debug-kernel: $*"; }

[ "$(id -u)" -eq 0 ] || vm_die "must run as root (apt and chroot in the trixie tree)"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || vm_die "SHMPOOL_DEBUG_JOBS must be a positive integer, not '$JOBS'"
[ -r "$FRAG" ] || vm_die "config fragment $FRAG missing"
# The trixie tree (and its sparse) comes from the 7.x series.
[ -f "$TRIXIE/.shmpool-ready" ] && [ -r "$SHMPOOL_CACHE/7.x/kernel.env" ] || "$HERE/kernels.sh" 7.x

mkdir -p "$DIR"
exec 7>"$SHMPOOL_CACHE/.debug-kernel.lock"
flock 7

cached() { # prints SRCPKG of a complete cached build
	(vm_load_kernel debug && [ -f "$KCHROOT$KDIR/Module.symvers" ] && [ -f "$DIR/stamp" ] &&
		echo "$SRCPKG") 2>/dev/null
}

stale() {
	[ "$REFRESH" = 1 ] && return 0
	[ -f "$DIR/kernel.env" ] || return 0
	[ $(($(date +%s) - $(stat -c %Y "$DIR/kernel.env"))) -ge "$TTL" ]
}

# The newest linux-source-7.N package, installed with the build tools.
# Prints its name; progress goes to stderr.
resolve() {
	local pkg
	log "apt-get update (trixie tree)" >&2
	vm_in_trixie apt-get update -q >/dev/null
	pkg=$(vm_in_trixie apt-cache pkgnames linux-source-7. | grep -E '^linux-source-7\.[0-9]+$' |
		vm_newest_pkg vm_in_trixie) ||
		vm_die "no linux-source-7.* package in trixie/trixie-backports"
	log "newest 7.x source is $pkg $(vm_in_trixie apt-cache show --no-all-versions "$pkg" | awk '/^Version:/ { print $2 }')" >&2
	vm_in_trixie apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends \
		"$pkg" "${BUILD_PKGS[@]}" >/dev/null || vm_die "apt-get install $pkg ${BUILD_PKGS[*]} failed"
	echo "$pkg"
}

SRCPKG=$(cached || true)
if [ -z "$SRCPKG" ]; then
	SRCPKG=$(resolve)
elif stale; then
	SRCPKG=$( (resolve) || { log "refresh failed: keeping $SRCPKG" >&2; echo "$SRCPKG"; })
fi
SRCVER=$(vm_in_trixie dpkg-query -W -f='${Version}' "$SRCPKG" 2>/dev/null) ||
	vm_die "$SRCPKG is not installed in $TRIXIE (SHMPOOL_KERNELS_REFRESH=1 retries)"
TARBALL=/usr/src/$SRCPKG.tar.xz
[ -f "$TRIXIE$TARBALL" ] || vm_die "$SRCPKG $SRCVER installed but $TRIXIE$TARBALL missing"
STAMP=$( { echo "$SRCPKG $SRCVER $RECIPE"; cat "$FRAG"; } | sha256sum | cut -d' ' -f1)

if [ -n "$(cached || true)" ] && [ "$(cat "$DIR/stamp")" = "$STAMP" ]; then
	log "cached: $(. "$DIR/kernel.env" && echo "$KREL") from $SRCPKG $SRCVER"
	exit 0
fi

# One source and one object tree per source version; objects are kept when
# only the fragment changed (kbuild rebuilds what the new .config touches).
SRC=$TOP/src-$SRCVER
OBJ=$TOP/obj-$SRCVER
for old in "$TRIXIE$TOP"/*; do
	[ -e "$old" ] || continue
	case $old in "$TRIXIE$SRC" | "$TRIXIE$OBJ") ;; *) vm_rm_tree "$old" ;; esac
done
rm -f "$DIR/stamp"
start=$(date +%s)
if [ ! -f "$TRIXIE$SRC/.shmpool-unpacked" ]; then
	log "unpacking $TARBALL ($SRCVER)"
	vm_rm_tree "$TRIXIE$SRC"
	mkdir -p "$TRIXIE$SRC"
	vm_in_trixie tar -xJf "$TARBALL" -C "$SRC" --strip-components=1
	touch "$TRIXIE$SRC/.shmpool-unpacked"
fi
mkdir -p "$TRIXIE$OBJ"
cp "$FRAG" "$TRIXIE$OBJ/debug.config"

log "configuring: tinyconfig + debug.config"
vm_in_trixie sh -c "cd '$SRC' && make -s O='$OBJ' tinyconfig >/dev/null &&
	scripts/kconfig/merge_config.sh -m -O '$OBJ' '$OBJ/.config' '$OBJ/debug.config' >/dev/null &&
	make -s O='$OBJ' olddefconfig >/dev/null" ||
	vm_die "configuring the kernel failed (in $TRIXIE$OBJ)"

# Every line of the fragment must hold in the final .config.
missing=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF -- "$line" "$TRIXIE$OBJ/.config" || missing+=("$line") ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		! grep -q "^$opt=" "$TRIXIE$OBJ/.config" || missing+=("$line") ;;
	esac
done <"$FRAG"
if [ ${#missing[@]} -gt 0 ]; then
	for line in "${missing[@]}"; do
		opt=${line#\# }
		opt=${opt%%[= ]*}
		echo "debug-kernel: error: wanted '$line', the final .config has: $(grep -E "^(# )?$opt[= ]" "$TRIXIE$OBJ/.config" || echo "nothing (unknown option or unmet dependency)")" >&2
	done
	vm_die "${#missing[@]} option(s) of $FRAG did not survive olddefconfig (see above)"
fi

log "building $SRCPKG $SRCVER with -j$JOBS (log: $DIR/build.log; a cold build takes 10-20 minutes)"
set +e
vm_in_trixie make -C "$SRC" O="$OBJ" -j"$JOBS" bzImage modules 2>&1 | tee "$DIR/build.log" |
	{
		n=0
		while IFS= read -r line; do
			[[ $line == "  CC "* ]] || continue
			n=$((n + 1))
			[ $((n % 250)) -ne 0 ] || log "$n files compiled, $(($(date +%s) - start))s"
		done
	}
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$DIR/build.log" >&2
	vm_die "kernel build failed (make exited with $rc; log: $DIR/build.log)"
fi
KREL=$(vm_in_trixie make -s -C "$SRC" O="$OBJ" kernelrelease)
[ -f "$TRIXIE$OBJ/Module.symvers" ] || vm_die "no Module.symvers in $TRIXIE$OBJ after the build"
cp "$TRIXIE$OBJ/arch/x86/boot/bzImage" "$DIR/vmlinuz.tmp"
mv -f "$DIR/vmlinuz.tmp" "$DIR/vmlinuz"
cp "$TRIXIE$OBJ/.config" "$DIR/config"
KCHECK=$(. "$SHMPOOL_CACHE/7.x/kernel.env" && echo "${KCHECK:-}")
{
	echo "# written by tests/vm/debug-kernel.sh $(date -u +%FT%TZ)"
	printf 'KREL=%q\nKDIR=%q\nVMLINUZ=%q\nKCHROOT=%q\nKCHECK=%q\nSRCPKG=%q\nSRCVER=%q\n' \
		"$KREL" "$OBJ" "$DIR/vmlinuz" "$TRIXIE" "$KCHECK" "$SRCPKG" "$SRCVER"
} >"$DIR/kernel.env.tmp"
mv -f "$DIR/kernel.env.tmp" "$DIR/kernel.env"
echo "$STAMP" >"$DIR/stamp"
log "ready: $KREL in $(($(date +%s) - start))s ($DIR/kernel.env)"
