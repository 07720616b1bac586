#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# IPv6 end to end with Debian's IPv6 ucspi-tcp (ucspi-tcp-ipv6 1:0.88-7,
# unpacked into tests/.ucspi-tcp-ipv6 by tests/install-deps): the POP3 chain
# (tcpserver, mini-popup, checkpw-roam, fake-checkpassword) and the SMTP side
# (tcpserver -x on tcp.smtp.cdb, probe-env) both run under the real IPv6
# tcpserver, and the real clients connect from real addresses. What
# checkpw-roam records must be the very key that tcpserver then looks up.
#
# On the machine's loopback: ::1, and 127.0.0.1 with and without -6. In a
# private network namespace (unshare -n, root): a table of address forms,
# each given to lo so that a client connects from it (helpers/netns-relay).

load helpers/common
load helpers/peers

setup() {
	common_setup
	need_v6
	# A loaded machine must not make a good login go on before its address
	# is recorded (2 seconds by default).
	export ROAM_WAIT_MS=10000
	printf '%s\n' '127.0.0.1:allow,RELAYCLIENT=""' ':allow' >"$ROAM_DIR/tcp.smtp"
	"$CLEAROPENSMTP" -f
}

teardown() {
	common_teardown
}

# shellcheck disable=SC2016 # expanded by the session's sh
SESSION='echo "+OK session TCPREMOTEIP=$TCPREMOTEIP"'

# start_pop VAR HOST PORT [-6]: the POP3 side under the IPv6 tcpserver.
start_pop() {
	local var=$1 host=$2 port=$3
	shift 3
	serve "$var" "$host" "$port" "$BATS_TEST_TMPDIR/pop.log" \
		"$V6BIN/tcpserver" -R -H "$@" "$host" "$port" env ROAM_LOG_FD=5 \
		"$HELPERS/mini-popup" pop.test "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c "$SESSION"
}

# start_smtp VAR TCPSERVER HOST PORT [-6]: the SMTP side, tcpserver -x.
start_smtp() {
	local var=$1 server=$2 host=$3 port=$4
	shift 4
	serve "$var" "$host" "$port" "$BATS_TEST_TMPDIR/smtp.log" \
		"$server" -R -H "$@" -x "$ROAM_DIR/tcp.smtp.cdb" "$host" "$port" \
		"$HELPERS/probe-env"
}

@test "::1: a bad password opens nothing; a good login is recorded as ::1, the key the IPv6 tcpserver -x looks up" {
	local pop smtp
	pop=$(free_port)
	smtp=$(free_port)
	start_pop POP_PID ::1 "$pop"
	start_smtp SMTP_PID "$V6BIN/tcpserver" ::1 "$smtp"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"

	run pop_via "$V6BIN/tcpclient" ::1 ::1 "$pop" alice wrong
	assert_success
	assert_line 'S: -ERR authorization failed'
	refute_line --partial '+OK session'
	run list_ips
	assert_output ""
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	run probe_via "$V6BIN/tcpclient" ::1 ::1 "$smtp"
	assert_output "RELAYCLIENT unset for ::1"

	run pop_via "$V6BIN/tcpclient" ::1 ::1 "$pop" alice good
	assert_success
	assert_line 'S: +OK session TCPREMOTEIP=::1'
	run cat "$ROAM_DIR/open-smtp"
	assert_output --regexp $'^::1:allow,RELAYCLIENT="",RBLSMTPD="",ROAMUSER="alice"\t[0-9]+$'
	grep -qx 'checkpw-roam: info: relay opened for ::1 by "alice"' "$BATS_TEST_TMPDIR/pop.log"
	run env TCPREMOTEIP=::1 "$V6BIN/tcprulescheck" "$ROAM_DIR/tcp.smtp.cdb"
	assert_output "$(printf '%s\n' 'rule ::1:' \
		'set environment variable RELAYCLIENT=' \
		'set environment variable RBLSMTPD=' \
		'set environment variable ROAMUSER=alice' 'allow connection')"
	run probe_via "$V6BIN/tcpclient" ::1 ::1 "$smtp"
	assert_output "RELAYCLIENT set for ::1"
}

