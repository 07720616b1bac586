/* clearopensmtp.c: expires, lists and closes open relay entries; rebuilds the
 * cdb. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/types.h>

#include "ip.h"
#include "log.h"
#include "openlist.h"
#include "rebuild.h"
#include "roamdir.h"

#ifndef ROAM_DIR_DEFAULT
#define ROAM_DIR_DEFAULT "/var/qmail/roam"
#endif

#define MINUTES_DEFAULT 180
#define MINUTES_MAX 52560000UL /* a century */

struct options {
	unsigned long minutes;
	int dry, list, force;
	const char *close_ip;
	const char *dir;
};

static void
usage(void)
{
	log_fatal(100, "usage: clearopensmtp [-m MINUTES] [-n] [-l] [-d IP] "
		       "[-f]");
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

static void
print_entry(const struct openentry *e, uint64_t now, uint64_t maxage)
{
	uint64_t age = now > e->ts ? now - e->ts : 0;
	uint64_t left = age < maxage ? maxage - age : 0;

	printf("%s %llu %llu\n", e->ip, (unsigned long long)age,
	       (unsigned long long)left);
}

/* Marks what goes: one address, or every entry older than maxage. */
static size_t
select_drops(struct openlist *l, const struct options *o, uint64_t now,
	     uint64_t maxage)
{
	size_t i, n = 0;

	if (o->close_ip) {
		char ip[IP_FMTLEN];
		long k;

		if (!ip_canonical(ip, o->close_ip, strlen(o->close_ip)))
			bad_value("address", o->close_ip);
		if ((k = openlist_find(l, ip)) < 0) {
			log_warn(ip, " is not open");
			return 0;
		}
		if (o->dry)
			print_entry(&l->e[k], now, maxage);
		else
			l->e[k].dropped = 1;
		return 1;
	}
	for (i = 0; i < l->n; i++) {
		struct openentry *e = &l->e[i];

		if (e->ip[0] && now > e->ts && now - e->ts > maxage) {
			e->dropped = !o->dry;
			n++;
			if (o->dry)
				print_entry(e, now, maxage);
		}
	}
	return n;
}

static void
list_entries(const struct openlist *l, uint64_t now, uint64_t maxage)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].ip[0])
			print_entry(&l->e[i], now, maxage);
}

/*
 * Removals rebuild the cdb before the list is written: if either step
 * fails, the entry is still listed and the next run tries again.
 */
static void
run(const struct options *o)
{
	struct fail f;
	struct openlist l;
	int dirfd, lockfd = -1;
	uint64_t now = (uint64_t)time(0), maxage = o->minutes * 60;
	size_t drops;

	if ((dirfd = roamdir_open(o->dir, &f)) == -1)
		log_fatal(f.code, f.msg);
	if (!o->list && !o->dry &&
	    (lockfd = roamdir_lock(dirfd, o->dir, ROAM_LOCK_MS, &f)) == -1)
		log_fatal(f.code, f.msg);
	if (openlist_read(&l, dirfd, &f) == -1)
		log_fatal(f.code, f.msg);
	if (o->list) {
		list_entries(&l, now, maxage);
	} else {
		drops = select_drops(&l, o, now, maxage);
		if (!o->dry && (drops || o->force)) {
			if (rebuild(dirfd, &l, &f) == -1)
				log_fatal(f.code, "unable to rebuild ",
					  ROAM_CDB, ": ", f.msg);
			if (drops && openlist_write(&l, dirfd, &f) == -1)
				log_fatal(f.code, f.msg);
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatal(111, "unable to write to standard output");
	openlist_free(&l);
	if (lockfd != -1)
		close(lockfd);
	close(dirfd);
}

int
main(int argc, char **argv)
{
	struct options o;
	const char *s;
	int c;

	log_prog = "clearopensmtp";
	/* Past a file size limit, fail the write and report it; do not die. */
	signal(SIGXFSZ, SIG_IGN);
	memset(&o, 0, sizeof o);
	o.minutes = MINUTES_DEFAULT;
	if ((s = getenv("ROAM_MINUTES")) && *s && !scan_minutes(s, &o.minutes))
		bad_value("ROAM_MINUTES", s);
	while ((c = getopt(argc, argv, "m:nld:f")) != -1) {
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
		default:
			usage();
		}
	}
	if (optind != argc || (o.list && (o.dry || o.force || o.close_ip)))
		usage();
	o.dir = getenv("ROAM_DIR");
	if (!o.dir)
		o.dir = ROAM_DIR_DEFAULT;
	run(&o);
	return 0;
}
