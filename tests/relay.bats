#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# End to end on loopback, with the real ucspi-tcp programs: POP3 logins go
# through tcpserver, mini-popup (for qmail-popup), checkpw-roam and a fake
# checkpassword; the SMTP side is tcpserver -x on tcp.smtp.cdb with probe-env
# in place of qmail-smtpd. Each client connects from its own address in
# 127.0.0.0/8 (tcpclient -i), as roaming users come from their own IPs.

load helpers/common

# The static rules every test starts from: 127.0.0.1 relays, 127.0.0.25 is
# refused outright, everyone else may connect without relaying.
write_tcp_smtp() {
	printf '%s\n' '# static rules' '127.0.0.1:allow,RELAYCLIENT=""' \
		'127.0.0.25:deny' ':allow' >"$ROAM_DIR/tcp.smtp"
}

# start_smtp VAR PORT: the SMTP side, as a qmail site runs it:
#   tcpserver -v -R -H -x tcp.smtp.cdb 127.0.0.1 PORT probe-env
# Like start_server (the PID goes in PIDS for common_teardown, and in VAR),
# which cannot pass tcpserver options. Its log is $BATS_TEST_TMPDIR/smtp.log.
start_smtp() {
	local var=$1 port=$2 i
	tcpserver -v -R -H -x "$ROAM_DIR/tcp.smtp.cdb" 127.0.0.1 "$port" \
		"$HELPERS/probe-env" 2>>"$BATS_TEST_TMPDIR/smtp.log" 3>&- &
	PIDS+=($!)
	printf -v "$var" '%s' "$!"
	for i in $(seq 1 100); do
		if (exec 2>/dev/null; : </dev/tcp/127.0.0.1/"$port"); then
			return 0
		fi
		sleep 0.05
	done
	echo "SMTP server on 127.0.0.1:$port did not start" >&2
	return 1
}

setup() {
	common_setup
	write_tcp_smtp
	"$CLEAROPENSMTP" -f
	POP_PORT=$(free_port)
	start_server POP_PID 127.0.0.1 "$POP_PORT" env ROAM_LOG_FD=5 \
		"$HELPERS/mini-popup" pop.test "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo "+OK session"'
	SMTP_PORT=$(free_port)
	start_smtp SMTP_PID "$SMTP_PORT"
}

teardown() {
	common_teardown
}

# The client side of one POP3 login, run by tcpclient (socket on fds 6 and
# 7): prints the dialogue as "S: ..." and "C: ..." lines, CRs removed, then
# "(connection closed)". $1 is the password. With $2 (a directory) and $3 (a
# tag) it stops after USER, creates $2/ready.$3 and sends PASS only once
# $2/go exists, so that several logins can be released together.
# shellcheck disable=SC2016 # expanded by that sh, not here
POP_CLIENT='
cr=$(printf "\r")
hear() {
	IFS= read -r l <&6 || { echo "(connection closed)"; return 1; }
	echo "S: ${l%"$cr"}"
}
say() { printf "%s\r\n" "$1" >&7; echo "C: $1"; }
hear || exit 1
say "USER alice"
hear || exit 1
if [ -n "${2-}" ]; then
	: >"$2/ready.$3"
	i=0
	while [ ! -e "$2/go" ]; do
		i=$((i + 1))
		[ "$i" -le 200 ] || { echo "(never released)"; exit 1; }
		sleep 0.05
	done
fi
say "PASS $1"
while hear; do :; done
exit 0
'

# pop_login IP [PASSWORD [BARRIER TAG]]: one POP3 login from IP to the POP
# side, 10 seconds at most.
pop_login() {
	local ip=$1 pass=${2:-good}
	shift 2 2>/dev/null || shift $#
	timeout 10 tcpclient -i "$ip" -R -H 127.0.0.1 "$POP_PORT" \
		sh -c "$POP_CLIENT" sh "$pass" "$@"
}

# probe IP: connects from IP to the SMTP side and prints what probe-env
# says (smtp_probe, bounded to 10 seconds). Nothing if tcpserver refused.
probe() {
	timeout 10 tcpclient -i "$1" -R -H 127.0.0.1 "$SMTP_PORT" sh -c 'cat <&6'
}

assert_relay_set() {
	run probe "$1"
	assert_success
	assert_output "RELAYCLIENT set for $1"
}

