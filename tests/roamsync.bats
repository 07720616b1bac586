#!/usr/bin/env bats
# roamsync: several hosts sharing the open relay list through PostgreSQL.
# A private PostgreSQL 15 (tests/helpers/pg.bash) for the whole file, a
# database of its own for each test; hosts A, B (and C) are relay
# directories on this machine, each with its own roamsync. Logins go
# through the real chain; the relay is checked with tcprulescheck on each
# host's cdb, as its tcpserver -x would decide, and in some tests by a real
# tcpserver -x per host on its own address (smtp_up), connected to from the
# address that logged in.

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

# log_of NAME: host NAME's roamsync messages.
log_of() {
	cat "$BATS_TEST_TMPDIR/$1.log"
}

# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N).
elapsed_ms() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

@test "roamsync -i creates the schema, may run again, and does what the shipped roamsync.sql does" {
	PG_DB=postgres psql_admin -c 'CREATE DATABASE roam_fresh' -c 'CREATE DATABASE roam_byfile'
	run env ROAM_PG="$(PG_DB=roam_fresh pg_conninfo postgres)" "$ROAMSYNC" -i
	assert_success
	assert_output 'roamsync: info: the schema roam is up to date'
	run env ROAM_PG="$(PG_DB=roam_fresh pg_conninfo postgres)" "$ROAMSYNC" -i
	assert_success
	assert_output 'roamsync: info: the schema roam is up to date'
	PG_DB=roam_byfile psql_admin -f "$TOP/roamsync.sql" 2>/dev/null
	dump() {
		# Less comments and pg_dump's random \restrict keys.
		pg_dump -s -h "$PG_DIR" -U postgres -d "$1" |
			grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict'
	}
	run diff <(dump roam_fresh) <(dump roam_byfile)
	assert_success
	run dump roam_fresh
	assert_line 'GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE roam.relay TO roam_sync;'
	assert_line 'GRANT USAGE ON SEQUENCE roam.relay_seq TO roam_sync;'
	PG_DB=postgres psql_admin -c 'DROP DATABASE roam_fresh' -c 'DROP DATABASE roam_byfile'
}

@test "usage errors exit 100 with one line: an unknown option, ROAM_PG unset, bad minutes, a bad ROAM_RELAY_ENV" {
	run env ROAM_PG=x "$ROAMSYNC" -x
	assert_failure 100
	assert_output 'roamsync: fatal: usage: roamsync [-i] [-m MINUTES] | -V'
	run env -u ROAM_PG "$ROAMSYNC"
	assert_failure 100
	assert_output 'roamsync: fatal: ROAM_PG is not set: it names the database, as a libpq connection string or URI'
	run env ROAM_PG=x "$ROAMSYNC" -m 1h
	assert_failure 100
	assert_output 'roamsync: fatal: bad minutes "1h": not a number of minutes up to 52560000'
	run env ROAM_PG=x ROAM_MINUTES=-1 "$ROAMSYNC"
	assert_failure 100
	run env ROAM_PG=x ROAM_RELAY_ENV='RELAYCLIENT=x' "$ROAMSYNC"
	assert_failure 100
	assert_output 'roamsync: fatal: bad ROAM_RELAY_ENV "RELAYCLIENT=x": not NAME="value",... as tcprules takes'
}

