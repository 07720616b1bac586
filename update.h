/* update.h: every change to the relay state, under the writers' lock: a
 * login's address refreshed or added, waiting addresses merged, entries
 * expired or closed, the cdb rebuilt. */
#ifndef UPDATE_H
#define UPDATE_H

#include <stdint.h>

#include "log.h"
#include "openlist.h"

struct plan {
	const struct openentry *add; /* a login's address */
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
	int found; /* plan.drop was open */
};

int update_login(const char *dir, const struct openentry *me,
		 void (*opened)(void *), void *arg, struct fail *f);
int update_admin(const char *dir, const struct plan *p, struct outcome *o,
		 struct fail *f);

#endif
