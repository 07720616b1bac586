#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# shellcheck disable=SC2154 # stderr, stderr_lines: set by run --separate-stderr
# tcp.smtp.cdb is what tcprules makes of tcp.smtp then the open list: the
# same bytes as the real IPv4 tcprules (ucspi-tcp 0.88) for every file it
# accepts, IPv6 lines as Debian's IPv6 tcprules reads them, and a line
# tcprules rejects fails the rebuild, naming the line, and changes nothing.
#
# Corpus: tests/corpus/v4-*.rules (IPv4 tcprules accepts them),
# v6-*.rules (for the IPv6 tcprules; no line it would loop on),
# reject-*.rules (the IPv4 tcprules rejects them). Bigger files come from
# tests/helpers/gen-rules, deterministic from a seed.

load helpers/common
bats_require_minimum_version 1.5.0

setup() { common_setup; }
teardown() { common_teardown; }

CORPUS=$BATS_TEST_DIRNAME/corpus
GEN_RULES=$BATS_TEST_DIRNAME/helpers/gen-rules
TCPRULES6=$BATS_TEST_DIRNAME/.ucspi-tcp-ipv6/usr/bin/tcprules
RELAY='allow,RELAYCLIENT="",RBLSMTPD=""'

# tcprules4 FILE OUT: the real IPv4 tcprules compiles FILE into OUT.
tcprules4() {
	tcprules "$2" "$2.tmp" <"$1"
}

# tcprules6 FILE OUT: Debian's IPv6 tcprules compiles FILE into OUT. It
# loops forever on a line with no colon followed by allow or deny, hence
# the timeout (exit 124).
tcprules6() {
	timeout 10 "$TCPRULES6" "$2" "$2.tmp" <"$1"
}

# decision6 IP: what the IPv6 tcpserver -x would do for a client at IP
# (the key it looks up is its own text form of IP), by its tcprulescheck.
decision6() {
	TCPREMOTEIP=$1 timeout 10 "${TCPRULES6%/*}/tcprulescheck" \
		"$ROAM_DIR/tcp.smtp.cdb"
}

# need_tcprules6: the IPv6 reference must be there; missing, the test
# fails (it never skips).
need_tcprules6() {
	[ -x "$TCPRULES6" ] ||
		fail "missing $TCPRULES6 (Debian's ucspi-tcp-ipv6): run tests/install-deps"
}

# compile FILE: FILE becomes tcp.smtp, and clearopensmtp -f rebuilds the
# cdb from it (and open-smtp, if any). The old cdb is removed first, so a
# stale one never passes for a new one. Output: clearopensmtp's.
compile() {
	cp "$1" "$ROAM_DIR/tcp.smtp"
	rm -f "$ROAM_DIR/tcp.smtp.cdb"
	"$CLEAROPENSMTP" -f 2>&1
}

# records CDB: the cdb's records, one a line, control bytes made visible.
records() {
	cdb -d "$1" | cat -v
}

# cdb_diff WANT: how tcp.smtp.cdb differs from WANT (first records).
cdb_diff() {
	diff <(records "$1") <(records "$ROAM_DIR/tcp.smtp.cdb") | head -n 12
}

# same_as REF NAME: tcp.smtp.cdb has the bytes of REF, else a report on
# NAME and the first differing records.
same_as() {
	cmp -s "$1" "$ROAM_DIR/tcp.smtp.cdb" && return 0
	printf '%s: tcp.smtp.cdb differs from the reference\n%s\n' \
		"$2" "$(cdb_diff "$1")"
	return 1
}

