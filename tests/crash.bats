#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# kill -9 at random moments: the recorder while it adds or refreshes an
# address, clearopensmtp while it expires, closes or rebuilds. After each
# kill, open-smtp and tcp.smtp.cdb are each the old or the new version,
# never a mix; the next login or run finishes the job (unlike vpopmail,
# which never retries a rebuild for an address already listed); and temp
# files left by the dead process are removed by the next writer.
#
# Processes are slow to start on small machines, so the trial loops use
# shell builtins wherever they can.

load helpers/common

# A list this long makes a rebuild last long enough to be hit.
LIST_SIZE=20000
RULE='allow,RELAYCLIENT="",RBLSMTPD=""'
# The rule a login appends: the same, and its account, the user of $CREDS.
LOGIN_RULE=$RULE',ROAMUSER="user"'

setup() {
	common_setup
	T=$BATS_TEST_TMPDIR
	CREDS=$T/creds
	printf 'user\0good\0<1.2@host>\0' >"$CREDS"
	"$HELPERS/gen-rules" -s 5 200 >"$ROAM_DIR/tcp.smtp"
	# LIST_SIZE distinct addresses, aged 1 hour to about 1,000 hours.
	awk -v n="$LIST_SIZE" -v now="$(date +%s)" -v rule="$RULE" 'BEGIN {
		srand(11)
		for (i = 1; i <= n; i++)
			printf "10.%d.%d.%d:%s\t%d\n", int(i / 65536), int(i / 256) % 256,
			    i % 256, rule, now - 3600 - int(rand() * 3600000)
	}' >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f -m 100000
	REF=$T/cdb.a
	expect_cdb "$ROAM_DIR/open-smtp"
	cmp "$REF" "$ROAM_DIR/tcp.smtp.cdb"
	KILLED=0 LEFT_TEMP=0
	# Kill windows in tenths of a millisecond: an append takes a few ms.
	declare -gA SEEN=() SPAN=([add]=200 [refresh]=100 [expire]=1000 [close]=1000 [force]=1000)
}
teardown() {
	common_teardown
}

