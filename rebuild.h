/* SPDX-License-Identifier: ISC */
/* rebuild.h: tcp.smtp and the open list compiled into tcp.smtp.cdb. */
#ifndef REBUILD_H
#define REBUILD_H

#include <cdb.h>

#include "atomicfile.h"
#include "log.h"

/* The longest rule of an open address (openlist.h's OPENLIST_RULEMAX). */
#define REBUILD_RULEMAX 4000

struct rebuild {
	struct atomicfile a;
	struct cdb_make cm;
	char rule[REBUILD_RULEMAX]; /* the last open address's rule */
	size_t rulelen;
	char data[REBUILD_RULEMAX + 2]; /* and its record data */
	size_t datalen;
};

int rebuild_check(int dirfd, struct fail *f);
int rebuild_open(struct rebuild *rb, int dirfd, struct fail *f);
int rebuild_add(struct rebuild *rb, const char *ip, const char *rule,
		size_t rulelen, struct fail *f);
int rebuild_finish(struct rebuild *rb, struct fail *f);
void rebuild_abort(struct rebuild *rb);
int rebuild_has(int dirfd, const char *ip, size_t n, size_t size);

#endif