assert_relay_unset() {
	run probe "$1"
	assert_success
	assert_output "RELAYCLIENT unset for $1"
}

assert_good_login() {
	run pop_login "$1" good
	assert_success
	assert_line --index 0 --regexp '^S: \+OK <[0-9]+\.[0-9]+@pop\.test>$'
	assert_line 'S: +OK session'
	refute_line --partial -- '-ERR'
	# Its standard error is the client's connection, as qmail-popup leaves
	# it: its messages went to ROAM_LOG_FD, the server's log.
	refute_line --partial checkpw-roam
}

# set_ts IP EPOCH: writes EPOCH as IP's timestamp in open-smtp, by hand, as
# if the login had happened then (no writer runs meanwhile).
set_ts() {
	awk -F '\t' -v OFS='\t' -v ip="$1" -v ts="$2" \
		'index($1, ip ":") == 1 { $2 = ts } { print }' \
		"$ROAM_DIR/open-smtp" >"$ROAM_DIR/open-smtp.edit"
	mv "$ROAM_DIR/open-smtp.edit" "$ROAM_DIR/open-smtp"
	[ "$(list_ts "$1")" = "$2" ]
}

@test "a good POP3 login from 127.0.0.21 opens the relay for 127.0.0.21 only" {
	assert_relay_unset 127.0.0.21
	before=$(date +%s)

	assert_good_login 127.0.0.21
	after=$(date +%s)

	# The list line, in vpopmail's format, with the login's time.
	run cat "$ROAM_DIR/open-smtp"
	assert_output --regexp $'^127\\.0\\.0\\.21:allow,RELAYCLIENT="",RBLSMTPD="",ROAMUSER="alice"\t[0-9]+$'
	ts=$(list_ts 127.0.0.21)
	[ "$ts" -ge "$before" ]
	[ "$ts" -le "$after" ]
	grep -qx 'checkpw-roam: info: relay opened for 127.0.0.21 by "alice"' \
		"$BATS_TEST_TMPDIR/server.log"

	run decision 127.0.0.21
	assert_success
	assert_output "$(printf '%s\n' 'rule 127.0.0.21:' \
		'set environment variable RELAYCLIENT=' \
		'set environment variable RBLSMTPD=' \
		'set environment variable ROAMUSER=alice' 'allow connection')"

	assert_relay_set 127.0.0.21
	assert_relay_unset 127.0.0.22
}

@test "a bad password gets -ERR authorization failed and opens nothing" {
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"

	run pop_login 127.0.0.21 wrong
	assert_success
	assert_line 'C: PASS wrong'
	assert_line 'S: -ERR authorization failed'
	refute_line 'S: +OK session'

	run list_ips
	assert_output ""
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	assert_relay_unset 127.0.0.21

	# A good login from elsewhere afterwards (it takes the lock the failed
	# login's recorder would have needed) lists only itself.
	assert_good_login 127.0.0.22
	run list_ips
	assert_output 127.0.0.22
	assert_relay_unset 127.0.0.21
	run grep -c 'relay opened' "$BATS_TEST_TMPDIR/server.log"
	assert_output 1
}

@test "clearopensmtp closes an entry older than -m minutes while a fresh one stays open" {
	assert_good_login 127.0.0.23
	set_ts 127.0.0.23 $(($(date +%s) - 3600))
	assert_good_login 127.0.0.24
	assert_relay_set 127.0.0.23
	assert_relay_set 127.0.0.24

	run "$CLEAROPENSMTP" -m 1
	assert_success
	assert_output ''

	run list_ips
	assert_output 127.0.0.24
	run decision 127.0.0.23
	assert_output "$(printf '%s\n' 'rule :' 'allow connection')"
	assert_relay_unset 127.0.0.23
	assert_relay_set 127.0.0.24
}

@test "clearopensmtp -m 0 closes an entry as soon as it is a second old" {
	assert_good_login 127.0.0.23
	assert_relay_set 127.0.0.23
	ts=$(list_ts 127.0.0.23)
	for _ in $(seq 1 40); do
		[ "$(date +%s)" -gt "$ts" ] && break
		sleep 0.1
	done
	[ "$(date +%s)" -gt "$ts" ]

	run "$CLEAROPENSMTP" -m 0
	assert_success

	run list_ips
	assert_output ''
	assert_relay_unset 127.0.0.23
}

