#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The pure parsers and formatters, through the C unit test program.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

@test "client addresses are parsed strictly and printed as tcpserver prints them" {
	run "$TOP/tests/unit/unit" ip
	assert_success
	refute_output --partial 'not ok'
}

@test "rules lines give the records tcprules gives" {
	run "$TOP/tests/unit/unit" rules
	assert_success
	refute_output --partial 'not ok'
}

@test "open-smtp lines are parsed as vpopmail writes them, bad ones refused" {
	run "$TOP/tests/unit/unit" openlist
	assert_success
	refute_output --partial 'not ok'
}

@test "outbox lines: a login's list line or a close, never mistaken for each other" {
	run "$TOP/tests/unit/unit" outbox
	assert_success
	refute_output --partial 'not ok'
}

@test "logged text is made printable and capped" {
	run "$TOP/tests/unit/unit" log
	assert_success
	refute_output --partial 'not ok'
}

@test "a user's primary group is read from /etc/passwd lines, strictly" {
	run "$TOP/tests/unit/unit" passwd
	assert_success
	refute_line --partial 'not ok'
}

@test "Prometheus text: label values escaped (\\, \", newline), bytes not UTF-8 shown as \\xHH, HELP escaped, seconds from ms" {
	run "$TOP/tests/unit/unit" promfmt
	assert_success
	assert_line --partial 'ok 1 - promfmt_label'
	refute_line --partial 'not ok'
}
