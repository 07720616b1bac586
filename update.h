/* SPDX-License-Identifier: ISC */
/* update.h: every change to the open list, under the writers' lock: a
 * login's address refreshed in place or appended, other hosts' changes
 * merged, entries expired or closed; then a build that covers them. */
#ifndef UPDATE_H
#define UPDATE_H

#include <stdint.h>

#include "log.h"
#include "openlist.h"

/* An account, as a list line's rule names it in the variable var. */
struct account {
	const char *var;  /* NULL: the list names no accounts */
	const char *name; /* NULL: none known */
	size_t len;
	unsigned long max; /* addresses it may hold open; 0: no limit */
};

/* clearopensmtp's changes. */
struct plan {
	uint64_t now;
	int expire; /* drop entries older than maxage seconds */
	uint64_t maxage;
	const char *drop;	       /* a canonical address to close */
	const struct account *account; /* an account whose addresses close */
	void (*closed)(void *arg, const char *ip); /* each of them */
	void *arg;
};

struct outcome {
	size_t added, dropped;
	size_t refreshed; /* in place */
	int found;	  /* plan.drop was open */
	int limited;	  /* the account holds its most: nothing opened */
	size_t held;	  /* the addresses the account holds open */
};

/* What roamsync brings from the other hosts. */
struct arrivals {
	const struct openentry *open; /* opened or refreshed there */
	size_t nopen;
	const struct openentry *closed; /* closed there, at ts */
	size_t nclosed;
	uint64_t now;
};

/* What a login's recorder is told: its address is in the list (before
 * the build), then open in the cdb. */
struct login_hooks {
	void (*listed)(void *arg);
	void (*opened)(void *arg);
	void *arg;
};

int update_login(const char *dir, const struct openentry *me,
		 const struct account *acct, const struct login_hooks *h,
		 struct outcome *o, struct fail *f);
int update_admin(const char *dir, const struct plan *p, struct outcome *o,
		 struct fail *f);
int update_merge(const char *dir, const struct arrivals *a, struct outcome *o,
		 struct fail *f);

#endif
