/* listindex.c: open-smtp.index, where each address's line is in the list,
 * so that a login refreshes its timestamp in place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "le64.h"
#include "listindex.h"
#include "openlist.h"

/*
 * A tinycdb file: each address maps to the offset and length of its line
 * (16 bytes), and the key STAMP to the device, inode and size of the list
 * it describes (24 bytes). It is derived data, checked against the list
 * and the line whenever it is read, so it is written without fsync, and a
 * failure to write it only costs the next login a full pass.
 */
#define STAMP "#list"

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

/* Once the list is written: the index names it, ready to follow it into
 * place. */
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

/* After the list's rename; without an index the next login takes a pass. */
void
listindex_rename(struct listindex_writer *w)
{
	struct fail ignored;

	if (w->a.ready)
		(void)atomicfile_rename(&w->a, &ignored);
}

void
listindex_abort(struct listindex_writer *w)
{
	/* tinycdb frees its tables only in cdb_make_finish. */
	(void)cdb_make_finish(&w->cm);
	atomicfile_abort(&w->a);
}

/* One record, read with a few preads (cdb_seek), far cheaper than mapping
 * a large index for one lookup. */
static enum lookup
get(int fd, const char *key, unsigned klen, unsigned char *buf, unsigned want)
{
	unsigned dlen;
	int r = cdb_seek(fd, key, klen, &dlen);

	if (r <= 0)
		return r < 0 ? LOOKUP_UNKNOWN : LOOKUP_ABSENT;
	return dlen == want && cdb_bread(fd, buf, (int)want) == 0
		   ? LOOKUP_FOUND
		   : LOOKUP_UNKNOWN;
}

/* Where an address's line is: the list open, its timestamp's digits. */
struct place {
	int fd;
	uint64_t tspos, ts;
	size_t tslen;
};

/* Whether the line at off, as the index gives it, is ip's entry. */
static int
is_entry(int fd, uint64_t off, uint64_t len, uint64_t size, const char *ip,
	 struct place *pl)
{
	char line[OPENLIST_LINEMAX + 1];
	struct openentry e;
	const char *tab;

	if (len >= sizeof line - 1 || off + len >= size ||
	    pread(fd, line, len + 1, (off_t)off) != (ssize_t)len + 1 ||
	    line[len] != '\n' ||
	    openlist_parse_line(line, len, &e) != LINE_ENTRY ||
	    strcmp(e.ip, ip) != 0)
		return 0;
	tab = memchr(line, '\t', len);
	/* vpopmail's old "<TAB><SPACE>epoch": the digits only. */
	if (tab[1] == ' ')
		tab++;
	pl->tspos = off + (uint64_t)(tab - line) + 1;
	pl->tslen = (size_t)(len - (uint64_t)(tab - line) - 1);
	pl->ts = e.ts;
	return 1;
}

/* Whether the open list is the one the index's stamp names; its size. */
static int
same_list(int fd, const unsigned char *stamp, uint64_t *size)
{
	struct stat st;
	struct fileid have, want = {.dev = get64(stamp),
				    .ino = get64(stamp + 8),
				    .size = get64(stamp + 16)};

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	fileid_of(&have, &st);
	*size = have.size;
	return fileid_same(&have, &want);
}

/* ip's timestamp rewritten in place if ts is later and has as many
 * digits; LOOKUP_UNKNOWN if it cannot be. */
static enum lookup
rewrite(const struct place *pl, uint64_t ts)
{
	char digits[24];
	size_t n;

	if (ts <= pl->ts)
		return LOOKUP_FOUND;
	n = (size_t)snprintf(digits, sizeof digits, "%llu",
			     (unsigned long long)ts);
	if (n != pl->tslen ||
	    pwrite(pl->fd, digits, n, (off_t)pl->tspos) != (ssize_t)n)
		return LOOKUP_UNKNOWN;
	return LOOKUP_FOUND;
}

/*
 * Finds ip's line through the index, checked against the list it names
 * (device, inode and size) and against the line itself. LOOKUP_FOUND
 * leaves the list open (with flags) in pl.
 */
