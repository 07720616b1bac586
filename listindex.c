/* SPDX-License-Identifier: ISC */
/* listindex.c: open-smtp.index, where each address's line is in the list up
 * to the size it was written for; lines appended since are read on a miss. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "le64.h"
#include "listindex.h"
#include "openlist.h"

/*
 * A tinycdb file: each address maps to the offset and length of its first
 * line (16 bytes), and the key STAMP to the device, inode and size of the
 * list it describes (24 bytes): the whole lines up to that size. Lines
 * appended since (the tail) are read on a miss. It is derived data,
 * checked against the list and the line whenever it is read, so it is
 * written without fsync; the builder writes it anew when it is missing,
 * names another list, or the tail passes 1/256 of the list: a miss reads
 * the tail under the lock, so it must stay short (at 1,000,000 lines,
 * about 4,000 lines), while the index costs as much to write as the cdb.
 */
#define STAMP "#list"
#define TAIL_PART 256

/* The list the index names, through its file descriptor (a few preads). */
static int
stamp_of(int ifd, struct fileid *id)
{
	unsigned char v[24];
	unsigned dlen;

	if (cdb_seek(ifd, STAMP, sizeof STAMP - 1, &dlen) <= 0 ||
	    dlen != sizeof v || cdb_bread(ifd, v, sizeof v) != 0)
		return 0;
	*id = (struct fileid){
	    .dev = get64(v), .ino = get64(v + 8), .size = get64(v + 16)};
	return 1;
}

/* Whether the list's index covers it up to size, where size >= the
 * covered part (a list cut short since is not the same list). */
static int
covers(const struct fileid *stamp, const struct fileid *list)
{
	return stamp->dev == list->dev && stamp->ino == list->ino &&
	       stamp->size <= list->size;
}

/* Whether the builder should write the index anew for list (the whole
 * lines read, or the part a writer needs covered). */
