#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Dovecot 2.3 as the POP3 and IMAP server (Debian 12's dovecot-core,
# dovecot-pop3d and dovecot-imapd; written against 2.3.19.1), with
# checkpw-roam as its checkpassword passdb in front of Debian's checkpw, a
# real checkpassword that checks ~/Maildir/.password of a system user and
# switches to that user. The clients are Python's poplib and imaplib
# (tests/helpers/pop3-client, imap-client), each bound to its own loopback
# address; the SMTP side is a real tcpserver -x with probe-env.
#
# One private Dovecot runs for the whole file, started by setup_file and
# stopped by its PID in teardown_file whatever happened: its own base_dir,
# state_dir and log under a temporary directory, listening on 127.0.0.1 and
# ::1 only, on a free high port for POP3 and another for IMAP. ROAM_DIR
# reaches checkpw-roam through import_environment, as INSTALL says; each
# test empties that directory.
#
# Users: $DOVE_USER is a system user made for this run of the file (checkpw
# needs one; removed in teardown_file), $LOOK_USER exists only for
# dovecot-lookup-checkpassword, the second passdb, which answers Dovecot's
# lookups without a password (AUTHORIZED=1): checkpw cannot, so with it alone
# a lookup would prove nothing.

load helpers/common
load helpers/peers

DOVE_PASS=secret
LOOK_USER=cpwroamlook
LOOK_PASS=lookpass

# dovecot_conf: the private configuration, on standard output.
dovecot_conf() {
	cat <<EOF
# checkpw-roam's tests/dovecot.bats: a private instance, nothing shared
# with a system Dovecot.
base_dir = $DOVE/run
state_dir = $DOVE/state
log_path = $DOVE/dovecot.log
info_log_path = $DOVE/dovecot.log
debug_log_path = $DOVE/dovecot.log
auth_debug = yes
protocols = pop3 imap
listen = 127.0.0.1, ::1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
first_valid_uid = $DOVE_UID
# ROAM_DIR for checkpw-roam, kept with Dovecot's own defaults. checkpw
# switches to the user before checkpassword-reply runs, which Dovecot
# refuses unless INSECURE_SETUID is set. ROAM_WAIT_MS: a loaded machine
# must not make a good login go on before its address is recorded. The
# LOOKUP_* ones are for dovecot-lookup-checkpassword.
import_environment = \$import_environment ROAM_DIR=$DOVE/roam ROAM_WAIT_MS=10000 INSECURE_SETUID=1 LOOKUP_USER=$LOOK_USER LOOKUP_PASSWORD=$LOOK_PASS LOOKUP_HOME=$DOVE/home LOOKUP_LOG=$DOVE/lookup.log
mail_location = maildir:~/Maildir
passdb {
  driver = checkpassword
  args = $DOVE/bin/checkpw-roam /usr/bin/checkpw
  username_filter = $DOVE_USER
}
passdb {
  driver = checkpassword
  args = $DOVE/bin/checkpw-roam $HELPERS/dovecot-lookup-checkpassword
  username_filter = $LOOK_USER
}
userdb {
  driver = static
  args = uid=$DOVE_UID gid=$DOVE_GID home=$DOVE/home
}
service pop3-login {
  inet_listener pop3 {
    port = $DOVE_PORT
  }
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
}
# checkpw must be root to switch to the user.
service auth {
  user = root
}
EOF
}

