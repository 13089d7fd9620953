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
# status, wall time and CPU time (user + system of everything the lane ran,
# qemu included: on a shared machine the CPU time is the steadier figure),
# and repeats the tail of a failed lane's log.
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

# Set VAR to the CPU seconds (user + system) of this shell's waited-for
# children, from bash's `times` (its second line: "0m1.500s 0m0.250s").
# `times` must run in this shell, not in a subshell (a fork starts from
# zero): FILE holds its output.
children_cpu() { # VAR FILE
	local self children
	times >"$2"
	{ read -r self; read -r children; } <"$2"
	printf -v "$1" '%s' "$(awk -v t="$children" 'BEGIN {
		n = split(t, f, " "); s = 0
		for (i = 1; i <= n; i++) { split(f[i], p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
		printf "%d\n", s + 0.5 }')"
}

run_lane() { # index
	local i=$1 log rc start cpu0 cpu1
	log=${BUILDS[i]}/test-lanes/${NAMES[i]}.log
	mkdir -p "${log%/*}"
	rm -f "${log%.log}.status"
	start=$(date +%s)
	children_cpu cpu0 "${log%.log}.times"
	# shellcheck disable=SC2086  # TARGETS[i] is a word list on purpose
	$MAKE --no-print-directory BUILD="${BUILDS[i]}" ${TARGETS[i]} 2>&1 |
		tee "$log" | sed -u "s/^/[${NAMES[i]}] /"
	rc=${PIPESTATUS[0]}
	children_cpu cpu1 "${log%.log}.times"
	echo "$rc $(($(date +%s) - start)) $((cpu1 - cpu0))" >"${log%.log}.status"
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
	read -r rc secs cpu <"$st" 2>/dev/null || { rc=255 secs='?' cpu='?'; }
	if [ "$rc" = 0 ]; then
		printf 'test-lanes:   %-6s PASS  %s s, CPU %s s  (%s)\n' "${NAMES[i]}" "$secs" "$cpu" "${TARGETS[i]}"
	else
		fail=1
		printf 'test-lanes:   %-6s FAIL  exit %s after %s s, CPU %s s  (%s); last lines of %s:\n' \
			"${NAMES[i]}" "$rc" "$secs" "$cpu" "${TARGETS[i]}" "${BUILDS[i]}/test-lanes/${NAMES[i]}.log"
		tail -n 40 "${BUILDS[i]}/test-lanes/${NAMES[i]}.log" | sed 's/^/    /'
	fi
done
exit "$fail"
