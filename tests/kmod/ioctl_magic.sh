#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# No mainline UAPI header may use shmpool's ioctl magic (issue 10 item 8:
# 0xB8 was mainline's MSHV magic, so SHMPOOL_IOC_ATTACH equalled
# MSHV_INITIALIZE_PARTITION).
#
# usage: ioctl_magic.sh [UAPI_ROOT...]
#   Each UAPI_ROOT is a directory holding uapi headers (a kernel headers
#   tree's include/uapi and arch/*/include/uapi).  Without arguments: the
#   7.x headers in the VM bench's kernel cache (tests/vm/kernels.sh 7.x).
#
# Every first argument of _IO/_IOR/_IOW/_IOWR (and _IOC's type argument) in
# those headers is resolved to a number: a literal, a character constant, or
# a macro defined to one of those, followed through up to 8 #defines.  The
# test fails if any resolves to SHMPOOL_IOC_MAGIC, or if the resolver cannot
# find MSHV's magic 0xB8 in headers that have linux/mshv.h (so that a resolver
# that finds nothing cannot pass).
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
hdr=$here/include/uapi/linux/shmpool.h

magic=${SHMPOOL_TEST_MAGIC:-}
[ -n "$magic" ] || magic=$(sed -n 's/^#define[[:space:]]*SHMPOOL_IOC_MAGIC[[:space:]]*\(0x[0-9A-Fa-f]*\).*/\1/p' "$hdr")
[ -n "$magic" ] || { echo "FAIL: no SHMPOOL_IOC_MAGIC in $hdr" >&2; exit 1; }
magic=$(printf "%d" "$magic")

if [ $# -eq 0 ]; then
	cache=${SHMPOOL_CACHE:-/var/cache/shmpool/kernels}
	env=$cache/7.x/kernel.env
	[ -r "$env" ] || { echo "FAIL: no $env (run tests/vm/kernels.sh 7.x)" >&2; exit 1; }
	KDIR=$(sed -n "s/^KDIR=//p" "$env")
	KCHROOT=$(sed -n "s/^KCHROOT=//p" "$env" | tr -d "'")
	root=$KCHROOT$KDIR
	# The -amd64 tree links its include/ to the -common one.
	common=$(echo "$root" | sed 's/-amd64$/-common/')
	set --
	for d in "$root" "$common"; do
		for u in "$d/include/uapi" "$d"/arch/*/include/uapi; do
			[ -d "$u" ] && set -- "$@" "$u"
		done
	done
	[ $# -gt 0 ] || { echo "FAIL: no uapi headers under $root" >&2; exit 1; }
fi

# One awk over every line (prefixed "file:line:"), so that a macro defined in
# one header resolves a use in another.
out=$(find "$@" -name '*.h' -print0 | xargs -0 grep -Hn '' | awk -v want="$magic" '
function num(s,   c) {
	gsub(/^[ \t(]+|[ \t)]+$/, "", s)
	gsub(/[uUlL]+$/, "", s)
	if (s ~ /^0[xX][0-9A-Fa-f]+$/)
		return hex(substr(s, 3))
	if (s ~ /^[0-9]+$/)
		return s + 0
	if (s ~ /^'"'"'.'"'"'$/) {
		c = substr(s, 2, 1)
		return ord[c]
	}
	return ""
}
function hex(h,   i, v) {
	v = 0
	h = tolower(h)
	for (i = 1; i <= length(h); i++)
		v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
BEGIN {
	for (i = 32; i < 127; i++)
		ord[sprintf("%c", i)] = i
}
{
	# Strip the "file:line:" prefix grep -Hn added.
	p = index($0, ":"); q = index(substr($0, p + 1), ":")
	loc = substr($0, 1, p + q - 1)
	$0 = substr($0, p + q + 1)
}
/^[ \t]*#[ \t]*define[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]+[^ \t]/ {
	line = $0
	sub(/^[ \t]*#[ \t]*define[ \t]+/, "", line)
	name = line; sub(/[ \t(].*/, "", name)
	if (substr(line, length(name) + 1, 1) != "(") {
		val = substr(line, length(name) + 1)
		sub(/\/\*.*/, "", val); sub(/\/\/.*/, "", val)
		gsub(/^[ \t]+|[ \t]+$/, "", val)
		if (!(name in def))
			def[name] = val
	}
}
{
	s = $0
	if (s ~ /define[ \t]+_IO/)
		next
	while (match(s, /(^|[^A-Za-z0-9_])_IO(R|W|WR|C)?[ \t]*\(/)) {
		isioc = substr(s, RSTART, RLENGTH) ~ /_IOC/
		s = substr(s, RSTART + RLENGTH)
		n = split(s, parts, ",")
		# _IOC(dir, type, nr, size): the type is the second argument.
		if (isioc) {
			if (n < 2)
				continue
			cand[++nc] = parts[2]
		} else {
			cand[++nc] = parts[1]
		}
		where[nc] = loc
	}
}
END {
	for (i = 1; i <= nc; i++) {
		t = cand[i]
		gsub(/^[ \t(]+|[ \t)]+$/, "", t)
		for (depth = 0; depth < 8 && num(t) == "" && (t in def); depth++) {
			t = def[t]
			gsub(/^[ \t(]+|[ \t)]+$/, "", t)
		}
		v = num(t)
		if (v == "") {
			print "UNRESOLVED " where[i] ": " cand[i]
			continue
		}
		resolved++
		if (v == want)
			print "HIT " where[i] ": " cand[i]
		if (v == 184 && where[i] ~ /\/linux\/mshv\.h:/)
			mshv++
	}
	print "RESOLVED " resolved + 0
	print "MSHV " mshv + 0
}')

resolved=$(echo "$out" | sed -n 's/^RESOLVED //p')
mshv=$(echo "$out" | sed -n 's/^MSHV //p')
hits=$(echo "$out" | grep '^HIT ' || true)
unresolved=$(echo "$out" | grep -c "^UNRESOLVED " || true)
[ -z "${SHMPOOL_TEST_VERBOSE:-}" ] || echo "$out" | grep "^UNRESOLVED " >&2
have_mshv=$(find "$@" -path '*/linux/mshv.h' | head -n 1)

printf "ioctl magic 0x%02X: %s ioctl definitions resolved, %s not (SHMPOOL_TEST_VERBOSE=1 lists them), in %d uapi trees under %s\n" \
	"$magic" "$resolved" "$unresolved" $# "$1"
if [ -n "$have_mshv" ] && [ "$mshv" -eq 0 ]; then
	echo "FAIL: the resolver did not find MSHV's magic 0xB8 in $have_mshv" >&2
	exit 1
fi
if [ -n "$hits" ]; then
	echo "FAIL: mainline UAPI headers use shmpool's magic 0x$(printf '%02X' "$magic"):" >&2
	echo "$hits" >&2
	exit 1
fi
echo "PASS: no mainline UAPI header uses 0x$(printf '%02X' "$magic")"
