/* SPDX-License-Identifier: ISC */
/* db.c: the roam.relay table in PostgreSQL, through libpq: roamsync's
 * alone; nothing else links libpq. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "account.h"
#include "db.h"
#include "roamsync-sql.h"

/* Set for every connection, before ROAM_PG, which may change them: a
 * dead server or network is noticed within about 20 s. */
static const char *const conn_keys[] = {
    "connect_timeout",		 "keepalives",	     "keepalives_idle",
    "keepalives_interval",	 "keepalives_count", "tcp_user_timeout",
    "fallback_application_name", "dbname",	     0};
#define CONN_VALUES "5", "1", "10", "5", "3", "20000", "roamsync"

/* A statement that takes longer is cancelled: the connection is then
 * taken as lost. */
#define SET_TIMEOUT "SET statement_timeout = '30s'"

#define SQL_LISTEN "LISTEN roam"

/* The database's clock, in milliseconds since the epoch: now() is the
 * statement's start, clock_timestamp() the moment it is read. */
#define NOW_MS "floor(extract(epoch FROM now()) * 1000)::bigint"
#define CLOCK_MS "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
/* A time further ahead than a day is a bad clock or a planted row: it is
 * taken as now, as the list's lines are. */
#define DAY_MS "86400000"
#define NOT_FUTURE(t)                                                          \
	"CASE WHEN " t " > " NOW_MS " + " DAY_MS " THEN " NOW_MS " ELSE " t    \
	" END"

/* Each change in one row: of an address's changes, strictly the later, by
 * the database's clock in milliseconds, wins; on an exact tie a close
 * wins, here and against the row. An open row keeps the account that
 * opened it, as a list line does; the accounts go in hex (bytea: any
 * bytes, whatever the database's encoding). */
#define SQL_PUSH                                                               \
	"INSERT INTO roam.relay AS r (ip, at_ms, closed, account) "            \
	"SELECT DISTINCT ON (u.ip) u.ip, t.now - u.age, u.closed, "            \
	"decode(u.account, 'hex') "                                            \
	"FROM unnest($1::text[], $2::bigint[], $3::boolean[], $4::text[]) "    \
	"WITH ORDINALITY AS u(ip, age, closed, account, n), "                  \
	"(SELECT " NOW_MS " AS now) AS t "                                     \
	"ORDER BY u.ip, u.age, u.closed DESC, u.n DESC "                       \
	"ON CONFLICT (ip) DO UPDATE "                                          \
	"SET at_ms = excluded.at_ms, closed = excluded.closed, "               \
	"account = CASE WHEN r.closed OR r.account IS NULL "                   \
	"THEN excluded.account ELSE r.account END "                            \
	"WHERE excluded.at_ms > " NOT_FUTURE(                                  \
	    "r.at_ms") " "                                                     \
		       "OR (excluded.at_ms = r.at_ms AND excluded.closed AND " \
		       "NOT r.closed)"

/* Rows more than a day ahead brought to now, so that they expire. */
#define SQL_UNFUTURE                                                           \
	"UPDATE roam.relay SET at_ms = " NOW_MS " "                            \
	"WHERE at_ms > " NOW_MS " + " DAY_MS

#define SQL_EXPIRE                                                             \
	"DELETE FROM roam.relay "                                              \
	"WHERE at_ms < " NOW_MS " - $1::bigint * 1000"

/* Read through a cursor, DB_BATCH rows at a time; the ages as each batch
 * is fetched, not as the cursor was declared: a batch may wait for the
 * merge of the one before. */
#define SQL_FETCH                                                              \
	"DECLARE roam_rows NO SCROLL CURSOR FOR "                              \
	"SELECT ip, closed, " CLOCK_MS                                         \
	" - at_ms, seq, encode(account, 'hex') "                               \
	"FROM roam.relay WHERE seq > $1::bigint ORDER BY seq"

/* The rows of the addresses pushed, every one: the database's decision,
 * which took this host's changes into account. */
#define SQL_READBACK                                                           \
	"DECLARE roam_rows NO SCROLL CURSOR FOR "                              \
	"SELECT ip, closed, " CLOCK_MS                                         \
	" - at_ms, seq, encode(account, 'hex') "                               \
	"FROM roam.relay WHERE ip = ANY($1::text[])"

#define STR(x) #x
#define XSTR(x) STR(x)
#define SQL_FETCH_BATCH "FETCH " XSTR(DB_BATCH) " FROM roam_rows"