@test "a login on host A opens the relay on host B within a second, as B's tcpserver -x sees it; B logs nothing per address" {
	host_up A B
	smtp_up A B
	relay_denied B 127.0.0.5
	[ ! -s "$(host_dir A)/open-smtp.outbox" ]
	login_on A 127.0.0.5
	start=$(date +%s%N)
	wait_for 1 relay_granted B 127.0.0.5
	echo "# from the end of the login on A to the relay granted by B's SMTP server: $(elapsed_ms "$start") ms" >&3
	relay_granted A 127.0.0.5
	relay_denied B 127.0.0.6
	open_on A 127.0.0.5
	closed_on B 127.0.0.6
	run on B list_ips
	assert_output '127.0.0.5'
	# B gives the arrival its own rule.
	[ "$(on B list_ts 127.0.0.5)" = "$(on A list_ts 127.0.0.5)" ]
	run log_of B
	assert_line --index 0 --regexp '^roamsync: info: connected to database "roam_t[0-9]+" on "/tmp/roampg\.[^"]*" port "5432" as "roamhost"$'
	assert_line --index 1 'roamsync: info: resynced 0 entries'
	[ "${#lines[@]}" -eq 2 ]
	# The outbox was taken and emptied.
	[ ! -s "$(host_dir A)/open-smtp.outbox" ]
	assert_not_exist "$(host_dir A)/open-smtp.outbox.sending"
}

@test "a refresh on A extends the entry on B" {
	old=$(($(date +%s) - 3600))
	printf '127.0.0.5:allow,RELAYCLIENT=""\t%s\n' "$old" >"$(host_dir A)/open-smtp"
	on A "$CLEAROPENSMTP" -f
	host_up A B
	# A's list as it was when roamsync started: at its time.
	wait_for 2 open_on B 127.0.0.5
	ts=$(on B list_ts 127.0.0.5)
	[ "$ts" -ge $((old - 2)) ] && [ "$ts" -le $((old + 2)) ]
	login_on A 127.0.0.5
	now=$(date +%s)
	b_fresh() {
		[ "$(on B list_ts 127.0.0.5)" -ge $((now - 3)) ]
	}
	wait_for 2 b_fresh
	run on B "$CLEAROPENSMTP" -m 30 -n
	assert_output ''
}

@test "clearopensmtp -d on A closes on B; a later login on B opens it again on both" {
	host_up A B
	login_on A 127.0.0.5
	wait_for 2 open_on B 127.0.0.5
	run on A "$CLEAROPENSMTP" -d 127.0.0.5
	assert_success
	closed_on A 127.0.0.5
	wait_for 2 closed_on B 127.0.0.5
	run on B list_ips
	assert_output ''
	[ "$(psql_admin -c "SELECT closed FROM roam.relay WHERE ip = '127.0.0.5'")" = t ]
	# A login must come more than 2 s after a close to reopen: both times
	# are whole seconds of two clocks.
	sleep 3
	login_on B 127.0.0.5
	wait_for 2 open_on A 127.0.0.5
	open_on B 127.0.0.5
}

@test "a close of an address not open here reaches the others; one made during an outage too" {
	host_up A B
	login_on B 127.0.0.5
	wait_for 2 open_on A 127.0.0.5
	kill -STOP "${HOST_PID[A]}"
	on A "$CLEAROPENSMTP" -d 127.0.0.5
	on A "$CLEAROPENSMTP" -d 127.0.0.6
	sleep 1
	open_on B 127.0.0.5
	kill -CONT "${HOST_PID[A]}"
	wait_for 2 closed_on B 127.0.0.5
	closed_on A 127.0.0.5
	[ "$(psql_admin -c "SELECT count(*) FROM roam.relay WHERE closed")" = 2 ]
}

@test "a close made while the database restarts reaches the others when it is back" {
	host_up A B
	login_on A 127.0.0.5
	wait_for 2 open_on B 127.0.0.5
	pg_crash
	run on A "$CLEAROPENSMTP" -d 127.0.0.5
	assert_success
	closed_on A 127.0.0.5
	open_on B 127.0.0.5
	pg_start
	wait_for 3 closed_on B 127.0.0.5
	closed_on A 127.0.0.5
}

