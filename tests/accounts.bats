#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Accounts: who opened each address, in its list line as ROAMUSER; closing,
# limiting and denying an account, on one host and on three with roamsync.
# Logins go through the real chain; the list goes through real tcprules and
# tcprulescheck, and a real tcpserver -x on loopback.

load helpers/common
load helpers/peers
load helpers/pg

bats_require_minimum_version 1.5.0

setup_file() {
	load_libs
	pg_setup_file
}

teardown_file() {
	pg_teardown_file
	test_user_del "${CPW_USER-}"
}

setup() {
	common_setup
	unset ROAM_ACCOUNT_ENV ROAM_MAX_PER_ACCOUNT ROAM_DENY VPOPUSER
	LOG=$BATS_TEST_TMPDIR/log
	: >"$LOG"
}

teardown() {
	common_teardown
}

# login_as NAME IP [CHECKPW]: a good login of the account NAME from IP
# through the chain (the fake checkpassword sets USER to NAME); returns
# once its recorder is done. Messages in $LOG.
login_as() {
	local name=$1 ip=$2 cpw=${3:-$FAKE_CHECKPW}
	TCPREMOTEIP="$ip" "$CHECKPW_ROAM" "$cpw" sh -c 'echo session ok' \
		3< <(printf '%s\0good\0\0' "$name") >>"$BATS_TEST_TMPDIR/out" 2>>"$LOG"
	wait_recorders "$ip"
}

# var_of IP: the value tcpserver would set in ROAMUSER for IP, by the real
# tcprulescheck, or nothing.
var_of() {
	decision "$1" | LC_ALL=C sed -n 's/^set environment variable ROAMUSER=//p'
}

# vars_of IP: the names of every variable the cdb sets for IP.
vars_of() {
	decision "$1" | LC_ALL=C sed -n 's/^set environment variable \([^=]*\)=.*/\1/p'
}

# same_as_tcprules: tcprules' own parse of the list gives our cdb, byte for
# byte, and every line is one rule.
same_as_tcprules() {
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$BATS_TEST_TMPDIR/ref.cdb" "$ROAM_DIR/tcp.smtp.cdb"
}

@test "the list line names the account; names with quotes, commas, colons and non-ASCII bytes are held exactly, as tcprules reads them" {
	local -a names=('alice@example.org' 'a"b' "o'c" 'x,y=z' 'u:allow:v' \
		$'\xc3\xa9l\xc3\xa8ve@\xff' "q\"'|/#%!~^:;")
	local i=0 n
	"$CLEAROPENSMTP" -f
	for n in "${names[@]}"; do
		i=$((i + 1))
		login_as "$n" "127.0.1.$i"
	done
	run grep -c . "$ROAM_DIR/open-smtp"
	assert_output "${#names[@]}"
	grep -qxF "127.0.1.1:allow,RELAYCLIENT=\"\",RBLSMTPD=\"\",ROAMUSER=\"alice@example.org\"	$(list_ts 127.0.1.1)" "$ROAM_DIR/open-smtp"
	i=0
	for n in "${names[@]}"; do
		i=$((i + 1))
		[ "$(var_of "127.0.1.$i")" = "$n" ]
		[ "$(vars_of "127.0.1.$i" | tr '\n' ' ')" = "RELAYCLIENT RBLSMTPD ROAMUSER " ]
		relay_open "127.0.1.$i"
	done
	same_as_tcprules
	run ! grep -q warning "$LOG"
	grep -qxF 'checkpw-roam: info: relay opened for 127.0.1.2 by "a\x22b"' "$LOG"
	grep -qxF 'checkpw-roam: info: relay opened for 127.0.1.6 by "\xc3\xa9l\xc3\xa8ve@\xff"' "$LOG"
}

@test "a 1,000-byte name fits in its line; a longer one than 1,024 bytes opens the relay without it, with a warning" {
	local long short
	long=$(printf 'a%.0s' $(seq 1 1000))
	short=$(printf 'b%.0s' $(seq 1 1100))
	"$CLEAROPENSMTP" -f
	login_as "$long" 127.0.2.1
	login_as "$short" 127.0.2.2
	[ "$(var_of 127.0.2.1)" = "$long" ]
	relay_open 127.0.2.2
	[ -z "$(var_of 127.0.2.2)" ]
	grep -q 'warning: opening the relay for 127.0.2.2 without its account "bbbb[b.]*"\.\.\.: too long for a line of the list$' "$LOG"
	same_as_tcprules
}