/* The rows a fetch refused: one line for the whole fetch. */
struct refused {
	size_t n;
	const char *why; /* the first's */
	char first[LOG_SAFE];
};

struct db {
	PGconn *conn;
	struct refused refused;
};

/* The password, wherever libpq may take it from: never logged. */
static char *secrets[2];

static void
remember_secrets(const PQconninfoOption *opts)
{
	const char *env = getenv("PGPASSWORD");

	for (; opts && opts->keyword; opts++)
		if (strcmp(opts->keyword, "password") == 0 && opts->val &&
		    *opts->val && !secrets[0])
			secrets[0] = strdup(opts->val);
	if (env && *env && !secrets[1])
		secrets[1] = strdup(env);
}

/* Replaces every copy of secret in s (room for 3 times its length) by
 * "***". */
static void
mask(char *s, const char *secret)
{
	size_t n = strlen(secret);
	char *p = s;

	while (n && (p = strstr(p, secret))) {
		memmove(p + 3, p + n, strlen(p + n) + 1);
		p[0] = p[1] = p[2] = '*';
		p += 3;
	}
}

/* Replaces all of s from its first quote to its last by ***: libpq
 * quotes every part of a connection string it cannot parse, which may
 * hold the password, and the password quotes of its own; its words
 * outside the quotes are its own. */
static void
withhold_quoted(char *s)
{
	char *p = strchr(s, '"'), *q = strrchr(s, '"');

	if (!p)
		return;
	memmove(p + 3, q + 1, strlen(q + 1) + 1);
	p[0] = p[1] = p[2] = '*';
}

/* libpq's message on one line, printable, with no password in it. */
static void
fail_pq(struct fail *f, const char *what, const char *msg, int withhold)
{
	size_t len = strlen(msg), o = 0;
	/* Room for what mask and withhold_quoted add. */
	char *s = malloc(8 * len + 16), *w;

	if (!s) {
		FAIL(f, 111, what, ": out of memory");
		return;
	}
	memcpy(s, msg, len + 1);
	for (size_t i = 0; i < 2; i++)
		if (secrets[i])
			mask(s, secrets[i]);
	if (withhold)
		withhold_quoted(s);
	for (w = s; *w; w++) {
		unsigned char c = (unsigned char)*w;

		if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
			if (o && s[o - 1] != ' ')
				s[o++] = ' ';
		} else if (c >= 0x20 && c < 0x7f) {
			s[o++] = *w;
		} else {
			s[o++] = '?';
		}
	}
	while (o && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	FAIL(f, 111, what, ": ", o ? s : "no reason given");
	free(s);
}

static void
ignore_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* One statement with its parameters; the result if it has the status
 * wanted, else NULL and the failure. */
static PGresult *
run(struct db *d, const char *what, const char *sql, int n,
    const char *const *params, ExecStatusType want, struct fail *f)
{
	PGresult *res = PQexecParams(d->conn, sql, n, 0, params, 0, 0, 0);
	const char *sev, *primary;

	if (res && PQresultStatus(res) == want)
		return res;
	sev = res ? PQresultErrorField(res, PG_DIAG_SEVERITY) : 0;
	primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : 0;
	if (sev && primary) {
		/* The server's own words, without the statement quoted. */
		char *msg = malloc(strlen(sev) + strlen(primary) + 3);

		if (msg)
			sprintf(msg, "%s: %s", sev, primary);
		fail_pq(f, what, msg ? msg : primary, 0);
		free(msg);
	} else {
		fail_pq(f, what,
			res ? PQresultErrorMessage(res)
			    : PQerrorMessage(d->conn),
			0);
	}
	PQclear(res);
	return 0;
}

static int
run_command(struct db *d, const char *what, const char *sql, int n,
	    const char *const *params, struct fail *f)
{
	PGresult *res = run(d, what, sql, n, params, PGRES_COMMAND_OK, f);

	PQclear(res);
	return res ? 0 : -1;
}

/* Whether libpq takes s as a connection string rather than a database
 * name, as its documentation says. */
static int
is_conninfo(const char *s)
{
	return strchr(s, '=') || strncmp(s, "postgresql://", 13) == 0 ||
	       strncmp(s, "postgres://", 11) == 0;
}

/* ROAM_PG parsed: a malformed one is reported with its quoted parts
 * withheld. */
