# SPDX-License-Identifier: ISC
# Shared set-up for the roamsync tests: a private PostgreSQL 15 from
# Debian's packages, run as an unprivileged user with its socket in a temp
# dir (no TCP), and several hosts on one machine: one ROAM_DIR and one
# roamsync each. Load after helpers/common and helpers/peers.
# shellcheck shell=bash
# HOST_PID is the tests'; status and output are bats' run's.
# shellcheck disable=SC2034,SC2154

PG_BIN=/usr/lib/postgresql/15/bin
ROAMSYNC=$BIN_DIR/roamsync
# The login role roamsync uses (in roam_sync), and one with no rights.
PG_ROLE=roamhost
PG_NORIGHTS=roamnobody

# pg_as CMD...: as the server's owner: nobody when the tests run as root
# (initdb refuses root), else the tests' own user.
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
	else
		"$@"
	fi
}

# pg_setup_file: a cluster for the whole file, in $PG_DIR, started; the
# roles made. Call from setup_file.
pg_setup_file() {
	need_cmd psql "$PG_BIN/initdb" "$PG_BIN/pg_ctl" setpriv
	PG_DIR=$(mktemp -d /tmp/roampg.XXXXXX)
	chmod 755 "$PG_DIR"
	[ "$(id -u)" != 0 ] || chown nobody "$PG_DIR"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres \
		--no-sync -E UTF8 >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		return 1
	}
	export PG_DIR
	pg_start
	PG_DB=postgres psql_admin <<SQL
CREATE ROLE roam_sync NOLOGIN;
CREATE ROLE $PG_ROLE LOGIN IN ROLE roam_sync;
CREATE ROLE $PG_NORIGHTS LOGIN;
SQL
	echo "# $("$PG_BIN/postgres" --version), socket in $PG_DIR" >&3
}

# pg_teardown_file: the server stopped by its PID, its directory removed.
pg_teardown_file() {
	[ -n "${PG_DIR-}" ] || return 0
	pg_stop
	rm -rf "$PG_DIR"
}

# pg_start: the server, on a Unix socket in $PG_DIR only; waits until it
# accepts connections.
pg_start() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
		-o "-k $PG_DIR -c listen_addresses='' -p 5432 -c fsync=off" \
		start >/dev/null
}

# pg_crash: stopped as a crash would stop it (pg_ctl stop -m immediate).
pg_crash() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null
}

# pg_stop: the postmaster stopped by its PID (fast shutdown), if running.
pg_stop() {
	local pid
	pid=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -INT "$pid"
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || :
}

# psql_admin [ARGS...]: psql as the superuser in database $PG_DB (the
# test's own), stopping at the first error.
psql_admin() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -p 5432 -U postgres \
		-d "${PG_DB:-postgres}" "$@"
}

# pg_conninfo [ROLE]: ROAM_PG for the test's database.
pg_conninfo() {
	echo "host=$PG_DIR port=5432 dbname=$PG_DB user=${1:-$PG_ROLE}"
}

# pg_setup_test: a database of the test's own, with the schema. Call from
# setup.
pg_setup_test() {
	local db=roam_t$BATS_TEST_NUMBER
	PG_DB=postgres psql_admin -c "DROP DATABASE IF EXISTS $db" \
		-c "CREATE DATABASE $db"
	PG_DB=$db
	ROAM_PG=$(pg_conninfo postgres) "$ROAMSYNC" -i 2>/dev/null
	pg_hosts
}

# pg_hosts: the relay directories of hosts A to D, made; none running.
pg_hosts() {
	declare -gA HOST_DIR HOST_PID
	HOST_DIR=()
	HOST_PID=()
	for name in A B C D; do
		HOST_DIR[$name]=$BATS_TEST_TMPDIR/host-$name
		mkdir -m 755 "${HOST_DIR[$name]}"
	done
}

# host_dir NAME: host NAME's relay directory (A, B, C or D).
host_dir() {
	echo "${HOST_DIR[$1]}"
}

# host_start NAME [ROAM_PG]: roamsync for host NAME in the background, its
# messages in $BATS_TEST_TMPDIR/NAME.log; its PID in HOST_PID and in PIDS.
# ROAM_PG defaults to $HOST_PG, else to pg_conninfo's. Does not wait for it
# to connect.
host_start() {
	local name=$1 conninfo=${2:-${HOST_PG:-$(pg_conninfo)}}
	ROAM_DIR=${HOST_DIR[$name]} ROAM_PG=$conninfo "$ROAMSYNC" \
		2>>"$BATS_TEST_TMPDIR/$name.log" 3>&- &
	HOST_PID[$name]=$!
	PIDS+=($!)
}

