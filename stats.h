/* stats.h: the figures of a roam directory, read without a lock, for
 * clearopensmtp -s and -p. */
/* SPDX-License-Identifier: ISC */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "promfmt.h"

/* The variable of a list line's rule that names its account. */
#define ACCOUNT_ENV_DEFAULT "ROAMUSER"
/* How many accounts are shown: the ones with the most addresses. */
#define STATS_TOP 10

/* Open addresses by age: under 10 minutes, under an hour, up to the
 * expiry (the first two bounds no later than it), past it. */
enum stats_age { AGE_10M, AGE_1H, AGE_LIVE, AGE_EXPIRED, AGE_BUCKETS };

struct stats_file {
	int present;
	uint64_t size, mtime; /* bytes, seconds since the epoch */
};

struct stats_account {
	char *name;
	size_t len, n;
};

struct stats {
	uint64_t now, maxage;	 /* seconds */
	const char *account_env; /* "" when accounts are not recorded */
	size_t open, byage[AGE_BUCKETS], bad;
	size_t accounts, without; /* distinct accounts; lines with none */
	struct stats_account top[STATS_TOP];
	size_t ntop;
	struct stats_file list, cdb;
	size_t waiting; /* good lines whose address the cdb lacks */
	struct stats_file outbox, sending;
	size_t outbox_lines, sending_lines;
};

int stats_gather(struct stats *s, const char *dir, struct fail *f);
void stats_print(const struct stats *s, FILE *out);
void stats_prom(const struct stats *s, struct promfmt *p);
void stats_free(struct stats *s);
int stats_lines(int dirfd, const char *name, struct stats_file *sf,
		size_t *lines);

#endif
