#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The open-smtp file: vpopmail's files read as they are, bad lines kept
# out of the rules but never destroyed, and files replaced safely.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

# vpopmail_line IP TS: a line exactly as vpopmail's writer makes it.
vpopmail_line() {
	printf '%s:allow,RELAYCLIENT="",RBLSMTPD=""\t%s\n' "$1" "$2"
}

@test "an existing vpopmail open-smtp is taken as it is, old lines kept byte for byte" {
	{
		vpopmail_line 10.1.1.1 1700000000
		vpopmail_line 10.1.1.2 1700000100
	} >"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	login 127.0.0.5 good
	assert_success
	head -n 2 "$ROAM_DIR/open-smtp" | cmp - "$BATS_TEST_TMPDIR/old"
	relay_open 10.1.1.1
	relay_open 127.0.0.5
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
}

@test "malformed lines are reported in one warning line per pass (their count, the first's number and text), kept, and never become rules" {
	{
		vpopmail_line 10.1.1.1 1700000000
		printf 'garbage\n'
		printf '10.2.2.2:allow,RELAYCLIENT=""\n'
		printf '10.3.3.3:allow,RELAYCLIENT=""\tsoon\n'
		printf '10.4.4.:allow,RELAYCLIENT=""\t1700000000\n'
		printf '=host:allow,RELAYCLIENT=""\t1700000000\n'
		printf '10.5.5.5:allow,RELAYCLIENT\t1700000000\n'
		printf '10.6.6.6-9:allow,RELAYCLIENT=""\t1700000000\n'
	} >"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: open-smtp: 7 unreadable lines kept out of the rules, the first line 2: "garbage"'
	[ "$(grep -c warning <<<"$output")" -eq 1 ]
	head -n 8 "$ROAM_DIR/open-smtp" | cmp - "$BATS_TEST_TMPDIR/old"
	for ip in 10.2.2.2 10.3.3.3 10.4.4.4 10.5.5.5 10.6.6.6 10.6.6.7; do
		refute relay_open "$ip"
	done
	relay_open 10.1.1.1
	relay_open 127.0.0.5
	# 10.1.1.1 expired: the build reads the list as written, where the
	# first of them is line 1.
	run "$CLEAROPENSMTP" -m 1
	assert_success
	assert_output 'clearopensmtp: warning: open-smtp: 7 unreadable lines kept out of the rules, the first line 1: "garbage"'
	run "$CLEAROPENSMTP" -l
	assert_success
	assert_line 'clearopensmtp: warning: open-smtp: 7 unreadable lines kept out of the rules, the first line 1: "garbage"'
	[ "$(grep -c warning <<<"$output")" -eq 1 ]
	run list_ips
	assert_line '127.0.0.5'
	refute_line '10.1.1.1'
	assert_line 'garbage'
}

@test "a repeated address is kept as tcprules would take it: the first line rules" {
	{
		vpopmail_line 10.1.1.1 1700000000
		printf '10.1.1.2:allow,RELAYCLIENT="",RBLSMTPD=""\t1700000000\n'
		printf '10.1.1.1:deny\t1750000000\n'
	} >"$ROAM_DIR/open-smtp"
	login 127.0.0.5 good
	run list_ips
	assert_output $'10.1.1.1\n10.1.1.2\n10.1.1.1\n127.0.0.5'
	relay_open 10.1.1.1
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
	# A refresh updates the first; each line expires on its own.
	login 10.1.1.1 good
	run list_ts 10.1.1.1
	assert_line --index 1 1750000000
	[ "${lines[0]}" -gt 1700000000 ]
}

@test "an address written in another form (::ffff:, upper case) is recognised, and rewritten canonically with the list" {
	{
		vpopmail_line ::ffff:127.0.0.5 1700000000
		vpopmail_line 2001:DB8:0:0:0:0:0:1 1700000000
	} >"$ROAM_DIR/open-smtp"
	login 127.0.0.5 good
	assert_success
	run list_ips
	assert_output $'::ffff:127.0.0.5\n2001:DB8:0:0:0:0:0:1'
	[ "$(list_ts ::ffff:127.0.0.5)" -gt 1700000000 ]
	relay_open 127.0.0.5
	run "$CLEAROPENSMTP" -m 52560000
	assert_success
	run list_ips
	assert_output $'127.0.0.5\n2001:db8::1'
	[ "$(list_ts 127.0.0.5)" -gt 1700000000 ]
}

@test "a NUL byte or a huge line in the list is kept out of the rules and not lost" {
	{
		printf '10.9.9.9:allow,RELAYCLIENT="\0"\t1700000000\n'
		head -c 1048576 /dev/zero | tr '\0' 'x'
		printf '\n'
		vpopmail_line 10.1.1.1 1700000000
	} >"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/old"
	login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	assert_line --regexp '^checkpw-roam: warning: open-smtp: 2 unreadable lines kept out of the rules, the first line 1: "10\.9\.9\.9:allow,RELAYCLIENT=\\x22\\x00\\x22\\x091700000000"$'
	head -n 3 "$ROAM_DIR/open-smtp" | cmp - "$BATS_TEST_TMPDIR/old"
	refute relay_open 10.9.9.9
	relay_open 10.1.1.1
}

