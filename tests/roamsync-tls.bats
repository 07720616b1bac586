#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# roamsync over TCP with TLS and a password, as INSTALL sets it up: a
# private PostgreSQL 15 on 127.0.0.1 (tests/helpers/pgnet.bash) with a
# server certificate from a test CA made with openssl, a pg_hba.conf that
# lets the hosts' role in over TLS only (hostssl, scram-sha-256), and the
# password in a password file, never in ROAM_PG.

load helpers/common
load helpers/peers
load helpers/pg
load helpers/pgnet

# The role the hosts log in as, and its password.
TLS_ROLE=roamtls
TLS_PASSWORD=Tls5ecret-pw

setup_file() {
	load_libs
	need_cmd openssl
	PGT=$(mktemp -d /tmp/roamtls.XXXXXX)
	chmod 755 "$PGT"
	export PGT
	PGT_PORT=$(free_port)
	export PGT_PORT
	pgnet_init "$PGT/db" "$PGT_PORT"
	mkdir "$PGT/ca"
	chmod 755 "$PGT/ca"
	pgnet_ca "$PGT/ca" ca
	pgnet_ca "$PGT/ca" otherca
	pgnet_cert "$PGT/ca" ca server DNS:localhost,IP:127.0.0.1
	install -m 600 "$PGT/ca/server.key" "$PGT/db/data/server.key"
	install -m 644 "$PGT/ca/server.crt" "$PGT/db/data/server.crt"
	[ "$(id -u)" != 0 ] || chown nobody "$PGT/db/data/server.key" "$PGT/db/data/server.crt"
	cat >>"$PGT/db/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
password_encryption = 'scram-sha-256'
CONF
	# The superuser through the socket; over TCP, TLS and a password, or
	# nothing.
	printf '%s\n' 'local all all trust' \
		'hostssl all all 127.0.0.1/32 scram-sha-256' >"$PGT/db/data/pg_hba.conf"
	pgnet_start "$PGT/db"
	pgnet_psql "$PGT/db" postgres <<SQL
CREATE ROLE roam_sync NOLOGIN;
CREATE ROLE $TLS_ROLE LOGIN PASSWORD '$TLS_PASSWORD' IN ROLE roam_sync;
SQL
	echo "# $("$PG_BIN/postgres" --version), TLS on 127.0.0.1 port $PGT_PORT" >&3
}

teardown_file() {
	[ -n "${PGT-}" ] || return 0
	pgnet_stop "$PGT/db"
	rm -rf "$PGT"
}

setup() {
	common_setup
	PG_DB=roam_t$BATS_TEST_NUMBER
	pgnet_psql "$PGT/db" postgres -c "CREATE DATABASE $PG_DB"
	ROAM_PG="host=$PGT/db port=$PGT_PORT dbname=$PG_DB user=postgres" \
		"$ROAMSYNC" -i 2>/dev/null
	pg_hosts
	# The password file, as root's ~/.pgpass would be (mode 0600).
	PASSFILE=$BATS_TEST_TMPDIR/pgpass
	printf 'localhost:%s:%s:%s:%s\n' "$PGT_PORT" "$PG_DB" "$TLS_ROLE" \
		"$TLS_PASSWORD" >"$PASSFILE"
	chmod 600 "$PASSFILE"
}

teardown() {
	common_teardown
}

# tls_pg [KEY=VALUE...]: ROAM_PG for the test's database over TLS, checking
# the server's certificate against the test CA and its name (localhost),
# with the settings given after.
tls_pg() {
	echo "host=localhost hostaddr=127.0.0.1 port=$PGT_PORT dbname=$PG_DB" \
		"user=$TLS_ROLE sslmode=verify-full sslrootcert=$PGT/ca/ca.crt $*"
}

# no_secret NAME: host NAME's log holds no password.
no_secret() {
	run cat "$BATS_TEST_TMPDIR/$1.log"
	refute_output --partial "$TLS_PASSWORD"
	refute_output --partial Wr0ng-pw
}

@test "over TLS (sslmode=verify-full, a test CA), a login on A opens the relay on B's tcpserver -x; pg_stat_ssl shows both sessions encrypted" {
	PGPASSFILE=$PASSFILE HOST_PG=$(tls_pg) host_up A B
	smtp_up A B
	login_on A 127.0.0.5
	wait_for 2 relay_granted B 127.0.0.5
	relay_granted A 127.0.0.5
	relay_denied B 127.0.0.6
	run cat "$BATS_TEST_TMPDIR/B.log"
	assert_line --index 0 "roamsync: info: connected to database \"$PG_DB\" on \"localhost\" port \"$PGT_PORT\" as \"$TLS_ROLE\""
	no_secret A
	no_secret B
	run pgnet_psql "$PGT/db" "$PG_DB" -c "SELECT s.ssl, s.version, a.client_addr
		FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
		WHERE a.usename = '$TLS_ROLE' AND a.application_name = 'roamsync'"
	assert_output $'t|TLSv1.3|127.0.0.1\nt|TLSv1.3|127.0.0.1'
	# TLS is required: the same role, password and database in clear are
	# refused by the server.
	run env PGPASSFILE="$PASSFILE" psql -X -c 'SELECT 1' \
		"host=localhost hostaddr=127.0.0.1 port=$PGT_PORT dbname=$PG_DB user=$TLS_ROLE sslmode=disable"
	assert_failure
	assert_output --partial 'no pg_hba.conf entry for host "127.0.0.1", user "roamtls", database "'"$PG_DB"'", no encryption'
}