static int
check_conninfo(const char *conninfo, struct fail *f)
{
	PQconninfoOption *opts;
	char *err = 0;

	if (!is_conninfo(conninfo))
		return 0;
	if (!(opts = PQconninfoParse(conninfo, &err))) {
		fail_pq(f,
			"unable to use ROAM_PG: not a valid connection string",
			err ? err : "out of memory", 1);
		PQfreemem(err);
		return -1;
	}
	remember_secrets(opts);
	PQconninfoFree(opts);
	return 0;
}

/* A connection in the state roamsync expects, or NULL and the failure. */
struct db *
db_connect(const char *conninfo, struct fail *f)
{
	const char *vals[] = {CONN_VALUES, conninfo, 0};
	struct db *d;

	remember_secrets(0);
	if (check_conninfo(conninfo, f) == -1)
		return 0;
	if (!(d = calloc(1, sizeof *d))) {
		FAILSYS(f, "unable to connect to the database");
		return 0;
	}
	d->conn = PQconnectdbParams(conn_keys, vals, 1);
	if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
		fail_pq(f, "unable to connect to the database",
			d->conn ? PQerrorMessage(d->conn) : "out of memory", 0);
		db_close(d);
		return 0;
	}
	PQsetNoticeProcessor(d->conn, ignore_notice, 0);
	if (run_command(d, "unable to set the statement timeout", SET_TIMEOUT,
			0, 0, f) == -1) {
		db_close(d);
		return 0;
	}
	return d;
}

void
db_close(struct db *d)
{
	if (!d)
		return;
	PQfinish(d->conn);
	free(d);
}

int
db_socket(const struct db *d)
{
	return PQsocket(d->conn);
}

/* "database DB on HOST port PORT as USER", printable. */
void
db_describe(const struct db *d, char *buf, size_t size)
{
	const char *parts[] = {PQdb(d->conn), PQhost(d->conn), PQport(d->conn),
			       PQuser(d->conn)};
	char safe[4][LOG_SAFE];

	for (size_t i = 0; i < 4; i++) {
		const char *p = parts[i] ? parts[i] : "";

		log_sanitize(safe[i], sizeof safe[i], p, strlen(p));
	}
	snprintf(buf, size, "database %s on %s port %s as %s", safe[0], safe[1],
		 safe[2], safe[3]);
}

/* LISTEN, committed at once (autocommit): before the state is read. */
int
db_listen(struct db *d, struct fail *f)
{
	return run_command(d, "unable to listen", SQL_LISTEN, 0, 0, f);
}

/* "{a,b}" of n items, each written by put into room bytes at most. */
static char *
array_of(const struct db_change *c, size_t n, size_t room,
	 size_t (*put)(char *, const struct db_change *))
{
	char *s = malloc(n * (room + 1) + 3), *p = s;

	if (!s)
		return 0;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p += put(p, &c[i]);
	}
	*p++ = '}';
	*p = '\0';
	return s;
}

/* A canonical address holds no character an array literal quotes. */
static size_t
put_ip(char *p, const struct db_change *c)
{
	size_t n = strlen(c->ip);

	memcpy(p, c->ip, n);
	return n;
}

static size_t
put_age(char *p, const struct db_change *c)
{
	return (size_t)sprintf(p, "%llu", (unsigned long long)c->age);
}

static size_t
put_closed(char *p, const struct db_change *c)
{
	*p = c->closed ? 't' : 'f';
	return 1;
}

/* An account in hex, or NULL: nothing an array literal quotes. */
static size_t
put_account(char *p, const struct db_change *c)
{
	static const char hex[] = "0123456789abcdef";

	if (!c->account || !c->alen)
		return (size_t)sprintf(p, "NULL");
	for (size_t i = 0; i < c->alen; i++) {
		unsigned char b = (unsigned char)c->account[i];

		p[2 * i] = hex[b >> 4];
		p[2 * i + 1] = hex[b & 15];
	}
	return 2 * c->alen;
}

/* The changes, in one statement. */
int
db_push(struct db *d, const struct db_change *c, size_t n, struct fail *f)
{
	char *params[4] = {
	    array_of(c, n, IP_FMTLEN, put_ip), array_of(c, n, 20, put_age),
	    array_of(c, n, 1, put_closed),
	    array_of(c, n, (size_t)2 * ACCOUNT_MAX, put_account)};
	int r = -1;

	if (!params[0] || !params[1] || !params[2] || !params[3])
		FAILSYS(f, "unable to push the changes");
	else
		r = run_command(d, "unable to push the changes", SQL_PUSH, 4,
				(const char *const *)params, f);
	for (size_t i = 0; i < 4; i++)
		free(params[i]);
	return r;
}

