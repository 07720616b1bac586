/* SPDX-License-Identifier: ISC */
/* db.h: the roam.relay table in PostgreSQL, through libpq: roamsync's
 * alone; nothing else links libpq. */
#ifndef DB_H
#define DB_H

#include <stddef.h>
#include <stdint.h>

#include "ip.h"
#include "log.h"

struct db;

/* A change to push: an address opened or refreshed age milliseconds
 * ago, or closed then. */
struct db_change {
	char ip[IP_FMTLEN];
	uint64_t age;
	int closed;
	char *account; /* a login's, or NULL; the caller's to free */
	size_t alen;
};

/* A row read back, checked: a canonical address. */
struct db_row {
	char ip[IP_FMTLEN];
	uint64_t age; /* ms before the database's now; 0 if ahead */
	int closed;
	char *account; /* who opened it, or NULL; valid for the batch */
	size_t alen;
};

/* Rows are read, checked and handed on this many at a time: a resync
 * of the whole table holds one batch, never the whole table. */
#define DB_BATCH 4096

/* A batch of rows. */
struct db_rows {
	struct db_row *v;
	size_t n;
	size_t refused; /* rows that are not addresses: one line a fetch */
	int64_t last;	/* the highest seq read so far, or the one given */
};

/* Called with each batch, in order; -1 (and f) stops the reading. */
typedef int db_each(void *arg, const struct db_rows *rows, struct fail *f);

/* What a wait on the connection found. */
enum db_wake { DB_LOST = -1, DB_QUIET = 0, DB_NOTIFIED = 1 };

struct db *db_connect(const char *conninfo, struct fail *f);
void db_close(struct db *d);
int db_socket(const struct db *d);
void db_describe(const struct db *d, char *buf, size_t size);
int db_listen(struct db *d, struct fail *f);
int db_push(struct db *d, const struct db_change *c, size_t n, struct fail *f);
int db_expire(struct db *d, uint64_t maxage, struct fail *f);
int db_fetch(struct db *d, int64_t since, db_each *each, void *arg,
	     struct fail *f);
int db_fetch_pushed(struct db *d, const struct db_change *c, size_t n,
		    db_each *each, void *arg, struct fail *f);
enum db_wake db_wake(struct db *d, struct fail *f);
int db_install(const char *conninfo, struct fail *f);

#endif
