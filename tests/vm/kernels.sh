#!/usr/bin/env bash
# Prepare the kernels of the VM bench: for each series, the newest Debian
# kernel image (vmlinuz) and a headers tree usable with `make -C KDIR M=SRC`.
#
#   tests/vm/kernels.sh [SERIES...]      SERIES: 6.1 6.12 7.x debug
#                                        (default: 6.1 6.12 7.x)
#
#   6.1   bookworm's newest linux-image-6.1.*-amd64; headers installed with apt.
#   6.12  the newest 6.12 of bookworm and bookworm-backports; headers unpacked
#         into the cache (their package depends on the image, which we do not
#         want installed on the host).
#   7.x   trixie-backports' newest 7.x, built with trixie's gcc-14 inside a
#         debootstrap'd trixie tree kept in the cache.
#   debug 7.x built from Debian's linux-source with KASAN, lockdep, kmemleak,
#         KFENCE and live update: tests/vm/debug-kernel.sh.
#
# Versions are resolved with apt-cache at run time; nothing is pinned.  The
# mirror is the one of the machine's own apt sources.  A second run does no
# network access unless the resolution is older than SHMPOOL_KERNELS_TTL
# seconds (default one day) or SHMPOOL_KERNELS_REFRESH=1.
#
# Environment: SHMPOOL_CACHE (default /var/cache/shmpool/kernels),
# SHMPOOL_MIRROR (override the derived mirror URI).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TTL=${SHMPOOL_KERNELS_TTL:-86400}
REFRESH=${SHMPOOL_KERNELS_REFRESH:-0}
HOST_SOURCES=/etc/apt/sources.list.d/shmpool-backports.sources
TRIXIE_PKGS=gcc,make,libc6-dev,sparse,dwarves,ca-certificates

log() { echo "kernels: $*"; }

[ "$(id -u)" -eq 0 ] || vm_die "must run as root (apt, debootstrap, chroot)"
[ "$(dpkg --print-architecture)" = amd64 ] || vm_die "only amd64 hosts are supported"

SERIES=("$@")
[ ${#SERIES[@]} -gt 0 ] || SERIES=("${VM_ALL_SERIES[@]}")
for s in "${SERIES[@]}"; do vm_check_series "$s"; done

mkdir -p "$SHMPOOL_CACHE"
exec 8>"$SHMPOOL_CACHE/.kernels.lock"
flock 8

HOST_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$HOST_CODENAME" ] || vm_die "cannot read VERSION_CODENAME from /etc/os-release"

# The Debian mirror URI of the host's main suite, from deb822 sources or the
# one-line format.  Never written to the repository, only to apt's config.
find_mirror() {
	local f found
	if [ -n "${SHMPOOL_MIRROR:-}" ]; then
		echo "$SHMPOOL_MIRROR"
		return 0
	fi
	# Collected whole, then the first taken: no "head" under pipefail.
	found=$(for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] && [ "$f" != "$HOST_SOURCES" ] || continue
		awk -v suite="$HOST_CODENAME" '
			/^[ \t]*$/ { uris = ""; suites = ""; types = ""; next }
			tolower($1) == "uris:" { uris = $2 }
			tolower($1) == "types:" { types = $0 }
			tolower($1) == "suites:" { suites = $0 }
			uris != "" && suites != "" && types ~ /[ \t]deb([ \t]|$)/ {
				n = split(suites, a, /[ \t]+/)
				for (i = 2; i <= n; i++)
					if (a[i] == suite) { print uris; exit }
			}' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v suite="$HOST_CODENAME" '
			$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) { print $i; exit }
			}')
	[ -n "$found" ] || return 1
	echo "${found%%$'\n'*}"
}

MIRROR=$(find_mirror) || vm_die "no Debian mirror for suite '$HOST_CODENAME' in /etc/apt/sources.list{,.d}; set SHMPOOL_MIRROR"
MIRROR=${MIRROR%/}

# Is the resolution of this series stale (or forced)?
stale() {
	local env=$SHMPOOL_CACHE/$1/kernel.env
	[ "$REFRESH" = 1 ] && return 0
	[ -f "$env" ] || return 0
	[ $(($(date +%s) - $(stat -c %Y "$env"))) -ge "$TTL" ]
}

# Is the series' cached kernel complete?
complete() {
	(vm_load_kernel "$1" && [ -f "$KDIR/Makefile" ] ||
		{ [ -n "$KCHROOT" ] && [ -f "$KCHROOT$KDIR/Makefile" ]; }) >/dev/null 2>&1
}

