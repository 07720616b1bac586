#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Where checkpw-roam's messages go. qmail 1.03's and netqmail's qmail-popup
# make descriptor 2 a copy of 1, the client's connection, before they run
# checkpassword (fd_copy(2,1)): a line written there reaches the POP3 client
# before "+OK" and fails the login. The connection is a socket under
# tcpserver, a pipe each way under sslserver (POP3S). So when descriptor 2
# is the client's, messages go to descriptor ROAM_LOG_FD if the run script
# passes one, or else to syslog; never to the client. notqmail's
# qmail-popup leaves descriptor 2 to the service's log, and messages go
# there, as they do elsewhere (Dovecot, a test).
# tests/helpers/popup-fds gives a chain qmail-popup's descriptors;
# tests/helpers/mini-popup stands in for either qmail-popup, under tcpserver
# or tests/helpers/pipe-server (sslserver's pipes), for Python's poplib.

load helpers/common

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
	printf 'user\0good\0<1.2@host>\0' >"$T/creds"
	: >"$ROAM_DIR/tcp.smtp"
}
teardown() {
	common_teardown
}

# popup IP [VAR=VALUE...]: a good login from IP with qmail-popup's
# descriptors; the environment gets the assignments. Sets output to
# popup-fds' report.
popup() {
	local ip=$1
	shift
	run env TCPREMOTEIP="$ip" "$@" "$HELPERS/popup-fds" "$T/creds" \
		"$CHECKPW_ROAM" "$FAKE_CHECKPW" /bin/echo session ok
}

@test "with qmail-popup's descriptors, nothing but the session's output reaches the client: not a new address's line, not a warning" {
	popup 127.0.0.61
	assert_success
	assert_output "$(printf '%s\n' 'status 0' "client b'session ok\\n'")"
	relay_open 127.0.0.61
	# A warning of the link before the password, and one of the recorder.
	echo '127.0.0.9:bogus' >"$ROAM_DIR/tcp.smtp"
	popup 127.0.0.62 ROAM_WAIT_MS=soon
	assert_output "$(printf '%s\n' 'status 0' "client b'session ok\\n'")"
	refute relay_open 127.0.0.62
}

@test "there, without ROAM_LOG_FD, the messages go to syslog, facility mail" {
	command -v strace >/dev/null || skip "strace shows the syslog calls"
	run env TCPREMOTEIP=127.0.0.63 ROAM_WAIT_MS=soon strace -f -qq -s 300 \
		-e trace=connect,sendto,write -o "$T/trace" "$HELPERS/popup-fds" \
		"$T/creds" "$CHECKPW_ROAM" "$FAKE_CHECKPW" /bin/echo session ok
	assert_success
	assert_line "client b'session ok\\n'"
	# The warning of the link and the recorder's info line each connect
	# to syslog's socket; where a syslog daemon listens, the text is sent.
	[ "$(grep -c 'connect(.*sun_path="/dev/log"' "$T/trace")" -ge 2 ]
	if [ -S /dev/log ]; then
		grep -q 'sendto(.*<20>.*checkpw-roam: warning: refusing ROAM_WAIT_MS' "$T/trace"
		grep -q 'sendto(.*<22>.*checkpw-roam: info: relay opened for 127.0.0.63' "$T/trace"
	fi
	run grep 'write(2, "checkpw-roam' "$T/trace"
	assert_output ''
}

@test "ROAM_LOG_FD=5: the messages go to descriptor 5, one line each, whatever descriptor 2 is" {
	popup 127.0.0.64 ROAM_LOG_FD=5 ROAM_WAIT_MS=soon 5>>"$T/log"
	assert_output "$(printf '%s\n' 'status 0' "client b'session ok\\n'")"
	run cat "$T/log"
	assert_output "$(printf '%s\n' \
		'checkpw-roam: warning: refusing ROAM_WAIT_MS "soon": not a number of ms up to 60000' \
		'checkpw-roam: info: relay opened for 127.0.0.64 by "user"')"
	# With descriptor 2 a log already (Dovecot's case), 5 is still taken.
	: >"$T/log"
	ROAM_LOG_FD=5 TCPREMOTEIP=127.0.0.65 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
		3<"$T/creds" 2>"$T/stderr" 5>>"$T/log"
	grep -qx 'checkpw-roam: info: relay opened for 127.0.0.65 by "user"' "$T/log"
	run cat "$T/stderr"
	assert_output ''
}

