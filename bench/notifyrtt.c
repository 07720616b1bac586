/* SPDX-License-Identifier: ISC */
/* notifyrtt.c: the round trip of a PostgreSQL notification (benchmark
 * only, never installed): one connection LISTENs, another NOTIFYs, and
 * the time from just before the NOTIFY is sent to the notification read
 * on the first is printed, in ns, one line a repetition.
 *
 * Usage: notifyrtt CONNINFO REPS
 * Exit 0, 100 for bad usage, 111 on a failure. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

static void
die(const char *what, PGconn *c)
{
	fprintf(stderr, "notifyrtt: fatal: %s: %s", what,
		c ? PQerrorMessage(c) : "\n");
	exit(111);
}

static long long
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die(sql, c);
	PQclear(r);
}

/* Blocks until c has a notification. */
static void
await(PGconn *c)
{
	PGnotify *n;

	for (;;) {
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};

		if (!PQconsumeInput(c))
			die("consume", c);
		if ((n = PQnotifies(c))) {
			PQfreemem(n);
			return;
		}
		if (poll(&p, 1, 5000) <= 0)
			die("no notification within 5 s", 0);
	}
}

int
main(int argc, char **argv)
{
	PGconn *listener, *sender;
	int reps = argc == 3 ? atoi(argv[2]) : 0;

	if (reps <= 0) {
		fprintf(stderr, "usage: notifyrtt CONNINFO REPS\n");
		return 100;
	}
	listener = PQconnectdb(argv[1]);
	sender = PQconnectdb(argv[1]);
	if (PQstatus(listener) != CONNECTION_OK)
		die("connect", listener);
	if (PQstatus(sender) != CONNECTION_OK)
		die("connect", sender);
	exec_ok(listener, "LISTEN roam_bench");
	for (int i = 0; i < reps; i++) {
		long long t = now();

		exec_ok(sender, "NOTIFY roam_bench");
		await(listener);
		printf("%lld\n", now() - t);
	}
	PQfinish(listener);
	PQfinish(sender);
	return 0;
}