# Headers packages of a series, flavour amd64 only (not rt, not cloud).
headers_names() { # series-regex, command prefix...
	local re=$1
	shift
	"$@" apt-cache pkgnames linux-headers- |
		grep -E "^linux-headers-$re\.[0-9][^ ]*-amd64\$" |
		grep -Ev -- '-(rt|cloud)-amd64$' || true
}

# Extract the kernel image of a downloaded package to $2 (atomically).
extract_vmlinuz() {
	local deb=$1 out=$2 member
	member=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -E '/vmlinuz[^/]*$' | head -n1) ||
		vm_die "no vmlinuz in $deb"
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$member" >"$out.tmp"
	[ -s "$out.tmp" ] || vm_die "empty vmlinuz extracted from $deb"
	mv -f "$out.tmp" "$out"
}

write_env() { # series krel kdir kchroot kcheck
	local dir=$SHMPOOL_CACHE/$1
	{
		echo "# written by tests/vm/kernels.sh $(date -u +%FT%TZ)"
		printf 'KREL=%q\nKDIR=%q\nVMLINUZ=%q\nKCHROOT=%q\nKCHECK=%q\n' \
			"$2" "$3" "$dir/vmlinuz" "$4" "${5:-}"
	} >"$dir/kernel.env.tmp"
	mv -f "$dir/kernel.env.tmp" "$dir/kernel.env"
}

HOST_APT_UPDATED=0
host_apt_update() {
	[ $HOST_APT_UPDATED -eq 0 ] || return 0
	local want
	want="# Added by shmpool tests/vm/kernels.sh (mirror taken from the existing sources)
Types: deb
URIs: $MIRROR
Suites: $HOST_CODENAME-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	if [ "$(cat "$HOST_SOURCES" 2>/dev/null)" != "$want" ]; then
		log "adding $HOST_CODENAME-backports to apt sources ($HOST_SOURCES)"
		echo "$want" >"$HOST_SOURCES"
	fi
	log "apt-get update (host)"
	apt-get update -q >/dev/null
	HOST_APT_UPDATED=1
}

# Download a package on the host into $2 and print the .deb path.
host_download() {
	(cd "$2" && apt-get download -q -o APT::Sandbox::User=root "$1" >/dev/null) ||
		vm_die "apt-get download $1 failed"
	ls "$2"/"${1}"_*.deb
}