@test "a ROAM_LOG_FD that is not a descriptor for the log (closed, 0, 1, 3, 4, not a number) is refused with one warning" {
	for v in 9 0 1 3 4 -1 5x '' 99999999999 ' 5'; do
		: >"$T/stderr"
		ROAM_LOG_FD=$v TCPREMOTEIP=127.0.0.66 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
			true 3<"$T/creds" 2>"$T/stderr"
		# The recorder logs after its answer: the chain may end first.
		wait_recorders 127.0.0.66
		mapfile -t log <"$T/stderr"
		ROAM_DIR=$ROAM_DIR "$CLEAROPENSMTP" -d 127.0.0.66
		if [ -z "$v" ]; then
			[ "${log[*]}" = "checkpw-roam: info: relay opened for 127.0.0.66 by \"user\"" ]
			continue
		fi
		# One warning, and the line of the new address after it.
		[ "${#log[@]}" = 2 ] || { echo "ROAM_LOG_FD=$v: ${log[*]}"; return 1; }
		[ "${log[0]}" = "checkpw-roam: warning: refusing ROAM_LOG_FD \"$v\": not an open descriptor for the log" ]
		[ "${log[1]}" = "checkpw-roam: info: relay opened for 127.0.0.66 by \"user\"" ]
	done
	# And where descriptor 2 is the client's, the warning goes to syslog.
	popup 127.0.0.67 ROAM_LOG_FD=9
	assert_output "$(printf '%s\n' 'status 0' "client b'session ok\\n'")"
}

@test "the recorder keeps no copy of the client's connection: descriptor 2 is the log, or /dev/null for syslog" {
	touch "$ROAM_DIR/open-smtp.lock"
	# Held until teardown stops it: the recorder must still be waiting. The
	# holder is the process in PIDS itself (flock's child would outlive it
	# and keep bats waiting for its output for a minute).
	(exec 9>"$ROAM_DIR/open-smtp.lock" && flock 9 && exec sleep 60) &
	PIDS+=($!)
	sleep 0.2
	for mode in syslog fd; do
		ip=127.0.0.68
		env=(ROAM_WAIT_MS=100)
		want=/dev/null
		if [ "$mode" = fd ]; then
			ip=127.0.0.69
			env+=(ROAM_LOG_FD=5)
			want=$T/log
		fi
		env TCPREMOTEIP=$ip "${env[@]}" "$HELPERS/popup-fds" "$T/creds" \
			"$CHECKPW_ROAM" "$FAKE_CHECKPW" true 5>>"$T/log" >"$T/report.$mode" &
		PIDS+=($!)
		wait_for_recorder "$ip"
		run bash -c 'cd /proc/$1/fd && for f in *; do echo "$f $(readlink "$f")"; done' sh "$RECORDER"
		assert_line '0 /dev/null'
		assert_line '1 /dev/null'
		assert_line "2 $want"
		# The channel is its one socket.
		assert_line --regexp '^3 socket:'
		[ "$(grep -c socket: <<<"$output")" -eq 1 ]
	done
}

# What qmail-pop3d says to poplib after a good login: the greeting, then
# STAT and QUIT answered.
# shellcheck disable=SC2016 # for the session's sh
POP3D='printf "+OK session\r\n"
while IFS= read -r l; do
	case $l in
	STAT*) printf "+OK 0 0\r\n" ;;
	QUIT*) printf "+OK bye\r\n"; exit 0 ;;
	*) printf -- "-ERR what\r\n" ;;
	esac
done'

