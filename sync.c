/* SPDX-License-Identifier: ISC */
/* sync.c: roamsync's work: this host's logins and closes pushed to the
 * database, the other hosts' merged here. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "db.h"
#include "openlist.h"
#include "outbox.h"
#include "roamdir.h"
#include "safe.h"
#include "sync.h"
#include "syncmetrics.h"
#include "update.h"

/* Retries after a failure: from 100 ms, doubling, to at most 1 s, so
 * that a database back from an outage is found within a second. */
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 1000
/* How often rows past their age are deleted from the database. */
#define EXPIRE_EVERY_MS 60000

#define WATCH_MASK                                                             \
	(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |     \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

struct sync {
	const struct sync_config *cf;
	int dirfd, inotify;
	struct db *db;	  /* NULL while the link is down */
	int64_t last;	  /* the highest seq merged */
	int reported;	  /* this outage is in the log already */
	unsigned backoff; /* ms */
	uint64_t retry_at, expire_at;
	int dirty;		  /* the outbox may hold lines */
	int check_outbox;	  /* it may be missing */
	int behind;		  /* a merge failed: pull again at retry_at */
	int resyncing;		  /* the resync's merge failed: not done yet */
	size_t resynced;	  /* the rows it merged so far */
	struct outbox_reader *rd; /* the taken outbox, a buffer at a time */
	struct db_change *batch;  /* DB_BATCH changes to push */
	size_t nbad, badline;	  /* its unreadable lines, and the first */
	char bad[LOG_SAFE];
	struct syncmetrics m; /* -p */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* This host's clock, in ms since the epoch, as the outbox's times. */
static uint64_t
wall_ms(void)
{
	return outbox_now_ms();
}

/* Whole seconds in ms; a time past what fits is taken as far ahead. */
static uint64_t
ms_of(uint64_t secs)
{
	return secs > UINT64_MAX / 1000 ? UINT64_MAX : secs * 1000;
}

/* The link is down: one line for the whole outage, then retries. */
static void
down(struct sync *s, const struct fail *f)
{
	db_close(s->db);
	s->db = 0;
	if (!s->reported)
		log_warn(f->msg, "; retrying");
	s->reported = 1;
	s->retry_at = now_ms() + s->backoff;
	s->backoff =
	    s->backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : s->backoff * 2;
}

/* A change from a time in ms on this host's clock: its age, so that the
 * database dates it by its own clock. A time ahead is taken as now. */
static void
change_of(struct db_change *c, const char *ip, uint64_t ms, int closed,
	  uint64_t now)
{
	memcpy(c->ip, ip, sizeof c->ip);
	c->age = now > ms ? now - ms : 0;
	c->closed = closed;
	c->account = 0;
	c->alen = 0;
}

/* A copy of a login's account for its change (the line it was read from
 * goes); none if out of memory. */
static void
account_to(struct db_change *c, const char *a, size_t len)
{
	if (!a || !len || !(c->account = malloc(len + 1)))
		return;
	memcpy(c->account, a, len);
	c->account[len] = '\0';
	c->alen = len;
}

static void
free_accounts(struct db_change *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].account);
		c[i].account = 0;
	}
}

/* Up to DB_BATCH of the taken outbox's next lines as changes, into
 * s->batch; the malformed lines counted. -1, or how many. */
static int
outbox_batch(struct sync *s, size_t *n, struct fail *f)
{
	struct outbox_event ev;
	const char *line;
	size_t len;
	uint64_t now = wall_ms();
	int r = 1;

	*n = 0;
	while (*n < DB_BATCH && (r = outbox_next(s->rd, &line, &len, f)) == 1) {
		enum outbox_kind k = outbox_parse_line(line, len, &ev);

		if (k == OUTBOX_BAD && !s->nbad++) {
			s->badline = s->rd->lineno;
			log_sanitize(s->bad, sizeof s->bad, line, len);
		} else if (k != OUTBOX_EMPTY && k != OUTBOX_BAD) {
			change_of(&s->batch[*n], ev.ip, ev.ms,
				  k == OUTBOX_CLOSE, now);
			account_to(&s->batch[(*n)++], ev.account, ev.alen);
		}
	}
	return r;
}

