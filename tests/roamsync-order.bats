#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# roamsync: the order of opens and closes between hosts. Of an address's
# events the later wins, by times in milliseconds, in the database and on
# every host; a host never merges an older row over a newer event of its
# own, even when it was stopped while both piled up.
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

# row IP: "open" or "closed", as roam.relay has it.
row() {
	psql_admin -c "SELECT CASE WHEN closed THEN 'closed' ELSE 'open' END FROM roam.relay WHERE ip = '$1'"
}

# open_everywhere IP HOST...: open in the database and on each host.
open_everywhere() {
	local ip=$1 h
	shift
	[ "$(row "$ip")" = open ] || return 1
	for h in "$@"; do
		open_on "$h" "$ip" || return 1
	done
}

# closed_everywhere IP HOST...
closed_everywhere() {
	local ip=$1 h
	shift
	[ "$(row "$ip")" = closed ] || return 1
	for h in "$@"; do
		closed_on "$h" "$ip" || return 1
	done
}

@test "a login on one host just after a close on another, in the same second, opens the relay on every host and stays" {
	host_up A B C
	login_on A 10.77.0.1
	wait_for 2 open_on B 10.77.0.1
	wait_for 2 open_on C 10.77.0.1
	on B "$CLEAROPENSMTP" -d 10.77.0.1
	login_on C 10.77.0.1
	wait_for 3 open_everywhere 10.77.0.1 A B C
	sleep 1
	open_everywhere 10.77.0.1 A B C
}

@test "a host stopped while others change things merges their older changes without undoing its own later ones" {
	host_up A B C
	kill -STOP "${HOST_PID[A]}"
	login_on B 10.6.0.1
	on B "$CLEAROPENSMTP" -d 10.6.0.4
	b_pushed() {
		[ "$(row 10.6.0.1)" = open ] && [ "$(row 10.6.0.4)" = closed ]
	}
	wait_for 3 b_pushed
	wait_for 3 open_on C 10.6.0.1
	# Later, on the stopped host: the reverse, each in a later second.
	sleep 1.2
	on A "$CLEAROPENSMTP" -d 10.6.0.1
	login_on A 10.6.0.4
	sleep 0.5
	kill -CONT "${HOST_PID[A]}"
	settled() {
		closed_everywhere 10.6.0.1 A B C && open_everywhere 10.6.0.4 A B C
	}
	wait_for 3 settled
	sleep 1
	settled
}

@test "an open and a close of the same millisecond: the close wins" {
	host_up A B
	t=$(($(date +%s) - 1)).250
	"$HELPERS/outbox-append" "$(host_dir A)/open-smtp.outbox" \
		"$(printf '+10.8.0.1\t%s\n-10.8.0.1\t%s\n-10.8.0.2\t%s\n+10.8.0.2\t%s\n+10.8.0.3\t%s\n' \
			"$t" "$t" "$t" "$t" "$t")"$'\n'
	wait_for 10 open_on B 10.8.0.3
	[ "$(row 10.8.0.1)" = closed ]
	[ "$(row 10.8.0.2)" = closed ]
	closed_on B 10.8.0.1
	closed_on B 10.8.0.2
}
