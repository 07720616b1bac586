/* SPDX-License-Identifier: ISC */
/* clearopensmtp.c: expires, lists and closes open relay entries; rebuilds the
 * cdb. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/types.h>

#include "account.h"
#include "ip.h"
#include "log.h"
#include "openlist.h"
#include "outbox.h"
#include "promfile.h"
#include "roamdir.h"
#include "safe.h"
#include "stats.h"
#include "update.h"
#include "version.h"

#define MINUTES_DEFAULT 180
#define MINUTES_MAX 52560000UL /* a century */

struct options {
	unsigned long minutes;
	int dry, list, force, stats;
	const char *close_ip;
	const char *prom; /* -p: the figures' file */
	const char *dir;
	const char *account; /* -u */
	const char *var;     /* ROAM_ACCOUNT_ENV's; NULL: no accounts */
};

static void
usage(void)
{
	log_fatal(100, "usage: clearopensmtp [-m MINUTES] [-n] [-l] [-d IP] "
		       "[-u ACCOUNT] [-f] [-s] [-p FILE] | -V");
}

static int
scan_minutes(const char *s, unsigned long *u)
{
	return ulong0_scan(s, u) && *u <= MINUTES_MAX;
}

static void
bad_value(const char *what, const char *value)
{
	char safe[LOG_SAFE];

	log_sanitize(safe, sizeof safe, value, strlen(value));
	log_fatal(100, "bad ", what, ": ", safe);
}

/* "IP AGE LEFT", and the account in double quotes (bytes outside
 * printable ASCII, '"' and '\\' as \xHH) where the line names one. */
static void
print_entry(const struct openentry *e, uint64_t now, uint64_t maxage,
	    const char *var)
{
	uint64_t age = now > e->ts ? now - e->ts : 0;
	uint64_t left = age < maxage ? maxage - age : 0;
	char name[OPENLIST_RULEMAX + 1], safe[4 * OPENLIST_RULEMAX + 8];
	long n = var ? openlist_var(e, var, name, sizeof name) : -1;

	if (n >= 0)
		log_sanitize(safe, sizeof safe, name, (size_t)n);
	printf("%s %llu %llu%s%s\n", e->ip, (unsigned long long)age,
	       (unsigned long long)left, n >= 0 ? " " : "", n >= 0 ? safe : "");
}

/*
 * -l, -n: read the list and print; no change. No lock: the list is
 * replaced by rename, so the one read is whole.
 */
static void
show(const struct options *o, const char *drop, uint64_t now, uint64_t maxage)
{
	struct openlist_cursor c = {0};
	struct openentry e;
	struct fail f;
	char *text;
	enum line_kind r;
	int dirfd;

	if ((dirfd = roamdir_open(o->dir, &f)) == -1 ||
	    safe_dir(dirfd, o->dir, &f) == -1)
		log_fatal(f.code, f.msg);
	if (roamdir_read(dirfd, ROAM_LIST, 0, &text, &c.len, 0, &f) == -1)
		log_fatal(f.code, f.msg);
	close(dirfd);
	c.text = text;
	while ((r = openlist_next(&c, &e)) != LINE_EMPTY) {
		if (r != LINE_BAD &&
		    (o->list || (drop && strcmp(e.ip, drop) == 0) ||
		     (!drop && now > e.ts && now - e.ts > maxage)))
			print_entry(&e, now, maxage, o->var);
	}
	openlist_report(ROAM_LIST, &c.bad,
			"unreadable line kept out of the rules",
			"unreadable lines kept out of the rules");
	free(text);
}

/* -d: the close goes to the outbox, if roamsync made one, for the other
 * hosts, even if the address was not open here; at the moment it is done
 * here, to the millisecond. */
static void
share_close(const char *dir, const char *ip)
{
	struct fail f;

	if (outbox_add_close(dir, ip, outbox_now_ms(), &f) == OUTBOX_FAILED) {
		const char *why = "here, but unable to pass the close on to "
				  "roamsync: ";

		log_fatal(111, "closed ", ip, " ", why, f.msg);
	}
}

/* -u: the addresses the account had open, for the other hosts. */
struct closed {
	char (*ip)[IP_FMTLEN];
	size_t n, cap;
	int nomem;
};

static void
note_closed(void *arg, const char *ip)
{
	struct closed *c = arg;

	if (c->n == c->cap) {
		size_t cap = 2 * c->cap + 16;
		char(*v)[IP_FMTLEN] = realloc(c->ip, cap * sizeof *v);

		if (!v) {
			c->nomem = 1;
			return;
		}
		c->ip = v;
		c->cap = cap;
	}
	memcpy(c->ip[c->n++], ip, IP_FMTLEN);
}

/* -u: every address the account opened, closed here, then passed on to
 * roamsync's outbox as -d passes one on. */
static void
close_account(const struct options *o, uint64_t now)
{
	struct account a = {
	    .var = o->var, .name = o->account, .len = strlen(o->account)};
	struct closed c = {0};
	struct plan plan = {
	    .now = now, .account = &a, .closed = note_closed, .arg = &c};
	struct outcome out;
	struct fail f;
	char safe[LOG_SAFE];

	if (update_admin(o->dir, &plan, &out, &f) == -1)
		log_fatal(f.code, f.msg);
	log_sanitize(safe, sizeof safe, o->account, a.len);
	if (!out.found)
		log_warn("no address is open for ", safe);
	if (c.nomem)
		log_fatal(111, "closed the addresses of ", safe,
			  " here, but out of memory to pass them on to "
			  "roamsync");
	for (size_t i = 0; i < c.n; i++)
		share_close(o->dir, c.ip[i]);
	free(c.ip);
}