/* Where batches of rows go: merged here, and counted; a pull of the
 * changes in order also moves s->last past them. */
struct merging {
	struct sync *s;
	int in_order;
	int failed; /* a merge here, not the database */
	size_t n;
	uint64_t newest; /* the least age of the rows pulled, in ms */
};

static int merge_batch(void *arg, const struct db_rows *rows, struct fail *f);

/* The rows of all the pushed addresses, merged: the database's decision,
 * which took these changes into account. A change that lost to a later
 * one from another host is undone here; one that an older row, merged
 * after it came and before it was pushed, undid here is put back. */
static int
read_back(struct sync *s, const struct db_change *c, size_t n, struct fail *f)
{
	struct merging m = {.s = s, .newest = UINT64_MAX};

	return db_fetch_pushed(s->db, c, n, merge_batch, &m, f);
}

/* One line for all the unreadable lines of a taken outbox. */
static void
report_bad(struct sync *s)
{
	char n[24], num[24];

	if (!s->nbad)
		return;
	snprintf(n, sizeof n, "%zu", s->nbad);
	snprintf(num, sizeof num, "%zu", s->badline);
	log_warn(ROAM_SENDING, ": ", n,
		 s->nbad == 1 ? " unreadable line dropped, line "
			      : " unreadable lines dropped, the first line ",
		 num, ": ", s->bad);
	s->nbad = 0;
}

/* The taken outbox pushed, DB_BATCH lines a statement, each batch read
 * back: memory and a statement's time stay bounded however long it is. */
static int
push_taken(struct sync *s, struct fail *f)
{
	size_t n;
	int more = 1;

	while (more) {
		int r;

		more = outbox_batch(s, &n, f);
		r = more == -1 || (n && (db_push(s->db, s->batch, n, f) == -1 ||
					 read_back(s, s->batch, n, f) == -1));
		free_accounts(s->batch, n);
		if (r)
			return -1;
		if (n)
			syncmetrics_note(&s->m, &s->m.push_ms, wall_ms());
	}
	report_bad(s);
	return 0;
}

/*
 * The outbox's lines pushed each time it is taken: a left
 * open-smtp.outbox.sending first, then the outbox. The file is kept until
 * all its lines are pushed: a failure pushes it again from its start at
 * the next connection, which changes nothing of what was pushed (the
 * later time wins).
 */
static int
push_outbox(struct sync *s, struct fail *f)
{
	s->dirty = 0;
	for (int i = 0; i < 2; i++) {
		int r;

		if (safe_dir(s->dirfd, s->cf->dir, f) == -1 ||
		    (r = outbox_take(s->dirfd, s->rd, f)) == -1)
			return -1;
		if (r == 0)
			return 0;
		r = push_taken(s, f);
		outbox_done(s->dirfd, s->rd, r == 0);
		if (r == -1)
			return -1;
	}
	s->dirty = 1; /* more may have come meanwhile */
	return 0;
}

/* The account a list line names, for its change. */
static void
list_account(const struct sync *s, const struct openentry *e,
	     struct db_change *c)
{
	char name[ACCOUNT_MAX + 1];
	long n;

	if (!s->cf->var)
		return;
	n = openlist_var(e, s->cf->var, name, sizeof name);
	if (n > 0 && n <= ACCOUNT_MAX)
		account_to(c, name, (size_t)n);
}

/*
 * Every open address of the list, as logins at their times, DB_BATCH at
 * a time: what this host opened while the outbox was missing reaches the
 * database too. An address closed since on another host stays closed
 * there: its row is the later.
 */
