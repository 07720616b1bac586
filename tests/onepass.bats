#!/usr/bin/env bats
# One pass for every change: a new address, waiting addresses, expiry, -d
# and -f all read tcp.smtp and the list and write the list, its index and
# the cdb anew, so the cdb is always what tcprules makes of tcp.smtp and the
# list, whatever was edited by hand. Only a known address's refresh is
# done in place.

load helpers/common
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

RELAY='allow,RELAYCLIENT="",RBLSMTPD=""'

# same_as_tcprules: tcp.smtp.cdb has the bytes real tcprules makes of
# tcp.smtp then the list.
same_as_tcprules() {
	touch "$ROAM_DIR/tcp.smtp"
	tcprules_of "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
}

@test "a new address writes the list, its index and the cdb anew: the cdb is what tcprules makes" {
	printf '127.0.0.2:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	for i in 6 7 8; do
		list=$(inode "$ROAM_DIR/open-smtp")
		cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
		login 127.0.0.$i good
		assert_success
		assert_line 'session ok'
		assert_line "checkpw-roam: info: relay opened for 127.0.0.$i"
		[ "$(inode "$ROAM_DIR/open-smtp")" != "$list" ]
		[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" != "$cdb" ]
	done
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6\n127.0.0.7\n127.0.0.8'
	same_as_tcprules
	run ls -A "$ROAM_DIR"
	assert_output $'open-smtp\nopen-smtp.index\nopen-smtp.lock\ntcp.smtp\ntcp.smtp.cdb'
}

@test "an edit of tcp.smtp, even in place in the same second and size, is compiled by the next new address" {
	printf '127.0.0.8:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	printf '127.0.0.9:deny\n' >"$ROAM_DIR/tcp.smtp"
	touch -d "@$(stat -c %Y "$ROAM_DIR/tcp.smtp.cdb")" "$ROAM_DIR/tcp.smtp"
	login 127.0.0.6 good
	assert_success
	run decision 127.0.0.9
	assert_output --partial 'deny connection'
	run decision 127.0.0.8
	refute_output --partial 'deny connection'
	relay_open 127.0.0.5
	relay_open 127.0.0.6
	same_as_tcprules
}

@test "a cdb made by hand from tcp.smtp alone is noticed: the next new address puts every open one back" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	: | tcprules "$ROAM_DIR/tcp.smtp.cdb" "$ROAM_DIR/x.tmp"
	refute relay_open 127.0.0.5
	login 127.0.0.7 good
	assert_success
	for i in 5 6 7; do relay_open 127.0.0.$i; done
	same_as_tcprules
}

@test "a line added to the list by hand is noticed and compiled with the next new address" {
	login 127.0.0.5 good
	printf '127.0.0.8:%s\t%s\n' "$RELAY" "$(date +%s)" >>"$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	assert_success
	for i in 5 6 8; do relay_open 127.0.0.$i; done
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.8\n127.0.0.6'
	same_as_tcprules
}

@test "an edit in place of the same size (as nano saves) leaves no stale relay once the next new address is in" {
	login 10.1.1.1 good
	login 127.0.0.5 good
	relay_open 10.1.1.1
	ino=$(inode "$ROAM_DIR/open-smtp")
	size=$(stat -c %s "$ROAM_DIR/open-smtp")
	python3 - "$ROAM_DIR/open-smtp" <<'PY'
import sys
f = open(sys.argv[1], 'r+b')
data = f.read()
f.seek(0)
f.write(data.replace(b'10.1.1.1:', b'10.1.1.7:'))
PY
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$ino" ]
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" = "$size" ]
	login 127.0.0.6 good
	assert_success
	refute relay_open 10.1.1.1
	relay_open 10.1.1.7
	same_as_tcprules
	run "$CLEAROPENSMTP" -d 10.1.1.1
	assert_success
	assert_output 'clearopensmtp: warning: 10.1.1.1 is not open'
	refute relay_open 10.1.1.1
}

@test "a refresh adds the addresses left in the journal by recorders that stopped waiting" {
	login 127.0.0.5 good
	now=$(date +%s)
	printf '127.0.0.9:%s\t%s\n' "$RELAY" "$now" >"$ROAM_DIR/open-smtp.journal"
	chmod 600 "$ROAM_DIR/open-smtp.journal"
	# Written just now, it is its recorder's to add: a refresh leaves it.
	login 127.0.0.5 good
	wait_recorders
	refute relay_open 127.0.0.9
	# Older than a recorder waits for the lock (10 s): no one else will.
	touch -d "@$((now - 12))" "$ROAM_DIR/open-smtp.journal"
	login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	wait_recorders
	relay_open 127.0.0.9
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.9'
	assert_file_not_exists "$ROAM_DIR/open-smtp.journal"
	assert_file_not_exists "$ROAM_DIR/open-smtp.journal.merging"
	same_as_tcprules
}

@test "every file but vpopmail's four may be deleted: the next writer makes what it needs again" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	for f in open-smtp.index tcp.smtp.cdb open-smtp.lock; do
		rm "$ROAM_DIR/$f"
		login 127.0.0.5 good
		assert_success
		assert_line 'session ok'
		refute_output --partial warning
		wait_recorders
		relay_open 127.0.0.5
		relay_open 127.0.0.6
		same_as_tcprules
		assert_file_exist "$ROAM_DIR/$f"
	done
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6'
}

@test "a pass cut short by a file size limit: the old list and cdb stay, the address waits and the next writer adds it" {
	login 127.0.0.5 good
	line=$(stat -c %s "$ROAM_DIR/open-smtp")
	# A malformed line, kept out of the rules, makes the list (3,040
	# bytes) bigger than the cdb, so that a limit of 3 KiB falls inside
	# the next list written.
	printf '%*s\n' $((3040 - 2 * line - 1)) '' | tr ' ' x >>"$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" -eq 3040 ]
	[ "$(stat -c %s "$ROAM_DIR/tcp.smtp.cdb")" -lt 3000 ]
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run bash -c "ulimit -f 3; TCPREMOTEIP=127.0.0.7 '$CHECKPW_ROAM' '$FAKE_CHECKPW' sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')"
	assert_success
	assert_line 'session ok'
	assert_line --regexp '^checkpw-roam: warning: unable to open the relay for 127\.0\.0\.7: unable to write open-smtp\.tmp\.[0-9]+: File too large$'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	# Without the limit, the next writer, a refresh, adds the address
	# that waited.
	login 127.0.0.5 good
	wait_recorders
	for i in 5 6 7; do relay_open 127.0.0.$i; done
	same_as_tcprules
}
