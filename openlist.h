/* openlist.h: the open-smtp list: "IP:rule<TAB>epoch" lines, vpopmail's format.
 */
#ifndef OPENLIST_H
#define OPENLIST_H

#include <stddef.h>
#include <stdint.h>

#include "ip.h"
#include "log.h"

struct openentry {
	char ip[IP_FMTLEN]; /* canonical address; "" for a malformed line */
	const char *rule;   /* "allow,..." after "IP:", not NUL-terminated */
	size_t rulelen;
	uint64_t ts;	 /* seconds since the epoch */
	const char *raw; /* a malformed line, kept verbatim */
	size_t rawlen;
	int dropped; /* left out of the cdb and of the next write */
};

struct openlist {
	char *text; /* the file as read; entries point into it */
	struct openentry *e;
	size_t n, cap;
	size_t *slot; /* hash of good entries by address: index + 1 */
	size_t nslot;
	size_t bad; /* malformed lines */
};

#define OPENLIST_LINE_MAX (IP_FMTLEN + 24)

int openlist_parse_line(const char *line, size_t len, struct openentry *e);
int openlist_load(struct openlist *l, char *text, size_t len);
int openlist_read(struct openlist *l, int dirfd, struct fail *f);
long openlist_find(const struct openlist *l, const char *ip);
int openlist_add(struct openlist *l, const char *ip, const char *rule,
		 size_t rulelen, uint64_t ts);
int openlist_write(const struct openlist *l, int dirfd, struct fail *f);
void openlist_free(struct openlist *l);

#endif