int
listindex_due(int dirfd, const struct fileid *list)
{
	struct fileid stamp;
	int ifd = openat(dirfd, ROAM_INDEX,
			 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int ok = ifd != -1 && stamp_of(ifd, &stamp) && stamp.dev == list->dev &&
		 stamp.ino == list->ino;

	if (ifd != -1)
		close(ifd);
	return !ok || (stamp.size < list->size &&
		       list->size - stamp.size > list->size / TAIL_PART);
}

int
listindex_open(struct listindex_writer *w, int dirfd, struct fail *f)
{
	if (atomicfile_open(&w->a, dirfd, ROAM_INDEX, 0644, f) == -1)
		return -1;
	w->a.nosync = 1;
	if (cdb_make_start(&w->cm, w->a.fd) == -1) {
		FAILSYS(f, "unable to write ", w->a.tmp);
		atomicfile_abort(&w->a);
		return -1;
	}
	return 0;
}

void
listindex_add(struct listindex_writer *w, const char *ip, uint64_t off,
	      uint64_t len)
{
	unsigned char val[16];

	put64(val, off);
	put64(val + 8, len);
	if (cdb_make_add(&w->cm, ip, (unsigned)strlen(ip), val, sizeof val) ==
		-1 &&
	    !w->a.err)
		w->a.err = errno;
}

/* Once every line is added: the index names the list it covers. */
void
listindex_finish(struct listindex_writer *w, const struct fileid *list)
{
	unsigned char stamp[24];
	struct fail ignored;
	int bad;

	put64(stamp, list->dev);
	put64(stamp + 8, list->ino);
	put64(stamp + 16, list->size);
	bad = cdb_make_add(&w->cm, STAMP, sizeof STAMP - 1, stamp,
			   sizeof stamp) == -1;
	if (cdb_make_finish(&w->cm) == -1 || bad) {
		atomicfile_abort(&w->a);
		return;
	}
	(void)atomicfile_finish(&w->a, &ignored);
}

/* After the cdb's rename; without an index, lookups read the whole list. */
void
listindex_rename(struct listindex_writer *w)
{
	struct fail ignored;

	if (w->a.ready)
		(void)atomicfile_rename(&w->a, &ignored);
	atomicfile_release(&w->a);
}

void
listindex_abort(struct listindex_writer *w)
{
	/* tinycdb frees its tables only in cdb_make_finish. */
	(void)cdb_make_finish(&w->cm);
	atomicfile_abort(&w->a);
}

/* x is listed at off, its line e: where its timestamp's digits are. */
static void
place(struct found *x, uint64_t off, const struct openentry *e)
{
	const char *tab = memchr(e->raw, '\t', e->rawlen);
	size_t p = (size_t)(tab - e->raw) + 1;

	while (p < e->rawlen && e->raw[p] == ' ')
		p++;
	x->listed = 1;
	x->tspos = off + p;
	x->tslen = e->rawlen - p;
	x->ts = e->ts;
}

/* 1 if the index's answer for x holds (x placed if listed), 0 if the
 * index does not match the list. A few preads (cdb_seek): cheaper than
 * mapping a large index for a few lookups. */
static int
lookup(int ifd, int lfd, uint64_t size, struct found *x)
{
	char line[OPENLIST_LINEMAX + 1];
	unsigned char v[16];
	struct openentry e;
	uint64_t off, len;
	unsigned dlen;
	int r = cdb_seek(ifd, x->ip, (unsigned)strlen(x->ip), &dlen);

	if (r <= 0)
		return r == 0;
	if (dlen != sizeof v || cdb_bread(ifd, v, sizeof v) != 0)
		return 0;
	off = get64(v);
	len = get64(v + 8);
	if (len >= sizeof line - 1 || off + len >= size ||
	    pread(lfd, line, len + 1, (off_t)off) != (ssize_t)len + 1 ||
	    line[len] != '\n' ||
	    openlist_parse_line(line, len, &e) != LINE_ENTRY ||
	    strcmp(e.ip, x->ip) != 0)
		return 0;
	place(x, off, &e);
	return 1;
}

/* The index's answers for each of v; 0 if it does not cover the list,
 * else the size it covers. */
static uint64_t
indexed(int dirfd, int lfd, const struct fileid *list, struct found *v,
	size_t n)
{
	struct fileid stamp;
	uint64_t from = 0;
	int ifd = openat(dirfd, ROAM_INDEX,
			 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (ifd == -1)
		return 0;
	if (stamp_of(ifd, &stamp) && covers(&stamp, list)) {
		from = stamp.size;
		for (size_t i = 0; from && i < n; i++)
			if (!lookup(ifd, lfd, list->size, &v[i]))
				from = 0;
	}
	close(ifd);
	return from;
}

static int
by_ip(const void *key, const void *member)
{
	return strcmp(key, ((const struct found *)member)->ip);
}

/* The bytes [from, to) of fd, in a new buffer. */
static char *
read_range(int fd, uint64_t from, uint64_t to)
{
	size_t len = (size_t)(to - from), got = 0;
	char *text = malloc(len);

	while (text && got < len) {
		ssize_t r =
		    pread(fd, text + got, len - got, (off_t)(from + got));

		if (r <= 0 && !(r == -1 && errno == EINTR)) {
			if (r == 0)
				errno = EIO;
			free(text);
			return 0;
		}
		if (r > 0)
			got += (size_t)r;
	}
	return text;
}

/* The lines from from on, each looked for among v (sorted by address):
 * the first line of an address that the index did not place is its. */
static int
scan(int lfd, uint64_t from, uint64_t size, struct found *v, size_t n,
     struct fail *f)
{
	struct openlist_cursor c = {.len = (size_t)(size - from)};
	struct openentry e;
	struct found *x;
	char *text;

	if (from >= size)
		return 0;
	if (!(text = read_range(lfd, from, size))) {
		FAILSYS(f, "unable to read ", ROAM_LIST);
		return -1;
	}
	c.text = text;
	while (openlist_next(&c, &e) != LINE_EMPTY)
		if (e.ip[0] && n &&
		    (x = bsearch(e.ip, v, n, sizeof *v, by_ip)) && !x->listed)
			place(x, from + (uint64_t)(e.raw - text), &e);
	free(text);
	return 0;
}

/*
 * Under the writers' lock: each of v (sorted by address, no two alike)
 * placed if listed in the list open as lfd: through the index for the
 * part it covers, then by reading the rest. An index that does not match
 * the list, or a line that is not what it says, means reading it all:
 * then 1, the list is not the one the last build indexed (another
 * program wrote it, or the index is gone).
 */
int
listindex_find(int dirfd, int lfd, struct found *v, size_t n, struct fail *f)
{
	struct fileid list;
	struct stat st;
	uint64_t from;

	if (n == 0)
		return 0;
	if (fstat(lfd, &st) == -1) {
		FAILSYS(f, "unable to stat ", ROAM_LIST);
		return -1;
	}
	fileid_of(&list, &st);
	for (size_t i = 0; i < n; i++)
		v[i].listed = 0;
	if (!(from = indexed(dirfd, lfd, &list, v, n)))
		for (size_t i = 0; i < n; i++)
			v[i].listed = 0;
	if (scan(lfd, from, list.size, v, n, f) == -1)
		return -1;
	return !from && list.size;
}

/*
 * Under the writers' lock: x's timestamp rewritten in place, unless it is
 * later already, when the new one has as many digits (true from 2001 to
 * 2286): 1 when it has not (the caller rewrites the list). A crash can
 * only leave the old digits, the new ones or, across a sector, a mix: a
 * timestamp in between.
 */
int
listindex_refresh(int lfd, struct found *x, uint64_t ts, struct fail *f)
{
	char digits[24];
	size_t n;

	if (ts <= x->ts)
		return 0;
	n = (size_t)snprintf(digits, sizeof digits, "%llu",
			     (unsigned long long)ts);
	if (n != x->tslen)
		return 1;
	if (pwrite(lfd, digits, n, (off_t)x->tspos) != (ssize_t)n) {
		if (errno == 0)
			errno = EIO;
		FAILSYS(f, "unable to write ", ROAM_LIST);
		return -1;
	}
	x->ts = ts;
	return 0;
}