@test "127.0.0.1: without -6 the client is 127.0.0.35, with -6 ::ffff:127.0.0.33; both are recorded as plain IPv4, which SMTP servers without -6 match and one with -6 does not" {
	local pop pop6 smtp smtp6 smtpsix
	pop=$(free_port)
	pop6=$(free_port)
	smtp=$(free_port)
	smtp6=$(free_port)
	smtpsix=$(free_port)
	start_pop POP_PID 127.0.0.1 "$pop"
	start_pop POP6_PID 127.0.0.1 "$pop6" -6
	# The SMTP side: the IPv4 tcpserver (ucspi-tcp), the IPv6 one without
	# -6, the IPv6 one with -6.
	start_smtp SMTP_PID tcpserver 127.0.0.1 "$smtp"
	start_smtp SMTP6_PID "$V6BIN/tcpserver" 127.0.0.1 "$smtp6"
	start_smtp SMTPSIX_PID "$V6BIN/tcpserver" 127.0.0.1 "$smtpsix" -6

	run pop_via "$V6BIN/tcpclient" 127.0.0.35 127.0.0.1 "$pop" alice good
	assert_success
	assert_line 'S: +OK session TCPREMOTEIP=127.0.0.35'
	run pop_via tcpclient 127.0.0.33 127.0.0.1 "$pop6" alice good
	assert_success
	assert_line 'S: +OK session TCPREMOTEIP=::ffff:127.0.0.33'

	run cat "$ROAM_DIR/open-smtp"
	assert_line --index 0 --regexp $'^127\\.0\\.0\\.35:allow,RELAYCLIENT="",RBLSMTPD="",ROAMUSER="alice"\t[0-9]+$'
	assert_line --index 1 --regexp $'^127\\.0\\.0\\.33:allow,RELAYCLIENT="",RBLSMTPD="",ROAMUSER="alice"\t[0-9]+$'
	[ "${#lines[@]}" -eq 2 ]
	grep -qx 'checkpw-roam: info: relay opened for 127.0.0.33 by "alice"' \
		"$BATS_TEST_TMPDIR/pop.log"

	local ip
	for ip in 127.0.0.35 127.0.0.33; do
		run probe_via tcpclient "$ip" 127.0.0.1 "$smtp"
		assert_output "RELAYCLIENT set for $ip"
		run probe_via "$V6BIN/tcpclient" "$ip" 127.0.0.1 "$smtp6"
		assert_output "RELAYCLIENT set for $ip"
		# INSTALL's "IPv6" caveat: an SMTP tcpserver with -6 looks up the
		# mapped form, which is not what is recorded.
		run probe_via tcpclient "$ip" 127.0.0.1 "$smtpsix"
		assert_output "RELAYCLIENT unset for ::ffff:$ip"
	done
	run probe_via tcpclient 127.0.0.34 127.0.0.1 "$smtp"
	assert_output "RELAYCLIENT unset for 127.0.0.34"
}

# The address forms, the client address as given to lo and tcpclient -i,
# the POP3 server's mode, and the key expected (what the IPv6 tcpserver of
# Debian 12 prints, measured): NAME CLIENT MODE [IFACE] => KEY. A key
# ending in "::" is also a prefix to tcpserver: such a client is never
# opened (checkpw-roam(8)).
ADDRESS_TABLE='
full                2001:db8:1:2:3:4:5:6                    plain    => 2001:db8:1:2:3:4:5:6
compressed          2001:db8::7                             plain    => 2001:db8::7
single-zero-group   2001:db8:0:1:2:3:4:5                    plain    => 2001:db8::1:2:3:4:5
leading-zeros       2001:0db8:0000:0000:0000:0000:0000:0008 plain    => 2001:db8::8
upper-case          2001:DB8::ABCD                          plain    => 2001:db8::abcd
v4-compatible       ::1.2.3.4                               plain    => ::102:304
trailing-zeros      2001:db8:1::                            plain    => 2001:db8:1::
tie-first-wins      1:0:0:2:3:0:0:4                         plain    => 1::2:3:0:0:4
longest-run-later   0:0:1:0:0:0:2:0                         plain    => 0:0:1::2:0
link-local          fe80::1                                 plain lo => fe80::1
v4-mapped           127.0.0.42                              six      => 127.0.0.42
'

