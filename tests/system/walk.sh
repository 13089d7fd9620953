#!/bin/bash
# Runs inside the booted system (shmpool-walk.service, as root, output on the
# serial console): walks README's "Installation for real use" as an admin
# with sudo and as the game-server user, each in a logind session (su -l),
# then the claims README makes there.  Prints SYSTEM-PASS / SYSTEM-FAIL
# lines and "SYSTEM-DONE: N passed, M failed"; tests/system/run.sh judges.
#
# The command blocks come from README.md itself: an indented block after a
# "<!-- system-test: NAME as USER -->" marker, run line by line in one shell
# in the user's checkout (admin) or home (gameserver).  A line whose comment
# says "(exit N)" must exit with N; every other line must succeed.
set -u
SRC=/mnt/walk
README=$SRC/README.md
CHECKOUT=/home/admin/shmpool
pass=0 fail=0
WALK_T0=$(date +%s)
# Seconds since the walk began, for the "[+Ns]" stamps: the log shows where
# the time goes (under TCG mostly make and the DKMS build).
since() { echo "+$(($(date +%s) - WALK_T0))s"; }
ok() { echo "SYSTEM-PASS: $*"; pass=$((pass + 1)); }
bad() { echo "SYSTEM-FAIL: $*"; fail=$((fail + 1)); }
check() { # description command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
	echo "SYSTEM-DONE: $pass passed, $fail failed, walk $(($(date +%s) - WALK_T0)) s"
	sync
	exit 0
}

echo "SYSTEM-BEGIN: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), PID 1 $(cat /proc/1/comm)"
[ "$(cat /proc/1/comm)" = systemd ] && ok "systemd is PID 1" || bad "PID 1 is $(cat /proc/1/comm), not systemd"
systemctl is-active --quiet systemd-logind && ok "systemd-logind is running" || bad "systemd-logind is not running"
systemctl is-active --quiet systemd-udevd && ok "systemd-udevd is running" || bad "systemd-udevd is not running"

# The marked blocks of README, in order, as "NAME USER" lines.
blocks=$(sed -n 's/^<!-- system-test: \([a-z0-9-]*\) as \([a-z]*\) -->$/\1 \2/p' "$README")
[ -n "$blocks" ] || { bad "no <!-- system-test: --> blocks in README.md"; finish; }

# One block's commands: the indented lines after its marker (a blank line
# may come first), up to the first line that is neither indented nor blank
# after the block started.
block_lines() { # name
	awk -v want="<!-- system-test: $1 as " '
		index($0, want) == 1 { on = 1; seen = 0; next }
		on && /^    / { seen = 1; sub(/^    /, ""); print; next }
		on && /^[ \t]*$/ { if (seen) exit; next }
		on { exit }' "$README"
}

# A script that runs each line, echoes it first, and stops at the first line
# whose exit status is not the one README gives ("(exit N)", else 0).
block_script() { # name
	local line want q
	echo 'set -u'
	echo 'exec 2>&1'
	while IFS= read -r line; do
		want=0
		if [[ $line =~ \(exit\ ([0-9]+)\)[^#]*$ ]]; then want=${BASH_REMATCH[1]}; fi
		printf -v q '%q' "$line"
		echo "echo \"[+\$((\$(date +%s) - $WALK_T0))s] \$ \"$q"
		echo "$line"
		echo "rc=\$?; if [ \$rc -ne $want ]; then echo \"WALK-LINE-FAILED: exit \$rc, README expects $want: \"$q; exit 1; fi"
	done < <(block_lines "$1")
}

# Run a block as its user, in a login session of that user (su -l opens one
# through pam_systemd), from the checkout (admin) or the home directory.
OUT=/root/walk-out
mkdir -p "$OUT"
run_block() { # name user
	local name=$1 user=$2 dir script=/tmp/walk-$1.sh
	case $user in
	admin) dir=$CHECKOUT ;;
	*) dir=/home/$user ;;
	esac
	block_script "$name" >"$script"
	chmod 0755 "$script"
	echo "== [$(since)] README block '$name' as $user"
	su -l "$user" -c "cd $dir && bash $script" 2>&1 | tee "$OUT/$name.log" | sed 's/^/    /'
	[ "${PIPESTATUS[0]}" -eq 0 ]
}

# What the file system holds before install, to check that uninstall leaves
# nothing (files and directories).  Home directories, logs, caches and
# run-time state are not the install's.
snapshot() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
		-o -path /home -o -path /root -o -path /var/log -o -path /var/tmp -o -path /var/cache \
		-o -path /var/lib/systemd -o -path /var/lib/dpkg -o -path /mnt -o -path /var/lib/sudo \) -prune \
		-o -print | LC_ALL=C sort
}
snapshot >/root/fs-before

# Valid JSON on stdin (perl's JSON::PP: build-essential brings perl).
JSON_OK="perl -MJSON::PP -e 'local \$/; decode_json(<STDIN>)' 2>/dev/null"

