#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Privilege boundaries: the user's session and other local users cannot
# touch the relay files, and nothing after authentication can open a relay.

load helpers/common

setup() {
	common_setup
	[ "$(id -u)" = 0 ] || skip "privilege tests run as root, with nobody as the user"
	printf '10.0.0.:allow\n' >"$ROAM_DIR/tcp.smtp"
}
teardown() { common_teardown; }

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}

snapshot() {
	(cd "$ROAM_DIR" && for f in *; do printf '%s ' "$f"; stat -c '%i %s %Y' "$f"; done; cat open-smtp || :) \
		>"$BATS_TEST_TMPDIR/snap.$1" 2>/dev/null
}

@test "the session, running as the user, cannot write, replace or lock the relay files" {
	login 127.0.0.5 good
	snapshot before
	try='cd "$ROAM_DIR" || exit 9
	n=0
	echo "1.2.3.4:allow,RELAYCLIENT=\"\"	9999999999" >>open-smtp && n=$((n+1))
	true >tcp.smtp.cdb && n=$((n+1))
	echo x >open-smtp.new && n=$((n+1))
	mv tcp.smtp tcp.smtp.old && n=$((n+1))
	ln -s /tmp tcp.smtp.cdb.tmp.1 && n=$((n+1))
	flock -n open-smtp.lock true && n=$((n+1))
	echo "writes that worked: $n"'
	login 127.0.0.5 good bash -c "$try"
	assert_success
	assert_line 'writes that worked: 0'
	snapshot after
	# Only the refreshed timestamp differs.
	diff <(sed 's/\t[0-9]*$//; /^open-smtp /d' "$BATS_TEST_TMPDIR/snap.before") \
		<(sed 's/\t[0-9]*$//; /^open-smtp /d' "$BATS_TEST_TMPDIR/snap.after")
	refute relay_open 1.2.3.4
}

@test "the session inherits no descriptor to the relay files or to the recorder" {
	login 127.0.0.5 good sh -c 'for f in /proc/$$/fd/*; do echo "$(readlink "$f")"; done'
	assert_success
	refute_output --partial "$ROAM_DIR"
	refute_output --partial 'socket:'
	relay_open 127.0.0.5
}

@test "the session runs as the user; the recorder did its work as the service's account" {
	login 127.0.0.5 good sh -c 'id -un'
	assert_success
	assert_line 'nobody'
	run stat -c %U "$ROAM_DIR/open-smtp" "$ROAM_DIR/tcp.smtp.cdb"
	assert_output $'root\nroot'
}

@test "a local user running checkpw-roam by hand cannot open a relay" {
	snapshot before
	run as_nobody env ROAM_DIR="$ROAM_DIR" TCPREMOTEIP=1.2.3.4 \
		"$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c 'echo session ok' 3< <(printf 'u\0good\0\0')
	assert_success
	assert_line 'session ok'
	assert_line --partial 'checkpw-roam: warning: unable to open the relay for 1.2.3.4: unable to '
	snapshot after
	cmp "$BATS_TEST_TMPDIR/snap.before" "$BATS_TEST_TMPDIR/snap.after"
	if [ -e "$ROAM_DIR/tcp.smtp.cdb" ]; then refute relay_open 1.2.3.4; fi
}

@test "a local user cannot hold the lock to stall the writers" {
	login 127.0.0.5 good
	run as_nobody flock -n "$ROAM_DIR/open-smtp.lock" true
	assert_failure
	run stat -c %a "$ROAM_DIR/open-smtp.lock"
	assert_output 600
}

@test "a local user running clearopensmtp changes nothing" {
	login 127.0.0.5 good
	snapshot before
	for args in '-m 0' '-d 127.0.0.5' '-f'; do
		# shellcheck disable=SC2086
		run as_nobody env ROAM_DIR="$ROAM_DIR" "$CLEAROPENSMTP" $args
		assert_failure 111
		assert_output --partial 'clearopensmtp: fatal: unable to '
	done
	snapshot after
	cmp "$BATS_TEST_TMPDIR/snap.before" "$BATS_TEST_TMPDIR/snap.after"
	relay_open 127.0.0.5
}

@test "a symlink planted at a temp name is removed by the next writer of that file, never written through" {
	login 127.0.0.5 good
	echo precious >"$BATS_TEST_TMPDIR/precious"
	for pid in $(seq 1 64); do
		ln -s "$BATS_TEST_TMPDIR/precious" "$ROAM_DIR/tcp.smtp.cdb.tmp.$pid"
		ln -s "$BATS_TEST_TMPDIR/precious" "$ROAM_DIR/open-smtp.tmp.$pid"
	done
	login 127.0.0.6 good
	assert_success
	run cat "$BATS_TEST_TMPDIR/precious"
	assert_output precious
	run ls "$ROAM_DIR"
	refute_output --partial 'tcp.smtp.cdb.tmp.'
	relay_open 127.0.0.6
	run "$CLEAROPENSMTP"
	assert_success
	run cat "$BATS_TEST_TMPDIR/precious"
	assert_output precious
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
	relay_open 127.0.0.6
}
