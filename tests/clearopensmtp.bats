#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# clearopensmtp as cron and administrators run it: expiry, listing,
# closing one address, forced rebuilds, and what it refuses.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

# entry IP AGE_SECONDS: one vpopmail-format line aged AGE_SECONDS.
entry() {
	printf '%s:allow,RELAYCLIENT="",RBLSMTPD=""\t%s\n' "$1" $(($(date +%s) - $2))
}

# three entries: 10 s, 2 h and 4 h old, and their cdb.
three() {
	{
		entry 127.0.0.1 10
		entry 127.0.0.2 7200
		entry 127.0.0.3 14400
	} >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f -m 100000
}

@test "without options it drops entries older than 180 minutes and rebuilds" {
	three
	relay_open 127.0.0.3
	run "$CLEAROPENSMTP"
	assert_success
	assert_output ''
	run list_ips
	assert_output $'127.0.0.1\n127.0.0.2'
	refute relay_open 127.0.0.3
	relay_open 127.0.0.2
}

@test "-m and ROAM_MINUTES set the age; -m wins" {
	three
	ROAM_MINUTES=60 run "$CLEAROPENSMTP" -m 300
	assert_success
	[ "$(list_ips | wc -l)" -eq 3 ]
	ROAM_MINUTES=60 run "$CLEAROPENSMTP"
	assert_success
	run list_ips
	assert_output '127.0.0.1'
	refute relay_open 127.0.0.2
	relay_open 127.0.0.1
}

@test "when nothing expired, the list and the cdb are written back as they were" {
	three
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run "$CLEAROPENSMTP" -m 1000
	assert_success
	assert_output ''
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
}

@test "-f rebuilds even when nothing changed, picking up an edited tcp.smtp" {
	three
	before=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	printf '127.0.0.1:deny\n' >"$ROAM_DIR/tcp.smtp"
	run "$CLEAROPENSMTP" -f -m 1000
	assert_success
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" != "$before" ]
	run decision 127.0.0.1
	assert_output --partial 'deny connection'
}

@test "-n prints what would be dropped and changes nothing" {
	three
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run "$CLEAROPENSMTP" -n -m 60
	assert_success
	assert_output --regexp $'^127\\.0\\.0\\.2 720[0-9] 0\n127\\.0\\.0\\.3 1440[0-9] 0$'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
}

@test "-l lists every open address with its age and time left" {
	three
	run "$CLEAROPENSMTP" -l
	assert_success
	assert_output --regexp $'^127\\.0\\.0\\.1 1[0-9] 107[89][0-9]\n127\\.0\\.0\\.2 720[0-9] (359[0-9]|3600)\n127\\.0\\.0\\.3 1440[0-9] 0$'
	run "$CLEAROPENSMTP" -l -m 1
	assert_output --regexp '^127\.0\.0\.1 1[0-9] [45][0-9]'
}

@test "-d closes one address at once, in any text form" {
	three
	run "$CLEAROPENSMTP" -d 127.0.0.1
	assert_success
	refute relay_open 127.0.0.1
	run list_ips
	assert_output $'127.0.0.2\n127.0.0.3'
	entry 2001:db8::1:2:3:4:5 10 >>"$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP" -d 2001:DB8:0:1:2:3:4:5
	assert_success
	run list_ips
	assert_output $'127.0.0.2\n127.0.0.3'
}

@test "-d of an address that is not open warns and changes nothing" {
	three
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run "$CLEAROPENSMTP" -d 127.0.0.9
	assert_success
	assert_output 'clearopensmtp: warning: 127.0.0.9 is not open'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
}

@test "-n -d shows the entry without closing it" {
	three
	run "$CLEAROPENSMTP" -n -d 127.0.0.2
	assert_success
	assert_output --regexp '^127\.0\.0\.2 720[0-9] '
	relay_open 127.0.0.2
}

@test "bad usage and bad values exit 100 with one line" {
	for args in '-x' '-m' '-m abc' '-m -1' '-m 99999999999' '-l -n' '-l -f' '-l -d 1.2.3.4' 'extra' '-d junk' '-d 1.2.3.4:allow'; do
		# shellcheck disable=SC2086
		run "$CLEAROPENSMTP" $args
		assert_failure 100
		[ "${#lines[@]}" -ge 1 ]
		assert_line --regexp '^clearopensmtp: fatal: (usage|bad)'
	done
	ROAM_MINUTES=soon run "$CLEAROPENSMTP"
	assert_failure 100
	assert_output 'clearopensmtp: fatal: bad ROAM_MINUTES: "soon"'
}

@test "a bad tcp.smtp exits 100 naming the line, and keeps the old cdb and the old list" {
	three
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	printf '# rules\n10.0.0.:allow\n10.1.0.:allow,RELAYCLIENT\n' >"$ROAM_DIR/tcp.smtp"
	run "$CLEAROPENSMTP"
	assert_failure 100
	assert_output 'clearopensmtp: fatal: unable to rebuild tcp.smtp.cdb: tcp.smtp line 3: unable to parse this line: "10.1.0.:allow,RELAYCLIENT"'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	# Mended, the next run expires what it could not before.
	printf '10.0.0.:allow\n' >"$ROAM_DIR/tcp.smtp"
	run "$CLEAROPENSMTP"
	assert_success
	refute relay_open 127.0.0.3
}

@test "a missing ROAM_DIR is a system failure (111)" {
	ROAM_DIR=$BATS_TEST_TMPDIR/none run "$CLEAROPENSMTP"
	assert_failure 111
	assert_output "clearopensmtp: fatal: unable to open directory $BATS_TEST_TMPDIR/none: No such file or directory"
}

@test "an empty directory is a valid state: -f makes a cdb of tcp.smtp alone" {
	printf '127.0.0.7:allow,X="y"\n' >"$ROAM_DIR/tcp.smtp"
	run "$CLEAROPENSMTP" -f
	assert_success
	tcprules_of "$ROAM_DIR/tcp.smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
	run "$CLEAROPENSMTP" -l
	assert_output ''
}

@test "it waits for the lock, so a login during expiry is not lost" {
	three
	exec {lk}>"$ROAM_DIR/open-smtp.lock"
	flock "$lk"
	"$CLEAROPENSMTP" -m 60 &
	cpid=$!
	PIDS+=("$cpid")
	sleep 0.3
	# A writer holding the lock adds an address, as a login would.
	entry 127.0.0.9 0 >>"$ROAM_DIR/open-smtp"
	flock -u "$lk"
	exec {lk}>&-
	wait "$cpid"
	run list_ips
	assert_output $'127.0.0.1\n127.0.0.9'
	relay_open 127.0.0.9
	refute relay_open 127.0.0.2
}

@test "a lock held too long is a system failure (111) after about 10 s, with nothing changed" {
	three
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	flock "$ROAM_DIR/open-smtp.lock" sleep 14 &
	PIDS+=($!)
	sleep 0.2
	run "$CLEAROPENSMTP" -m 60
	assert_failure 111
	assert_output "clearopensmtp: fatal: unable to lock $ROAM_DIR/open-smtp.lock: timed out"
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
}