# check4 FILE: FILE compiled by clearopensmtp -f equals the IPv4 tcprules'
# cdb of it. Prints what went wrong and returns 1 otherwise.
check4() {
	local ref=$BATS_TEST_TMPDIR/ref4.cdb out name=${1##*/}
	if ! tcprules4 "$1" "$ref" 2>/dev/null; then
		echo "$name: the IPv4 tcprules rejects it (bad test input)"
		return 1
	fi
	if ! out=$(compile "$1") || [ -n "$out" ]; then
		echo "$name: clearopensmtp -f failed: $out"
		return 1
	fi
	same_as "$ref" "$name"
}

# check6 FILE: as check4, against Debian's IPv6 tcprules.
check6() {
	local ref=$BATS_TEST_TMPDIR/ref6.cdb out name=${1##*/} rc=0
	tcprules6 "$1" "$ref" 2>/dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$name: the IPv6 tcprules exits $rc (bad test input)"
		return 1
	fi
	if ! out=$(compile "$1") || [ -n "$out" ]; then
		echo "$name: clearopensmtp -f failed: $out"
		return 1
	fi
	same_as "$ref" "$name"
}

# check_all CHECK FILE...: CHECK on every FILE; fails listing every file
# that does not pass.
check_all() {
	local check=$1 f out report=''
	shift
	for f in "$@"; do
		out=$("$check" "$f") || report+=$out$'\n'
	done
	[ -z "$report" ] || fail "$report"
}

# gen OUT ARGS...: gen-rules ARGS > OUT, checked.
gen() {
	local out=$1
	shift
	"$GEN_RULES" "$@" >"$out" || fail "gen-rules $* failed"
}

# open_entry IP AGE: one open-smtp line for IP, AGE seconds old.
open_entry() {
	printf '%s:%s\t%s\n' "$1" "$RELAY" $(($(date +%s) - $2))
}

# first_bad_line FILE: the number of the line the IPv4 tcprules stops at:
# the length of the shortest head of FILE it rejects (a bisection).
first_bad_line() {
	local lo=1 hi mid
	hi=$(($(wc -l <"$1") + 1))
	while [ "$lo" -lt "$hi" ]; do
		mid=$(((lo + hi) / 2))
		if head -n "$mid" "$1" | tcprules "$BATS_TEST_TMPDIR/head.cdb" \
			"$BATS_TEST_TMPDIR/head.tmp" 2>/dev/null; then
			lo=$((mid + 1))
		else
			hi=$mid
		fi
	done
	echo "$lo"
}

# quoted N FILE: line N of FILE as the messages quote it: in double
# quotes, printable ASCII as is except '"' and '\', other bytes as \xNN.
quoted() {
	sed -n "$1p" "$2" | tr -d '\n' | od -An -v -tu1 | awk '
		{
			for (i = 1; i <= NF; i++)
				if ((c = $i + 0) >= 32 && c < 127 && c != 34 && c != 92)
					s = s sprintf("%c", c)
				else
					s = s sprintf("\\x%02x", c)
		}
		END { printf "\"%s\"\n", s }'
}

# parse_error N TEXT: the one line clearopensmtp prints for a bad line.
parse_error() {
	printf 'clearopensmtp: fatal: unable to rebuild tcp.smtp.cdb: tcp.smtp line %s: unable to parse this line: %s' "$1" "$2"
}

# temp_files: the names of the *.tmp.* files left in ROAM_DIR, if any.
temp_files() {
	local t
	for t in "$ROAM_DIR"/*.tmp.*; do
		[ ! -e "$t" ] || echo "${t##*/}"
	done
}

# no_temp_files: nothing named *.tmp.* is left in ROAM_DIR.
no_temp_files() {
	local left
	left=$(temp_files)
	[ -z "$left" ] || fail "temp files left: $left"
}

# --- 1. byte-identity with the IPv4 tcprules ---------------------------

@test "every hand-written IPv4 corpus file compiles to tcprules' bytes" {
	local files=("$CORPUS"/v4-*.rules)
	# comments, blank, white-space-only and colon-less lines, blanks,
	# instructions and quotes, duplicates, ranges, address forms, NUL
	# bytes, empty files, last lines without newline.
	[ "${#files[@]}" -ge 13 ] || fail "only ${#files[@]} v4 corpus files"
	check_all check4 "${files[@]}"
}

@test "a missing tcp.smtp compiles like an empty one" {
	tcprules4 /dev/null "$BATS_TEST_TMPDIR/ref.cdb"
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output ''
	run same_as "$BATS_TEST_TMPDIR/ref.cdb" "no tcp.smtp"
	assert_success
}

# rules_gone_fails: with tcp.smtp.cdb there, tcp.smtp as the test left it
# (missing, or a link to nothing) fails every update: a new login goes on
# with one warning and the cdb stays, byte for byte; -f exits 111.
rules_gone_fails() {
	local ip=$1 why=$2
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb.before"
	login "$ip" good
	assert_success
	assert_line 'session ok'
	assert_line "checkpw-roam: warning: unable to open the relay for $ip: unable to rebuild tcp.smtp.cdb: tcp.smtp $why"
	[ "$(grep -c warning <<<"$output")" -eq 1 ]
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb.before"
	run "$CLEAROPENSMTP" -f
	[ "$status" -eq 111 ]
	assert_output "clearopensmtp: fatal: unable to rebuild tcp.smtp.cdb: tcp.smtp $why"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb.before"
	decision 198.51.100.9 | grep -qx 'deny connection'
	relay_open 192.168.1.20
	refute relay_open "$ip"
}

@test "while tcp.smtp.cdb exists, a tcp.smtp that is missing or a symbolic link to a missing file fails the update: one warning, the login goes on, the cdb and its static rules stay, -f exits 111" {
	local etc=$BATS_TEST_TMPDIR/etc
	mkdir "$etc"
	printf '%s\n' '198.51.100.9:deny' '192.168.1.:allow,RELAYCLIENT=""' \
		':allow' >"$etc/tcp.smtp"
	ln -s "$etc/tcp.smtp" "$ROAM_DIR/tcp.smtp"
	login 127.0.0.5 good
	assert_success
	refute_line --partial warning
	relay_open 127.0.0.5

	# The link's target moved away.
	mv "$etc/tcp.smtp" "$etc/tcp.smtp.moved"
	rules_gone_fails 127.0.0.6 "is a symbolic link to a missing file: mend it, or make tcp.smtp an empty file for no static rules"
	# No link at all.
	rm "$ROAM_DIR/tcp.smtp"
	rules_gone_fails 127.0.0.7 "is missing, and its rules would be lost: restore it, or make it an empty file for no static rules"

	# An empty tcp.smtp says "no static rules": the logins that waited
	# are added.
	: >"$ROAM_DIR/tcp.smtp"
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output ''
	relay_open 127.0.0.6
	relay_open 127.0.0.7
	refute relay_open 192.168.1.20
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
}

@test "a directory with neither tcp.smtp nor tcp.smtp.cdb starts from no rules and says so with an empty tcp.smtp, so later updates go on" {
	login 127.0.0.5 good
	assert_success
	refute_line --partial warning
	assert_file_exist "$ROAM_DIR/tcp.smtp"
	[ ! -s "$ROAM_DIR/tcp.smtp" ]
	run stat -c '%a %U' "$ROAM_DIR/tcp.smtp"
	assert_output "644 $(stat -c %U "$ROAM_DIR")"
	login 127.0.0.6 good
	assert_success
	refute_line --partial warning
	run "$CLEAROPENSMTP" -f
	assert_success
	assert_output ''
	relay_open 127.0.0.5
	relay_open 127.0.0.6
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/ref.cdb"
}

@test "lines of 100 KB (key, value, range tail, comment) compile to tcprules' bytes" {
	local big f=$BATS_TEST_TMPDIR/long.rules
	big=$(head -c 100000 /dev/zero | tr '\0' x)
	{
		printf '1.2.3.4:allow,RELAYCLIENT="",X="%s"\n' "$big"
		printf '%s:deny\n' "$big"
		printf '1.2-4.%s:allow,Y=/%s/\n' "$big" "$big"
		printf '#%s:allow\n' "$big"
		printf '%s\n' "$big"
		printf '10.0.0.%s-3:allow\n' "$(head -c 100000 /dev/zero | tr '\0' 0)"
		printf ':allow,%s=""\n' "$big"
	} >"$f"
	[ "$(wc -c <"$f")" -gt 700000 ]
	run check4 "$f"
	assert_success
	# the long range expanded: three keys of 100 KB each, and 0..3
	run decision 10.0.0.3
	assert_output --partial 'rule 10.0.0.3:'
}

@test "a generated tcp.smtp of 10 lines (12 seeds) compiles to tcprules' bytes" {
	local s files=()
	for s in $(seq 1 12); do
		gen "$BATS_TEST_TMPDIR/g$s.rules" -s "$s" 10
		files+=("$BATS_TEST_TMPDIR/g$s.rules")
	done
	check_all check4 "${files[@]}"
}

@test "a generated tcp.smtp of 1,000 lines (3 seeds) compiles to tcprules' bytes" {
	local s files=()
	for s in 101 102 103; do
		gen "$BATS_TEST_TMPDIR/g$s.rules" -s "$s" 1000
		files+=("$BATS_TEST_TMPDIR/g$s.rules")
	done
	check_all check4 "${files[@]}"
}

@test "a generated tcp.smtp of 10,000 lines compiles to tcprules' bytes" {
	gen "$BATS_TEST_TMPDIR/g.rules" -s 10000 10000
	run check4 "$BATS_TEST_TMPDIR/g.rules"
	assert_success
}

@test "a generated tcp.smtp of 100,000 lines compiles to tcprules' bytes" {
	gen "$BATS_TEST_TMPDIR/g.rules" -s 100000 100000
	[ "$(wc -l <"$BATS_TEST_TMPDIR/g.rules")" -eq 100000 ]
	run check4 "$BATS_TEST_TMPDIR/g.rules"
	assert_success
}

@test "gen-rules output depends only on its arguments" {
	local a b c
	a=$("$GEN_RULES" -s 7 500 | cksum)
	b=$("$GEN_RULES" -s 7 500 | cksum)
	c=$("$GEN_RULES" -s 8 500 | cksum)
	[ "$a" = "$b" ]
	[ "$a" != "$c" ]
	[ "$("$GEN_RULES" -k open -s 7 -t 1000000 300 | cut -d: -f1 | sort -u | wc -l)" -eq 300 ]
}

# --- 2. the open list's part -------------------------------------------

@test "tcp.smtp plus 10,000 open entries compiles as tcprules fed tcp.smtp then the list cut at the TAB" {
	gen "$BATS_TEST_TMPDIR/tcp.smtp" -s 42 1000
	gen "$ROAM_DIR/open-smtp" -k open -s 43 -t "$(date +%s)" 10000
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/open-smtp.before"
	run compile "$BATS_TEST_TMPDIR/tcp.smtp"
	assert_success
	assert_output ''
	run tcprules_of "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp"
	assert_success
	run same_as "$BATS_TEST_TMPDIR/ref.cdb" "tcp.smtp + open-smtp"
	assert_success
	# nothing expired: -f writes the list back as it was
	cmp "$BATS_TEST_TMPDIR/open-smtp.before" "$ROAM_DIR/open-smtp"
}

@test "open entries alone, and after IPv4 corpus files, compile as tcprules does" {
	local f out report=''
	{
		open_entry 127.0.0.2 10
		open_entry 10.0.0.5 20
		printf '1.2.3.4:allow,RELAYCLIENT="",X="kept as is"\t%s\n' "$(date +%s)"
		# the first rule again, then a deny: each line's own data
		open_entry 10.0.0.6 30
		printf '1.2.3.9:deny\t%s\n' "$(date +%s)"
	} >"$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP" -f
	assert_success
	run tcprules_of "$ROAM_DIR/open-smtp"
	assert_success
	run same_as "$BATS_TEST_TMPDIR/ref.cdb" "open-smtp alone"
	assert_success
	# tcp.smtp files whose last line ends in a newline and that hold no
	# TAB but trailing ones (tcprules_of cuts every line at its first TAB)
	for f in "$CORPUS"/v4-comments-blanks.rules "$CORPUS"/v4-duplicates.rules \
		"$CORPUS"/v4-ranges.rules "$CORPUS"/v4-address-forms.rules \
		"$CORPUS"/v4-nul.rules "$CORPUS"/v4-no-colon.rules \
		"$CORPUS"/v4-empty.rules "$CORPUS"/v4-only-comments.rules; do
		compile "$f" >/dev/null || report+="${f##*/}: rebuild failed"$'\n'
		tcprules_of "$f" "$ROAM_DIR/open-smtp"
		out=$(same_as "$BATS_TEST_TMPDIR/ref.cdb" "${f##*/} + open-smtp") ||
			report+=$out$'\n'
	done
	[ -z "$report" ] || fail "$report"
}

@test "a tcp.smtp without a final newline is not glued to the first open entry" {
	printf '1.2.3.4:allow,X="last"' >"$BATS_TEST_TMPDIR/tcp.smtp"
	open_entry 5.6.7.8 10 >"$ROAM_DIR/open-smtp"
	run compile "$BATS_TEST_TMPDIR/tcp.smtp"
	assert_success
	{ cat "$BATS_TEST_TMPDIR/tcp.smtp"; echo; cut -f1 "$ROAM_DIR/open-smtp"; } |
		tcprules "$BATS_TEST_TMPDIR/ref.cdb" "$BATS_TEST_TMPDIR/ref.tmp"
	run same_as "$BATS_TEST_TMPDIR/ref.cdb" "no final newline"
	assert_success
	relay_open 5.6.7.8
}

@test "an admin's deny in tcp.smtp beats the open list's relay rule for the same address" {
	printf '1.2.3.4:deny\n1.2.3.6:allow,RBLSMTPD="-550 first wins"\n1.2.3.6:deny\n' \
		>"$ROAM_DIR/tcp.smtp"
	{
		open_entry 1.2.3.4 10
		open_entry 1.2.3.5 10
		open_entry 1.2.3.6 10
	} >"$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP" -f
	assert_success
	run decision 1.2.3.4
	assert_output $'rule 1.2.3.4:\ndeny connection'
	# the first record of a key wins, whichever file it came from
	run decision 1.2.3.6
	assert_output $'rule 1.2.3.6:\nset environment variable RBLSMTPD=-550 first wins\nallow connection'
	# an address only in the list relays
	run decision 1.2.3.5
	assert_output $'rule 1.2.3.5:\nset environment variable RELAYCLIENT=\nset environment variable RBLSMTPD=\nallow connection'
}

@test "an open address's exact rule beats a tcp.smtp prefix rule" {
	printf '10.0.:allow,RBLSMTPD="-550 dialup"\n10.1.:deny\n:deny\n' \
		>"$ROAM_DIR/tcp.smtp"
	{
		open_entry 10.0.0.5 10
		open_entry 10.1.0.7 10
	} >"$ROAM_DIR/open-smtp"
	run "$CLEAROPENSMTP" -f
	assert_success
	relay_open 10.0.0.5
	run decision 10.0.0.5
	assert_line --index 0 'rule 10.0.0.5:'
	refute_output --partial 'RBLSMTPD=-550'
	relay_open 10.1.0.7
	# neighbours not listed get the prefix rules
	run decision 10.0.0.6
	assert_output $'rule 10.0.:\nset environment variable RBLSMTPD=-550 dialup\nallow connection'
	run decision 10.1.0.8
	assert_output $'rule 10.1.:\ndeny connection'
}

# --- 3. IPv6 lines, as Debian's IPv6 tcprules reads them ---------------

@test "every IPv6 corpus file compiles to the IPv6 tcprules' bytes" {
	need_tcprules6
	local files=("$CORPUS"/v6-*.rules)
	[ "${#files[@]}" -ge 5 ] || fail "only ${#files[@]} v6 corpus files"
	check_all check6 "${files[@]}"
	# what the IPv6 tcpserver makes of one: first record of a key, prefixes
	compile "$CORPUS/v6-addresses.rules"
	run decision6 2001:db8::1
	assert_output $'rule 2001:db8::1:\nallow connection'
	run decision6 2001:db8::77
	assert_output $'rule 2001:db8::\nset environment variable X=prefix\nallow connection'
	run decision6 ::1
	assert_output $'rule ::1:\nallow connection'
}

@test "a generated tcp.smtp of 10,000 IPv6 and IPv4 lines compiles to the IPv6 tcprules' bytes" {
	need_tcprules6
	gen "$BATS_TEST_TMPDIR/g6.rules" -k v6 -s 6 10000
	grep -q '^2001:db8:' "$BATS_TEST_TMPDIR/g6.rules"
	run check6 "$BATS_TEST_TMPDIR/g6.rules"
	assert_success
}

# Our parser accepts a line the IPv4 build rejects only where the IPv6
# build accepts it: the address runs to the first ':' followed by allow or
# deny, so "a:b:allow" is key "a:b" (the IPv4 build ends the address at
# the first ':' and rejects the line). The byte-identity promise covers
# every line the IPv4 build accepts.
@test "lines only the IPv6 build accepts are parsed as the IPv6 build does" {
	need_tcprules6
	local f=$CORPUS/v6-only-ipv6-build.rules line n=0
	while IFS= read -r line; do
		case $line in '#'* | '') continue ;; esac
		n=$((n + 1))
		printf '%s\n' "$line" >"$BATS_TEST_TMPDIR/one.rules"
		run tcprules4 "$BATS_TEST_TMPDIR/one.rules" "$BATS_TEST_TMPDIR/one.cdb"
		[ "$status" -eq 100 ] || fail "IPv4 tcprules accepts: $line"
	done <"$f"
	[ "$n" -ge 5 ]
	run check6 "$f"
	assert_success
	# the v4-mapped range expanded, as the IPv6 tcpserver looks it up
	run decision6 ::ffff:1.2.3.6
	assert_output $'rule ::ffff:1.2.3.6:\nallow connection'
	run decision6 ::ffff:1.2.3.255
	assert_output $'rule ::ffff:1.2.3.255:\ndeny connection'
}

