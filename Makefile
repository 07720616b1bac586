# checkpw-roam: POP-before-SMTP for qmail, with tinycdb and skalibs.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
ROAMDIR ?= /var/qmail/roam

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
HARDEN = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
	-Wformat -Werror=format-security
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CDB_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcdb 2>/dev/null)
CDB_LIBS := $(shell $(PKG_CONFIG) --libs libcdb 2>/dev/null || echo -lcdb)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DROAM_DIR_DEFAULT='"$(ROAMDIR)"' \
	$(WARN) $(HARDEN) $(CDB_CFLAGS) $(CFLAGS)
LDHARDEN = -pie -Wl,-z,relro,-z,now
# libcdb must come before libskarnet: both define cdb_init and friends.
LIBS = $(CDB_LIBS) -lskarnet

PROGS = checkpw-roam clearopensmtp
COMMON = log.o ip.o rules.o atomicfile.o roamdir.o openlist.o rebuild.o update.o
MAN8 = man/checkpw-roam.8 man/clearopensmtp.8
MAN5 = man/open-smtp.5

all: $(PROGS)

checkpw-roam: checkpw-roam.o $(COMMON)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ checkpw-roam.o $(COMMON) $(LIBS)

clearopensmtp: clearopensmtp.o $(COMMON)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ clearopensmtp.o $(COMMON) $(LIBS)

%.o: %.c *.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

tests/unit/unit: tests/unit/unit.c $(COMMON)
	$(CC) $(ALL_CFLAGS) -I. $(LDHARDEN) -o $@ tests/unit/unit.c $(COMMON) $(LIBS)

check: all tests/unit/unit
	tests/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/checkpw-roam $(DESTDIR)$(BINDIR)/clearopensmtp
	rm -f $(DESTDIR)$(MANDIR)/man8/checkpw-roam.8 $(DESTDIR)$(MANDIR)/man8/clearopensmtp.8
	rm -f $(DESTDIR)$(MANDIR)/man5/open-smtp.5

demo: all
	tests/demo

SRCS = $(PROGS:=.c) $(COMMON:.o=.c) tests/unit/unit.c
lint:
	clang-format --dry-run --Werror $(SRCS) *.h
	cppcheck --error-exitcode=1 --enable=warning,performance,portability \
		--std=c11 --quiet --suppress=missingIncludeSystem -D_GNU_SOURCE $(SRCS)
	clang-tidy --quiet $(SRCS) -- -std=c11 -D_GNU_SOURCE -I. $(CDB_CFLAGS)
	shellcheck tests/run tests/install-deps tests/helpers/fake-checkpassword \
		tests/helpers/probe-env conf-examples/*-run .ci/run

clean:
	rm -f *.o $(PROGS) tests/unit/unit

.PHONY: all check install uninstall clean demo lint
