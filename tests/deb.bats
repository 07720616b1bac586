#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The Debian packages (debian/, make deb): the source and binary packages
# built from a copy of the tree, checked by lintian, installed with dpkg as
# root and used from their installed paths: a login, expiry by the timer's
# service and by the cron.d line, roamsync from its unit against a private
# PostgreSQL, the run scripts, an upgrade from a binNMU of a previous
# version, a purge. Every test purges the packages in its teardown, so the
# machine is left as found; the file is skipped, with the reason, where it
# cannot install packages.

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
	need_cmd dpkg-buildpackage dh lintian git systemd-analyze systemctl \
		strace setpriv unshare supervise svc svstat
	DEB_WORK=$(mktemp -d /tmp/roamdeb.XXXXXX)
	export DEB_WORK
	chmod 755 "$DEB_WORK"
	# The current version, by make deb (which runs lintian).
	local rc=0
	make -C "$TOP" deb DEB_DIR="$DEB_WORK/new" >"$DEB_WORK/new.log" 2>&1 || rc=$?
	echo "$rc" >"$DEB_WORK/new.status"
	# The previous build: the same sources, the version lowered, built as
	# the archive builds a binNMU (VERSION+b1, binary-only, -B).
	VERSION_NEW=$(cat "$TOP/VERSION")
	export VERSION_NEW VERSION_OLD="$VERSION_NEW~prev"
	export PKG_OLD="$VERSION_OLD+b1"
	deb_copy "$DEB_WORK/old/src"
	echo "$VERSION_OLD" >"$DEB_WORK/old/src/VERSION"
	sed -i "1s/([^)]*)/($VERSION_OLD)/" "$DEB_WORK/old/src/debian/changelog"
	binnmu_entry "$DEB_WORK/old/src/debian/changelog" "$PKG_OLD"
	(cd "$DEB_WORK/old/src" && dpkg-buildpackage -us -uc -B) \
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

@test "make deb builds the source and both binary packages from a copy of the tree after dpkg-checkbuilddeps; lintian, pedantic, finds no error or warning; the fields are right" {
	run cat "$DEB_WORK/new.status"
	[ "$output" = 0 ] || tail -n 40 "$DEB_WORK/new.log"
	assert_output 0
	run grep -x 'dpkg-checkbuilddeps: ok' "$DEB_WORK/new.log"
	assert_success
	run grep -E '^lintian --pedantic --fail-on error,warning .*\.changes$' "$DEB_WORK/new.log"
	assert_success
	refute [ -e "$TOP/debian/tmp" ]
	# The source package: native, in the .changes lintian read.
	assert_file_exist "$DEB_WORK/new/checkpw-roam_$VERSION_NEW.dsc"
	assert_file_exist "$DEB_WORK/new/checkpw-roam_$VERSION_NEW.tar.xz"
	run grep -x 'Format: 3.0 (native)' "$DEB_WORK/new/checkpw-roam_$VERSION_NEW.dsc"
	assert_success
	run grep -E "^ [0-9a-f]{32} [0-9]+ mail optional checkpw-roam_$VERSION_NEW\.dsc$" "$DEB_WORK/new/"*.changes
	assert_success
	deb=$(deb_of new checkpw-roam)
	sync=$(deb_of new checkpw-roam-pgsync)
	assert_equal "$(dpkg-deb -f "$deb" Version)" "$VERSION_NEW"
	# Linked dynamically: the libraries by shlibs, no Built-Using; a
	# single host pulls in no libpq.
	run dpkg-deb -f "$deb" Depends
	assert_output --regexp '^ucspi-tcp \| ucspi-tcp-ipv6, '
	for lib in 'libc6 ' libcdb1 libskarnet; do
		assert_output --partial "$lib"
	done
	refute_output --partial libpq
	assert_equal "$(dpkg-deb -f "$deb" Built-Using)" ''
	run dpkg-deb -f "$deb" Suggests
	assert_output --partial qmail
	run dpkg-deb -f "$sync" Depends
	assert_output --partial "checkpw-roam (= $VERSION_NEW)"
	assert_output --partial libpq5
	run dpkg-deb -f "$sync" Suggests
	assert_output --partial postgresql
	run dpkg-deb -c "$deb"
	for f in examples/pop3d-run README.gz INSTALL.gz NEWS.gz README.Debian.gz copyright; do
		assert_output --partial "./usr/share/doc/checkpw-roam/$f"
	done
	assert_line --regexp '/systemd/system/clearopensmtp\.timer$'
	refute_output --partial libpq
	# No override but INSTALL's (the set-up guide, not build notes).
	dpkg-deb -x "$deb" "$BATS_TEST_TMPDIR/x"
	run grep -v -e '^#' -e '^$' "$BATS_TEST_TMPDIR/x/usr/share/lintian/overrides/checkpw-roam"
	assert_output 'checkpw-roam: package-contains-upstream-installation-documentation [usr/share/doc/checkpw-roam/INSTALL.gz]'
	for p in checkpw-roam clearopensmtp; do
		run readelf -d "$BATS_TEST_TMPDIR/x/usr/sbin/$p"
		assert_output --partial '(NEEDED)'
		assert_output --partial 'libcdb.so'
	done
}

