# SPDX-License-Identifier: ISC
# Shared set-up for the bats files: a fresh ROAM_DIR, the built binaries,
# and helpers that drive them as qmail-popup and tcpserver do.
# shellcheck shell=bash

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
HELPERS=$TOP/tests/helpers
# BIN_DIR: where the programs under test are (make asan sets build-asan).
BIN_DIR=${BIN_DIR:-$TOP}
CHECKPW_ROAM=$BIN_DIR/checkpw-roam
CLEAROPENSMTP=$BIN_DIR/clearopensmtp
FAKE_CHECKPW=$HELPERS/fake-checkpassword
# Built by make check (tests/helpers/killwhen.c).
KILLWHEN=$HELPERS/killwhen
# update_merge, as roamsync calls it (tests/helpers/merge.c).
MERGE=$HELPERS/merge

load_libs() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load '/usr/lib/bats/bats-file/load'
}

common_setup() {
	load_libs
	# The session runs as nobody when the tests run as root: let it reach
	# the test's files, and give it SCRATCH to write in.
	chmod 755 "$BATS_RUN_TMPDIR" "$BATS_RUN_TMPDIR/test" "$BATS_TEST_TMPDIR" 2>/dev/null || :
	SCRATCH=$BATS_TEST_TMPDIR/scratch
	mkdir -p "$SCRATCH"
	chmod 1777 "$SCRATCH"
	ROAM_DIR=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/roam.XXXXXX")
	chmod 755 "$ROAM_DIR"
	export ROAM_DIR
	unset TCPREMOTEIP TCP6REMOTEIP AUTHORIZED CREDENTIALS_LOOKUP SERVICE \
		ROAM_RELAY_ENV ROAM_WAIT_MS ROAM_MINUTES ROAM_LOG_FD CHECKPW_ROAM_CHANNEL
	PIDS=()
}

common_teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		# A stopped process takes the signal once it is continued.
		kill -CONT "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# login IP [PASSWORD [PROG...]]: one POP3 login through the chain, with
# the credentials on fd 3 as qmail-popup passes them. The session program
# defaults to printing "session ok". Sets $status and $output (bats run).
login() {
	local ip=$1 pass=${2:-good}
	shift 2 2>/dev/null || shift $#
	[ $# -gt 0 ] || set -- sh -c 'echo session ok'
	run env TCPREMOTEIP="$ip" "$CHECKPW_ROAM" "$FAKE_CHECKPW" "$@" \
		3< <(printf 'user\0%s\0<1.2@host>\0' "$pass")
}

# decision IP: what tcpserver -x would do for a client at IP, by the real
# tcprulescheck against tcp.smtp.cdb.
decision() {
	TCPREMOTEIP=$1 tcprulescheck "$ROAM_DIR/tcp.smtp.cdb"
}

# relay_open IP: succeeds when the cdb sets RELAYCLIENT for IP.
relay_open() {
	decision "$1" | grep -q '^set environment variable RELAYCLIENT='
}

# list_ips: the addresses in open-smtp, one per line.
list_ips() {
	[ -f "$ROAM_DIR/open-smtp" ] || return 0
	cut -f1 "$ROAM_DIR/open-smtp" | sed 's/:\(allow\|deny\).*//'
}

# list_ts IP: the timestamp recorded for IP.
list_ts() {
	awk -F '\t' -v ip="$1" 'index($1, ip ":") == 1 { print $2 }' \
		"$ROAM_DIR/open-smtp"
}

# tcprules_of FILE...: the cdb real tcprules makes of the files' lines
# (each file's lines cut at the first TAB), written to $BATS_TEST_TMPDIR/ref.cdb.
tcprules_of() {
	cat "$@" | cut -f1 |
		tcprules "$BATS_TEST_TMPDIR/ref.cdb" "$BATS_TEST_TMPDIR/ref.tmp"
}

inode() {
	stat -c %i "$1"
}

# free_port: a loopback TCP port no one listens on now.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 2>/dev/null; : </dev/tcp/127.0.0.1/"$p"); then
			echo "$p"
			return 0
		fi
	done
}

