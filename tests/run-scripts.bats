#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The shipped ways of running roamsync, as INSTALL installs them:
# conf-examples/roamsync-run with roamsync-log-run under daemontools'
# svscan, and conf-examples/roamsync.service under systemd's own checks.
# Each runs as written, in a private mount namespace
# (tests/helpers/as-installed) where /var/qmail/roam is host B's relay
# directory, /usr/local/bin holds this build and qmaill exists; host A is an
# ordinary roamsync; both share the private PostgreSQL of
# tests/helpers/pg.bash, named as INSTALL says, by root's
# ~/.pg_service.conf (service=roam).

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
	[ "$(id -u)" = 0 ] || skip "needs root: a private mount namespace"
	need_cmd unshare
	pg_setup_test
	# Root's home, with the service file of INSTALL.
	ROOT_HOME=$BATS_TEST_TMPDIR/home
	mkdir -m 700 "$ROOT_HOME"
	printf '%s\n' '[roam]' "host=$PG_DIR" port=5432 "dbname=$PG_DB" \
		"user=$PG_ROLE" >"$ROOT_HOME/.pg_service.conf"
	SVC=
}

teardown() {
	svscan_down
	common_teardown
}

# installed CMD...: CMD in the namespace, with root's HOME, host B's
# directory as /var/qmail/roam. unshare and as-installed exec: in the
# background, $! is CMD's PID.
installed() {
	HOME=$ROOT_HOME exec unshare --mount --propagation private \
		"$HELPERS/as-installed" "$(host_dir B)" "$@"
}

# svscan_down: the services of $SVC stopped through their supervise (svc
# -dx: TERM to the program by its PID, then supervise exits), svscan
# first, so that it starts nothing again; waits until every supervise is
# gone.
svscan_down() {
	local s
	[ -n "${SVC-}" ] || return 0
	stop_pid "$SVSCAN"
	for s in "$SVC/roamsync" "$SVC/roamsync/log"; do
		svc -dx "$s" 2>/dev/null || :
	done
	wait_for 10 svscan_gone
}

svscan_gone() {
	! svok "$SVC/roamsync" 2>/dev/null && ! svok "$SVC/roamsync/log" 2>/dev/null
}

@test "conf-examples/roamsync-run under svscan, with roamsync-log-run as its log: B follows A's logins and multilog keeps roamsync's lines" {
	need_cmd svscan svc svok multilog setuidgid
	SVC=$BATS_TEST_TMPDIR/service
	mkdir -p "$SVC/roamsync/log/main"
	install -m 755 "$TOP/conf-examples/roamsync-run" "$SVC/roamsync/run"
	install -m 755 "$TOP/conf-examples/roamsync-log-run" "$SVC/roamsync/log/run"
	# qmaill has nobody's ids in the namespace.
	chown nobody "$SVC/roamsync/log/main"
	host_up A
	(installed svscan "$SVC" 3>&-) &
	SVSCAN=$!
	PIDS+=("$SVSCAN")
	wait_for 5 svok "$SVC/roamsync"
	[ "$(ps -o comm= -p "$SVSCAN")" = svscan ]
	login_on A 127.0.0.5
	wait_for 10 open_on B 127.0.0.5
	log=$SVC/roamsync/log/main/current
	wait_for 5 grep -q 'roamsync: info: resynced' "$log"
	run cat "$log"
	assert_line --index 0 --regexp '^@[0-9a-f]{24} roamsync: info: connected to database "roam_t[0-9]+" on "/tmp/roampg\.[^"]*" port "5432" as "roamhost"$'
	assert_line --index 1 --regexp '^@[0-9a-f]{24} roamsync: info: resynced [01] entries$'
	# multilog runs as qmaill (nobody here), roamsync as root.
	[ "$(stat -c %U "$log")" = nobody ]
	# A later login on B reaches A: B's outbox is the service's.
	on B login_on B 127.0.0.6
	wait_for 5 open_on A 127.0.0.6
	svscan_down
	svscan_gone
	SVC=
	run pgrep -f "$BATS_TEST_TMPDIR"
	assert_failure
}

@test "conf-examples/roamsync.service passes systemd-analyze verify; its ExecStart, run with its Environment, syncs" {
	need_cmd systemd-analyze
	unit=$TOP/conf-examples/roamsync.service
	run installed systemd-analyze verify "$unit"
	assert_success
	assert_output ''
	# Environment= and ExecStart= as written, each a single word here.
	mapfile -t envs < <(sed -n 's/^Environment=//p' "$unit")
	exe=$(sed -n 's/^ExecStart=//p' "$unit")
	[ "${#envs[@]}" -eq 2 ] && [ "$exe" = /usr/local/bin/roamsync ]
	host_up A
	(installed env -i HOME="$ROOT_HOME" "${envs[@]}" "$exe" \
		2>>"$BATS_TEST_TMPDIR/unit.log" 3>&-) &
	PIDS+=($!)
	login_on A 127.0.0.7
	wait_for 10 open_on B 127.0.0.7
	run cat "$BATS_TEST_TMPDIR/unit.log"
	assert_line --index 0 --partial 'roamsync: info: connected to database "roam_t'
	[ "$(ps -o args= -p "${PIDS[-1]}")" = /usr/local/bin/roamsync ]
	# A unit that names a missing program fails the check.
	sed 's|^ExecStart=.*|ExecStart=/usr/local/bin/nosuchroamsync|' "$unit" \
		>"$BATS_TEST_TMPDIR/roamsync.service"
	run installed systemd-analyze verify "$BATS_TEST_TMPDIR/roamsync.service"
	assert_failure
	assert_output --partial 'nosuchroamsync is not executable'
}
