/* update.c: one locked update of the relay state: list, index and cdb in one
 * pass. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prefault.h"
#include "rebuild.h"
#include "roamdir.h"
#include "stamp.h"
#include "update.h"

/* Addresses waiting to be added: the journal's and the login's. */
struct waiting {
	struct openentry e;
	int state; /* WAITING, MERGED into a line of the list, or ADDED */
};
#define WAITING 0
#define MERGED 1
#define ADDED 2

struct pending {
	struct waiting *v;
	size_t n, cap;
	size_t *slot; /* index + 1, by address */
	size_t nslot;
};

static size_t
hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static struct waiting *
pending_find(const struct pending *p, const char *ip)
{
	size_t h;

	if (!p->n || !p->v || !p->slot)
		return 0;
	for (h = hash(ip) & (p->nslot - 1); p->slot[h];
	     h = (h + 1) & (p->nslot - 1))
		if (strcmp(p->v[p->slot[h] - 1].e.ip, ip) == 0)
			return &p->v[p->slot[h] - 1];
	return 0;
}

static int
pending_rehash(struct pending *p)
{
	size_t want = 64, i, h;

	while (want < 2 * p->cap)
		want *= 2;
	free(p->slot);
	if (!(p->slot = calloc(want, sizeof *p->slot)))
		return -1;
	p->nslot = want;
	for (i = 0; i < p->n; i++) {
		for (h = hash(p->v[i].e.ip) & (want - 1); p->slot[h];
		     h = (h + 1) & (want - 1))
			;
		p->slot[h] = i + 1;
	}
	return 0;
}

/* Adds e, or keeps the newer timestamp of an address already waiting. */
static int
pending_add(struct pending *p, const struct openentry *e)
{
	struct waiting *w = pending_find(p, e->ip);
	size_t h;

	if (w) {
		if (e->ts > w->e.ts)
			w->e.ts = e->ts;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct waiting *v = realloc(p->v, cap * sizeof *v);

		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n].e = *e;
	p->v[p->n].state = WAITING;
	p->n++;
	if (p->nslot < 2 * p->cap)
		return pending_rehash(p);
	for (h = hash(e->ip) & (p->nslot - 1); p->slot[h];
	     h = (h + 1) & (p->nslot - 1))
		;
	p->slot[h] = p->n;
	return 0;
}

static void
pending_free(struct pending *p)
{
	free(p->v);
	free(p->slot);
}

static int
dropped(const struct plan *p, const struct openentry *e, struct outcome *o)
{
	if (p->drop && strcmp(e->ip, p->drop) == 0) {
		o->found = 1;
		return 1;
	}
	return p->expire && p->now > e->ts && p->now - e->ts > p->maxage;
}

/* Writes one kept entry to the new list (w NULL: none) and the new cdb. */
static int
keep(struct openlist_writer *w, struct rebuild *rb, const struct openentry *e,
     struct fail *f)
{
	if (w)
		openlist_writer_add(w, e);
	return rebuild_add(rb, e->ip, e->rule, e->rulelen, f);
}

/*
 * Starts the new list once it is known to change: the lines of text
 * before end go in as they are (in canonical form). Addresses waiting
 * start it at once; otherwise the first dropped or refreshed line does,
 * and a rebuild that changes no line writes no list.
 */
static int
start_list(struct openlist_writer *wr, struct openlist_writer **w, int dirfd,
	   const char *text, size_t end, struct fail *f)
{
	struct openlist_cursor c = {text, end, 0, 0};
	struct openentry e;

	if (*w)
		return 0;
	if (openlist_writer_open(wr, dirfd, f) == -1)
		return -1;
	while (openlist_next(&c, &e) != 0)
		openlist_writer_add(wr, &e);
	*w = wr;
	return 0;
}

/*
 * Replaces what changed, in the order that leaves a state the next run
 * completes: when addresses may be removed, the rules first (an address
 * to drop stays listed, and the journal was made durable, until its rule
 * is gone); when they are only added, the list first (an address listed
 * but missing from the rules is put in by its next login, which checks
 * the cdb). One directory sync covers both renames.
 */
