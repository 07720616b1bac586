/* listindex.h: open-smtp.index, where each address's line is in the list,
 * so that a login refreshes its timestamp in place. */
#ifndef LISTINDEX_H
#define LISTINDEX_H

#include <stdint.h>

#include <cdb.h>

#include "atomicfile.h"
#include "roamdir.h"

struct listindex_writer {
	struct atomicfile a;
	struct cdb_make cm;
};

int listindex_open(struct listindex_writer *w, int dirfd, struct fail *f);
void listindex_add(struct listindex_writer *w, const char *ip, uint64_t off,
		   uint64_t len);
void listindex_finish(struct listindex_writer *w, const struct fileid *list);
void listindex_rename(struct listindex_writer *w);
void listindex_abort(struct listindex_writer *w);

/* What the index says of an address. */
enum lookup {
	LOOKUP_UNKNOWN = -1, /* no index, or not the list's: read the list */
	LOOKUP_ABSENT = 0,   /* not listed */
	LOOKUP_FOUND = 1
};
enum lookup listindex_find(int dirfd, const char *ip);
enum lookup listindex_refresh(int dirfd, const char *ip, uint64_t ts);

/* Many lookups under one lock: the index mapped, the list open once. */
struct listindex_batch {
	struct cdb idx;
	int ifd, lfd, ok;
	uint64_t size;
};
void listindex_batch_open(struct listindex_batch *b, int dirfd);
/* ts 0: a lookup only. */
enum lookup listindex_batch_refresh(struct listindex_batch *b, const char *ip,
				    uint64_t ts);
void listindex_batch_close(struct listindex_batch *b);

#endif
