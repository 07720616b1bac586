/* SPDX-License-Identifier: ISC */
/* openlist.h: the open-smtp list: "IP:rule<TAB>epoch" lines, vpopmail's
 * format, read and written. */
#ifndef OPENLIST_H
#define OPENLIST_H

#include <stddef.h>
#include <stdint.h>

#include "atomicfile.h"
#include "ip.h"
#include "log.h"
#include "roamdir.h"

/* Room for a good entry's line, its newline included: its rule is at most
 * OPENLIST_RULEMAX bytes. */
#define OPENLIST_RULEMAX 4000
#define OPENLIST_LINEMAX (IP_FMTLEN + OPENLIST_RULEMAX + 24)

/* One line: "IP:rule<TAB>epoch", or a malformed line kept verbatim. */
struct openentry {
	char ip[IP_FMTLEN]; /* canonical address; "" for a malformed line */
	const char *rule;   /* "allow,..." after "IP:", not NUL-terminated */
	size_t rulelen;
	uint64_t ts;	 /* seconds since the epoch */
	const char *raw; /* the line as it is, without its newline */
	size_t rawlen;
};

enum line_kind { LINE_BAD = -1, LINE_EMPTY = 0, LINE_ENTRY = 1 };

/* The relay rule of a new address: "allow," and ROAM_RELAY_ENV. */
#define RELAY_ENV_DEFAULT "RELAYCLIENT=\"\",RBLSMTPD=\"\""
enum relay_rule { RULE_OK = 0, RULE_BAD = -1, RULE_NOMEM = -2 };
enum relay_rule openlist_relay_rule(const char *env, char **rule);

enum line_kind openlist_parse_line(const char *line, size_t len,
				   struct openentry *e);
size_t openlist_format(char buf[OPENLIST_LINEMAX], const struct openentry *e);
long openlist_var(const struct openentry *e, const char *var, char *buf,
		  size_t size);

/* Lines a walk reports in one warning, never one by one: how many, and
 * the first (raw points into the text walked). */
struct openlist_tally {
	size_t n, lineno;
	const char *raw;
	size_t rawlen;
};
void openlist_tally(struct openlist_tally *t, size_t lineno,
		    const struct openentry *e);
void openlist_report(const char *name, const struct openlist_tally *t,
		     const char *one, const char *many);

/* Walks the lines of a list, skipping empty lines; counts the malformed
 * ones in bad. */
struct openlist_cursor {
	const char *text;
	size_t len, pos, lineno;
	const char *rule; /* the last entry's, checked already */
	size_t rulelen;
	struct openlist_tally bad;   /* the lines that cannot be read */
	struct openlist_tally ahead; /* times ahead, counted by the caller */
};
enum line_kind openlist_next(struct openlist_cursor *c, struct openentry *e);

/* Under the writers' lock: the list open read-write, made if missing;
 * whole lines appended to it, synced. */
int openlist_open(int dirfd, struct fail *f);
int openlist_append(int lfd, const char *text, size_t len, struct fail *f);

/* Writes a new list. */
struct openlist_writer {
	struct atomicfile a;
};
int openlist_writer_open(struct openlist_writer *w, int dirfd, struct fail *f);
int openlist_writer_add(struct openlist_writer *w, const struct openentry *e);
int openlist_writer_finish(struct openlist_writer *w, struct fail *f);
void openlist_writer_abort(struct openlist_writer *w);

#endif
