#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# update_merge, the entry point roamsync calls with other hosts' changes
# (tests/helpers/merge stands in for it): arrivals merged into the list and
# the cdb under the lock, closes dropped, many changes in one pass.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

RULE='allow,RELAYCLIENT="",RBLSMTPD=""'

# seed IP EPOCH [RULE]: a list line, compiled.
seed() {
	printf '%s:%s\t%s\n' "$1" "${3:-$RULE}" "$2" >>"$ROAM_DIR/open-smtp"
}

@test "arrivals not listed are appended with the default rule, in one build, and relay" {
	now=$(date +%s)
	run "$MERGE" <<<"+127.0.0.7 $now
+::ffff:127.0.0.8 $((now - 60))
+2001:DB8::1 $now"
	assert_success
	assert_output 'added 3 dropped 0 refreshed 0'
	run cat "$ROAM_DIR/open-smtp"
	assert_line "127.0.0.7:$RULE"$'\t'"$now"
	assert_line "127.0.0.8:$RULE"$'\t'"$((now - 60))"
	assert_line "2001:db8::1:$RULE"$'\t'"$now"
	relay_open 127.0.0.7
	relay_open 127.0.0.8
	run decision 2001:db8::1
	assert_line 'set environment variable RELAYCLIENT='
}

@test "an arrival listed already is refreshed in place, the later time wins, no rebuild" {
	now=$(date +%s)
	seed 127.0.0.7 $((now - 600)) 'allow,RELAYCLIENT="",OWN="1"'
	"$CLEAROPENSMTP" -f
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	list=$(inode "$ROAM_DIR/open-smtp")
	run "$MERGE" <<<"+127.0.0.7 $((now - 60))"
	assert_output 'added 0 dropped 0 refreshed 1'
	[ "$(list_ts 127.0.0.7)" = $((now - 60)) ]
	run "$MERGE" <<<"+127.0.0.7 $((now - 300))"
	assert_output 'added 0 dropped 0 refreshed 1'
	[ "$(list_ts 127.0.0.7)" = $((now - 60)) ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$cdb" ]
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
	# The local rule stays.
	run decision 127.0.0.7
	assert_line 'set environment variable OWN=1'
}

@test "a close drops the address from the list and the cdb; one not listed costs no pass" {
	now=$(date +%s)
	seed 127.0.0.7 "$now"
	seed 127.0.0.8 "$now"
	"$CLEAROPENSMTP" -f
	run "$MERGE" <<<"-127.0.0.7"
	assert_output 'added 0 dropped 1 refreshed 0'
	refute relay_open 127.0.0.7
	relay_open 127.0.0.8
	run list_ips
	assert_output '127.0.0.8'
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	run "$MERGE" <<<"-127.0.0.9"
	assert_output 'added 0 dropped 0 refreshed 0'
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$cdb" ]
}

@test "arrivals and closes together, in one rewrite and one build; nothing expires" {
	now=$(date +%s)
	seed 127.0.0.7 "$now"
	seed 127.0.0.8 $((now - 999999))
	"$CLEAROPENSMTP" -f -m 100000
	run strace -f -qq -e trace=rename,renameat,renameat2 -o "$BATS_TEST_TMPDIR/trace" \
		"$MERGE" <<<"-127.0.0.7
+127.0.0.9 $now"
	assert_output 'added 1 dropped 1 refreshed 0'
	run list_ips
	assert_output $'127.0.0.8\n127.0.0.9'
	relay_open 127.0.0.8
	relay_open 127.0.0.9
	refute relay_open 127.0.0.7
	[ "$(grep -c '"open-smtp"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
	[ "$(grep -c '"tcp\.smtp\.cdb"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
}

@test "a close drops a listed address only if its line is not later: a newer login here stays open" {
	now=$(date +%s)
	seed 127.0.0.7 "$now"
	seed 127.0.0.8 $((now - 100))
	"$CLEAROPENSMTP" -f
	run "$MERGE" <<<"-127.0.0.7 $((now - 50))
-127.0.0.8 $((now - 50))"
	assert_output 'added 0 dropped 1 refreshed 0'
	run list_ips
	assert_output '127.0.0.7'
	relay_open 127.0.0.7
	refute relay_open 127.0.0.8
	# A tie: the close wins.
	run "$MERGE" <<<"-127.0.0.7 $now"
	assert_output 'added 0 dropped 1 refreshed 0'
	refute relay_open 127.0.0.7
}

@test "a large batch takes one build, listed addresses refreshed in place, the later time winning; a close in the batch wins over its open" {
	now=$(date +%s)
	seed 127.0.0.7 $((now - 10))
	"$CLEAROPENSMTP" -f
	{
		echo "+127.0.0.7 $((now - 100))"
		for i in $(seq 1 300); do
			echo "+10.0.$((i / 256)).$((i % 256)) $now"
		done
		echo "-10.0.0.1"
	} >"$BATS_TEST_TMPDIR/changes"
	run strace -f -qq -e trace=rename,renameat,renameat2 -o "$BATS_TEST_TMPDIR/trace" \
		"$MERGE" <"$BATS_TEST_TMPDIR/changes"
	assert_output 'added 299 dropped 0 refreshed 1'
	# Appended in one write; one build.
	[ "$(grep -c 'tcp\.smtp\.cdb"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
	[ "$(list_ts 127.0.0.7)" = $((now - 10)) ]
	refute relay_open 10.0.0.1
	relay_open 10.0.1.44
	[ "$(list_ips | wc -l)" -eq 300 ]
}

@test "an arrival more than a day ahead is taken as now" {
	now=$(date +%s)
	run "$MERGE" <<<"+127.0.0.7 $((now + 200000))"
	assert_output 'added 1 dropped 0 refreshed 0'
	ts=$(list_ts 127.0.0.7)
	[ "$ts" -ge "$now" ] && [ "$ts" -le $((now + 5)) ]
}

@test "a merge honours the lock and the trust check as every writer does" {
	chmod 777 "$ROAM_DIR"
	run "$MERGE" <<<"+127.0.0.7 1"
	assert_failure 111
	assert_output --partial 'it may be written by anyone (mode 0777)'
	chmod 755 "$ROAM_DIR"
	touch "$ROAM_DIR/open-smtp.lock"
	flock "$ROAM_DIR/open-smtp.lock" sleep 30 &
	PIDS+=($!)
	sleep 0.2
	SECONDS=0
	run "$MERGE" <<<"+127.0.0.7 $(date +%s)"
	assert_failure 111
	assert_output --partial 'open-smtp.lock: timed out'
	[ "$SECONDS" -ge 9 ]
}
