# SPDX-License-Identifier: ISC
# Shared set-up for the tests against real peers (dovecot.bats, ipv6.bats,
# migration.bats): servers with any tcpserver options, Debian's IPv6
# ucspi-tcp (unpacked by tests/install-deps), and system users for the real
# checkpassword programs. Load after helpers/common.
# shellcheck shell=bash

# Debian's ucspi-tcp-ipv6, unpacked beside the tests (it conflicts with
# ucspi-tcp, so it is never installed).
V6BIN=$TOP/tests/.ucspi-tcp-ipv6/usr/bin

# need_v6: the IPv6 ucspi-tcp must be there; missing, the test fails.
need_v6() {
	local p
	for p in tcpserver tcpclient tcprulescheck tcprules; do
		[ -x "$V6BIN/$p" ] ||
			fail "missing $V6BIN/$p (Debian's ucspi-tcp-ipv6): run tests/install-deps"
	done
}

# need_cmd CMD...: each must be on PATH; missing, the test fails (CI runs
# tests/install-deps first, so a missing program is a failure, not a skip).
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null ||
			fail "missing $c: run tests/install-deps"
	done
}

# wait_listen HOST PORT: until something accepts on HOST PORT (HOST may be
# an IPv6 literal), 5 seconds at most.
wait_listen() {
	for _ in $(seq 1 100); do
		if (exec 2>/dev/null; : </dev/tcp/"$1"/"$2"); then
			return 0
		fi
		sleep 0.05
	done
	echo "nothing listens on $1 port $2" >&2
	return 1
}

# serve VAR HOST PORT LOG COMMAND...: runs COMMAND (a tcpserver with its
# options, host and port) in the background, its standard error appended to
# LOG, and on fd 5 too (for ROAM_LOG_FD=5); its PID goes in PIDS (stopped
# by common_teardown) and in VAR. Waits until HOST PORT accepts connections.
serve() {
	local var=$1 host=$2 port=$3 log=$4
	shift 4
	# fd 3 is bats' own: a server holding it would stall the run.
	"$@" 2>>"$log" 3>&- 5>&2 &
	PIDS+=($!)
	printf -v "$var" '%s' "$!"
	wait_listen "$host" "$port"
}

# stop_pid PID: SIGTERM, then waits up to 10 seconds for it to be gone, then
# SIGKILL. Works for processes that are not our children too.
stop_pid() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "PID $pid ignored SIGTERM for 10 s: killing it" >&2
		kill -9 "$pid" 2>/dev/null || :
	fi
	wait "$pid" 2>/dev/null || :
}

# pop_via TCPCLIENT SRCIP HOST PORT USER PASS: one POP3 login from SRCIP by
# TCPCLIENT, through tcp-pop-login; prints the dialogue. 10 seconds at most.
pop_via() {
	local client=$1 src=$2 host=$3 port=$4
	shift 4
	timeout 10 "$client" -R -H -i "$src" "$host" "$port" \
		"$HELPERS/tcp-pop-login" "$@"
}

# probe_via TCPCLIENT SRCIP HOST PORT: what an SMTP-side tcpserver -x running
# probe-env says for a client from SRCIP; nothing if it refused.
probe_via() {
	timeout 10 "$1" -R -H -i "$2" "$3" "$4" sh -c 'cat <&6'
}

# System users for the real checkpassword programs, one per run: named
# PREFIX<PID of the run>, with a marker in the GECOS field, so that
# concurrent runs never share one and one left by a killed run (its PID gone)
# is removed by the next; no one else's account is ever touched.
TEST_USER_GECOS='checkpw-roam test user, removed after the test'

# test_user_add PREFIX HOME: makes the system user PREFIX$$ (no login shell,
# home HOME) and prints its name; first removes the test users of PREFIX
# whose run is gone.
test_user_add() {
	local prefix=$1 home=$2 name entry owner
	while IFS=: read -r name _ _ _ entry _; do
		[ "$entry" = "$TEST_USER_GECOS" ] || continue
		owner=${name#"$prefix"}
		case $owner in '' | *[!0-9]*) continue ;; esac
		kill -0 "$owner" 2>/dev/null || userdel "$name" >&2 || :
	done < <(getent passwd)
	name=$prefix$$
	useradd --system --user-group --no-create-home --home-dir "$home" \
		--shell /usr/sbin/nologin --comment "$TEST_USER_GECOS" "$name" >&2 ||
		return 1
	echo "$name"
}

# test_user_del NAME: removes NAME if it is one of these test users.
test_user_del() {
	local entry
	[ -n "$1" ] || return 0
	entry=$(getent passwd "$1") || return 0
	[ "$(cut -d: -f5 <<<"$entry")" = "$TEST_USER_GECOS" ] || return 0
	userdel "$1"
}

# open_tmpdirs: lets unprivileged users (a session, a Dovecot process) reach
# bats' temporary directories, as common_setup does for the test's own.
open_tmpdirs() {
	chmod 755 "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/file" \
		"${BATS_FILE_TMPDIR:-/nonexistent}" 2>/dev/null || :
}
