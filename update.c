/* update.c: every change to the relay state, under the writers' lock: a
 * login's address refreshed or added, waiting addresses merged, entries
 * expired or closed, other hosts' changes merged, the cdb rebuilt. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "listindex.h"
#include "pending.h"
#include "rebuild.h"
#include "roamdir.h"
#include "safe.h"
#include "update.h"

/* A time further ahead than this is a bad clock or a planted line. */
#define FUTURE_MAX 86400

/* Up to this many new arrivals that find the lock taken wait in the
 * journal for its holder's pass (lock_merge); more take a pass of their
 * own. */
#define MERGE_JOURNAL_MAX 256

/* bench/ builds a variant without the journal, to measure what it saves. */
#ifndef ROAM_AB_NO_JOURNAL
#define ROAM_AB_NO_JOURNAL 0
#endif

/* One pass: the journal and the list read, the list, its index and the cdb
 * written anew. */
struct pass {
	int dirfd;
	const struct plan *p;
	struct outcome *o;
	struct pending pend;
	char *journal, *list;
	size_t jlen, llen;
	struct openlist_writer lw;
	struct listindex_writer iw;
	struct rebuild rb;
};

/* Takes a time more than a day ahead as now, so that no line stays open
 * for ever; counted in c, for report. */
static void
not_future(struct pass *s, struct openlist_cursor *c, struct openentry *e)
{
	if (e->ts <= s->p->now + FUTURE_MAX)
		return;
	openlist_tally(&c->ahead, c->lineno, e);
	e->ts = s->p->now;
}

/* One warning for each kind of line c counted in a file, not one a line:
 * unreadable lines are kept (the list) or dropped (the journal). */
static void
report(const char *name, const struct openlist_cursor *c, int dropped)
{
	if (dropped)
		openlist_report(name, &c->bad, "unreadable line dropped",
				"unreadable lines dropped");
	else
		openlist_report(name, &c->bad,
				"unreadable line kept out of the rules",
				"unreadable lines kept out of the rules");
	openlist_report(name, &c->ahead,
			"time more than a day ahead, taken as now",
			"times more than a day ahead, taken as now");
}

/* The addresses to add: the journal's, then other hosts', then the
 * login's. */
static int
gather(struct pass *s, struct fail *f)
{
	struct openlist_cursor c = {0};
	struct openentry e;
	enum line_kind r;

	if (journal_take(s->dirfd, &s->journal, &s->jlen, f) == -1)
		return -1;
	c.text = s->journal;
	c.len = s->jlen;
	while ((r = openlist_next(&c, &e)) != LINE_EMPTY) {
		if (r == LINE_BAD)
			continue;
		not_future(s, &c, &e);
		if (pending_add(&s->pend, &e) == -1)
			goto nomem;
	}
	report(ROAM_MERGING, &c, 1);
	for (size_t i = 0; i < s->p->nadds; i++)
		if (pending_add(&s->pend, &s->p->adds[i]) == -1)
			goto nomem;
	if (s->p->add && pending_add(&s->pend, s->p->add) == -1)
		goto nomem;
	return 0;
nomem:
	FAILSYS(f, "unable to gather the addresses to add");
	return -1;
}

/* tcp.smtp first, so that a bad line fails the pass before it writes;
 * then the list read and the writers started. */
static int
begin(struct pass *s, struct fail *f)
{
	if (rebuild_open(&s->rb, s->dirfd, f) == -1)
		return -1;
	if (roamdir_read(s->dirfd, ROAM_LIST, 0, &s->list, &s->llen, 0, f) ==
		-1 ||
	    openlist_writer_open(&s->lw, s->dirfd, f) == -1) {
		rebuild_abort(&s->rb);
		return -1;
	}
	if (listindex_open(&s->iw, s->dirfd, f) == -1) {
		openlist_writer_abort(&s->lw);
		rebuild_abort(&s->rb);
		return -1;
	}
	return 0;
}

/* A line that stays: in the list, its index and, if good, the cdb. */
static int
keep(struct pass *s, const struct openentry *e, struct fail *f)
{
	uint64_t off = s->lw.off;
	size_t len = openlist_writer_add(&s->lw, e);

	if (!e->ip[0])
		return 0;
	listindex_add(&s->iw, e->ip, off, len);
	return rebuild_add(&s->rb, e->ip, e->rule, e->rulelen, f);
}

/* Whether a line goes: closed here (-d), closed on another host at a
 * second not before its time (a later login here stays), or expired. */
