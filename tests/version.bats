#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The version: one string, in the file VERSION, printed by each program's
# -V and carried by debian/changelog (with a binNMU's +bN after it), and
# named in NEWS.

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

@test "-V prints 'prog VERSION' for each program and exits 0, with the version of the file VERSION" {
	version=$(cat "$TOP/VERSION")
	[[ $version =~ ^[0-9]+(\.[0-9]+)+$ ]]
	for p in checkpw-roam clearopensmtp roamsync; do
		run env -u ROAM_PG "$BIN_DIR/$p" -V
		assert_success
		assert_output "$p $version"
	done
}

@test "checkpw-roam -V is the version only alone: with a program after it, -V is the real checkpassword" {
	run env TCPREMOTEIP=127.0.0.5 "$CHECKPW_ROAM" -V true
	assert_failure 111
	assert_output --partial 'unable to run "-V"'
}

@test "debian/changelog's top version is the version of the file VERSION" {
	run dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version
	assert_success
	assert_output "$(cat "$TOP/VERSION")"
}

@test "debian/rules refuses to build when debian/changelog's version is not the file VERSION's" {
	src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src"
	cp -r "$TOP/debian" "$src/"
	echo 0.0.1 >"$src/VERSION"
	run make -C "$src" -f debian/rules override_dh_auto_configure
	assert_failure
	assert_output --partial "debian/changelog's version $(cat "$TOP/VERSION") is not VERSION's 0.0.1"
	cp "$TOP/VERSION" "$src/VERSION"
	run make -C "$src" -f debian/rules override_dh_auto_configure
	assert_success
}

@test "debian/rules takes a binNMU's version (VERSION+bN) as VERSION, and nothing else after it" {
	src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src"
	cp -r "$TOP/debian" "$TOP/VERSION" "$src/"
	v=$(cat "$TOP/VERSION")
	for suffix in +b1 +b12; do
		sed -i "1s/([^)]*)/($v$suffix)/" "$src/debian/changelog"
		run make -C "$src" -f debian/rules override_dh_auto_configure
		assert_success
	done
	for suffix in +b +nmu1 +b1a ~b1; do
		sed -i "1s/([^)]*)/($v$suffix)/" "$src/debian/changelog"
		run make -C "$src" -f debian/rules override_dh_auto_configure
		assert_failure
		assert_output --partial "debian/changelog's version $v$suffix is not VERSION's $v"
	done
}

@test "NEWS has a section for VERSION, the first one" {
	run grep -m1 -E '^[0-9]+(\.[0-9]+)+$' "$TOP/NEWS"
	assert_output "$(cat "$TOP/VERSION")"
}
