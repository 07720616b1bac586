#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Deterministic crash points. Each writer is run once under
# strace to find its writes, syncs, renames and unlinks; then once per
# such call, on a fresh copy of the starting directory, killed (SIGKILL)
# at that call, or with the call failing (EIO, ENOSPC). After each: the
# list and the cdb are each the old or the new version, whole; nothing
# committed is lost; a login goes on; clearopensmtp reports a failure as
# documented; no temp file is left by a writer that lived; and the next
# clearopensmtp -f leaves every committed address listed once and the cdb
# what tcprules makes of tcp.smtp and the list. Only the documented files
# are looked at: the calls are found at run time, whatever their order
# (tests/helpers/crashpoints.bash).
#
# The writers: a login from a new address (appended, then built); a login
# from a known address (its timestamp refreshed); expiry; clearopensmtp
# -d; clearopensmtp -f after tcp.smtp was edited (the list written whole,
# then built).

load helpers/common
load helpers/crashpoints

setup() {
	common_setup
	cp_setup
	CP_TCP=$'127.:allow,RELAYCLIENT=""\n10.0.0.3:allow,RBLSMTPD="-closed"\n:allow\n'
	# Four fresh entries: 5 to 50 minutes old.
	CP_LIST=$(entry 10.0.0.1 300; entry 10.0.0.2 1200; entry 10.0.0.3 2400; entry 10.0.0.4 3000)$'\n'
}
teardown() {
	common_teardown
	cp_teardown
}

login_new() {
	CP_KIND=login CP_IP=10.1.0.7
	CP_WANT=$CP_LIST$(printf '%s:%s\tNOW' "$CP_IP" "$CP_LOGIN_RULE")$'\n'
}

login_known() {
	CP_KIND=login CP_IP=10.0.0.2
	CP_WANT=$(printf '%s' "$CP_LIST" | sed "s/^\(10\.0\.0\.2:.*\)	[0-9]*\$/\1	NOW/")$'\n'
}

expiry() {
	CP_KIND=clear CP_ARGS=(-m 180)
	CP_WANT=$CP_LIST
	CP_LIST=$(entry 10.0.0.1 300; entry 10.0.9.1 21600; entry 10.0.0.2 1200; entry 10.0.0.3 2400
		entry 10.0.9.2 28800; entry 10.0.0.4 3000)$'\n'
	CP_REMOVED='10.0.9.1 10.0.9.2'
}

close_one() {
	CP_KIND=clear CP_ARGS=(-d 10.0.0.3)
	CP_WANT=$(printf '%s' "$CP_LIST" | grep -v '^10\.0\.0\.3:')$'\n'
	CP_REMOVED=10.0.0.3
}

force_after_edit() {
	CP_KIND=clear CP_ARGS=(-f)
	CP_TCP_NEW=$'127.:allow,RELAYCLIENT=""\n10.0.0.3:allow,RBLSMTPD="-closed"\n10.0.0.4:deny\n:allow\n'
	CP_WANT=$CP_LIST
}

@test "strace counts when=N per tracee and per syscall, across exec, afresh in each child: only a lone tracee can be aimed at" {
	# sh's printf is a builtin; each /bin/echo is a child of its own.
	run strace -f -qq -o /dev/null --inject=write:signal=SIGKILL:when=2 \
		sh -c '/bin/echo a; /bin/echo b; printf "c\n"; printf "d\n"; printf "e\n"'
	assert_equal "$status" 137
	assert_output $'a\nb\nc'
	# The count goes on across exec.
	run strace -f -qq -o /dev/null --inject=write:signal=SIGKILL:when=2 \
		sh -c 'printf "a\n"; exec /bin/echo b'
	assert_equal "$status" 137
	assert_output a
	# Each syscall of a set has its count: the first fsync is not the second call.
	run strace -f -qq -o /dev/null --inject=write,fsync:signal=SIGKILL:when=2 \
		dd if=/dev/zero of="$BATS_TEST_TMPDIR/f" bs=1 count=1 conv=fsync status=none
	assert_success
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/f")" = 1 ]
	# So under strace -f, when=1 hits the login chain's own first write:
	# the session's "echo session ok", or something before it.
	run strace -f -qq -o /dev/null --inject=write:signal=SIGKILL:when=1 \
		env TCPREMOTEIP=10.1.0.9 ROAM_WAIT_MS=60000 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'user\0good\0<1.2@host>\0')
	refute_output --partial 'session ok'
}

@test "a login from a new address, its recorder killed at each write, sync, rename or unlink: the login succeeds, list and cdb each old or new, clearopensmtp -f repairs" {
	login_new
	cp_kills
}

@test "a login from a new address, EIO or ENOSPC at each write, sync or rename of its recorder: the login goes on with a warning, each file old (new past its commit), no temp file, clearopensmtp -f repairs" {
	login_new
	cp_errors
}

@test "a login from a known address, its recorder killed at each write, sync, rename or unlink: the login succeeds, the timestamp old or new, the cdb intact, clearopensmtp -f repairs" {
	login_known
	cp_kills
}

@test "a login from a known address, EIO or ENOSPC at each write, sync or rename of its recorder: the login goes on, the timestamp old or new, the cdb intact, no temp file, clearopensmtp -f repairs" {
	login_known
	cp_errors
}

@test "expiry (clearopensmtp -m 180) killed at each write, sync, rename or unlink: list and cdb each old or new, no fresh entry lost, the next run finishes" {
	expiry
	cp_kills
}

@test "expiry (clearopensmtp -m 180), EIO or ENOSPC at each write, sync or rename: exit 111 and one fatal line, each file old (new past its commit), no temp file, the next run finishes" {
	expiry
	cp_errors
}

@test "clearopensmtp -d killed at each write, sync, rename or unlink: list and cdb each old or new, no other entry lost, the next run repairs" {
	close_one
	cp_kills
}

@test "clearopensmtp -d, EIO or ENOSPC at each write, sync or rename: exit 111 and one fatal line, each file old (new past its commit), no temp file, the next run repairs" {
	close_one
	cp_errors
}

@test "clearopensmtp -f after tcp.smtp was edited, killed at each write, sync, rename or unlink: the list intact, the cdb old or new, the next run repairs" {
	force_after_edit
	cp_kills
}

@test "clearopensmtp -f after tcp.smtp was edited, EIO or ENOSPC at each write, sync or rename: exit 111 and one fatal line, the list intact, the cdb old (new past its commit), no temp file, the next run repairs" {
	force_after_edit
	cp_errors
}
