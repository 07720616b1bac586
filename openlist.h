/* openlist.h: the open-smtp list, its index, and its journal of new addresses.
 */
#ifndef OPENLIST_H
#define OPENLIST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cdb.h>

#include "atomicfile.h"
#include "ip.h"
#include "log.h"
#include "stamp.h"

/* One line: "IP:rule<TAB>epoch", or a malformed line kept verbatim. */
struct openentry {
	char ip[IP_FMTLEN]; /* canonical address; "" for a malformed line */
	const char *rule;   /* "allow,..." after "IP:", not NUL-terminated */
	size_t rulelen;
	uint64_t ts;	 /* seconds since the epoch */
	const char *raw; /* the line as it is, without its newline */
	size_t rawlen;
};

int openlist_parse_line(const char *line, size_t len, struct openentry *e);

/* Walks the lines of a list or journal text, skipping empty lines. */
struct openlist_cursor {
	const char *text;
	size_t len, pos, lineno;
	const char *rule; /* the last entry's, checked already */
	size_t rulelen;
};
int openlist_next(struct openlist_cursor *c, struct openentry *e);
size_t openlist_format(char *buf, const struct openentry *e);
#define OPENLIST_LINEMAX(e) (strlen((e)->ip) + (e)->rulelen + 23)
void openlist_warn_bad(const char *name, const struct openentry *e,
		       size_t lineno);

/* Writes a new list and, beside it, its index. */
struct openlist_writer {
	struct atomicfile list, index;
	struct cdb_make im;
	uint64_t off;
	struct fileid id; /* the new list, once committed */
};
int openlist_writer_open(struct openlist_writer *w, int dirfd, struct fail *f);
void openlist_writer_add(struct openlist_writer *w, const struct openentry *e);
int openlist_writer_commit(struct openlist_writer *w, struct fail *f);
void openlist_writer_abort(struct openlist_writer *w);

int openlist_indexed(int dirfd, const char *ip);
int openlist_touch(int dirfd, const char *ip, uint64_t ts);
int openlist_append(int dirfd, const struct fileid *expect, const char *text,
		    size_t len, struct fileid *now, struct fail *f);

int openlist_journal_add(int dirfd, const struct openentry *e, struct fail *f);
int openlist_journal_take(int dirfd, int sync, char **text, size_t *len,
			  int *taken, struct fail *f);
void openlist_journal_done(int dirfd);

#endif
