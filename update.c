/* SPDX-License-Identifier: ISC */
/* update.c: every change to the open list, under the writers' lock: a
 * login's address refreshed in place or appended, other hosts' changes
 * merged, entries expired or closed; then a build that covers them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "build.h"
#include "listindex.h"
#include "rebuild.h"
#include "roamdir.h"
#include "safe.h"
#include "update.h"

/* A time further ahead than this is a bad clock or a planted line. */
#define FUTURE_MAX 86400

/* One change of the list, under the writers' lock. */
struct change {
	const struct plan *p;	    /* clearopensmtp's, or NULL */
	const struct account *acct; /* a login's, under a limit, or NULL */
	uint64_t now;
	const struct openentry *adds; /* sorted by address, one each */
	size_t nadds;
	const struct openentry *closes; /* likewise */
	size_t ncloses;
	int rewrite; /* the whole list written anew */
	struct outcome *o;
	struct fileid mark; /* the list as left, for the build to cover */
	int unindexed;	    /* another program wrote it, or no index */
};

static int
ip_cmp(const void *key, const void *member)
{
	return strcmp(key, ((const struct openentry *)member)->ip);
}

static int
by_ip(const void *a, const void *b)
{
	return ip_cmp(((const struct openentry *)a)->ip, b);
}

/* ip's entry in v, sorted by address, n of them (v may be NULL if none). */
static const struct openentry *
find(const struct openentry *v, size_t n, const char *ip)
{
	return n ? bsearch(ip, v, n, sizeof *v, ip_cmp) : 0;
}

/* v sorted by address, one entry each (its latest time); the count. */
static size_t
distinct(struct openentry *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof *v, by_ip);
	for (size_t i = 0; i < n; i++)
		if (k && strcmp(v[k - 1].ip, v[i].ip) == 0) {
			if (v[i].ts > v[k - 1].ts)
				v[k - 1] = v[i];
		} else {
			v[k++] = v[i];
		}
	return k;
}

/* Whether a listed entry leaves: closed (by -d, or later on another
 * host) or expired. */
static int
leaves(const struct change *c, const struct openentry *e)
{
	const struct openentry *x;

	if (c->p && c->p->drop && strcmp(e->ip, c->p->drop) == 0) {
		c->o->found = 1;
		return 1;
	}
	if (c->p && c->p->account &&
	    account_of(e, c->p->account->var, c->p->account->name,
		       c->p->account->len)) {
		c->o->found = 1;
		if (c->p->closed)
			c->p->closed(c->p->arg, e->ip);
		return 1;
	}
	x = find(c->closes, c->ncloses, e->ip);
	if (x && e->ts <= x->ts)
		return 1;
	return c->p && c->p->expire && c->now > e->ts &&
	       c->now - e->ts > c->p->maxage;
}

/* The list's lines into w: malformed ones as they are, good ones in the
 * canonical form, a time more than a day ahead as now, adds merged into
 * their lines (the later time wins), leaving ones left out. Whether any
 * of that changed the list. */
static int
copy_lines(const struct change *c, struct openlist_cursor *cur,
	   struct openlist_writer *w, char *merged)
{
	struct openentry e;
	enum line_kind k;
	int changed = 0;

	while ((k = openlist_next(cur, &e)) != LINE_EMPTY) {
		if (k == LINE_ENTRY) {
			const struct openentry *x =
			    find(c->adds, c->nadds, e.ip);

			if (e.ts > c->now + FUTURE_MAX) {
				openlist_tally(&cur->ahead, cur->lineno, &e);
				e.ts = c->now;
			}
			if (x && !merged[x - c->adds]) {
				merged[x - c->adds] = 1;
				c->o->refreshed++;
				if (x->ts > e.ts) {
					e.ts = x->ts;
					changed = 1;
				}
			}
			if (leaves(c, &e)) {
				c->o->dropped++;
				continue;
			}
		}
		changed |= openlist_writer_add(w, &e);
	}
	/* The build that follows reports the unreadable lines. */
	openlist_report(ROAM_LIST, &cur->ahead,
			"time more than a day ahead, taken as now",
			"times more than a day ahead, taken as now");
	return changed || c->o->dropped;
}