@test "in a private network namespace, each address form is recorded as the live IPv6 tcpserver names the client, and relays" {
	[ "$(id -u)" = 0 ] || fail "needs root, for unshare -n (CI runs as root)"
	need_cmd unshare ip
	local table name client mode key rname seen added after after6 \
		want_seen want_added want_after want_after6 n=0
	table=$(sed -n 's/ *=>.*//p' <<<"$ADDRESS_TABLE")
	run env V6BIN="$V6BIN" HELPERS="$HELPERS" CHECKPW_ROAM="$CHECKPW_ROAM" \
		FAKE_CHECKPW="$FAKE_CHECKPW" ROAM_DIR="$ROAM_DIR" \
		LOGDIR="$BATS_TEST_TMPDIR" \
		timeout 60 unshare -n "$HELPERS/netns-relay" <<<"$table"
	echo "$output" >"$BATS_TEST_TMPDIR/rows"
	assert_success

	while read -r name client mode _; do
		[ -n "$name" ] || continue
		key=$(sed -n "s/^$name .*=> *//p" <<<"$ADDRESS_TABLE")
		IFS='|' read -r rname seen added after after6 \
			< <(grep "^$name|" "$BATS_TEST_TMPDIR/rows")
		[ "$rname" = "$name" ] || fail "$name: no result"
		n=$((n + 1))
		# A -6 server names an IPv4 client by its mapped form, which is
		# recorded as plain IPv4: what a server without -6 looks up. An SMTP
		# server with -6 looks up the mapped form, so it never matches an
		# IPv4 client (INSTALL, "IPv6").
		want_seen=$key want_after6="RELAYCLIENT set for $key"
		want_added=$key want_after="RELAYCLIENT set for $key"
		[ "$mode" = six ] && want_seen=::ffff:$key
		case $client in
		*:*) ;;
		*) want_after6="RELAYCLIENT unset for ::ffff:$key" ;;
		esac
		case $key in
		*::) want_added= want_after="RELAYCLIENT unset for $key"
			want_after6=$want_after ;;
		esac
		# What checkpw-roam recorded is what the live tcpserver named the
		# client (less ::ffff:), and that is the form the table expects.
		[ "$added" = "$want_added" ] ||
			fail "$name ($client): checkpw-roam recorded '$added', tcpserver set TCPREMOTEIP=$seen"
		[ -z "$added" ] || [ "$added" = "${seen#::ffff:}" ] ||
			fail "$name ($client): checkpw-roam recorded '$added', tcpserver set TCPREMOTEIP=$seen"
		[ "$seen" = "$want_seen" ] ||
			fail "$name ($client): tcpserver set TCPREMOTEIP '$seen', not $want_seen"
		[ "$after" = "$want_after" ] ||
			fail "$name: after the login the SMTP side said '$after'"
		[ "$after6" = "$want_after6" ] ||
			fail "$name: the SMTP side with -6 said '$after6'"
	done <<<"$table"
	[ "$n" -eq "$(grep -c . "$BATS_TEST_TMPDIR/rows")" ]
	[ "$n" -ge 11 ]

	# Everything was recorded once, in the canonical form; nothing for the
	# key ending in "::".
	run list_ips
	assert_output "$(sed -n 's/.*=> *//p' <<<"$ADDRESS_TABLE" | grep -v '::$')"
}

