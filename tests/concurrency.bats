#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# Many logins at once, refreshes and expiry runs among them: no login is
# lost, none is recorded twice, nothing expires early or late, and the cdb
# is what tcprules makes of tcp.smtp and the list.

load helpers/common

setup() {
	common_setup
	CREDS=$BATS_TEST_TMPDIR/creds
	printf 'user\0good\0<1.2@host>\0' >"$CREDS"
	OUT=$BATS_TEST_TMPDIR/out
	mkdir "$OUT"
	JOBS=()
	TAGS=()
}
teardown() {
	touch "$BATS_TEST_TMPDIR/stop"
	common_teardown
}

# start_login TAG IP: one login through the real chain in the background,
# its stdout and stderr in $OUT/TAG.out and $OUT/TAG.err. The login waits
# for a new address's recording (ROAM_WAIT_MS); wait_logins waits for the
# refreshes that follow the logins of addresses open already.
start_login() {
	TCPREMOTEIP=$2 ROAM_WAIT_MS=60000 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
		/bin/echo session ok 3<"$CREDS" >"$OUT/$1.out" 2>"$OUT/$1.err" &
	JOBS+=($!)
	TAGS+=("$1")
}

# wait_logins: waits for every login started, then for their recorders;
# each must exit 0, have run its session, and have logged nothing but
# "relay opened" and "relay refreshed" lines naming the account (for any
# address: one recorder may add those of others waiting). Builtins only: a
# process per check would cost more than the logins.
wait_logins() {
	local i rc out log rest bad=0 rcs=()
	for i in "${!JOBS[@]}"; do
		rcs[i]=0
		wait "${JOBS[$i]}" || rcs[i]=$?
	done
	wait_recorders || bad=1
	for i in "${!JOBS[@]}"; do
		rc=${rcs[i]}
		out=
		read -r out <"$OUT/${TAGS[$i]}.out" || :
		mapfile -t log <"$OUT/${TAGS[$i]}.err"
		log=("${log[@]/#checkpw-roam: info: relay opened for 127.0.* by \"user\"/}")
		printf -v rest '%s' "${log[@]/#checkpw-roam: info: relay refreshed for 127.0.* by \"user\"/}"
		if [ "$rc" != 0 ] || [ "$out" != 'session ok' ] || [ -n "$rest" ]; then
			echo "login ${TAGS[$i]}: exit $rc, session [$out], log: $(cat "$OUT/${TAGS[$i]}.err")"
			bad=1
		fi
	done
	JOBS=()
	TAGS=()
	return "$bad"
}

# expiry_loop MINUTES: clearopensmtp -m MINUTES every 0.3 s until
# $BATS_TEST_TMPDIR/stop appears; a line "START STATUS" a run in
# $OUT/expiry.rc.
expiry_loop() {
	local rc t
	while [ ! -e "$BATS_TEST_TMPDIR/stop" ]; do
		printf -v t '%(%s)T' -1
		rc=0
		"$CLEAROPENSMTP" -m "$1" 2>>"$OUT/expiry.err" || rc=$?
		echo "$t $rc" >>"$OUT/expiry.rc"
		sleep 0.3
	done
}

