#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# make dist: checkpw-roam-VERSION.tar.gz from a commit, the same bytes
# every time, holding what the build and the demonstration need (unpacked
# elsewhere, it builds and runs make demo) and nothing of the work tree.

load helpers/common
load helpers/peers

setup() {
	common_setup
	need_cmd git gzip tar
	COMMIT=$(git -C "$TOP" rev-parse HEAD)
	VERSION_C=$(git -C "$TOP" show "$COMMIT:VERSION")
	NAME=checkpw-roam-$VERSION_C
}
teardown() { common_teardown; }

# dist DIR [COMMIT]: make dist of COMMIT (this HEAD) into DIR.
dist() {
	mkdir -p "$1"
	run make -s -C "$TOP" dist DIST_DIR="$1" DIST_COMMIT="${2:-$COMMIT}"
}

@test "make dist writes the same bytes from the same commit: from a fresh clone, later, under another umask and time zone" {
	dist "$BATS_TEST_TMPDIR/a"
	assert_success
	assert_output "dist: $BATS_TEST_TMPDIR/a/$NAME.tar.gz from $COMMIT"
	# A clone: every file checked out anew, with other mtimes.
	sleep 1.1
	git clone -q --no-local "$TOP" "$BATS_TEST_TMPDIR/clone"
	mkdir -p "$BATS_TEST_TMPDIR/b"
	run env TZ=Pacific/Kiritimati sh -c 'umask 077 && exec make -s -C "$1" dist DIST_DIR="$2" DIST_COMMIT="$3"' \
		sh "$BATS_TEST_TMPDIR/clone" "$BATS_TEST_TMPDIR/b" "$COMMIT"
	assert_success
	cmp "$BATS_TEST_TMPDIR/a/$NAME.tar.gz" "$BATS_TEST_TMPDIR/b/$NAME.tar.gz"
	# gzip -n: no name, no time in the gzip header (bytes 4-7 are 0).
	run od -An -tx1 -j4 -N4 "$BATS_TEST_TMPDIR/a/$NAME.tar.gz"
	assert_output ' 00 00 00 00'
}

@test "the tarball holds the commit's files, and only them, under checkpw-roam-VERSION/, owned by root with the commit's time, in sorted order" {
	dist "$BATS_TEST_TMPDIR/a"
	assert_success
	tarball=$BATS_TEST_TMPDIR/a/$NAME.tar.gz
	# The files: exactly git's, in git's (sorted) order.
	tar -tzf "$tarball" | grep -v '/$' >"$BATS_TEST_TMPDIR/files"
	git -C "$TOP" ls-tree -r --name-only "$COMMIT" | sed "s|^|$NAME/|" >"$BATS_TEST_TMPDIR/git"
	diff "$BATS_TEST_TMPDIR/git" "$BATS_TEST_TMPDIR/files"
	LC_ALL=C sort -c "$BATS_TEST_TMPDIR/files"
	run grep -c -e '/\.git/' -e '/\.git$' "$BATS_TEST_TMPDIR/files"
	assert_output 0
	for f in LICENSE NEWS VERSION Makefile tests/demo; do
		grep -qx "$NAME/$f" "$BATS_TEST_TMPDIR/files"
	done
	# Owner, group and time of every entry.
	when=$(git -C "$TOP" log -1 --format=%ct "$COMMIT")
	run sh -c 'tar --numeric-owner --full-time --utc -tvzf "$1" | awk "{ print \$2 }" | sort -u' sh "$tarball"
	assert_output 0/0
	run sh -c 'tar -tvzf "$1" | awk "{ print \$2 }" | sort -u' sh "$tarball"
	assert_output root/root
	run sh -c 'TZ=UTC tar --full-time -tvzf "$1" | awk "{ print \$4 \" \" \$5 }" | sort -u' sh "$tarball"
	assert_output "$(TZ=UTC date -d "@$when" '+%Y-%m-%d %H:%M:%S')"
	# Modes: none writable but by the owner.
	run sh -c 'tar -tvzf "$1" | cut -c1-10 | sort -u' sh "$tarball"
	refute_output --regexp '^.....w|^........w'
}

@test "make dist of a given commit names the tarball after that commit's VERSION" {
	# The commit before the last change of VERSION: the previous version.
	old=$(git -C "$TOP" rev-parse "$(git -C "$TOP" log -1 --format=%H "$COMMIT" -- VERSION)^")
	v=$(git -C "$TOP" show "$old:VERSION")
	[ "$v" != "$VERSION_C" ]
	dist "$BATS_TEST_TMPDIR/o" "$old"
	assert_success
	assert_file_exist "$BATS_TEST_TMPDIR/o/checkpw-roam-$v.tar.gz"
	run sh -c 'tar -tzf "$1" | grep -v "/\$" | wc -l' sh "$BATS_TEST_TMPDIR/o/checkpw-roam-$v.tar.gz"
	assert_output "$(git -C "$TOP" ls-tree -r --name-only "$old" | wc -l)"
}

@test "the tarball, unpacked elsewhere, builds with make and runs make demo" {
	dist "$BATS_TEST_TMPDIR/a"
	assert_success
	src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src"
	chmod 755 "$src"
	tar -xzf "$BATS_TEST_TMPDIR/a/$NAME.tar.gz" -C "$src"
	run make -C "$src/$NAME" -j2
	assert_success
	for p in checkpw-roam clearopensmtp roamsync; do
		run "$src/$NAME/$p" -V
		assert_output "$p $VERSION_C"
	done
	run make -C "$src/$NAME" demo
	assert_success
	assert_line 'demo: every step behaved as described'
}