# serve_pop SERVER POPUP ADDR PORT [VAR=VALUE...]: a POP3 service on
# 127.0.0.1 PORT, the chain traced (connect and sendto: syslog) into
# $T/trace if strace is there. SERVER: tcpserver (the socket), or pipe
# (pipe-server: sslserver's pipes, -e as a run script would give it).
# POPUP: 1.03 (fd 2 the client's), or notqmail (fd 2 the service's log).
# ADDR: noip runs the chain without TCPREMOTEIP (sslserver without -e).
serve_pop() {
	local server=$1 popup=$2 addr=$3 port=$4 chain=()
	shift 4
	if [ "$server" = pipe ]; then
		chain=("$HELPERS/pipe-server")
		[ "$addr" = noip ] || chain+=(-e)
	elif [ "$addr" = noip ]; then
		chain=(env -u TCPREMOTEIP)
	fi
	chain+=(env "$@")
	if command -v strace >/dev/null; then
		chain+=(strace -f -qq -s 300 -e trace=connect,sendto -o "$T/trace")
	fi
	chain+=("$HELPERS/mini-popup")
	[ "$popup" = 1.03 ] || chain+=(-n)
	chain+=(pop.test "$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c "$POP3D")
	start_server _ 127.0.0.1 "$port" "${chain[@]}"
}

# syslog_connects: how many times the traced chain connected to syslog.
syslog_connects() {
	[ -f "$T/trace" ] || return 0
	grep -c 'connect(.*sun_path="/dev/log"' "$T/trace" || :
}

# pop_logins SERVER: for each qmail-popup, and each of a new address
# (logged: "relay opened") and no TCPREMOTEIP (a warning), poplib logs in
# with USER, PASS, STAT and QUIT, and gets nothing from checkpw-roam in
# all the server sent; the line went to syslog (fd 2 the client's), to
# the service's log (notqmail's fd 2), or to ROAM_LOG_FD=5.
pop_logins() {
	local server=$1 n=70 popup addr log port line ip
	for log in syslog fd; do
		for popup in 1.03 notqmail; do
			[ "$log" = syslog ] || [ "$popup" = 1.03 ] || continue
			for addr in new noip; do
				n=$((n + 1))
				ip=127.0.0.$n
				line="checkpw-roam: info: relay opened for $ip by \"alice\""
				[ "$addr" = new ] ||
					line='checkpw-roam: warning: no client address: TCPREMOTEIP is not set'
				echo "# $server, qmail-popup $popup, $addr, log on $log"
				: >"$BATS_TEST_TMPDIR/server.log"
				rm -f "$T/trace"
				port=$(free_port)
				if [ "$log" = fd ]; then
					serve_pop "$server" "$popup" "$addr" "$port" ROAM_LOG_FD=5
				else
					serve_pop "$server" "$popup" "$addr" "$port"
				fi
				run timeout 20 "$HELPERS/pop3-client" -t -s "$ip" 127.0.0.1 \
					"$port" alice good
				assert_success
				assert_line 'PASS: +OK session'
				assert_line 'STAT: 0 0'
				assert_line 'QUIT: +OK bye'
				assert_line --regexp '^received: b.\+OK <.*\\r\\n\+OK session\\r\\n\+OK 0 0\\r\\n\+OK bye\\r\\n.$'
				refute_output --partial checkpw-roam
				wait_recorders
				if [ "$addr" = new ]; then
					relay_open "$ip"
				else
					refute relay_open "$ip"
				fi
				run cat "$BATS_TEST_TMPDIR/server.log"
				if [ "$popup$log" = 1.03syslog ]; then
					assert_output ''
					[ -f "$T/trace" ] || continue
					[ "$(syslog_connects)" -ge 1 ]
					if [ -S /dev/log ]; then
						grep -qF "sendto(" "$T/trace"
						grep -qF "${line#checkpw-roam: }" "$T/trace"
					fi
				else
					assert_output "$line"
					[ "$(syslog_connects)" = 0 ]
				fi
			done
		done
	done
}

@test "under tcpserver (a socket), with qmail 1.03's and notqmail's qmail-popup, poplib gets nothing from checkpw-roam; its lines go to syslog, the service's log or ROAM_LOG_FD" {
	pop_logins tcpserver
}

@test "under sslserver's pipes (pipe-server), with qmail 1.03's and notqmail's qmail-popup, poplib gets nothing from checkpw-roam; its lines go to syslog, the service's log or ROAM_LOG_FD" {
	pop_logins pipe
}

@test "a log pipe with no reader, SIGPIPE at its default: the good login still succeeds, the relay opens, and the session gets SIGPIPE at its default" {
	# The link's warning about ROAM_WAIT_MS is written to fd 2 before the
	# password is checked: there, SIGPIPE used to kill the login (141).
	run env TCPREMOTEIP=127.0.0.91 ROAM_WAIT_MS=soon "$HELPERS/popup-fds" -d \
		"$T/creds" "$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c \
		'echo session ok; exec sed -n "s/^SigIgn:[[:space:]]*/ignored /p" /proc/self/status'
	assert_success
	assert_line 'status 0'
	assert_line --regexp "^client b'session ok\\\\nignored [0-9a-f]{16}\\\\n'\$"
	# The session inherited no ignored SIGPIPE (signal 13, bit 12).
	mask=$(sed -n "s/.*ignored \\([0-9a-f]*\\).*/\\1/p" <<<"$output")
	[ $((0x$mask & 0x1000)) = 0 ]
	wait_recorders
	relay_open 127.0.0.91
	# A fatal message there keeps its own exit status, 111, not 141.
	run env TCPREMOTEIP=127.0.0.92 "$HELPERS/popup-fds" -d "$T/creds" \
		"$CHECKPW_ROAM" /nonexistent/checkpassword true
	assert_line 'status 111'
}