@test "a name with a TAB, a newline or every quote character never breaks a line: the relay opens without it, and the warning says why" {
	local every
	every=$(printf '%s' "\"'|/#%!~^:;+*@\$&?=<>\`{}[]()-_.")
	"$CLEAROPENSMTP" -f
	login_as $'t\tab' 127.0.3.1
	login_as $'n\n127.0.3.9:allow,RELAYCLIENT=""' 127.0.3.2
	login_as "$every" 127.0.3.3
	run cut -f1 "$ROAM_DIR/open-smtp"
	assert_output "$(printf '127.0.3.%s:allow,RELAYCLIENT="",RBLSMTPD=""\n' 1 2 3)"
	[ "$(awk -F '\t' 'NF != 2' "$ROAM_DIR/open-smtp")" = "" ]
	for i in 1 2 3; do relay_open "127.0.3.$i"; done
	run ! relay_open 127.0.3.9
	grep -qF 'warning: opening the relay for 127.0.3.1 without its account "t\x09ab": it holds a control byte' "$LOG"
	grep -qF 'warning: opening the relay for 127.0.3.2 without its account "n\x0a127.0.3.9' "$LOG"
	grep -qF 'warning: opening the relay for 127.0.3.3 without its account' "$LOG"
	grep -qF 'it holds every character tcprules could quote it with' "$LOG"
	# The log still names each account, made printable.
	grep -qxF 'checkpw-roam: info: relay opened for 127.0.3.1 by "t\x09ab"' "$LOG"
	same_as_tcprules
}

@test "no account name adds a rule or a variable to the cdb: tcprules and tcprulescheck see one ROAMUSER per address" {
	local -a names=('x",RELAYCLIENT="' "y',RBLSMTPD='" '",X="1' \
		'z:allow,RELAYCLIENT=""' '127.0.4.99:allow' '=' ',' '"' "'\"")
	local i=0 n
	"$CLEAROPENSMTP" -f
	for n in "${names[@]}"; do
		i=$((i + 1))
		login_as "$n" "127.0.4.$i"
	done
	i=0
	for n in "${names[@]}"; do
		i=$((i + 1))
		[ "$(vars_of "127.0.4.$i" | tr '\n' ' ')" = "RELAYCLIENT RBLSMTPD ROAMUSER " ]
		[ "$(var_of "127.0.4.$i")" = "$n" ]
	done
	run ! relay_open 127.0.4.99
	[ "$(cdb -l "$ROAM_DIR/tcp.smtp.cdb" | grep -c '^+')" -eq "${#names[@]}" ]
	same_as_tcprules
}

@test "qmail-smtpd under tcpserver -x sees ROAMUSER for the address its account opened" {
	local port pid
	need_cmd tcpserver tcpclient
	"$CLEAROPENSMTP" -f
	login_as 'carol@example.org' 127.0.5.1
	port=$(free_port)
	serve pid 127.0.0.1 "$port" "$BATS_TEST_TMPDIR/smtp.log" \
		tcpserver -R -H -x "$ROAM_DIR/tcp.smtp.cdb" 127.0.0.1 "$port" \
		"$HELPERS/print-env"
	run timeout 10 tcpclient -i 127.0.5.1 -R -H 127.0.0.1 "$port" sh -c 'cat <&6'
	assert_output "$(printf 'RELAYCLIENT=\nROAMUSER=carol@example.org')"
	run timeout 10 tcpclient -i 127.0.5.2 -R -H 127.0.0.1 "$port" sh -c 'cat <&6'
	assert_output "$(printf 'RELAYCLIENT=(unset)\nROAMUSER=(unset)')"
}

@test "with vchkpw's environment the account is VPOPUSER, the full user@domain, not USER" {
	"$CLEAROPENSMTP" -f
	login_as 'dave@example.net' 127.0.6.1 "$HELPERS/vchkpw-env"
	[ "$(var_of 127.0.6.1)" = 'dave@example.net' ]
	grep -qxF 'checkpw-roam: info: relay opened for 127.0.6.1 by "dave@example.net"' "$LOG"
}