@test "50 rounds of 37 concurrent logins, with refreshes and expiry runs: every login listed once, old entries gone, the cdb is tcprules'" {
	rounds=50 width=32
	printf '# static\n10.0.0.:allow,RELAYCLIENT=""\n127.0.0.1:deny\n' >"$ROAM_DIR/tcp.smtp"
	start=$(date +%s)
	# Old entries: four long expired, eight that pass the one-hour limit one
	# every 2 s while the logins run.
	{
		for k in 1 2 3 4; do
			printf '10.9.0.%d:allow,RELAYCLIENT="",RBLSMTPD=""\t%d\n' "$k" $((start - 86400 * k))
		done
		for k in $(seq 1 8); do
			printf '10.9.1.%d:allow,RELAYCLIENT="",RBLSMTPD=""\t%d\n' "$k" $((start - 3600 + 2 * k))
		done
	} >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f -m 100000
	relay_open 10.9.0.1
	relay_open 10.9.1.8

	expiry_loop 60 3>&- &
	PIDS+=($!)
	declare -A since
	want=()
	refreshes=0
	for r in $(seq 1 "$rounds"); do
		printf -v t '%(%s)T' -1
		# New addresses, each from its own login; the first also a second
		# time at once, in its v4-mapped form: one entry for both.
		for x in $(seq 1 "$width"); do
			start_login "$r.$x" "127.0.$r.$x"
			want+=("127.0.$r.$x")
		done
		start_login "$r.mapped" "::ffff:127.0.$r.1"
		for x in $(seq 1 "$width"); do since[127.0.$r.$x]=$t; done
		# Refreshes of four addresses listed in earlier rounds.
		if [ "$r" -gt 1 ]; then
			for k in 1 2 3 4; do
				ip=127.0.$((1 + RANDOM % (r - 1))).$((8 * k - RANDOM % 8))
				start_login "$r.refresh$k" "$ip"
				since[$ip]=$t
				refreshes=$((refreshes + 1))
			done
		fi
		wait_logins
	done
	# The staggered old entries are all due 16 s after the start: wait
	# for a run that started later.
	while ! awk -v t=$((start + 17)) '$1 >= t { ok = 1 } END { exit !ok }' "$OUT/expiry.rc"; do
		sleep 0.3
	done
	touch "$BATS_TEST_TMPDIR/stop"
	wait "${PIDS[0]}"
	end=$(date +%s)

	runs=$(wc -l <"$OUT/expiry.rc")
	echo "# $((rounds * (width + 1) + refreshes)) logins ($refreshes refreshes)," \
		"$runs expiry runs, in $((end - start)) s" >&3
	[ "$runs" -ge 20 ]
	run awk '$2 != 0' "$OUT/expiry.rc"
	assert_output ''
	[ ! -s "$OUT/expiry.err" ]

	# Every address exactly once, nothing else, in vpopmail's format with
	# the account.
	diff <(printf '%s\n' "${want[@]}" | sort) <(list_ips | sort)
	run list_ips
	[ "${#lines[@]}" -eq $((rounds * width)) ]
	run grep -cvE $'^127\\.0\\.[0-9]+\\.[0-9]+:allow,RELAYCLIENT="",RBLSMTPD="",ROAMUSER="user"\t[0-9]{10}$' \
		"$ROAM_DIR/open-smtp"
	assert_output 0
	# Each timestamp is from the test, and not older than the start of the
	# last login from that address: no refresh was lost.
	while IFS=$'\t' read -r rule ts; do
		ip=${rule%%:*}
		if [ "$ts" -lt "${since[$ip]}" ] || [ "$ts" -gt "$end" ]; then
			echo "$ip: timestamp $ts, last login at ${since[$ip]}, end $end"
			return 1
		fi
	done <"$ROAM_DIR/open-smtp"

	# The cdb is tcprules' own for tcp.smtp and the list.
	tcprules_of "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp"
	cmp "$BATS_TEST_TMPDIR/ref.cdb" "$ROAM_DIR/tcp.smtp.cdb"
	relay_open "127.0.$rounds.$width"
	run relay_open 10.9.0.1
	assert_failure
	run relay_open 10.9.1.8
	assert_failure
	run ls "$ROAM_DIR"
	refute_output --partial '.tmp.'
}

@test "appends racing -d: every login listed and relaying, every closed address gone from the list and the cdb" {
	now=$(date +%s)
	for k in $(seq 1 40); do
		printf '10.8.0.%d:allow,RELAYCLIENT="",RBLSMTPD=""\t%d\n' "$k" "$now"
	done >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f
	for x in $(seq 1 40); do
		start_login "new.$x" "127.0.1.$x"
	done
	for k in $(seq 1 40); do
		"$CLEAROPENSMTP" -d "10.8.0.$k"
	done
	wait_logins
	diff <(seq 1 40 | sed 's/^/127.0.1./' | sort) <(list_ips | sort)
	for x in 1 17 40; do relay_open 127.0.1.$x; done
	for k in 1 17 40; do refute relay_open 10.8.0.$k; done
	tcprules_of "$ROAM_DIR/open-smtp"
	cmp "$BATS_TEST_TMPDIR/ref.cdb" "$ROAM_DIR/tcp.smtp.cdb"
}
