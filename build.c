/* SPDX-License-Identifier: ISC */
/* build.c: the one builder: tcp.smtp and the list, as read, compiled into
 * tcp.smtp.cdb (and the index, when due) under the build lock. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "le64.h"
#include "listindex.h"
#include "rebuild.h"
#include "roamdir.h"

/* A build's work: the cdb, and the index when due. */
struct build {
	int dirfd;
	struct rebuild rb;
	struct listindex_writer iw;
	int index;
	char *list;
	struct fileid covered; /* the list's whole lines, as read */
};

/* tcp.smtp first (a bad line fails the build before it writes), then the
 * list as it is now. */
static int
begin(struct build *b, size_t *len, struct fail *f)
{
	const char *nl;

	if (rebuild_open(&b->rb, b->dirfd, f) == -1)
		return -1;
	if (roamdir_read(b->dirfd, ROAM_LIST, 0, &b->list, len, &b->covered,
			 f) == -1) {
		rebuild_abort(&b->rb);
		return -1;
	}
	/* An appender may be writing its line: the index covers whole lines. */
	nl = *len ? memrchr(b->list, '\n', *len) : 0;
	b->covered.size = nl ? (uint64_t)(nl - b->list) + 1 : 0;
	b->index = listindex_due(b->dirfd, &b->covered) &&
		   listindex_open(&b->iw, b->dirfd, f) == 0;
	return 0;
}

/* Every good line's record; the index's, of the whole lines. */
static int
walk(struct build *b, size_t len, struct fail *f)
{
	struct openlist_cursor c = {.text = b->list, .len = len};
	struct openentry e;
	enum line_kind k;

	while ((k = openlist_next(&c, &e)) != LINE_EMPTY) {
		uint64_t off = (uint64_t)(e.raw - b->list);

		if (k == LINE_BAD)
			continue;
		if (rebuild_add(&b->rb, e.ip, e.rule, e.rulelen, f) == -1)
			return -1;
		if (b->index && off + e.rawlen < b->covered.size)
			listindex_add(&b->iw, e.ip, off, e.rawlen);
	}
	openlist_report(ROAM_LIST, &c.bad,
			"unreadable line kept out of the rules",
			"unreadable lines kept out of the rules");
	return 0;
}

/*
 * The build lock file holds the list's device, inode and size (whole
 * lines) that the last build read, written once its cdb is renamed and
 * the directory synced: a writer holding the lock whose lines are within
 * needs no build of its own. Never synced: a stamp lost or stale only
 * costs a build.
 */
static void
stamp(int lockfd, const struct fileid *covered)
{
	unsigned char v[24];

	put64(v, covered->dev);
	put64(v + 8, covered->ino);
	put64(v + 16, covered->size);
	(void)!pwrite(lockfd, v, sizeof v, 0);
}

/* Whether the last build read the list up to mark, and the list is as
 * long as then at least (not cut short, nor made anew, since). */
static int
built(int dirfd, int lockfd, const struct fileid *mark)
{
	unsigned char v[24];
	struct stat st;
	uint64_t size;

	if (pread(lockfd, v, sizeof v, 0) != (ssize_t)sizeof v ||
	    fstatat(dirfd, ROAM_LIST, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	size = get64(v + 16);
	return get64(v) == mark->dev && get64(v + 8) == mark->ino &&
	       (uint64_t)st.st_dev == mark->dev &&
	       (uint64_t)st.st_ino == mark->ino && size >= mark->size &&
	       size <= (uint64_t)st.st_size;
}

/* One build: the cdb synced and renamed (the directory synced), then the
 * index; the temps go on any failure. */
static int
compile(int dirfd, int lockfd, struct build_left *left, struct fail *f)
{
	static const char *const temps[] = {ROAM_CDB, ROAM_INDEX, 0};
	struct build b = {.dirfd = dirfd};
	size_t len;
	int r = -1;

	roamdir_sweep(dirfd, temps);
	if (begin(&b, &len, f) == -1)
		return -1;
	if (walk(&b, len, f) == -1) {
		rebuild_abort(&b.rb);
		if (b.index)
			listindex_abort(&b.iw);
	} else {
		if (b.index)
			listindex_finish(&b.iw, &b.covered);
		r = rebuild_finish(&b.rb, f) == -1
			? -1
			: atomicfile_rename(&b.rb.a, f);
		if (r == 0)
			stamp(lockfd, &b.covered);
		/* Finished: only its temp is left to go. */
		if (r == -1 && b.index)
			atomicfile_abort(&b.iw.a);
		else if (b.index)
			listindex_rename(&b.iw);
		if (b.rb.a.hasold)
			left->oldfd = b.rb.a.oldfd;
	}
	left->list = b.list;
	return r;
}

/* Frees what a build left, once its writer has answered. */
void
build_release(struct build_left *left)
{
	if (left->oldfd != -1)
		close(left->oldfd);
	free(left->list);
	*left = (struct build_left){.oldfd = -1};
}

/* Whether tcp.smtp.cdb has a record for each of v. */
int
build_has(int dirfd, const struct openentry *v, size_t n)
{
	return rebuild_has(dirfd, v->ip, n, sizeof *v);
}

/*
 * Returns once a build has read the list up to mark (what a writer left
 * it) and the cdb has each of v: under the build lock, nothing more to
 * do if the last build did (it began after the writer's lines were in),
 * left an index of it, and its cdb is there; else a build. So any number
 * of writers cost at most one build running and one waiting.
 */
int
build_cover(int dirfd, const char *dir, const struct fileid *mark,
	    const struct openentry *v, size_t n, struct build_left *left,
	    struct fail *f)
{
	int lockfd = roamdir_lock(dirfd, dir, ROAM_BUILD_LOCK, ROAM_LOCK_MS, f),
	    r = 0;

	if (lockfd == -1)
		return -1;
	if (!built(dirfd, lockfd, mark) || listindex_due(dirfd, mark) ||
	    !build_has(dirfd, v, n))
		r = compile(dirfd, lockfd, left, f);
	close(lockfd);
	return r;
}

/* A build, whatever the last one read: after lines left the list. */
int
build_now(int dirfd, const char *dir, struct build_left *left, struct fail *f)
{
	int lockfd = roamdir_lock(dirfd, dir, ROAM_BUILD_LOCK, ROAM_LOCK_MS, f),
	    r;

	if (lockfd == -1)
		return -1;
	r = compile(dirfd, lockfd, left, f);
	close(lockfd);
	return r;
}
