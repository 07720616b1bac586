/* update.h: every change to the relay state, under the writers' lock: a
 * login's address refreshed or added, waiting addresses merged, entries
 * expired or closed, other hosts' changes merged, the cdb rebuilt. */
#ifndef UPDATE_H
#define UPDATE_H

#include <stdint.h>

#include "log.h"
#include "openlist.h"

struct pending;

struct plan {
	const struct openentry *add;  /* a login's address */
	const struct openentry *adds; /* other hosts' (roamsync) */
	size_t nadds;
	const struct pending *drops; /* closed on other hosts, at e.ts */
	uint64_t now;
	int expire; /* drop entries older than maxage seconds */
	uint64_t maxage;
	const char *drop; /* a canonical address to close */
	int report;	  /* log each address added */
	/* Called, if set, once the addresses are in the list and the cdb,
	 * both synced, before the rest of the housekeeping. */
	void (*opened)(void *arg);
	void *arg;
};

struct outcome {
	size_t added, dropped;
	size_t refreshed; /* update_merge: arrivals refreshed in place */
	int found;	  /* plan.drop was open */
};

/* What roamsync brings from the other hosts. */
struct arrivals {
	const struct openentry *open; /* opened or refreshed there */
	size_t nopen;
	const struct openentry *closed; /* closed there: ip, and ts */
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
