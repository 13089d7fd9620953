#!/usr/bin/env bash
# Checks vm_first_available (tests/vm/lib.sh), which picks the kernel image
# package kernels.sh downloads, against a stub apt-cache that answers as
# Debian's did: a name with a candidate ("Package:" and "Version:"), a name
# only referenced by another package ("Package:" and "Versions:" empty,
# exit 0: bookworm-security's signed 6.1.0-57 image before it was built),
# a virtual name (a provider's record under another name), and an unknown
# name (exit 100).  pipefail is on, as in kernels.sh: a
# check that let apt-cache die of SIGPIPE took linux-kbuild-6.12 (virtual,
# no .deb) over linux-kbuild-6.12.117+deb12 there.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=${VM_LIB:-$HERE/lib.sh}
. "$LIB"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/apt-cache" <<'STUB'
#!/bin/sh
# apt-cache show --no-all-versions NAME
name=$3
case $name in
*-signed-ok|*-unsigned|linux-binary-unsigned-*)
	# As apt-cache does: the Version line, then much more (a reader that
	# leaves early makes this writer die of SIGPIPE).
	printf 'Package: %s\nVersion: 6.1.192-3\nArchitecture: amd64\n' "$name"
	yes 'Description: a line of the long description' | head -n 20000 ;;
*-virtual)
	# A virtual name: apt-cache shows a provider's record.
	printf 'Package: %s-1.2\nVersion: 1.2-1\n\n' "$name" ;;
*-referenced)
	printf 'Package: %s\nVersions: \n\nReverse Depends: \n  x-unsigned,%s\n' "$name" "$name" ;;
*)
	echo "E: No packages found" >&2; exit 100 ;;
esac
STUB
chmod 755 "$T/apt-cache"
PATH=$T:$PATH
fails=0
expect() { # want description args...
	local want=$1 what=$2 got
	shift 2
	got=$(vm_first_available "$@") || got='(none)'
	if [ "$got" = "$want" ]; then
		echo "pkg-pick: ok: $what: $got"
	else
		echo "pkg-pick: FAILED: $what: got $got, want $want"
		fails=$((fails + 1))
	fi
}
wrap() { "$@"; }	# a WRAPPER, as vm_in_trixie is

expect img-signed-ok "a signed image with a candidate is taken first" \
	-- img-signed-ok img-unsigned
expect img-unsigned "a signed image only referenced falls back to -unsigned" \
	-- img-referenced img-unsigned
expect img-unsigned "an unknown signed image falls back to -unsigned" \
	-- img-unknown img-unsigned
expect img-unsigned "a virtual name (a provider's record) is passed over" \
	-- kbuild-virtual img-unsigned
expect '(none)' "nothing installable fails" \
	-- img-referenced img-unknown
expect linux-binary-unsigned-7 "through a wrapper" \
	wrap -- linux-binary-unsigned-7 img-unsigned
expect img-unsigned "through a wrapper, past a referenced name" \
	wrap -- img-referenced img-unsigned

[ "$fails" = 0 ] && { echo "pkg-pick: all checks passed"; exit 0; }
echo "pkg-pick: $fails check(s) failed"
exit 1
