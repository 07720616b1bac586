#!/usr/bin/env bats
# The Debian packages (debian/, make deb): built from a copy of the tree,
# checked by lintian, installed with dpkg as root and used from their
# installed paths: a login, the cron.d line as cron runs it, roamsync from
# its unit against a private PostgreSQL, an upgrade, a purge. Every test
# purges the packages in its teardown, so the machine is left as found; the
# file is skipped, with the reason, where it cannot install packages.

bats_require_minimum_version 1.5.0

load helpers/common
load helpers/peers
load helpers/pg
load helpers/deb

setup_file() {
	load_libs
	# bats 1.8 cannot skip from here: setup skips each test, and nothing
	# is built, installed or purged.
	DEB_SKIP=$(deb_blocker)
	export DEB_SKIP
	[ -z "$DEB_SKIP" ] || return 0
	need_cmd dpkg-buildpackage dh lintian git systemd-analyze systemctl
	DEB_WORK=$(mktemp -d /tmp/roamdeb.XXXXXX)
	export DEB_WORK
	chmod 755 "$DEB_WORK"
	# The current version, by make deb (which runs lintian).
	local rc=0
	make -C "$TOP" deb DEB_DIR="$DEB_WORK/new" >"$DEB_WORK/new.log" 2>&1 || rc=$?
	echo "$rc" >"$DEB_WORK/new.status"
	# The previous build: the same sources, the version lowered.
	VERSION_NEW=$(cat "$TOP/VERSION")
	export VERSION_NEW VERSION_OLD="$VERSION_NEW~prev"
	deb_copy "$DEB_WORK/old/src"
	echo "$VERSION_OLD" >"$DEB_WORK/old/src/VERSION"
	sed -i "1s/([^)]*)/($VERSION_OLD)/" "$DEB_WORK/old/src/debian/changelog"
	(cd "$DEB_WORK/old/src" && dpkg-buildpackage -us -uc -b) \
		>"$DEB_WORK/old.log" 2>&1 || {
		tail -n 30 "$DEB_WORK/old.log" >&3
		return 1
	}
	pg_setup_file
}

teardown_file() {
	[ -z "$DEB_SKIP" ] || return 0
	pkg_purge || :
	pg_teardown_file
	[ -z "${DEB_WORK-}" ] || rm -rf "$DEB_WORK"
}

setup() {
	[ -z "$DEB_SKIP" ] || skip "$DEB_SKIP"
	common_setup
	unset ROAM_DIR
}

teardown() {
	[ -z "$DEB_SKIP" ] || return 0
	common_teardown
	pkg_purge
	# None was there before the file (deb_blocker): remove what a test left.
	dpkg-statoverride --remove "$PKG_DIR" 2>/dev/null || :
	rm -rf "$PKG_DIR" /var/log/roamsync
}

@test "make deb builds both packages from a copy of the tree, lintian finds no error or warning, and the fields are right" {
	run cat "$DEB_WORK/new.status"
	[ "$output" = 0 ] || tail -n 40 "$DEB_WORK/new.log"
	assert_output 0
	run grep -E '^lintian --fail-on error,warning ' "$DEB_WORK/new.log"
	assert_success
	refute [ -e "$TOP/debian/tmp" ]
	deb=$(deb_of new checkpw-roam)
	sync=$(deb_of new checkpw-roam-pgsync)
	assert_equal "$(dpkg-deb -f "$deb" Version)" "$VERSION_NEW"
	# A single host pulls in no libpq.
	assert_equal "$(dpkg-deb -f "$deb" Depends)" 'ucspi-tcp | ucspi-tcp-ipv6'
	run dpkg-deb -f "$deb" Suggests
	assert_output --partial qmail
	# Linked statically: the exact sources of glibc, tinycdb and skalibs.
	run dpkg-deb -f "$deb" Built-Using
	for dev in libc6-dev libcdb-dev skalibs-dev; do
		assert_output --partial "$(dpkg-query -W -f='${source:Package} (= ${source:Version})' "$dev")"
	done
	run dpkg-deb -f "$sync" Depends
	assert_output --partial "checkpw-roam (= $VERSION_NEW)"
	assert_output --partial libpq5
	run dpkg-deb -f "$sync" Suggests
	assert_output --partial postgresql
	run dpkg-deb -c "$deb"
	assert_output --partial ./usr/share/doc/checkpw-roam/examples/pop3d-run
	refute_output --partial libpq
}