@test "two hosts closing and reopening the same address at once agree with the database after each round" {
	host_up A B
	login_on A 127.0.0.5
	wait_for 2 open_on B 127.0.0.5
	agree() {
		local closed
		closed=$(psql_admin -c "SELECT closed FROM roam.relay WHERE ip = '127.0.0.5'")
		if [ "$closed" = t ]; then
			closed_on A 127.0.0.5 && closed_on B 127.0.0.5
		else
			open_on A 127.0.0.5 && open_on B 127.0.0.5
		fi
	}
	for round in 1 2 3 4 5; do
		on A "$CLEAROPENSMTP" -d 127.0.0.5 &
		c=$!
		login_on B 127.0.0.5 &
		l=$!
		on B "$CLEAROPENSMTP" -d 127.0.0.5 &
		d=$!
		wait "$c" "$l" "$d"
		wait_for 3 agree
	done
}

@test "roamsync SIGSTOPped for 5 s (a partition) and continued catches up both ways" {
	host_up A B
	kill -STOP "${HOST_PID[B]}"
	login_on A 127.0.0.5
	login_on B 127.0.0.6
	sleep 5
	closed_on B 127.0.0.5
	kill -CONT "${HOST_PID[B]}"
	wait_for 2 open_on B 127.0.0.5
	wait_for 2 open_on A 127.0.0.6
}

@test "roamsync killed with -9 and restarted converges: logins made meanwhile on either host reach both" {
	host_up A B
	login_on A 127.0.0.5
	wait_for 2 open_on B 127.0.0.5
	kill -9 "${HOST_PID[A]}"
	login_on A 127.0.0.6
	login_on B 127.0.0.7
	sleep 0.5
	closed_on B 127.0.0.6
	closed_on A 127.0.0.7
	host_up A
	wait_for 2 open_on B 127.0.0.6
	wait_for 2 open_on A 127.0.0.7
	run on A list_ips
	assert_output $'127.0.0.5\n127.0.0.6\n127.0.0.7'
}

@test "an open-smtp.outbox.sending left by a killed roamsync is pushed first when it starts again" {
	d=$(host_dir A)
	now=$(date +%s)
	printf '127.0.0.5:allow,RELAYCLIENT=""\t%s\n-127.0.0.9\t%s\n' "$now" "$now" >"$d/open-smtp.outbox.sending"
	printf '127.0.0.6:allow,RELAYCLIENT=""\t%s\n' "$now" >"$d/open-smtp.outbox"
	chmod 600 "$d/open-smtp.outbox.sending" "$d/open-smtp.outbox"
	host_up A B
	wait_for 2 open_on B 127.0.0.5
	wait_for 2 open_on B 127.0.0.6
	assert_not_exist "$d/open-smtp.outbox.sending"
	run psql_admin -c "SELECT ip || ' ' || closed FROM roam.relay ORDER BY ip"
	assert_output $'127.0.0.5 false\n127.0.0.6 false\n127.0.0.9 true'
}

@test "the addresses a host opened before its roamsync ever ran reach the others when it starts" {
	login_on A 127.0.0.5
	login_on A 127.0.0.6
	assert_not_exist "$(host_dir A)/open-smtp.outbox"
	host_up B A
	wait_for 2 open_on B 127.0.0.5
	wait_for 2 open_on B 127.0.0.6
}

@test "PostgreSQL stopped with -m immediate during logins and started again: nothing lost, one warning per outage" {
	host_up A B
	logins_on A 1 &
	a=$!
	logins_on B 2 &
	b=$!
	sleep 0.5
	pg_crash
	sleep 2
	# Meanwhile every login opens the relay on its own host.
	open_on A 127.0.1.1
	open_on B 127.0.2.1
	pg_start
	wait "$a"
	wait "$b"
	back=$(date +%s%N)
	all_on() {
		local host=$1 base i
		for base in 1 2; do
			for i in $(seq 1 12); do
				open_on "$host" "127.0.$base.$i" || return 1
			done
		done
	}
	wait_for 5 all_on A
	wait_for 5 all_on B
	echo "# converged $(elapsed_ms "$back") ms after the server and the logins were back" >&3
	for h in A B; do
		run log_of "$h"
		[ "$(grep -c 'warning:' <<<"$output")" -eq 1 ]
		assert_line --partial 'warning: lost the database: '
		[ "$(grep -c 'info: connected to' <<<"$output")" -eq 2 ]
	done
	[ "$(psql_admin -c 'SELECT count(*) FROM roam.relay WHERE NOT closed')" = 24 ]
}