static int
push_list(struct sync *s, struct fail *f)
{
	struct openlist_cursor cur = {0};
	struct openentry e;
	struct db_change *c = s->batch;
	char *text;
	size_t n = 0;
	uint64_t now = wall_ms();
	int r = 0, more = 1;

	if (roamdir_read(s->dirfd, ROAM_LIST, 0, &text, &cur.len, 0, f) == -1)
		return -1;
	if (!text)
		return 0;
	cur.text = text;
	while (r == 0 && more) {
		more = openlist_next(&cur, &e) != LINE_EMPTY;
		if (more && e.ip[0] && ip_alone(e.ip) &&
		    (now > ms_of(e.ts) ? now - ms_of(e.ts) : 0) <=
			ms_of(s->cf->maxage)) {
			change_of(&c[n], e.ip, ms_of(e.ts), 0, now);
			list_account(s, &e, &c[n++]);
		}
		if (n && (n == DB_BATCH || !more)) {
			r = db_push(s->db, c, n, f);
			free_accounts(c, n);
			n = 0;
			if (r == 0)
				syncmetrics_note(&s->m, &s->m.push_ms,
						 wall_ms());
		}
	}
	free(text);
	return r;
}

/* An open row's rule: this host's, with the row's account in the
 * account's variable, if it can be held (*own: the rule to free). */
static void
rule_of(const struct sync *s, const struct db_row *row, struct openentry *e,
	char **own)
{
	*own = 0;
	e->rule = s->cf->rule;
	if (s->cf->var && row->account &&
	    account_rule(s->cf->rule, s->cf->var, row->account, row->alen,
			 own) == ACCOUNT_OK)
		e->rule = *own;
	e->rulelen = strlen(e->rule);
}

/* Rows into arrivals: open ones younger than the expiry age, with this
 * host's rule (and their account) and a time on its clock, in whole seconds as
 * the list's; closed ones, with the second of the close: a close drops no line
 * of a later second. */
static int
merge_rows(struct sync *s, const struct db_rows *rows, struct outcome *o,
	   struct fail *f)
{
	struct openentry *v = calloc(rows->n + 1, sizeof *v);
	char **own = calloc(rows->n + 1, sizeof *own);
	uint64_t now = wall_ms();
	struct arrivals a = {.now = now / 1000};
	size_t nopen = 0, nclosed = rows->n;
	int r = 0;

	*o = (struct outcome){0};
	if (!v || !own) {
		free(v);
		free(own);
		FAILSYS(f, "unable to merge the changes");
		return -1;
	}
	for (size_t i = 0; i < rows->n; i++) {
		const struct db_row *row = &rows->v[i];
		struct openentry *e;

		if (!row->closed && row->age > ms_of(s->cf->maxage))
			continue;
		e = row->closed ? &v[--nclosed] : &v[nopen++];
		memcpy(e->ip, row->ip, sizeof e->ip);
		rule_of(s, row, e, &own[i]);
		e->ts = now > row->age ? (now - row->age) / 1000 : 0;
	}
	a.open = v;
	a.nopen = nopen;
	a.closed = v + nclosed;
	a.nclosed = rows->n - nclosed;
	if (a.nopen || a.nclosed)
		r = update_merge(s->cf->dir, &a, o, f);
	for (size_t i = 0; i < rows->n; i++)
		free(own[i]);
	free(own);
	free(v);
	return r;
}

/* One batch of rows merged. */
static int
merge_batch(void *arg, const struct db_rows *rows, struct fail *f)
{
	struct merging *m = arg;
	struct outcome o;

	if (merge_rows(m->s, rows, &o, f) == -1) {
		m->failed = 1;
		return -1;
	}
	m->n += rows->n;
	if (m->in_order)
		m->s->last = rows->last;
	for (size_t i = 0; i < rows->n; i++)
		if (rows->v[i].age < m->newest)
			m->newest = rows->v[i].age;
	return 0;
}

/* The rows changed since the last merged, merged here a batch at a time:
 * s->last moves past each batch once it is merged. -2 if a merge failed
 * (the lock timed out, a full disk) while the database did not. */