static enum lookup
locate(int dirfd, const char *ip, int flags, struct place *pl)
{
	unsigned char stamp[24], val[16];
	uint64_t size;
	enum lookup found;
	int ifd = openat(dirfd, ROAM_INDEX,
			 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (ifd == -1)
		return LOOKUP_UNKNOWN;
	found = get(ifd, STAMP, sizeof STAMP - 1, stamp, sizeof stamp) ==
			LOOKUP_FOUND
		    ? get(ifd, ip, (unsigned)strlen(ip), val, sizeof val)
		    : LOOKUP_UNKNOWN;
	close(ifd);
	if (found == LOOKUP_UNKNOWN)
		return LOOKUP_UNKNOWN;
	/* O_NONBLOCK: a FIFO put there must not hang the lookup. */
	pl->fd = openat(dirfd, ROAM_LIST,
			flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (pl->fd == -1)
		return LOOKUP_UNKNOWN;
	if (!same_list(pl->fd, stamp, &size) ||
	    (found == LOOKUP_FOUND &&
	     !is_entry(pl->fd, get64(val), get64(val + 8), size, ip, pl)))
		found = LOOKUP_UNKNOWN;
	if (found != LOOKUP_FOUND)
		close(pl->fd);
	return found;
}

/* What the index says of ip; reads only, takes no lock. */
enum lookup
listindex_find(int dirfd, const char *ip)
{
	struct place pl;
	enum lookup r = locate(dirfd, ip, O_RDONLY, &pl);

	if (r == LOOKUP_FOUND)
		close(pl.fd);
	return r;
}

/*
 * Under the lock: rewrites ip's timestamp in place, unless it is newer
 * already, when the new one has as many digits (true from 2001 to 2286).
 * LOOKUP_UNKNOWN when the caller must rewrite the list instead. A crash
 * can only leave the old digits, the new ones, or (across a sector) a
 * mix: a timestamp in between.
 */
enum lookup
listindex_refresh(int dirfd, const char *ip, uint64_t ts)
{
	struct place pl;
	enum lookup r = locate(dirfd, ip, O_RDWR, &pl);

	if (r != LOOKUP_FOUND)
		return r;
	r = rewrite(&pl, ts);
	close(pl.fd);
	return r;
}

/*
 * A merge's many lookups under one lock: the index mapped and the list
 * opened once, where a lookup each would open both (a resync's batch of
 * 4,096 rows cost more than the pass it saved). ok is 0 when either is
 * missing or the index is not the list's: every lookup is then
 * LOOKUP_UNKNOWN.
 */
void
listindex_batch_open(struct listindex_batch *b, int dirfd)
{
	unsigned char stamp[24];

	*b = (struct listindex_batch){.lfd = -1};
	b->ifd = openat(dirfd, ROAM_INDEX,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (b->ifd == -1)
		return;
	if (cdb_init(&b->idx, b->ifd) == -1) {
		close(b->ifd);
		b->ifd = -1;
		return;
	}
	if (cdb_find(&b->idx, STAMP, sizeof STAMP - 1) <= 0 ||
	    cdb_datalen(&b->idx) != sizeof stamp)
		return;
	memcpy(stamp, cdb_getdata(&b->idx), sizeof stamp);
	b->lfd = openat(dirfd, ROAM_LIST,
			O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	b->ok = b->lfd != -1 && same_list(b->lfd, stamp, &b->size);
}

/* As listindex_refresh, through the batch's index and list. */
enum lookup
listindex_batch_refresh(struct listindex_batch *b, const char *ip, uint64_t ts)
{
	struct place pl = {.fd = b->lfd};
	const unsigned char *val;
	int r;

	if (!b->ok)
		return LOOKUP_UNKNOWN;
	r = cdb_find(&b->idx, ip, (unsigned)strlen(ip));
	if (r <= 0)
		return r < 0 ? LOOKUP_UNKNOWN : LOOKUP_ABSENT;
	val = cdb_getdata(&b->idx);
	if (cdb_datalen(&b->idx) != 16 ||
	    !is_entry(b->lfd, get64(val), get64(val + 8), b->size, ip, &pl))
		return LOOKUP_UNKNOWN;
	return ts ? rewrite(&pl, ts) : LOOKUP_FOUND;
}

void
listindex_batch_close(struct listindex_batch *b)
{
	if (b->ifd != -1) {
		cdb_free(&b->idx);
		close(b->ifd);
	}
	if (b->lfd != -1)
		close(b->lfd);
}
