/* SPDX-License-Identifier: ISC */
/* rebuild.c: tcp.smtp and the open list compiled into tcp.smtp.cdb. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rebuild.h"
#include "roamdir.h"
#include "rules.h"

static int
add_record(void *ctx, const char *k, size_t kl, const char *d, size_t dl)
{
	if (kl > 0xffffffffu || dl > 0xffffffffu) {
		errno = EFBIG;
		return -1;
	}
	return cdb_make_add(ctx, k, (unsigned)kl, d, (unsigned)dl) == 0 ? 0
									: -1;
}

static void
bad_line(const char *line, size_t n, size_t lineno, struct fail *f)
{
	char num[24], safe[LOG_SAFE];

	if (n && line[n - 1] == '\n')
		n--;
	snprintf(num, sizeof num, "%zu", lineno);
	log_sanitize(safe, sizeof safe, line, n);
	FAIL(f, 100, "unable to rebuild ", ROAM_CDB, ": ", ROAM_RULES, " line ",
	     num, ": unable to parse this line: ", safe);
}

/* tcp.smtp's lines, each record handed to add (ctx); tmp names where
 * they go, for a failure to write. */
static int
add_rules(const char *text, size_t len, rules_emit *add, void *ctx,
	  const char *tmp, struct fail *f)
{
	size_t pos = 0, lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		enum rules_status r;

		lineno++;
		r = rules_parse_line(text + pos, end - pos, add, ctx);
		if (r == RULES_BAD) {
			bad_line(text + pos, end - pos, lineno, f);
			return -1;
		}
		if (r == RULES_SYS) {
			FAILSYS(f, "unable to write ", tmp);
			return -1;
		}
		pos = end;
	}
	return 0;
}

/*
 * tcp.smtp is missing. While tcp.smtp.cdb exists, a tcp.smtp gone (moved
 * away, deleted) would silently drop every static rule: the update fails
 * and the old cdb stays. So does a symbolic link whose target is missing,
 * always. A directory with neither file starts from no rules, and says
 * so as an administrator would: with an empty tcp.smtp, made here (owned
 * like the directory, 0644), so that the next update does not fail.
 */
static int
rules_missing(int dirfd, struct fail *f)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, ROAM_RULES, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode)) {
		FAIL(f, 111, "unable to rebuild ", ROAM_CDB, ": ", ROAM_RULES,
		     " is a symbolic link to a missing file: mend it, or make ",
		     ROAM_RULES, " an empty file for no static rules");
		return -1;
	}
	if (fstatat(dirfd, ROAM_CDB, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		FAIL(
		    f, 111, "unable to rebuild ", ROAM_CDB, ": ", ROAM_RULES,
		    " is missing, and its rules would be lost: ",
		    "restore it, or make it an empty file for no static rules");
		return -1;
	}
	if (errno != ENOENT) {
		FAILSYS(f, "unable to stat ", ROAM_CDB);
		return -1;
	}
	fd = fstat(dirfd, &st) == -1
		 ? -1
		 : roamdir_create(dirfd, ROAM_RULES, O_WRONLY, 0644, &st);
	if (fd == -1 && errno != EEXIST) {
		FAILSYS(f, "unable to create an empty ", ROAM_RULES);
		return -1;
	}
	if (fd != -1)
		close(fd);
	return 0;
}

static int
no_record(void *ctx, const char *k, size_t kl, const char *d, size_t dl)
{
	(void)ctx;
	(void)k;
	(void)kl;
	(void)d;
	(void)dl;
	return 0;
}

/* Whether tcp.smtp compiles, as rebuild_open would find it: before a
 * change that the build must follow. */
int
rebuild_check(int dirfd, struct fail *f)
{
	char *text;
	size_t len;
	int r;

	if (roamdir_read(dirfd, ROAM_RULES, 1, &text, &len, 0, f) == -1 ||
	    (!text && rules_missing(dirfd, f) == -1))
		return -1;
	r = text ? add_rules(text, len, no_record, 0, "", f) : 0;
	free(text);
	return r;
}

