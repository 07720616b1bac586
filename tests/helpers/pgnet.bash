# SPDX-License-Identifier: ISC
# Private PostgreSQL 15 servers on TCP (127.0.0.1) for the roamsync tests
# that need more than pg.bash's one Unix-socket server: TLS with a test CA,
# password authentication, a primary with a streaming standby. Each server
# lives in a directory of its own (DIR/data, its socket in DIR, its log
# DIR/log), runs as pg_as's user, and is stopped by its PID. Load after
# helpers/pg.
# shellcheck shell=bash
# shellcheck disable=SC2034

# pgnet_own DIR: DIR made, for the server's user.
pgnet_own() {
	mkdir -p "$1"
	chmod 755 "$1"
	[ "$(id -u)" != 0 ] || chown nobody "$1"
}

# pgnet_conf DIR PORT: DIR's server listens on 127.0.0.1:PORT and on a
# socket in DIR. Later settings in postgresql.conf win: a standby's copy
# gets its own.
pgnet_conf() {
	cat >>"$1/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$1'
fsync = off
CONF
}

# pgnet_init DIR PORT: a new cluster in DIR/data, trust for everyone (the
# caller may replace pg_hba.conf), listening as pgnet_conf says.
pgnet_init() {
	need_cmd psql "$PG_BIN/initdb" "$PG_BIN/pg_ctl" setpriv
	pgnet_own "$1"
	pg_as "$PG_BIN/initdb" -D "$1/data" -A trust -U postgres \
		--no-sync -E UTF8 >"$1/initdb.log" 2>&1 || {
		cat "$1/initdb.log" >&2
		return 1
	}
	pgnet_conf "$1" "$2"
}

# pgnet_start DIR: DIR's server started; waits until it accepts
# connections (a standby: until it accepts read-only ones).
pgnet_start() {
	pg_as "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/log" -w start >/dev/null || {
		tail -n 20 "$1/log" >&2
		return 1
	}
}

# pgnet_stop DIR [immediate]: DIR's postmaster stopped by its PID, if it
# runs: fast shutdown (SIGINT), or as a crash would stop it (SIGQUIT, what
# pg_ctl -m immediate sends); waits until it is gone.
pgnet_stop() {
	local pid sig=INT
	[ "${2-}" != immediate ] || sig=QUIT
	pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -"$sig" "$pid"
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || :
}

# pgnet_psql DIR DB [ARGS...]: psql as the superuser through DIR's socket,
# stopping at the first error.
pgnet_psql() {
	local dir=$1 db=$2 port
	shift 2
	port=$(pgnet_port "$dir")
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres \
		-d "$db" "$@"
}

# pgnet_schema DIR DB: database DB with roamsync's schema and the roles of
# pg.bash ($PG_ROLE in roam_sync).
pgnet_schema() {
	pgnet_psql "$1" postgres -c "CREATE DATABASE $2"
	pgnet_psql "$1" postgres <<SQL
CREATE ROLE roam_sync NOLOGIN;
CREATE ROLE $PG_ROLE LOGIN IN ROLE roam_sync;
SQL
	ROAM_PG="host=$1 port=$(pgnet_port "$1") dbname=$2 user=postgres" \
		"$ROAMSYNC" -i >/dev/null 2>&1
}

# pgnet_port DIR: the port DIR's server listens on.
pgnet_port() {
	sed -n "s/^port = //p" "$1/data/postgresql.conf" | tail -n 1
}

# pgnet_ca DIR NAME: a test certificate authority, DIR/NAME.crt and
# DIR/NAME.key (P-256, one day).
pgnet_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 1 -subj "/CN=roamsync test CA $2" \
		-keyout "$1/$2.key" -out "$1/$2.crt" 2>/dev/null
}

# pgnet_cert DIR CA NAME SAN: a server certificate DIR/NAME.crt and its key
# DIR/NAME.key, signed by DIR/CA, for the subjectAltName SAN (as
# "DNS:localhost,IP:127.0.0.1").
pgnet_cert() {
	local dir=$1 ca=$2 name=$3 san=$4
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -subj "/CN=${san#*:}" -keyout "$dir/$name.key" \
		-out "$dir/$name.csr" 2>/dev/null &&
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" \
			-CAkey "$dir/$ca.key" -CAcreateserial -days 1 \
			-extfile <(printf 'subjectAltName=%s\n' "$san") \
			-out "$dir/$name.crt" 2>/dev/null
}

# pgnet_standby PRIMARY DIR PORT: a streaming standby of PRIMARY's server in
# DIR, listening on PORT, made by pg_basebackup -R (its primary_conninfo and
# standby.signal) and started; then PRIMARY waits for it on every commit
# (synchronous_standby_names, set on PRIMARY alone), so that what a commit
# returned is on both when PRIMARY dies.
pgnet_standby() {
	local primary=$1 dir=$2 port=$3
	pgnet_own "$dir"
	pg_as "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$(pgnet_port "$primary")" \
		-U postgres -D "$dir/data" -R -X stream -c fast \
		>"$dir/basebackup.log" 2>&1 || {
		cat "$dir/basebackup.log" >&2
		return 1
	}
	pgnet_conf "$dir" "$port"
	pgnet_start "$dir"
	pgnet_psql "$primary" postgres \
		-c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
		-c 'SELECT pg_reload_conf()' >/dev/null
}

# pgnet_promote DIR: DIR's standby made a primary (pg_ctl promote), once it
# accepts writes.
pgnet_promote() {
	pg_as "$PG_BIN/pg_ctl" -D "$1/data" -w promote >/dev/null
}