/*
 * -s, -p: the figures, printed or written for node_exporter's textfile
 * collector. Read without a lock, as -l.
 */
static void
figures(const struct options *o, struct promfile *pf, uint64_t now,
	uint64_t maxage)
{
	struct stats st = {.now = now, .maxage = maxage};
	struct promfmt p = {0};
	struct fail f;

	if (!(st.account_env = getenv("ROAM_ACCOUNT_ENV")))
		st.account_env = ACCOUNT_ENV_DEFAULT;
	if (stats_gather(&st, o->dir, &f) == -1)
		log_fatal(f.code, f.msg);
	if (o->stats)
		stats_print(&st, stdout);
	if (o->prom) {
		stats_prom(&st, &p);
		if (p.nomem)
			log_fatal(111, "unable to write ", o->prom,
				  ": out of memory");
		if (promfile_write(pf, p.buf, p.len, 1, &f) == -1)
			log_fatal(f.code, f.msg);
		close(pf->dirfd);
	}
	promfmt_free(&p);
	stats_free(&st);
}

/* Expiry and -d drop entries; every run then builds the cdb. */
static void
run(const struct options *o)
{
	struct outcome out;
	struct promfile pf;
	struct fail f;
	char ip[IP_FMTLEN];
	const char *drop = 0;
	uint64_t now = (uint64_t)time(0), maxage = o->minutes * 60;

	if (o->close_ip) {
		if (!ip_canonical(ip, o->close_ip, strlen(o->close_ip)))
			bad_value("address", o->close_ip);
		if (!ip_alone(ip))
			log_fatal(100, ip,
				  " is never open: tcpserver also "
				  "takes the rule of an address ending in "
				  "\"::\" as a prefix; a line of the list for "
				  "it is kept out of the rules: remove it by "
				  "hand");
		drop = ip;
	}
	/* A bad -p changes nothing. */
	if (o->prom && promfile_open(&pf, o->prom, &f) == -1)
		log_fatal(f.code, f.msg);
	if (o->account) {
		close_account(o, now);
	} else if (o->list || o->dry) {
		show(o, drop, now, maxage);
	} else if (!o->stats) {
		struct plan plan = {.now = now,
				    .expire = !drop,
				    .maxage = maxage,
				    .drop = drop};

		if (update_admin(o->dir, &plan, &out, &f) == -1)
			log_fatal(f.code, f.msg);
		if (drop && !out.found)
			log_warn(drop, " is not open");
		if (drop)
			share_close(o->dir, drop);
	}
	if (o->stats || o->prom)
		figures(o, &pf, now, maxage);
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatal(111, "unable to write to standard output");
}

/* ROAM_ACCOUNT_ENV: the variable the list names accounts in, or NULL. */
static const char *
account_var(void)
{
	const char *v = getenv("ROAM_ACCOUNT_ENV");

	if (!v)
		return ACCOUNT_VAR_DEFAULT;
	if (*v && !account_var_ok(v))
		bad_value("ROAM_ACCOUNT_ENV", v);
	return *v ? v : 0;
}

/* -u needs the account in the list: a usage error without it. */
static void
check_account(const struct options *o)
{
	if (!o->account)
		return;
	if (!*o->account)
		log_fatal(100, "-u: the account's name is empty");
	if (!o->var)
		log_fatal(100, "-u needs the account in the list, and "
			       "ROAM_ACCOUNT_ENV is empty: close each "
			       "address with -d");
}

int
main(int argc, char **argv)
{
	struct options o = {.minutes = MINUTES_DEFAULT};
	const char *s;
	int c;

	log_prog = "clearopensmtp";
	/* Past a file size limit, fail the write and report it; do not die. */
	signal(SIGXFSZ, SIG_IGN);
	if ((s = getenv("ROAM_MINUTES")) && *s && !scan_minutes(s, &o.minutes))
		bad_value("ROAM_MINUTES", s);
	while ((c = getopt(argc, argv, "m:nld:u:fVsp:")) != -1) {
		switch (c) {
		case 'm':
			if (!scan_minutes(optarg, &o.minutes))
				bad_value("minutes", optarg);
			break;
		case 'n':
			o.dry = 1;
			break;
		case 'l':
			o.list = 1;
			break;
		case 'd':
			o.close_ip = optarg;
			break;
		case 'f':
			o.force = 1;
			break;
		case 'u':
			o.account = optarg;
			break;
		case 's':
			o.stats = 1;
			break;
		case 'p':
			o.prom = optarg;
			break;
		case 'V':
			version_print(log_prog);
		default:
			usage();
		}
	}
	if (optind != argc || (o.list && (o.dry || o.force || o.close_ip)) ||
	    (o.account &&
	     (o.list || o.dry || o.force || o.close_ip || o.stats || o.prom)) ||
	    ((o.list || o.dry) && o.prom) ||
	    (o.stats && (o.list || o.dry || o.force || o.close_ip)))
		usage();
	o.var = account_var();
	o.dir = roamdir_path();
	check_account(&o);
	run(&o);
	return 0;
}
