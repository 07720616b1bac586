#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# A planted line cannot open an address for ever: the relay directory is
# used only while no one but its owner (or the owner's own group) may
# write it or its files, and a time more than a day ahead is taken as now.

load helpers/common
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

RELAY='allow,RELAYCLIENT="",RBLSMTPD=""'

@test "a relay directory anyone may write (1777) is refused: one warning, the login goes on, nothing is recorded" {
	login 127.0.0.5 good
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	chmod 1777 "$ROAM_DIR"
	login 127.0.0.6 good
	assert_success
	assert_line 'session ok'
	assert_line "checkpw-roam: warning: unable to open the relay for 127.0.0.6: refusing to use $ROAM_DIR: it may be written by anyone (mode 1777)"
	[ "${#lines[@]}" -eq 2 ]
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	refute relay_open 127.0.0.6
	for args in '' '-f' '-l' '-d 127.0.0.5'; do
		# shellcheck disable=SC2086
		run "$CLEAROPENSMTP" $args
		assert_failure 111
		assert_output "clearopensmtp: fatal: refusing to use $ROAM_DIR: it may be written by anyone (mode 1777)"
	done
	relay_open 127.0.0.5
}

@test "a build lock others may write is refused: no one can tell a writer its build is done" {
	login 127.0.0.5 good
	chmod 666 "$ROAM_DIR/tcp.smtp.cdb.lock"
	run "$CLEAROPENSMTP" -f
	assert_failure 111
	assert_output "clearopensmtp: fatal: refusing to use $ROAM_DIR/tcp.smtp.cdb.lock: it may be written by anyone (mode 0666)"
	login 127.0.0.6 good
	assert_success
	assert_line 'session ok'
	assert_line --partial "unable to open the relay for 127.0.0.6: refusing to use $ROAM_DIR/tcp.smtp.cdb.lock"
	refute relay_open 127.0.0.6
	run list_ips
	assert_output 127.0.0.5
}

@test "group-writable is refused for another group, accepted for the owner's own primary group" {
	[ "$(id -u)" = 0 ] || skip "needs root to set groups"
	login 127.0.0.5 good
	chgrp nogroup "$ROAM_DIR/tcp.smtp.cdb"
	chmod 664 "$ROAM_DIR/tcp.smtp.cdb"
	login 127.0.0.6 good
	assert_success
	assert_line "checkpw-roam: warning: unable to open the relay for 127.0.0.6: refusing to use $ROAM_DIR/tcp.smtp.cdb: it may be written by a group other than its owner's (mode 0664)"
	refute relay_open 127.0.0.6
	# root's primary group in /etc/passwd is root.
	chgrp root "$ROAM_DIR/tcp.smtp.cdb" "$ROAM_DIR"
	chmod 775 "$ROAM_DIR"
	login 127.0.0.6 good
	assert_success
	refute_output --partial warning
	relay_open 127.0.0.6
}

@test "times more than a day ahead are reported in one line per file and taken as now, so the entries expire" {
	now=$(date +%s)
	{
		printf '10.1.1.1:%s\t9999999999\n' "$RELAY"
		printf '10.1.1.2:%s\t%s\n' "$RELAY" $((now + 3600))
		printf '10.1.1.4:%s\t9999999999\n' "$RELAY"
	} >"$ROAM_DIR/open-smtp"
	printf '10.1.1.3:%s\t9999999999\n' "$RELAY" >>"$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP"
	assert_success
	assert_output 'clearopensmtp: warning: open-smtp: 3 times more than a day ahead, taken as now, the first line 1: "10.1.1.1:allow,RELAYCLIENT=\x22\x22,RBLSMTPD=\x22\x22\x099999999999"'
	for ip in 10.1.1.1 10.1.1.3 10.1.1.4; do
		ts=$(list_ts $ip)
		[ "$ts" -ge "$now" ] && [ "$ts" -le $((now + 60)) ]
		relay_open $ip
	done
	# An hour ahead is a clock a little off: kept as it is.
	[ "$(list_ts 10.1.1.2)" = $((now + 3600)) ]
	sleep 2
	run "$CLEAROPENSMTP" -m 0
	assert_success
	assert_output ''
	refute relay_open 10.1.1.1
	refute relay_open 10.1.1.3
	run list_ips
	assert_output 10.1.1.2
}
