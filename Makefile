# SPDX-License-Identifier: ISC
# checkpw-roam: POP-before-SMTP for qmail, with tinycdb and skalibs.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
ROAMDIR ?= /var/qmail/roam
# The version, in one place: the file VERSION (debian/changelog agrees;
# tests/deb.bats checks it). prog -V prints it.
VERSION := $(shell cat $(dir $(lastword $(MAKEFILE_LIST)))VERSION)

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
HARDEN = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
	-Wformat -Werror=format-security
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CDB_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcdb 2>/dev/null)
CDB_LIBS := $(shell $(PKG_CONFIG) --libs libcdb 2>/dev/null || echo -lcdb)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DROAM_DIR_DEFAULT='"$(ROAMDIR)"' \
	-DROAM_VERSION='"$(VERSION)"' $(WARN) $(HARDEN) $(CDB_CFLAGS) \
	$(CPPFLAGS) $(CFLAGS)
LDHARDEN = -pie -Wl,-z,relro,-z,now
# The programs are linked static-PIE by default: checkpw-roam starts twice
# in every login, and loading three shared libraries was most of its cost
# (bench/). make LINKMODE=-pie links them dynamically.
LINKMODE ?= -static-pie
PROGLD = $(LINKMODE) -Wl,-z,relro,-z,now
# libcdb must come before libskarnet: both define cdb_init and friends.
LIBS = $(CDB_LIBS) -lskarnet

PROGS = checkpw-roam clearopensmtp roamsync
COMMON = log.o ip.o rules.o atomicfile.o roamdir.o safe.o openlist.o account.o \
	listindex.o rebuild.o build.o update.o outbox.o version.o
# The figures for clearopensmtp -s and -p, and roamsync -p.
MON = promfmt.o promfile.o stats.o syncmetrics.o
MAN8 = man/checkpw-roam.8 man/clearopensmtp.8 man/roamsync.8
MAN5 = man/open-smtp.5
DATADIR ?= $(PREFIX)/share/checkpw-roam

# roamsync alone links libpq, in its own modules; libpq after libcdb (and
# libcdb before libskarnet, as everywhere). It is linked dynamically:
# libpq's own dependencies (OpenSSL, GSSAPI, LDAP) have no static form here.
PQ_CFLAGS := $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS := $(shell $(PKG_CONFIG) --libs libpq 2>/dev/null || echo -lpq)
SYNC = roamsync.o sync.o db.o

all: $(PROGS)

checkpw-roam: checkpw-roam.o $(COMMON)
	$(CC) $(ALL_CFLAGS) $(PROGLD) $(LDFLAGS) -o $@ checkpw-roam.o $(COMMON) $(LIBS)

clearopensmtp: clearopensmtp.o $(COMMON) $(MON)
	$(CC) $(ALL_CFLAGS) $(PROGLD) $(LDFLAGS) -o $@ clearopensmtp.o $(COMMON) $(MON) $(LIBS)

roamsync: $(SYNC) $(COMMON) $(MON)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $(SYNC) $(COMMON) $(MON) $(CDB_LIBS) $(PQ_LIBS) -lskarnet

version.o: VERSION

%.o: %.c *.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

db.o: db.c *.h roamsync-sql.h
	$(CC) $(ALL_CFLAGS) $(PQ_CFLAGS) -c -o $@ db.c

# The schema, compiled into roamsync -i from the file that is shipped.
roamsync-sql.h: roamsync.sql
	{ echo '/* Made by make from roamsync.sql: do not edit. */'; \
	  echo 'static const char roamsync_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' roamsync.sql; \
	  echo ';'; } >$@.tmp && mv $@.tmp $@

tests/unit/unit: tests/unit/unit.c $(COMMON) $(MON)
	$(CC) $(ALL_CFLAGS) -I. $(LDHARDEN) -o $@ tests/unit/unit.c $(COMMON) $(MON) $(LIBS)

# A helper of the crash tests: kill -9 a set time after a lock is taken.
tests/helpers/killwhen: tests/helpers/killwhen.c
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ tests/helpers/killwhen.c

# A helper of the merge tests: update_merge with changes from stdin.
tests/helpers/merge: tests/helpers/merge.c $(COMMON)
	$(CC) $(ALL_CFLAGS) -I. $(LDHARDEN) -o $@ tests/helpers/merge.c $(COMMON) $(LIBS)

TEST_HELPERS = tests/helpers/killwhen tests/helpers/merge