@test "a list that is a symbolic link is refused and its target left alone" {
	vpopmail_line 10.1.1.1 1700000000 >"$BATS_TEST_TMPDIR/elsewhere"
	cp "$BATS_TEST_TMPDIR/elsewhere" "$BATS_TEST_TMPDIR/copy"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$ROAM_DIR/open-smtp"
	login 127.0.0.5 good
	assert_success
	assert_line 'session ok'
	assert_line 'checkpw-roam: warning: unable to open the relay for 127.0.0.5: refusing to read open-smtp: it is a symbolic link'
	[ -L "$ROAM_DIR/open-smtp" ]
	cmp "$BATS_TEST_TMPDIR/elsewhere" "$BATS_TEST_TMPDIR/copy"
}

@test "a list that is a directory or a FIFO is refused without hanging the login" {
	mkdir "$ROAM_DIR/open-smtp"
	login 127.0.0.5 good
	assert_success
	assert_line --partial 'refusing to read open-smtp: not a regular file'
	rmdir "$ROAM_DIR/open-smtp"
	mkfifo "$ROAM_DIR/open-smtp"
	ROAM_WAIT_MS=5000 timeout 10 true
	ROAM_WAIT_MS=5000 login 127.0.0.5 good
	assert_success
	assert_line --partial 'refusing to read open-smtp: not a regular file'
	[ -p "$ROAM_DIR/open-smtp" ]
	# With an index beside it, as after any good login, the recorder looks
	# the address up before the password is known: that must not block on
	# the FIFO either.
	rm "$ROAM_DIR/open-smtp"
	login 127.0.0.6 good
	assert_success
	[ -f "$ROAM_DIR/open-smtp.index" ]
	mv "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list"
	mkfifo "$ROAM_DIR/open-smtp"
	ROAM_WAIT_MS=5000 TCPREMOTEIP=127.0.0.6 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
		3< <(printf 'u\0good\0\0') 2>"$BATS_TEST_TMPDIR/err"
	for _ in $(seq 1 50); do
		recorder_of 127.0.0.6 >/dev/null || break
		sleep 0.1
	done
	if RECORDER=$(recorder_of 127.0.0.6); then
		PIDS+=("$RECORDER")
		echo "the recorder $RECORDER is still there"
		return 1
	fi
	run cat "$BATS_TEST_TMPDIR/err"
	assert_line --partial 'refusing to read open-smtp: not a regular file'
	refute_line --partial 'did not answer'
}

@test "a tcp.smtp that is a FIFO is refused without hanging" {
	mkfifo "$ROAM_DIR/tcp.smtp"
	run timeout 10 "$CLEAROPENSMTP" -f
	assert_failure 111
	assert_output 'clearopensmtp: fatal: refusing to read tcp.smtp: not a regular file'
}

@test "replacements keep the owner and mode of the files they replace" {
	[ "$(id -u)" = 0 ] || skip "needs root to chown"
	vpopmail_line 10.1.1.1 1700000000 >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f
	chown nobody:nogroup "$ROAM_DIR/open-smtp"
	chmod 640 "$ROAM_DIR/open-smtp"
	chown 1234:5678 "$ROAM_DIR/tcp.smtp.cdb"
	chmod 604 "$ROAM_DIR/tcp.smtp.cdb"
	ino=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	login 127.0.0.5 good
	assert_success
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" != "$ino" ]
	run stat -c '%U:%G %a' "$ROAM_DIR/open-smtp"
	assert_output 'nobody:nogroup 640'
	run stat -c '%u:%g %a' "$ROAM_DIR/tcp.smtp.cdb"
	assert_output '1234:5678 604'
}

@test "new files take the directory's owner; the lock is private (0600)" {
	[ "$(id -u)" = 0 ] || skip "needs root to chown"
	chown nobody:nogroup "$ROAM_DIR"
	login 127.0.0.5 good
	assert_success
	run stat -c '%U:%G %a' "$ROAM_DIR/open-smtp" "$ROAM_DIR/tcp.smtp.cdb" "$ROAM_DIR/open-smtp.lock"
	assert_output $'nobody:nogroup 644\nnobody:nogroup 644\nnobody:nogroup 600'
}