setup_file() {
	load_libs
	need_cmd dovecot doveadm doveconf checkpw /usr/bin/python3 useradd userdel
	[ -x /usr/lib/dovecot/imap ] || fail "missing dovecot-imapd: run tests/install-deps"
	open_tmpdirs
	DOVE=$BATS_FILE_TMPDIR/dovecot
	mkdir -p "$DOVE/bin" "$DOVE/roam" "$DOVE/home/Maildir/new" \
		"$DOVE/home/Maildir/cur" "$DOVE/home/Maildir/tmp"
	chmod 755 "$DOVE" "$DOVE/bin" "$DOVE/roam"
	# The second run of checkpw-roam is the user's: it must reach the program.
	cp "$CHECKPW_ROAM" "$DOVE/bin/"
	DOVE_USER=$(test_user_add cpwroamdove "$DOVE/home")
	DOVE_UID=$(id -u "$DOVE_USER")
	DOVE_GID=$(id -g "$DOVE_USER")
	printf '%s\n' "$DOVE_PASS" >"$DOVE/home/Maildir/.password"
	chmod 600 "$DOVE/home/Maildir/.password"
	printf '%s\n' 'From: postmaster@example.org' "To: $DOVE_USER@example.org" \
		'Subject: checkpw-roam test message' '' 'Hello from the Maildir.' \
		>"$DOVE/home/Maildir/new/1000000000.M1P1.roamtest"
	chown -R "$DOVE_USER:" "$DOVE/home"
	chmod 700 "$DOVE/home"
	DOVE_PORT=$(free_port)
	IMAP_PORT=$(free_port)
	while [ "$IMAP_PORT" = "$DOVE_PORT" ]; do IMAP_PORT=$(free_port); done
	dovecot_conf >"$DOVE/dovecot.conf"
	doveconf -c "$DOVE/dovecot.conf" -n >/dev/null
	dovecot -F -c "$DOVE/dovecot.conf" >>"$DOVE/stderr" 2>&1 3>&- &
	DOVE_PID=$!
	echo "$DOVE_PID" >"$DOVE/pid"
	for _ in $(seq 1 100); do
		if "$HELPERS/pop3-client" -g 127.0.0.1 "$DOVE_PORT" >/dev/null 2>&1; then
			break
		fi
		sleep 0.05
	done
	{
		"$HELPERS/pop3-client" -g 127.0.0.1 "$DOVE_PORT" &&
			"$HELPERS/imap-client" -g 127.0.0.1 "$IMAP_PORT"
	} >/dev/null || {
		cat "$DOVE/stderr" "$DOVE/dovecot.log" >&2
		return 1
	}
	echo "# $(dovecot --version | sed 's/^/Dovecot /'), checkpw $(dpkg-query -W -f '${Version}' checkpw), $(/usr/bin/python3 -V) poplib and imaplib" >&3
	export DOVE DOVE_PORT IMAP_PORT DOVE_UID DOVE_USER
}

teardown_file() {
	if [ -s "${DOVE-}/pid" ]; then
		stop_pid "$(cat "$DOVE/pid")"
	fi
	test_user_del "${DOVE_USER-}"
}