@test "with roamsync stopped, or the database down, a host works as a single host" {
	login_on A 127.0.0.5
	open_on A 127.0.0.5
	pg_crash
	host_start A
	host_start B
	wait_for 5 grep -q 'unable to connect to the database' "$BATS_TEST_TMPDIR/A.log"
	SECONDS=0
	login_on A 127.0.0.6
	[ "$SECONDS" -le 1 ]
	open_on A 127.0.0.6
	run on A "$CLEAROPENSMTP" -d 127.0.0.5
	assert_success
	closed_on A 127.0.0.5
	closed_on B 127.0.0.6
	pg_start
	wait_for 5 open_on B 127.0.0.6
	run log_of A
	assert_line --index 0 --partial 'roamsync: warning: unable to connect to the database: connection to server on socket'
	assert_line --index 0 --partial '; retrying'
	[ "$(grep -c warning: "$BATS_TEST_TMPDIR/A.log")" -eq 1 ]
}

@test "rows that are not addresses are refused with one warning each and never become rules" {
	host_up A
	psql_admin <<'SQL'
INSERT INTO roam.relay (ip, at) SELECT v, floor(extract(epoch FROM now())) FROM unnest(ARRAY[
	'', '1.2.3.', '=', '=.example.com', '1.2.3.4-7', 'x@1.2.3.4',
	'127.0.0.9:allow,QMAILQUEUE="/bin/sh"', E'127.0.0.10\n', ' 127.0.0.12',
	'0/0', 'deny', repeat('9', 5000), E'\x01\x1b[31m', '127.0.0.11'
]) AS v;
SQL
	wait_for 2 open_on A 127.0.0.11
	run on A list_ips
	assert_output '127.0.0.11'
	run grep -c 'roamsync: warning: refusing a row of roam.relay: not an IP address: ' "$BATS_TEST_TMPDIR/A.log"
	assert_output 13
	run log_of A
	assert_line 'roamsync: warning: refusing a row of roam.relay: not an IP address: ""'
	assert_line 'roamsync: warning: refusing a row of roam.relay: not an IP address: "127.0.0.9:allow,QMAILQUEUE=\x22/bin/sh\x22"'
	assert_line 'roamsync: warning: refusing a row of roam.relay: not an IP address: "\x01\x1b[31m"'
	# Nothing but the good address reaches the cdb: no default rule.
	run cdb -l "$(host_dir A)/tcp.smtp.cdb"
	assert_output '+10:127.0.0.11'
	run on A decision 10.9.9.9
	refute_output --partial RELAYCLIENT
}

@test "a role without rights gets one clear line, writes nothing locally, and connects once it is given them" {
	host_start A "$(pg_conninfo "$PG_NORIGHTS")"
	wait_for 5 grep -q warning: "$BATS_TEST_TMPDIR/A.log"
	sleep 2
	run log_of A
	assert_output 'roamsync: warning: unable to expire roam.relay: ERROR: permission denied for schema roam; retrying'
	kill -0 "${HOST_PID[A]}"
	run ls -A "$(host_dir A)"
	assert_output 'open-smtp.outbox'
	psql_admin -c "GRANT roam_sync TO $PG_NORIGHTS"
	wait_for 3 host_synced A 0
	PG_DB=postgres psql_admin -c "REVOKE roam_sync FROM $PG_NORIGHTS"
}

