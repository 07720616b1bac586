#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Monitoring: clearopensmtp -s (one screen) and -p (node_exporter's textfile
# collector), roamsync -p. The figures are checked against a state planted
# in the list (lines with accounts as the login writes them), the cdb and
# the outbox; the files are served by a private node_exporter from
# Debian's package on loopback, scraped over HTTP, and checked by
# Debian's promtool.

load helpers/common
load helpers/peers
load helpers/pg

NODE_EXPORTER=/usr/bin/prometheus-node-exporter

setup_file() {
	load_libs
	pg_setup_file
}

teardown_file() {
	pg_teardown_file
}

setup() {
	common_setup
	need_cmd promtool "$NODE_EXPORTER" python3
	TF=$BATS_TEST_TMPDIR/textfile
	mkdir -m 755 "$TF"
	NOW=$(date +%s)
	printf '127.:allow\n' >"$ROAM_DIR/tcp.smtp"
}

teardown() {
	[ -z "${NE_PID-}" ] || stop_pid "$NE_PID"
	common_teardown
}

# line IP AGE [ACCOUNT]: a list line as the login writes it, AGE seconds
# old, naming ACCOUNT (in double quotes) if given.
line() {
	local acct=
	[ $# -lt 3 ] || acct=",ROAMUSER=\"$3\""
	printf '%s:allow,RELAYCLIENT="",RBLSMTPD=""%s\t%s\n' "$1" "$acct" \
		$((NOW - $2))
}

# plant: the list, built into the cdb, then two lines more the cdb lacks
# and the outbox's five lines; accounts k01..k12 with k addresses each
# (78), one line with no account, one unreadable line. Ages: 12 lines
# under 10 minutes, 30 under an hour, 30 under three hours, 6 expired
# (k12's first six).
plant() {
	local k i n=0 age
	{
		for k in $(seq 1 12); do
			for i in $(seq 1 "$k"); do
				n=$((n + 1))
				if [ "$n" -le 12 ]; then age=60
				elif [ "$n" -le 42 ]; then age=1200
				elif [ "$n" -le 72 ]; then age=7200
				else age=20000
				fi
				line "10.0.$k.$i" "$age" "$(printf 'k%02d@example.org' "$k")"
			done
		done
		line 10.1.0.1 30
		echo 'not a line'
	} >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -m 100000 -f
	{
		line 10.2.0.1 5 k12@example.org
		line 10.2.0.2 5 k12@example.org
	} >>"$ROAM_DIR/open-smtp"
	printf '+10.3.0.%s\t%s.000\n' 1 "$NOW" 2 "$NOW" 3 "$NOW" >"$ROAM_DIR/open-smtp.outbox"
	printf '+10.3.1.%s\t%s.000\n' 1 "$NOW" 2 "$NOW" >"$ROAM_DIR/open-smtp.outbox.sending"
}

# ne_up: a private node_exporter on loopback, textfile collector only,
# reading $TF; its PID in NE_PID, stopped by teardown.
ne_up() {
	NE_PORT=$(free_port)
	"$NODE_EXPORTER" --web.listen-address "127.0.0.1:$NE_PORT" \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory "$TF" \
		2>>"$BATS_TEST_TMPDIR/node_exporter.log" 3>&- &
	NE_PID=$!
	wait_listen 127.0.0.1 "$NE_PORT"
}

# scrape: node_exporter's samples over HTTP, into $BATS_TEST_TMPDIR/scrape,
# one "NAME{LABELS} VALUE" a line, the value as an integer when it is one.
scrape() {
	python3 - "http://127.0.0.1:$NE_PORT/metrics" >"$BATS_TEST_TMPDIR/scrape" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
for l in text.splitlines():
    if not l or l.startswith('#'):
        continue
    name, _, value = l.rpartition(' ')
    v = float(value)
    print(name, int(v) if v == int(v) else v)
PY
}

# value SERIES: its value in the last scrape; fails if it is missing.
value() {
	# ENVIRON: awk -v would take the backslashes as escapes.
	S=$1 awk 'BEGIN { s = ENVIRON["S"] }
		substr($0, 1, length(s) + 1) == s " " {
		print substr($0, length(s) + 2); found = 1 }
		END { exit !found }' "$BATS_TEST_TMPDIR/scrape"
}

# is SERIES EXPECTED
is() {
	local v
	v=$(value "$1") || fail "no $1 in the scrape: $(cat "$BATS_TEST_TMPDIR/scrape")"
	[ "$v" = "$2" ] || fail "$1 is $v, not $2"
}

@test "clearopensmtp -s shows the ages, the ten accounts with the most addresses, the files, what waits for a build and the outbox, and changes nothing" {
	plant
	before=$(cd "$ROAM_DIR" && ls -l --time-style=+%s.%N && md5sum open-smtp tcp.smtp.cdb)
	run "$CLEAROPENSMTP" -s
	assert_success
	list_size=$(stat -c %s "$ROAM_DIR/open-smtp")
	cdb_size=$(stat -c %s "$ROAM_DIR/tcp.smtp.cdb")
	assert_line --index 0 'open addresses: 81 (expiry after 180 minutes)'
	assert_line --index 1 '  under 10 minutes: 15'
	assert_line --index 2 '  10 to 60 minutes: 30'
	assert_line --index 3 '  60 to 180 minutes: 30'
	assert_line --index 4 '  expired, not yet cleared: 6'
	assert_line --index 5 'unreadable lines: 1'
	assert_line --index 6 'accounts: 12 (in ROAMUSER); addresses without one: 1'
	assert_line --index 7 'the 10 with the most open addresses:'
	assert_line --index 8 '  14 "k12@example.org"'
	assert_line --index 9 '  11 "k11@example.org"'
	assert_line --index 17 '  3 "k03@example.org"'
	refute_line --partial 'k02@'
	assert_line --index 18 --regexp "^open-smtp: $list_size bytes, written [0-9] seconds ago\$"
	assert_line --index 19 --regexp "^tcp.smtp.cdb: $cdb_size bytes, written [0-9] seconds ago\$"
	assert_line --index 20 'waiting for a build: 2 (listed addresses tcp.smtp.cdb lacks)'
	assert_line --index 21 'outbox: 5 lines waiting for roamsync'
	[ "${#lines[@]}" -eq 22 ]
	[ "$(cd "$ROAM_DIR" && ls -l --time-style=+%s.%N && md5sum open-smtp tcp.smtp.cdb)" = "$before" ]
}

@test "clearopensmtp -s says so when no account is recorded: ROAM_ACCOUNT_ENV empty, or no line naming one; and when roamsync never ran" {
	{ line 10.0.0.1 60; line 10.0.0.2 60; } >"$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP" -s
	assert_success
	assert_line 'accounts: none: no line of the list sets ROAMUSER'
	assert_line 'tcp.smtp.cdb: missing'
	assert_line 'waiting for a build: 2 (listed addresses tcp.smtp.cdb lacks)'
	assert_line 'outbox: none (roamsync has not run here)'
	line 10.0.0.3 60 alice >>"$ROAM_DIR/open-smtp"
	run env ROAM_ACCOUNT_ENV= "$CLEAROPENSMTP" -s
	assert_success
	assert_line 'accounts: not recorded (ROAM_ACCOUNT_ENV is empty)'
	run env ROAM_ACCOUNT_ENV=OTHER "$CLEAROPENSMTP" -s
	assert_line 'accounts: none: no line of the list sets OTHER'
	run "$CLEAROPENSMTP" -s
	assert_line 'accounts: 1 (in ROAMUSER); addresses without one: 2'
	assert_line '  1 "alice"'
}

@test "clearopensmtp -p expires, then writes the figures; node_exporter serves each as planted, without a scrape error; promtool passes" {
	plant
	ne_up
	run "$CLEAROPENSMTP" -p "$TF/checkpw_roam.prom"
	assert_success
	assert_output 'clearopensmtp: warning: open-smtp: 1 unreadable line kept out of the rules, line 74: "not a line"'
	# The expiry ran first: the 6 expired lines are gone.
	[ "$(grep -c . "$ROAM_DIR/open-smtp")" -eq 76 ]
	run ls "$TF"
	assert_output 'checkpw_roam.prom'
	run promtool check metrics <"$TF/checkpw_roam.prom"
	assert_success
	assert_output ''
	scrape
	is 'node_textfile_scrape_error' 0
	is 'checkpw_roam_open_addresses{age="under_10m"}' 15
	is 'checkpw_roam_open_addresses{age="10m_to_1h"}' 30
	is 'checkpw_roam_open_addresses{age="1h_to_expiry"}' 30
	is 'checkpw_roam_open_addresses{age="expired"}' 0
	is 'checkpw_roam_expiry_seconds' 10800
	is 'checkpw_roam_unreadable_lines' 1
	# The expired lines were k12's first six.
	is 'checkpw_roam_accounts' 12
	is 'checkpw_roam_addresses_without_account' 1
	is 'checkpw_roam_account_open_addresses{account="k12@example.org"}' 8
	is 'checkpw_roam_account_open_addresses{account="k10@example.org"}' 10
	is 'checkpw_roam_account_open_addresses{account="k03@example.org"}' 3
	[ "$(grep -c '^checkpw_roam_account_open_addresses{' "$BATS_TEST_TMPDIR/scrape")" -eq 10 ]
	! value 'checkpw_roam_account_open_addresses{account="k02@example.org"}'
	is 'checkpw_roam_file_size_bytes{file="open-smtp"}' "$(stat -c %s "$ROAM_DIR/open-smtp")"
	is 'checkpw_roam_file_size_bytes{file="tcp.smtp.cdb"}' "$(stat -c %s "$ROAM_DIR/tcp.smtp.cdb")"
	is 'checkpw_roam_file_mtime_seconds{file="open-smtp"}' "$(stat -c %Y "$ROAM_DIR/open-smtp")"
	is 'checkpw_roam_file_mtime_seconds{file="tcp.smtp.cdb"}' "$(stat -c %Y "$ROAM_DIR/tcp.smtp.cdb")"
	# The expiry built the cdb: nothing waits.
	is 'checkpw_roam_build_waiting_addresses' 0
	is 'checkpw_roam_outbox_lines{file="open-smtp.outbox"}' 3
	is 'checkpw_roam_outbox_lines{file="open-smtp.outbox.sending"}' 2
	is "node_textfile_mtime_seconds{file=\"$TF/checkpw_roam.prom\"}" "$(stat -c %Y "$TF/checkpw_roam.prom")"
}

@test "clearopensmtp -s -p writes without expiring, lines the cdb lacks counted by looking each up" {
	plant
	run "$CLEAROPENSMTP" -s -p "$TF/checkpw_roam.prom"
	assert_success
	assert_line 'waiting for a build: 2 (listed addresses tcp.smtp.cdb lacks)'
	assert_line '  expired, not yet cleared: 6'
	grep -qx 'checkpw_roam_build_waiting_addresses 2' "$TF/checkpw_roam.prom"
	grep -qx 'checkpw_roam_open_addresses{age="expired"} 6' "$TF/checkpw_roam.prom"
	# A listed address the cdb has, and one it lacks, by tcprulescheck.
	relay_open 10.0.1.1
	! relay_open 10.2.0.1
}

@test "account names with quotes, backslashes and bytes not UTF-8 come out escaped: node_exporter parses them, promtool passes" {
	python3 - "$NOW" >"$ROAM_DIR/open-smtp" <<'PY'
import sys
names = [b"'a\"b'", b'"c\\d"', b'"c\\d"', b'"e\xfff"', b'"caf\xc3\xa9"']
for i, n in enumerate(names):
    sys.stdout.buffer.write(b'10.0.0.%d:allow,RELAYCLIENT="",ROAMUSER=%s\t%s\n'
                            % (i + 1, n, sys.argv[1].encode()))
PY
	ne_up
	run "$CLEAROPENSMTP" -s -p "$TF/checkpw_roam.prom"
	assert_success
	# On the screen, as in the log: made printable.
	assert_line '  2 "c\x5cd"'
	assert_line '  1 "e\xfff"'
	run promtool check metrics <"$TF/checkpw_roam.prom"
	assert_success
	grep -qxF 'checkpw_roam_account_open_addresses{account="a\"b"} 1' "$TF/checkpw_roam.prom"
	grep -qxF 'checkpw_roam_account_open_addresses{account="c\\d"} 2' "$TF/checkpw_roam.prom"
	grep -qxF 'checkpw_roam_account_open_addresses{account="e\\xfff"} 1' "$TF/checkpw_roam.prom"
	grep -qxF "checkpw_roam_account_open_addresses{account=\"caf$(printf '\xc3\xa9')\"} 1" "$TF/checkpw_roam.prom"
	scrape
	is 'node_textfile_scrape_error' 0
	is 'checkpw_roam_account_open_addresses{account="a\"b"}' 1
	is 'checkpw_roam_account_open_addresses{account="c\\d"}' 2
	is 'checkpw_roam_account_open_addresses{account="e\\xfff"}' 1
	is "checkpw_roam_account_open_addresses{account=\"caf$(printf '\xc3\xa9')\"}" 1
}

@test "a bad -p FILE is refused in one line before anything changes; -p beside -l, -n or -u, or -s beside -d, is a usage error" {
	plant
	sum=$(md5sum "$ROAM_DIR/open-smtp")
	run "$CLEAROPENSMTP" -p "$TF/metrics.txt"
	assert_failure 100
	assert_output "clearopensmtp: fatal: bad metrics file $TF/metrics.txt: not a name ending in .prom, of at most 100 bytes"
	run "$CLEAROPENSMTP" -p "$BATS_TEST_TMPDIR/missing/x.prom"
	assert_failure 111
	assert_output --partial "clearopensmtp: fatal: unable to open the directory of $BATS_TEST_TMPDIR/missing/x.prom: "
	[ "$(md5sum "$ROAM_DIR/open-smtp")" = "$sum" ]
	for args in "-l -p $TF/x.prom" "-n -p $TF/x.prom" "-u k01@example.org -p $TF/x.prom" \
		"-p $TF/x.prom -u k01@example.org" "-s -d 10.0.1.1" "-s -f" "-s -l" "-s -u k01@example.org"; do
		# shellcheck disable=SC2086
		run "$CLEAROPENSMTP" $args
		assert_failure 100
		assert_output 'clearopensmtp: fatal: usage: clearopensmtp [-m MINUTES] [-n] [-l] [-d IP] [-u ACCOUNT] [-f] [-s] [-p FILE] | -V'
	done
	[ "$(md5sum "$ROAM_DIR/open-smtp")" = "$sum" ]
	[ -z "$(ls "$TF")" ]
}

# rs_start: roamsync for $ROAM_DIR with -p $TF/roamsync.prom; its
# messages in rs.log.
rs_start() {
	ROAM_PG=$(pg_conninfo) "$ROAMSYNC" -p "$TF/roamsync.prom" \
		2>>"$BATS_TEST_TMPDIR/rs.log" 3>&- &
	RS_PID=$!
	PIDS+=($!)
}

# rs_says LINE: the file holds LINE.
rs_says() {
	grep -qxF "$1" "$TF/roamsync.prom" 2>/dev/null
}

@test "roamsync -p: connected, push and pull times, lag, resyncs and the outbox's backlog, served by node_exporter; promtool passes" {
	pg_setup_test
	ROAM_DIR=$BATS_TEST_TMPDIR/host-A
	printf '127.:allow\n' >"$ROAM_DIR/tcp.smtp"
	start=$(date +%s)
	rs_start
	wait_for 10 rs_says 'checkpw_roam_roamsync_connected 1'
	rs_says 'checkpw_roam_roamsync_resyncs_total 1'
	rs_says 'checkpw_roam_roamsync_behind 0'
	# A row another host wrote 100 s ago: merged here, the lag is its age.
	psql_admin -c "INSERT INTO roam.relay (ip, at_ms) VALUES ('192.0.2.50',
		floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - 100000)"
	wait_for 10 grep -q '^192.0.2.50:' "$ROAM_DIR/open-smtp"
	wait_for 5 grep -q '^checkpw_roam_roamsync_lag_seconds 10[0-4]\.' "$TF/roamsync.prom"
	# A login of this host's: pushed.
	printf '+192.0.2.51\t%s.000\n' "$(date +%s)" >>"$ROAM_DIR/open-smtp.outbox"
	wait_for 10 test "$(psql_admin -c "SELECT count(*) FROM roam.relay WHERE ip = '192.0.2.51'")" = 1
	sleep 1.2
	ne_up
	run promtool check metrics <"$TF/roamsync.prom"
	assert_success
	assert_output ''
	scrape
	is 'node_textfile_scrape_error' 0
	is 'checkpw_roam_roamsync_connected' 1
	is 'checkpw_roam_roamsync_resyncs_total' 1
	push=$(value checkpw_roam_roamsync_last_push_timestamp_seconds)
	pull=$(value checkpw_roam_roamsync_last_pull_timestamp_seconds)
	python3 -c "import sys; s, p, q, n = map(float, sys.argv[1:]); sys.exit(not (s <= p <= n + 1 and s <= q <= n + 1))" \
		"$start" "$push" "$pull" "$(date +%s)"
	is 'checkpw_roam_roamsync_outbox_lines{file="open-smtp.outbox"}' 0
	is 'checkpw_roam_roamsync_outbox_lines{file="open-smtp.outbox.sending"}' 0
	# The database gone: not connected, and the logins wait in the outbox.
	pg_stop
	wait_for 10 rs_says 'checkpw_roam_roamsync_connected 0'
	printf '+192.0.2.%s\t%s.000\n' 52 "$(date +%s)" 53 "$(date +%s)" 54 "$(date +%s)" >>"$ROAM_DIR/open-smtp.outbox"
	wait_for 5 rs_says 'checkpw_roam_roamsync_outbox_lines{file="open-smtp.outbox"} 3'
	scrape
	is 'checkpw_roam_roamsync_connected' 0
	is 'checkpw_roam_roamsync_outbox_lines{file="open-smtp.outbox"}' 3
	# Back: a second resync, the backlog pushed.
	pg_start
	wait_for 10 rs_says 'checkpw_roam_roamsync_resyncs_total 2'
	wait_for 5 rs_says 'checkpw_roam_roamsync_outbox_lines{file="open-smtp.outbox"} 0'
	rs_says 'checkpw_roam_roamsync_connected 1'
	[ "$(psql_admin -c "SELECT count(*) FROM roam.relay WHERE ip IN ('192.0.2.52', '192.0.2.53', '192.0.2.54')")" = 3 ]
	run ls "$TF"
	assert_output 'roamsync.prom'
}