static int
commit(struct rebuild *rb, struct openlist_writer *w, int rules, int lines,
       int removes, struct fail *f)
{
	if (!rules)
		rebuild_abort(rb);
	if (!w)
		lines = 0;
	else if (!lines)
		openlist_writer_abort(w);
	if (rules && lines) {
		if (removes)
			rb->a.nodirsync = 1;
		else
			w->list.nodirsync = 1;
	}
	if (rules && removes && rebuild_commit(rb, f) == -1) {
		if (lines)
			openlist_writer_abort(w);
		return -1;
	}
	if (lines && openlist_writer_commit(w, f) == -1) {
		if (rules && !removes)
			rebuild_abort(rb);
		return -1;
	}
	if (rules && !removes && rebuild_commit(rb, f) == -1)
		return -1;
	return 0;
}

/*
 * Only new addresses: each one already listed is refreshed in place; if
 * the stamp shows tcp.smtp.cdb was compiled from tcp.smtp and the list as
 * they are, the others are appended to the list and added to a copy of
 * the cdb, without reading the list. Returns 1 when done, 0 when
 * the full pass is needed, -1 on failure.
 */
static int
append_new(int dirfd, const struct plan *p, struct pending *pend,
	   struct outcome *o, struct fail *f)
{
	struct stamp st;
	struct fileid now;
	struct rebuild rb;
	struct fail ignored;
	char *text, *t;
	size_t i, len = 0, rlen, n = 0;
	int r;

