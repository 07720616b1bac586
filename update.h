/* update.h: every change to the open list, under the writers' lock: a
 * login's address refreshed in place or appended, other hosts' changes
 * merged, entries expired or closed; then a build that covers them. */
#ifndef UPDATE_H
#define UPDATE_H

#include <stdint.h>

#include "log.h"
#include "openlist.h"

/* clearopensmtp's changes. */
struct plan {
	uint64_t now;
	int expire; /* drop entries older than maxage seconds */
	uint64_t maxage;
	const char *drop; /* a canonical address to close */
};

struct outcome {
	size_t added, dropped;
	size_t refreshed; /* in place */
	int found;	  /* plan.drop was open */
};

/* What roamsync brings from the other hosts. */
struct arrivals {
	const struct openentry *open; /* opened or refreshed there */
	size_t nopen;
	const struct openentry *closed; /* closed there, at ts */
	size_t nclosed;
	uint64_t now;
};

int update_login(const char *dir, const struct openentry *me,
		 void (*opened)(void *), void *arg, struct fail *f);
int update_admin(const char *dir, const struct plan *p, struct outcome *o,
		 struct fail *f);
int update_merge(const char *dir, const struct arrivals *a, struct outcome *o,
		 struct fail *f);

#endif