@test "with a real checkpassword (Debian's checkpw) and a system user, the account is the system user's name" {
	local home
	need_cmd checkpw setpriv
	open_tmpdirs
	home=$BATS_FILE_TMPDIR/cpwhome
	mkdir -p "$home/Maildir"
	CPW_USER=$(test_user_add cpwroamacct "$home")
	echo "CPW_USER=$CPW_USER" >"$BATS_FILE_TMPDIR/user"
	printf 'secret\n' >"$home/Maildir/.password"
	chown -R "$CPW_USER:" "$home"
	chmod 700 "$home/Maildir"
	chmod 600 "$home/Maildir/.password"
	"$CLEAROPENSMTP" -f
	TCPREMOTEIP=127.0.7.1 "$CHECKPW_ROAM" checkpw sh -c 'echo "session as $(id -un)"' \
		3< <(printf '%s\0secret\0\0' "$CPW_USER") >"$BATS_TEST_TMPDIR/out" 2>>"$LOG"
	wait_recorders 127.0.7.1
	test_user_del "$CPW_USER"
	grep -qx "session as $CPW_USER" "$BATS_TEST_TMPDIR/out"
	[ "$(var_of 127.0.7.1)" = "$CPW_USER" ]
}

@test "a refresh by another account keeps the first account in the rule; the log names each login's account" {
	"$CLEAROPENSMTP" -f
	login_as erin 127.0.8.1
	login_as frank 127.0.8.1
	[ "$(var_of 127.0.8.1)" = erin ]
	grep -qxF 'checkpw-roam: info: relay opened for 127.0.8.1 by "erin"' "$LOG"
	grep -qxF 'checkpw-roam: info: relay refreshed for 127.0.8.1 by "frank"' "$LOG"
}

@test "clearopensmtp -l shows each address's account; -u closes every address of that account and no other" {
	"$CLEAROPENSMTP" -f
	login_as mallory 127.0.9.1
	login_as 'gina "g"' 127.0.9.2
	login_as mallory 127.0.9.3
	run "$CLEAROPENSMTP" -l
	assert_success
	assert_line --regexp '^127\.0\.9\.1 [0-9]+ [0-9]+ "mallory"$'
	assert_line --regexp '^127\.0\.9\.2 [0-9]+ [0-9]+ "gina \\x22g\\x22"$'
	run "$CLEAROPENSMTP" -u mallory
	assert_success
	run list_ips
	assert_output 127.0.9.2
	run ! relay_open 127.0.9.1
	run ! relay_open 127.0.9.3
	relay_open 127.0.9.2
	run "$CLEAROPENSMTP" -u mallory
	assert_success
	assert_output 'clearopensmtp: warning: no address is open for "mallory"'
}

@test "where ROAM_ACCOUNT_ENV is empty the list names no account; -u is a usage error and the limit a warning" {
	"$CLEAROPENSMTP" -f
	ROAM_ACCOUNT_ENV='' ROAM_MAX_PER_ACCOUNT=1 login_as henry 127.0.10.1
	ROAM_ACCOUNT_ENV='' ROAM_MAX_PER_ACCOUNT=1 login_as henry 127.0.10.2
	run cut -f1 "$ROAM_DIR/open-smtp"
	assert_output "$(printf '127.0.10.%s:allow,RELAYCLIENT="",RBLSMTPD=""\n' 1 2)"
	grep -qF 'warning: ROAM_MAX_PER_ACCOUNT needs the account in the list, and ROAM_ACCOUNT_ENV is empty: no limit' "$LOG"
	ROAM_ACCOUNT_ENV=WHO login_as henry 127.0.10.3
	[ "$(decision 127.0.10.3 | grep -c '^set environment variable WHO=henry$')" -eq 1 ]
	run env ROAM_ACCOUNT_ENV= "$CLEAROPENSMTP" -u henry
	assert_failure 100
	assert_output --partial 'ROAM_ACCOUNT_ENV is empty'
	run env ROAM_ACCOUNT_ENV=WHO "$CLEAROPENSMTP" -u henry
	assert_success
	run list_ips
	assert_output "$(printf '127.0.10.%s\n' 1 2)"
}

