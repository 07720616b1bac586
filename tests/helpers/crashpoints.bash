# SPDX-License-Identifier: ISC
# The engine of tests/crashpoints.bats: deterministic crash points.
# Loaded after common.bash, whose variables it uses.
# shellcheck shell=bash disable=SC2153
#
# A writer (a login's recorder, or clearopensmtp) is run once, traced, on
# the starting directory: that run's calls (writes, syncs, renames,
# unlinks...) are the crash points, found at run time, so the tests do not
# depend on the order the implementation chooses. Then, for each call name
# and each N up to its count, the directory is restored and the writer run
# again with strace's --inject=NAME:signal=SIGKILL:when=N (or
# error=EIO/ENOSPC), and what it left is checked against the documented
# interface only: open-smtp and tcp.smtp.cdb, and no *.tmp.* left behind.
#
# strace counts when=N per tracee and per syscall, and a tracee keeps its
# count across execve (strace(1): "Accounting of syscalls that are subject
# to injection is done per syscall and per tracee"; the first test of
# crashpoints.bats checks it). Under strace -f, when=1 would hit every
# process of the login chain, the session's own "echo session ok" among
# them. So the recorder is traced alone: the login runs with
# tests/helpers/gate-checkpassword, which holds it until strace -p has
# attached to the recorder (which by then waits for the login's result and
# has written nothing). The counting run of a login is the whole chain
# under strace -f, and the recorder traced alone must make the same calls.
# clearopensmtp is one process, traced with -f.
#
# A test describes the writer in these variables, then calls cp_kills or
# cp_errors:
#   CP_KIND     login or clear
#   CP_IP       login: the client address
#   CP_ARGS     clear: clearopensmtp's arguments (an array)
#   CP_TCP      tcp.smtp as the last writer left it
#   CP_TCP_NEW  tcp.smtp as the writer finds it (edited since), default CP_TCP
#   CP_LIST     open-smtp as the last writer left it
#   CP_WANT     the list the writer makes, with NOW for a timestamp it sets
#   CP_REMOVED  addresses the writer removes, space separated
# With CP_VERBOSE set, every case's outcome is shown.

CP_TRACE=write,pwrite64,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,ftruncate,linkat
# The calls whose failure is injected.
CP_FAILING=' write pwrite64 fsync fdatasync rename renameat renameat2 '
CP_RULE='allow,RELAYCLIENT="",RBLSMTPD=""'
# The rule a login appends: the same, and its account, the user of creds.
CP_LOGIN_RULE=$CP_RULE',ROAMUSER="user"'
GATE_CHECKPW=$HELPERS/gate-checkpassword

# cp_setup: after common_setup. As root, ROAM_DIR is a small tmpfs: the
# runs sync often, and the disk's speed is not what is tested.
cp_setup() {
	T=$BATS_TEST_TMPDIR
	umask 022
	CP_MOUNTED=
	if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m,mode=755 tmpfs "$ROAM_DIR"; then
		CP_MOUNTED=$ROAM_DIR
	fi
	# A sleep without a process: read -t on a FIFO nobody writes.
	mkfifo "$T/nap" "$T/gate"
	exec {CP_NAP}<>"$T/nap"
	printf 'user\0good\0<1.2@host>\0' >"$T/creds"
	printf -v CP_NOW '%(%s)T' -1
	# LeakSanitizer (make asan) cannot work in a traced process.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	# strace names files by their real path.
	CP_REALDIR=$(cd "$ROAM_DIR" && pwd -P)
	CP_KIND='' CP_IP='' CP_TCP='' CP_TCP_NEW='' CP_LIST='' CP_WANT='' CP_REMOVED=''
	CP_ARGS=()
	CP_FAILS=()
	CP_RECOVERED=()
	CP_CASES=0
	CP_STARTED=
	declare -gA CP_TALLY=() CP_CDBS=()
}

cp_teardown() {
	if [ -n "$CP_MOUNTED" ]; then umount "$CP_MOUNTED"; fi
}

cp_nap() {
	read -r -t "$1" -u "$CP_NAP" _ || :
}

# cp_slurp FILE VAR: FILE's text in VAR, without a process.
# shellcheck disable=SC2034 # cp_var is a reference to the caller's VAR
cp_slurp() {
	local -n cp_var=$2
	cp_var=''
	IFS= read -r -d '' cp_var <"$1" || :
}

