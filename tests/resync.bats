#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# roamsync's resync, read a batch at a time: a table larger than one batch
# (4,096 rows) reaches a host whole, and so do the changes made while it
# is read.
# A private PostgreSQL 15 (tests/helpers/pg.bash), as in roamsync.bats.

load helpers/common
load helpers/peers
load helpers/pg

setup_file() {
	load_libs
	pg_setup_file
}

teardown_file() {
	pg_teardown_file
}

setup() {
	common_setup
	pg_setup_test
}

teardown() {
	common_teardown
}

# rows FROM TO: rows 10.0.X.Y for the numbers FROM to TO, open now.
rows() {
	psql_admin -c "INSERT INTO roam.relay (ip, at_ms)
		SELECT '10.0.' || (i / 256) || '.' || (i % 256),
		floor(extract(epoch FROM now()) * 1000)::bigint
		FROM generate_series($1, $2) AS i"
}

@test "a resync of 10,000 rows, more than two batches, merges every one, a bad row in the middle refused" {
	rows 1 5000
	psql_admin -c "INSERT INTO roam.relay (ip, at_ms) VALUES ('not an address', floor(extract(epoch FROM now()) * 1000)::bigint)"
	rows 5001 10000
	host_up A
	run grep -c 'info: resynced 10000 entries' "$BATS_TEST_TMPDIR/A.log"
	assert_output 1
	run grep -c 'warning: refusing a row of roam.relay' "$BATS_TEST_TMPDIR/A.log"
	assert_output 1
	[ "$(on A list_ips | wc -l)" -eq 10000 ]
	open_on A 10.0.0.1
	open_on A 10.0.19.136
	open_on A 10.0.39.16
	# After the batches, notifications are merged as before.
	host_up B
	login_on B 127.0.0.5
	wait_for 2 open_on A 127.0.0.5
}

# list_time NAME IP: the time of IP's line in host NAME's list.
list_time() {
	awk -v ip="$2" -F '\t' 'index($1, ip ":") == 1 { print $2 }' \
		"$(host_dir "$1")/open-smtp"
}

@test "a restart's resync of the rows the list holds refreshes them in place: no pass, the cdb not written again; a later time is taken" {
	rows 1 10000
	# Ten minutes old; then one row later, yet in the past (a time ahead
	# of the database's clock would be taken as its now).
	psql_admin -c "UPDATE roam.relay SET at_ms = at_ms - 600000"
	host_up A
	dir=$(host_dir A)
	kill "${HOST_PID[A]}"
	wait "${HOST_PID[A]}" || true
	cdb=$(stat -c %i "$dir/tcp.smtp.cdb")
	list=$(stat -c %i "$dir/open-smtp")
	before=$(list_time A 10.0.0.7)
	psql_admin -c "UPDATE roam.relay SET at_ms = at_ms + 540000 WHERE ip = '10.0.0.7'"
	host_up A
	run grep -c 'info: resynced 10000 entries' "$BATS_TEST_TMPDIR/A.log"
	assert_output 2
	# A pass writes the list and the cdb anew: new inodes.
	[ "$(stat -c %i "$dir/tcp.smtp.cdb")" = "$cdb" ]
	[ "$(stat -c %i "$dir/open-smtp")" = "$list" ]
	after=$(list_time A 10.0.0.7)
	[ "$after" -ge $((before + 500)) ]
	[ "$(on A list_ips | wc -l)" -eq 10000 ]
}

@test "rows written while a resync reads its batches are merged too" {
	rows 1 20000
	host_start A
	# Writes from another connection while A reads: each commit notifies.
	for i in $(seq 1 20); do
		psql_admin -c "INSERT INTO roam.relay (ip, at_ms) VALUES ('127.0.1.$i', floor(extract(epoch FROM now()) * 1000)::bigint)"
	done
	wait_for 10 host_synced A 0
	for i in $(seq 1 20); do
		wait_for 2 open_on A "127.0.1.$i"
	done
	[ "$(on A list_ips | wc -l)" -eq 20020 ]
}

@test "a merge that cannot take the lock keeps the link: one warning, then the change once the lock is free, no resync" {
	host_up A B
	flock "$(host_dir B)/open-smtp.lock" sleep 13 &
	holder=$!
	PIDS+=($holder)
	sleep 0.2
	login_on A 127.0.0.5
	# The lock's wait is 10 s: the first merge times out meanwhile.
	wait_for 13 grep -q 'timed out; retrying' "$BATS_TEST_TMPDIR/B.log"
	closed_on B 127.0.0.5
	wait "$holder"
	wait_for 3 open_on B 127.0.0.5
	run grep -c 'warning:' "$BATS_TEST_TMPDIR/B.log"
	assert_output 1
	run grep -c 'info: resynced' "$BATS_TEST_TMPDIR/B.log"
	assert_output 1
}

@test "a resync whose merge fails (a bad tcp.smtp line) says so, not that it resynced, and is retried until merged, with no other change" {
	rows 1 10
	dir=$(host_dir A)
	printf '1.2.3.4:bogus\n' >"$dir/tcp.smtp"
	host_start A
	wait_for 5 grep -q 'warning: .*tcp.smtp line 1: unable to parse this line.*; retrying' "$BATS_TEST_TMPDIR/A.log"
	sleep 1.5
	closed_on A 10.0.0.1
	run grep -c 'info: resynced' "$BATS_TEST_TMPDIR/A.log"
	assert_output 0
	rm "$dir/tcp.smtp"
	wait_for 3 open_on A 10.0.0.1
	open_on A 10.0.0.10
	run cat "$BATS_TEST_TMPDIR/A.log"
	assert_line --index 0 --partial 'info: connected to'
	assert_line --index 1 --partial 'warning: unable to rebuild tcp.smtp.cdb: tcp.smtp line 1'
	assert_line --index 2 'roamsync: info: resynced 10 entries'
	[ "${#lines[@]}" -eq 3 ]
}
