#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Hostile input: client addresses that are not one IP address, and a forged
# channel after authentication. Nothing reaches the list or the cdb, each
# address costs one printable warning line, the client's connection is never
# written to or read from, and the login goes on.

load helpers/common

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
}
teardown() { common_teardown; }

# 100,000 bytes of "1.1.1.1..." and 46 bytes that look like an address.
printf -v BIG '%050000d' 0
BIG=${BIG//0/1.}
LONG46=0000:0000:0000:0000:0000:0000:0000:0000:000001

# Values that must be refused. (A NUL cannot be in the environment.)
HOSTILE=(
	'' ' ' '  ' $'\t' $'\n' $'\r'
	' 127.0.0.1' '127.0.0.1 ' $'127.0.0.1\t' $'\t127.0.0.1' '127.0. 0.1'
	$'127.0.0.1\n' $'127.0.0.1\n10.0.0.1:allow,RELAYCLIENT=""' $'127.0.0.1\r' $'127.0.0.1\r\n'
	'127.0.0.1:allow' '127.0.0.1:deny' ':allow,RELAYCLIENT=""' '127.0.0.1:allow,RELAYCLIENT=""'
	'"127.0.0.1"' "'127.0.0.1'" '127.0.0.1"' '127.0.0.1,RELAYCLIENT=""' '127.0.0.1=1'
	'=' '=mail.example.com' '=.example.com' 'info@127.0.0.1' '@127.0.0.1' '127.0.0.1@'
	'127.0.0.1-9' '127.0.0.0-255' '127.0.0.1-' '#127.0.0.1' '127.0.0.1#x'
	"$LONG46" "::ffff:$LONG46" "$BIG"
	'fe80::1%eth0' 'fe80::1%25eth0' 'fe80::1%25' 'fe80::1%1' '::1%lo' '127.0.0.1%eth0'
	'256.0.0.1' '127.0.0.256' '127.0.0.999' '4294967296' '1.2.3.4.5' '-1.0.0.1' '+127.0.0.1'
	'127.0.0.01' '127.000.000.001' '0127.0.0.1'
	'0x7f.0.0.1' '0x7f000001' '0X7F.0.0.1' '0177.0.0.1' '2130706433'
	'127.1' '127.0.1' '127' '127.0.0.1.' '.127.0.0.1' '127..0.1' '.' '...'
	'[::1]' '[::1]:110' '[127.0.0.1]' '127.0.0.1:110' '127.0.0.1/32' '::1/128'
	'1:2:3:4:5:6:7:8:9' '1:2:3:4:5:6:7' ':::' '1::2::3' '::1::' '12345::1' '::g' 'ffff:'
	'::ffff:127.000.0.1' '::ffff:127.0.0.01' '::ffff:127.0.0.256' '::ffff:0x7f.0.0.1' '::ffff:127.1'
	'１２７.0.0.1' '127.0.0.１' '١٢٧.0.0.1' $'127.0.0.1\u200b' $'\u00a0127.0.0.1' $'\xff\xfe' $'127.0.0.\xb9'
	'$(id)' '`id`' '127.0.0.1;id' '127.0.0.1|id' '127.0.0.1&&id' '127.0.0.1$IFS' '*' '\'
	$'\x01\x02\x7f' $'\e[31m127.0.0.1\e[0m' $'\e]0;pwned\a' $'127.0.0.1\b\b\b' $'\x9b31m'
	'localhost' 'mail.example.com' '%00' '127.0.0.1%00' '1.2.3.4 5.6.7.8'
)

# one_printable_warning FILE VAR VALUE: FILE is one line, all printable
# ASCII, a warning that names VAR; a value of plain characters is quoted
# in it as it is.
one_printable_warning() {
	local LC_ALL=C parts re plain='^[A-Za-z0-9.:%@=,#$();|&*<>/+ -]{1,100}$'
	mapfile -d '' parts <"$1"
	[ "${#parts[@]}" = 1 ] || return 1
	re="^checkpw-roam: warning: [ -~]*$2[ -~]*"$'\n$'
	[[ ${parts[0]} =~ $re ]] || return 1
	if [[ $3 =~ $plain ]]; then
		[[ ${parts[0]} == *"\"$3\""* ]] || return 1
	fi
}

# hostile_login VAR VALUE [NAME=VALUE...]: a good login with VAR=VALUE (and
# the other variables given) and no other client address. It must succeed
# and log one printable warning about VAR.
hostile_login() {
	local var=$1 value=$2 rc=0 out=
	shift 2
	env -u TCPREMOTEIP -u TCP6REMOTEIP "$var=$value" "$@" "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'user\0good\0\0') >"$T/out" 2>"$T/err" || rc=$?
	read -r out <"$T/out" || :
	if [ "$rc" != 0 ] || [ "$out" != 'session ok' ] ||
		! one_printable_warning "$T/err" "$var" "$value"; then
		printf '%s=%q (%d bytes): exit %s, session [%s], log:\n' "$var" "${value:0:200}" \
			"${#value}" "$rc" "$out"
		od -c "$T/err" | head -20
		return 1
	fi
}

# keep_state: a real entry, so that there are a list and a cdb to keep.
keep_state() {
	login 127.0.0.5 good
	assert_success
	cp "$ROAM_DIR/open-smtp" "$T/list"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$T/cdb"
}

state_kept() {
	cmp "$ROAM_DIR/open-smtp" "$T/list"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$T/cdb"
	run list_ips
	assert_output '127.0.0.5'
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
}

@test "hostile TCPREMOTEIP values are refused with one printable warning, never fall back to a valid TCP6REMOTEIP, and the login goes on" {
	[ "${#HOSTILE[@]}" -ge 50 ]
	keep_state
	for v in "${HOSTILE[@]}"; do
		hostile_login TCPREMOTEIP "$v" TCP6REMOTEIP=2001:db8::5
	done
	echo "# ${#HOSTILE[@]} values" >&3
	state_kept
	run relay_open 127.0.0.1
	assert_failure
}

@test "hostile TCP6REMOTEIP values, with TCPREMOTEIP unset, are refused with one printable warning and the login goes on" {
	keep_state
	for v in "${HOSTILE[@]}"; do
		hostile_login TCP6REMOTEIP "$v"
	done
	state_kept
}

@test "a hostile CHECKPW_ROAM_CHANNEL value is refused with one printable warning; the session runs and nothing is recorded" {
	for m in $'\e]0;pwned\a5,2,100' $'5,2,100\n' $'5,2,100\r' '5,2,100 ' ' 5,2,100' '+5,2,100' \
		'5,,100' ',,' '5,2,100,' $'5\t,2,100' '$(id),2,100' "$BIG" '5,2,-1' '5,0,100' \
		'99999999999999999999,2,100' '5,99999999999999999999,100'; do
		rc=0
		env CHECKPW_ROAM_CHANNEL="$m" "$CHECKPW_ROAM" sh -c 'echo session ok' \
			>"$T/out" 2>"$T/err" || rc=$?
		read -r out <"$T/out" || :
		if [ "$rc" != 0 ] || [ "$out" != 'session ok' ] ||
			! one_printable_warning "$T/err" CHECKPW_ROAM_CHANNEL ''; then
			printf 'marker %q: exit %s, session [%s], log:\n' "${m:0:200}" "$rc" "$out"
			od -c "$T/err" | head -20
			return 1
		fi
	done
	assert_not_exist "$ROAM_DIR/open-smtp"
	assert_not_exist "$ROAM_DIR/tcp.smtp.cdb"
}

# forged FORM CLIENT KIND FD: a good login, with CHECKPW_ROAM_CHANNEL
# forged to name FD, which holds KIND (see helpers/hostile-fds); the
# client's connection (CLIENT: unix or inet) is on fds 0 and 1, as under
# qmail-popup. FORM "chain" forges it for the whole chain (checkpw-roam,
# the real checkpassword, the session), "after" for checkpw-roam as the
# real checkpassword runs it after a good password. The session reads the
# client's first line and answers it. The account in the environment
# (USER) is the attacker's: mallory.
forged() {
	local form=$1 client=$2 kind=$3 fd=$4 session
	session='IFS= read -r line; echo "session ok: $line"'
	status=0
	if [ "$form" = chain ]; then
		env -u VPOPUSER USER=mallory CHECKPW_ROAM_CHANNEL="$fd,$$,100" TCPREMOTEIP=127.0.0.5 \
			"$HELPERS/hostile-fds" "$client" "$kind" "$fd" \
			"$CHECKPW_ROAM" "$FAKE_CHECKPW" sh -c "$session" \
			3< <(printf 'user\0good\0\0') >"$T/report" 2>"$T/err" || status=$?
	else
		env -u VPOPUSER USER=mallory CHECKPW_ROAM_CHANNEL="$fd,$$,100" \
			"$HELPERS/hostile-fds" "$client" "$kind" "$fd" \
			"$CHECKPW_ROAM" sh -c "$session" >"$T/report" 2>"$T/err" || status=$?
	fi
	mapfile -t lines <"$T/report"
	output=$(cat "$T/report")
}

@test "a forged channel at the client's socket, fd 4, a pipe, a file, a closed fd, a TCP socket or an attacker's Unix socket: no relay, nothing written to the client, the session runs" {
	[ -x /usr/bin/python3 ] || skip "python3 makes the sockets"
	for c in 'unix client 0' 'unix client 1' 'inet client 0' 'inet client 1' \
		'unix unix 4' 'unix unix 5' 'inet unix 9' 'unix inet 5' 'unix pipe 5' \
		'unix file 5' 'unix closed 5' 'inet closed 7'; do
		read -r client kind fd <<<"$c"
		for form in chain after; do
			forged "$form" "$client" "$kind" "$fd"
			if [ "$status" != 0 ] || [ "${lines[0]}" != 'status 0' ] ||
				[ "${lines[1]}" != "client b'session ok: hello from the client\\n'" ]; then
				echo "$form, $c: $output"
				cat "$T/err"
				return 1
			fi
			case $kind in
			unix)
				# The attacker's own socket may hear what a good login
				# tells the recorder: a '+' and the account of the
				# environment, its own, ended by a NUL; nothing else.
				[[ ${lines[2]} == "other b''" || ${lines[2]} == "other b'+mallory\\x00'" ]] || {
					echo "$form, $c: ${lines[2]}"
					return 1
				}
				;;
			file) [ "${lines[2]}" = "other b'file content\\n'" ] ;;
			*) [ "${lines[2]}" = "other b''" ] ;;
			esac
			if [ "$kind" != unix ] || [ "$fd" -lt 5 ]; then
				grep -q '^checkpw-roam: warning: .*CHECKPW_ROAM_CHANNEL' "$T/err" || {
					echo "$form, $c: no warning: $(cat "$T/err")"
					return 1
				}
			fi
			run env LC_ALL=C grep -c '[^ -~]' "$T/err"
			assert_output 0
		done
	done
	assert_not_exist "$ROAM_DIR/open-smtp"
	assert_not_exist "$ROAM_DIR/tcp.smtp.cdb"
}