@test "temp files left by a killed writer are removed by the next one, others' files are not" {
	touch "$ROAM_DIR/open-smtp.tmp.99999" "$ROAM_DIR/tcp.smtp.cdb.tmp.12345" \
		"$ROAM_DIR/tcp.smtp.tmp.4242" "$ROAM_DIR/open-smtp.tmp.x1" "$BATS_TEST_TMPDIR/target" \
		"$ROAM_DIR/open-smtp.index.tmp.31"
	ln -s "$BATS_TEST_TMPDIR/target" "$ROAM_DIR/tcp.smtp.cdb.tmp.777"
	# The builder removes the cdb's and the index's; the list's are
	# removed by the next writer of the whole list.
	login 127.0.0.5 good
	assert_success
	run ls -A "$ROAM_DIR"
	assert_output $'open-smtp\nopen-smtp.index\nopen-smtp.lock\nopen-smtp.tmp.99999\nopen-smtp.tmp.x1\ntcp.smtp\ntcp.smtp.cdb\ntcp.smtp.cdb.lock\ntcp.smtp.tmp.4242'
	run "$CLEAROPENSMTP"
	assert_success
	run ls -A "$ROAM_DIR"
	assert_output $'open-smtp\nopen-smtp.index\nopen-smtp.lock\nopen-smtp.tmp.x1\ntcp.smtp\ntcp.smtp.cdb\ntcp.smtp.cdb.lock\ntcp.smtp.tmp.4242'
	assert_file_exist "$BATS_TEST_TMPDIR/target"
	relay_open 127.0.0.5
}

@test "a known address is refreshed in place: neither the list nor the cdb is rewritten" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	list=$(inode "$ROAM_DIR/open-smtp")
	cdb=$(inode "$ROAM_DIR/tcp.smtp.cdb")
	size=$(stat -c %s "$ROAM_DIR/open-smtp")
	sleep 1.1
	before=$(list_ts 127.0.0.5)
	login 127.0.0.5 good
	assert_success
	[ "$(inode "$ROAM_DIR/open-smtp")" = "$list" ]
	[ "$(inode "$ROAM_DIR/tcp.smtp.cdb")" = "$cdb" ]
	[ "$(stat -c %s "$ROAM_DIR/open-smtp")" = "$size" ]
	[ "$(list_ts 127.0.0.5)" -gt "$before" ]
}

@test "a damaged, stale or misleading index is noticed and the list read instead" {
	login 127.0.0.5 good
	login 127.0.0.6 good
	cp "$ROAM_DIR/open-smtp.index" "$BATS_TEST_TMPDIR/index"
	# Garbage, an empty file, an index of another list, a hand-edited list.
	head -c 3000 /dev/urandom >"$ROAM_DIR/open-smtp.index"
	login 127.0.0.5 good
	assert_success
	: >"$ROAM_DIR/open-smtp.index"
	login 127.0.0.6 good
	assert_success
	cp "$BATS_TEST_TMPDIR/index" "$ROAM_DIR/open-smtp.index"
	sed -i 's/^127.0.0.5:/127.0.0.9:/' "$ROAM_DIR/open-smtp"
	login 127.0.0.5 good
	assert_success
	run list_ips
	assert_output $'127.0.0.9\n127.0.0.6\n127.0.0.5'
	relay_open 127.0.0.9
	relay_open 127.0.0.5
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
}

@test "logins that wait for the builder are appended meanwhile and share one build" {
	command -v strace >/dev/null || skip "strace is not installed"
	login 127.0.0.5 good
	exec {lk}>"$ROAM_DIR/tcp.smtp.cdb.lock"
	flock "$lk"
	for i in $(seq 10 17); do
		ROAM_WAIT_MS=20000 strace -f -qq -e trace=rename,renameat,renameat2 -o "$BATS_TEST_TMPDIR/trace.$i" \
			env TCPREMOTEIP=127.0.0.$i "$CHECKPW_ROAM" "$FAKE_CHECKPW" true \
			3< <(printf 'u\0good\0\0') 2>"$BATS_TEST_TMPDIR/log.$i" {lk}>&- &
		PIDS+=($!)
	done
	for _ in $(seq 1 100); do
		[ "$(wc -l <"$ROAM_DIR/open-smtp")" = 9 ] && break
		sleep 0.1
	done
	[ "$(wc -l <"$ROAM_DIR/open-smtp")" = 9 ]
	for i in $(seq 10 17); do refute relay_open 127.0.0.$i; done
	flock -u "$lk"
	exec {lk}>&-
	wait "${PIDS[@]}"
	run bash -c "$(declare -f list_ips); list_ips | sort -t. -k4 -n"
	assert_output "$(printf '127.0.0.%s\n' 5 $(seq 10 17))"
	for i in $(seq 10 17); do relay_open 127.0.0.$i; done
	run cat "$BATS_TEST_TMPDIR"/trace.*
	[ "$(grep -c '"tcp.smtp.cdb"' <<<"$output")" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR"/log.* | grep -c 'relay opened')" -eq 8 ]
}

@test "a writer that owns the directory but not its group still records (Dovecot's auth user)" {
	[ "$(id -u)" = 0 ] || skip "needs root to set up the owners"
	chown nobody:root "$ROAM_DIR"
	chmod 755 "$ROAM_DIR"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups -- env ROAM_DIR="$ROAM_DIR" \
		TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" "$FAKE_CHECKPW" true 3< <(printf 'u\0good\0\0')
	assert_success
	refute_output --partial warning
	relay_open 127.0.0.5
	run stat -c '%U' "$ROAM_DIR/open-smtp" "$ROAM_DIR/tcp.smtp.cdb"
	assert_output $'nobody\nnobody'
}
