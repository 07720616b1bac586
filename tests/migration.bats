#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Taking over vpopmail's roaming users (INSTALL, "Migrating from vpopmail's
# roaming users"). ROAM_DIR plays ~vpopmail/etc. helpers/vpopmail-writer
# does there what vchkpw 5.4 does after a good password (open_smtp_relay()
# and update_rules() of vpopmail.c, real tcprules included), with the clock
# set back so that old and fresh entries are written. checkpw-roam and
# clearopensmtp then work on what it left, without edits, and every
# tcp.smtp.cdb they build must be byte for byte what real tcprules makes of
# tcp.smtp and the rewritten list (Debian's IPv6 tcprules, as one entry is
# IPv6; on IPv4 lines it equals the IPv4 build).
#
# What vpopmail leaves, in order (line: TCPREMOTEIP at login, age):
#   1 127.0.0.71, 4 hours: expires at the next clearopensmtp
#   2 ::ffff:127.0.0.72, 30 minutes: vpopmail strips ::ffff:, writes 127.0.0.72
#   3 2001:db8::1, 20 minutes: mangled to "2001_db8__1"
#   4 ::1, 15 minutes: mangled to "", an empty address: in vpopmail's cdb
#     the default rule, shadowed here by tcp.smtp's own (see the 2nd test)
#   5 127.0.0.73, 10 minutes
#   6 2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff, 5 minutes: over 30 characters,
#     written as it is; the IPv4 tcprules rejects the line, so vpopmail's
#     cdb stays as it was after line 5 (vpopmail does not notice)
#   7 ::ffff:127.0.0.74, 25 minutes: NOT vpopmail's doing (its
#     get_remote_ip() strips ::ffff:), a line in the mapped form as an
#     administrator or another tool may have added it; appended by hand.

load helpers/common
load helpers/peers

RELAY='allow,RELAYCLIENT="",RBLSMTPD=""'

# vpop IP AGE: vpopmail's writer in $VPOP, for a login from IP AGE seconds
# ago.
vpop() {
	TCPREMOTEIP=$1 VPOPMAIL_NOW=$((NOW - $2)) \
		"$HELPERS/vpopmail-writer" "$VPOP" 2>>"$VPOP.log"
}

# vpopmail's directory is written once, then copied for each test.
setup_file() {
	VPOP=$BATS_FILE_TMPDIR/vpopmail-etc
	mkdir "$VPOP"
	printf '%s\n' '# the site rules' '127.0.0.1:allow,RELAYCLIENT=""' \
		'127.0.0.25:deny' ':allow' >"$VPOP/tcp.smtp"
	NOW=$(date +%s)
	vpop 127.0.0.71 14400
	vpop ::ffff:127.0.0.72 1800
	vpop 2001:db8::1 1200
	vpop ::1 900
	vpop 127.0.0.73 600
	vpop 2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff 300
	printf '::ffff:127.0.0.74:%s\t%s\n' "$RELAY" $((NOW - 1500)) >>"$VPOP/open-smtp"
	export VPOP NOW
}