static int
dropped(struct pass *s, const struct openentry *e)
{
	const struct plan *p = s->p;
	const struct waiting *w;

	if (p->drop && strcmp(e->ip, p->drop) == 0) {
		s->o->found = 1;
		return 1;
	}
	if (p->drops && (w = pending_find(p->drops, e->ip)) && e->ts <= w->e.ts)
		return 1;
	return p->expire && p->now > e->ts && p->now - e->ts > p->maxage;
}

/* The list's lines: malformed ones kept as they are, waiting addresses
 * merged into theirs, the dropped ones left out. */
static int
walk(struct pass *s, struct fail *f)
{
	struct openlist_cursor c = {.text = s->list, .len = s->llen};
	struct openentry e;
	struct waiting *w;
	enum line_kind r;

	while ((r = openlist_next(&c, &e)) != LINE_EMPTY) {
		if (r != LINE_BAD) {
			not_future(s, &c, &e);
			w = pending_find(&s->pend, e.ip);
			if (w && w->state == PENDING_WAITING) {
				w->state = PENDING_MERGED;
				if (w->e.ts > e.ts)
					e.ts = w->e.ts;
			}
			if (dropped(s, &e)) {
				s->o->dropped++;
				continue;
			}
		}
		if (keep(s, &e, f) == -1)
			return -1;
	}
	report(ROAM_LIST, &c, 0);
	return 0;
}

/* The addresses not listed yet, at the end of the list. */
static int
append_new(struct pass *s, struct fail *f)
{
	for (size_t i = 0; i < s->pend.n; i++) {
		struct waiting *w = &s->pend.v[i];

		if (w->state != PENDING_WAITING || dropped(s, &w->e))
			continue;
		if (keep(s, &w->e, f) == -1)
			return -1;
		w->state = PENDING_ADDED;
		s->o->added++;
	}
	return 0;
}

/*
 * Every new file written out and synced first, so that a failed write or
 * sync leaves the old files as they were; then the renames: the list,
 * its index, the cdb derived from them. A crash between leaves the cdb
 * one pass behind, which the next pass, or the next login of an address
 * listed but missing from the cdb, mends. One directory sync, the
 * cdb's, covers the three renames.
 */
static int
commit(struct pass *s, struct fail *f)
{
	/* The list goes to disk while the cdb's tables are written. */
	atomicfile_writeback(&s->lw.a);
	listindex_finish(&s->iw, &s->lw.id);
	if (rebuild_finish(&s->rb, f) == -1) {
		atomicfile_abort(&s->lw.a);
		atomicfile_abort(&s->iw.a);
		return -1;
	}
	if (openlist_writer_finish(&s->lw, f) == -1) {
		atomicfile_abort(&s->iw.a);
		atomicfile_abort(&s->rb.a);
		return -1;
	}
	s->lw.a.nodirsync = 1;
	if (atomicfile_rename(&s->lw.a, f) == -1) {
		atomicfile_abort(&s->iw.a);
		atomicfile_abort(&s->rb.a);
		return -1;
	}
	listindex_rename(&s->iw);
	return atomicfile_rename(&s->rb.a, f);
}

static void
pass_free(struct pass *s)
{
	atomicfile_release(&s->lw.a);
	atomicfile_release(&s->iw.a);
	atomicfile_release(&s->rb.a);
	pending_free(&s->pend);
	free(s->journal);
	free(s->list);
}