# host_up NAME...: started, and connected (its log says it resynced), 10 s
# at most each.
host_up() {
	local name before
	for name in "$@"; do
		before=$(host_syncs "$name")
		host_start "$name"
		wait_for 10 host_synced "$name" "$before" || {
			cat "$BATS_TEST_TMPDIR/$name.log" >&2
			return 1
		}
	done
}

# host_syncs NAME: how many times its roamsync has resynced so far.
host_syncs() {
	local n
	n=$(grep -c 'info: resynced' "$BATS_TEST_TMPDIR/$1.log" 2>/dev/null)
	echo "${n:-0}"
}

# host_synced NAME N: it has resynced more than N times.
host_synced() {
	[ "$(host_syncs "$1")" -gt "$2" ]
}

# on NAME CMD...: CMD with ROAM_DIR set to host NAME's directory.
on() {
	local name=$1
	shift
	ROAM_DIR=${HOST_DIR[$name]} "$@"
}

# wait_for SECONDS CMD...: until CMD succeeds, polling every 20 ms; fails
# after SECONDS.
wait_for() {
	local limit=$1 end
	shift
	end=$(($(date +%s%N) + limit * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# login_on NAME IP: a good POP3 login through the real chain on host NAME;
# returns once its recorder is done.
login_on() {
	on "$1" login "$2" good
	[ "$status" -eq 0 ] || {
		echo "login from $2 on $1 failed: $output" >&2
		return 1
	}
	on "$1" wait_recorders
}

# logins_on NAME N: 12 logins on host NAME, one each 0.1 s, from
# 127.0.N.1 to 127.0.N.12: logins going on while something fails.
logins_on() {
	local i
	for i in $(seq 1 12); do
		login_on "$1" "127.0.$2.$i" || return 1
		sleep 0.1
	done
}

# open_on NAME IP: the relay is open for IP in host NAME's cdb.
open_on() {
	on "$1" relay_open "$2"
}

# closed_on NAME IP
closed_on() {
	! on "$1" relay_open "$2"
}

# smtp_addr NAME: host NAME's SMTP address: 127.0.10.1 for A, .2 for B...
smtp_addr() {
	local n
	n=$(($(printf '%d' "'$1") - 64))
	echo "127.0.10.$n"
}

# smtp_up NAME...: each host's SMTP side, as qmail-smtpd's would run: a
# real tcpserver -x on the host's tcp.smtp.cdb, on the host's own address
# (smtp_addr) and port $SMTP_PORT, running probe-env, which says whether
# tcpserver set RELAYCLIENT. tcpserver -x drops every connection while the
# cdb is missing: it is made first (clearopensmtp -f) if need be.
smtp_up() {
	local name addr pid
	need_cmd tcpserver tcpclient
	: "${SMTP_PORT:=$(free_port)}"
	for name in "$@"; do
		addr=$(smtp_addr "$name")
		[ -e "${HOST_DIR[$name]}/tcp.smtp.cdb" ] ||
			on "$name" "$CLEAROPENSMTP" -f || return 1
		serve pid "$addr" "$SMTP_PORT" "$BATS_TEST_TMPDIR/smtp-$name.log" \
			tcpserver -R -H -x "${HOST_DIR[$name]}/tcp.smtp.cdb" \
			"$addr" "$SMTP_PORT" "$HELPERS/probe-env" || return 1
	done
}

# smtp_says NAME IP: what host NAME's SMTP server says to a client
# connecting from IP (tcpclient bound to IP): "RELAYCLIENT set for IP" or
# "RELAYCLIENT unset for IP".
smtp_says() {
	probe_via tcpclient "$2" "$(smtp_addr "$1")" "$SMTP_PORT"
}

# relay_granted NAME IP: host NAME's SMTP server lets a client from IP relay.
relay_granted() {
	[ "$(smtp_says "$1" "$2")" = "RELAYCLIENT set for $2" ]
}

# relay_denied NAME IP: it answers a client from IP, without RELAYCLIENT.
relay_denied() {
	[ "$(smtp_says "$1" "$2")" = "RELAYCLIENT unset for $2" ]
}
