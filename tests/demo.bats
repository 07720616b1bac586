#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The demonstrations the README points to, run as it says: make demo (one
# host) and make demo-cluster (two hosts and a private PostgreSQL). Each
# checks every step it shows and exits non-zero if one did not behave; it
# must also leave no server and no temporary directory behind.

load helpers/common

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# leftovers PATTERN: the processes whose command line holds PATTERN.
leftovers() {
	pgrep -af "$1" || :
}

@test "make demo: every step behaves as described; nothing is left running" {
	run env TMPDIR="$BATS_TEST_TMPDIR" make -s -C "$TOP" demo
	assert_success
	assert_line '  [ok] 127.0.0.42 may relay now'
	assert_line 'demo: every step behaved as described'
	refute_output --partial '[FAILED]'
	run leftovers "$BATS_TEST_TMPDIR/checkpw-roam-demo"
	assert_output ''
	run find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'checkpw-roam-demo.*'
	assert_output ''
}

@test "make demo-cluster: a login on host 1 opens host 2's SMTP relay, -d closes both, logins go on with the database down and converge after; nothing is left running" {
	run env TMPDIR="$BATS_TEST_TMPDIR" make -s -C "$TOP" demo-cluster
	assert_success
	assert_line --regexp "^  host 2's SMTP server lets 127\.0\.0\.42 relay [0-9]+ ms after the login on host 1 ended$"
	assert_line '  [ok] host 2 relays for 127.0.0.42'
	assert_line '  [ok] host 1 does not know of it yet'
	assert_line '  [ok] the login made during the outage reached host 1'
	assert_line 'demo-cluster: every step behaved as described'
	refute_output --partial '[FAILED]'
	[ "$(grep -c '\[ok\]' <<<"$output")" -eq 22 ]
	run leftovers "$BATS_TEST_TMPDIR/checkpw-roam-cluster"
	assert_output ''
	run find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'checkpw-roam-cluster.*'
	assert_output ''
}
