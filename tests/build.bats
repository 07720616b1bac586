#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The build: install and uninstall where asked, manual pages that lint
# clean, and tinycdb's cdb functions (not skalibs' namesakes) in use.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

@test "make install puts the programs and manual pages under DESTDIR and PREFIX; uninstall removes them" {
	dest=$BATS_TEST_TMPDIR/dest
	run make -C "$TOP" install DESTDIR="$dest" PREFIX=/opt/roam
	assert_success
	assert_file_executable "$dest/opt/roam/bin/checkpw-roam"
	assert_file_executable "$dest/opt/roam/bin/clearopensmtp"
	assert_file_executable "$dest/opt/roam/bin/roamsync"
	assert_file_exist "$dest/opt/roam/share/man/man8/checkpw-roam.8"
	assert_file_exist "$dest/opt/roam/share/man/man8/clearopensmtp.8"
	assert_file_exist "$dest/opt/roam/share/man/man8/roamsync.8"
	assert_file_exist "$dest/opt/roam/share/man/man5/open-smtp.5"
	cmp "$TOP/roamsync.sql" "$dest/opt/roam/share/checkpw-roam/roamsync.sql"
	run make -C "$TOP" uninstall DESTDIR="$dest" PREFIX=/opt/roam
	assert_success
	run find "$dest" -type f
	assert_output ''
}

@test "the manual pages are valid mdoc" {
	run mandoc -Tlint -Wwarning "$TOP"/man/checkpw-roam.8 "$TOP"/man/clearopensmtp.8 \
		"$TOP"/man/roamsync.8 "$TOP"/man/open-smtp.5
	assert_success
	assert_output ''
}

@test "the programs take their cdb functions from tinycdb, linked before skalibs" {
	for p in "$CHECKPW_ROAM" "$CLEAROPENSMTP"; do
		if ldd "$p" >/dev/null 2>&1 && ldd "$p" | grep -q libcdb; then
			run env LD_DEBUG=bindings "$p" -l
			assert_line --regexp "binding file $p .* to .*libcdb\.so.*: normal symbol .cdb_seek'"
			assert_line --regexp "binding file $p .* to .*libcdb\.so.*: normal symbol .cdb_make_start'"
			refute_line --regexp "binding file $p .* to .*libskarnet.*symbol .cdb_"
		else
			# Static: cdb_seek, cdb_make_start and cdb_hash are
			# tinycdb's (skalibs has a cdb_hash of its own, and
			# cdb_init_fromfd, which must not be linked in).
			run nm "$p"
			assert_line --regexp ' T cdb_seek$'
			assert_line --regexp ' T cdb_make_start$'
			assert_line --regexp ' T cdb_hash$'
			refute_line --regexp ' T cdb_init_fromfd$'
		fi
	done
}

@test "roamsync links libpq after tinycdb and binds its cdb functions to tinycdb; the others link no libpq" {
	run ldd "$BIN_DIR/roamsync"
	assert_line --regexp 'libpq\.so'
	cdb=$(grep -n 'libcdb\.so' <<<"$output" | cut -d: -f1)
	pq=$(grep -n 'libpq\.so' <<<"$output" | cut -d: -f1)
	ska=$(grep -n 'libskarnet\.so' <<<"$output" | cut -d: -f1)
	[ "$cdb" -lt "$pq" ] && [ "$pq" -lt "$ska" ]
	# Linked with -z now: every symbol is bound at start.
	run env LD_DEBUG=bindings "$BIN_DIR/roamsync" -x
	assert_failure 100
	assert_line --regexp "binding file $BIN_DIR/roamsync .* to .*libcdb\.so.*: normal symbol .cdb_make_start'"
	assert_line --regexp "binding file $BIN_DIR/roamsync .* to .*libcdb\.so.*: normal symbol .cdb_seek'"
	refute_line --regexp "binding file $BIN_DIR/roamsync .* to .*libskarnet.*symbol .cdb_"
	for p in "$CHECKPW_ROAM" "$CLEAROPENSMTP"; do
		run ldd "$p"
		refute_output --partial libpq
		run nm "$p"
		refute_output --partial PQconnect
	done
}

@test "the build-time ROAMDIR is the default directory" {
	unset ROAM_DIR
	run strace -f -e trace=open,openat "$CLEAROPENSMTP" -l
	assert_line --regexp 'openat\(AT_FDCWD, "/var/qmail/roam", O_RDONLY\|O_CLOEXEC\|O_DIRECTORY\)'
}
