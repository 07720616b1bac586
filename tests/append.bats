#!/usr/bin/env bats
# New addresses on a consistent state: appended to the list in place and
# added to a copy of the cdb, without reading the list. open-smtp.stamp
# names the list and the cdb the last rebuild left consistent, and a sum
# of tcp.smtp's text; anything else (an edit, a hand-made cdb, a damaged
# stamp, too many lines after the index) means a full rebuild, and the
# result is always the cdb tcprules makes of tcp.smtp and the list.

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

@test "a new address is appended in place: list and index stay, the cdb is what tcprules makes" {
	printf '127.0.0.2:deny\n' >"$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	list=$(inode "$ROAM_DIR/open-smtp")
	index=$(inode "$ROAM_DIR/open-smtp.index")
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	for i in 6 7 8; do
		login 127.0.0.$i good
		assert_success
		assert_line 'session ok'
		assert_line "checkpw-roam: info: relay opened for 127.0.0.$i"
	done
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
	[ "$(inode "$ROAM_DIR/open-smtp.index")" = "$index" ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" != "$cdb" ]
	run list_ips
	assert_output $'127.0.0.5\n127.0.0.6\n127.0.0.7\n127.0.0.8'
	for i in 5 6 7 8; do relay_open 127.0.0.$i; done
	same_as_tcprules
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
}

@test "an address appended after the index is refreshed in place" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	list=$(inode "$ROAM_DIR/open-smtp")
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	size=$(stat -c %s "$ROAM_DIR/open-smtp")
	before=$(list_ts 127.0.0.6)
	sleep 1.1
	login 127.0.0.6 good
	assert_success
	refute_output --partial 'relay opened'
	[ "$(list_ts 127.0.0.6)" -gt "$before" ]
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$cdb" ]
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" = "$size" ]
}

@test "a list rewritten for timestamps alone keeps the cdb, and the next new address is appended" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	# Without its index, a refresh rewrites the list; the cdb it would
	# write has the same bytes, so it stays and the stamp names it.
	rm "$ROAM_DIR/open-smtp.index"
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	list=$(inode "$ROAM_DIR/open-smtp")
	sleep 1.1
	login 127.0.0.5 good
	assert_success
	[ "$(inode "$ROAM_DIR/open-smtp")" != "$list" ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$cdb" ]
	list=$(inode "$ROAM_DIR/open-smtp")
	login 127.0.0.7 good
	assert_success
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
	for i in 5 6 7; do relay_open 127.0.0.$i; done
	same_as_tcprules
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

@test "a damaged or missing stamp means a full rebuild, and the next one appends again" {
	login 127.0.0.5 good
	printf 'garbage' | dd of="$ROAM_DIR/open-smtp.stamp" bs=1 seek=20 conv=notrunc status=none
	list=$(inode "$ROAM_DIR/open-smtp")
	login 127.0.0.6 good
	assert_success
	[ "$(inode "$ROAM_DIR/open-smtp")" != "$list" ]
	rm "$ROAM_DIR/open-smtp.stamp"
	list=$(inode "$ROAM_DIR/open-smtp")
	login 127.0.0.7 good
	[ "$(inode "$ROAM_DIR/open-smtp")" != "$list" ]
	list=$(inode "$ROAM_DIR/open-smtp")
	login 127.0.0.8 good
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
	for i in 5 6 7 8; do relay_open 127.0.0.$i; done
	same_as_tcprules
}

@test "past 16 KB of lines after the index, the next update writes a new index" {
	# Lines of about 900 bytes: 19 of them pass 16 KB.
	ROAM_RELAY_ENV="RELAYCLIENT=\"\",X=\"$(printf '%0850d' 0)\""
	export ROAM_RELAY_ENV
	login 127.0.0.5 good
	index=$(inode "$ROAM_DIR/open-smtp.index")
	first=$(stat -c %s "$ROAM_DIR/open-smtp")
	for i in $(seq 10 28); do login 127.0.0.$i good; done
	[ "$(inode "$ROAM_DIR/open-smtp.index")" = "$index" ]
	[ $(($(stat -c %s "$ROAM_DIR/open-smtp") - first)) -gt 16384 ]
	login 127.0.0.29 good
	assert_success
	[ "$(inode "$ROAM_DIR/open-smtp.index")" != "$index" ]
	for i in 5 $(seq 10 29); do relay_open 127.0.0.$i; done
	same_as_tcprules
	# The new index finds them all: a refresh rewrites nothing.
	list=$(inode "$ROAM_DIR/open-smtp")
	sleep 1.1
	login 127.0.0.12 good
	refute_output --partial 'relay opened'
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
}

@test "an append cut short by a file size limit is undone: the old list and cdb stay, the address waits" {
	login 127.0.0.5 good
	line=$(stat -c %s "$ROAM_DIR/open-smtp")
	# A malformed line, kept out of the rules, makes the list (3,040
	# bytes) bigger than the cdb, so that a limit of 3 KiB falls inside
	# the next line appended.
	printf '%*s\n' $((3040 - 2 * line - 1)) '' | tr ' ' x >>"$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" -eq 3040 ]
	[ "$(stat -c %s "$ROAM_DIR/tcp.smtp.cdb")" -lt 3000 ]
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run bash -c "ulimit -f 3; TCPREMOTEIP=127.0.0.7 '$CHECKPW_ROAM' '$FAKE_CHECKPW' sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')"
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: unable to open the relay for 127.0.0.7: unable to write open-smtp: File too large'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old.list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	# Without the limit, the next update adds the address that waited.
	login 127.0.0.8 good
	for i in 5 6 7 8; do relay_open 127.0.0.$i; done
	same_as_tcprules
}
