#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Faults: a full disk, a file size limit, a recorder that dies. The login
# goes through, nothing good is lost, nothing half-written is left.

load helpers/common

setup() {
	common_setup
	MOUNTED=
}
teardown() {
	common_teardown
	if [ -n "$MOUNTED" ]; then umount "$MOUNTED"; fi
}

@test "a full disk: a warning, the login goes on, the old cdb and list lines intact, no temp left; then it recovers" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	mount -t tmpfs -o size=256k,mode=755 tmpfs "$ROAM_DIR"
	MOUNTED=$ROAM_DIR
	login 127.0.0.5 good
	assert_success
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	dd if=/dev/zero of="$ROAM_DIR/filler" bs=4k 2>/dev/null || :
	login 127.0.0.6 good
	assert_success
	assert_line 'session ok'
	assert_line --regexp '^checkpw-roam: warning: unable to open the relay for 127\.0\.0\.6: unable to (write|create|append to) .*: No space left on device$'
	# The old lines stay; the address may wait at the list's end.
	cmp -n "$(stat -c %s "$BATS_TEST_TMPDIR/list")" "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	rm "$ROAM_DIR/filler"
	login 127.0.0.6 good
	assert_success
	relay_open 127.0.0.6
	relay_open 127.0.0.5
}

@test "a full disk during expiry: clearopensmtp exits 111 and the next run finishes the job" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	mount -t tmpfs -o size=256k,mode=755 tmpfs "$ROAM_DIR"
	MOUNTED=$ROAM_DIR
	login 127.0.0.5 good
	login 127.0.0.6 good
	age_in_place 127.0.0.5 1000000000
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	dd if=/dev/zero of="$ROAM_DIR/filler" bs=4k 2>/dev/null || :
	run "$CLEAROPENSMTP"
	assert_failure 111
	assert_output --regexp '^clearopensmtp: fatal: unable to .*: No space left on device$'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	rm "$ROAM_DIR/filler"
	run "$CLEAROPENSMTP"
	assert_success
	refute relay_open 127.0.0.5
	relay_open 127.0.0.6
	run list_ips
	assert_output '127.0.0.6'
}

@test "a file size limit: the write fails cleanly (no SIGXFSZ death), is cut back, and the old files stay" {
	for i in $(seq 1 200); do
		printf '10.0.%d.%d:allow,RELAYCLIENT="",RBLSMTPD=""\t%s\n' $((i / 250)) $((i % 250)) "$(date +%s)"
	done >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run bash -c 'ulimit -f 4; exec "$@"' sh env TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" \
		"$FAKE_CHECKPW" sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: unable to open the relay for 127.0.0.5: unable to append to open-smtp: File too large'
	cmp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb"
	run bash -c 'ulimit -f 4; exec "$@"' sh "$CLEAROPENSMTP" -f
	assert_failure 111
	assert_output --regexp 'File too large$'
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
}

@test "the recorder keeps none of the chain's descriptors but stderr" {
	touch "$ROAM_DIR/open-smtp.lock"
	# Held until teardown stops it: the recorder must still be waiting.
	flock "$ROAM_DIR/open-smtp.lock" sleep 60 &
	PIDS+=($!)
	sleep 0.2
	echo x >"$BATS_TEST_TMPDIR/chainfile"
	ROAM_WAIT_MS=100 TCPREMOTEIP=127.0.0.77 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
		3< <(printf 'u\0good\0\0') 5<"$BATS_TEST_TMPDIR/chainfile" 7<"$BATS_TEST_TMPDIR/chainfile" \
		2>"$BATS_TEST_TMPDIR/log" &
	wait_for_recorder 127.0.0.77
	run bash -c 'cd /proc/$1/fd && for f in *; do echo "$f $(readlink "$f")"; done' sh "$RECORDER"
	assert_line '0 /dev/null'
	assert_line '1 /dev/null'
	assert_line "2 $BATS_TEST_TMPDIR/log"
	assert_line --regexp '^3 socket:'
	refute_output --partial chainfile
	refute_output --partial pipe:
	[ "$(grep -c socket: <<<"$output")" -eq 1 ]
	# Whatever else it holds, it opened itself, in ROAM_DIR.
	for l in "${lines[@]}"; do
		case $l in
		[0-3]\ *) ;;
		*) [[ $l == *" $ROAM_DIR"* ]] ;;
		esac
	done
	run ps -o sid=,pgid= -p "$RECORDER"
	read -r sid pgid <<<"$output"
	[ "$sid" = "$RECORDER" ]
	[ "$pgid" = "$RECORDER" ]
}

@test "a recorder killed during the login does not delay it, and the next login records" {
	touch "$ROAM_DIR/open-smtp.lock"
	exec {lk}>"$ROAM_DIR/open-smtp.lock"
	flock "$lk"
	ROAM_WAIT_MS=8000 TCPREMOTEIP=127.0.0.78 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c "echo session ok >$SCRATCH/session" 3< <(printf 'u\0good\0\0') \
		2>"$BATS_TEST_TMPDIR/log" {lk}>&- &
	chain=$!
	wait_for_recorder 127.0.0.78
	sleep 0.3
	start=$(date +%s%N)
	kill -9 "$RECORDER"
	wait "$chain"
	took=$((($(date +%s%N) - start) / 1000000))
	[ "$took" -lt 3000 ]
	grep -qx 'session ok' "$SCRATCH/session"
	grep -qx 'checkpw-roam: warning: the recorder ended without answering; the login goes on' \
		"$BATS_TEST_TMPDIR/log"
	assert_not_exist "$ROAM_DIR/open-smtp"
	flock -u "$lk"
	exec {lk}>&-
	login 127.0.0.78 good
	assert_success
	relay_open 127.0.0.78
}