@test "an IPv6 range is rejected by the IPv6 tcprules and by clearopensmtp (exit 100)" {
	need_tcprules6
	local line
	for line in '2001:db8::1-5:allow' 'fe80::1-5:deny' '::1-5:allow' \
		'2001:db8:1-2::1:allow,RELAYCLIENT=""'; do
		printf '::1:allow\n%s\n' "$line" >"$BATS_TEST_TMPDIR/r.rules"
		run tcprules6 "$BATS_TEST_TMPDIR/r.rules" "$BATS_TEST_TMPDIR/r.cdb"
		[ "$status" -eq 100 ] || fail "IPv6 tcprules exits $status on $line"
		cp "$BATS_TEST_TMPDIR/r.rules" "$ROAM_DIR/tcp.smtp"
		run --separate-stderr "$CLEAROPENSMTP" -f
		[ "$status" -eq 100 ] || fail "clearopensmtp -f exits $status on $line"
		[ "$stderr" = "$(parse_error 2 "$(quoted 2 "$BATS_TEST_TMPDIR/r.rules")")" ] ||
			fail "message for $line: $stderr"
	done
}

# --- 4. lines tcprules rejects -----------------------------------------

@test "a line tcprules rejects fails clearopensmtp -f with exit 100 and one message naming it" {
	local f n want report='' files=("$CORPUS"/reject-*.rules)
	[ "${#files[@]}" -ge 25 ] || fail "only ${#files[@]} reject corpus files"
	for f in "${files[@]}"; do
		run tcprules4 "$f" "$BATS_TEST_TMPDIR/ref.cdb"
		if [ "$status" -ne 100 ]; then
			report+="${f##*/}: the IPv4 tcprules exits $status"$'\n'
			continue
		fi
		n=$(first_bad_line "$f")
		want=$(parse_error "$n" "$(quoted "$n" "$f")")
		cp "$f" "$ROAM_DIR/tcp.smtp"
		run --separate-stderr "$CLEAROPENSMTP" -f
		if [ "$status" -ne 100 ] || [ -n "$output" ] || [ "$stderr" != "$want" ]; then
			report+="${f##*/}: exit $status, stdout '$output', stderr:"$'\n'
			report+="$stderr"$'\n'"wanted:"$'\n'"$want"$'\n'
		fi
	done
	[ -z "$report" ] || fail "$report"
}