# README: "auto ... falls back to POSIX with a warning at the default log
# level".  After the install, before the module is loaded.
claim_auto_fallback() {
	local out
	out=$(su -l gameserver -c 'cp /usr/local/share/doc/shmpool/examples/memorypool.ini auto.ini &&
		cc $(pkg-config --cflags libshmdev) -o player-auto /usr/local/share/doc/shmpool/examples/player.c $(pkg-config --libs libshmdev) &&
		SHMDEV_BACKEND=auto ./player-auto -c auto.ini 0; rc=$?;
		SHMDEV_BACKEND=posix shmpoolctl rm --all --yes >/dev/null; rm -f auto.ini player-auto; exit $rc' 2>&1)
	echo "$out" | sed 's/^/    /'
	check "Backend auto without the module: the fallback warning at the default level" \
		sh -c 'echo "$1" | grep -q "Backend auto: using the POSIX fallback (/dev/shm), not the device: /dev/shmpool: No such file or directory (module not loaded?)"' _ "$out"
	check "Backend auto without the module: the pool works on POSIX" \
		sh -c 'echo "$1" | grep -q "player 42: new (cold start), level 1"' _ "$out"
}

# A user who is not in the group: the message names the group, nothing
# else is printed, --json stays valid and does not claim an empty list.
claim_non_member() {
	local out err rc
	local ini=/usr/local/share/doc/shmpool/examples/memorypool.ini
	for c in "list" "stat 1001010000" "pool show --conf $ini --process zone" \
		"list --json" "stat --json 1001010000" "pool show --conf $ini --process zone --json" "status"; do
		rc=0
		out=$(su -l admin -c "shmpoolctl $c" 2>/tmp/nm.err) || rc=$?
		err=$(cat /tmp/nm.err)
		echo "    admin (not in shmpool)\$ shmpoolctl $c -> exit $rc, stdout '$out', stderr '$err'"
		case $c in
		status)
			check "shmpoolctl status as a non-member names the group" \
				sh -c 'echo "$1$2" | grep -q "group shmpool\|group \"shmpool\""' _ "$out" "$err" ;;
		*--json*)
			check "shmpoolctl $c as a non-member: exit 1, valid JSON with the error, no regions claimed" \
				sh -c '[ "$1" = 1 ] && echo "$2" | eval "$3" && echo "$2" | grep -q "\"error\"" && ! echo "$2" | grep -q "\"regions\"" ' _ "$rc" "$out" "$JSON_OK" ;;
		*)
			check "shmpoolctl $c as a non-member: exit 1, only a message naming the group" \
				sh -c '[ "$1" = 1 ] && [ -z "$2" ] && echo "$3" | grep -q "group \"shmpool\"" && [ "$(echo "$3" | wc -l)" = 1 ]' _ "$rc" "$out" "$err" ;;
		esac
	done
}

# README: logind's RemoveIPC deletes SysV and POSIX objects at logout, not
# shmpool regions.  In a real session: a SysV segment, a POSIX object, and a
# running owner of the pool; then loginctl terminate-user.
#
# The session stays open while the owner runs (su waits for it), as a
# server started from an ssh login does.  A session whose su already
# returned is closed: logind forgets it, its scope lives on abandoned with
# the owner in it, and terminate-user neither kills the owner nor lets the
# user go (seen on bookworm: the owner kept its lease, no RemoveIPC ran).
claim_removeipc() {
	local i out su_pid
	rm -f /home/gameserver/player-ipc.log
	su -l gameserver -c 'ipcmk -M 4096 >/dev/null && echo data >/dev/shm/walk-posix &&
		echo "session $XDG_SESSION_ID" >player-ipc.log && exec ./player >>player-ipc.log 2>&1' &
	su_pid=$!
	for i in $(seq 60); do grep -q 'player 42' /home/gameserver/player-ipc.log 2>/dev/null && break; sleep 1; done
	sed 's/^/    /' /home/gameserver/player-ipc.log
	check "RemoveIPC: a SysV segment, a POSIX object and a running owner in a logind session" \
		sh -c '[ -n "$(ipcs -m | awk "\$3 == \"gameserver\"")" ] && [ -e /dev/shm/walk-posix ] &&
			pgrep -u gameserver -x player >/dev/null && loginctl show-user gameserver >/dev/null'
	grep -qx 'RemoveIPC=no' /etc/systemd/logind.conf && bad "RemoveIPC=no in logind.conf"
	loginctl terminate-user gameserver
	for i in $(seq 60); do loginctl show-user gameserver >/dev/null 2>&1 || break; sleep 1; done
	wait "$su_pid" 2>/dev/null || true
	sed -n 's/^player 42: .*clean exit$/    &/p' /home/gameserver/player-ipc.log
	check "RemoveIPC: after loginctl terminate-user the user is gone" \
		sh -c '! loginctl show-user gameserver >/dev/null 2>&1 && ! pgrep -u gameserver >/dev/null'
	check "RemoveIPC: the SysV segment and the POSIX object are gone" \
		sh -c '[ -z "$(ipcs -m | awk "\$3 == \"gameserver\"")" ] && [ ! -e /dev/shm/walk-posix ]'
	out=$(su -l gameserver -c './player 0' 2>&1)
	echo "    $out"
	# The level the owner had at its start, and the one the next start sees.
	local l0 l1
	l0=$(sed -n 's/^player 42: .*level \([0-9]*\)$/\1/p' /home/gameserver/player-ipc.log | head -n1)
	l1=$(echo "$out" | sed -n 's/^player 42: resumed.*level \([0-9]*\)$/\1/p' | head -n1)
	check "RemoveIPC: the shmpool pool resumes with its data (level ${l0:-?} at the owner's start, ${l1:-?} after)" \
		sh -c '[ -n "$1" ] && [ -n "$2" ] && [ "$2" -gt "$1" ]' _ "$l0" "$l1"
}

