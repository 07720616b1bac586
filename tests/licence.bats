#!/usr/bin/env bats
# SPDX-License-Identifier: ISC
# The licence: ISC, in LICENSE, stated by the README and debian/copyright,
# and by an SPDX-License-Identifier line in the first 10 lines of every
# tracked source, script and test file (licence_files says which).

load helpers/common

setup() { common_setup; }
teardown() { common_teardown; }

# licence_files: the tracked files that must carry the SPDX line, one a
# line, sorted: by name *.c *.h *.sh *.bats *.bash *.awk *.sql, every
# Makefile, debian/rules, the maintainer scripts (debian/*.postinst,
# .postrm, .preinst, .prerm, .config), the units (*.service, *.timer,
# *.socket), conf-examples' run scripts (*-run), and every file starting
# with "#!" under tests/, bench/, fuzz/, .ci/, debian/ and conf-examples/.
licence_files() {
	local f
	git -C "$TOP" ls-files | while IFS= read -r f; do
		case $f in
		*.c | *.h | *.sh | *.bats | *.bash | *.awk | *.sql | Makefile | */Makefile | \
			debian/rules | debian/*.postinst | debian/*.postrm | debian/*.preinst | \
			debian/*.prerm | debian/*.config | *.service | *.timer | *.socket | \
			conf-examples/*-run)
			echo "$f"
			;;
		tests/* | bench/* | fuzz/* | .ci/* | debian/* | conf-examples/*)
			[ "$(head -c 2 "$TOP/$f" | tr -d '\0')" != '#!' ] || echo "$f"
			;;
		esac
	done | LC_ALL=C sort -u
}

@test "LICENSE is the ISC licence of the checkpw-roam authors; the README and debian/copyright say ISC" {
	run head -n 3 "$TOP/LICENSE"
	assert_line --index 0 'ISC License'
	assert_line --index 1 'Copyright (c) 2026 the checkpw-roam authors'
	run grep -c 'Permission to use, copy, modify, and/or distribute this software for any' "$TOP/LICENSE"
	assert_output 1
	run grep -E '^Licen[cs]e: ISC' "$TOP/README"
	assert_success
	run grep -A 2 -x 'Files: \*' "$TOP/debian/copyright"
	assert_line 'Copyright: 2026 the checkpw-roam authors'
	assert_line 'License: ISC'
}

@test "the file set the SPDX check covers holds the sources, scripts, tests, units and Debian scripts" {
	run licence_files
	for f in checkpw-roam.c log.h roamsync.sql Makefile tests/deb.bats tests/helpers/deb.bash \
		tests/demo tests/install-deps tests/helpers/fake-checkpassword .ci/run debian/rules \
		debian/checkpw-roam.postinst debian/tests/smoke debian/roamsync/sv/run \
		debian/checkpw-roam.clearopensmtp.timer conf-examples/roamsync.service \
		conf-examples/pop3d-run; do
		assert_line "$f"
	done
	refute_line README
	refute_line LICENSE
}

@test "every tracked source, script and test file says SPDX-License-Identifier: ISC in its first 10 lines" {
	missing=()
	while IFS= read -r f; do
		head -n 10 "$TOP/$f" | grep -q 'SPDX-License-Identifier: ISC$' ||
			head -n 10 "$TOP/$f" | grep -q 'SPDX-License-Identifier: ISC \*/$' ||
			missing+=("$f")
	done < <(licence_files)
	run printf '%s\n' "${missing[@]}"
	assert_output ''
}