# The static rules: 127.0.0.1 relays, everyone else connects without.
setup() {
	common_setup
	ROAM_DIR=$DOVE/roam
	rm -f "$ROAM_DIR"/*
	: >"$DOVE/lookup.log"
	printf '%s\n' '127.0.0.1:allow,RELAYCLIENT=""' ':allow' >"$ROAM_DIR/tcp.smtp"
	"$CLEAROPENSMTP" -f
	LOG_START=$(($(wc -l <"$DOVE/dovecot.log") + 1))
	SMTP_PORT=$(free_port)
	serve SMTP_PID 127.0.0.1 "$SMTP_PORT" "$BATS_TEST_TMPDIR/smtp.log" \
		tcpserver -R -H -x "$ROAM_DIR/tcp.smtp.cdb" 127.0.0.1 "$SMTP_PORT" \
		"$HELPERS/probe-env"
}

teardown() {
	common_teardown
}

# dovecot_log: this test's part of Dovecot's log.
dovecot_log() {
	tail -n "+$LOG_START" "$DOVE/dovecot.log"
}

# pop SRCIP HOST USER PASSWORD: one POP3 session with poplib from SRCIP.
pop() {
	timeout 20 "$HELPERS/pop3-client" -s "$1" "$2" "$DOVE_PORT" "$3" "$4"
}

# imap SRCIP HOST USER PASSWORD: one IMAP session with imaplib from SRCIP.
imap() {
	timeout 20 "$HELPERS/imap-client" -s "$1" "$2" "$IMAP_PORT" "$3" "$4"
}

# doveadm_ ARGS...: doveadm against the private instance, bounded.
doveadm_() {
	timeout 20 doveadm -c "$DOVE/dovecot.conf" "$@"
}

@test "a good POP3 login through Dovecot opens the relay for the client's address only; the session works" {
	run probe_via tcpclient 127.0.0.51 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.51"

	run pop 127.0.0.51 127.0.0.1 "$DOVE_USER" "$DOVE_PASS"
	assert_success
	assert_line --index 0 --regexp '^greeting: \+OK '
	assert_line --regexp '^PASS: \+OK Logged in'
	assert_line --regexp '^STAT: 1 [0-9]+$'
	assert_line --regexp '^RETR 1: \+OK [0-9]+ octets'
	assert_line '> Subject: checkpw-roam test message'
	assert_line '> Hello from the Maildir.'
	assert_line --regexp '^QUIT: \+OK'

	run cat "$ROAM_DIR/open-smtp"
	assert_output --regexp "^127\\.0\\.0\\.51:allow,RELAYCLIENT=\"\",RBLSMTPD=\"\",ROAMUSER=\"$DOVE_USER\""$'\t[0-9]+$'
	run decision 127.0.0.51
	assert_output "$(printf '%s\n' 'rule 127.0.0.51:' \
		'set environment variable RELAYCLIENT=' \
		'set environment variable RBLSMTPD=' \
		"set environment variable ROAMUSER=$DOVE_USER" 'allow connection')"
	run probe_via tcpclient 127.0.0.51 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT set for 127.0.0.51"
	run probe_via tcpclient 127.0.0.52 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.52"

	# Dovecot ran the chain as configured and logs checkpw-roam's line (as
	# an "Error": Dovecot labels everything a checkpassword writes so).
	run dovecot_log
	assert_line --partial "execute: $DOVE/bin/checkpw-roam /usr/bin/checkpw /usr/lib/dovecot/checkpassword-reply"
	assert_line --regexp "auth: Error: checkpw-roam: info: relay opened for 127\\.0\\.0\\.51 by \"$DOVE_USER\"\$"
	assert_line --regexp "pop3-login: Info: Login: user=<$DOVE_USER>, method=PLAIN, rip=127\\.0\\.0\\.51,"
}

@test "a bad password through Dovecot is refused and opens nothing" {
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"

	run pop 127.0.0.53 127.0.0.1 "$DOVE_USER" wrong
	assert_failure 1
	assert_line --regexp '^PASS: -ERR \[AUTH\] Authentication failed'
	refute_line --regexp '^STAT:'

	run list_ips
	assert_output ""
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	run probe_via tcpclient 127.0.0.53 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.53"
	run dovecot_log
	assert_line --partial "checkpassword($DOVE_USER,127.0.0.53,"
	assert_line --partial 'Login failed (status=1)'
	refute_line --partial 'relay opened'
}

@test "an IMAP login through Dovecot opens the relay for the client's address (IMAP-before-SMTP); the session works" {
	run probe_via tcpclient 127.0.0.54 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.54"

	run imap 127.0.0.54 127.0.0.1 "$DOVE_USER" "$DOVE_PASS"
	assert_success
	assert_line --index 0 --regexp '^greeting: \* OK '
	assert_line --regexp '^LOGIN: OK .*Logged in'
	assert_line 'SELECT INBOX: OK 1'
	assert_line --regexp '^LOGOUT: BYE '

	run list_ips
	assert_output 127.0.0.54
	run probe_via tcpclient 127.0.0.54 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT set for 127.0.0.54"
	run probe_via tcpclient 127.0.0.55 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.55"

	# Dovecot asked its auth service for an imap login (which it passes
	# on to the checkpassword as SERVICE=imap).
	run dovecot_log
	assert_line --regexp $'auth: Debug: client in: AUTH\t[0-9]+\tPLAIN\tservice=imap\t.*\trip=127\\.0\\.0\\.54\t'
	assert_line --regexp 'auth: Error: checkpw-roam: info: relay opened for 127\.0\.0\.54 by "[^"]*"$'
	assert_line --regexp "imap-login: Info: Login: user=<$DOVE_USER>, method=PLAIN, rip=127\\.0\\.0\\.54,"

	# The checkpassword behind checkpw-roam sees SERVICE=imap.
	run imap 127.0.0.57 127.0.0.1 "$LOOK_USER" "$LOOK_PASS"
	assert_success
	run cat "$DOVE/lookup.log"
	assert_output "user=$LOOK_USER AUTHORIZED= CREDENTIALS_LOOKUP= SERVICE=imap TCPREMOTEIP=127.0.0.57"
}

@test "a bad IMAP password opens nothing" {
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"

	run imap 127.0.0.56 127.0.0.1 "$DOVE_USER" wrong
	assert_failure 1
	assert_line --regexp '^LOGIN: NO \[AUTHENTICATIONFAILED\] Authentication failed'
	refute_line --regexp '^SELECT'

	run list_ips
	assert_output ""
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/before.cdb"
	run probe_via tcpclient 127.0.0.56 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.56"
	run dovecot_log
	assert_line --partial "checkpassword($DOVE_USER,127.0.0.56,"
	assert_line --partial 'Login failed (status=1)'
	refute_line --partial 'relay opened'
}

@test "a POP3 login over ::1 is recorded as ::1 and relays through the IPv6 tcpserver -x" {
	need_v6
	local port
	port=$(free_port)
	serve SMTP6_PID ::1 "$port" "$BATS_TEST_TMPDIR/smtp6.log" \
		"$V6BIN/tcpserver" -R -H -x "$ROAM_DIR/tcp.smtp.cdb" ::1 "$port" \
		"$HELPERS/probe-env"
	run probe_via "$V6BIN/tcpclient" ::1 ::1 "$port"
	assert_output "RELAYCLIENT unset for ::1"

	run pop ::1 ::1 "$DOVE_USER" "$DOVE_PASS"
	assert_success
	assert_line '> Subject: checkpw-roam test message'

	run list_ips
	assert_output '::1'
	run env TCPREMOTEIP=::1 "$V6BIN/tcprulescheck" "$ROAM_DIR/tcp.smtp.cdb"
	assert_line 'rule ::1:'
	assert_line 'set environment variable RELAYCLIENT='
	run probe_via "$V6BIN/tcpclient" ::1 ::1 "$port"
	assert_output "RELAYCLIENT set for ::1"
}

@test "Dovecot's lookups without a password (AUTHORIZED=1) open nothing; a password login of the same user does" {
	# A passdb lookup (doveadm auth lookup) and a userdb lookup (doveadm
	# user: the static userdb asks the passdbs whether the user exists),
	# each with the client address Dovecot would have.
	run doveadm_ auth lookup -x rip=127.0.0.61 "$LOOK_USER"
	assert_success
	assert_line "passdb: $LOOK_USER"
	run doveadm_ user -x rip=127.0.0.62 "$LOOK_USER"
	assert_success
	assert_line --regexp "^home[[:space:]]+$DOVE/home\$"

	# Both went through checkpw-roam to the real checkpassword, which was
	# asked for a lookup and said yes.
	run dovecot_log
	assert_line --regexp "checkpassword\\($LOOK_USER,127\\.0\\.0\\.61\\): execute: $DOVE/bin/checkpw-roam $HELPERS/dovecot-lookup-checkpassword "
	assert_line --regexp "checkpassword\\($LOOK_USER,127\\.0\\.0\\.62\\): execute: $DOVE/bin/checkpw-roam "
	run cat "$DOVE/lookup.log"
	assert_line "user=$LOOK_USER AUTHORIZED=1 CREDENTIALS_LOOKUP=1 SERVICE=doveadm TCPREMOTEIP=127.0.0.61"
	assert_line "user=$LOOK_USER AUTHORIZED=1 CREDENTIALS_LOOKUP=1 SERVICE=doveadm TCPREMOTEIP=127.0.0.62"

	run list_ips
	assert_output ""
	run decision 127.0.0.61
	assert_output "$(printf '%s\n' 'rule :' 'allow connection')"
	run decision 127.0.0.62
	assert_output "$(printf '%s\n' 'rule :' 'allow connection')"

	# The same user and checkpassword, with a password: that opens.
	run doveadm_ auth test -x rip=127.0.0.63 "$LOOK_USER" "$LOOK_PASS"
	assert_success
	assert_line "passdb: $LOOK_USER auth succeeded"
	run list_ips
	assert_output 127.0.0.63
	relay_open 127.0.0.63
}

@test "a password check for SMTP AUTH (SERVICE=smtp) opens nothing" {
	run doveadm_ auth test -x service=smtp -x rip=127.0.0.64 "$DOVE_USER" "$DOVE_PASS"
	assert_success
	assert_line "passdb: $DOVE_USER auth succeeded"
	run dovecot_log
	assert_line --regexp "checkpassword\\($DOVE_USER,127\\.0\\.0\\.64\\): execute: $DOVE/bin/checkpw-roam /usr/bin/checkpw "
	refute_line --partial 'relay opened'
	run list_ips
	assert_output ""
	run probe_via tcpclient 127.0.0.64 127.0.0.1 "$SMTP_PORT"
	assert_output "RELAYCLIENT unset for 127.0.0.64"
}