/* One pass; its writers are aborted on any failure before the commit. */
static int
pass(int dirfd, const struct plan *p, struct outcome *o, struct fail *f)
{
	struct pass s = {.dirfd = dirfd, .p = p, .o = o};
	int r = -1;

	*o = (struct outcome){0};
	roamdir_sweep(dirfd);
	if (gather(&s, f) == -1 || begin(&s, f) == -1)
		goto out;
	if (walk(&s, f) == -1 || append_new(&s, f) == -1) {
		openlist_writer_abort(&s.lw);
		listindex_abort(&s.iw);
		rebuild_abort(&s.rb);
		goto out;
	}
	if (commit(&s, f) == -1)
		goto out;
	if (p->opened)
		p->opened(p->arg);
	for (size_t i = 0; p->report && i < s.pend.n; i++)
		if (s.pend.v[i].state == PENDING_ADDED)
			log_info("relay opened for ", s.pend.v[i].e.ip);
	journal_done(dirfd);
	r = 0;
out:
	pass_free(&s);
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

/* Journaled addresses: the wait ends once the lock's holder has added
 * every one to the cdb. */
struct arrived {
	int dirfd;
	const struct arrivals *a;
};

static int
all_added(void *arg)
{
	const struct arrived *w = arg;

	for (size_t i = 0; i < w->a->nopen; i++)
		if (!rebuild_has(w->dirfd, w->a->open[i].ip))
			return 0;
	return 1;
}

/*
 * The lock, at once; or, for a new address, after journaling it, so that
 * whoever holds the lock adds it with the others waiting, in one pass:
 * then the wait ends (ROAMDIR_DONE) as soon as the holder's cdb has it,
 * and many logins cost one pass.
 */
static int
lock_login(int dirfd, const char *dir, const struct openentry *me,
	   struct fail *f)
{
	struct arrivals one = {.open = me, .nopen = 1};
	struct arrived w = {.dirfd = dirfd, .a = &one};
	struct fail ignored;
	int lockfd = roamdir_lock(dirfd, dir, 0, &ignored), journaled = 0;

	if (lockfd != ROAMDIR_FAILED)
		return lockfd;
	if (!ROAM_AB_NO_JOURNAL &&
	    listindex_find(dirfd, me->ip) != LOOKUP_FOUND)
		journaled = journal_add(dirfd, me, &ignored) == 0;
	return roamdir_lock_or_done(dirfd, dir, ROAM_LOCK_MS,
				    journaled ? all_added : 0, &w, f);
}

/*
 * A login's address: a known one has its timestamp refreshed in place and
 * is open at once; any other, or one missing from the cdb (a pass failed
 * before), goes through a pass. Every writer merges what waits. A failed
 * pass leaves the address in the journal, for the next writer.
 */
int
update_login(const char *dir, const struct openentry *me,
	     void (*opened)(void *), void *arg, struct fail *f)
{
	struct plan plan = {.add = me,
			    .now = me->ts,
			    .report = 1,
			    .opened = opened,
			    .arg = arg};
	struct outcome o;
	struct fail ignored;
	int dirfd, lockfd, known, r = 0;

	if ((dirfd = open_safe(dir, f)) == -1)
		return -1;
	lockfd = lock_login(dirfd, dir, me, f);
	if (lockfd == ROAMDIR_DONE) {
		/* The holder's renames are on disk once the directory is;
		 * the holder reports a failure to sync it. */
		(void)fsync(dirfd);
		close(dirfd);
		return 0;
	}
	if (lockfd == ROAMDIR_FAILED) {
		close(dirfd);
		return -1;
	}
	known = listindex_refresh(dirfd, me->ip, me->ts) == LOOKUP_FOUND &&
		rebuild_has(dirfd, me->ip);
	if (known) {
		opened(arg);
		plan = (struct plan){.now = me->ts};
	}
	if (!known || journal_waiting(dirfd, me->ts)) {
		r = pass(dirfd, &plan, &o, f);
		if (r == -1 && known) {
			log_warn("unable to add the addresses waiting: ",
				 f->msg);
			r = 0;
		} else if (r == -1) {
			(void)journal_keep(dirfd, me, &ignored);
		}
	}
	close(lockfd);
	close(dirfd);
	return r;
}

/* clearopensmtp's changes: expiry, -d, -f. */
int
update_admin(const char *dir, const struct plan *p, struct outcome *o,
	     struct fail *f)
{
	int dirfd, lockfd, r;

	if ((dirfd = open_safe(dir, f)) == -1)
		return -1;
	if ((lockfd = roamdir_lock(dirfd, dir, ROAM_LOCK_MS, f)) == -1) {
		close(dirfd);
		return -1;
	}
	r = pass(dirfd, p, o, f);
	close(lockfd);
	close(dirfd);
	return r;
}

/*
 * Under the lock: the arrivals listed already and in the cdb are
 * refreshed in place, so that the echo of a login, or a resync of what
 * the list holds, costs no pass; the others, and the closes of addresses
 * that may be listed, are left for a pass. The index and the cdb are
 * mapped once for the whole batch.
 */
static int
sort_arrivals(int dirfd, const struct arrivals *a, struct openentry *rest,
	      size_t *nrest, struct pending *drops, struct outcome *o)
{
	struct listindex_batch b;
	struct cdb rules;
	int mapped = rebuild_map(dirfd, &rules) == 0, r = 0;

	listindex_batch_open(&b, dirfd);
	*nrest = 0;
	for (size_t i = 0; i < a->nopen; i++) {
		const struct openentry *e = &a->open[i];

		if (mapped && e->ts <= a->now + FUTURE_MAX &&
		    listindex_batch_refresh(&b, e->ip, e->ts) == LOOKUP_FOUND &&
		    rebuild_mapped_has(&rules, e->ip)) {
			o->refreshed++;
			continue;
		}
		rest[*nrest] = *e;
		/* As a line of the list would be: no entry open for ever. */
		if (e->ts > a->now + FUTURE_MAX)
			rest[*nrest].ts = a->now;
		(*nrest)++;
	}
	/* A close counts if listed, or if the pass may add it. */
	for (size_t i = 0; r == 0 && i < a->nclosed; i++)
		if ((*nrest || listindex_batch_refresh(&b, a->closed[i].ip,
						       0) != LOOKUP_ABSENT) &&
		    pending_add(drops, &a->closed[i]) == -1)
			r = -1;
	listindex_batch_close(&b);
	if (mapped)
		rebuild_unmap(&rules);
	return r;
}

/* Under the lock: what cannot be refreshed in place takes one pass, with
 * the journal's addresses. */
static int
merge_locked(int dirfd, const struct arrivals *a, struct openentry *rest,
	     struct outcome *o, struct fail *f)
{
	struct pending drops = {0};
	struct plan plan = {.adds = rest, .drops = &drops, .now = a->now};
	size_t refreshed;
	int r = 0;

	if (sort_arrivals(dirfd, a, rest, &plan.nadds, &drops, o) == -1) {
		FAILSYS(f, "unable to sort the arrivals");
		r = -1;
	} else if (plan.nadds || drops.n || journal_waiting(dirfd, a->now)) {
		refreshed = o->refreshed;
		r = pass(dirfd, &plan, o, f);
		o->refreshed = refreshed;
	}
	pending_free(&drops);
	return r;
}

/*
 * The lock, at once; or, for a few new addresses and no close, after
 * journaling them as recorders do: whoever holds the lock adds them with
 * its own, and the wait ends (ROAMDIR_DONE) once its cdb has them. Under
 * a load of logins roamsync's arrivals then cost no pass of their own.
 */
static int
lock_merge(int dirfd, const char *dir, const struct arrivals *a, struct fail *f)
{
	struct arrived w = {.dirfd = dirfd, .a = a};
	struct fail ignored;
	int lockfd = roamdir_lock(dirfd, dir, 0, &ignored), journaled = 1;

	if (lockfd != ROAMDIR_FAILED)
		return lockfd;
	if (ROAM_AB_NO_JOURNAL || a->nclosed || !a->nopen ||
	    a->nopen > MERGE_JOURNAL_MAX)
		journaled = 0;
	for (size_t i = 0; journaled && i < a->nopen; i++)
		journaled =
		    a->open[i].ts <= a->now + FUTURE_MAX &&
		    listindex_find(dirfd, a->open[i].ip) == LOOKUP_ABSENT;
	for (size_t i = 0; journaled && i < a->nopen; i++)
		journaled = journal_add(dirfd, &a->open[i], &ignored) == 0;
	return roamdir_lock_or_done(dirfd, dir, ROAM_LOCK_MS,
				    journaled ? all_added : 0, &w, f);
}

/*
 * roamsync's changes: addresses opened or refreshed on other hosts merged
 * (the later time wins; a new one gets the rule roamsync gives it),
 * addresses closed there dropped. Many arrivals cost one pass, or none
 * when another writer's pass takes them from the journal.
 */
int
update_merge(const char *dir, const struct arrivals *a, struct outcome *o,
	     struct fail *f)
{
	struct openentry *rest;
	int dirfd, lockfd, r = -1;

	*o = (struct outcome){0};
	if (!(rest = calloc(a->nopen + 1, sizeof *rest))) {
		FAILSYS(f, "unable to merge the arrivals");
		return -1;
	}
	if ((dirfd = open_safe(dir, f)) != -1) {
		lockfd = lock_merge(dirfd, dir, a, f);
		if (lockfd == ROAMDIR_DONE) {
			/* As a login's: on disk once the directory is. */
			(void)fsync(dirfd);
			o->added = a->nopen;
			r = 0;
		} else if (lockfd != ROAMDIR_FAILED) {
			r = merge_locked(dirfd, a, rest, o, f);
			close(lockfd);
		}
		close(dirfd);
	}
	free(rest);
	return r;
}
