/* rebuild.h: tcp.smtp and the open list compiled into tcp.smtp.cdb. */
#ifndef REBUILD_H
#define REBUILD_H

#include "log.h"
#include "openlist.h"

int rebuild(int dirfd, const struct openlist *l, struct fail *f);
int rebuild_has(int dirfd, const char *ip);

#endif