@test "a rejected tcp.smtp leaves tcp.smtp.cdb and open-smtp byte-identical and no temp file" {
	local f opt opts report=''
	printf '127.0.0.1:allow,RELAYCLIENT=""\n10.:deny\n' >"$BATS_TEST_TMPDIR/good.rules"
	gen "$ROAM_DIR/open-smtp" -k open -s 5 -t "$(date +%s)" 50
	run compile "$BATS_TEST_TMPDIR/good.rules"
	assert_success
	# an expired entry: a successful run would drop it from the list
	open_entry 9.9.9.9 100000 >>"$ROAM_DIR/open-smtp"
	cp "$ROAM_DIR/tcp.smtp.cdb" "$BATS_TEST_TMPDIR/cdb.before"
	cp "$ROAM_DIR/open-smtp" "$BATS_TEST_TMPDIR/list.before"
	for f in "$CORPUS"/reject-*.rules; do
		cp "$f" "$ROAM_DIR/tcp.smtp"
		# -f, and for a few files a plain expiry run (it would drop 9.9.9.9)
		opts=(-f)
		case $f in *-permit.rules | *-crlf.rules | *-ipv6-range.rules)
			opts+=('') ;;
		esac
		for opt in "${opts[@]}"; do
			run "$CLEAROPENSMTP" ${opt:+"$opt"}
			[ "$status" -eq 100 ] ||
				report+="${f##*/} ($opt): exit $status"$'\n'
			cmp -s "$BATS_TEST_TMPDIR/cdb.before" "$ROAM_DIR/tcp.smtp.cdb" ||
				report+="${f##*/} ($opt): tcp.smtp.cdb changed"$'\n'
			cmp -s "$BATS_TEST_TMPDIR/list.before" "$ROAM_DIR/open-smtp" ||
				report+="${f##*/} ($opt): open-smtp changed"$'\n'
			[ -z "$(temp_files)" ] ||
				report+="${f##*/} ($opt): temp file left"$'\n'
		done
	done
	[ -z "$report" ] || fail "$report"
	# control: with tcp.smtp mended, the same run drops the expired entry
	cp "$BATS_TEST_TMPDIR/good.rules" "$ROAM_DIR/tcp.smtp"
	run "$CLEAROPENSMTP"
	assert_success
	run list_ips
	refute_line 9.9.9.9
	run cmp -s "$BATS_TEST_TMPDIR/list.before" "$ROAM_DIR/open-smtp"
	assert_failure
	run tcprules_of "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp"
	assert_success
	run same_as "$BATS_TEST_TMPDIR/ref.cdb" "mended"
	assert_success
	no_temp_files
}