/* Rows more than a day ahead taken as now; then rows older than maxage
 * seconds, open or closed, deleted. */
int
db_expire(struct db *d, uint64_t maxage, struct fail *f)
{
	char age[24];
	const char *params[] = {age};

	snprintf(age, sizeof age, "%llu", (unsigned long long)maxage);
	if (run_command(d, "unable to expire roam.relay", SQL_UNFUTURE, 0, 0,
			f) == -1)
		return -1;
	return run_command(d, "unable to expire roam.relay", SQL_EXPIRE, 1,
			   params, f);
}

/* A signed decimal that fits in 64 bits, all of s. */
static int
scan_i64(const char *s, int64_t *v)
{
	int neg = *s == '-';
	uint64_t u = 0;

	s += neg;
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || u > (uint64_t)INT64_MAX / 10)
			return 0;
		u = u * 10 + (uint64_t)(*s - '0');
	}
	if (u > (uint64_t)INT64_MAX)
		return 0;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return 1;
}

/* Why a row is refused: 0 if it is one address, open or closed. */
static const char *
refusal(const PGresult *res, int i, struct db_row *out)
{
	const char *ip = PQgetvalue(res, i, 0), *closed = PQgetvalue(res, i, 1);
	int64_t age;

	if (!ip_canonical(out->ip, ip, (size_t)PQgetlength(res, i, 0)))
		return "not an IP address: ";
	if (!ip_alone(out->ip))
		return "an IPv6 address ending in :: is also a prefix to "
		       "tcpserver, which no rule opens alone: ";
	if ((strcmp(closed, "t") != 0 && strcmp(closed, "f") != 0) ||
	    !scan_i64(PQgetvalue(res, i, 2), &age))
		return "unreadable: ";
	out->closed = closed[0] == 't';
	out->age = age > 0 ? (uint64_t)age : 0;
	return 0;
}

/* A hex digit's value, or -1. */
static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The row's account from its hex, into out->account (malloc'd), if it is
 * one a list line can hold: 1 to ACCOUNT_MAX bytes, no control byte.
 * Any other is left out; the row stands. */
static void
take_account(const char *h, size_t n, struct db_row *out)
{
	char *a;

	out->account = 0;
	out->alen = 0;
	if (n == 0 || n % 2 || n / 2 > ACCOUNT_MAX || !(a = malloc(n / 2 + 1)))
		return;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = unhex(h[2 * i]), lo = unhex(h[2 * i + 1]);

		if (hi < 0 || lo < 0 || hi * 16 + lo < 0x20 ||
		    hi * 16 + lo == 0x7f) {
			free(a);
			return;
		}
		a[i] = (char)(hi * 16 + lo);
	}
	a[n / 2] = '\0';
	out->account = a;
	out->alen = n / 2;
}

/* One row checked into out; a refused one is counted, the first kept
 * for the fetch's one line. */
static int
take_row(const PGresult *res, int i, struct db_row *out, int64_t *seq,
	 struct refused *r)
{
	const char *why = refusal(res, i, out);

	if (!scan_i64(PQgetvalue(res, i, 3), seq))
		*seq = 0;
	if (!why) {
		take_account(PQgetvalue(res, i, 4),
			     (size_t)PQgetlength(res, i, 4), out);
		return 1;
	}
	if (!r->n++) {
		r->why = why;
		log_sanitize(r->first, sizeof r->first, PQgetvalue(res, i, 0),
			     (size_t)PQgetlength(res, i, 0));
	}
	return 0;
}

/* The rows of one FETCH, checked, appended to rows (room for n). */
static void
take_rows(const PGresult *res, int n, struct db_rows *rows, struct refused *r)
{
	for (int i = 0; i < n; i++) {
		int64_t seq;

		if (take_row(res, i, &rows->v[rows->n], &seq, r))
			rows->n++;
		else
			rows->refused++;
		if (seq > rows->last)
			rows->last = seq;
	}
}

