# Shared set-up for tests/deb.bats: the Debian packages built from a copy of
# the tree (the current version, and a "previous" one for the upgrade),
# installed and purged with dpkg as root. Load after helpers/common.
# shellcheck shell=bash
# status and output are bats' run's.
# shellcheck disable=SC2154

PKG_DIR=/var/lib/checkpw-roam
PKGS="checkpw-roam checkpw-roam-pgsync"
# Where the packages put files or make them, for the before/after snapshot.
PKG_ROOTS="/etc/cron.d /etc/default /etc/sv /etc/systemd /usr/sbin
/usr/share/doc /usr/share/man/man5 /usr/share/man/man8 /usr/share/checkpw-roam
/lib/systemd/system /var/lib/systemd/deb-systemd-helper-enabled
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

# unit_value KEY: KEY's value in the installed roamsync.service.
unit_value() {
	sed -n "s/^$1=//p" /lib/systemd/system/roamsync.service
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
