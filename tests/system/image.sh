#!/usr/bin/env bash
# Build (or reuse) the root file system image of a real Debian system for the
# system test: debootstrap, then the packages below and README's build and
# runtime packages (scripts/install-deps.sh --print-build), then an ext4 image
# made with mkfs.ext4 -d (no loop mount).  The image is never booted
# directly: run.sh boots a copy-on-write overlay of it.
#
#   tests/system/image.sh SUITE        SUITE: bookworm (6.1) | trixie (6.12)
#
# Cache: $SHMPOOL_SYSTEM_CACHE (default /var/cache/shmpool/system)/SUITE/
#   root.img  vmlinuz  initrd.img  stamp
# Rebuilt only when missing or when the stamp (a hash of this script, the
# package lists and the suite) changes.  The mirror is the one of this
# machine's apt sources (SHMPOOL_MIRROR overrides), and so is the security
# archive (SHMPOOL_SECURITY_MIRROR): a Debian system gets its kernel and
# fixes from SUITE-security, and so does the image; neither is ever
# written in the repo.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

SUITE=${1:?usage: image.sh bookworm|trixie}
case $SUITE in bookworm|trixie) ;; *) echo "image.sh: unknown suite '$SUITE' (bookworm, trixie)" >&2; exit 2 ;; esac
CACHE=${SHMPOOL_SYSTEM_CACHE:-/var/cache/shmpool/system}/$SUITE
IMG_SIZE=${SHMPOOL_SYSTEM_IMG_SIZE:-6G}

log() { echo "system-image[$SUITE]: $*"; }
die() { echo "system-image[$SUITE]: error: $*" >&2; exit 1; }

# The system the issue asks for: systemd as PID 1, udev, dbus, logind with
# pam_systemd, sudo, man-db, dkms, build-essential, the kernel and its headers.
SYS_PKGS=(systemd systemd-sysv udev dbus libpam-systemd sudo man-db dkms
	build-essential kmod procps psmisc util-linux initramfs-tools
	linux-image-amd64 linux-headers-amd64)