static int
pull(struct sync *s, int64_t since, size_t *count, struct fail *f)
{
	struct merging m = {.s = s, .in_order = 1, .newest = UINT64_MAX};
	int r = db_fetch(s->db, since, merge_batch, &m, f);

	if (count)
		*count = m.n;
	if (r == 0)
		syncmetrics_note(&s->m, &s->m.pull_ms, wall_ms());
	if (r == 0 && m.n)
		syncmetrics_note(&s->m, &s->m.lag_ms, m.newest);
	return r == -1 && m.failed ? -2 : r;
}

static int
expire(struct sync *s, struct fail *f)
{
	s->expire_at = now_ms() + EXPIRE_EVERY_MS;
	return db_expire(s->db, s->cf->maxage, f);
}

/* A merge of pulled rows failed (the lock held too long by logins, a
 * full disk, a bad tcp.smtp) while the database did not: the link stays,
 * and the pull is tried again from the last batch merged, with the
 * retries' delays; one line for the whole episode. */
static void
fall_behind(struct sync *s, const struct fail *f)
{
	if (!s->behind)
		log_warn(f->msg, "; retrying");
	s->behind = 1;
	s->retry_at = now_ms() + s->backoff;
	s->backoff =
	    s->backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : s->backoff * 2;
}

/* The resync done: its rows all merged. */
static void
resynced(struct sync *s)
{
	char num[24];

	snprintf(num, sizeof num, "%zu", s->resynced);
	log_info("resynced ", num, " entries");
	s->resyncing = 0;
}

/*
 * Connects and resyncs: LISTEN first, so that no change made while the
 * state is read goes unnoticed; this host's changes pushed; then the
 * whole table read and merged. A merge that fails there is retried as
 * any merge of pulled rows (catch_up), until the resync is done.
 */
static void
link_up(struct sync *s)
{
	char who[4 * LOG_SAFE];
	struct fail f;
	int r = -1;

	s->last = 0;
	s->resynced = 0;
	if (!(s->db = db_connect(s->cf->conninfo, &f)) ||
	    db_listen(s->db, &f) == -1 || push_outbox(s, &f) == -1 ||
	    push_list(s, &f) == -1 || expire(s, &f) == -1 ||
	    (r = pull(s, 0, &s->resynced, &f)) == -1) {
		down(s, &f);
		return;
	}
	db_describe(s->db, who, sizeof who);
	log_info("connected to ", who);
	syncmetrics_note(&s->m, &s->m.resyncs, s->m.resyncs + 1);
	s->reported = 0;
	s->behind = 0;
	s->backoff = RETRY_MIN_MS;
	s->resyncing = 1;
	if (r == -2)
		fall_behind(s, &f);
	else
		resynced(s);
}

/* ROAM_DIR's events: the outbox written, made, moved or removed. */
static void
read_events(struct sync *s)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(s->inotify, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
					IN_IGNORED | IN_UNMOUNT))
				log_fatal(111, s->cf->dir,
					  " was removed or moved");
			if (ev->mask & IN_Q_OVERFLOW)
				s->dirty = s->check_outbox = 1;
			if (ev->len && strcmp(ev->name, ROAM_OUTBOX) == 0)
				s->dirty = s->check_outbox = s->m.changed = 1;
			p += sizeof *ev + ev->len;
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_fatal(111,
			  "unable to read inotify events: ", strerror(errno));
}

/* Blocks until the outbox changes, a notification comes, or a timer. */
static void
wait_events(struct sync *s)
{
	struct pollfd p[2] = {
	    {.fd = s->inotify, .events = POLLIN},
	    {.fd = s->db ? db_socket(s->db) : -1, .events = POLLIN}};
	uint64_t now = now_ms(), at = s->db ? s->expire_at : s->retry_at;
	int timeout;

	if (s->db && s->behind && s->retry_at < at)
		at = s->retry_at;
	if (syncmetrics_due(&s->m) < at)
		at = syncmetrics_due(&s->m);
	timeout = at > now ? (int)(at - now) : 0;

	if (poll(p, 2, timeout) == -1) {
		if (errno != EINTR)
			log_fatal(111, "unable to poll: ", strerror(errno));
		return;
	}
	if (p[0].revents)
		read_events(s);
}

