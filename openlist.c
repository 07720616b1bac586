/* SPDX-License-Identifier: ISC */
/* openlist.c: the open-smtp list: "IP:rule<TAB>epoch" lines, vpopmail's
 * format, read and written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digits.h"
#include "openlist.h"
#include "rules.h"

/*
 * The timestamp after the TAB at cut: 1 to 19 digits, nothing else, but
 * for one space before them: vpopmail before 5.0 wrote "<TAB><SPACE>epoch",
 * and its clearopensmtp reads the time with atoi, so for vpopmail those
 * lines are entries. Only that form: not two spaces, not a second TAB.
 */
static int
parse_ts(const char *line, size_t cut, size_t len, uint64_t *ts)
{
	const char *s = line + cut + 1;
	size_t n = len - cut - 1;

	if (n > 1 && s[0] == ' ') {
		s++;
		n--;
	}
	return digits_scan(s, n, 19, ts);
}

/*
 * One line without its newline. LINE_BAD for anything but an entry or an
 * empty line: no TAB, a timestamp that is not 1 to 19 digits (one space
 * before them allowed: parse_ts), a control byte, an
 * address that is not one IP or is not alone (ip_alone: its key would
 * also be a prefix), or a rule tcprules rejects or longer than
 * OPENLIST_RULEMAX.
 */
