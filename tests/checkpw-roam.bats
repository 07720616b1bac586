#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# checkpw-roam as qmail-popup and Dovecot run it: what a login records,
# what it never records, and that the login itself is never harmed.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

LINE_RE=$'^127\\.0\\.0\\.5:allow,RELAYCLIENT="",RBLSMTPD="",ROAMUSER="user"\t[0-9]{10}$'

@test "a good login records the address in vpopmail's format and opens the relay" {
	login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: info: relay opened for 127.0.0.5 by "user"'
	run cat "$ROAM_DIR/open-smtp"
	assert_output --regexp "$LINE_RE"
	now=$(date +%s)
	ts=$(list_ts 127.0.0.5)
	[ "$ts" -le "$now" ]
	[ "$ts" -ge $((now - 5)) ]
	relay_open 127.0.0.5
	refute relay_open 127.0.0.6
}

@test "a bad password exits 1 and opens nothing" {
	login 127.0.0.5 wrong
	assert_failure 1
	refute_output --partial 'session ok'
	sleep 0.2
	assert_not_exist "$ROAM_DIR/open-smtp"
	assert_not_exist "$ROAM_DIR/tcp.smtp.cdb"
}

@test "the chain's own exit status comes back unchanged" {
	login 127.0.0.5 good sh -c 'exit 7'
	assert_failure 7
	relay_open 127.0.0.5
}

@test "the session gets its arguments intact and no marker in its environment" {
	# One write: the recorder's log line may come while the session runs.
	login 127.0.0.5 good sh -c 'printf "%s%s\n" "$(printf "[%s]" "$@")" "$(env | grep -c CHECKPW_ROAM)"' sh 'a b' '' c
	assert_success
	assert_line '[a b][][c]0'
}