prepare_host_series() { # series
	local s=$1 dir=$SHMPOOL_CACHE/$1 hdr krel kdir img tmp deb
	local re=${s//./\\.}
	mkdir -p "$dir"
	log "[$s] resolving the newest $s kernel"
	host_apt_update
	hdr=$(headers_names "$re" | vm_newest_pkg) ||
		vm_die "[$s] no linux-headers-$s.*-amd64 package in the apt sources"
	krel=${hdr#linux-headers-}
	log "[$s] newest is $krel ($(apt-cache show --no-all-versions "$hdr" | awk '/^Version:/ { print $2 }'))"

	if [ "$s" = 6.1 ]; then
		kdir=/usr/src/linux-headers-$krel
		if ! dpkg-query -W -f='${Status}' "$hdr" 2>/dev/null | grep -q 'ok installed'; then
			log "[$s] installing $hdr with apt"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$hdr" >/dev/null
		fi
	else
		kdir=$dir/root-$krel/usr/src/linux-headers-$krel
		if [ ! -f "$dir/root-$krel/.shmpool-ready" ]; then
			local common kbuild
			common=linux-headers-${krel%-amd64}-common
			kbuild=linux-kbuild-${krel%-amd64}
			kbuild=$(vm_first_available -- "$kbuild" "linux-kbuild-$s") ||
				vm_die "[$s] no $kbuild or linux-kbuild-$s package in the apt sources"
			log "[$s] unpacking $hdr $common $kbuild into the cache"
			tmp=$(mktemp -d "$dir/dl.XXXXXX")
			vm_rm_tree "$dir/root-$krel"
			for p in "$hdr" "$common" "$kbuild"; do
				deb=$(host_download "$p" "$tmp")
				dpkg -x "$deb" "$dir/root-$krel"
			done
			rm -rf "$tmp"
			# The package's Makefile includes the common tree by absolute path.
			sed -i "s#^include /usr/src/#include $dir/root-$krel/usr/src/#" "$kdir/Makefile"
			[ -f "$kdir/Module.symvers" ] || vm_die "[$s] $kdir is not a headers tree"
			touch "$dir/root-$krel/.shmpool-ready"
		fi
		# Older releases of the series are no longer used.
		for old in "$dir"/root-*; do
			[ "$old" = "$dir/root-$krel" ] || vm_rm_tree "$old"
		done
	fi
	[ -f "$kdir/Makefile" ] || vm_die "[$s] headers tree $kdir missing"

	if [ "$(. "$dir/kernel.env" 2>/dev/null && echo "$KREL")" != "$krel" ] || [ ! -s "$dir/vmlinuz" ]; then
		# The signed image can come days after its headers and -unsigned.
		img=$(vm_first_available -- "linux-image-$krel" "linux-image-$krel-unsigned") ||
			vm_die "[$s] no installable linux-image-$krel or linux-image-$krel-unsigned"
		log "[$s] downloading $img"
		tmp=$(mktemp -d "$dir/dl.XXXXXX")
		deb=$(host_download "$img" "$tmp")
		extract_vmlinuz "$deb" "$dir/vmlinuz"
		rm -rf "$tmp"
	fi
	write_env "$s" "$krel" "$kdir" "" ""
	log "[$s] ready: $krel"
}

# The trixie tree: minbase + toolchain + sparse, and trixie-backports.
prepare_trixie() {
	if [ -f "$TRIXIE/.shmpool-ready" ] && [ "$(cat "$TRIXIE/.shmpool-ready")" = "$TRIXIE_PKGS" ]; then
		return 0
	fi
	local tmp=$SHMPOOL_CACHE/trixie.tmp
	log "[7.x] debootstrap trixie into $TRIXIE (takes a minute)"
	vm_rm_tree "$tmp"
	debootstrap --variant=minbase --include="$TRIXIE_PKGS" trixie "$tmp" "$MIRROR" \
		>"$SHMPOOL_CACHE/debootstrap.log" 2>&1 ||
		vm_die "debootstrap failed, see $SHMPOOL_CACHE/debootstrap.log"
	cat >"$tmp/etc/apt/sources.list" <<-EOF
		deb $MIRROR trixie main
		deb $MIRROR trixie-updates main
		deb $MIRROR trixie-backports main
	EOF
	vm_rm_tree "$TRIXIE"
	mv "$tmp" "$TRIXIE"
	echo "$TRIXIE_PKGS" >"$TRIXIE/.shmpool-ready"
	rm -f "$SHMPOOL_CACHE/debootstrap.log"
}

# 7.x headers make sparse parse __typeof_unqual__ (scripts/checker-valid.sh
# probes it, and C=1 silently checks nothing if it fails).  Debian's sparse
# 0.6.4 cannot; sid has 0.6.5~rc1, whose binary needs only libc.  It is
# unpacked into the tree, not installed: its package pulls sid's gcc.
SPARSE_PROBE='static inline int u(const int *q) { __typeof_unqual__(*q) v = *q; return v; }'
SID_SPARSE=/opt/sparse-sid/usr/bin/sparse

sparse_ok() { # sparse path inside the tree
	local out
	[ -x "$TRIXIE$1" ] || return 1
	echo "$SPARSE_PROBE" >"$TRIXIE/tmp/shmpool-sparse-probe.c"
	out=$(vm_in_trixie "$1" -m64 /tmp/shmpool-sparse-probe.c 2>&1) || return 1
	! grep -q error <<<"$out"
}

# Print the sparse to use for 7.x ("" for the tree's own).
prepare_sparse() {
	local lists=/var/lib/shmpool-sid-lists tmp deb
	local -a opts=(-o Dir::Etc::SourceList=/etc/apt/shmpool-sid.list
		-o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$lists"
		-o Acquire::Check-Valid-Until=false)
	if sparse_ok /usr/bin/sparse; then
		return 0
	fi
	if sparse_ok "$SID_SPARSE"; then
		echo "$SID_SPARSE"
		return 0
	fi
	log "[7.x] trixie's sparse cannot parse __typeof_unqual__: unpacking sid's sparse" >&2
	echo "deb $MIRROR sid main" >"$TRIXIE/etc/apt/shmpool-sid.list"
	mkdir -p "$TRIXIE$lists/partial"
	# A mirror snapshot's sid Release is past its Valid-Until: accept it.
	vm_in_trixie apt-get "${opts[@]}" update -q >/dev/null
	tmp=$(mktemp -d "$TRIXIE/tmp/dl.XXXXXX")
	vm_in_trixie sh -c "cd '${tmp#"$TRIXIE"}' && apt-get $(printf "'%s' " "${opts[@]}") download -q -o APT::Sandbox::User=root sparse" >/dev/null ||
		vm_die "[7.x] cannot download sparse from sid"
	deb=$(ls "$tmp"/sparse_*.deb)
	vm_rm_tree "$TRIXIE/opt/sparse-sid"
	dpkg -x "$deb" "$TRIXIE/opt/sparse-sid"
	rm -rf "$tmp"
	sparse_ok "$SID_SPARSE" || vm_die "[7.x] sid's sparse ($(basename "$deb")) fails the __typeof_unqual__ probe too"
	echo "$SID_SPARSE"
}

# Debian's linux-kbuild-7.x lacks scripts/checker-valid.sh, which the 7.x
# Makefile runs to decide whether C=1 may use sparse: without it C=1 checks
# nothing.  Supply an equivalent in the tree (the cache, never the repo).
install_checker_valid() { # krel
	local scripts
	scripts=$(readlink -f "$TRIXIE/usr/src/linux-headers-${1%-amd64}-common/scripts") ||
		vm_die "[7.x] no scripts directory in the $1 headers"
	case $scripts in "$TRIXIE"/*) ;; *) vm_die "[7.x] $1 scripts resolve outside the tree: $scripts" ;; esac
	[ -e "$scripts/checker-valid.sh" ] && return 0
	log "[7.x] adding the missing scripts/checker-valid.sh to the $1 headers"
	cat >"$scripts/checker-valid.sh" <<-'EOF'
		#!/bin/sh
		# Added by shmpool's tests/vm/kernels.sh: Debian's linux-kbuild package
		# does not ship this kbuild helper.  Prints 1 if the checker given as
		# arguments parses __typeof_unqual__, as the 7.x headers need.
		command -v "$1" >/dev/null 2>&1 || exit 1
		f=$(mktemp) || exit 1
		trap 'rm -f "$f"' EXIT
		echo 'static inline int u(const int *q) { __typeof_unqual__(*q) v = *q; return v; }' >"$f"
		if "$@" "$f" 2>&1 | grep -q error; then echo 0; else echo 1; fi
	EOF
	chmod 755 "$scripts/checker-valid.sh"
}

prepare_7x() {
	local s=7.x dir=$SHMPOOL_CACHE/7.x hdr krel tmp deb kcheck
	mkdir -p "$dir"
	prepare_trixie
	log "[7.x] apt-get update (trixie tree)"
	vm_in_trixie apt-get update -q >/dev/null
	hdr=$(headers_names '7\.[0-9]+' vm_in_trixie | vm_newest_pkg vm_in_trixie) ||
		vm_die "[7.x] no linux-headers-7.*-amd64 in trixie/trixie-backports"
	krel=${hdr#linux-headers-}
	log "[7.x] newest is $krel"
	if [ ! -f "$TRIXIE/usr/src/linux-headers-$krel/Makefile" ]; then
		log "[7.x] installing $hdr in the trixie tree"
		vm_in_trixie apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$hdr" >/dev/null
	fi
	if [ "$(. "$dir/kernel.env" 2>/dev/null && echo "$KREL")" != "$krel" ] || [ ! -s "$dir/vmlinuz" ]; then
		local img
		img=$(vm_first_available vm_in_trixie -- "linux-binary-unsigned-$krel" "linux-image-$krel-unsigned") ||
			vm_die "[7.x] no installable linux-binary-unsigned-$krel or linux-image-$krel-unsigned"
		log "[7.x] downloading $img"
		tmp=$(mktemp -d "$TRIXIE/tmp/dl.XXXXXX")
		vm_in_trixie sh -c "cd '${tmp#"$TRIXIE"}' && apt-get download -q -o APT::Sandbox::User=root '$img'" >/dev/null ||
			vm_die "[7.x] apt-get download $img failed"
		deb=$(ls "$tmp"/*.deb)
		extract_vmlinuz "$deb" "$dir/vmlinuz"
		rm -rf "$tmp"
	fi
	kcheck=$(prepare_sparse)
	install_checker_valid "$krel"
	write_env 7.x "$krel" "/usr/src/linux-headers-$krel" "$TRIXIE" "$kcheck"
	log "[7.x] ready: $krel"
}

cached_krel() { (vm_load_kernel "$1" && echo "$KREL") 2>/dev/null; }

prepare() {
	if [ "$1" = 7.x ]; then prepare_7x; else prepare_host_series "$1"; fi
}

for s in "${SERIES[@]}"; do
	if [ "$s" = debug ]; then
		# Built, not downloaded; it has its own staleness and stamp rules.
		flock -u 8
		"$(dirname "$0")/debug-kernel.sh"
		flock 8
		continue
	fi
	if complete "$s" && ! stale "$s"; then
		log "[$s] cached: $(cached_krel "$s")"
	elif complete "$s"; then
		# Offline or a broken mirror must not stop a bench that has kernels.
		(prepare "$s") || log "[$s] refresh failed: keeping the cached $(cached_krel "$s")"
	else
		prepare "$s"
	fi
done