# rulecheck6 IP: what the IPv6 tcpserver -x does for IP.
rulecheck6() {
	TCPREMOTEIP=$1 "$V6BIN/tcprulescheck" "$ROAM_DIR/tcp.smtp.cdb"
}

# relays6 IP: succeeds when the IPv6 tcpserver would set RELAYCLIENT for IP.
relays6() {
	rulecheck6 "$1" | grep -q '^set environment variable RELAYCLIENT='
}

@test "a login from an address ending in :: (2001:db8:1::) opens nothing, with one warning saying why; the login goes on; an ordinary IPv6 address still opens alone" {
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	login 2001:db8:1:: good
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: 2001:db8:1:: cannot be opened alone: tcpserver also takes the rule of an address ending in "::" as a prefix, which would relay every address it begins; opening nothing'
	[ "${#lines[@]}" -eq 2 ]
	run list_ips
	assert_output ''
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	local ip
	for ip in 2001:db8:1:: 2001:db8:1::77 2001:db8:1::5:6:7; do
		! relays6 "$ip" || fail "$ip relays: $(rulecheck6 "$ip")"
	done

	# The written-out form is refused as well: it is the same address.
	login 2001:0db8:0001:0:0:0:0:0 good
	assert_success
	assert_line --partial 'warning: 2001:db8:1:: cannot be opened alone'
	run list_ips
	assert_output ''

	login 2001:db8:1::77 good
	assert_success
	assert_line 'checkpw-roam: info: relay opened for 2001:db8:1::77 by "user"'
	run list_ips
	assert_output 2001:db8:1::77
	relays6 2001:db8:1::77
	! relays6 2001:db8:1::
	! relays6 2001:db8:1::78
	! relays6 2001:db8:1::77:1
}

@test "an old list line for an address ending in :: is kept verbatim, out of the rules: the IPv6 tcprulescheck relays neither 2001:db8:1::77 nor 2001:db8:1::5:6:7" {
	local now
	now=$(date +%s)
	printf '%s:allow,RELAYCLIENT="",RBLSMTPD=""\t%s\n' \
		2001:db8:1:: $((now - 100000)) 2001:db8::25 "$now" \
		>"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output --regexp '^clearopensmtp: warning: open-smtp.* line 1: .*"2001:db8:1:::allow,'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	local ip
	for ip in 2001:db8:1:: 2001:db8:1::77 2001:db8:1::5:6:7; do
		! relays6 "$ip" || fail "$ip relays: $(rulecheck6 "$ip")"
	done
	relays6 2001:db8::25
	# The cdb is what the IPv6 tcprules makes of tcp.smtp and the good line.
	{
		cat "$ROAM_DIR/tcp.smtp"
		sed -n 2p "$ROAM_DIR/open-smtp" | cut -f1
	} | timeout 10 "$V6BIN/tcprules" "$BATS_TEST_TMPDIR/ref.cdb" "$BATS_TEST_TMPDIR/ref.tmp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"

	# A login keeps it out too, and expiry never drops it.
	login 2001:db8::26 good
	assert_success
	! relays6 2001:db8:1::77
	run "$CLEAROPENSMTP"
	assert_success
	run list_ips
	assert_output $'2001:db8:1::\n2001:db8::25\n2001:db8::26'
}

@test "clearopensmtp -d of an address ending in :: exits 100 with one line saying why, and changes nothing" {
	local now
	now=$(date +%s)
	printf '2001:db8:1:::allow,RELAYCLIENT=""\t%s\n' "$now" >"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run "$CLEAROPENSMTP" -d 2001:db8:1:0::
	[ "$status" -eq 100 ]
	assert_output 'clearopensmtp: fatal: 2001:db8:1:: is never open: tcpserver also takes the rule of an address ending in "::" as a prefix; a line of the list for it is kept out of the rules: remove it by hand'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
}
