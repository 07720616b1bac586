/* SPDX-License-Identifier: ISC */
/* rebuild.h: tcp.smtp and the open list compiled into tcp.smtp.cdb. */
#ifndef REBUILD_H
#define REBUILD_H

#include <cdb.h>

#include "atomicfile.h"
#include "log.h"

struct rebuild {
	struct atomicfile a;
	struct cdb_make cm;
	char *rule; /* the last open address's rule, as text */
	size_t rulelen;
	char *data; /* and its record data */
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