check: all tests/unit/unit $(TEST_HELPERS)
	tests/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 roamsync.sql $(DESTDIR)$(DATADIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/checkpw-roam $(DESTDIR)$(BINDIR)/clearopensmtp \
		$(DESTDIR)$(BINDIR)/roamsync
	rm -f $(DESTDIR)$(MANDIR)/man8/checkpw-roam.8 \
		$(DESTDIR)$(MANDIR)/man8/clearopensmtp.8 \
		$(DESTDIR)$(MANDIR)/man8/roamsync.8
	rm -f $(DESTDIR)$(MANDIR)/man5/open-smtp.5
	rm -f $(DESTDIR)$(DATADIR)/roamsync.sql
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null

demo: all
	tests/demo

# Several hosts: a private PostgreSQL, two mail hosts, their roamsync.
demo-cluster: all
	tests/demo-cluster

# make deb: the Debian source package (format 3.0 (native)) and binary
# packages (debian/), built by dpkg-buildpackage from a copy of the tree's
# sources (git's tracked and new files, none it ignores) in
# build-deb/checkpw-roam-VERSION, so that nothing built here leaks in, after
# dpkg-checkbuilddeps; the .dsc, .tar.xz, .deb files, .buildinfo and
# .changes land in build-deb/. lintian then checks them all, pedantic tags
# shown, and fails on any error or warning.
DEB_DIR = build-deb
DEB_SRC = $(DEB_DIR)/checkpw-roam-$(VERSION)
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	git -C $(CURDIR) ls-files -z --cached --others --exclude-standard | \
		tar -C $(CURDIR) --null --ignore-failed-read -T - -cf - | \
		tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && dpkg-checkbuilddeps && echo "dpkg-checkbuilddeps: ok"
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc
	lintian --pedantic --fail-on error,warning $(DEB_DIR)/*.changes

# make dist: checkpw-roam-VERSION.tar.gz (in DIST_DIR) from the committed
# tree of DIST_COMMIT (HEAD by default; the work tree's changes are not in
# it), with the VERSION of that commit. The same commit gives the same
# bytes: git archive writes the files in git's sorted order, every mtime the
# commit's time, owner and group root (0), modes 0644 and 0755 (tar.umask),
# and the commit id in a pax header; gzip -n adds no name or time.
DIST_COMMIT = HEAD
DIST_DIR = .
dist:
	@commit=$$(git -C $(CURDIR) rev-parse --verify '$(DIST_COMMIT)^{commit}') && \
	version=$$(git -C $(CURDIR) show "$$commit:VERSION") && \
	name=checkpw-roam-$$version && \
	git -C $(CURDIR) -c tar.umask=0022 archive --format=tar \
		--prefix="$$name/" "$$commit" | gzip -n -9 >'$(DIST_DIR)'/"$$name.tar.gz.tmp" && \
	mv '$(DIST_DIR)'/"$$name.tar.gz.tmp" '$(DIST_DIR)'/"$$name.tar.gz" && \
	echo "dist: $(DIST_DIR)/$$name.tar.gz from $$commit"

SRCS = $(PROGS:=.c) $(COMMON:.o=.c) $(MON:.o=.c) sync.c db.c tests/unit/unit.c \
	tests/helpers/killwhen.c tests/helpers/merge.c
BENCH_SRCS = bench/*.c bench/*.h
lint: roamsync-sql.h
	clang-format --dry-run --Werror $(SRCS) \
		$(filter-out roamsync-sql.h,$(wildcard *.h)) $(BENCH_SRCS)
	cppcheck --error-exitcode=1 --enable=warning,performance,portability \
		--std=c11 --quiet --suppress=missingIncludeSystem -D_GNU_SOURCE \
		-DROAM_VERSION='"$(VERSION)"' $(SRCS) bench/*.c
	clang-tidy --quiet $(SRCS) -- -std=c11 -D_GNU_SOURCE -I. $(CDB_CFLAGS) \
		$(PQ_CFLAGS) -DROAM_VERSION='"$(VERSION)"'
	shellcheck tests/run tests/install-deps tests/helpers/fake-checkpassword \
		tests/helpers/mini-popup \
		tests/helpers/probe-env tests/helpers/gate-checkpassword \
		tests/helpers/crashpoints.bash tests/helpers/pg.bash \
		tests/helpers/pgnet.bash tests/helpers/as-installed \
		tests/demo tests/demo-cluster \
		conf-examples/*-run .ci/run \
		tests/helpers/deb.bash debian/tests/smoke debian/*.postinst \
		debian/*.postrm debian/roamsync/sv/run debian/roamsync/sv/log/run \
		bench/run bench/restore bench/gen-data bench/awkref bench/cluster

clean:
	rm -f *.o $(PROGS) roamsync-sql.h tests/unit/unit $(TEST_HELPERS)
	rm -rf build-asan build-fuzz build-valgrind build-deb
	rm -f checkpw-roam-*.tar.gz checkpw-roam-*.tar.gz.tmp

.PHONY: all check install uninstall clean demo demo-cluster deb dist lint asan fuzz fuzz-run valgrind

# The benchmark (bench/README): not part of the tests. make bench runs the
# full benchmark; make bench BENCHFLAGS=--quick a short one.
BENCH_STATIC = bench/checkpw-bench bench/noop bench/seedref \
	bench/floor bench/floorlink bench/rssprobe
BENCH_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 $(WARN)

bench-progs: $(BENCH_STATIC) bench/driver bench/ipcheck bench/cdbfloor

# The cluster bench's own (bench/cluster): dynamic, as roamsync is.
bench-cluster-progs: bench-progs bench/clusterdrive bench/notifyrtt \
	bench/memwatch

bench/clusterdrive: bench/clusterdrive.c
	$(CC) $(BENCH_CFLAGS) $(CDB_CFLAGS) -o $@ $< $(CDB_LIBS)

bench/memwatch: bench/memwatch.c
	$(CC) $(BENCH_CFLAGS) -o $@ $<

bench/notifyrtt: bench/notifyrtt.c
	$(CC) $(BENCH_CFLAGS) $(PQ_CFLAGS) -o $@ $< $(PQ_LIBS)

$(BENCH_STATIC): bench/%: bench/%.c bench/floorwork.h
	$(CC) $(BENCH_CFLAGS) -static -o $@ $<

bench/ipcheck: bench/ipcheck.c
	$(CC) $(BENCH_CFLAGS) $(CDB_CFLAGS) -o $@ $< $(CDB_LIBS)

# Static; tinycdb for its look-ups of the cdb right after a login (each).
bench/driver: bench/driver.c
	$(CC) $(BENCH_CFLAGS) $(CDB_CFLAGS) -static -o $@ $< $(CDB_LIBS)

# Static, as the floor it is compared with.
bench/cdbfloor: bench/cdbfloor.c bench/floorwork.h
	$(CC) $(BENCH_CFLAGS) $(CDB_CFLAGS) -static -o $@ $< $(CDB_LIBS)

# The A/B variant (bench/README), in build-ab/, apart from the normal
# build: checkpw-roam and clearopensmtp of 1.0.0's whole-rewrite pass (the
# list, the index and the cdb rewritten for each new address, a side
# journal for the logins that find the lock taken), built from git by that
# commit's own Makefile.
AB_DIR = build-ab
AB_OLD = $(AB_DIR)/old
AB_OLD_COMMIT = 628c6cd

bench-ab: $(AB_OLD)/checkpw-roam $(AB_OLD)/clearopensmtp

# From git: the commit's own tree, so nothing of the work tree leaks in.
$(AB_OLD)/checkpw-roam:
	rm -rf $(AB_OLD) $(AB_OLD).tar
	mkdir -p $(AB_OLD)
	git -C $(CURDIR) archive -o $(CURDIR)/$(AB_OLD).tar $(AB_OLD_COMMIT)
	tar -x -C $(AB_OLD) -f $(AB_OLD).tar
	rm -f $(AB_OLD).tar
	$(MAKE) -C $(AB_OLD) checkpw-roam clearopensmtp

# Made with it, by the recipe above.
$(AB_OLD)/clearopensmtp: $(AB_OLD)/checkpw-roam ;

# The builds' output goes to standard error: standard output is the report.
bench:
	@$(MAKE) --no-print-directory all bench-progs bench-ab >&2
	@bench/run $(BENCHFLAGS)

# Several hosts (bench/README): a private PostgreSQL, three hosts, each
# with its roamsync. Not part of make bench: it needs PostgreSQL 15.
bench-cluster:
	@$(MAKE) --no-print-directory all bench-cluster-progs >&2
	@bench/cluster $(BENCHFLAGS)

bench-clean:
	rm -f $(BENCH_STATIC) bench/driver bench/ipcheck bench/cdbfloor bench/clusterdrive \
		bench/notifyrtt bench/memwatch
	rm -rf $(AB_DIR)

.PHONY: bench bench-progs bench-ab bench-clean bench-cluster \
	bench-cluster-progs

# ---------------------------------------------------------------------
# Sanitizers, fuzzing, valgrind: make asan, fuzz, fuzz-run, valgrind.

# make asan: the programs and the unit tests built with AddressSanitizer
# and UndefinedBehaviorSanitizer in build-asan/, then the unit tests and
# the bats suite (ASAN_BATS) run against them (tests/helpers/common.bash
# takes BIN_DIR). Every report is fatal (exit 86) and is written to a file
# of its own under build-asan/reports/, whoever wrote it (a detached
# recorder, a session running as nobody, a program run with a cleared
# environment): any file there is printed and fails the run. The options
# are compiled into the sanitized programs (build-asan/san-defaults.c), so
# they hold where the environment is cleared; ASAN_OPTIONS and
# UBSAN_OPTIONS still override.
# UBSan prints its diagnostic on stderr, where the test sees it, and its
# one-line summary to the report file. Leak checking is on: it runs when a
# process returns from main or calls exit (clearopensmtp's normal end);
# checkpw-roam's processes end in exec or _exit, which it never sees.
SAN_CC = $(CC)
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
SAN_CFLAGS = $(ALL_CFLAGS) -U_FORTIFY_SOURCE -O1 -g $(SAN_FLAGS)
ASAN_DIR = build-asan
ASAN_REPORTS = $(CURDIR)/$(ASAN_DIR)/reports
# ASAN_BATS: the bats files to run (make asan ASAN_BATS=tests/x.bats). All
# but dovecot.bats: Dovecot runs checkpassword under its vsz_limit (256 MB
# of address space by default), where ASan cannot map its shadow memory
# and every login fails; with "default_vsz_limit = 0" in that test's
# dovecot.conf it could run here too. Nor deb.bats: it tests the programs
# the packages install, built by dpkg-buildpackage, not these; nor
# dist.bats, which tests the tarball and builds its own.
ASAN_SKIP_BATS = tests/dovecot.bats tests/deb.bats tests/dist.bats
ASAN_BATS = $(filter-out $(ASAN_SKIP_BATS),$(wildcard tests/*.bats))
# exitcode 86: distinct from every status the programs give (1 is "bad
# password" to qmail-popup).
SAN_COMMON_OPTS = exitcode=86:log_path=$(ASAN_REPORTS)/report:print_summary=1
ASAN_RUN_OPTIONS = $(SAN_COMMON_OPTS):detect_leaks=1:abort_on_error=0
ASAN_RUN_OPTIONS := $(ASAN_RUN_OPTIONS):strict_string_checks=1
ASAN_RUN_OPTIONS := $(ASAN_RUN_OPTIONS):detect_stack_use_after_return=1
UBSAN_RUN_OPTIONS = $(SAN_COMMON_OPTS):halt_on_error=1:print_stacktrace=1
UBSAN_RUN_OPTIONS := $(UBSAN_RUN_OPTIONS):report_error_type=1
ASAN_PROGS = $(ASAN_DIR)/checkpw-roam $(ASAN_DIR)/clearopensmtp \
	$(ASAN_DIR)/roamsync
ASAN_COMMON = $(addprefix $(ASAN_DIR)/,$(COMMON)) $(ASAN_DIR)/san-defaults.o
ASAN_MON = $(addprefix $(ASAN_DIR)/,$(MON))

$(ASAN_DIR)/%.o: %.c *.h
	@mkdir -p $(ASAN_DIR)
	$(SAN_CC) $(SAN_CFLAGS) -c -o $@ $<

$(ASAN_DIR)/san-defaults.c: Makefile
	@mkdir -p $(ASAN_DIR)
	printf '%s\n' '/* Generated by make: the sanitizers options. */' \
		'const char *__asan_default_options(void);' \
		'const char *__ubsan_default_options(void);' \
		'const char *__asan_default_options(void)' \
		'{ return "$(ASAN_RUN_OPTIONS)"; }' \
		'const char *__ubsan_default_options(void)' \
		'{ return "$(UBSAN_RUN_OPTIONS)"; }' >$@

$(ASAN_DIR)/san-defaults.o: $(ASAN_DIR)/san-defaults.c
	$(SAN_CC) $(SAN_CFLAGS) -c -o $@ $<

$(ASAN_DIR)/checkpw-roam: $(ASAN_DIR)/checkpw-roam.o $(ASAN_COMMON)
	$(SAN_CC) $(SAN_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(LIBS)

$(ASAN_DIR)/clearopensmtp: $(ASAN_DIR)/clearopensmtp.o $(ASAN_COMMON) $(ASAN_MON)
	$(SAN_CC) $(SAN_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(LIBS)

$(ASAN_DIR)/db.o: db.c *.h roamsync-sql.h
	@mkdir -p $(ASAN_DIR)
	$(SAN_CC) $(SAN_CFLAGS) $(PQ_CFLAGS) -c -o $@ db.c

$(ASAN_DIR)/roamsync: $(addprefix $(ASAN_DIR)/,$(SYNC)) $(ASAN_COMMON) $(ASAN_MON)
	$(SAN_CC) $(SAN_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(CDB_LIBS) \
		$(PQ_LIBS) -lskarnet

$(ASAN_DIR)/unit: tests/unit/unit.c $(ASAN_COMMON) $(ASAN_MON)
	$(SAN_CC) $(SAN_CFLAGS) -I. $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(LIBS)

# crash.bats kills clearopensmtp at random moments, some during the leak
# check it runs at exit: LeakSanitizer's helper then reports only that it
# could not stop the dying process. Such a report (that line alone) is
# noted, not counted; any other line in a report fails the run.
LSAN_KILLED = ^==[0-9]*==Unable to get registers from thread [0-9]*\.$$

# unit.bats runs tests/unit/unit and build.bats runs make install: the
# normal build is needed beside the sanitized one.
asan: all tests/unit/unit $(TEST_HELPERS) $(ASAN_PROGS) $(ASAN_DIR)/unit
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS) && \
		chmod 1777 $(ASAN_REPORTS)
	@status=0; \
	$(ASAN_DIR)/unit >$(ASAN_DIR)/unit.out || { \
		cat $(ASAN_DIR)/unit.out; status=1; }; \
	BIN_DIR=$(CURDIR)/$(ASAN_DIR) tests/run $(ASAN_BATS) || status=1; \
	for r in $(ASAN_REPORTS)/*; do \
		[ -f "$$r" ] || continue; \
		if ! grep -qv "$(LSAN_KILLED)" "$$r"; then \
			echo "asan: $${r##*/}: a leak check cut short by kill -9"; \
			continue; \
		fi; \
		echo "asan: sanitizer report $${r##*/}:" >&2; cat "$$r" >&2; \
		status=1; \
	done; \
	if [ $$status -eq 0 ]; then \
		echo "asan: no sanitizer report"; \
	else \
		echo "asan: FAILED (tests failed or sanitizer reports above)" >&2; \
	fi; \
	exit $$status

# make fuzz: libFuzzer targets, built with clang, in fuzz/.
# make fuzz-run FUZZ_SECONDS=N: each for N seconds (fuzz/run), new inputs
# kept in build-fuzz/corpus/ (the seeds in fuzz/corpus/ are only read),
# crashes written to build-fuzz/ as TARGET-crash-*, -leak-*, -timeout-*.
FUZZ_CC = clang
FUZZ_DIR = build-fuzz
FUZZ_TARGETS = rules openlist ip passwd outbox promfmt
FUZZ_SECONDS = 20
FUZZ_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FUZZ_CFLAGS = $(ALL_CFLAGS) -U_FORTIFY_SOURCE -O1 -g $(FUZZ_FLAGS)
FUZZ_COMMON = $(addprefix $(FUZZ_DIR)/,$(COMMON) $(MON))

$(FUZZ_DIR)/%.o: %.c *.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# The harness itself is not instrumented for coverage: only the code under
# test guides the fuzzer.
$(FUZZ_DIR)/%-fuzz.o: fuzz/%-fuzz.c *.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I. -c -o $@ $<

fuzz/%-fuzz: $(FUZZ_DIR)/%-fuzz.o $(FUZZ_COMMON)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz: $(FUZZ_TARGETS:%=fuzz/%-fuzz)

fuzz-run: fuzz
	fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# make valgrind: the main paths of both programs under valgrind, built
# dynamically in build-valgrind/: valgrind cannot follow malloc in a static
# program.
VG_DIR = build-valgrind
VG_COMMON = $(addprefix $(VG_DIR)/,$(COMMON))
VG_MON = $(addprefix $(VG_DIR)/,$(MON))

$(VG_DIR)/%.o: %.c *.h
	@mkdir -p $(VG_DIR)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(VG_DIR)/checkpw-roam: $(VG_DIR)/checkpw-roam.o $(VG_COMMON)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(LIBS)

$(VG_DIR)/clearopensmtp: $(VG_DIR)/clearopensmtp.o $(VG_COMMON) $(VG_MON)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $^ $(LIBS)

valgrind: $(VG_DIR)/checkpw-roam $(VG_DIR)/clearopensmtp
	BIN_DIR=$(VG_DIR) tests/valgrind

# Keep the fuzzers' objects between runs (make takes them as intermediate).
.SECONDARY: $(FUZZ_COMMON) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%-fuzz.o)