/*
 * The changes since the last merged, merged. A merge that fails here keeps
 * the link: the rows stay in the database (fall_behind). Once a resync
 * that fell behind is merged whole, it is reported done.
 */
static void
catch_up(struct sync *s)
{
	struct fail f;
	size_t n = 0;

	switch (pull(s, s->last, &n, &f)) {
	case -1:
		down(s, &f);
		break;
	case -2:
		s->resynced += n;
		fall_behind(s, &f);
		break;
	default:
		s->resynced += n;
		s->behind = 0;
		s->backoff = RETRY_MIN_MS;
		if (s->resyncing)
			resynced(s);
		break;
	}
}

/* Notifications that came, read by libpq meanwhile or waiting on the
 * socket: the changes they announce merged. */
static void
take_notifications(struct sync *s)
{
	struct fail f;

	switch (db_wake(s->db, &f)) {
	case DB_LOST:
		down(s, &f);
		break;
	case DB_NOTIFIED:
		if (!s->behind)
			catch_up(s);
		break;
	case DB_QUIET:
		break;
	}
}

/* The directory, checked, watched, and its outbox made. */
static void
start(struct sync *s)
{
	struct fail f;

	if ((s->dirfd = roamdir_open(s->cf->dir, &f)) == -1 ||
	    safe_dir(s->dirfd, s->cf->dir, &f) == -1 ||
	    outbox_create(s->dirfd, &f) == -1)
		log_fatal(f.code, f.msg);
	if (s->cf->prom && promfile_open(&s->m.pf, s->cf->prom, &f) == -1)
		log_fatal(f.code, f.msg);
	s->m.on = s->cf->prom != 0;
	if (!(s->rd = malloc(sizeof *s->rd)) ||
	    !(s->batch = calloc(DB_BATCH, sizeof *s->batch)))
		log_fatal(111, "out of memory");
	s->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify == -1 ||
	    inotify_add_watch(s->inotify, s->cf->dir, WATCH_MASK) == -1)
		log_fatal(111, "unable to watch ", s->cf->dir, ": ",
			  strerror(errno));
}

/*
 * One round: whatever is due, then a wait. The outbox is pushed before
 * any notification is taken: a row pulled then is never merged over a
 * later change of this host's still waiting in the outbox (both come at
 * once when roamsync was stopped, or busy). An event appended between a
 * push and a merge may be undone here for the few milliseconds until its
 * own push and read-back put it right.
 */
static void
step(struct sync *s)
{
	struct fail f;

	if (s->check_outbox) {
		s->check_outbox = 0;
		if (outbox_create(s->dirfd, &f) == -1)
			log_fatal(f.code, f.msg);
	}
	if (!s->db && now_ms() >= s->retry_at)
		link_up(s);
	if (s->db && s->dirty && push_outbox(s, &f) == -1)
		down(s, &f);
	if (s->db && now_ms() >= s->expire_at && expire(s, &f) == -1)
		down(s, &f);
	if (s->db && s->behind && now_ms() >= s->retry_at)
		catch_up(s);
	if (s->db)
		take_notifications(s);
	syncmetrics_flag(&s->m, &s->m.connected, s->db != 0);
	syncmetrics_flag(&s->m, &s->m.behind, s->behind);
	if (now_ms() >= syncmetrics_due(&s->m))
		syncmetrics_write(&s->m, s->dirfd, now_ms());
	if (!s->dirty || !s->db)
		wait_events(s);
}

void
sync_run(const struct sync_config *cf)
{
	struct sync s = {.cf = cf, .backoff = RETRY_MIN_MS, .dirty = 1};

	start(&s);
	for (;;)
		step(&s);
}
