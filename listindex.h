/* SPDX-License-Identifier: ISC */
/* listindex.h: open-smtp.index, where each address's line is in the list up
 * to the size it was written for; lines appended since are read on a miss. */
#ifndef LISTINDEX_H
#define LISTINDEX_H

#include <stddef.h>
#include <stdint.h>

#include <cdb.h>

#include "atomicfile.h"
#include "ip.h"
#include "roamdir.h"

/* The builder's: written with the cdb, when due. */
struct listindex_writer {
	struct atomicfile a;
	struct cdb_make cm;
};

int listindex_due(int dirfd, const struct fileid *list);
int listindex_open(struct listindex_writer *w, int dirfd, struct fail *f);
void listindex_add(struct listindex_writer *w, const char *ip, uint64_t off,
		   uint64_t len);
void listindex_finish(struct listindex_writer *w, const struct fileid *list);
void listindex_rename(struct listindex_writer *w);
void listindex_abort(struct listindex_writer *w);

/* An address looked for, and where its line's timestamp is if listed. */
struct found {
	char ip[IP_FMTLEN]; /* canonical */
	int listed;
	uint64_t tspos, ts;
	size_t tslen;
};

/* Under the writers' lock, on the list open read-write. */
int listindex_find(int dirfd, int lfd, struct found *v, size_t n,
		   struct fail *f);
int listindex_refresh(int lfd, struct found *x, uint64_t ts, struct fail *f);

#endif
