#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# open-smtp.outbox, through which roamsync passes a host's logins and
# closes on to the other hosts: what checkpw-roam and clearopensmtp -d
# append to it, only once roamsync has made it, and what they refuse.

load helpers/common

setup() {
	common_setup
	# Some tests trace the programs: LeakSanitizer (make asan) cannot
	# work in a traced process.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
}
teardown() { common_teardown; }

# A login: the address, the time to the millisecond and the account.
LOGIN_RE=$'^\\+127\\.0\\.0\\.5\t[0-9]{10}\\.[0-9]{3}\tuser$'

# make_outbox: as roamsync makes it.
make_outbox() {
	install -m 600 /dev/null "$ROAM_DIR/open-smtp.outbox"
}

@test "without an outbox, a login costs one failed open of it and writes nothing there" {
	run strace -f -qq -e trace=openat,open -o "$BATS_TEST_TMPDIR/trace" \
		env TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
		3< <(printf 'user\0good\0\0')
	assert_success
	wait_recorders
	relay_open 127.0.0.5
	run grep -c 'open-smtp\.outbox' "$BATS_TEST_TMPDIR/trace"
	assert_output 1
	run grep 'open-smtp\.outbox' "$BATS_TEST_TMPDIR/trace"
	assert_output --partial 'O_WRONLY|O_APPEND|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC) = -1 ENOENT'
	assert_not_exist "$ROAM_DIR/open-smtp.outbox"
}

@test "with an outbox, each good login appends its address, its time in ms and its account; a bad password nothing" {
	make_outbox
	login 127.0.0.5 good
	assert_success
	wait_recorders
	run cat "$ROAM_DIR/open-smtp.outbox"
	assert_output --regexp "$LOGIN_RE"
	login 127.0.0.5 good
	assert_success
	login 127.0.0.6 wrong
	assert_failure 1
	wait_recorders
	run cat "$ROAM_DIR/open-smtp.outbox"
	assert_line --index 0 --regexp "$LOGIN_RE"
	assert_line --index 1 --regexp "$LOGIN_RE"
	[ "${#lines[@]}" -eq 2 ]
	# The outbox is roamsync's: its mode and owner are left alone.
	[ "$(stat -c %a "$ROAM_DIR/open-smtp.outbox")" = 600 ]
}

@test "the recorder appends to the outbox once the address is in the list, before its build: the other hosts build meanwhile" {
	make_outbox
	run strace -f -qq -y -e trace=openat,pwrite64,rename,renameat,renameat2,write -e signal=none \
		-o "$BATS_TEST_TMPDIR/trace" env TCPREMOTEIP=127.0.0.5 \
		"$CHECKPW_ROAM" "$FAKE_CHECKPW" true 3< <(printf 'user\0good\0\0')
	assert_success
	wait_recorders
	# The recorder's lines: the one that opens the outbox.
	pid=$(awk '/open-smtp\.outbox/ { print $1; exit }' "$BATS_TEST_TMPDIR/trace")
	[ -n "$pid" ]
	# Its append to the list, the outbox, the cdb's rename, the answer.
	run awk -v p="$pid" '$1 != p { next }
		/pwrite64\([0-9]+<[^>]*\/open-smtp>/ { print "append" }
		/openat\(.*open-smtp\.outbox"/ { print "outbox" }
		/rename.*"tcp\.smtp\.cdb"/ { print "build" }
		/write\(3<[^>]*>, "K", 1\)/ { print "answer" }' "$BATS_TEST_TMPDIR/trace"
	assert_output $'append\noutbox\nbuild\nanswer'
}

@test "clearopensmtp -d appends a close, synced, even for an address not open here" {
	make_outbox
	login 127.0.0.5 good
	wait_recorders
	: >"$ROAM_DIR/open-smtp.outbox"
	run "$CLEAROPENSMTP" -d 127.0.0.5
	assert_success
	refute relay_open 127.0.0.5
	run "$CLEAROPENSMTP" -d ::ffff:127.0.0.9
	assert_success
	assert_output 'clearopensmtp: warning: 127.0.0.9 is not open'
	run cat "$ROAM_DIR/open-smtp.outbox"
	assert_line --index 0 --regexp $'^-127\\.0\\.0\\.5\t[0-9]{10}\\.[0-9]{3}$'
	assert_line --index 1 --regexp $'^-127\\.0\\.0\\.9\t[0-9]{10}\\.[0-9]{3}$'
	[ "${#lines[@]}" -eq 2 ]
	run strace -qq -e trace=fsync -o "$BATS_TEST_TMPDIR/trace" "$CLEAROPENSMTP" -d 127.0.0.5
	# The list and the cdb (the pass), then the outbox.
	[ "$(grep -c fsync "$BATS_TEST_TMPDIR/trace")" -ge 3 ]
}

@test "without an outbox, clearopensmtp -d and expiry write none" {
	login 127.0.0.5 good
	wait_recorders
	run "$CLEAROPENSMTP" -d 127.0.0.5
	assert_success
	run "$CLEAROPENSMTP"
	assert_success
	assert_not_exist "$ROAM_DIR/open-smtp.outbox"
}

@test "expiry and -f append nothing: roamsync expires the database itself" {
	make_outbox
	run "$CLEAROPENSMTP" -f
	assert_success
	run "$CLEAROPENSMTP" -m 0
	assert_success
	[ ! -s "$ROAM_DIR/open-smtp.outbox" ]
}

# chain IP: a good login with its messages, the recorder's included,
# appended to $BATS_TEST_TMPDIR/log.
chain() {
	TCPREMOTEIP=$1 "$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c 'echo session ok' \
		3< <(printf 'user\0good\0\0') 2>>"$BATS_TEST_TMPDIR/log"
}

@test "an outbox that is a symbolic link or a FIFO is refused with a warning; the login goes on" {
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$ROAM_DIR/open-smtp.outbox"
	run chain 127.0.0.5
	assert_success
	assert_output 'session ok'
	wait_recorders
	relay_open 127.0.0.5
	assert_not_exist "$BATS_TEST_TMPDIR/elsewhere"
	run cat "$BATS_TEST_TMPDIR/log"
	assert_line 'checkpw-roam: warning: unable to pass the login from 127.0.0.5 on to roamsync: unable to open open-smtp.outbox: Too many levels of symbolic links'
	rm "$ROAM_DIR/open-smtp.outbox"
	mkfifo -m 600 "$ROAM_DIR/open-smtp.outbox"
	run chain 127.0.0.6
	assert_success
	assert_output 'session ok'
	wait_recorders
	relay_open 127.0.0.6
	run cat "$BATS_TEST_TMPDIR/log"
	assert_line 'checkpw-roam: warning: unable to pass the login from 127.0.0.6 on to roamsync: unable to open open-smtp.outbox: No such device or address'
	run "$CLEAROPENSMTP" -d 127.0.0.6
	assert_failure 111
	assert_output 'clearopensmtp: fatal: closed 127.0.0.6 here, but unable to pass the close on to roamsync: unable to open open-smtp.outbox: No such device or address'
	refute relay_open 127.0.0.6
}

@test "an outbox others may write stops the login's recording, as any file of the directory" {
	install -m 666 /dev/null "$ROAM_DIR/open-smtp.outbox"
	login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	assert_line --partial "refusing to use $ROAM_DIR/open-smtp.outbox: it may be written by anyone (mode 0666)"
	refute relay_open 127.0.0.5
	run "$CLEAROPENSMTP" -l
	assert_failure 111
}