# start_server VAR HOST PORT PROG...: tcpserver in the background; its PID
# goes in PIDS (stopped by common_teardown) and in VAR. Waits until ready.
start_server() {
	local var=$1 host=$2 port=$3 i
	shift 3
	# fd 3 is bats' own: a server holding it would stall the run. fd 5 is
	# the log as well, for ROAM_LOG_FD=5 (mini-popup, like qmail-popup,
	# gives the chain the client's connection as fd 2).
	tcpserver -R -H "$host" "$port" "$@" 2>>"$BATS_TEST_TMPDIR/server.log" 3>&- 5>&2 &
	PIDS+=($!)
	printf -v "$var" '%s' "$!"
	for i in $(seq 1 100); do
		if (exec 2>/dev/null; : </dev/tcp/"$host"/"$port"); then
			return 0
		fi
		sleep 0.05
	done
	echo "server on $host:$port did not start" >&2
	return 1
}

# smtp_probe SRCIP PORT: connects from SRCIP to an SMTP-side tcpserver -x
# started with probe_env as its program, and prints what it set.
smtp_probe() {
	timeout 10 tcpclient -i "$1" -R -H 127.0.0.1 "$2" sh -c 'cat <&6'
}

# roam_pids [IP]: the checkpw-roam processes at work in this test's
# ROAM_DIR (for a login from IP, if given), one pid a line. Once a login
# has ended, those left are recorders.
roam_pids() {
	local p env
	for p in $(pgrep -x checkpw-roam); do
		{ mapfile -d '' env <"/proc/$p/environ"; } 2>/dev/null || continue
		[[ " ${env[*]} " == *" ROAM_DIR=$ROAM_DIR "* ]] || continue
		if [ -n "${1:-}" ]; then
			[[ " ${env[*]} " == *" TCPREMOTEIP=$1 "* ]] || continue
		fi
		echo "$p"
	done
}

# recorder_of IP: the pid of the recorder working for a login from IP: one
# of those that leads its own session (it has run setsid).
recorder_of() {
	local p st
	for p in $(roam_pids "$1"); do
		{ read -r -a st <"/proc/$p/stat"; } 2>/dev/null || continue
		if [ "${st[5]}" = "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_recorders [IP]: waits, 10 s at most, until roam_pids finds none. A
# login from an address open already goes on before its recorder has
# refreshed it (checkpw-roam(8)); every recorder is forked before its
# login goes on, so once a login has ended and this returns, its
# recording is done.
wait_recorders() {
	local i
	for i in $(seq 1 200); do
		[ -z "$(roam_pids "${1:-}")" ] && return 0
		sleep 0.05
	done
	echo "recorders still running after 10 s: $(pgrep -ax checkpw-roam)"
	return 1
}

wait_for_recorder() {
	local i
	for i in $(seq 1 200); do
		RECORDER=$(recorder_of "$1") && return 0
		sleep 0.1
	done
	return 1
}

# age_in_place IP EPOCH: writes EPOCH (as many digits as the old time) as
# IP's timestamp in open-smtp, in place, as an editor that saves in place
# would: the file keeps its inode and size, so its index stays valid.
age_in_place() {
	python3 - "$ROAM_DIR/open-smtp" "$1" "$2" <<'PY'
import os, sys
path, ip, ts = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
data = open(path, 'rb').read()
off = 0
for line in data.split(b'\n'):
    tab = line.find(b'\t')
    if line.startswith(ip + b':') and tab > 0:
        assert len(line) - tab - 1 == len(ts), 'digit count differs'
        fd = os.open(path, os.O_WRONLY)
        os.pwrite(fd, ts, off + tab + 1)
        os.close(fd)
        sys.exit(0)
    off += len(line) + 1
sys.exit('no line for ' + sys.argv[2])
PY
}