@test "a server certificate from another CA, or for another name, is refused with one clear line; roamsync retries and connects once the CA is right" {
	root=$BATS_TEST_TMPDIR/root.crt
	cp "$PGT/ca/otherca.crt" "$root"
	PGPASSFILE=$PASSFILE host_start A "$(tls_pg) sslrootcert=$root"
	# The certificate is for localhost and 127.0.0.1, not db.example.
	PGPASSFILE=$PASSFILE host_start B \
		"host=db.example hostaddr=127.0.0.1 port=$PGT_PORT dbname=$PG_DB user=$TLS_ROLE sslmode=verify-full sslrootcert=$PGT/ca/ca.crt"
	sleep 3
	for h in A B; do
		kill -0 "${HOST_PID[$h]}"
		run cat "$BATS_TEST_TMPDIR/$h.log"
		[ "${#lines[@]}" -eq 1 ]
		no_secret "$h"
	done
	run cat "$BATS_TEST_TMPDIR/A.log"
	assert_output --regexp '^roamsync: warning: unable to connect to the database: connection to server at "[^"]*"( \(127\.0\.0\.1\))?, port [0-9]+ failed: SSL error: certificate verify failed; retrying$'
	run cat "$BATS_TEST_TMPDIR/B.log"
	assert_output --regexp '^roamsync: warning: unable to connect to the database: connection to server at "[^"]*"( \(127\.0\.0\.1\))?, port [0-9]+ failed: server certificate for "localhost" \(and 1 other name\) does not match host name "db\.example"; retrying$'
	# Nothing was written to the database meanwhile.
	[ "$(pgnet_psql "$PGT/db" "$PG_DB" -c 'SELECT count(*) FROM roam.relay')" = 0 ]
	# libpq reads the root certificate on every attempt: put the right
	# one in place, and A connects on its next retry.
	cp "$PGT/ca/ca.crt" "$root"
	wait_for 5 host_synced A 0
	run cat "$BATS_TEST_TMPDIR/A.log"
	assert_line --index 1 --partial 'roamsync: info: connected to database'
	no_secret A
}

@test "the password comes from PGPASSFILE or ~/.pgpass (scram-sha-256 over TLS) and is never logged; a wrong one is one clear line until it is fixed" {
	[ "$(pgnet_psql "$PGT/db" postgres -c "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = '$TLS_ROLE'")" = 'SCRAM-SHA-256$' ]
	# A: PGPASSFILE, with a wrong password at first.
	sed -i "s/$TLS_PASSWORD\$/Wr0ng-pw/" "$PASSFILE"
	PGPASSFILE=$PASSFILE host_start A "$(tls_pg)"
	# B: ~/.pgpass of its HOME.
	mkdir -m 700 "$BATS_TEST_TMPDIR/home"
	printf 'localhost:%s:%s:%s:%s\n' "$PGT_PORT" "$PG_DB" "$TLS_ROLE" \
		"$TLS_PASSWORD" >"$BATS_TEST_TMPDIR/home/.pgpass"
	chmod 600 "$BATS_TEST_TMPDIR/home/.pgpass"
	HOME=$BATS_TEST_TMPDIR/home HOST_PG=$(tls_pg) host_up B
	sleep 2
	run cat "$BATS_TEST_TMPDIR/A.log"
	assert_output --regexp '^roamsync: warning: unable to connect to the database: connection to server at "[^"]*"( \(127\.0\.0\.1\))?, port [0-9]+ failed: FATAL: password authentication failed for user "roamtls" password retrieved from file "[^"]*/pgpass"; retrying$'
	no_secret A
	# The right password in the file: the next retry connects.
	sed -i "s/Wr0ng-pw\$/$TLS_PASSWORD/" "$PASSFILE"
	wait_for 5 host_synced A 0
	login_on B 127.0.0.7
	wait_for 2 open_on A 127.0.0.7
	no_secret A
	no_secret B
	run pgnet_psql "$PGT/db" "$PG_DB" -c "SELECT count(*) FROM pg_stat_ssl s
		JOIN pg_stat_activity a USING (pid)
		WHERE a.usename = '$TLS_ROLE' AND s.ssl"
	assert_output 2
}
