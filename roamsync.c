/* SPDX-License-Identifier: ISC */
/* roamsync.c: shares the open relay list of several hosts through
 * PostgreSQL: this host's logins and closes out, the others' in. */
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <skalibs/types.h>

#include "account.h"
#include "db.h"
#include "log.h"
#include "openlist.h"
#include "roamdir.h"
#include "sync.h"
#include "version.h"

#define MINUTES_DEFAULT 180
#define MINUTES_MAX 52560000UL /* a century, as clearopensmtp */

static void
usage(void)
{
	log_fatal(100, "usage: roamsync [-i] [-m MINUTES] [-p FILE] | -V");
}

static void
bad_value(const char *what, const char *value, const char *why)
{
	char safe[LOG_SAFE];

	log_sanitize(safe, sizeof safe, value, strlen(value));
	log_fatal(100, "bad ", what, " ", safe, ": ", why);
}

static unsigned long
minutes_of(const char *what, const char *s)
{
	unsigned long u;

	if (!ulong0_scan(s, &u) || u > MINUTES_MAX)
		bad_value(what, s, "not a number of minutes up to 52560000");
	return u;
}

/* roamsync -i: the schema, then exit. */
static void
install(const char *conninfo)
{
	struct fail f;

	if (db_install(conninfo, &f) == -1)
		log_fatal(f.code, f.msg);
	log_info("the schema roam is up to date");
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct sync_config cf = {0};
	unsigned long minutes = MINUTES_DEFAULT;
	const char *s, *env;
	char *rule;
	int c, schema = 0;

	log_prog = "roamsync";
	/* A long-lived process: the list read and a build's buffers go
	 * back to the system when freed. glibc would otherwise raise its
	 * threshold to the largest block freed and keep such blocks in the
	 * heap (bench/cluster: 16 MiB private where a build needs 10). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	opterr = 0;
	signal(SIGPIPE, SIG_IGN);
	/* Past a file size limit, fail the write and report it; do not die. */
	signal(SIGXFSZ, SIG_IGN);
	if ((s = getenv("ROAM_MINUTES")) && *s)
		minutes = minutes_of("ROAM_MINUTES", s);
	while ((c = getopt(argc, argv, "im:p:V")) != -1) {
		if (c == 'i')
			schema = 1;
		else if (c == 'm')
			minutes = minutes_of("minutes", optarg);
		else if (c == 'p')
			cf.prom = optarg;
		else if (c == 'V')
			version_print(log_prog);
		else
			usage();
	}
	if (optind != argc)
		usage();
	if (!(cf.conninfo = getenv("ROAM_PG")))
		log_fatal(100, "ROAM_PG is not set: it names the database, as "
			       "a libpq connection string or URI");
	if (schema)
		install(cf.conninfo);
	env = getenv("ROAM_RELAY_ENV");
	if (openlist_relay_rule(env, &rule) != RULE_OK)
		bad_value("ROAM_RELAY_ENV", env ? env : "",
			  "not NAME=\"value\",... as tcprules takes");
	cf.rule = rule;
	cf.var = ACCOUNT_VAR_DEFAULT;
	if ((env = getenv("ROAM_ACCOUNT_ENV")) && !*env)
		cf.var = 0;
	else if (env && !account_var_ok(env))
		bad_value("ROAM_ACCOUNT_ENV", env,
			  "not a variable's name (letters, digits, _)");
	else if (env)
		cf.var = env;
	cf.dir = roamdir_path();
	cf.maxage = (uint64_t)minutes * 60;
	sync_run(&cf);
}