@test "installed, a login through tcpserver and /usr/sbin/checkpw-roam opens the relay in /var/lib/checkpw-roam as tcpserver -x sees it (debian/tests/smoke)" {
	pkg_install new
	run stat -c '%U:%G %a' "$PKG_DIR"
	assert_output 'root:root 755'
	run "$TOP/debian/tests/smoke"
	assert_success
	assert_output 'smoke: ok'
	# The packaged manual pages name the packaged directory.
	run zgrep -c /var/lib/checkpw-roam /usr/share/man/man8/checkpw-roam.8.gz
	assert_success
	run zgrep -l /var/qmail/roam /usr/share/man/man8/checkpw-roam.8.gz \
		/usr/share/man/man8/clearopensmtp.8.gz /usr/share/man/man5/open-smtp.5.gz
	assert_output ''
}

@test "the cron.d line, run as cron runs it, does nothing silently until the relay directory is set up, then expires; silent once the package is removed" {
	pkg_install new
	cmd=$(cron_command)
	run_as_cron "$cmd"
	assert_success
	assert_output ''
	run ls -A "$PKG_DIR"
	assert_output ''
	# Set up: a first login makes the list.
	pkg_login 127.0.0.41
	assert_success
	pkg_login 127.0.0.42
	assert_success
	pkg_open 127.0.0.41
	old=$(($(date +%s) - 181 * 60))
	sed -i "s/^\(127\.0\.0\.41:[^\t]*\)\t.*/\1\t$old/" "$PKG_DIR/open-smtp"
	run_as_cron "$cmd"
	assert_success
	assert_output ''
	run ! pkg_open 127.0.0.41
	pkg_open 127.0.0.42
	run cut -d: -f1 "$PKG_DIR/open-smtp"
	assert_output 127.0.0.42
	# Removed, not purged: the conffile stays, the program is gone.
	dpkg_retry --remove checkpw-roam-pgsync checkpw-roam
	assert_file_exist /etc/cron.d/checkpw-roam
	run_as_cron "$cmd"
	assert_success
	assert_output ''
}

@test "dpkg-statoverride decides the new relay directory's owner and mode; logins then write it as its owner" {
	dpkg-statoverride --add daemon daemon 0750 "$PKG_DIR"
	pkg_install new
	run stat -c '%U:%G %a' "$PKG_DIR"
	assert_output 'daemon:daemon 750'
	pkg_login 127.0.0.43
	assert_success
	run stat -c '%U:%G' "$PKG_DIR/open-smtp" "$PKG_DIR/tcp.smtp.cdb"
	assert_output $'daemon:daemon\ndaemon:daemon'
	pkg_open 127.0.0.43
}