@test "ROAM_MAX_PER_ACCOUNT: a login that would open one address too many opens nothing new, succeeds, and one warning names the account and the address" {
	"$CLEAROPENSMTP" -f
	export ROAM_MAX_PER_ACCOUNT=2
	login_as ivan 127.0.11.1
	login_as ivan 127.0.11.2
	login_as ivan 127.0.11.3
	grep -qx 'session ok' "$BATS_TEST_TMPDIR/out"
	[ "$(grep -c 'session ok' "$BATS_TEST_TMPDIR/out")" -eq 3 ]
	run list_ips
	assert_output "$(printf '127.0.11.%s\n' 1 2)"
	run ! relay_open 127.0.11.3
	[ "$(grep -c warning "$LOG")" -eq 1 ]
	grep -qxF 'checkpw-roam: warning: not opening the relay for 127.0.11.3 by "ivan": the account holds 2 addresses open, ROAM_MAX_PER_ACCOUNT' "$LOG"
	# Its open addresses still refresh; other accounts are not counted.
	login_as ivan 127.0.11.1
	login_as judy 127.0.11.4
	relay_open 127.0.11.4
	# Once one closes, another may open.
	"$CLEAROPENSMTP" -d 127.0.11.2
	login_as ivan 127.0.11.3
	relay_open 127.0.11.3
}

@test "the limit holds under concurrency: 32 logins of one account from 32 new addresses at once leave at most 5 open" {
	local i pids=()
	"$CLEAROPENSMTP" -f
	for i in $(seq 1 32); do
		ROAM_MAX_PER_ACCOUNT=5 TCPREMOTEIP=127.0.12.$i "$CHECKPW_ROAM" \
			"$FAKE_CHECKPW" true 3< <(printf 'kate\0good\0\0') 2>>"$LOG" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	wait_recorders
	[ "$(list_ips | wc -l)" -eq 5 ]
	[ "$(grep -c 'not opening the relay for 127.0.12.[0-9]* by "kate"' "$LOG")" -eq 27 ]
	[ "$(cdb -l "$ROAM_DIR/tcp.smtp.cdb" | grep -c '^+')" -eq 5 ]
}

@test "ROAM_DENY: a listed account never opens the relay but logs in; a missing or empty file denies no one; an unreadable one warns and denies no one" {
	"$CLEAROPENSMTP" -f
	printf 'leo\nmia@example.org\n' >"$BATS_TEST_TMPDIR/deny"
	ROAM_DENY=$BATS_TEST_TMPDIR/deny login_as leo 127.0.13.1
	ROAM_DENY=$BATS_TEST_TMPDIR/deny login_as mia@example.org 127.0.13.2
	ROAM_DENY=$BATS_TEST_TMPDIR/deny login_as leon 127.0.13.3
	[ "$(grep -c 'session ok' "$BATS_TEST_TMPDIR/out")" -eq 3 ]
	run list_ips
	assert_output 127.0.13.3
	grep -qxF 'checkpw-roam: warning: not opening the relay for 127.0.13.1 by "leo": the account is in ROAM_DENY' "$LOG"
	ROAM_DENY=$BATS_TEST_TMPDIR/missing login_as leo 127.0.13.4
	: >"$BATS_TEST_TMPDIR/empty"
	ROAM_DENY=$BATS_TEST_TMPDIR/empty login_as leo 127.0.13.5
	relay_open 127.0.13.4
	relay_open 127.0.13.5
	run ! grep -q 'ROAM_DENY.*missing\|ROAM_DENY.*empty' "$LOG"
	# A directory cannot be read as a file, even by root.
	mkdir "$BATS_TEST_TMPDIR/dir"
	ROAM_DENY=$BATS_TEST_TMPDIR/dir login_as leo 127.0.13.6
	relay_open 127.0.13.6
	grep -qF "warning: ROAM_DENY \"$BATS_TEST_TMPDIR/dir\": refusing to read $BATS_TEST_TMPDIR/dir: not a regular file; denying no one" "$LOG"
}