enum line_kind
openlist_parse_line(const char *line, size_t len, struct openentry *e)
{
	const char *tab;
	size_t cut, colon, i, dlen;
	uint64_t ts;

	*e = (struct openentry){.raw = line, .rawlen = len};
	if (len == 0)
		return LINE_EMPTY;
	if (!(tab = memchr(line, '\t', len)))
		return LINE_BAD;
	cut = (size_t)(tab - line);
	if (!parse_ts(line, cut, len, &ts))
		return LINE_BAD;
	/* vpopmail never writes control bytes: one there means corruption. */
	for (i = 0; i < cut; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return LINE_BAD;
	colon = rules_split(line, cut);
	if (colon == cut || cut - colon - 1 > OPENLIST_RULEMAX ||
	    !ip_canonical(e->ip, line, colon) || !ip_alone(e->ip) ||
	    rules_compile(line + colon + 1, cut - colon - 1, 0, &dlen) !=
		RULES_OK) {
		e->ip[0] = '\0';
		return LINE_BAD;
	}
	e->rule = line + colon + 1;
	e->rulelen = cut - colon - 1;
	e->ts = ts;
	return LINE_ENTRY;
}

/*
 * openlist_parse_line, for a line that may end in rule, a rule another
 * line's full parse accepted: then only its address and timestamp are
 * checked. No address that ip_canonical accepts holds ":allow" or
 * ":deny" ('l' and 'n' are not hex digits), so the line splits where the
 * full parse splits it; the address holds no control byte, nor does the
 * rule. Any other line gets the full parse: the result is always its.
 */
static enum line_kind
parse_same_rule(const char *line, size_t len, struct openentry *e,
		const char *rule, size_t rulelen)
{
	const char *tab = len ? memchr(line, '\t', len) : 0;
	size_t cut = tab ? (size_t)(tab - line) : 0, colon;

	if (!rule || !tab || cut <= rulelen || line[cut - rulelen - 1] != ':' ||
	    memcmp(line + cut - rulelen, rule, rulelen) != 0)
		return openlist_parse_line(line, len, e);
	colon = cut - rulelen - 1;
	*e = (struct openentry){.raw = line, .rawlen = len};
	if (!parse_ts(line, cut, len, &e->ts)) {
		e->ts = 0;
		return LINE_BAD;
	}
	if (!ip_canonical(e->ip, line, colon) || !ip_alone(e->ip))
		return openlist_parse_line(line, len, e);
	e->rule = line + colon + 1;
	e->rulelen = rulelen;
	return LINE_ENTRY;
}

/* The next non-empty line, or LINE_EMPTY at the end. Lines nearly all
 * share one rule, which is checked once. */
enum line_kind
openlist_next(struct openlist_cursor *c, struct openentry *e)
{
	while (c->pos < c->len) {
		const char *line = c->text + c->pos;
		const char *nl = memchr(line, '\n', c->len - c->pos);
		size_t n = nl ? (size_t)(nl - line) : c->len - c->pos;
		enum line_kind r;

		c->pos += n + 1;
		c->lineno++;
		r = parse_same_rule(line, n, e, c->rule, c->rulelen);
		if (r == LINE_ENTRY) {
			c->rule = e->rule;
			c->rulelen = e->rulelen;
		}
		if (r == LINE_BAD)
			openlist_tally(&c->bad, c->lineno, e);
		if (r != LINE_EMPTY)
			return r;
	}
	return LINE_EMPTY;
}

/* One more line of t's kind; the first is kept to be shown. */
void
openlist_tally(struct openlist_tally *t, size_t lineno,
	       const struct openentry *e)
{
	if (t->n++ == 0) {
		t->lineno = lineno;
		t->raw = e->raw;
		t->rawlen = e->rawlen;
	}
}

/* One line for all of t, if any: "NAME: N MANY, the first line L: "..."",
 * or "NAME: 1 ONE, line L: "..."". */
void
openlist_report(const char *name, const struct openlist_tally *t,
		const char *one, const char *many)
{
	char n[24], num[24], safe[LOG_SAFE];

	if (t->n == 0)
		return;
	snprintf(n, sizeof n, "%zu", t->n);
	snprintf(num, sizeof num, "%zu", t->lineno);
	log_sanitize(safe, sizeof safe, t->raw, t->rawlen);
	log_warn(name, ": ", n, " ", t->n == 1 ? one : many,
		 t->n == 1 ? ", line " : ", the first line ", num, ": ", safe);
}

/*
 * The value a good entry's rule sets in the variable var (the last, as
 * tcpserver leaves it), copied into buf (room for size, NUL-terminated,
 * cut to fit): its whole length, or -1 if the rule does not set var.
 */
long
openlist_var(const struct openentry *e, const char *var, char *buf, size_t size)
{
	char *data = malloc(e->rulelen + 2);
	size_t dlen, n = strlen(var), vlen = 0;
	const char *val = 0;

	if (!data ||
	    rules_compile(e->rule, e->rulelen, data, &dlen) != RULES_OK) {
		free(data);
		return -1;
	}
	for (size_t i = 0; i < dlen; i += strlen(data + i) + 1)
		if (data[i] == '+' && strncmp(data + i + 1, var, n) == 0 &&
		    data[i + 1 + n] == '=') {
			val = data + i + 2 + n;
			vlen = strlen(val);
		}
	if (val && size) {
		size_t k = vlen < size - 1 ? vlen : size - 1;

		memcpy(buf, val, k);
		buf[k] = '\0';
	}
	free(data);
	return val ? (long)vlen : -1;
}

/* Decimal digits of v and their count; buf has room for 20. */
static size_t
u64_fmt(char *buf, uint64_t v)
{
	char t[20];
	size_t n = 0, i;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		buf[i] = t[n - 1 - i];
	return n;
}

/* A good entry's line in canonical form, with its newline; returns its
 * length. */
size_t
openlist_format(char buf[OPENLIST_LINEMAX], const struct openentry *e)
{
	size_t n = strlen(e->ip);

	memcpy(buf, e->ip, n);
	buf[n++] = ':';
	memcpy(buf + n, e->rule, e->rulelen);
	n += e->rulelen;
	buf[n++] = '\t';
	n += u64_fmt(buf + n, e->ts);
	buf[n++] = '\n';
	return n;
}

/*
 * "allow," and env (RELAY_ENV_DEFAULT if NULL or empty) into *rule, which
 * the caller frees: RULE_BAD unless a list line with it reads back as a
 * good entry (NAME="value",... as tcprules takes, at most 3994 bytes).
 */
enum relay_rule
openlist_relay_rule(const char *env, char **rule)
{
	struct openentry e = {.ip = "255.255.255.255"};
	char line[OPENLIST_LINEMAX];
	size_t n;

	if (!env || !*env)
		env = RELAY_ENV_DEFAULT;
	n = strlen(env);
	if (n + 6 > OPENLIST_RULEMAX)
		return RULE_BAD;
	if (!(*rule = malloc(n + 7)))
		return RULE_NOMEM;
	memcpy(*rule, "allow,", 6);
	memcpy(*rule + 6, env, n + 1);
	e.rule = *rule;
	e.rulelen = n + 6;
	n = openlist_format(line, &e);
	if (openlist_parse_line(line, n - 1, &e) != LINE_ENTRY) {
		free(*rule);
		*rule = 0;
		return RULE_BAD;
	}
	return RULE_OK;
}

/* The list open read-write (made 0644, owned like the directory, if
 * missing); never through a link, never anything but a regular file. */
int
openlist_open(int dirfd, struct fail *f)
{
	struct stat st;
	int fd = openat(dirfd, ROAM_LIST,
			O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	/* A new list's name is on disk before any line is answered. */
	if (fd == -1 && errno == ENOENT && fstat(dirfd, &st) == 0 &&
	    (fd = roamdir_create(dirfd, ROAM_LIST, O_RDWR | O_NONBLOCK, 0644,
				 &st)) != -1 &&
	    fsync(dirfd) == -1 && errno != EINVAL) {
		close(fd);
		fd = -1;
	}
	if (fd == -1 && errno == ELOOP) {
		FAIL(f, 111, "refusing to read ", ROAM_LIST,
		     ": it is a symbolic link");
		return -1;
	}
	if (fd == -1 && errno != EISDIR) {
		FAILSYS(f, "unable to open ", ROAM_LIST);
		return -1;
	}
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "refusing to read ", ROAM_LIST,
		     ": not a regular file");
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of text at off; -1 with errno. */
static int
write_at(int fd, const char *text, size_t len, uint64_t off)
{
	while (len) {
		ssize_t r = pwrite(fd, text, len, (off_t)off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		text += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/*
 * Appends text, whole lines, at the end of the list, in one write: after
 * a newline if a killed writer left a partial last line, so that no line
 * runs into another. Then fsync. On any failure the list is cut back to
 * its old end: nothing is half appended.
 */
int
openlist_append(int lfd, const char *text, size_t len, struct fail *f)
{
	struct stat st;
	char last = '\n', *buf;
	size_t skip;

	if (fstat(lfd, &st) == -1) {
		FAILSYS(f, "unable to stat ", ROAM_LIST);
		return -1;
	}
	if (st.st_size && pread(lfd, &last, 1, st.st_size - 1) != 1) {
		FAILSYS(f, "unable to read ", ROAM_LIST);
		return -1;
	}
	if (!(buf = malloc(len + 1))) {
		FAILSYS(f, "unable to append to ", ROAM_LIST);
		return -1;
	}
	buf[0] = '\n';
	memcpy(buf + 1, text, len);
	skip = last == '\n';
	if (write_at(lfd, buf + skip, len + 1 - skip, (uint64_t)st.st_size) ==
		-1 ||
	    fsync(lfd) == -1) {
		FAILSYS(f, "unable to append to ", ROAM_LIST);
		(void)!ftruncate(lfd, st.st_size);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

/* Starts a new list. */
int
openlist_writer_open(struct openlist_writer *w, int dirfd, struct fail *f)
{
	return atomicfile_open(&w->a, dirfd, ROAM_LIST, 0644, f);
}

/* Appends a line, a good entry in canonical form; whether that differs
 * from the line as it was. */
int
openlist_writer_add(struct openlist_writer *w, const struct openentry *e)
{
	char buf[OPENLIST_LINEMAX];
	size_t n;

	if (!e->ip[0]) {
		atomicfile_write(&w->a, e->raw, e->rawlen);
		atomicfile_write(&w->a, "\n", 1);
		return 0;
	}
	n = openlist_format(buf, e);
	atomicfile_write(&w->a, buf, n);
	return n - 1 != e->rawlen || memcmp(buf, e->raw, n - 1) != 0;
}

/* Writes out and syncs the new list, ready to be renamed into place. */
int
openlist_writer_finish(struct openlist_writer *w, struct fail *f)
{
	return atomicfile_finish(&w->a, f);
}

void
openlist_writer_abort(struct openlist_writer *w)
{
	atomicfile_abort(&w->a);
}