mapfile -t BUILD_PKGS < <("$TOP/scripts/install-deps.sh" --print-build)
[ ${#BUILD_PKGS[@]} -gt 0 ] || die "scripts/install-deps.sh --print-build printed nothing"

STAMP=$( { cat "$0"; echo "$SUITE ${SYS_PKGS[*]} ${BUILD_PKGS[*]}"; } | sha256sum | cut -d' ' -f1)
if [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP" ] &&
	[ -f "$CACHE/root.img" ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.img" ]; then
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot) to build $CACHE"

# The URI that serves one of the host's suites (its own, or its -security),
# from deb822 or one-line sources; OVERRIDE first.
find_mirror() { # suite override
	local f found suite=$1
	if [ -n "$2" ]; then echo "$2"; return 0; fi
	found=$(for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v suite="$suite" '
			/^[ \t]*$/ { uris = ""; suites = ""; types = ""; next }
			tolower($1) == "uris:" { uris = $2 }
			tolower($1) == "types:" { types = $0 }
			tolower($1) == "suites:" { suites = $0 }
			uris != "" && suites != "" && types ~ /[ \t]deb([ \t]|$)/ {
				n = split(suites, a, /[ \t]+/)
				for (i = 2; i <= n; i++) if (a[i] == suite) { print uris; exit }
			}' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v suite="$suite" '$1 == "deb" { i = 2
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == suite) { print $i; exit } }')
	[ -n "$found" ] || return 1
	echo "${found%%$'\n'*}"
}
HOST_SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
MIRROR=$(find_mirror "$HOST_SUITE" "${SHMPOOL_MIRROR:-}") ||
	die "no Debian mirror for '$HOST_SUITE' in /etc/apt/sources.list{,.d}; set SHMPOOL_MIRROR"
MIRROR=${MIRROR%/}
SECURITY=$(find_mirror "$HOST_SUITE-security" "${SHMPOOL_SECURITY_MIRROR:-}") || SECURITY=''
SECURITY=${SECURITY%/}

mkdir -p "$CACHE"
exec 9>"$CACHE/../.$SUITE.lock"
flock 9
ROOT=$CACHE/root.tmp
cleanup() {
	local m
	for m in $(awk -v d="$ROOT/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" || umount -l "$m"
	done
}
trap cleanup EXIT
cleanup
rm -rf --one-file-system "$ROOT" "$CACHE/root.img.tmp"
t0=$(date +%s)
log "debootstrap $SUITE from the host's mirror (a few minutes on a cold cache)"
debootstrap --variant=minbase --include=systemd-sysv,ca-certificates \
	"$SUITE" "$ROOT" "$MIRROR" >"$CACHE/build.log" 2>&1 ||
	die "debootstrap failed, see $CACHE/build.log"
cat >"$ROOT/etc/apt/sources.list" <<-E
	deb $MIRROR $SUITE main
	deb $MIRROR $SUITE-updates main
E
if [ -n "$SECURITY" ]; then
	echo "deb $SECURITY $SUITE-security main" >>"$ROOT/etc/apt/sources.list"
else
	log "no $HOST_SUITE-security in the host's apt sources: the image gets no security updates (SHMPOOL_SECURITY_MIRROR)"
fi
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount -t devpts devpts "$ROOT/dev/pts"
# No daemon may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
inchroot() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
log "apt-get install ${SYS_PKGS[*]} ${BUILD_PKGS[*]}"
{
	inchroot apt-get update -q &&
	inchroot apt-get install -y -q --no-install-recommends "${SYS_PKGS[@]}" "${BUILD_PKGS[@]}"
} >>"$CACHE/build.log" 2>&1 || die "apt-get install failed, see $CACHE/build.log"
rm -f "$ROOT/usr/sbin/policy-rc.d"
inchroot apt-get clean

# The system: a root file system on /dev/vda, a serial console, an admin
# with sudo and a game-server user (both plain users, uid >= 1000, so that
# logind's RemoveIPC applies to them), and the unit that runs the walk from
# the second disk and powers off.
echo "shmpool-sys" >"$ROOT/etc/hostname"
echo "127.0.1.1 shmpool-sys" >>"$ROOT/etc/hosts"
echo "/dev/vda / ext4 rw,errors=remount-ro 0 0" >"$ROOT/etc/fstab"
inchroot useradd -m -s /bin/bash -G sudo admin
inchroot useradd -m -s /bin/bash gameserver
echo "admin ALL=(ALL) NOPASSWD: ALL" >"$ROOT/etc/sudoers.d/admin"
chmod 0440 "$ROOT/etc/sudoers.d/admin"
# Nothing periodic or interactive while the walk runs.
for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
	fstrim.timer dpkg-db-backup.timer getty@tty1.service serial-getty@ttyS0.service; do
	inchroot systemctl mask "$u" >/dev/null 2>&1 || true
done
cat >"$ROOT/etc/systemd/system/shmpool-walk.service" <<-'E'
	[Unit]
	Description=shmpool system test: walk README's installation section
	After=multi-user.target systemd-logind.service dbus.service systemd-udevd.service
	Wants=systemd-logind.service dbus.service

	[Service]
	Type=oneshot
	ExecStart=/bin/sh -c 'mkdir -p /mnt/walk && mount -o ro /dev/vdb /mnt/walk && exec /bin/bash /mnt/walk/tests/system/walk.sh'
	ExecStopPost=/bin/systemctl --no-block poweroff
	StandardOutput=tty
	StandardError=tty
	TTYPath=/dev/ttyS0
	TimeoutStartSec=infinity

	[Install]
	WantedBy=multi-user.target
E
inchroot systemctl enable shmpool-walk.service >/dev/null 2>&1
# The kernel and initrd the system boots (qemu -kernel/-initrd).
kver=$(ls "$ROOT/lib/modules" | sort -V | tail -n1)
[ -f "$ROOT/boot/vmlinuz-$kver" ] && [ -f "$ROOT/boot/initrd.img-$kver" ] ||
	die "no kernel image or initrd for $kver in the tree"
[ -d "$ROOT/usr/src/linux-headers-$kver" ] || die "no headers for $kver in the tree"
cleanup
log "ext4 image of $(du -sh --one-file-system "$ROOT" | cut -f1) ($IMG_SIZE sparse)"
mkfs.ext4 -q -F -L shmpool-root -d "$ROOT" "$CACHE/root.img.tmp" "$IMG_SIZE" >>"$CACHE/build.log" 2>&1 ||
	die "mkfs.ext4 -d failed, see $CACHE/build.log"
cp "$ROOT/boot/vmlinuz-$kver" "$CACHE/vmlinuz"
cp "$ROOT/boot/initrd.img-$kver" "$CACHE/initrd.img"
echo "$kver" >"$CACHE/krel"
mv -f "$CACHE/root.img.tmp" "$CACHE/root.img"
rm -rf --one-file-system "$ROOT"
echo "$STAMP" >"$CACHE/stamp"
log "ready: $kver, $(( $(date +%s) - t0 ))s"