@test "a bad line after 100,000 good ones is reported with its line number" {
	gen "$BATS_TEST_TMPDIR/g.rules" -s 99 100000
	printf '1.2.3.4:allow,RELAYCLIENT="\n5.6.7.8:deny,X\n' >>"$BATS_TEST_TMPDIR/g.rules"
	run tcprules4 "$BATS_TEST_TMPDIR/g.rules" "$BATS_TEST_TMPDIR/ref.cdb"
	[ "$status" -eq 100 ]
	cp "$BATS_TEST_TMPDIR/g.rules" "$ROAM_DIR/tcp.smtp"
	run --separate-stderr "$CLEAROPENSMTP" -f
	[ "$status" -eq 100 ]
	[ "$stderr" = "$(parse_error 100001 '"1.2.3.4:allow,RELAYCLIENT=\x22"')" ] ||
		fail "got: $stderr"
	assert_file_not_exist "$ROAM_DIR/tcp.smtp.cdb"
	no_temp_files
}

@test "a rejected line of 100 KB is quoted in one short line" {
	local big
	big=$(head -c 100000 /dev/zero | tr '\0' y)
	printf '# x\n1.2.3.4:allow,X="%s\n' "$big" >"$ROAM_DIR/tcp.smtp"
	run tcprules4 "$ROAM_DIR/tcp.smtp" "$BATS_TEST_TMPDIR/ref.cdb"
	[ "$status" -eq 100 ]
	run --separate-stderr "$CLEAROPENSMTP" -f
	[ "$status" -eq 100 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "${#stderr}" -le 1024 ]
	[[ $stderr == "$(parse_error 2 '"1.2.3.4:allow,X=\x22yyy')"*'yyy"...' ]] ||
		fail "got: $stderr"
	no_temp_files
}