/* The rows a fetch refused, in one line: how many, and the first. */
static void
report_refused(const struct refused *r)
{
	char num[24];

	if (r->n == 1)
		log_warn("refusing a row of roam.relay: ", r->why, r->first);
	if (r->n < 2)
		return;
	snprintf(num, sizeof num, "%zu", r->n);
	log_warn("refusing ", num, " rows of roam.relay; the first: ", r->why,
		 r->first);
}

/* The rows of the cursor opened, DB_BATCH at a time, each batch handed to
 * each; rows->last carries over from batch to batch. */
static int
fetch_batches(struct db *d, struct db_rows *rows, db_each *each, void *arg,
	      struct fail *f)
{
	PGresult *res;
	int n, r;

	do {
		res = run(d, "unable to read roam.relay", SQL_FETCH_BATCH, 0, 0,
			  PGRES_TUPLES_OK, f);
		if (!res)
			return -1;
		n = PQntuples(res);
		rows->n = rows->refused = 0;
		take_rows(res, n, rows, &d->refused);
		PQclear(res);
		r = n ? each(arg, rows, f) : 0;
		for (size_t i = 0; i < rows->n; i++)
			free(rows->v[i].account);
		if (r == -1)
			return -1;
	} while (n == DB_BATCH);
	return 0;
}

/* The rows a query gives, checked, through a cursor: a batch at a time,
 * so that a resync of the whole table never holds all of it. One
 * snapshot for all the batches: the rows as of the query's start. */
static int
fetch(struct db *d, const char *sql, int nparams, const char *const *params,
      int64_t since, db_each *each, void *arg, struct fail *f)
{
	struct db_rows rows = {.last = since};
	int r;

	if (!(rows.v = calloc(DB_BATCH, sizeof *rows.v))) {
		FAILSYS(f, "unable to read roam.relay");
		return -1;
	}
	d->refused = (struct refused){0};
	r = run_command(d, "unable to read roam.relay", "BEGIN", 0, 0, f);
	if (r == 0)
		r = run_command(d, "unable to read roam.relay", sql, nparams,
				params, f);
	if (r == 0)
		r = fetch_batches(d, &rows, each, arg, f);
	if (r == 0)
		r = run_command(d, "unable to read roam.relay", "COMMIT", 0, 0,
				f);
	else
		PQclear(PQexec(d->conn, "ROLLBACK"));
	report_refused(&d->refused);
	free(rows.v);
	return r;
}

/* The rows changed after seq since, in order, a batch at a time. */
int
db_fetch(struct db *d, int64_t since, db_each *each, void *arg, struct fail *f)
{
	char arg_since[24];
	const char *params[] = {arg_since};

	snprintf(arg_since, sizeof arg_since, "%lld", (long long)since);
	return fetch(d, SQL_FETCH, 1, params, since, each, arg, f);
}

/* The rows of the addresses of changes just pushed, every one: the
 * database's decision, which took them into account. A change that lost
 * to a later one elsewhere is undone here; one that a row pulled in the
 * same second undid here is put back. */
int
db_fetch_pushed(struct db *d, const struct db_change *c, size_t n,
		db_each *each, void *arg, struct fail *f)
{
	char *ips = array_of(c, n, IP_FMTLEN, put_ip);
	const char *params[] = {ips};
	int r = -1;

	if (!ips)
		FAILSYS(f, "unable to read roam.relay");
	else
		r = fetch(d, SQL_READBACK, 1, params, 0, each, arg, f);
	free(ips);
	return r;
}

/* After poll() found the socket readable: whether a change was notified,
 * or the connection is gone. */
enum db_wake
db_wake(struct db *d, struct fail *f)
{
	PGnotify *n;
	enum db_wake r = DB_QUIET;
	int self = PQbackendPID(d->conn);

	if (!PQconsumeInput(d->conn) || PQstatus(d->conn) == CONNECTION_BAD) {
		fail_pq(f, "lost the database", PQerrorMessage(d->conn), 0);
		return DB_LOST;
	}
	/* Our own changes are read back as they are pushed. */
	while ((n = PQnotifies(d->conn))) {
		if (n->be_pid != self)
			r = DB_NOTIFIED;
		PQfreemem(n);
	}
	return r;
}

/* roamsync -i: the schema created or brought up to date. */
int
db_install(const char *conninfo, struct fail *f)
{
	struct db *d = db_connect(conninfo, f);
	int r;

	if (!d)
		return -1;
	r = run_command(d, "unable to install the schema roam", roamsync_sql, 0,
			0, f);
	db_close(d);
	return r;
}