/* The list written anew when lines leave, or a time cannot be written in
 * place, the adds not listed at its end; as it was (no rename, the index
 * still its) when nothing changes. */
static int
rewrite(int dirfd, const struct change *c, struct fail *f)
{
	static const char *const temps[] = {ROAM_LIST, 0};
	struct openlist_cursor cur = {0};
	struct openlist_writer w;
	char *text = 0, *merged = calloc(c->nadds + 1, 1);
	int r = -1, changed;

	*c->o = (struct outcome){0};
	roamdir_sweep(dirfd, temps);
	if (!merged) {
		FAILSYS(f, "unable to rewrite ", ROAM_LIST);
		return -1;
	}
	if (roamdir_read(dirfd, ROAM_LIST, 0, &text, &cur.len, 0, f) == 0 &&
	    openlist_writer_open(&w, dirfd, f) == 0) {
		cur.text = text;
		changed = copy_lines(c, &cur, &w, merged);
		for (size_t i = 0; i < c->nadds; i++)
			if (!merged[i]) {
				openlist_writer_add(&w, &c->adds[i]);
				c->o->added++;
			}
		if (!changed && !c->o->added) {
			openlist_writer_abort(&w);
			r = 0;
		} else if (openlist_writer_finish(&w, f) == 0) {
			r = atomicfile_rename(&w.a, f);
		}
		atomicfile_release(&w.a);
	}
	free(text);
	free(merged);
	return r;
}

/* Each of v's addresses, where the list has it. */
static struct found *
find_all(int dirfd, int lfd, const struct openentry *v, size_t n,
	 int *unindexed, struct fail *f)
{
	struct found *x = calloc(n + 1, sizeof *x);
	int r;

	if (!x) {
		FAILSYS(f, "unable to look ", ROAM_LIST, " up");
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(x[i].ip, v[i].ip, sizeof x[i].ip);
	if ((r = listindex_find(dirfd, lfd, x, n, f)) == -1) {
		free(x);
		return 0;
	}
	*unindexed |= r;
	return x;
}

/* The adds not listed, as lines, appended in one write. */
static int
append_new(int lfd, const struct change *c, const struct found *x,
	   struct fail *f)
{
	char line[OPENLIST_LINEMAX], *buf = 0;
	size_t len = 0, cap = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < c->nadds; i++) {
		size_t n;

		if (x[i].listed)
			continue;
		n = openlist_format(line, &c->adds[i]);
		if (!buf || len + n > cap) {
			char *t = realloc(buf, cap = 2 * cap + n);

			if (!t) {
				FAILSYS(f, "unable to append to ", ROAM_LIST);
				r = -1;
				break;
			}
			buf = t;
		}
		memcpy(buf + len, line, n);
		len += n;
		c->o->added++;
	}
	if (r == 0 && len)
		r = openlist_append(lfd, buf, len, f);
	free(buf);
	return r;
}

/* How many addresses the list holds open for the account: every line
 * read, under the writers' lock, so that no other login adds one
 * meanwhile. */
static int
count_held(int dirfd, const struct account *a, size_t *held, struct fail *f)
{
	struct openlist_cursor cur = {0};
	struct openentry e;
	enum line_kind k;
	char *text = 0;

	*held = 0;
	if (roamdir_read(dirfd, ROAM_LIST, 0, &text, &cur.len, 0, f) == -1)
		return -1;
	cur.text = text;
	while ((k = openlist_next(&cur, &e)) != LINE_EMPTY)
		if (k == LINE_ENTRY && account_of(&e, a->var, a->name, a->len))
			(*held)++;
	free(text);
	return 0;
}