@test "an existing relay directory, its open-smtp and its tcp.smtp are left as they are by the install" {
	mkdir -m 711 "$PKG_DIR"
	printf '%s\n' '127.0.0.1:allow,RELAYCLIENT=""' >"$PKG_DIR/tcp.smtp"
	printf '127.0.0.44:allow,RELAYCLIENT=""\t%s\n' "$(date +%s)" >"$PKG_DIR/open-smtp"
	chmod 600 "$PKG_DIR/tcp.smtp"
	before=$(stat -c '%n %i %a %U:%G %Y' "$PKG_DIR" "$PKG_DIR"/*; md5sum "$PKG_DIR"/*)
	pkg_install new
	after=$(stat -c '%n %i %a %U:%G %Y' "$PKG_DIR" "$PKG_DIR"/*; md5sum "$PKG_DIR"/*)
	assert_equal "$after" "$before"
	# And the programs take them over.
	run env -u ROAM_DIR /usr/sbin/clearopensmtp -f
	assert_success
	pkg_open 127.0.0.44
	pkg_open 127.0.0.1
}

@test "roamsync runs from the installed unit's ExecStart and EnvironmentFile against a private PostgreSQL; the unit is hardened, valid, and not enabled" {
	pg_setup_test
	pkg_install new
	# Not enabled by the install: ROAM_PG is not set yet.
	assert_not_exist /etc/systemd/system/multi-user.target.wants/roamsync.service
	run systemctl is-enabled roamsync.service
	assert_output disabled
	run systemd-analyze verify /lib/systemd/system/roamsync.service
	assert_success
	assert_output ''
	assert_equal "$(unit_value NoNewPrivileges)" yes
	assert_equal "$(unit_value ProtectSystem)" strict
	assert_equal "$(unit_value ReadWritePaths)" "$PKG_DIR"
	envfile=$(unit_value EnvironmentFile)
	assert_equal "$envfile" /etc/default/roamsync
	read -r -a cmd <<<"$(unit_value ExecStart)"
	# Unset, it exits 100 and the unit does not restart it.
	run env -i $(env_file "$envfile") "${cmd[@]}"
	assert_failure 100
	assert_output --partial 'ROAM_PG is not set'
	assert_equal "$(unit_value RestartPreventExitStatus)" 100
	# Configured as the file says.
	sed -i "s|^#ROAM_PG=.*|ROAM_PG='$(pg_conninfo)'|" "$envfile"
	mapfile -t assignments < <(env_file "$envfile")
	env -i "${assignments[@]}" "${cmd[@]}" 2>>"$BATS_TEST_TMPDIR/unit.log" 3>&- &
	PIDS+=($!)
	wait_for 10 grep -q 'info: resynced' "$BATS_TEST_TMPDIR/unit.log"
	# Host B runs the tree's programs; a login on B opens the relay here,
	# and one here opens it on B.
	host_up B
	login_on B 127.0.0.61
	wait_for 10 pkg_open 127.0.0.61
	pkg_login 127.0.0.62
	assert_success
	wait_for 10 open_on B 127.0.0.62
}

@test "the runit/daemontools run script starts roamsync with /etc/default/roamsync's settings" {
	pg_setup_test
	pkg_install new
	assert_file_executable /etc/sv/roamsync/run
	assert_file_executable /etc/sv/roamsync/log/run
	sed -i "s|^#ROAM_PG=.*|ROAM_PG='$(pg_conninfo)'|" /etc/default/roamsync
	(cd /etc/sv/roamsync && exec env -i PATH=/usr/bin:/bin ./run \
		>>"$BATS_TEST_TMPDIR/run.log" 3>&-) &
	PIDS+=($!)
	wait_for 10 grep -q 'info: resynced' "$BATS_TEST_TMPDIR/run.log"
	run grep -c 'roamsync: info: connected to database' "$BATS_TEST_TMPDIR/run.log"
	assert_output 1
}

@test "an upgrade over the previous build keeps open-smtp, tcp.smtp, the directory's owner and the open relay" {
	pkg_install old
	run /usr/sbin/clearopensmtp -V
	assert_output "clearopensmtp $VERSION_OLD"
	printf '%s\n' '127.0.0.1:allow,RELAYCLIENT=""' >"$PKG_DIR/tcp.smtp"
	pkg_login 127.0.0.51
	assert_success
	pkg_open 127.0.0.51
	# As INSTALL's Dovecot set-up does, without an override.
	chown -R daemon:daemon "$PKG_DIR"
	cp -p "$PKG_DIR/open-smtp" "$BATS_TEST_TMPDIR/open-smtp"
	cp -p "$PKG_DIR/tcp.smtp" "$BATS_TEST_TMPDIR/tcp.smtp"
	pkg_install new
	run /usr/sbin/clearopensmtp -V
	assert_output "clearopensmtp $VERSION_NEW"
	cmp "$PKG_DIR/open-smtp" "$BATS_TEST_TMPDIR/open-smtp"
	cmp "$PKG_DIR/tcp.smtp" "$BATS_TEST_TMPDIR/tcp.smtp"
	run stat -c '%U:%G %a' "$PKG_DIR"
	assert_output 'daemon:daemon 755'
	pkg_open 127.0.0.51
	pkg_open 127.0.0.1
}

@test "purge removes all the packages made and keeps the admin's tcp.smtp; without one, the directory goes too" {
	before=$(pkg_snapshot)
	pkg_install new
	printf '%s\n' '127.0.0.1:allow,RELAYCLIENT=""' >"$PKG_DIR/tcp.smtp"
	pkg_login 127.0.0.52
	assert_success
	run_as_cron "$(cron_command)"
	: >"$PKG_DIR/open-smtp.outbox"
	touch /var/log/roamsync/current
	pkg_purge
	run ls -A "$PKG_DIR"
	assert_output tcp.smtp
	rm "$PKG_DIR/tcp.smtp"
	rmdir "$PKG_DIR"
	assert_equal "$(pkg_snapshot)" "$before"
	# Without a tcp.smtp, nothing at all is left.
	pkg_install new
	pkg_login 127.0.0.53
	assert_success
	pkg_purge
	assert_not_exist "$PKG_DIR"
	assert_equal "$(pkg_snapshot)" "$before"
	for p in $PKGS; do
		run dpkg-query -W -f='${Status}' "$p"
		refute_output --partial installed
	done
}