/*
 * Starts a new tcp.smtp.cdb with tcp.smtp's records, as tcprules would
 * write them; the open addresses follow with rebuild_add. tcpserver takes
 * the first record of a key, so the administrator's rules win. A line
 * tcprules would reject fails with code 100, naming it; a tcp.smtp gone
 * missing (rules_missing) with code 111.
 */
int
rebuild_open(struct rebuild *rb, int dirfd, struct fail *f)
{
	char *text;
	size_t len;

	rb->rulelen = rb->datalen = 0;
	if (roamdir_read(dirfd, ROAM_RULES, 1, &text, &len, 0, f) == -1 ||
	    (!text && rules_missing(dirfd, f) == -1))
		return -1;
	if (atomicfile_open(&rb->a, dirfd, ROAM_CDB, 0644, f) == -1) {
		free(text);
		return -1;
	}
	if (cdb_make_start(&rb->cm, rb->a.fd) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		free(text);
		atomicfile_abort(&rb->a);
		return -1;
	}
	if (text &&
	    add_rules(text, len, add_record, &rb->cm, rb->a.tmp, f) == -1) {
		free(text);
		rebuild_abort(rb);
		return -1;
	}
	free(text);
	return 0;
}

/* Compiles rule as the one later addresses share. */
static int
set_rule(struct rebuild *rb, const char *rule, size_t rulelen, struct fail *f)
{
	if (rulelen > REBUILD_RULEMAX ||
	    rules_compile(rule, rulelen, rb->data, &rb->datalen) != RULES_OK) {
		char safe[LOG_SAFE];

		rb->rulelen = 0;
		log_sanitize(safe, sizeof safe, rule, rulelen);
		FAIL(f, 100, "unable to parse this rule: ", safe);
		return -1;
	}
	memcpy(rb->rule, rule, rulelen);
	rb->rulelen = rulelen;
	return 0;
}

/*
 * Adds the record of the line "ip:rule" for one open address: ip is a
 * canonical address, never a range, so its key is ip itself. Open
 * addresses nearly all share one rule, so its data is compiled once.
 */
int
rebuild_add(struct rebuild *rb, const char *ip, const char *rule,
	    size_t rulelen, struct fail *f)
{
	if ((!rb->rulelen || rulelen != rb->rulelen ||
	     memcmp(rule, rb->rule, rulelen) != 0) &&
	    set_rule(rb, rule, rulelen, f) == -1)
		return -1;
	if (add_record(&rb->cm, ip, strlen(ip), rb->data, rb->datalen) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		return -1;
	}
	return 0;
}

/* Writes the tables and syncs the new cdb, ready to be renamed into place;
 * on error the temp goes. */
int
rebuild_finish(struct rebuild *rb, struct fail *f)
{
	if (cdb_make_finish(&rb->cm) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		atomicfile_abort(&rb->a);
		return -1;
	}
	return atomicfile_finish(&rb->a, f);
}

/* Before rebuild_finish: tinycdb frees its tables only in
 * cdb_make_finish; the temp goes. */
void
rebuild_abort(struct rebuild *rb)
{
	(void)cdb_make_finish(&rb->cm);
	atomicfile_abort(&rb->a);
}

/* Whether tcp.smtp.cdb has a record for each of the n addresses, each
 * at the start of a record of size bytes; 0 when it cannot be read. A
 * few preads each: cheaper than mapping a large cdb. */
int
rebuild_has(int dirfd, const char *ip, size_t n, size_t size)
{
	unsigned dlen;
	int fd, r = 1;

	fd = openat(dirfd, ROAM_CDB, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	for (size_t i = 0; r && i < n; i++, ip += size)
		r = cdb_seek(fd, ip, (unsigned)strlen(ip), &dlen) > 0;
	close(fd);
	return r;
}