@test "vpopmail's writer and its clearopensmtp still read a list with accounts: they keep, expire and compile its lines" {
	"$CLEAROPENSMTP" -f
	login_as 'nina "n", x:y' 127.0.14.1
	TCPREMOTEIP=127.0.14.2 "$HELPERS/vpopmail-writer" "$ROAM_DIR" 2>>"$LOG"
	run ! grep -q 'tcprules failed' "$LOG"
	relay_open 127.0.14.1
	relay_open 127.0.14.2
	[ "$(var_of 127.0.14.1)" = 'nina "n", x:y' ]
	# vpopmail's clearopensmtp keeps what is fresh, the account with it.
	"$HELPERS/vpopmail-clearopensmtp" "$ROAM_DIR"
	run list_ips
	assert_output "$(printf '127.0.14.%s\n' 1 2)"
	[ "$(var_of 127.0.14.1)" = 'nina "n", x:y' ]
	relay_open 127.0.14.2
	# Four hours later it expires both, and compiles tcp.smtp alone.
	VPOPMAIL_NOW=$(($(date +%s) + 14400)) "$HELPERS/vpopmail-clearopensmtp" "$ROAM_DIR"
	run list_ips
	assert_output ''
	refute relay_open 127.0.14.1
	refute relay_open 127.0.14.2
	# Ours reads what it wrote, and expires as usual.
	login_as nina 127.0.14.3
	"$CLEAROPENSMTP"
	run list_ips
	assert_output 127.0.14.3
	[ "$(var_of 127.0.14.3)" = nina ]
}

# account_row IP: roam.relay's account for IP, as text.
account_row() {
	psql_admin -c "SELECT convert_from(account, 'SQL_ASCII') FROM roam.relay WHERE ip = '$1'"
}

@test "roamsync: -u on one host closes the account's addresses on all three; rows from other hosts carry their account" {
	pg_setup_test
	host_up A B C
	login_on_as() { ROAM_DIR=$(host_dir "$1") login_as "$2" "$3"; }
	login_on_as A oscar 127.0.15.1
	login_on_as B oscar 127.0.15.2
	login_on_as C pat 127.0.15.3
	for h in A B C; do
		wait_for 3 open_on "$h" 127.0.15.1
		wait_for 3 open_on "$h" 127.0.15.2
		wait_for 3 open_on "$h" 127.0.15.3
	done
	[ "$(account_row 127.0.15.1)" = oscar ]
	[ "$(ROAM_DIR=$(host_dir C) var_of 127.0.15.2)" = oscar ]
	on C "$CLEAROPENSMTP" -u oscar
	for h in A B C; do
		wait_for 3 closed_on "$h" 127.0.15.1
		wait_for 3 closed_on "$h" 127.0.15.2
		open_on "$h" 127.0.15.3
	done
}

@test "roamsync: the limit counts every host's logins of the account" {
	pg_setup_test
	host_up A B C
	export ROAM_MAX_PER_ACCOUNT=2
	ROAM_DIR=$(host_dir A) login_as quinn 127.0.16.1
	ROAM_DIR=$(host_dir B) login_as quinn 127.0.16.2
	wait_for 3 open_on C 127.0.16.1
	wait_for 3 open_on C 127.0.16.2
	ROAM_DIR=$(host_dir C) login_as quinn 127.0.16.3
	closed_on C 127.0.16.3
	grep -qF 'not opening the relay for 127.0.16.3 by "quinn": the account holds 2' "$LOG"
	sleep 0.5
	for h in A B; do closed_on "$h" 127.0.16.3; done
}

@test "roamsync -i gives a table of the earlier schema its account column in place, keeping its rows" {
	pg_setup_test
	psql_admin -c "ALTER TABLE roam.relay DROP COLUMN account" \
		-c "INSERT INTO roam.relay (ip, at_ms) VALUES ('192.0.2.1', 1)"
	ROAM_PG=$(pg_conninfo postgres) "$ROAMSYNC" -i
	ROAM_PG=$(pg_conninfo postgres) "$ROAMSYNC" -i
	[ "$(psql_admin -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'roam' AND table_name = 'relay' AND column_name = 'account'")" -eq 1 ]
	[ "$(psql_admin -c "SELECT ip || ' ' || at_ms || ' ' || (account IS NULL) FROM roam.relay")" = '192.0.2.1 1 true' ]
}