# make dkms-uninstall and make uninstall leave nothing, directories included.
claim_nothing_left() {
	snapshot >/root/fs-after
	# DKMS's signing key (README, Secure Boot) is DKMS's, enrolled in the
	# firmware on a Secure Boot host: kept on purpose.
	sed -i '/^\/var\/lib\/dkms\/mok\.\(key\|pub\)$/d' /root/fs-after
	echo "    file system before install vs after uninstall:"
	diff /root/fs-before /root/fs-after | sed 's/^/    /'
	check "uninstall left nothing behind (files and directories)" cmp -s /root/fs-before /root/fs-after
}

# The admin's checkout (a copy of the tree under test).
mkdir -p "$CHECKOUT"
cp -a "$SRC/." "$CHECKOUT/"
chown -R admin:admin "$CHECKOUT"

for b in $(echo "$blocks" | tr ' ' ':'); do
	name=${b%%:*} user=${b#*:}
	if run_block "$name" "$user"; then
		ok "README block '$name' as $user"
	else
		# The blocks build on each other, but the rest still tells more.
		bad "README block '$name' as $user (see the lines above)"
	fi
	# What each block must have achieved, beyond every line succeeding.
	case $name in
	group)
		check "group shmpool exists and gameserver is in it" \
			sh -c 'getent group shmpool | grep -q "[:,]gameserver\(,\|$\)"' ;;
	install)
		check "shmpoolctl, libshmdev.pc, the udev rule and the samples are installed" \
			test -x /usr/local/bin/shmpoolctl -a -f /usr/local/lib/pkgconfig/libshmdev.pc \
			-a -f /lib/udev/rules.d/60-shmpool.rules -a -f /usr/local/share/doc/shmpool/examples/player.c ;;
	dkms)
		check "dkms status: shmpool installed for $(uname -r)" \
			sh -c "dkms status -m shmpool | grep -q '$(uname -r).*installed'"
		check "the DKMS signing key README tells to enroll for Secure Boot exists (/var/lib/dkms/mok.pub)" \
			test -f /var/lib/dkms/mok.pub ;;
	load)
		check "/dev/shmpool is group shmpool, mode 0660" \
			sh -c '[ "$(stat -c "%G %a" /dev/shmpool)" = "shmpool 660" ]'
		check "max_regions from /etc/modprobe.d/shmpool.conf is in force (8192)" \
			sh -c '[ "$(cat /sys/module/shmpool/parameters/max_regions)" = 8192 ]'
		check "the load with max_regions=8192 took effect" \
			grep -qx 8192 "$OUT/load.log" ;;
	example)
		check "first run: a cold start" grep -q 'player 42: new (cold start), level 1' "$OUT/example.log"
		check "after kill -9: resumed after a crash, the repair visible at the default log level" \
			grep -q 'player 42: resumed after a crash (1 object repaired' "$OUT/example.log"
		check "after a clean exit: resumed clean" grep -q 'player 42: resumed after a clean exit' "$OUT/example.log" ;;
	inspect)
		for j in "list --json" "stat --json 1001010000" "pool show --conf memorypool.ini --process zone --json"; do
			check "shmpoolctl $j prints valid JSON" \
				su -l gameserver -c "shmpoolctl $j | $JSON_OK"
		done
		check "pool check passes and the data survived dump/restore" \
			grep -q 'resumed after a clean exit, level' "$OUT/inspect.log"
		check "man shmpoolctl shows the page" grep -q 'SYNOPSIS\|shmpoolctl - ' "$OUT/inspect.log" ;;
	esac
	case $name in
	dkms) claim_auto_fallback ;;
	load) claim_non_member ;;
	inspect) claim_removeipc ;;
	remove) claim_nothing_left ;;
	esac
done
echo "== [$(since)] walk done; kernel log"
dmesg
finish