@test "a malformed ROAM_PG gives one clear line and retries; no password is ever logged" {
	host_start A "host=$PG_DIR password=S3cr3t pass word"
	host_start B 'postgresql://u:S3cr3t@[::1/db'
	host_start C "$(pg_conninfo) password=S3cr3t dbname=nosuchdb"
	PGPASSWORD=Env5ecret host_start D "host=$PG_DIR dbname=nosuchdb2 user=Env5ecret"
	sleep 3
	for h in A B C D; do
		kill -0 "${HOST_PID[$h]}"
		run log_of "$h"
		[ "${#lines[@]}" -eq 1 ]
		refute_output --partial S3cr3t
		refute_output --partial Env5ecret
		refute_output --partial 'word'
	done
	run log_of A
	assert_output 'roamsync: warning: unable to use ROAM_PG: missing "***" after "***" in connection info string; retrying'
	run log_of B
	assert_output --regexp '^roamsync: warning: unable to use ROAM_PG: .*; retrying$'
	run log_of C
	assert_output 'roamsync: warning: unable to connect to the database: connection to server on socket "'"$PG_DIR"'/.s.PGSQL.5432" failed: FATAL: database "nosuchdb" does not exist; retrying'
	# Its user's name is PGPASSWORD's value: masked too.
	run log_of D
	assert_output --partial 'FATAL: role "***" does not exist'
}

@test "rows older than the expiry age are deleted from the database, and never merged" {
	now=$(date +%s)
	psql_admin -c "INSERT INTO roam.relay (ip, at) VALUES ('127.0.0.5', $((now - 4 * 3600))), ('127.0.0.6', $((now - 3600))), ('127.0.0.7', $((now - 7200)))"
	host_up A
	run on A list_ips
	assert_output $'127.0.0.6\n127.0.0.7'
	run psql_admin -c 'SELECT ip FROM roam.relay ORDER BY ip'
	assert_output $'127.0.0.6\n127.0.0.7'
	host_start B "$(pg_conninfo)"
	kill "${HOST_PID[A]}"
	ROAM_MINUTES=90 host_up C
	run on C list_ips
	assert_output '127.0.0.6'
	run psql_admin -c 'SELECT ip FROM roam.relay ORDER BY ip'
	assert_output '127.0.0.6'
}

@test "idle, roamsync blocks in poll(): no CPU time, no system call" {
	host_up A
	pid=${HOST_PID[A]}
	sleep 0.5
	cpu() {
		awk '{ print $14 + $15 }' "/proc/$pid/stat"
	}
	before=$(cpu)
	run timeout 3 strace -qq -p "$pid"
	after=$(cpu)
	[ "$before" = "$after" ]
	# Only the poll it was in, restarted once strace attached.
	[ "$(grep -cv -e '^restart_syscall' -e '<detached' <<<"$output")" -eq 0 ]
}

@test "three hosts: 90 logins at once, 30 on each: all 90 on every host within 5 s of the last, each host's tcpserver -x relaying for them" {
	host_up A B C
	smtp_up A B C
	# Waits for its own logins only: roamsync runs in the background too.
	burst() {
		local i pids=()
		for i in $(seq 1 30); do
			on "$1" login "127.0.$2.$i" good &
			pids+=($!)
		done
		wait "${pids[@]}"
	}
	begin=$(date +%s%N)
	burst A 1 &
	a=$!
	burst B 2 &
	b=$!
	burst C 3 &
	c=$!
	wait "$a" "$b" "$c"
	for h in A B C; do
		on "$h" wait_recorders
	done
	logins=$(elapsed_ms "$begin")
	start=$(date +%s%N)
	everywhere() {
		local h n
		for h in A B C; do
			n=$(on "$h" list_ips | wc -l)
			[ "$n" -eq 90 ] || return 1
		done
	}
	wait_for 5 everywhere
	echo "# 90 logins at once on 3 hosts took $logins ms; all 90 on every host $(elapsed_ms "$start") ms after the last" >&3
	for h in A B C; do
		for b in 1 2 3; do
			open_on "$h" "127.0.$b.30"
			relay_granted "$h" "127.0.$b.$((RANDOM % 30 + 1))"
		done
		relay_denied "$h" 127.0.4.1
	done
}