/* A login's new address under a limit: whether its account may open
 * one more. */
static int
within_limit(int dirfd, const struct change *c, const struct found *xa,
	     struct fail *f)
{
	const struct account *a = c->acct;

	if (!a || !a->max || !a->var || !a->name || xa[0].listed)
		return 1;
	if (count_held(dirfd, a, &c->o->held, f) == -1)
		return -1;
	c->o->limited = c->o->held >= a->max;
	return !c->o->limited;
}

/*
 * The adds refreshed in place where listed, the others appended in one
 * write; or, when a close finds its address listed (and not since) or a
 * time cannot be written in place, the list written anew.
 */
static int
record(int dirfd, struct change *c, struct fail *f)
{
	struct found *xa = 0, *xc = 0;
	struct stat st;
	int lfd = openlist_open(dirfd, f), r = -1;

	if (lfd == -1)
		return -1;
	if (!(xa = find_all(dirfd, lfd, c->adds, c->nadds, &c->unindexed, f)) ||
	    !(xc = find_all(dirfd, lfd, c->closes, c->ncloses, &c->unindexed,
			    f)))
		goto out;
	for (size_t i = 0; i < c->ncloses; i++)
		if (xc[i].listed && xc[i].ts <= c->closes[i].ts)
			c->rewrite = 1;
	if ((r = within_limit(dirfd, c, xa, f)) != 1)
		goto out;
	for (size_t i = 0; !c->rewrite && i < c->nadds; i++) {
		if (!xa[i].listed)
			continue;
		r = listindex_refresh(lfd, &xa[i], c->adds[i].ts, f);
		if (r == -1)
			goto out;
		c->rewrite = r;
		c->o->refreshed++;
	}
	r = c->rewrite ? rewrite(dirfd, c, f) : append_new(lfd, c, xa, f);
	if (r == 0 && !c->rewrite && fstat(lfd, &st) == 0)
		fileid_of(&c->mark, &st);
out:
	free(xa);
	free(xc);
	close(lfd);
	return r;
}

/* The change, under the writers' lock. */
static int
locked(int dirfd, const char *dir, struct change *c, struct fail *f)
{
	int lockfd = roamdir_lock(dirfd, dir, ROAM_LOCK, ROAM_LOCK_MS, f), r;

	if (lockfd == -1)
		return -1;
	r = c->rewrite ? rewrite(dirfd, c, f) : record(dirfd, c, f);
	close(lockfd);
	return r;
}

/* The directory, open once it is known that no one else may write it. */
static int
open_safe(const char *dir, struct fail *f)
{
	int dirfd = roamdir_open(dir, f);

	if (dirfd != -1 && safe_dir(dirfd, dir, f) == -1) {
		close(dirfd);
		return -1;
	}
	return dirfd;
}

/*
 * A login's address: a listed one has its time refreshed in place, any
 * other is appended, unless its account holds its most open already
 * (o->limited: nothing changes); then a build covers it, unless it was
 * listed, the cdb has it and the list is the one the last build indexed
 * (no build). h->listed is called once the list has it, h->opened once
 * the cdb has.
 */
int
update_login(const char *dir, const struct openentry *me,
	     const struct account *acct, const struct login_hooks *h,
	     struct outcome *o, struct fail *f)
{
	struct change c = {
	    .now = me->ts, .acct = acct, .adds = me, .nadds = 1, .o = o};
	struct build_left left = {.oldfd = -1};
	int dirfd = open_safe(dir, f), r, built = 0;

