/* update.h: one locked update of the relay state: list, index and cdb in one
 * pass. */
#ifndef UPDATE_H
#define UPDATE_H

#include <stdint.h>

#include "log.h"
#include "openlist.h"

struct plan {
	const struct openentry *add; /* a login's address to add or refresh */
	int merge;		     /* add the journal's addresses too */
	uint64_t now;
	int expire; /* drop entries older than maxage seconds */
	uint64_t maxage;
	const char *drop; /* a canonical address to close */
	int force;	  /* rebuild the cdb even if nothing changed */
	int report;	  /* log each address added */
	/* Called, if set, as soon as the addresses are durable in the list
	 * and open in the cdb, before the rest of the housekeeping. */
	void (*opened)(void *arg);
	void *arg;
};

struct outcome {
	size_t added, dropped;
	int found; /* plan.drop was open */
};

int update(int dirfd, const struct plan *p, struct outcome *o, struct fail *f);

#endif