# entry IP AGE: a line of the list for IP, refreshed AGE seconds ago.
entry() {
	printf '%s:%s\t%s\n' "$1" "$CP_RULE" $((CP_NOW - $2))
}

# cp_fail CASE MESSAGE: a broken promise, reported at the end of the test.
cp_fail() {
	CP_FAILS+=("$1: $2")
}

# cp_restore: the starting directory. Its last writer was an expiry run
# that dropped an entry (the dummy 10.255.255.255), so the list, the cdb
# and whatever the implementation keeps beside them are as a real run
# leaves them; then tcp.smtp may be edited.
cp_restore() {
	local cur
	rm -rf "${ROAM_DIR:?}"/*
	printf '%s' "$CP_TCP" >"$ROAM_DIR/tcp.smtp"
	printf '%s10.255.255.255:%s\t1000000000\n' "$CP_LIST" "$CP_RULE" >"$ROAM_DIR/open-smtp"
	"$CLEAROPENSMTP" -f -m 100000 3>&- || return 1
	if [ "${CP_TCP_NEW:-$CP_TCP}" != "$CP_TCP" ]; then
		printf '%s' "$CP_TCP_NEW" >"$ROAM_DIR/tcp.smtp"
	fi
	cp_slurp "$ROAM_DIR/open-smtp" cur
	if [ "$cur" != "$CP_LIST" ]; then
		echo "the starting list came out different:"
		diff <(printf '%s' "$CP_LIST") "$ROAM_DIR/open-smtp"
		return 1
	fi
	# The cdb, made the same way each time, is checked the first time.
	[ -z "$CP_STARTED" ] || return 0
	# The first time: the old versions, checked.
	CP_STARTED=1
	cp "$ROAM_DIR/tcp.smtp.cdb" "$T/old.cdb"
	printf '%s' "$CP_LIST" >"$T/old.list"
	printf '%s' "$CP_TCP" | cut -f1 - "$T/old.list" | tcprules "$T/ref.cdb" "$T/ref.tmp"
	cmp "$T/old.cdb" "$T/ref.cdb" || return 1
}

# cp_run HOW INJECT LOG: runs the writer once, traced into LOG, with the
# strace option INJECT (or none). HOW: f, the whole program under strace
# -f; attach, a login whose recorder alone is traced. Sets CP_RC (the
# login's or clearopensmtp's exit status), CP_T0 and CP_T1 (the run's
# window, in seconds), CP_OUT (the first line of the standard output) and
# CP_ERR (the lines of the standard error).
cp_run() {
	local how=$1 inject=$2 log=$3
	CP_RC=0 CP_LOGIN_MS=0
	printf -v CP_T0 '%(%s)T' -1
	if [ "$CP_KIND" = clear ]; then
		# (The braces take bash's "Killed" notice.)
		{ strace -f -q -y -e trace="$CP_TRACE" ${inject:+"$inject"} -o "$log" \
			"$CLEAROPENSMTP" "${CP_ARGS[@]}" >"$T/out" 2>"$T/err" 3>&- || CP_RC=$?; } 2>/dev/null
	elif [ "$how" = f ]; then
		# strace -f ends once every tracee has, the recorder included.
		strace -f -q -y -e trace="$CP_TRACE" -o "$log" \
			env TCPREMOTEIP="$CP_IP" ROAM_WAIT_MS=60000 "$CHECKPW_ROAM" "$FAKE_CHECKPW" \
			sh -c 'echo session ok' 3<"$T/creds" >"$T/out" 2>"$T/err" || CP_RC=$?
	else
		cp_login_attached "$inject" "$log"
	fi
	printf -v CP_T1 '%(%s)T' -1
	CP_OUT=
	read -r CP_OUT <"$T/out" || :
	mapfile -t CP_ERR <"$T/err"
}

# cp_login_attached INJECT LOG: the login, held by gate-checkpassword
# until strace -p has attached to its recorder.
cp_login_attached() {
	local inject=$1 log=$2 gate=$T/gate g lpid spid rec='' i k st kids f line='' go
	# The FIFO's data goes when the last descriptor to it is closed: no
	# "go" is left over from an earlier login.
	env TCPREMOTEIP="$CP_IP" ROAM_WAIT_MS=60000 GATE="$gate" "$CHECKPW_ROAM" "$GATE_CHECKPW" \
		sh -c 'echo session ok' 3<"$T/creds" >"$T/out" 2>"$T/err" &
	lpid=$!
	# The recorder is a child of this shell (clone with CLONE_PARENT) that
	# leads its own session.
	for ((i = 0; i < 5000 && ${#rec} == 0; i++)); do
		kids=()
		read -r -a kids <"/proc/$BASHPID/task/$BASHPID/children" || :
		for k in "${kids[@]}"; do
			{ read -r st <"/proc/$k/stat"; } 2>/dev/null || continue
			[[ $st == *' (checkpw-roam) '* ]] || continue
			read -r -a f <<<"${st##*) }"
			if [ "${f[3]}" = "$k" ]; then rec=$k; fi
		done
		[ -n "$rec" ] || cp_nap 0.002
	done
	exec {g}<>"$gate"
	if [ -n "$rec" ]; then
		: >"$T/strace.err"
		strace -y -e trace="$CP_TRACE" ${inject:+"$inject"} -o "$log" -p "$rec" \
			2>"$T/strace.err" 3>&- &
		spid=$!
		# strace says "Process N attached" once it has seized the
		# recorder, which is still waiting for the login's result.
		for ((i = 0; i < 5000 && ${#line} == 0; i++)); do
			cp_nap 0.001
			{ read -r line <"$T/strace.err"; } 2>/dev/null || :
		done
	fi
	go=${EPOCHREALTIME/./}
	echo go >&"$g"
	wait "$lpid" || CP_RC=$?
	CP_LOGIN_MS=$(((${EPOCHREALTIME/./} - go) / 1000))
	if [ -n "$rec" ]; then wait "$spid" || :; fi
	exec {g}>&-
	if [ -z "$rec" ]; then
		CP_RC="$CP_RC (no recorder found)"
	elif [[ $line != *" $rec attached" ]]; then
		CP_RC="$CP_RC (strace: $line)"
	fi
}

# cp_calls LOG VAR: the calls of the writer in strace's LOG, into the
# array VAR, one an element: NAME TARGET [INJECTED], where TARGET is the
# file (its name in ROAM_DIR, DIR for ROAM_DIR itself, socket, pipe,
# other) or, for a rename or a link, OLD>NEW; temp files' pids become PID.
# The writer is the one process whose calls name ROAM_DIR; a last
# element KILLED if it was killed. (Shell only: no process to start.)
cp_calls() {
	local -n cp_res=$2
	local dir=$CP_REALDIR log l pid rest name t writer='' killed=0
	local -A ours=()
	local re_pid='^([0-9]+) +(.*)$' re_call='^([a-z0-9_]+)\(' re_fd='^[a-z0-9_]+\([0-9]+<([^>]*)>'
	local re_two='^[^"]*"([^"]*)"[^"]*"([^"]*)"' re_one='^[^"]*"([^"]*)"' re_tmp='\.tmp\.([0-9]+)'
	mapfile -t log <"$1"
	for l in "${log[@]}"; do
		if [[ $l =~ $re_pid ]]; then pid=${BASH_REMATCH[1]}; else pid=-; fi
		if [[ $l == *"<$dir>"* || $l == *"<$dir/"* ]]; then ours[$pid]=1; fi
	done
	if [ "${#ours[@]}" != 1 ]; then
		cp_res=("WRITERS ${!ours[*]}")
		return 0
	fi
	writer=${!ours[*]}
	cp_res=()
	for l in "${log[@]}"; do
		if [[ $l =~ $re_pid ]]; then
			pid=${BASH_REMATCH[1]} rest=${BASH_REMATCH[2]}
		else
			pid=- rest=$l
		fi
		[ "$pid" = "$writer" ] || continue
		if [[ $rest == '+++ killed by SIGKILL'* ]]; then
			killed=1
			continue
		fi
		[[ $rest =~ $re_call ]] || continue
		name=${BASH_REMATCH[1]}
		case $name in
		rename | renameat | renameat2 | link | linkat)
			t='?'
			if [[ $rest =~ $re_two ]]; then t="${BASH_REMATCH[1]}>${BASH_REMATCH[2]}"; fi
			;;
		unlink | unlinkat)
			t='?'
			if [[ $rest =~ $re_one ]]; then t=${BASH_REMATCH[1]}; fi
			;;
		*)
			t='?'
			if [[ $rest =~ $re_fd ]]; then
				t=${BASH_REMATCH[1]}
				case $t in
				"$dir") t=DIR ;;
				"$dir"/*) t=${t#"$dir"/} ;;
				socket:*) t=socket ;;
				pipe:*) t=pipe ;;
				*) t=other ;;
				esac
			fi
			;;
		esac
		while [[ $t =~ $re_tmp ]]; do
			t=${t//.tmp.${BASH_REMATCH[1]}/.tmp.PID}
		done
		if [[ $rest == *'(INJECTED)' ]]; then t+=' INJECTED'; fi
		cp_res+=("$name $t")
	done
	if [ "$killed" = 1 ]; then cp_res+=(KILLED); fi
}

# cp_list_state: LIST, the state of open-smtp: old, new, both (the old
# and the new version are the same), or neither; its text in CP_CUR. new:
# the lines of CP_WANT, a NOW there standing for a timestamp of this
# run's window.
cp_list_state() {
	local old=0 new=0 i w c
	CP_CUR=
	if [ -f "$ROAM_DIR/open-smtp" ]; then
		cp_slurp "$ROAM_DIR/open-smtp" CP_CUR
		if [ "$CP_CUR" = "$CP_LIST" ]; then old=1; fi
		if [ "$CP_CUR" = "$CP_WANT" ]; then
			new=1
		elif [[ $CP_WANT == *$'\tNOW\n'* && $CP_CUR == *$'\n' ]]; then
			mapfile -t w <<<"${CP_WANT%$'\n'}"
			mapfile -t c <<<"${CP_CUR%$'\n'}"
			if [ "${#w[@]}" = "${#c[@]}" ]; then
				new=1
				for ((i = 0; i < ${#w[@]}; i++)); do
					[ "${c[i]}" != "${w[i]}" ] || continue
					if [[ ${w[i]} == *$'\tNOW' && ${c[i]%$'\t'*} == "${w[i]%$'\t'*}" &&
						${c[i]##*$'\t'} =~ ^[0-9]{10}$ ]] &&
						((${c[i]##*$'\t'} >= CP_T0 && ${c[i]##*$'\t'} <= CP_T1)); then
						continue
					fi
					new=0
					break
				done
			fi
		fi
	fi
	case $old$new in
	11) LIST=both ;;
	10) LIST=old ;;
	01) LIST=new ;;
	*) LIST=neither ;;
	esac
}

# cp_cdb_state: CDB, the same for tcp.smtp.cdb.
cp_cdb_state() {
	local cdb=$ROAM_DIR/tcp.smtp.cdb
	if cmp -s "$cdb" "$T/old.cdb"; then
		CDB=old
		if [ "$CP_CDB_SAME" = 1 ]; then CDB=both; fi
	elif cmp -s "$cdb" "$T/new.cdb"; then
		CDB=new
	else
		CDB=neither
	fi
}

# cp_reference: the counting run, uninterrupted: its calls in CALLS (and
# COUNT[NAME], AT[NAME.N] the index of the Nth call NAME), its result
# checked as the new versions, the cdb kept in $T/new.cdb; COMMIT_LIST and
# COMMIT_CDB, the index of the call that commits each file.
cp_reference() {
	local name c i
	cp_restore
	cp_run f '' "$T/count.log"
	cp_outcome_ok ref || return 1
	cp_calls "$T/count.log" CALLS
	if [ "${#CALLS[@]}" = 0 ] || [[ ${CALLS[0]} == WRITERS* ]]; then
		echo "counting run: no single writing process: ${CALLS[*]}"
		cat "$T/count.log"
		return 1
	fi
	cp_list_state
	if [ "${LIST/both/new}" != new ]; then
		echo "counting run: the list is not the expected new one"
		diff <(printf '%s' "$CP_WANT") "$ROAM_DIR/open-smtp"
		return 1
	fi
	cp "$ROAM_DIR/tcp.smtp.cdb" "$T/new.cdb"
	CP_CDB_SAME=0
	if cmp -s "$T/new.cdb" "$T/old.cdb"; then CP_CDB_SAME=1; fi
	cp_ref_cdb || return 1
	cmp "$T/new.cdb" "$CP_REF" || {
		echo "counting run: the cdb is not what tcprules makes of tcp.smtp and the list"
		return 1
	}
	if compgen -G "$ROAM_DIR/*.tmp.*" >/dev/null; then
		echo "counting run: temp files left:" "$ROAM_DIR"/*.tmp.*
		return 1
	fi
	declare -gA COUNT=() AT=()
	for ((i = 0; i < ${#CALLS[@]}; i++)); do
		name=${CALLS[i]%% *}
		c=$((${COUNT[$name]:-0} + 1))
		COUNT[$name]=$c
		AT[$name.$c]=$i
	done
	# The commit of each file: the last call that puts its new version in
	# place (a rename onto it, or a write or sync of it in place).
	COMMIT_LIST=-1 COMMIT_CDB=-1
	for ((i = 0; i < ${#CALLS[@]}; i++)); do
		case ${CALLS[i]} in
		rename*'>open-smtp' | write\ open-smtp | pwrite64\ open-smtp | fsync\ open-smtp | \
			fdatasync\ open-smtp | ftruncate\ open-smtp) COMMIT_LIST=$i ;;
		rename*'>tcp.smtp.cdb' | write\ tcp.smtp.cdb | pwrite64\ tcp.smtp.cdb | \
			fsync\ tcp.smtp.cdb | fdatasync\ tcp.smtp.cdb) COMMIT_CDB=$i ;;
		esac
	done
	if [ "$CP_KIND" = login ]; then
		# The recorder traced alone makes the same calls, and the same files.
		cp_restore
		cp_run attach '' "$T/attach.log"
		cp_outcome_ok ref || return 1
		cp_calls "$T/attach.log" c
		if [ "${c[*]}" != "${CALLS[*]}" ]; then
			echo "the recorder traced alone made other calls than under strace -f:"
			printf '  -f:     %s\n' "${CALLS[@]}"
			printf '  attach: %s\n' "${c[@]}"
			return 1
		fi
		cp_list_state
		cp_cdb_state
		if [ "${LIST/both/new}" != new ] || [ "${CDB/both/new}" != new ]; then
			echo "the login with its recorder traced alone left list $LIST, cdb $CDB"
			return 1
		fi
	fi
	return 0
}

# cp_ref_cdb: CP_REF, a file with what tcprules makes of tcp.smtp and the
# list's lines cut at the TAB (the real tcprules, run once per list).
cp_ref_cdb() {
	local tcp list
	cp_slurp "$ROAM_DIR/tcp.smtp" tcp
	cp_slurp "$ROAM_DIR/open-smtp" list
	CP_REF=${CP_CDBS[$tcp$list]:-}
	if [ -z "$CP_REF" ]; then
		CP_REF=$T/ref.${#CP_CDBS[@]}.cdb
		cut -f1 "$ROAM_DIR/tcp.smtp" "$ROAM_DIR/open-smtp" | tcprules "$CP_REF" "$T/ref.tmp" ||
			return 1
		CP_CDBS[$tcp$list]=$CP_REF
	fi
}

# cp_outcome_ok CASE: the login went on (exit 0, "session ok"), or
# clearopensmtp succeeded silently.
cp_outcome_ok() {
	local msg=''
	if [ "$CP_KIND" = login ]; then
		if [ "$CP_RC" != 0 ] || [ "$CP_OUT" != 'session ok' ]; then
			msg="the login failed: exit $CP_RC, session output [$CP_OUT], log [${CP_ERR[*]}]"
		elif [ "${CP_LOGIN_MS:-0}" -gt 10000 ]; then
			# ROAM_WAIT_MS is 60000: a dead recorder must be noticed, not waited for.
			msg="the login took $CP_LOGIN_MS ms after the password was checked"
		fi
	elif [ "$CP_RC" != 0 ] || [ -n "$CP_OUT${CP_ERR[*]}" ]; then
		msg="clearopensmtp exit $CP_RC, output [$CP_OUT${CP_ERR[*]}]"
	fi
	[ -n "$msg" ] || return 0
	cp_fail "$1" "$msg"
	if [ "$1" = ref ]; then echo "$msg"; fi
	return 1
}

# cp_injected CASE I KIND: whether the injection hit the writer's call I
# of the counting run, the calls before it the same. KIND: kill or error.
# The writer's calls in INJ_CALLS.
cp_injected() {
	local i=$2 k
	cp_calls "$T/inject.log" INJ_CALLS
	for ((k = 0; k < i; k++)); do
		if [ "${INJ_CALLS[k]:-}" != "${CALLS[k]}" ]; then
			cp_fail "$1" "the calls changed before the injection: call $((k + 1)) is [${INJ_CALLS[k]:-}], was [${CALLS[k]}]"
			return 1
		fi
	done
	if [ "$3" = kill ]; then
		if [ "${INJ_CALLS[i]:-}" != "${CALLS[i]}" ] || [ "${INJ_CALLS[i + 1]:-}" != KILLED ]; then
			cp_fail "$1" "the writer was not killed at [${CALLS[i]}]: calls [${INJ_CALLS[*]:i}]"
			return 1
		fi
	elif [ "${INJ_CALLS[i]:-}" != "${CALLS[i]} INJECTED" ]; then
		cp_fail "$1" "no error injected into [${CALLS[i]}]: calls [${INJ_CALLS[*]:i}]"
		return 1
	fi
	return 0
}

# cp_states CASE: LIST and CDB, the state of each file now (the list's
# text kept in CP_POST); a failure if either is neither the old nor the new
# version.
cp_states() {
	cp_list_state
	cp_cdb_state
	CP_POST=$CP_CUR
	if [ "$LIST" = neither ]; then
		cp_fail "$1" "the list is neither the old nor the new version: [$CP_CUR]"
	fi
	if [ "$CDB" = neither ]; then
		cp_fail "$1" "the cdb is neither the old nor the new version"
	fi
	CP_TALLY[$LIST/$CDB]=$((${CP_TALLY[$LIST/$CDB]:-0} + 1))
	if [ -n "${CP_VERBOSE:-}" ]; then
		echo "# $1: list $LIST, cdb $CDB, exit $CP_RC, output [$CP_OUT], log [${CP_ERR[*]}]" >&3
	fi
	[ "$LIST" != neither ] && [ "$CDB" != neither ]
}

# cp_repaired CASE: after whatever the case left (the list it left in
# CP_POST), clearopensmtp -f succeeds silently; the list holds what
# was committed: the entries of the list the case left (but those over
# 180 minutes old, which it expires), and the new address of a login
# only if it was committed (appended to the list); each
# address once; nothing listed before is lost but what the writer
# removes; the cdb is what tcprules makes of tcp.smtp and the list; no
# temp file is left.
cp_repaired() {
	local rc=0 out='' now msg='' list lines l a
	"$CLEAROPENSMTP" -f >"$T/rep.out" 2>&1 3>&- || rc=$?
	printf -v now '%(%s)T' -1
	cp_slurp "$T/rep.out" out
	if [ "$rc" != 0 ] || [ -n "$out" ]; then
		cp_fail "$1" "the next run (clearopensmtp -f): exit $rc, output [$out]"
		return 1
	fi
	cp_slurp "$ROAM_DIR/open-smtp" list
	local -A old=() post=() want=() got=()
	mapfile -t lines <<<"${CP_LIST%$'\n'}"
	for l in "${lines[@]}"; do old[${l%%:*}]=${l##*$'\t'}; done
	mapfile -t lines <<<"${CP_POST%$'\n'}"
	for l in "${lines[@]}"; do
		[ -n "$l" ] || continue
		a=${l%%:*}
		if [ -n "${post[$a]:-}" ]; then msg+=" the list left had $a twice;"; fi
		post[$a]=1
		if [[ ${l##*$'\t'} =~ ^[0-9]+$ ]] && ((${l##*$'\t'} >= now - 10800)); then
			want[$a]=$l
		fi
	done
	mapfile -t lines <<<"${list%$'\n'}"
	for l in "${lines[@]}"; do
		[ -n "$l" ] || continue
		a=${l%%:*}
		if [ -n "${got[$a]:-}" ]; then msg+=" $a listed twice;"; fi
		got[$a]=1
		if [ -n "${want[$a]:-}" ]; then
			if [ "$l" != "${want[$a]}" ]; then msg+=" [$l] should be [${want[$a]}];"; fi
		elif ! { [ "$a" = "$CP_IP" ] && [ "${l%$'\t'*}" = "$CP_IP:$CP_LOGIN_RULE" ] &&
			[[ ${l##*$'\t'} =~ ^[0-9]+$ ]] &&
			((${l##*$'\t'} >= CP_T0 && ${l##*$'\t'} <= CP_T1)); }; then
			# Only the new address of a login, committed to the list, may come.
			msg+=" unexpected line [$l];"
		fi
	done
	for a in "${!want[@]}"; do
		if [ -z "${got[$a]:-}" ]; then msg+=" lost [${want[$a]}];"; fi
	done
	for a in "${!old[@]}"; do
		if [ -z "${got[$a]:-}" ] && ((old[$a] >= now - 10800)) &&
			[[ " $CP_REMOVED " != *" $a "* ]]; then
			msg+=" lost $a, listed before;"
		fi
	done
	if [ -n "$msg" ]; then
		cp_fail "$1" "after the next run:$msg"
		return 1
	fi
	cp_ref_cdb || return 1
	if ! cmp -s "$CP_REF" "$ROAM_DIR/tcp.smtp.cdb"; then
		cp_fail "$1" "after the next run the cdb is not what tcprules makes of tcp.smtp and the list"
		return 1
	fi
	if compgen -G "$ROAM_DIR/*.tmp.*" >/dev/null; then
		cp_fail "$1" "temp files left after the next run: $(cd "$ROAM_DIR" && echo *.tmp.*)"
		return 1
	fi
	return 0
}

# cp_kills: for each call NAME of the writer and each N up to its count,
# SIGKILL at the Nth call NAME: the login goes on, or clearopensmtp dies;
# each file old or new; the next run repairs.
cp_kills() {
	local name n i case
	cp_untraced
	cp_reference
	for name in $(printf '%s\n' "${!COUNT[@]}" | sort); do
		for ((n = 1; n <= COUNT[$name]; n++)); do
			i=${AT[$name.$n]}
			case="SIGKILL at $name #$n [${CALLS[i]}]"
			CP_CASES=$((CP_CASES + 1))
			cp_restore
			cp_run attach "--inject=$name:signal=SIGKILL:when=$n" "$T/inject.log"
			if [ "$CP_KIND" = login ]; then
				cp_outcome_ok "$case" || :
			elif [ "$CP_RC" != 137 ]; then
				cp_fail "$case" "clearopensmtp exit $CP_RC, not killed; output [$CP_OUT${CP_ERR[*]}]"
			fi
			cp_injected "$case" "$i" kill || continue
			cp_states "$case" || continue
			cp_repaired "$case" || :
		done
	done
	cp_report "kill points"
}

# cp_is_derived TARGET: a file the implementation derives from the list
# and may fail to write without failing the update (open-smtp(5): the
# index is checked whenever it is read, and a bad one costs a pass).
cp_is_derived() {
	case $1 in
	open-smtp.index* | *'>open-smtp.index') return 0 ;;
	esac
	return 1
}

# cp_rewritten I: whether, after its call I failed, the writer wrote the
# same file again (data written anew can be synced anew).
cp_rewritten() {
	local k t=${CALLS[$1]#* }
	for ((k = $1 + 1; k < ${#INJ_CALLS[@]}; k++)); do
		case ${INJ_CALLS[k]} in
		"write $t" | "pwrite64 $t") return 0 ;;
		esac
	done
	return 1
}

# cp_is STATE WANT: whether a file in STATE is the WANT version.
cp_is() {
	[ "$1" = both ] || [ "$1" = "$2" ]
}

# cp_errors: for each call NAME of the writer that writes, syncs or
# renames, and each N up to its count, EIO then ENOSPC at the Nth call.
# Each file is old if the failing call came at or before its commit, new
# after, and the failure is reported (clearopensmtp: exit 111 and one
# fatal line; a login goes on, with a warning if a file was left old).
# Or the writer recovered: every file new and nothing reported, after a
# failed write, rename or sync of a derived file, or a sync of a file it
# then wrote again. No temp file is left; the next run repairs.
cp_errors() {
	local name n e case i what want_list want_cdb recovered l nfatal
	cp_untraced
	cp_reference
	for name in $(printf '%s\n' "${!COUNT[@]}" | sort); do
		[[ $CP_FAILING == *" $name "* ]] || continue
		for ((n = 1; n <= COUNT[$name]; n++)); do
			i=${AT[$name.$n]}
			what=${CALLS[i]}
			want_list=new want_cdb=new
			if [ "$i" -le "$COMMIT_LIST" ]; then want_list=old; fi
			if [ "$i" -le "$COMMIT_CDB" ]; then want_cdb=old; fi
			for e in EIO ENOSPC; do
				case="$e at $name #$n [$what]"
				CP_CASES=$((CP_CASES + 1))
				cp_restore
				cp_run attach "--inject=$name:error=$e:when=$n" "$T/inject.log"
				cp_injected "$case" "$i" error || continue
				cp_states "$case" || continue
				recovered=0
				if cp_is "$LIST" new && cp_is "$CDB" new &&
					{ [[ $name != *sync ]] || cp_is_derived "${what#* }" || cp_rewritten "$i"; } &&
					[[ $CP_KIND == login || "$CP_RC$CP_OUT${CP_ERR[*]}" == 0 ]]; then
					recovered=1
				fi
				if ! cp_is "$LIST" "$want_list" || ! cp_is "$CDB" "$want_cdb"; then
					if [ "$recovered" = 1 ]; then CP_RECOVERED+=("$case"); fi
				fi
				if { ! cp_is "$LIST" "$want_list" || ! cp_is "$CDB" "$want_cdb"; } &&
					[ "$recovered" = 0 ]; then
					cp_fail "$case" "list $LIST (want $want_list), cdb $CDB (want $want_cdb); exit $CP_RC, log [${CP_ERR[*]}]"
				fi
				if [ "$CP_KIND" = login ]; then
					cp_outcome_ok "$case" || :
					if { [ "$LIST" = old ] || [ "$CDB" = old ]; } &&
						[[ ${CP_ERR[*]} != *'checkpw-roam: warning: '* ]]; then
						cp_fail "$case" "a file was left old and no warning was logged: [${CP_ERR[*]}]"
					fi
				elif [ "$recovered" = 0 ]; then
					nfatal=0
					for l in "${CP_ERR[@]}"; do
						if [[ $l == 'clearopensmtp: fatal: unable to '* ]]; then
							nfatal=$((nfatal + 1))
						fi
					done
					if [ "$CP_RC" != 111 ] || [ "$nfatal" != 1 ] || [ "${#CP_ERR[@]}" != 1 ] ||
						[ -n "$CP_OUT" ]; then
						cp_fail "$case" "clearopensmtp exit $CP_RC, output [$CP_OUT${CP_ERR[*]}], not 111 and one fatal line"
					fi
				fi
				if compgen -G "$ROAM_DIR/*.tmp.*" >/dev/null; then
					cp_fail "$case" "temp files left: $(cd "$ROAM_DIR" && echo *.tmp.*)"
				fi
				cp_repaired "$case" || :
			done
		done
	done
	cp_report "error points (EIO, ENOSPC)"
}

# cp_untraced: the functions called from now on run without bats' DEBUG
# trap, which runs before every command and would cost more than the
# cases (bats turns functrace on; cp_report turns it on again).
cp_untraced() {
	set +T
}

# cp_report WHAT: a summary on the TAP stream; the failures, if any.
cp_report() {
	local k s='' c=''
	for k in $(printf '%s\n' "${!CP_TALLY[@]}" | sort); do
		s+=" $k ${CP_TALLY[$k]},"
	done
	for k in $(printf '%s\n' "${!COUNT[@]}" | sort); do
		c+="$k ${COUNT[$k]}, "
	done
	set -T
	echo "# $CP_CASES $1 (calls: ${c%, }); list/cdb left:${s%,}; ${#CP_FAILS[@]} failed" >&3
	for k in "${CP_RECOVERED[@]}"; do
		echo "#   recovered, all new and nothing reported: $k" >&3
	done
	if [ "${#CP_FAILS[@]}" -gt 0 ]; then
		printf '%s\n' "${CP_FAILS[@]}"
		echo "calls of the uninterrupted run:"
		printf '  %s\n' "${CALLS[@]}"
		return 1
	fi
}
