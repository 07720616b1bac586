#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# One builder: a new address is appended to the list (the list is the
# journal), and one build at a time compiles tcp.smtp and the list as read
# into the cdb, for every writer waiting; so the cdb is always what tcprules
# makes of tcp.smtp and the list, whatever was edited by hand. A known
# address's refresh is done in place; the list is written whole only when
# lines leave it (expiry, -d, -f).

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

@test "a new address is appended to the list and the cdb built anew: the cdb is what tcprules makes" {
	printf '127.0.0.2:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	for i in 6 7 8; do
		list=$(inode "$ROAM_DIR/open-smtp")
		cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
		size=$(stat -c %s "$ROAM_DIR/open-smtp")
		cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/before"
		login 127.0.0.$i good
		assert_success
		assert_line 'session ok'
		assert_line "checkpw-roam: info: relay opened for 127.0.0.$i by \"user\""
		[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
		cmp -n "$size" "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/before"
		[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" != "$cdb" ]
	done
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6\n127.0.0.7\n127.0.0.8'
	same_as_tcprules
	run ls -A "$ROAM_DIR"
	assert_output $'open-smtp\nopen-smtp.index\nopen-smtp.lock\ntcp.smtp\ntcp.smtp.cdb\ntcp.smtp.cdb.lock'
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

@test "a partial last line left by a killed appender is ended before the next line and kept out of the rules" {
	login 127.0.0.5 good
	printf '127.0.0.9:allow,RELAYCLI' >>"$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: open-smtp: 1 unreadable line kept out of the rules, line 2: "127.0.0.9:allow,RELAYCLI"'
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.9\n127.0.0.6'
	run sed -n 2p "$ROAM_DIR/open-smtp"
	assert_output '127.0.0.9:allow,RELAYCLI'
	relay_open 127.0.0.6
	relay_open 127.0.0.5
	refute relay_open 127.0.0.9
	# A good line cut short after its TAB is still its address's.
	printf '127.0.0.10:allow,RELAYCLIENT="",RBLSMTPD=""\t17' >>"$ROAM_DIR/open-smtp"
	login 127.0.0.7 good
	assert_success
	relay_open 127.0.0.10
	relay_open 127.0.0.7
	[ "$(list_ts 127.0.0.10)" = 17 ]
	login 127.0.0.10 good
	assert_success
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.9\n127.0.0.6\n127.0.0.10\n127.0.0.7'
	[ "$(list_ts 127.0.0.10)" -gt 17 ]
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

@test "an append cut short by a file size limit is cut back: the old list and cdb stay, the next login adds it" {
	login 127.0.0.5 good
	line=$(stat -c %s "$ROAM_DIR/open-smtp")
	# A malformed line, kept out of the rules, makes the list (3,070
	# bytes) reach past a limit of 3 KiB with the next line.
	printf '%*s\n' $((3070 - 2 * line - 1)) '' | tr ' ' x >>"$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" -eq 3070 ]
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run bash -c "ulimit -f 3; TCPREMOTEIP=127.0.0.7 '$CHECKPW_ROAM' '$FAKE_CHECKPW' sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')"
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: unable to open the relay for 127.0.0.7: unable to append to open-smtp: File too large'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	# Without the limit, the next login of the address adds it.
	login 127.0.0.7 good
	assert_success
	for i in 5 6 7; do relay_open 127.0.0.$i; done
	same_as_tcprules
}

@test "vpopmail's own code writing the list between two logins: the next login builds from the list it wrote" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	printf '127.0.0.2:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	TCPREMOTEIP=127.0.0.8 "$HELPERS/vpopmail-writer" "$ROAM_DIR"
	relay_open 127.0.0.8
	# A known address, refreshed in place: the list is not the one the
	# last build indexed, so it builds.
	login 127.0.0.5 good
	assert_success
	relay_open 127.0.0.5
	relay_open 127.0.0.8
	same_as_tcprules
	TCPREMOTEIP=127.0.0.9 "$HELPERS/vpopmail-writer" "$ROAM_DIR"
	login 127.0.0.6 good
	assert_success
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.8\n127.0.0.9\n127.0.0.6'
	for i in 5 6 8 9; do relay_open 127.0.0.$i; done
	same_as_tcprules
}

@test "a refresh is found through the index's tail: the line appended since the index was written, rewritten in place" {
	now=$(date +%s)
	for i in $(seq 1 2000); do
		printf '10.0.%d.%d:allow,RELAYCLIENT="",RBLSMTPD=""\t%s\n' $((i / 250)) $((i % 250)) "$now"
	done >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f
	index=$(inode "$ROAM_DIR/open-smtp.index")
	login 127.0.0.5 good
	assert_success
	# One line of 2,001: the index is not written for it.
	[ "$(inode "$ROAM_DIR/open-smtp.index")" = "$index" ]
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	size=$(stat -c %s "$ROAM_DIR/open-smtp")
	age_in_place 127.0.0.5 $((now - 100))
	before=$(list_ts 127.0.0.5)
	strace -f -qq -e trace=pwrite64,write -o "$BATS_TEST_TMPDIR/trace" \
		env TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true 3< <(printf 'u\0good\0\0')
	wait_recorders
	[ "$(list_ts 127.0.0.5)" -gt "$before" ]
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" = "$size" ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$cdb" ]
	run grep -c pwrite64 "$BATS_TEST_TMPDIR/trace"
	assert_output 1
	run list_ips
	[ "${#lines[@]}" -eq 2001 ]
}

@test "32 concurrent logins from one new address: one line, not 32, and one build" {
	command -v strace >/dev/null || skip "strace is not installed"
	login 127.0.0.5 good
	exec {lk}>"$ROAM_DIR/tcp.smtp.cdb.lock"
	flock "$lk"
	for i in $(seq 1 32); do
		ROAM_WAIT_MS=20000 strace -f -qq -e trace=rename,renameat,renameat2 -o "$BATS_TEST_TMPDIR/trace.$i" \
			env TCPREMOTEIP=127.0.0.77 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
			3< <(printf 'u\0good\0\0') 2>"$BATS_TEST_TMPDIR/log.$i" {lk}>&- &
		PIDS+=($!)
	done
	for _ in $(seq 1 100); do
		[ "$(grep -c '^127.0.0.77:' "$ROAM_DIR/open-smtp")" = 1 ] && break
		sleep 0.1
	done
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	flock -u "$lk"
	exec {lk}>&-
	wait "${PIDS[@]}"
	run grep -c '^127.0.0.77:' "$ROAM_DIR/open-smtp"
	assert_output 1
	run cat "$BATS_TEST_TMPDIR"/trace.*
	[ "$(grep -c '"tcp.smtp.cdb"' <<<"$output")" -eq 1 ]
	relay_open 127.0.0.77
	[ "$(cat "$BATS_TEST_TMPDIR"/log.* | grep -c 'relay opened for 127.0.0.77')" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR"/log.* | grep -c warning)" -eq 0 ]
	same_as_tcprules
}

@test "a list deleted, or cut short in place, is noticed by the next login: what it no longer holds is closed" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	login 127.0.0.7 good
	# Cut short in place, as an editor that saves in place would: the
	# last line gone, the same inode.
	ino=$(inode "$ROAM_DIR/open-smtp")
	python3 - "$ROAM_DIR/open-smtp" <<'PY'
import os, sys
data = open(sys.argv[1], 'rb').read()
keep = b''.join(data.splitlines(True)[:2])
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, keep, 0)
os.ftruncate(fd, len(keep))
PY
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$ino" ]
	login 127.0.0.5 good
	assert_success
	refute relay_open 127.0.0.7
	relay_open 127.0.0.5
	relay_open 127.0.0.6
	same_as_tcprules
	# Deleted: the next login starts a new list, and builds.
	rm "$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	assert_success
	run list_ips
	assert_output 127.0.0.6
	refute relay_open 127.0.0.5
	relay_open 127.0.0.6
	same_as_tcprules
}
