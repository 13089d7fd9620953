#!/usr/bin/env bash
# Run groups of make targets side by side ("lanes"), each lane in its own
# build directory so that no two makes ever write the same file.  Used by
# `make test`: the host suites and the VM rounds each keep about one core
# busy, so two lanes take about half the wall time of one.
#
#   scripts/test-lanes.sh "NAME:BUILD:TARGET [TARGET...]" ...
#
# Every line a lane prints is shown prefixed with "[NAME] " as it comes and
# kept in BUILD/test-lanes/NAME.log.  All lanes run to the end; the exit
# status is 0 only if every lane passed.  The summary names each lane's
# status and wall time, and repeats the tail of a failed lane's log.
#
# Environment: MAKE (default make), SHMPOOL_LANES_SERIAL=1 runs the lanes
# one after the other (same output, for a machine with one core).
set -uo pipefail

MAKE=${MAKE:-make}
[ $# -gt 0 ] || { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2; }

NAMES=() BUILDS=() TARGETS=()
for spec in "$@"; do
	IFS=: read -r name build targets <<<"$spec"
	if ! [[ $name =~ ^[a-z][a-z0-9-]*$ ]] || [ -z "$build" ] || [ -z "$targets" ]; then
		echo "test-lanes: bad lane '$spec' (want 'NAME:BUILD:TARGET [TARGET...]')" >&2
		exit 2
	fi
	NAMES+=("$name") BUILDS+=("$build") TARGETS+=("$targets")
done

run_lane() { # index
	local i=$1 log rc start
	log=${BUILDS[i]}/test-lanes/${NAMES[i]}.log
	mkdir -p "${log%/*}"
	rm -f "${log%.log}.status"
	start=$(date +%s)
	# shellcheck disable=SC2086  # TARGETS[i] is a word list on purpose
	$MAKE --no-print-directory BUILD="${BUILDS[i]}" ${TARGETS[i]} 2>&1 |
		tee "$log" | sed -u "s/^/[${NAMES[i]}] /"
	rc=${PIPESTATUS[0]}
	echo "$rc $(($(date +%s) - start))" >"${log%.log}.status"
	return "$rc"
}

PIDS=()
for i in "${!NAMES[@]}"; do
	echo "test-lanes: [${NAMES[i]}] BUILD=${BUILDS[i]}: ${TARGETS[i]}"
	if [ "${SHMPOOL_LANES_SERIAL:-0}" = 1 ]; then
		run_lane "$i"
	else
		run_lane "$i" &
		PIDS+=($!)
	fi
done
for p in "${PIDS[@]}"; do wait "$p"; done

fail=0
echo "test-lanes: summary"
for i in "${!NAMES[@]}"; do
	st=${BUILDS[i]}/test-lanes/${NAMES[i]}.status
	read -r rc secs <"$st" 2>/dev/null || { rc=255 secs='?'; }
	if [ "$rc" = 0 ]; then
		printf 'test-lanes:   %-6s PASS  %s s  (%s)\n' "${NAMES[i]}" "$secs" "${TARGETS[i]}"
	else
		fail=1
		printf 'test-lanes:   %-6s FAIL  exit %s after %s s  (%s); last lines of %s:\n' \
			"${NAMES[i]}" "$rc" "$secs" "${TARGETS[i]}" "${BUILDS[i]}/test-lanes/${NAMES[i]}.log"
		tail -n 40 "${BUILDS[i]}/test-lanes/${NAMES[i]}.log" | sed 's/^/    /'
	fi
done
exit "$fail"