@test "a binNMU (VERSION+b1, built with -B) builds, its programs print VERSION, and the smoke test passes on it" {
	run grep -F "checkpw-roam ($PKG_OLD) unstable; urgency=low, binary-only=yes" \
		"$DEB_WORK/old/src/debian/changelog"
	assert_success
	deb=$(deb_of old checkpw-roam)
	assert_equal "$(dpkg-deb -f "$deb" Version)" "$PKG_OLD"
	run dpkg-deb -f "$(deb_of old checkpw-roam-pgsync)" Depends
	assert_output --partial "checkpw-roam (= $PKG_OLD)"
	pkg_install old
	for p in checkpw-roam clearopensmtp roamsync; do
		run env -u ROAM_PG "/usr/sbin/$p" -V
		assert_output "$p $VERSION_OLD"
	done
	run "$TOP/debian/tests/smoke"
	assert_success
	assert_output 'smoke: ok'
}

@test "installed, a login through tcpserver and /usr/sbin/checkpw-roam opens the relay in /var/lib/checkpw-roam as tcpserver -x sees it (debian/tests/smoke)" {
	pkg_install new
	run stat -c '%U:%G %a' "$PKG_DIR"
	assert_output 'root:root 755'
	# Nothing on stderr: the autopkgtest runs it without allow-stderr.
	run --separate-stderr "$TOP/debian/tests/smoke"
	assert_success
	assert_output 'smoke: ok'
	assert_equal "$stderr" ''
	run grep -x 'Restrictions: needs-root, isolation-container' "$TOP/debian/tests/control"
	assert_success
	# The packaged manual pages name the packaged directory.
	run zgrep -c /var/lib/checkpw-roam /usr/share/man/man8/checkpw-roam.8.gz
	assert_success
	run zgrep -l /var/qmail/roam /usr/share/man/man8/checkpw-roam.8.gz \
		/usr/share/man/man8/clearopensmtp.8.gz /usr/share/man/man5/open-smtp.5.gz
	assert_output ''
	# Only this package's paths are rewritten: its programs are in
	# /usr/sbin, the administrator's checkpassword is where it was.
	ex=/usr/share/doc/checkpw-roam/examples/dovecot-checkpassword.conf
	run zgrep -H -e /usr/sbin/checkpassword -e /usr/sbin/checkpw /usr/share/man/man8/*.gz "$ex"
	refute_output --partial /usr/sbin/checkpassword
	assert_output --partial 'args = /usr/sbin/checkpw-roam /usr/local/bin/checkpassword'
	run zgrep -h 'args = ' /usr/share/man/man8/checkpw-roam.8.gz
	assert_output --partial '/usr/sbin/checkpw-roam /usr/local/bin/checkpassword'
	run grep '^PATH=' /usr/share/doc/checkpw-roam/examples/pop3d-run
	assert_output --partial :/usr/sbin:
}

@test "the cron.d line, run as cron runs it, does nothing silently until the relay directory is set up, nor where systemd runs, else expires; silent once the package is removed" {
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
	# Where systemd is PID 1 (/run/systemd/system), the timer expires: the
	# line does nothing.
	run_as_cron_under_systemd "$cmd"
	assert_success
	assert_output ''
	pkg_open 127.0.0.41
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

@test "clearopensmtp.timer is enabled by the install and valid; its service, run as systemd runs it (its Environment, no new privileges, its capabilities, its system call filter), does nothing until set up, then expires" {
	pkg_install new
	# Enabled, as deb-systemd-helper does where systemd is not running.
	run systemctl is-enabled clearopensmtp.timer
	assert_output enabled
	assert_file_exist /etc/systemd/system/timers.target.wants/clearopensmtp.timer
	timer=$(unit_path clearopensmtp.timer)
	service=$(unit_path clearopensmtp.service)
	run systemd-analyze verify "$timer" "$service"
	assert_success
	assert_output ''
	assert_equal "$(unit_value clearopensmtp.timer OnCalendar)" '*:0/10'
	assert_equal "$(unit_value clearopensmtp.service Type)" oneshot
	assert_equal "$(unit_value clearopensmtp.service NoNewPrivileges)" yes
	assert_equal "$(unit_value clearopensmtp.service ProtectSystem)" strict
	assert_equal "$(unit_value clearopensmtp.service ReadWritePaths)" "$PKG_DIR"
	assert_equal "$(unit_value clearopensmtp.service SystemCallFilter)" @system-service
	# Not set up: systemd skips it (ConditionPathExists).
	cond=$(unit_value clearopensmtp.service ConditionPathExists)
	assert_equal "$cond" "$PKG_DIR/open-smtp"
	assert_not_exist "$cond"
	# Set up, with a directory given to another user as INSTALL says.
	dpkg-statoverride --add daemon daemon 0755 "$PKG_DIR"
	chown daemon:daemon "$PKG_DIR"
	pkg_login 127.0.0.45
	assert_success
	pkg_login 127.0.0.46
	assert_success
	assert_file_exist "$cond"
	old=$(($(date +%s) - 181 * 60))
	sed -i "s/^\(127\.0\.0\.45:[^\t]*\)\t.*/\1\t$old/" "$PKG_DIR/open-smtp"
	log=$BATS_TEST_TMPDIR/timer
	run unit_exec clearopensmtp.service ExecStart "$log"
	assert_success
	run cat "$log"
	assert_output ''
	run ! pkg_open 127.0.0.45
	pkg_open 127.0.0.46
	run stat -c %U "$PKG_DIR/open-smtp" "$PKG_DIR/tcp.smtp.cdb"
	assert_output $'daemon\ndaemon'
	run syscalls_outside @system-service "$log"
	assert_output ''
	# The age is the unit's ROAM_MINUTES.
	run grep -x 'Environment=ROAM_MINUTES=180' "$service"
	assert_success
	sed -i "s/^\(127\.0\.0\.46:[^\t]*\)\t.*/\1\t$(($(date +%s) - 179 * 60))/" "$PKG_DIR/open-smtp"
	run unit_exec clearopensmtp.service ExecStart "$log" ROAM_MINUTES=178
	assert_success
	run ! pkg_open 127.0.0.46
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

@test "roamsync.service is enabled, valid and hardened; skipped while ROAM_PG is unset; then runs as systemd runs it (EnvironmentFile, capabilities, system call filter) in a directory given to another user, against a private PostgreSQL" {
	pg_setup_test
	dpkg-statoverride --add daemon daemon 0750 "$PKG_DIR"
	pkg_install new
	unit=$(unit_path roamsync.service)
	# Where dh_installsystemd put it, as the package lists it.
	run dpkg -L checkpw-roam-pgsync
	assert_line "$unit"
	run systemctl is-enabled roamsync.service
	assert_output enabled
	run systemd-analyze verify "$unit"
	assert_success
	assert_output ''
	assert_equal "$(unit_value roamsync.service NoNewPrivileges)" yes
	assert_equal "$(unit_value roamsync.service ProtectSystem)" strict
	assert_equal "$(unit_value roamsync.service ReadWritePaths)" "$PKG_DIR"
	assert_equal "$(unit_value roamsync.service SystemCallFilter)" @system-service
	assert_equal "$(unit_value roamsync.service CapabilityBoundingSet)" \
		'CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER'
	run unit_value roamsync.service After
	assert_output --partial postgresql.service
	envfile=$(unit_value roamsync.service EnvironmentFile)
	assert_equal "$envfile" /etc/default/roamsync
	# Unset: the ExecCondition skips it (exit 1, not a failure), saying why.
	log=$BATS_TEST_TMPDIR/cond
	run unit_exec roamsync.service ExecCondition "$log"
	assert_failure 1
	run cat "$log"
	assert_output 'roamsync: info: ROAM_PG is not set in /etc/default/roamsync: not started'
	# roamsync itself, unset, exits 100, which the unit does not restart.
	run unit_exec roamsync.service ExecStart "$BATS_TEST_TMPDIR/unset"
	assert_failure 100
	assert_equal "$(unit_value roamsync.service RestartPreventExitStatus)" 100
	# Configured as the file says.
	sed -i "s|^#ROAM_PG=.*|ROAM_PG='$(pg_conninfo)'|" "$envfile"
	run unit_exec roamsync.service ExecCondition "$log.2"
	assert_success
	log=$BATS_TEST_TMPDIR/unit
	unit_daemon roamsync.service "$log"
	wait_for 10 grep -q 'info: resynced' "$log"
	# Host B runs the tree's programs; a login on B opens the relay here,
	# in files of the directory's owner, and one here opens it on B.
	host_up B
	login_on B 127.0.0.61
	wait_for 10 pkg_open 127.0.0.61
	pkg_login 127.0.0.62
	assert_success
	wait_for 10 open_on B 127.0.0.62
	run stat -c %U "$PKG_DIR/open-smtp" "$PKG_DIR/tcp.smtp.cdb"
	assert_output $'daemon\ndaemon'
	run grep -c -e warning -e fatal "$log"
	assert_output 0
	run syscalls_outside @system-service "$log"
	assert_output ''
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

@test "removed, not purged: under daemontools' supervise the run script marks roamsync down once, with no restart loop; purge removes its supervise directory" {
	pkg_install new
	dpkg_retry --remove checkpw-roam-pgsync
	assert_file_executable /etc/sv/roamsync/run
	assert_not_exist /usr/sbin/roamsync
	log=$BATS_TEST_TMPDIR/supervise.log
	supervise /etc/sv/roamsync >"$log" 2>&1 3>&- &
	sup=$!
	PIDS+=("$sup")
	wait_for 10 grep -q 'service marked down' "$log"
	# supervise restarts a run script that exits once a second: in three
	# seconds a loop would have run it three more times.
	sleep 3
	run grep -c 'roamsync: info: /usr/sbin/roamsync is not installed' "$log"
	assert_output 1
	run svstat /etc/sv/roamsync
	assert_output --regexp '^/etc/sv/roamsync: down [0-9]+ seconds'
	assert_dir_exist /etc/sv/roamsync/supervise
	svc -dx /etc/sv/roamsync
	wait_for 10 sh -c "! kill -0 $sup 2>/dev/null"
	pkg_purge
	assert_not_exist /etc/sv/roamsync
}

@test "an upgrade from before 1.1.0 gives a directory with tcp.smtp.cdb but no tcp.smtp an empty tcp.smtp, and logins build again; a tcp.smtp or a link to one is left alone" {
	dpkg-statoverride --add daemon daemon 0755 "$PKG_DIR"
	pkg_install old
	pkg_login 127.0.0.54
	assert_success
	# As 1.0.0 left it: a cdb, no tcp.smtp. The old build, as this one,
	# then refuses to build.
	rm "$PKG_DIR/tcp.smtp"
	pkg_login 127.0.0.55
	assert_output --partial 'tcp.smtp is missing'
	run ! pkg_open 127.0.0.55
	pkg_install new
	assert_file_exist "$PKG_DIR/tcp.smtp"
	assert_file_empty "$PKG_DIR/tcp.smtp"
	run stat -c '%U:%G %a' "$PKG_DIR/tcp.smtp"
	assert_output 'daemon:daemon 644'
	pkg_login 127.0.0.56
	assert_success
	refute_output --partial warning
	pkg_open 127.0.0.55
	pkg_open 127.0.0.56
	# A link (to /etc, say) is kept, even dangling; so is a fresh install.
	pkg_purge
	pkg_install old
	pkg_login 127.0.0.57
	rm "$PKG_DIR/tcp.smtp"
	ln -s "$BATS_TEST_TMPDIR/nowhere" "$PKG_DIR/tcp.smtp"
	pkg_install new
	assert_link_exist "$PKG_DIR/tcp.smtp"
	assert_not_exist "$BATS_TEST_TMPDIR/nowhere"
}

@test "an upgrade over the previous build keeps open-smtp, tcp.smtp, the directory's owner and the open relay" {
	pkg_install old
	run /usr/sbin/clearopensmtp -V
	assert_output "clearopensmtp $VERSION_OLD"
	assert_equal "$(dpkg-query -W -f='${Version}' checkpw-roam)" "$PKG_OLD"
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
	: >"$PKG_DIR/open-smtp.journal"
	touch /var/log/roamsync/current
	# As runsv or supervise leave them.
	mkdir -p /etc/sv/roamsync/supervise /etc/sv/roamsync/log/supervise
	touch /etc/sv/roamsync/supervise/status /etc/sv/roamsync/log/supervise/status
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
