#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# roamsync with a replicated pair: a private PostgreSQL 15 primary on
# 127.0.0.1 and a streaming standby of it (pg_basebackup -R, synchronous),
# both named in ROAM_PG with target_session_attrs=read-write, as libpq
# documents for failover. A standby refuses LISTEN: roamsync must find the
# primary, and the new one after a failover (the primary killed, the
# standby promoted). Hosts A and B are relay directories with their own
# roamsync and their own SMTP tcpserver -x.

load helpers/common
load helpers/peers
load helpers/pg
load helpers/pgnet

setup_file() {
	load_libs
	need_cmd "$PG_BIN/pg_basebackup"
}

setup() {
	common_setup
	HA=$(mktemp -d /tmp/roamha.XXXXXX)
	chmod 755 "$HA"
	P1=$(free_port)
	until P2=$(free_port) && [ "$P2" != "$P1" ]; do :; done
	pgnet_init "$HA/one" "$P1"
	pgnet_start "$HA/one"
	PG_DB=roam
	pgnet_schema "$HA/one" "$PG_DB"
	pgnet_standby "$HA/one" "$HA/two" "$P2"
	pg_hosts
}

teardown() {
	common_teardown
	pgnet_stop "$HA/two"
	pgnet_stop "$HA/one"
	rm -rf "$HA"
}

# in_recovery DIR: t for a standby, f for a primary.
in_recovery() {
	pgnet_psql "$1" postgres -c 'SELECT pg_is_in_recovery()'
}

@test "with the standby named first, target_session_attrs=read-write connects to the primary" {
	[ "$(in_recovery "$HA/one")" = f ]
	[ "$(in_recovery "$HA/two")" = t ]
	HOST_PG="host=127.0.0.1,127.0.0.1 port=$P2,$P1 dbname=$PG_DB user=$PG_ROLE target_session_attrs=read-write" \
		host_up A
	run cat "$BATS_TEST_TMPDIR/A.log"
	assert_output "roamsync: info: connected to database \"roam\" on \"127.0.0.1\" port \"$P1\" as \"$PG_ROLE\"
roamsync: info: resynced 0 entries"
	# Without it, the standby is taken and refuses LISTEN: one line, retried.
	host_start B "host=127.0.0.1 port=$P2 dbname=$PG_DB user=$PG_ROLE"
	sleep 2
	kill -0 "${HOST_PID[B]}"
	run cat "$BATS_TEST_TMPDIR/B.log"
	[ "${#lines[@]}" -eq 1 ]
	assert_output 'roamsync: warning: unable to listen: ERROR: cannot execute LISTEN during recovery; retrying'
}

@test "failover: the primary killed and the standby promoted during logins on both hosts; roamsync logs one lost line, moves to the new primary, and nothing is lost" {
	HOST_PG="host=127.0.0.1,127.0.0.1 port=$P1,$P2 dbname=$PG_DB user=$PG_ROLE target_session_attrs=read-write" \
		host_up A B
	smtp_up A B
	login_on A 127.0.0.5
	wait_for 2 relay_granted B 127.0.0.5
	logins_on A 1 &
	a=$!
	logins_on B 2 &
	b=$!
	sleep 0.3
	pgnet_stop "$HA/one" immediate
	switch=$(date +%s%N)
	sleep 0.5
	pgnet_promote "$HA/two"
	[ "$(in_recovery "$HA/two")" = f ]
	wait "$a"
	wait "$b"
	all_on() {
		local host=$1 base i
		relay_granted "$host" 127.0.0.5 || return 1
		for base in 1 2; do
			for i in $(seq 1 12); do
				open_on "$host" "127.0.$base.$i" || return 1
			done
		done
	}
	wait_for 10 all_on A
	wait_for 10 all_on B
	echo "# every login on both hosts $((($(date +%s%N) - switch) / 1000000)) ms after the primary was killed" >&3
	for b in 1 2; do
		relay_granted A "127.0.$b.12"
		relay_granted B "127.0.$b.12"
	done
	for h in A B; do
		run cat "$BATS_TEST_TMPDIR/$h.log"
		[ "$(grep -c 'warning:' <<<"$output")" -eq 1 ]
		# Noticed while idle, during a push of logins, or during the
		# read-back that follows a push.
		assert_line --index 2 --regexp '^roamsync: warning: (lost the database|unable to push the changes|unable to read roam\.relay): .*; retrying$'
		assert_line --index 3 "roamsync: info: connected to database \"roam\" on \"127.0.0.1\" port \"$P2\" as \"$PG_ROLE\""
		assert_line --index 4 --regexp '^roamsync: info: resynced [0-9]+ entries$'
	done
	[ "$(pgnet_psql "$HA/two" "$PG_DB" -c 'SELECT count(*) FROM roam.relay WHERE NOT closed')" = 25 ]
}