@test "clearopensmtp -d closes one address at once and leaves the others open" {
	assert_good_login 127.0.0.26
	assert_good_login 127.0.0.27
	assert_relay_set 127.0.0.26

	run "$CLEAROPENSMTP" -d 127.0.0.26
	assert_success
	assert_output ''

	run list_ips
	assert_output 127.0.0.27
	assert_relay_unset 127.0.0.26
	assert_relay_set 127.0.0.27
}

@test "eight clients logging in at the same moment are all opened, each listed once" {
	local i pids=() failed=0 ready
	for i in $(seq 31 38); do
		pop_login "127.0.0.$i" good "$BATS_TEST_TMPDIR" "$i" \
			>"$BATS_TEST_TMPDIR/login.$i" 2>&1 3>&- &
		pids+=($!)
	done
	# Release the eight PASS commands together once all are connected.
	for _ in $(seq 1 200); do
		ready=$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'ready.*' | wc -l)
		[ "$ready" -lt 8 ] || break
		sleep 0.05
	done
	touch "$BATS_TEST_TMPDIR/go"
	for i in "${pids[@]}"; do
		wait "$i" || failed=$((failed + 1))
	done
	[ "$ready" -eq 8 ]
	[ "$failed" -eq 0 ]

	for i in $(seq 31 38); do
		run cat "$BATS_TEST_TMPDIR/login.$i"
		assert_line 'S: +OK session'
	done
	# Any order (first come, first listed), but each address once.
	list_ips | sort >"$BATS_TEST_TMPDIR/listed"
	run cat "$BATS_TEST_TMPDIR/listed"
	assert_output "$(seq -f '127.0.0.%g' 31 38)"
	run grep -c . "$ROAM_DIR/open-smtp"
	assert_output 8
	for i in $(seq 31 38); do
		assert_relay_set "127.0.0.$i"
	done
	assert_relay_unset 127.0.0.39
}

@test "an address denied in tcp.smtp stays denied after a good login from it" {
	run decision 127.0.0.25
	assert_output "$(printf '%s\n' 'rule 127.0.0.25:' 'deny connection')"

	assert_good_login 127.0.0.25
	run list_ips
	assert_output 127.0.0.25

	# tcp.smtp's rule comes first in the cdb, so it wins over the relay rule.
	run decision 127.0.0.25
	assert_output "$(printf '%s\n' 'rule 127.0.0.25:' 'deny connection')"

	# tcpserver refuses: the program never runs, the connection is closed
	# without a byte, and its log says deny.
	run probe 127.0.0.25
	assert_success
	assert_output ''
	grep -q "^tcpserver: deny [0-9]* .*:127\.0\.0\.25::[0-9]*\$" \
		"$BATS_TEST_TMPDIR/smtp.log"
	run grep -c ':127\.0\.0\.25::' "$BATS_TEST_TMPDIR/smtp.log"
	assert_output 1
}

@test "a second login from an open address refreshes its time and does not rebuild the cdb" {
	assert_good_login 127.0.0.28
	age_in_place 127.0.0.28 $(($(date +%s) - 600))
	ino=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	before=$(date +%s)

	assert_good_login 127.0.0.28

	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$ino" ]
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	[ "$(list_ts 127.0.0.28)" -ge "$before" ]
	run grep -c . "$ROAM_DIR/open-smtp"
	assert_output 1
	run grep -c 'relay opened for 127.0.0.28' "$BATS_TEST_TMPDIR/server.log"
	assert_output 1
	assert_relay_set 127.0.0.28
}

@test "a real POP3 client (Python's poplib) logs in from a new address where the run script passes no ROAM_LOG_FD: no message reaches it" {
	local port
	port=$(free_port)
	# The session answers the login and QUIT as qmail-pop3d would.
	start_server _ 127.0.0.1 "$port" "$HELPERS/mini-popup" pop.test \
		"$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'printf "+OK session\r\n"; IFS= read -r _; printf "+OK bye\r\n"'
	run timeout 20 "$HELPERS/pop3-client" -q -s 127.0.0.30 127.0.0.1 "$port" alice good
	assert_success
	assert_line 'PASS: +OK session'
	assert_line 'QUIT: +OK bye'
	assert_relay_set 127.0.0.30
	# The messages went to syslog, not to the server's log on fd 2.
	run grep -c checkpw-roam "$BATS_TEST_TMPDIR/server.log"
	assert_output 0
}
