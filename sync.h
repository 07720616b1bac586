/* SPDX-License-Identifier: ISC */
/* sync.h: roamsync's work: this host's logins and closes pushed to the
 * database, the other hosts' merged here. */
#ifndef SYNC_H
#define SYNC_H

#include <stdint.h>

struct sync_config {
	const char *dir;      /* ROAM_DIR */
	const char *conninfo; /* ROAM_PG */
	const char *rule;     /* a new address's: "allow,..." */
	const char *var;      /* the account's variable; NULL: none */
	uint64_t maxage;      /* seconds; older rows are deleted */
	const char *prom;     /* -p: the figures' file, or NULL */
};

void sync_run(const struct sync_config *cf) __attribute__((noreturn));

#endif