setup() {
	common_setup
	need_v6
	need_cmd /usr/bin/python3
	# A loaded machine must not make a good login go on before its address
	# is recorded (2 seconds by default).
	export ROAM_WAIT_MS=10000
	cp -p "$VPOP"/* "$ROAM_DIR/"
	cp "$VPOP/open-smtp" "$BATS_TEST_TMPDIR/vpopmail.list"
	cp "$VPOP/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/vpopmail.cdb"
	V6=2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff
}

teardown() {
	common_teardown
}

# entry IP AGE: a list line as both writers write it.
entry() {
	printf '%s:%s\t%s\n' "$1" "$RELAY" $((NOW - $2))
}

# taken_over: the list once checkpw-roam has rewritten it: every entry in
# its place, ::ffff:127.0.0.74 as 127.0.0.74, the two lines it cannot read
# kept as they are.
taken_over() {
	entry 127.0.0.71 14400
	entry 127.0.0.72 1800
	entry 2001_db8__1 1200
	entry '' 900
	entry 127.0.0.73 600
	entry "$V6" 300
	entry 127.0.0.74 1500
}

# same_as_tcprules: tcp.smtp.cdb is what the IPv6 tcprules makes of tcp.smtp
# and open-smtp cut at the TAB, without the two lines checkpw-roam keeps out,
# each address in the form tcpserver looks up (vpopmail's ::ffff:127.0.0.74
# is 127.0.0.74, until the list is next written whole).
same_as_tcprules() {
	cat "$ROAM_DIR/tcp.smtp" >"$BATS_TEST_TMPDIR/ref.rules"
	grep -v -e '^2001_db8__1:' -e '^:allow' "$ROAM_DIR/open-smtp" | cut -f1 |
		sed 's/^::ffff:\([0-9.]*:\)/\1/' >>"$BATS_TEST_TMPDIR/ref.rules"
	rm -f "$BATS_TEST_TMPDIR/ref.cdb"
	# The IPv6 tcprules loops on a line without ":allow" or ":deny": bound it.
	timeout 10 "$V6BIN/tcprules" "$BATS_TEST_TMPDIR/ref.cdb" \
		"$BATS_TEST_TMPDIR/ref.tmp" <"$BATS_TEST_TMPDIR/ref.rules"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
}

# decision6 IP: what the IPv6 tcpserver -x does for IP.
decision6() {
	TCPREMOTEIP=$1 "$V6BIN/tcprulescheck" "$ROAM_DIR/tcp.smtp.cdb"
}

assert_relays() {
	local ip
	for ip in "$@"; do
		relay_open "$ip" || fail "$ip does not relay: $(decision "$ip")"
	done
}

assert_no_relay() {
	local ip
	for ip in "$@"; do
		! relay_open "$ip" || fail "$ip relays"
	done
}

@test "the fixture writes as vpopmail does: ::ffff: stripped, IPv6 mangled or raw, and a tcprules failure it ignores" {
	run cat "$BATS_TEST_TMPDIR/vpopmail.list"
	assert_output "$(entry 127.0.0.71 14400; entry 127.0.0.72 1800
		entry 2001_db8__1 1200; entry '' 900; entry 127.0.0.73 600
		entry "$V6" 300; entry ::ffff:127.0.0.74 1500)"
	# Only the last rebuild failed, and vpopmail went on.
	run cat "$VPOP.log"
	assert_line --partial "tcprules: fatal: unable to parse this line: $V6:allow"
	run grep -c 'Warning: update_rules() - tcprules failed' "$VPOP.log"
	assert_output 1
	# Its cdb: the real tcprules on tcp.smtp then lines 1 to 5.
	{
		cat "$ROAM_DIR/tcp.smtp"
		head -n 5 "$BATS_TEST_TMPDIR/vpopmail.list" | cut -f1
	} | tcprules "$BATS_TEST_TMPDIR/ref.cdb" "$BATS_TEST_TMPDIR/ref.tmp"
	cmp "$BATS_TEST_TMPDIR/vpopmail.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
	assert_relays 127.0.0.71 127.0.0.72 127.0.0.73
	assert_no_relay 127.0.0.74
	run decision6 "$V6"
	refute_line --partial RELAYCLIENT
}

@test "vpopmail's line for ::1 lets every client relay through its own cdb; checkpw-roam never makes it a rule" {
	# A site whose tcp.smtp has no default rule of its own.
	local etc=$BATS_TEST_TMPDIR/etc
	mkdir "$etc"
	printf '%s\n' '127.0.0.1:allow,RELAYCLIENT=""' >"$etc/tcp.smtp"
	TCPREMOTEIP=::1 "$HELPERS/vpopmail-writer" "$etc"
	run cut -f1 "$etc/open-smtp"
	assert_output ":$RELAY"
	run env TCPREMOTEIP=192.0.2.9 tcprulescheck "$etc/tcp.smtp.cdb"
	assert_output "$(printf '%s\n' 'rule :' 'set environment variable RELAYCLIENT=' \
		'set environment variable RBLSMTPD=' 'allow connection')"

	ROAM_DIR=$etc run "$CLEAROPENSMTP" -f
	assert_success
	assert_output --regexp '^clearopensmtp: warning: open-smtp: 1 unreadable line kept out of the rules, line 1: ":allow'
	run env TCPREMOTEIP=192.0.2.9 tcprulescheck "$etc/tcp.smtp.cdb"
	refute_output --partial RELAYCLIENT
}

@test "taken over as it is, the first login appends its address and builds tcp.smtp.cdb as tcprules would from the list" {
	before=$(date +%s)
	login 127.0.0.75 good
	after=$(date +%s)
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: info: relay opened for 127.0.0.75 by "user"'
	# The two lines it cannot read are counted, the first named (by the
	# recorder, in the log), in one line.
	assert_line --regexp '^checkpw-roam: warning: open-smtp: 2 unreadable lines kept out of the rules, the first line 3: "2001_db8__1:allow'
	[ "$(grep -c warning <<<"$output")" -eq 1 ]

	ts=$(list_ts 127.0.0.75)
	[ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ]
	# Appended to vpopmail's list as it is, with its account; written
	# whole with the next expiry.
	run cat "$ROAM_DIR/open-smtp"
	assert_output "$(cat "$BATS_TEST_TMPDIR/vpopmail.list"; printf '127.0.0.75:%s,ROAMUSER="user"\t%s\n' "$RELAY" "$ts")"

	same_as_tcprules
	assert_relays 127.0.0.71 127.0.0.72 127.0.0.73 127.0.0.74 127.0.0.75
	assert_no_relay 127.0.0.76
	run decision6 "$V6"
	assert_line 'set environment variable RELAYCLIENT='
	# tcp.smtp still comes first.
	run decision 127.0.0.25
	assert_output "$(printf '%s\n' 'rule 127.0.0.25:' 'deny connection')"
}

@test "a login from an address vpopmail listed refreshes it in its place; ::ffff:127.0.0.74 is 127.0.0.74" {
	before=$(date +%s)

	# The first writer has no index of vpopmail's list: one pass
	# refreshes the address in its line and rebuilds the cdb.
	login 127.0.0.72 good
	assert_success
	assert_line 'session ok'
	refute_line --partial 'relay opened'
	[ "$(list_ts 127.0.0.72)" -ge "$before" ]
	same_as_tcprules
	ino=$(inode "$ROAM_DIR/tcp.smtp.cdb")

	# Listed in the mapped form: the same address, refreshed, no new line;
	# it is in the cdb now, so nothing is rebuilt.
	login 127.0.0.74 good
	assert_success
	refute_line --partial 'relay opened'
	[ "$(list_ts ::ffff:127.0.0.74)" -ge "$before" ]
	run list_ips
	assert_output "$(printf '%s\n' 127.0.0.71 127.0.0.72 2001_db8__1 '' \
		127.0.0.73 "$V6" ::ffff:127.0.0.74)"
	same_as_tcprules
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$ino" ]
	assert_relays 127.0.0.72 127.0.0.74
}

@test "clearopensmtp on vpopmail's list drops what is over 180 minutes old, keeps the rest and the lines it cannot read, and builds as tcprules would" {
	run "$CLEAROPENSMTP"
	assert_success
	# Named as the build reads the list, once 127.0.0.71 has expired.
	assert_output --regexp '^clearopensmtp: warning: open-smtp: 2 unreadable lines kept out of the rules, the first line 2: "2001_db8__1:allow'

	run cat "$ROAM_DIR/open-smtp"
	assert_output "$(taken_over | sed 1d)"
	same_as_tcprules
	assert_no_relay 127.0.0.71
	assert_relays 127.0.0.72 127.0.0.73 127.0.0.74
	run decision6 "$V6"
	assert_line 'set environment variable RELAYCLIENT='

	# Listed by address, the mapped one as plain IPv4; either form closes it.
	run "$CLEAROPENSMTP" -l
	assert_success
	run cut -d' ' -f1 <<<"$(grep -v '^clearopensmtp:' <<<"$output")"
	assert_output "$(printf '%s\n' 127.0.0.72 127.0.0.73 "$V6" 127.0.0.74)"
	run "$CLEAROPENSMTP" -d ::ffff:127.0.0.74
	assert_success
	assert_no_relay 127.0.0.74
	run list_ips
	refute_line 127.0.0.74
	same_as_tcprules
}

@test "INSTALL's migration steps, in order, on vpopmail's own directory" {
	# d. The list is read as it is; e. the cdb rebuilt with checkpw-roam's
	# rules. -f names the two lines it keeps out, and expires as usual.
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output --regexp '^clearopensmtp: warning: open-smtp: 2 unreadable lines kept out of the rules, the first line 2: '
	run cat "$ROAM_DIR/open-smtp"
	assert_output "$(taken_over | sed 1d)"
	same_as_tcprules
	assert_no_relay 127.0.0.71
	assert_relays 127.0.0.72 127.0.0.73 127.0.0.74

	# d. Those lines deleted by hand, nothing more is said.
	sed -i -e '/^2001_db8__1:/d' -e '/^:/d' "$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output ''
	same_as_tcprules

	# f. checkpw-roam in front of the real checkpassword: a new client.
	login 127.0.0.75 good
	assert_success
	assert_line 'checkpw-roam: info: relay opened for 127.0.0.75 by "user"'
	refute_line --partial warning

	# g. The hourly cron job.
	run "$CLEAROPENSMTP"
	assert_success
	assert_output ''
	run list_ips
	assert_output "$(printf '%s\n' 127.0.0.72 127.0.0.73 "$V6" 127.0.0.74 127.0.0.75)"
	same_as_tcprules
	assert_no_relay 127.0.0.71
	assert_relays 127.0.0.72 127.0.0.73 127.0.0.74 127.0.0.75
}

@test "vpopmail's old <TAB><SPACE>epoch lines are entries, as its clearopensmtp reads them: 1,000 cost a login no warning, become rules, are rewritten without the space, and expire" {
	local now i ip before
	rm -f "$ROAM_DIR"/open-smtp*
	now=$(date +%s)
	# 1,000 lines as vpopmail before 5.0 wrote them: 500 four hours old,
	# 500 a minute old.
	for ((i = 0; i < 1000; i++)); do
		ts=$((now - 60))
		[ "$i" -lt 500 ] && ts=$((now - 14400))
		printf '10.0.%d.%d:%s\t %d\n' $((i / 250)) $((i % 250 + 1)) "$RELAY" "$ts"
	done >"$ROAM_DIR/open-smtp"
	[ "$(grep -c $'\t ' "$ROAM_DIR/open-smtp")" -eq 1000 ]

	# A login from a listed address refreshes its line in place, after
	# the space; nothing is reported.
	before=$(date +%s)
	login 10.0.3.10 good
	assert_success
	assert_line 'session ok'
	refute_line --partial 'relay opened'
	refute_line --partial warning
	[ "$(list_ts 10.0.3.10)" -ge "$before" ]
	[ "$(wc -l <"$ROAM_DIR/open-smtp")" -eq 1000 ]
	[ "$(grep -c $'\t ' "$ROAM_DIR/open-smtp")" -eq 1000 ]
	[ "$(list_ts 10.0.0.1)" -eq $((now - 14400)) ]
	[ "$(list_ts 10.0.2.1)" -eq $((now - 60)) ]
	# They are rules: tcp.smtp, then the list cut at the TAB.
	same_as_tcprules
	assert_relays 10.0.0.1 10.0.1.250 10.0.2.1 10.0.3.250
	run decision6 10.0.2.7
	assert_line 'set environment variable RELAYCLIENT='

	# A new address: one line, "relay opened", nothing else.
	login 127.0.0.75 good
	assert_success
	refute_line --partial warning

	# The cron job expires the old half, silently, and writes the rest
	# in the canonical form.
	run "$CLEAROPENSMTP"
	assert_success
	assert_output ''
	[ "$(wc -l <"$ROAM_DIR/open-smtp")" -eq 501 ]
	[ "$(grep -c $'\t ' "$ROAM_DIR/open-smtp")" -eq 0 ]
	assert_no_relay 10.0.0.1 10.0.1.250
	assert_relays 10.0.2.1 10.0.3.250 10.0.3.10 127.0.0.75
	same_as_tcprules
}

@test "only vpopmail's one space is read: two spaces, a second TAB or a sign after the TAB stay unreadable, reported in one line" {
	rm -f "$ROAM_DIR"/open-smtp*
	{
		printf '10.1.1.1:%s\t  %s\n' "$RELAY" "$NOW"
		printf '10.1.1.2:%s\t\t%s\n' "$RELAY" "$NOW"
		printf '10.1.1.3:%s\t +%s\n' "$RELAY" "$NOW"
		printf '10.1.1.4:%s\t %s\n' "$RELAY" "$NOW"
	} >"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output 'clearopensmtp: warning: open-smtp: 3 unreadable lines kept out of the rules, the first line 1: "10.1.1.1:allow,RELAYCLIENT=\x22\x22,RBLSMTPD=\x22\x22\x09  '"$NOW"'"'
	head -n 3 "$ROAM_DIR/open-smtp" | cmp - <(head -n 3 "$BATS_TEST_TMPDIR/old")
	run sed -n 4p "$ROAM_DIR/open-smtp"
	assert_output "$(entry 10.1.1.4 0)"
	assert_no_relay 10.1.1.1 10.1.1.2 10.1.1.3
	assert_relays 10.1.1.4
}
