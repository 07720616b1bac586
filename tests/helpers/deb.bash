# Shared set-up for tests/deb.bats: the Debian packages built from a copy of
# the tree (the current version, and a "previous" one, a binNMU, for the
# upgrade), installed and purged with dpkg as root. Load after
# helpers/common.
# shellcheck shell=bash
# SPDX-License-Identifier: ISC
# status and output are bats' run's.
# shellcheck disable=SC2154

PKG_DIR=/var/lib/checkpw-roam
PKGS="checkpw-roam checkpw-roam-pgsync"
# Where the packages put files or make them, for the before/after snapshot.
PKG_ROOTS="/etc/cron.d /etc/default /etc/sv /etc/systemd /usr/sbin
/usr/share/doc /usr/share/man/man5 /usr/share/man/man8 /usr/share/checkpw-roam
/lib/systemd/system /usr/lib/systemd/system
/var/lib/systemd/deb-systemd-helper-enabled
/var/lib/systemd/deb-systemd-helper-masked $PKG_DIR /var/log/roamsync"

# deb_blocker: why this machine cannot take the packages here, or nothing.
deb_blocker() {
	local p
	[ "$(id -u)" = 0 ] || {
		echo "installing packages with dpkg needs root"
		return
	}
	for p in $PKGS; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
			echo "$p is installed on this machine already: the test would replace and purge it"
			return
		fi
	done
	if [ -e "$PKG_DIR" ] || [ -e /var/log/roamsync ]; then
		echo "$PKG_DIR or /var/log/roamsync exists: the test would purge what is in it"
		return
	fi
	if dpkg-statoverride --list "$PKG_DIR" >/dev/null; then
		echo "a dpkg-statoverride for $PKG_DIR exists: the test would remove it"
	fi
}

# deb_copy DIR: the tree's sources (git's tracked and new files, none it
# ignores) copied into DIR, as make deb copies them.
deb_copy() {
	mkdir -p "$1"
	git -C "$TOP" ls-files -z --cached --others --exclude-standard |
		tar -C "$TOP" --null --ignore-failed-read -T - -cf - 2>/dev/null |
		tar -C "$1" -xf -
}

# deb_of BUILD PKG: the .deb of PKG in BUILD (new or old).
deb_of() {
	local f
	for f in "$DEB_WORK/$1/$2"_*.deb; do
		echo "$f"
	done
}

# dpkg_retry ARGS...: dpkg, waiting up to 2 minutes while another dpkg or
# apt holds its lock (other work may run on this machine).
dpkg_retry() {
	local out rc
	for _ in $(seq 1 120); do
		out=$(dpkg "$@" 2>&1)
		rc=$?
		if [ "$rc" -ne 0 ] && grep -q 'lock' <<<"$out"; then
			sleep 1
			continue
		fi
		printf '%s\n' "$out"
		return "$rc"
	done
	printf '%s\n' "$out"
	return 1
}

# pkg_install BUILD: both packages of BUILD (new or old), by dpkg -i.
pkg_install() {
	dpkg_retry -i "$(deb_of "$1" checkpw-roam)" \
		"$(deb_of "$1" checkpw-roam-pgsync)" >"$BATS_TEST_TMPDIR/dpkg.log" || {
		cat "$BATS_TEST_TMPDIR/dpkg.log" >&2
		return 1
	}
}

# pkg_purge: both packages purged, if there.
pkg_purge() {
	dpkg_retry --purge checkpw-roam-pgsync checkpw-roam >/dev/null
}

# pkg_snapshot: every path under the packages' places, with type, owner
# and mode, one a line, sorted; and dpkg's overrides.
pkg_snapshot() {
	local r
	for r in $PKG_ROOTS; do
		[ -e "$r" ] || continue
		find "$r" -printf '%p %y %u:%g %m\n'
	done | sort
	cat /var/lib/dpkg/statoverride
}

# pkg_login IP [PASSWORD]: a login through the installed checkpw-roam, with
# the packaged default relay directory (ROAM_DIR unset).
pkg_login() {
	run env -u ROAM_DIR TCPREMOTEIP="$1" /usr/sbin/checkpw-roam "$FAKE_CHECKPW" \
		sh -c 'echo session ok' 3< <(printf 'user\0%s\0<1.2@host>\0' "${2:-good}")
}

# pkg_open IP: the packaged cdb sets RELAYCLIENT for IP, as tcpserver -x
# decides (tcprulescheck).
pkg_open() {
	TCPREMOTEIP=$1 tcprulescheck "$PKG_DIR/tcp.smtp.cdb" |
		grep -q '^set environment variable RELAYCLIENT='
}

# cron_line: the command of /etc/cron.d/checkpw-roam's one job; checks its
# schedule and user on the way.
cron_command() {
	local line m h dom mon dow user cmd
	line=$(grep -v -e '^#' -e '^$' /etc/cron.d/checkpw-roam)
	[ "$(wc -l <<<"$line")" = 1 ] || return 1
	read -r m h dom mon dow user cmd <<<"$line"
	[ "$m $h $dom $mon $dow $user" = "*/10 * * * * root" ] || return 1
	printf '%s\n' "$cmd"
}

# run_as_cron CMD: CMD as cron runs a job: /bin/sh -c, cron's environment
# only (Debian's cron: SHELL, PATH=/usr/bin:/bin, HOME, LOGNAME).
run_as_cron() {
	run env -i SHELL=/bin/sh PATH=/usr/bin:/bin HOME=/root LOGNAME=root \
		/bin/sh -c "$1"
}