	for (i = 0; i < pend->n; i++) {
		struct waiting *w = &pend->v[i];

		if ((r = openlist_touch(dirfd, w->e.ip, w->e.ts)) == -1)
			return 0;
		if (r == 1) {
			w->state = MERGED;
			continue;
		}
		n++;
		len += OPENLIST_LINEMAX(&w->e);
	}
	if (n == 0)
		return 1;
	/* rebuild_copy and openlist_append check the cdb and the list. */
	if (!stamp_read(dirfd, &st) ||
	    roamdir_read(dirfd, ROAM_RULES, 1, &text, &rlen, 0, &ignored) == -1)
		return 0;
	r = stamp_sum(text, rlen) == st.rules;
	free(text);
	if (!r)
		return 0;
	if ((r = rebuild_copy(&rb, dirfd, &st.cdb, f)) != 1)
		return r;
	if (!(text = malloc(len))) {
		FAILSYS(f, "unable to write ", ROAM_LIST);
		rebuild_abort(&rb);
		return -1;
	}
	for (t = text, i = 0; i < pend->n; i++) {
		const struct openentry *e = &pend->v[i].e;

		if (pend->v[i].state != WAITING)
			continue;
		if (rebuild_add(&rb, e->ip, e->rule, e->rulelen, f) == -1) {
			free(text);
			rebuild_abort(&rb);
			return -1;
		}
		t += openlist_format(t, e);
	}
	/* The cdb's writing out overlaps with the list's sync. */
	if (rebuild_finish(&rb, f) == -1) {
		free(text);
		return -1;
	}
	(void)sync_file_range(rb.a.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	r = openlist_append(dirfd, &st.list, text, (size_t)(t - text), &now, f);
	free(text);
	if (r != 1) {
		rebuild_abort(&rb);
		return r;
	}
	/*
	 * Failing here leaves the list ahead of the stamp: a full pass next.
	 * Once the cdb is in place the login may go on: a crash that loses
	 * the rename leaves the address listed but not in the cdb, which its
	 * next login mends.
	 */
	rb.a.nodirsync = 1;
	rb.a.keepold = 1;
	if (rebuild_commit(&rb, f) == -1)
		return -1;
	for (i = 0; i < pend->n; i++)
		if (pend->v[i].state == WAITING) {
			pend->v[i].state = ADDED;
			o->added++;
		}
	if (p->opened)
		p->opened(p->arg);
	r = fsync(dirfd) == -1 && errno != EINVAL ? -1 : 1;
	if (r == -1)
		FAILSYS(f, "unable to sync the directory of ", ROAM_CDB);
	atomicfile_drop_old(&rb.a);
	if (r == 1) {
		st.list = now;
		st.cdb = rb.id;
		stamp_write(dirfd, &st);
	}
	return r;
}

/*
 * Reads the list once and writes the new list, its index and the new cdb
 * in the same pass; the journal goes only once both are in place. Nothing
 * is written when nothing changes, unless forced. Only new addresses on a
 * stamped state take the shorter way: append_new.
 */
int
update(int dirfd, const struct plan *p, struct outcome *o, struct fail *f)
{
	struct openlist_cursor c = {0};
	struct openlist_writer wr, *w = 0;
	struct pending pend = {0};
	struct rebuild rb;
	struct openentry e;
	struct fileid listid;
	struct stat st;
	char *list = 0, *journal = 0;
	size_t jlen = 0, i;
	int taken = 0, r, refreshed = 0, result = -1, rules, lines, same;
	int removes = p->expire || p->drop != 0;

	memset(o, 0, sizeof *o);
	roamdir_sweep(dirfd);
	/* When the rules go first (see below) the journal must be durable. */
	if (p->merge && openlist_journal_take(dirfd, removes, &journal, &jlen,
					      &taken, f) == -1)
		goto out;
	{
		struct openlist_cursor j = {journal, jlen, 0, 0};

		while ((r = openlist_next(&j, &e)) != 0)
			if (r == 1 && pending_add(&pend, &e) == -1)
				goto nomem;
	}
	if (p->add && pending_add(&pend, p->add) == -1)
		goto nomem;
	if (!removes && !p->force && pend.n &&
	    (r = append_new(dirfd, p, &pend, o, f)) != 0) {
		if (r == -1)
			goto out;
		goto done;
	}
	if (fstatat(dirfd, ROAM_LIST, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		prefault_heap(prefault_estimate((size_t)st.st_size));
	if (roamdir_read(dirfd, ROAM_LIST, 0, &list, &c.len, &listid, f) == -1)
		goto out;
	c.text = list;
	if (rebuild_open(&rb, dirfd, f) == -1)
		goto out;
	if (pend.n && start_list(&wr, &w, dirfd, list, 0, f) == -1) {
		rebuild_abort(&rb);
		goto out;
	}
	while ((r = openlist_next(&c, &e)) != 0) {
		struct waiting *wt;

		if (r < 0) {
			openlist_warn_bad(ROAM_LIST, &e, c.lineno);
			if (w)
				openlist_writer_add(w, &e);
			continue;
		}
		if ((wt = pending_find(&pend, e.ip)) && wt->state == WAITING) {
			wt->state = MERGED;
			if (wt->e.ts > e.ts) {
				e.ts = wt->e.ts;
				refreshed = 1;
			}
		}
		if (dropped(p, &e, o)) {
			if (start_list(&wr, &w, dirfd, list,
				       (size_t)(e.raw - list), f) == -1)
				goto abort;
			o->dropped++;
			continue;
		}
		if (keep(w, &rb, &e, f) == -1)
			goto abort;
	}
	for (i = 0; i < pend.n; i++) {
		if (pend.v[i].state != WAITING || dropped(p, &pend.v[i].e, o))
			continue;
		if (start_list(&wr, &w, dirfd, list, c.len, f) == -1 ||
		    keep(w, &rb, &pend.v[i].e, f) == -1)
			goto abort;
		pend.v[i].state = ADDED;
		o->added++;
	}
	rules = o->added || o->dropped || p->force;
	lines = w && (o->added || o->dropped || refreshed);
	/* Only timestamps changed: the stamp may name the cdb as it is. */
	same = !rules && lines && rebuild_same(&rb, dirfd);
	if (commit(&rb, w, rules, lines, removes, f) == -1)
		goto out;
	/* Everything is in place, synced: the login may go on. */
	if (p->opened)
		p->opened(p->arg);
	if (rules || same) {
		struct stamp sp = {lines ? w->id : listid, rb.id, rb.rules};

		stamp_write(dirfd, &sp);
	}
done:
	for (i = 0; p->report && i < pend.n; i++)
		if (pend.v[i].state == ADDED)
			log_info("relay opened for ", pend.v[i].e.ip);
	if (taken)
		openlist_journal_done(dirfd);
	result = 0;
	goto out;
nomem:
	FAILSYS(f, "unable to read ", ROAM_MERGING);
	goto out;
abort:
	rebuild_abort(&rb);
	if (w)
		openlist_writer_abort(w);
out:
	pending_free(&pend);
	free(journal);
	free(list);
	return result;
}