@test "the session inherits exactly the descriptors it would have without checkpw-roam" {
	fds='for f in /proc/$$/fd/*; do printf "%s " "${f##*/}"; done; echo'
	with=$(TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" bash -c "$fds" \
		3< <(printf 'u\0good\0\0') 2>/dev/null)
	without=$(TCPREMOTEIP=127.0.0.5 "$FAKE_CHECKPW" bash -c "$fds" \
		3< <(printf 'u\0good\0\0') 2>/dev/null)
	[ -n "$with" ]
	[ "$with" = "$without" ]
	relay_open 127.0.0.5
}

@test "a known address is refreshed without rebuilding the cdb" {
	login 127.0.0.5 good
	assert_success
	age_in_place 127.0.0.5 1000000000
	before=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	login 127.0.0.5 good
	assert_success
	refute_output --partial 'relay opened'
	[ "$(list_ts 127.0.0.5)" -gt 1000000000 ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$before" ]
	[ "$(list_ips | wc -l)" -eq 1 ]
}

@test "a new address rebuilds the cdb and keeps the others" {
	login 127.0.0.5 good
	before=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	login 127.0.0.6 good
	assert_success
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" != "$before" ]
	relay_open 127.0.0.5
	relay_open 127.0.0.6
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6'
}

@test "an address listed but missing from the cdb is put back by its next login" {
	printf '127.0.0.5:allow,RELAYCLIENT="",RBLSMTPD=""\t%s\n' "$(date +%s)" >"$ROAM_DIR/open-smtp"
	: >"$ROAM_DIR/tcp.smtp"
	tcprules "$ROAM_DIR/tcp.smtp.cdb" "$ROAM_DIR/x.tmp" <"$ROAM_DIR/tcp.smtp"
	refute relay_open 127.0.0.5
	login 127.0.0.5 good
	assert_success
	relay_open 127.0.0.5
}

@test "static tcp.smtp rules come first and win over the relay rule" {
	printf '127.0.0.5:deny\n127.0.0.:allow,RBLSMTPD=""\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	assert_success
	login 127.0.0.6 good
	run decision 127.0.0.5
	assert_output --partial 'deny connection'
	relay_open 127.0.0.6
}

@test "Dovecot's lookups without a password (AUTHORIZED, CREDENTIALS_LOOKUP) open nothing" {
	run env AUTHORIZED=1 TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c 'echo session ok' \
		3< <(printf 'user\0good\0\0')
	assert_success
	run env AUTHORIZED=2 CREDENTIALS_LOOKUP=1 TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'user\0good\0\0')
	assert_success
	assert_line 'session ok'
	sleep 0.2
	assert_not_exist "$ROAM_DIR/open-smtp"
}

@test "SMTP AUTH through Dovecot (SERVICE=smtp) opens nothing; SERVICE=pop3 does" {
	SERVICE=smtp login 127.0.0.5 good
	assert_success
	assert_not_exist "$ROAM_DIR/open-smtp"
	SERVICE=pop3 login 127.0.0.6 good
	assert_success
	relay_open 127.0.0.6
}

@test "Dovecot's call: fd 4 stays open for checkpassword-reply and the extra argument passes" {
	reply=$BATS_TEST_TMPDIR/reply
	cat >"$reply" <<-'EOS'
	#!/bin/sh
	echo "reply ok" >&4
	EOS
	chmod +x "$reply"
	out=$BATS_TEST_TMPDIR/fd4
	run env SERVICE=pop3 TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" "$reply" \
		3< <(printf 'user\0good\0\0') 4>"$out"
	assert_success
	run cat "$out"
	assert_output 'reply ok'
	relay_open 127.0.0.5
}

@test "misuse exits 2 with a usage line" {
	run "$CHECKPW_ROAM"
	assert_failure 2
	assert_output 'checkpw-roam: fatal: usage: checkpw-roam REALCHECKPW PROG [ARGS...] | -V'
	run "$CHECKPW_ROAM" "$FAKE_CHECKPW"
	assert_failure 2
}

@test "a real checkpassword that cannot run is a temporary failure (111) and records nothing" {
	run env TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" /nonexistent/checkpassword true 3< <(printf 'u\0good\0\0')
	assert_failure 111
	assert_output --partial 'checkpw-roam: fatal: unable to run "/nonexistent/checkpassword": No such file or directory'
	sleep 0.2
	assert_not_exist "$ROAM_DIR/open-smtp"
}

@test "ROAM_RELAY_ENV sets what the relay rule sets" {
	ROAM_RELAY_ENV='RELAYCLIENT="@roam",X=/a b/' login 127.0.0.5 good
	assert_success
	run grep -c $'^127.0.0.5:allow,RELAYCLIENT="@roam",X=/a b/,ROAMUSER="user"\t' "$ROAM_DIR/open-smtp"
	assert_output 1
	run decision 127.0.0.5
	assert_line 'set environment variable RELAYCLIENT=@roam'
	assert_line 'set environment variable X=a b'
}

@test "a bad ROAM_RELAY_ENV is refused with a warning and the login goes on" {
	for bad in 'RELAYCLIENT' 'RELAYCLIENT="' 'RELAYCLIENT=' 'RELAYCLIENT=""X' \
		$'RELAYCLIENT=""\tX=""' $'RELAYCLIENT="\n"' $'RELAYCLIENT="\r"'; do
		ROAM_RELAY_ENV=$bad login 127.0.0.5 good
		assert_success
		assert_line 'session ok'
		assert_line --partial 'checkpw-roam: warning: refusing ROAM_RELAY_ENV'
		assert_not_exist "$ROAM_DIR/open-smtp"
	done
}

@test "a bad ROAM_WAIT_MS is reported and the default used" {
	ROAM_WAIT_MS=soon login 127.0.0.5 good
	assert_success
	assert_line --partial 'checkpw-roam: warning: refusing ROAM_WAIT_MS "soon"'
	relay_open 127.0.0.5
}

@test "IPv6 clients are recorded in the form the IPv6 tcpserver looks up" {
	TCPREMOTEIP=2001:DB8:0:1:2:3:4:5
	login 2001:DB8:0:1:2:3:4:5 good
	assert_success
	run list_ips
	assert_output '2001:db8::1:2:3:4:5'
	run env TCPREMOTEIP=2001:db8::1:2:3:4:5 \
		"$TOP/tests/.ucspi-tcp-ipv6/usr/bin/tcprulescheck" "$ROAM_DIR/tcp.smtp.cdb"
	assert_line 'set environment variable RELAYCLIENT='
}

@test "a v4-mapped client is recorded as plain IPv4" {
	login ::ffff:127.0.0.9 good
	assert_success
	run list_ips
	assert_output '127.0.0.9'
	relay_open 127.0.0.9
}

@test "TCP6REMOTEIP is used only when TCPREMOTEIP is unset" {
	run env TCP6REMOTEIP=::1 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true 3< <(printf 'u\0good\0\0')
	assert_success
	run list_ips
	assert_output '::1'
	run env TCPREMOTEIP=junk TCP6REMOTEIP=::2 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
		3< <(printf 'u\0good\0\0')
	assert_success
	assert_output --partial 'refusing TCPREMOTEIP "junk"'
	run list_ips
	assert_output '::1'
}

@test "bad client addresses are refused with a warning and never reach the list" {
	for ip in '' ' ' 'junk' '127.0.0.1 ' '127.0.0' '127.0.0.256' '127.0.0.01' \
		'0x7f.0.0.1' '1.2.3.4:allow' '1.2.3.4:allow,RELAYCLIENT=""' \
		'1.2.3.4-9' '=' '=host' 'fe80::1%eth0' '[::1]' '"1.2.3.4"' \
		$'1.2.3.4\n5.6.7.8:allow' '1.2.3.' '::ffff:1.2.3.04' \
		"$(printf '1%.0s' $(seq 1 300))"; do
		login "$ip" good
		assert_success
		assert_line 'session ok'
		assert_line --partial 'checkpw-roam: warning: refusing TCPREMOTEIP "'
	done
	assert_not_exist "$ROAM_DIR/open-smtp"
	assert_not_exist "$ROAM_DIR/tcp.smtp.cdb"
}

@test "no client address at all is a warning, not a failure" {
	run "$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: no client address: TCPREMOTEIP is not set'
}

@test "a missing ROAM_DIR is a warning and the login goes on" {
	ROAM_DIR=$BATS_TEST_TMPDIR/nonexistent login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	assert_line --partial "checkpw-roam: warning: unable to open the relay for 127.0.0.5: unable to open directory $BATS_TEST_TMPDIR/nonexistent: No such file or directory"
}

@test "an unwritable ROAM_DIR is a warning and the login goes on" {
	[ "$(id -u)" = 0 ] || skip "needs root to run the chain as nobody"
	chmod 755 "$ROAM_DIR" "$BATS_TEST_TMPDIR"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		env TCPREMOTEIP=127.0.0.5 ROAM_DIR="$ROAM_DIR" "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')
	assert_success
	assert_line 'session ok'
	assert_line --partial 'checkpw-roam: warning: unable to open the relay for 127.0.0.5: unable to open'
	assert_not_exist "$ROAM_DIR/open-smtp"
}

@test "a bad tcp.smtp line is named, the old cdb and list lines stay, the login goes on, and nothing is lost" {
	printf '127.0.0.2:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	printf '127.0.0.2:deny\n# fine\n127.0.0.3:permit\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.6 good
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: unable to open the relay for 127.0.0.6: unable to rebuild tcp.smtp.cdb: tcp.smtp line 3: unable to parse this line: "127.0.0.3:permit"'
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	# The list keeps its lines; the address waits at its end for a build.
	cmp -n "$(stat -c %s "$BATS_TEST_TMPDIR/old.list")" "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6'
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	# Mended, the next build adds the waiting address: here, another login's.
	printf '127.0.0.2:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.7 good
	assert_success
	relay_open 127.0.0.6
	relay_open 127.0.0.7
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6\n127.0.0.7'
}

# login_while_locked IP MS: a good login from IP with ROAM_WAIT_MS=MS,
# while another process holds open-smtp.lock for 3 s. The recorder keeps
# stderr (the log) open, so bats' run returns only when it is done: $took
# is the time in ms until the session began.
login_while_locked() {
	local start
	touch "$ROAM_DIR/open-smtp.lock"
	flock "$ROAM_DIR/open-smtp.lock" sleep 3 &
	PIDS+=($!)
	sleep 0.2
	start=$(date +%s%N)
	ROAM_WAIT_MS=$2 login "$1" good sh -c "date +%s%N >$SCRATCH/began; echo session ok"
	took=$((($(cat "$SCRATCH/began") - start) / 1000000))
}

@test "a lock held by someone else delays the login by ROAM_WAIT_MS at most; the recorder finishes later" {
	login_while_locked 127.0.0.5 300
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: the recorder did not answer within 300 ms; the login goes on'
	[ "$took" -lt 2000 ]
	for _ in $(seq 1 100); do
		[ -f "$ROAM_DIR/open-smtp" ] && break
		sleep 0.1
	done
	run list_ips
	assert_output '127.0.0.5'
	relay_open 127.0.0.5
}

@test "a known address open in the cdb goes on at once, even with the lock held; its refresh follows when the lock is free" {
	login 127.0.0.5 good
	assert_success
	ts=$(list_ts 127.0.0.5)
	sleep 1.1
	login_while_locked 127.0.0.5 10000
	assert_success
	assert_output - <<-'EOF'
		session ok
		checkpw-roam: info: relay refreshed for 127.0.0.5 by "user"
	EOF
	# It waited neither ROAM_WAIT_MS nor for the lock (held 3 s).
	[ "$took" -lt 2000 ]
	# The recorder refreshed the time once it had the lock.
	[ "$(list_ts 127.0.0.5)" -gt "$ts" ]
	relay_open 127.0.0.5
}

# login_recorder_stopped IP [MS]: a good login from IP (ROAM_WAIT_MS=MS,
# default 10000)
# through a checkpassword that first stops the recorder (its pid is in
# CHECKPW_ROAM_CHANNEL), so that it cannot run before the session does:
# as on a busy machine. Sets $took (ms until the session began) and
# $recorder; the output is in $SCRATCH/out and $SCRATCH/err.
login_recorder_stopped() {
	local start
	cat >"$SCRATCH/stopper" <<-'EOS'
		#!/bin/sh
		pid=${CHECKPW_ROAM_CHANNEL#*,}
		pid=${pid%%,*}
		echo "$pid" >"$SCRATCH/recorder"
		kill -STOP "$pid" || exit 111
		exec "$FAKE_CHECKPW" "$@"
	EOS
	chmod 755 "$SCRATCH/stopper"
	start=$(date +%s%N)
	SCRATCH=$SCRATCH FAKE_CHECKPW=$FAKE_CHECKPW ROAM_WAIT_MS=${2:-10000} \
		TCPREMOTEIP=$1 "$CHECKPW_ROAM" "$SCRATCH/stopper" \
		sh -c "date +%s%N >$SCRATCH/began; echo session ok" \
		3< <(printf 'user\0good\0<1.2@host>\0') >"$SCRATCH/out" 2>"$SCRATCH/err"
	took=$((($(cat "$SCRATCH/began") - start) / 1000000))
	recorder=$(cat "$SCRATCH/recorder")
	PIDS+=("$recorder")
}

# wait_until CMD...: retries CMD for up to 5 s.
wait_until() {
	for _ in $(seq 1 50); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

ts_newer() { [ "$(list_ts "$1")" -gt "$2" ]; }
listed() { list_ips | grep -qx "$1"; }

@test "a known address does not wait for its recorder to run: the answer was in the channel before the password; the refresh follows" {
	login 127.0.0.5 good
	assert_success
	ts=$(list_ts 127.0.0.5)
	sleep 1.1
	login_recorder_stopped 127.0.0.5
	assert_equal "$(cat "$SCRATCH/out")" 'session ok'
	assert_equal "$(cat "$SCRATCH/err")" ''
	# It did not wait ROAM_WAIT_MS (10 s) for the stopped recorder.
	[ "$took" -lt 2000 ]
	[ "$(list_ts 127.0.0.5)" = "$ts" ]
	kill -CONT "$recorder"
	wait_until ts_newer 127.0.0.5 "$ts"
	relay_open 127.0.0.5
}

@test "an address whose own rule in tcp.smtp decides it goes on at once too; it is listed when the recorder runs" {
	printf '127.0.0.9:allow,RELAYCLIENT=""\n:allow\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	assert_success
	login_recorder_stopped 127.0.0.9
	assert_equal "$(cat "$SCRATCH/out")" 'session ok'
	[ "$took" -lt 2000 ]
	run listed 127.0.0.9
	assert_failure
	kill -CONT "$recorder"
	wait_until listed 127.0.0.9
	relay_open 127.0.0.9
}

@test "a new address still waits for its recorder: with it stopped, the login goes on after ROAM_WAIT_MS with a warning" {
	login_recorder_stopped 127.0.0.5 500
	assert_equal "$(cat "$SCRATCH/out")" 'session ok'
	[ "$took" -ge 500 ]
	grep -qx 'checkpw-roam: warning: the recorder did not answer within 500 ms; the login goes on' "$SCRATCH/err"
	kill -CONT "$recorder"
	wait_until listed 127.0.0.5
	relay_open 127.0.0.5
}

@test "a forged marker cannot skip the real checkpassword or open the relay" {
	run env CHECKPW_ROAM_CHANNEL=5,2,100 TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'u\0wrong\0\0')
	assert_failure 1
	refute_output --partial 'session ok'
	run env CHECKPW_ROAM_CHANNEL=5,2,100 TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')
	assert_success
	assert_line 'session ok'
	sleep 0.2
	assert_not_exist "$ROAM_DIR/open-smtp"
}

@test "a marker naming a descriptor that is not a recorder channel is refused" {
	for m in '1,2,100' '0,2,100' '4,2,100' '9,2,100' '7,2,100' 'x' '5,2' '5,2,100,1' '-5,2,100' '5,1,100' '5,2,99999999'; do
		run env CHECKPW_ROAM_CHANNEL="$m" "$CHECKPW_ROAM" sh -c 'echo session ok; env | grep -c CHECKPW_ROAM || :' \
			7<"$BATS_TEST_FILENAME"
		assert_success
		assert_line 'session ok'
		assert_line '0'
		assert_line --partial 'checkpw-roam: warning: ignoring'
	done
}

@test "the login goes on at the recorder's answer, not at its end: the recorder is the parent's child, not the chain's" {
	mkfifo "$BATS_TEST_TMPDIR/log"
	# The first address takes the full pass, the second the append.
	for ip in 127.0.0.5 127.0.0.6; do
		# A log that is full: the recorder's line, written after its
		# answer and its housekeeping, blocks until the test reads it.
		exec {log}<>"$BATS_TEST_TMPDIR/log"
		head -c 65536 /dev/zero >&"$log"
		rm -f "$SCRATCH/session"
		TCPREMOTEIP=$ip ROAM_WAIT_MS=10000 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
			sh -c "echo ok >$SCRATCH/session" 3< <(printf 'u\0good\0\0') \
			2>&"$log" &
		chain=$!
		for _ in $(seq 1 100); do
			[ -e "$SCRATCH/session" ] && break
			sleep 0.1
		done
		# The session ran while the recorder was still at work.
		[ -e "$SCRATCH/session" ]
		wait_for_recorder "$ip"
		relay_open "$ip"
		# Its parent is the chain's: this shell, which reaps it.
		run awk '$1 == "PPid:" { print $2 }' "/proc/$RECORDER/status"
		assert_output "$BASHPID"
		wait "$chain"
		timeout 2 cat <&"$log" >"$BATS_TEST_TMPDIR/drained" || :
		exec {log}>&-
		grep -q "checkpw-roam: info: relay opened for $ip" "$BATS_TEST_TMPDIR/drained"
	done
}

@test "under an init, where the kernel refuses CLONE_PARENT, the recorder is forked and the link reaps it" {
	[ "$(id -u)" = 0 ] || skip "needs root for a PID namespace"
	# checkpw-roam is PID 1 of a new PID namespace; the session, PID 1 in
	# turn, lists its children: none, not even a zombie recorder.
	run unshare --pid --fork --mount-proc env TCPREMOTEIP=127.0.0.5 \
		"$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'read -r k </proc/$$/task/$$/children; echo "session ok as $$, children [$k]"' \
		3< <(printf 'u\0good\0\0')
	assert_success
	assert_line 'session ok as 1, children []'
	assert_line 'checkpw-roam: info: relay opened for 127.0.0.5 by "u"'
	relay_open 127.0.0.5
}
