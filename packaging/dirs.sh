#!/bin/sh
# The directories "make install" creates, so that "make uninstall" removes
# those and only those (never one that was there before).
#
#   packaging/dirs.sh record MANIFEST DIR...   note each DIR (and parent) that
#                                              does not exist yet, before install
#   packaging/dirs.sh remove MANIFEST          after the files are gone: rmdir
#                                              the noted directories that are
#                                              empty, deepest first, then the
#                                              manifest
set -eu
cmd=$1 manifest=$2
shift 2
case $cmd in
record)
	new=$(for d in "$@"; do
		while [ -n "$d" ] && [ "$d" != / ] && [ ! -e "$d" ]; do
			echo "$d"
			d=$(dirname "$d")
		done
	done)
	# A second install keeps what the first one created.
	old=$(cat "$manifest" 2>/dev/null || true)
	mkdir -p "$(dirname "$manifest")"
	printf '%s\n%s\n' "$old" "$new" | sed '/^$/d' | LC_ALL=C sort -u >"$manifest.tmp"
	mv -f "$manifest.tmp" "$manifest"
	;;
remove)
	[ -f "$manifest" ] || exit 0
	dirs=$(LC_ALL=C sort -r "$manifest")
	rm -f "$manifest"
	printf '%s\n' "$dirs" | while IFS= read -r d; do
		[ -z "$d" ] || [ ! -d "$d" ] || rmdir --ignore-fail-on-non-empty "$d"
	done
	;;
*)
	echo "dirs.sh: unknown command '$cmd' (record, remove)" >&2
	exit 2
	;;
esac
exit 0