	*o = (struct outcome){0};
	if (dirfd == -1)
		return -1;
	r = locked(dirfd, dir, &c, f);
	if (r == 0 && o->limited) {
		close(dirfd);
		return 0;
	}
	if (r == 0)
		h->listed(h->arg);
	if (r == 0 && (o->added || c.rewrite || c.unindexed ||
		       !build_has(dirfd, me, 1))) {
		built = 1;
		r = c.rewrite
			? build_now(dirfd, dir, &left, f)
			: build_cover(dirfd, dir, &c.mark, me, 1, &left, f);
	}
	/* A close may have come between the append and the build. */
	if (r == 0 && built && !build_has(dirfd, me, 1)) {
		FAIL(f, 111, "closed while it was being opened");
		r = -1;
	}
	if (r == 0)
		h->opened(h->arg);
	build_release(&left);
	close(dirfd);
	return r;
}

/* clearopensmtp's changes: expiry, -d, -f: the list written anew, then
 * built. A bad tcp.smtp fails it before the list changes. */
int
update_admin(const char *dir, const struct plan *p, struct outcome *o,
	     struct fail *f)
{
	struct change c = {.p = p, .now = p->now, .rewrite = 1, .o = o};
	struct build_left left = {.oldfd = -1};
	int dirfd = open_safe(dir, f), r;

	*o = (struct outcome){0};
	if (dirfd == -1)
		return -1;
	r = rebuild_check(dirfd, f);
	if (r == 0)
		r = locked(dirfd, dir, &c, f);
	if (r == 0)
		r = build_now(dirfd, dir, &left, f);
	build_release(&left);
	close(dirfd);
	return r;
}

/* A copy of n entries: distinct, a time more than a day ahead as now. */
static struct openentry *
arrived(const struct openentry *v, size_t *n, uint64_t now, struct fail *f)
{
	struct openentry *c = calloc(*n + 1, sizeof *c);

	if (!c) {
		FAILSYS(f, "unable to merge the arrivals");
		return 0;
	}
	for (size_t i = 0; i < *n; i++) {
		c[i] = v[i];
		if (c[i].ts > now + FUTURE_MAX)
			c[i].ts = now;
	}
	*n = distinct(c, *n);
	return c;
}

/* The opens that are later than a close of theirs among the closes (a
 * close wins a tie); the count kept. */
static size_t
later_than_closes(struct openentry *v, size_t n, const struct openentry *cl,
		  size_t ncl)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct openentry *x = find(cl, ncl, v[i].ip);

		if (!x || v[i].ts > x->ts)
			v[k++] = v[i];
	}
	return k;
}

/*
 * roamsync's changes: addresses opened or refreshed on other hosts
 * merged (the later time wins; a new one gets the rule roamsync gives
 * it) and appended in one write, addresses closed there dropped where
 * their line is not later; then one build covers them all.
 */
int
update_merge(const char *dir, const struct arrivals *a, struct outcome *o,
	     struct fail *f)
{
	struct change c = {.now = a->now, .o = o};
	struct build_left left = {.oldfd = -1};
	struct openentry *adds, *closes = 0;
	int dirfd = -1, r = -1;

	*o = (struct outcome){0};
	c.nadds = a->nopen;
	c.ncloses = a->nclosed;
	if (!(adds = arrived(a->open, &c.nadds, a->now, f)) ||
	    !(closes = arrived(a->closed, &c.ncloses, a->now, f)) ||
	    (dirfd = open_safe(dir, f)) == -1)
		goto out;
	c.nadds = later_than_closes(adds, c.nadds, closes, c.ncloses);
	c.adds = adds;
	c.closes = closes;
	r = c.ncloses ? rebuild_check(dirfd, f) : 0;
	if (r == 0)
		r = locked(dirfd, dir, &c, f);
	if (r == 0 && c.rewrite)
		r = build_now(dirfd, dir, &left, f);
	else if (r == 0 &&
		 (o->added || c.unindexed || !build_has(dirfd, adds, c.nadds)))
		r = build_cover(dirfd, dir, &c.mark, adds, c.nadds, &left, f);
	build_release(&left);
out:
	if (dirfd != -1)
		close(dirfd);
	free(adds);
	free(closes);
	return r;
}