# unit_path UNIT: where the installed packages put UNIT (dh_installsystemd
# decides: /lib/systemd/system or /usr/lib/systemd/system).
unit_path() {
	dpkg -L checkpw-roam checkpw-roam-pgsync 2>/dev/null | grep "/systemd/system/$1\$"
}

# unit_value UNIT KEY: KEY's value in the installed UNIT (the last one).
unit_value() {
	sed -n "s/^$2=//p" "$(unit_path "$1")" | tail -n 1
}

# unit_env UNIT: the environment systemd gives UNIT's commands, one
# NAME=value a line: its Environment= lines, then its EnvironmentFile.
unit_env() {
	local f
	sed -n 's/^Environment=//p' "$(unit_path "$1")"
	f=$(unit_value "$1" EnvironmentFile)
	[ -z "$f" ] || env_file "${f#-}"
}

# unit_caps UNIT: its CapabilityBoundingSet as setpriv's --bounding-set.
unit_caps() {
	local c out=-all
	for c in $(unit_value "$1" CapabilityBoundingSet); do
		c=${c#CAP_}
		out="$out,+${c,,}"
	done
	printf '%s\n' "$out"
}

# unit_exec UNIT KEY LOG [NAME=value...]: UNIT's command KEY (ExecStart,
# ExecCondition) as systemd runs it, as far as it can be without systemd:
# only the unit's environment (and the assignments given), no new
# privileges, the unit's capability bounding set, its $$ as $ (the units
# quote such words in single quotes, as the shell reads them); every
# system call it makes (strace -f) listed in LOG.syscalls; its output in
# LOG. Runs in the foreground: background it for a daemon.
unit_exec() {
	local unit=$1 key=$2 log=$3 cmd assignments
	shift 3
	mapfile -t assignments < <(unit_env "$unit")
	eval "cmd=($(unit_value "$unit" "$key" | sed 's/\$\$/$/g'))"
	strace -f -qq -o "$log.strace" env -i "${assignments[@]}" "$@" \
		setpriv --no-new-privs --inh-caps=-all --bounding-set="$(unit_caps "$unit")" \
		"${cmd[@]}" >>"$log" 2>&1 3>&-
}

# unit_daemon UNIT LOG: unit_exec UNIT ExecStart LOG in the background;
# the PIDs of the program, strace and the subshell, in that order, added
# to PIDS, so that the teardown stops the program before strace (which,
# stopped first, would let it run on).
unit_daemon() {
	local sub tracer prog name
	name=$(unit_value "$1" ExecStart)
	name=${name%% *}
	name=${name##*/}
	unit_exec "$1" ExecStart "$2" &
	sub=$!
	for _ in $(seq 1 200); do
		tracer=$(pgrep -x strace -P "$sub") &&
			prog=$(pgrep -x "$name" -P "$tracer") && break
		sleep 0.05
	done
	PIDS+=(${prog:+"$prog"} ${tracer:+"$tracer"} "$sub")
}

# syscalls_outside GROUP LOG: the system calls in LOG.syscalls (strace's
# output in LOG.strace) that systemd's SystemCallFilter=GROUP would refuse.
syscalls_outside() {
	sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$2.strace" | sort -u >"$2.syscalls"
	syscall_group "$1" | sort -u >"$2.allowed"
	comm -23 "$2.syscalls" "$2.allowed"
}

# syscall_group @GROUP: the names of its system calls, groups expanded.
syscall_group() {
	local n
	systemd-analyze syscall-filter "$1" | tail -n +2 | grep -v '^ *#' |
		while read -r n; do
			case $n in
			@*) syscall_group "$n" ;;
			?*) echo "$n" ;;
			esac
		done
}

# env_file FILE: FILE's assignments as systemd's EnvironmentFile reads
# these simple ones (NAME=value, or NAME='value' with the quotes removed),
# one NAME=value a line.
env_file() {
	local name value
	while IFS= read -r line; do
		[[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
		name=${BASH_REMATCH[1]}
		value=${BASH_REMATCH[2]}
		if [[ $value =~ ^\'(.*)\'$ ]]; then
			value=${BASH_REMATCH[1]}
		fi
		printf '%s=%s\n' "$name" "$value"
	done <"$1"
}

# binnmu_entry CHANGELOG VERSION: a binNMU's entry on top of CHANGELOG, as
# the archive's wanna-build adds it (binary-only=yes).
binnmu_entry() {
	local old
	old=$(cat "$1")
	{
		printf '%s\n\n' "checkpw-roam ($2) unstable; urgency=low, binary-only=yes"
		printf '%s\n\n' '  * Binary-only non-maintainer upload for '"$(dpkg --print-architecture)"'; no source changes.'
		printf '%s\n\n' " -- $(dpkg --print-architecture) Build Daemon <buildd@example.org>  $(date -R)"
		printf '%s\n' "$old"
	} >"$1"
}

# run_as_cron_under_systemd CMD: run_as_cron CMD, in a private mount
# namespace whose /run holds /run/systemd/system, as where systemd is
# PID 1 (the machine's own /run is not touched).
run_as_cron_under_systemd() {
	# shellcheck disable=SC2016 # expanded by that sh
	run unshare --mount --propagation private sh -c '
		mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
		exec env -i SHELL=/bin/sh PATH=/usr/bin:/bin HOME=/root LOGNAME=root \
			/bin/sh -c "$1"' sh "$1"
}