# expect_cdb LIST [LINE]: what tcprules makes of tcp.smtp, the lines of
# LIST cut at the TAB, and LINE: into $REF.
expect_cdb() {
	if [ $# -gt 1 ]; then
		printf '%s\n' "$2" >"$T/extra"
	else
		: >"$T/extra"
	fi
	cut -f1 "$ROAM_DIR/tcp.smtp" "$1" "$T/extra" | tcprules "$REF" "$T/ref.tmp"
}

# next_trial: the current list and cdb become the "old" ones; the cdb has
# just been found equal to $REF, which is kept as $OLD; the next expected
# cdb goes in the other file.
next_trial() {
	cp "$ROAM_DIR/open-smtp" "$T/list.old"
	OLD=$REF
	if [ "$OLD" = "$T/cdb.a" ]; then REF=$T/cdb.b; else REF=$T/cdb.a; fi
	printf -v T0 '%(%s)T' -1
}

# killed_in_lock [-r] TENTHS PROG...: runs PROG under tests/helpers/killwhen,
# which kills -9 it (with -r, the recorder it starts) TENTHS tenths of a ms
# after it takes the writers' lock, and exits with PROG's status. A shell
# cannot aim that well: /proc/locks costs milliseconds to read here.
killed_in_lock() {
	local r=
	if [ "$1" = -r ]; then
		r=-r
		shift
	fi
	"$KILLWHEN" $r "$ROAM_DIR/open-smtp.lock" "$@"
}

# aim KIND LANDED: the kills of a KIND of trial come at random in the
# first SPAN[KIND] tenths of a ms after the lock is taken; a kill that came too late
# shortens that, one that landed lengthens it, so that about two in three
# land, however fast the machine.
aim() {
	if [ "$2" = 1 ]; then
		SPAN[$1]=$((SPAN[$1] * 21 / 20 + 1))
	else
		SPAN[$1]=$((SPAN[$1] * 9 / 10 + 1))
	fi
}

# session_ran: the last login exited 0 ($1) and its session printed.
session_ran() {
	local out=
	read -r out <"$T/out" || :
	if [ "$1" != 0 ] || [ "$out" != 'session ok' ]; then
		echo "login from $IP: exit $1, session [$out], log: $(cat "$T/err")"
		return 1
	fi
}

# login_killed DELAY: a login from $IP whose recorder gets kill -9 DELAY
# tenths of a ms after it takes the lock. The login must succeed all the same.
# Sets LANDED to 1 if the recorder died before it answered.
login_killed() {
	local rc=0 log
	TCPREMOTEIP=$IP ROAM_WAIT_MS=60000 killed_in_lock -r "$1" "$CHECKPW_ROAM" \
		"$FAKE_CHECKPW" /bin/echo session ok 3<"$CREDS" >"$T/out" 2>"$T/err" ||
		rc=$?
	session_ran "$rc"
	mapfile -t log <"$T/err"
	LANDED=0
	if [[ ${log[*]} == *'the recorder ended without answering'* ]]; then LANDED=1; fi
}

# login_now [ADDR]: a login from ADDR (default $IP), waited for: it
# succeeds and warns of nothing.
login_now() {
	local rc=0 log IP=${1:-$IP}
	TCPREMOTEIP=$IP ROAM_WAIT_MS=60000 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		/bin/echo session ok 3<"$CREDS" >"$T/out" 2>"$T/err" || rc=$?
	session_ran "$rc"
	wait_recorders "$IP"
	mapfile -t log <"$T/err"
	if [[ ${log[*]} == *warning* || ${log[*]} == *fatal* ]]; then
		echo "login from $IP: ${log[*]}"
		return 1
	fi
}

# list_is KIND [BASE [ADDR]]: open-smtp is BASE (default list.old) with
# ADDR (default $IP) added (KIND add) or its timestamp alone changed
# (refresh), the new timestamp between T0 and now; only whole lines.
list_is() {
	local t1 sizes want base=${2:-$T/list.old} ip=${3:-$IP}
	printf -v t1 '%(%s)T' -1
	sizes=($(stat -c %s "$base" "$ROAM_DIR/open-smtp"))
	want=${sizes[0]}
	if [ "$1" = add ]; then want=$((want + ${#ip} + ${#LOGIN_RULE} + 13)); fi
	[ "${sizes[1]}" = "$want" ] || return 1
	awk -F '\t' -v kind="$1" -v ip="$ip" -v rule="$ip:$LOGIN_RULE" -v t0="$T0" -v t1="$t1" '
		function stamped(ts) {
			return length(ts) == 10 && ts ~ /^[0-9]+$/ && ts >= t0 && ts <= t1
		}
		NR == FNR { old[FNR] = $0; n = FNR; next }
		{ m++ }
		m <= n && $0 == old[m] { next }
		{
			split(old[m], o, "\t")
			if (kind == "refresh" && m <= n && !changed++ && NF == 2 &&
			    $1 == o[1] && index($1, ip ":") == 1 && stamped($2))
				next
			if (kind == "add" && m == n + 1 && NF == 2 && $1 == rule &&
			    stamped($2))
				next
			bad = 1
			exit
		}
		END { exit bad || m != n + (kind == "add") }' "$base" "$ROAM_DIR/open-smtp"
}

# temps_left: whether a temp file is in ROAM_DIR.
temps_left() {
	compgen -G "$ROAM_DIR/*.tmp.*" >/dev/null
}

# tally LIST CDB: counts a kill that landed, by what it left: list and cdb
# each "old" or "new".
tally() {
	KILLED=$((KILLED + 1))
	SEEN[$1/$2]=$((${SEEN[$1/$2]:-0} + 1))
	if temps_left; then LEFT_TEMP=$((LEFT_TEMP + 1)); fi
}

report() {
	local k s= w=
	for k in "${!SEEN[@]}"; do s+=" list/cdb $k: ${SEEN[$k]};"; done
	for k in "${!SPAN[@]}"; do w+=" $k $((SPAN[$k] / 10)).$((SPAN[$k] % 10))"; done
	echo "# $1 trials, $KILLED killed mid-work ($LEFT_TEMP left a temp file);$s kill windows (ms):$w" >&3
}

@test "kill -9 of the recorder while it adds or refreshes an address: old or new files, and the next login repairs" {
	trials=100
	known=(10.0.7.3 10.0.77.1)
	for i in $(seq 1 "$trials"); do
		next_trial
		if [ $((i % 3)) = 0 ]; then
			kind=refresh
			IP=${known[RANDOM % ${#known[@]}]}
			REF=$OLD
		else
			kind=add
			IP=127.1.$((i / 200)).$((i % 200 + 1))
			expect_cdb "$T/list.old" "$IP:$LOGIN_RULE"
		fi
		login_killed $((RANDOM % SPAN[$kind]))
		# Each file is whole, and the old or the new one.
		if cmp -s "$ROAM_DIR/open-smtp" "$T/list.old"; then
			list=old
		elif list_is "$kind"; then
			list=new
		else
			echo "trial $i ($kind $IP): the list is neither the old nor the new one"
			diff "$T/list.old" "$ROAM_DIR/open-smtp" | head
			return 1
		fi
		if cmp -s "$ROAM_DIR/tcp.smtp.cdb" "$OLD"; then
			cdb=old
		elif cmp -s "$ROAM_DIR/tcp.smtp.cdb" "$REF"; then
			cdb=new
		else
			echo "trial $i ($kind $IP): the cdb is neither the old nor the new one"
			return 1
		fi
		if [ "$LANDED" = 1 ]; then tally "$list" "$cdb"; fi
		aim "$kind" "$LANDED"
		# The next login from the address repairs whatever the kill left,
		# temp files included.
		login_now
		list_is "$kind" || {
			echo "trial $i ($kind $IP): the list was not repaired"
			diff "$T/list.old" "$ROAM_DIR/open-smtp" | head
			return 1
		}
		cmp "$ROAM_DIR/tcp.smtp.cdb" "$REF" || {
			echo "trial $i ($kind $IP): the cdb was not repaired (list $list, cdb $cdb)"
			return 1
		}
		if temps_left; then
			echo "trial $i ($kind $IP): temp files left after the next login:" "$ROAM_DIR"/*.tmp.*
			return 1
		fi
		if [ "$kind" = add ]; then known+=("$IP"); fi
	done
	report "$trials"
	tcprules_of "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp"
	cmp "$BATS_TEST_TMPDIR/ref.cdb" "$ROAM_DIR/tcp.smtp.cdb"
	relay_open "$IP"
	[ "$(wc -l <"$ROAM_DIR/open-smtp")" = $((LIST_SIZE + trials - trials / 3)) ]
	[ "$KILLED" -ge $((trials / 4)) ]
	[ "$LEFT_TEMP" -ge 1 ]
}

# expiry_plan MINUTES: from MINUTES down, the first limit no entry of
# list.old is within 30 s of (so that what expires cannot change while the
# trial runs), in $M; the entries it keeps go in list.new.
expiry_plan() {
	awk -F '\t' -v now="$T0" -v m="$1" -v out="$T/m" '
		{ ts[NR] = $2; line[NR] = $0 }
		END {
			for (;; m--) {
				ok = 1
				for (i = 1; i <= NR; i++) {
					a = now - ts[i]
					if (a > m * 60 - 30 && a <= m * 60 + 30) {
						ok = 0
						break
					}
				}
				if (ok)
					break
			}
			print m >out
			for (i = 1; i <= NR; i++)
				if (now - ts[i] <= m * 60)
					print line[i]
		}' "$T/list.old" >"$T/list.new"
	read -r M <"$T/m"
}

# close_plan: a random entry of list.old in $IP; the others in list.new.
close_plan() {
	awk -F '\t' -v seed="$RANDOM" -v out="$T/ip" '
		{ line[NR] = $0 }
		END {
			srand(seed)
			k = 1 + int(rand() * NR)
			split(line[k], f, ":")
			print f[1] >out
			for (i = 1; i <= NR; i++)
				if (i != k)
					print line[i]
		}' "$T/list.old" >"$T/list.new"
	read -r IP <"$T/ip"
}

@test "kill -9 of clearopensmtp while it expires, closes or rebuilds: old or new files, a login before the repair refreshes cleanly, and the next run repairs" {
	trials=100
	M=60000
	for i in $(seq 1 "$trials"); do
		next_trial
		case $((i % 4)) in
		0 | 1)
			kind=expire
			expiry_plan $((M - 1 - RANDOM % 200))
			args=(-m "$M")
			;;
		2)
			kind=close
			close_plan
			args=(-m 100000 -d "$IP")
			;;
		3)
			kind=force
			cp "$T/list.old" "$T/list.new"
			args=(-m 100000 -f)
			;;
		esac
		if [ "$kind" = force ]; then
			REF=$OLD
		else
			expect_cdb "$T/list.new"
		fi
		rc=0
		killed_in_lock $((RANDOM % SPAN[$kind])) "$CLEAROPENSMTP" "${args[@]}" \
			2>"$T/err" 3>&- || rc=$?
		if [ "$rc" != 0 ] && [ "$rc" != 137 ]; then
			echo "trial $i (clearopensmtp ${args[*]}): exit $rc: $(cat "$T/err")"
			return 1
		fi
		if cmp -s "$ROAM_DIR/open-smtp" "$T/list.old"; then
			list=old
		elif cmp -s "$ROAM_DIR/open-smtp" "$T/list.new"; then
			list=new
		else
			echo "trial $i (clearopensmtp ${args[*]}): the list is neither the old nor the new one"
			diff "$T/list.new" "$ROAM_DIR/open-smtp" | head
			return 1
		fi
		if cmp -s "$ROAM_DIR/tcp.smtp.cdb" "$OLD"; then
			cdb=old
		elif cmp -s "$ROAM_DIR/tcp.smtp.cdb" "$REF"; then
			cdb=new
		else
			echo "trial $i (clearopensmtp ${args[*]}): the cdb is neither the old nor the new one"
			return 1
		fi
		if [ "$rc" = 137 ]; then tally "$list" "$cdb"; fi
		aim "$kind" $((rc == 137))
		# A login before the repair refreshes an address that stays, in
		# whatever state the kill left, and changes no other line; the
		# cdb stays, or (the index not yet the list's) a pass makes it
		# what tcprules makes of the list.
		mapfile -t -s $((RANDOM % 10000)) -n 1 line <"$T/list.new"
		stays=${line[0]%%:*}
		login_now "$stays"
		list_is refresh "$T/list.$list" "$stays" || {
			echo "trial $i (clearopensmtp ${args[*]}): a login from $stays after the kill:"
			diff "$T/list.$list" "$ROAM_DIR/open-smtp" | head
			return 1
		}
		if [ "$cdb" = old ]; then was=$OLD; else was=$REF; fi
		if ! cmp -s "$ROAM_DIR/tcp.smtp.cdb" "$was"; then
			cut -f1 "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp" |
				tcprules "$T/now.cdb" "$T/now.tmp"
			cmp "$ROAM_DIR/tcp.smtp.cdb" "$T/now.cdb"
		fi
		awk -F '\t' -v ip="$stays:" 'NR == FNR { if (index($0, ip) == 1) now = $0; next }
			index($0, ip) == 1 { $0 = now } { print }' \
			"$ROAM_DIR/open-smtp" "$T/list.new" >"$T/list.next"
		mv "$T/list.next" "$T/list.new"
		# The next run finishes the job, and removes the dead one's temps.
		run "$CLEAROPENSMTP" "${args[@]}"
		assert_success
		if [ "$kind" = close ] && [ -n "$output" ]; then
			assert_output "clearopensmtp: warning: $IP is not open"
		else
			assert_output ''
		fi
		cmp "$ROAM_DIR/open-smtp" "$T/list.new"
		cmp "$ROAM_DIR/tcp.smtp.cdb" "$REF"
		if temps_left; then
			echo "trial $i (clearopensmtp ${args[*]}): temp files left after the next run:" "$ROAM_DIR"/*.tmp.*
			return 1
		fi
	done
	report "$trials"
	tcprules_of "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp"
	cmp "$BATS_TEST_TMPDIR/ref.cdb" "$ROAM_DIR/tcp.smtp.cdb"
	[ "$(wc -l <"$ROAM_DIR/open-smtp")" -lt "$LIST_SIZE" ]
	[ "$KILLED" -ge $((trials / 4)) ]
	[ "$LEFT_TEMP" -ge 1 ]
}
