/* openlist.c: the open-smtp list: "IP:rule<TAB>epoch" lines, vpopmail's format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "le64.h"
#include "openlist.h"
#include "roamdir.h"
#include "rules.h"
#include "stamp.h"

/* The timestamp after the TAB at cut: 1 to 19 digits. */
static int
parse_ts(const char *line, size_t cut, size_t len, uint64_t *ts)
{
	size_t i;

	*ts = 0;
	/* vpopmail before 5.0 wrote "<TAB><SPACE>epoch"; its atoi skips it. */
	for (i = cut + 1; i < len && line[i] == ' '; i++)
		;
	if (len - i == 0 || len - i > 19)
		return 0;
	for (; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return 0;
		*ts = *ts * 10 + (uint64_t)(line[i] - '0');
	}
	return 1;
}

/*
 * One line without its newline. Returns 1 for an entry, 0 for an empty
 * line, -1 for anything else: no TAB, a timestamp that is not 1 to 19
 * digits, a control byte, an address that is not one IP, or a rule
 * tcprules rejects.
 */
int
openlist_parse_line(const char *line, size_t len, struct openentry *e)
{
	const char *tab;
	size_t cut, colon, i, dlen;
	uint64_t ts;

	memset(e, 0, sizeof *e);
	if (len == 0)
		return 0;
	e->raw = line;
	e->rawlen = len;
	if (!(tab = memchr(line, '\t', len)))
		return -1;
	cut = (size_t)(tab - line);
	if (!parse_ts(line, cut, len, &ts))
		return -1;
	/* vpopmail never writes control bytes: one there means corruption. */
	for (i = 0; i < cut; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return -1;
	colon = rules_split(line, cut);
	if (colon == cut || !ip_canonical(e->ip, line, colon) ||
	    rules_compile(line + colon + 1, cut - colon - 1, 0, &dlen) !=
		RULES_OK) {
		e->ip[0] = '\0';
		return -1;
	}
	e->rule = line + colon + 1;
	e->rulelen = cut - colon - 1;
	e->ts = ts;
	return 1;
}

/*
 * openlist_parse_line, for a line that may end in rule, a rule another
 * line's full parse accepted: then only its address and timestamp are
 * checked. No address that ip_canonical accepts holds ":allow" or
 * ":deny" ('l' and 'n' are not hex digits), so the line splits where the
 * full parse splits it; the address holds no control byte, nor does the
 * rule. Any other line gets the full parse: the result is always its.
 */
static int
parse_same_rule(const char *line, size_t len, struct openentry *e,
		const char *rule, size_t rulelen)
{
	const char *tab = len ? memchr(line, '\t', len) : 0;
	size_t cut = tab ? (size_t)(tab - line) : 0, colon;

	if (!rule || !tab || cut <= rulelen || line[cut - rulelen - 1] != ':' ||
	    memcmp(line + cut - rulelen, rule, rulelen) != 0)
		return openlist_parse_line(line, len, e);
	colon = cut - rulelen - 1;
	memset(e, 0, sizeof *e);
	e->raw = line;
	e->rawlen = len;
	if (!parse_ts(line, cut, len, &e->ts)) {
		e->ts = 0;
		return -1;
	}
	if (!ip_canonical(e->ip, line, colon))
		return openlist_parse_line(line, len, e);
	e->rule = line + colon + 1;
	e->rulelen = rulelen;
	return 1;
}

/* The next non-empty line: 1 for an entry, -1 for a malformed line, 0 at
 * the end. Lines nearly all share one rule, which is checked once. */
int
openlist_next(struct openlist_cursor *c, struct openentry *e)
{
	while (c->pos < c->len) {
		const char *line = c->text + c->pos;
		const char *nl = memchr(line, '\n', c->len - c->pos);
		size_t n = nl ? (size_t)(nl - line) : c->len - c->pos;
		int r;

		c->pos += n + 1;
		c->lineno++;
		r = parse_same_rule(line, n, e, c->rule, c->rulelen);
		if (r == 1) {
			c->rule = e->rule;
			c->rulelen = e->rulelen;
		}
		if (r != 0)
			return r;
	}
	return 0;
}

void
openlist_warn_bad(const char *name, const struct openentry *e, size_t lineno)
{
	char num[24], safe[LOG_SAFE];

	snprintf(num, sizeof num, "%zu", lineno);
	log_sanitize(safe, sizeof safe, e->raw, e->rawlen);
	log_warn(name, " line ", num,
		 ": keeping malformed line out of the rules: ", safe);
}

/*
 * The index: tinycdb records from each address to the offset and length
 * of its line, and one record INDEX_STAMP naming the list it describes
 * (device, inode, size). It is derived data: a stale or damaged index is
 * detected and the list is read instead, so it is written without fsync.
 */
#define INDEX_STAMP "#list"

int
openlist_writer_open(struct openlist_writer *w, int dirfd, struct fail *f)
{
	w->off = 0;
	if (atomicfile_open(&w->list, dirfd, ROAM_LIST, 0644, f) == -1)
		return -1;
	if (atomicfile_open(&w->index, dirfd, ROAM_INDEX, 0644, f) == -1) {
		atomicfile_abort(&w->list);
		return -1;
	}
	w->index.nosync = 1;
	if (cdb_make_start(&w->im, w->index.fd) == -1) {
		FAILSYS(f, "unable to write ", w->index.tmp);
		atomicfile_abort(&w->index);
		atomicfile_abort(&w->list);
		return -1;
	}
	return 0;
}

/* Decimal digits of v and their count; buf has room for 20. */
static size_t
u64_fmt(char *buf, uint64_t v)
{
	char t[20];
	size_t n = 0, i;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		buf[i] = t[n - 1 - i];
	return n;
}

/* A good entry's line in canonical form, with its newline, in buf (room
 * for OPENLIST_LINEMAX); returns its length. */
size_t
openlist_format(char *buf, const struct openentry *e)
{
	size_t n = strlen(e->ip);

	memcpy(buf, e->ip, n);
	buf[n++] = ':';
	memcpy(buf + n, e->rule, e->rulelen);
	n += e->rulelen;
	buf[n++] = '\t';
	n += u64_fmt(buf + n, e->ts);
	buf[n++] = '\n';
	return n;
}

/* Appends a line; a good entry is written in canonical form. */
void
openlist_writer_add(struct openlist_writer *w, const struct openentry *e)
{
	unsigned char val[16];
	char ts[24];
	size_t len, iplen;

	if (!e->ip[0]) {
		atomicfile_write(&w->list, e->raw, e->rawlen);
		atomicfile_write(&w->list, "\n", 1);
		w->off += e->rawlen + 1;
		return;
	}
	iplen = strlen(e->ip);
	atomicfile_write(&w->list, e->ip, iplen);
	atomicfile_write(&w->list, ":", 1);
	atomicfile_write(&w->list, e->rule, e->rulelen);
	ts[0] = '\t';
	len = 1 + u64_fmt(ts + 1, e->ts);
	ts[len] = '\n';
	atomicfile_write(&w->list, ts, len + 1);
	len += iplen + 1 + e->rulelen;
	put64(val, w->off);
	put64(val + 8, len);
	if (cdb_make_add(&w->im, e->ip, (unsigned)iplen, val, sizeof val) ==
		-1 &&
	    !w->index.err)
		w->index.err = errno;
	w->off += len + 1;
}

/* The list is committed first; a failed index only costs speed. */
int
openlist_writer_commit(struct openlist_writer *w, struct fail *f)
{
	unsigned char stamp[24];
	struct stat st;
	struct fail ignored;

	if (fstat(w->list.fd, &st) == -1) {
		FAILSYS(f, "unable to write ", w->list.tmp);
		openlist_writer_abort(w);
		return -1;
	}
	put64(stamp, (uint64_t)st.st_dev);
	put64(stamp + 8, (uint64_t)st.st_ino);
	put64(stamp + 16, w->off);
	fileid_of(&w->id, &st);
	w->id.size = w->off;
	if (atomicfile_commit(&w->list, f) == -1) {
		(void)cdb_make_finish(&w->im);
		atomicfile_abort(&w->index);
		return -1;
	}
	if (cdb_make_add(&w->im, INDEX_STAMP, sizeof INDEX_STAMP - 1, stamp,
			 sizeof stamp) == -1 ||
	    cdb_make_finish(&w->im) == -1) {
		atomicfile_abort(&w->index);
		return 0;
	}
	(void)atomicfile_commit(&w->index, &ignored);
	return 0;
}

void
openlist_writer_abort(struct openlist_writer *w)
{
	(void)cdb_make_finish(&w->im);
	atomicfile_abort(&w->index);
	atomicfile_abort(&w->list);
}

#define LINEMAX 1024 /* longer lines are not refreshed in place */
/* Lines appended after the index was written are read to find one; past
 * this many bytes, the next update writes a new index. */
#define TAILMAX 16384

/*
 * One record of the index, read with a few preads (cdb_seek) rather than
 * a mapping: a single lookup in a large index costs far less that way.
 * 1 found, 0 not there, -1 unreadable.
 */
static int
index_get(int fd, const char *key, unsigned klen, unsigned char *buf,
	  unsigned want)
{
	unsigned dlen;
	int r = cdb_seek(fd, key, klen, &dlen);

	if (r <= 0)
		return r < 0 ? -1 : 0;
	return dlen == want && cdb_bread(fd, buf, (int)want) == 0 ? 1 : -1;
}

/* Where an address's line is: the list open, its timestamp's digits. */
struct place {
	int fd;
	uint64_t tspos, ts;
	size_t tslen;
};
#define UNKNOWN (-1)
#define ABSENT 0
#define LOCATED 1

/* Whether line (of the list, at off) is ip's entry; if so, where. */
static int
is_entry(const char *line, size_t len, uint64_t off, const char *ip,
	 struct place *pl)
{
	struct openentry e;
	const char *tab;

	if (openlist_parse_line(line, len, &e) != 1 || strcmp(e.ip, ip) != 0)
		return 0;
	tab = memchr(line, '\t', len);
	pl->tspos = off + (uint64_t)(tab - line) + 1;
	pl->tslen = (size_t)(len - (size_t)(tab - line) - 1);
	pl->ts = e.ts;
	return 1;
}

/*
 * The lines after the part of the list the index covers (appended since
 * it was written): each address is compared first, the matching line then
 * checked whole.
 */
static int
scan_tail(int fd, const char *ip, uint64_t from, uint64_t to, struct place *pl)
{
	char buf[TAILMAX], canon[IP_FMTLEN];
	size_t n = (size_t)(to - from), pos = 0;

	if (to - from > TAILMAX)
		return UNKNOWN;
	if (n && pread(fd, buf, n, (off_t)from) != (ssize_t)n)
		return UNKNOWN;
	while (pos < n) {
		const char *line = buf + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		const char *tab = memchr(line, '\t', len);

		if (tab) {
			size_t cut = (size_t)(tab - line);
			size_t colon = rules_split(line, cut);

			if (colon < cut && ip_canonical(canon, line, colon) &&
			    strcmp(canon, ip) == 0 &&
			    is_entry(line, len, from + pos, ip, pl))
				return LOCATED;
		}
		pos += len + 1;
	}
	return ABSENT;
}

/*
 * Finds ip's line through the index, checked against the list it names
 * and against the line itself, and among the lines appended since.
 * LOCATED leaves the list open (with flags) in pl; ABSENT means the index
 * and the lines after it show ip is not listed; UNKNOWN that they cannot
 * say.
 */
static int
locate(int dirfd, const char *ip, int flags, struct place *pl)
{
	unsigned char stamp[24], val[16];
	struct stat st;
	char line[LINEMAX];
	uint64_t off, len, covered;
	int ifd, found, r = UNKNOWN;

	ifd = openat(dirfd, ROAM_INDEX,
		     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (ifd == -1)
		return UNKNOWN;
	found = index_get(ifd, INDEX_STAMP, sizeof INDEX_STAMP - 1, stamp,
			  sizeof stamp) == 1
		    ? index_get(ifd, ip, (unsigned)strlen(ip), val, sizeof val)
		    : -1;
	close(ifd);
	if (found == -1)
		return UNKNOWN;
	/* O_NONBLOCK: a FIFO put there must not hang the lookup; fstat
	 * below refuses anything but a regular file. */
	pl->fd = openat(dirfd, ROAM_LIST,
			flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (pl->fd == -1)
		return UNKNOWN;
	covered = get64(stamp + 16);
	if (fstat(pl->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_dev != get64(stamp) ||
	    (uint64_t)st.st_ino != get64(stamp + 8) ||
	    (uint64_t)st.st_size < covered) {
		r = UNKNOWN;
	} else if (found) {
		off = get64(val);
		len = get64(val + 8);
		r = len < sizeof line && off + len <= covered &&
			    pread(pl->fd, line, len, (off_t)off) ==
				(ssize_t)len &&
			    is_entry(line, len, off, ip, pl)
			? LOCATED
			: UNKNOWN;
	} else {
		r = scan_tail(pl->fd, ip, covered, (uint64_t)st.st_size, pl);
	}
	if (r != LOCATED)
		close(pl->fd);
	return r;
}

/* Whether the index shows ip in the list; reads only, takes no lock. */
int
openlist_indexed(int dirfd, const char *ip)
{
	struct place pl;

	if (locate(dirfd, ip, O_RDONLY, &pl) != LOCATED)
		return 0;
	close(pl.fd);
	return 1;
}

/*
 * Under the lock: rewrites ip's timestamp in place, unless it is newer
 * already, when the new one has as many digits (true from 2001 to 2286).
 * Returns 1 if done, 0 if ip is not listed, -1 if the caller must rewrite
 * the list. A crash can only leave the old digits, the new ones, or
 * (across a sector) a mix: a timestamp in between.
 */
int
openlist_touch(int dirfd, const char *ip, uint64_t ts)
{
	struct place pl;
	char digits[24];
	size_t n;
	int r = locate(dirfd, ip, O_RDWR, &pl);

	if (r != LOCATED)
		return r;
	if (ts > pl.ts) {
		n = u64_fmt(digits, ts);
		if (n != pl.tslen ||
		    pwrite(pl.fd, digits, n, (off_t)pl.tspos) != (ssize_t)n)
			r = UNKNOWN;
	}
	close(pl.fd);
	return r;
}

/*
 * Under the lock: appends whole lines (text, one write) to the list, which
 * must still be the file expect names and end with a newline, and syncs
 * it; on failure the list is cut back. Returns 1 with now set, 0 when the
 * list is not that file, -1 on failure.
 */
int
openlist_append(int dirfd, const struct fileid *expect, const char *text,
		size_t len, struct fileid *now, struct fail *f)
{
	struct stat st;
	char last;
	ssize_t w = 0;
	size_t done;
	int fd;

	fd = openat(dirfd, ROAM_LIST,
		    O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_dev != expect->dev ||
	    (uint64_t)st.st_ino != expect->ino ||
	    (uint64_t)st.st_size != expect->size || st.st_size == 0 ||
	    pread(fd, &last, 1, st.st_size - 1) != 1 || last != '\n') {
		close(fd);
		return 0;
	}
	/* Short writes go on until the error that stops them is known. */
	for (done = 0; done < len; done += (size_t)w)
		if ((w = write(fd, text + done, len - done)) <= 0)
			break;
	if (done < len || fsync(fd) == -1 || fstat(fd, &st) == -1) {
		if (done < len && w == 0)
			errno = EIO;
		FAILSYS(f, "unable to write ", ROAM_LIST);
		if (ftruncate(fd, (off_t)expect->size) == 0)
			(void)fsync(fd);
		close(fd);
		return -1;
	}
	fileid_of(now, &st);
	close(fd);
	return 1;
}

/*
 * The journal: a line appended (one write, O_APPEND) by each recorder of
 * a new address before it waits for the lock, so that whoever holds the
 * lock adds them all in one rebuild. Each recorder still checks, under the
 * lock, that its own address made it in.
 */
int
openlist_journal_add(int dirfd, const struct openentry *e, struct fail *f)
{
	char buf[IP_FMTLEN + 4096 + 32];
	struct stat dst;
	int fd, n;

	if (e->rulelen > 4096) {
		FAIL(f, 111, "rule too long");
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%s:%.*s\t%llu\n", e->ip, (int)e->rulelen,
		     e->rule, (unsigned long long)e->ts);
	fd = openat(dirfd, ROAM_JOURNAL,
		    O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		fd = openat(dirfd, ROAM_JOURNAL,
			    O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
				O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd != -1 && fstat(dirfd, &dst) == 0)
			(void)!fchown(fd, dst.st_uid, dst.st_gid);
		if (fd == -1 && errno == EEXIST)
			fd = openat(dirfd, ROAM_JOURNAL,
				    O_WRONLY | O_APPEND | O_NOFOLLOW |
					O_NONBLOCK | O_CLOEXEC);
	}
	if (fd == -1) {
		FAILSYS(f, "unable to open ", ROAM_JOURNAL);
		return -1;
	}
	if (write(fd, buf, (size_t)n) != n) {
		FAILSYS(f, "unable to write ", ROAM_JOURNAL);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Under the lock: moves the journal aside (unless a failed merge left one
 * there), makes it durable if asked, and reads it. Appends that race with
 * the move are lost to this merge only: their recorders merge themselves.
 */
int
openlist_journal_take(int dirfd, int sync, char **text, size_t *len, int *taken,
		      struct fail *f)
{
	int fd;

	*taken = 0;
	*text = 0;
	*len = 0;
	/* Never over a merge that failed: that one goes first. */
	if (renameat2(dirfd, ROAM_JOURNAL, dirfd, ROAM_MERGING,
		      RENAME_NOREPLACE) == -1 &&
	    errno != ENOENT && errno != EEXIST) {
		FAILSYS(f, "unable to rename ", ROAM_JOURNAL);
		return -1;
	}
	fd = openat(dirfd, ROAM_MERGING,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		FAILSYS(f, "unable to open ", ROAM_MERGING);
		return -1;
	}
	if (sync && fsync(fd) == -1) {
		FAILSYS(f, "unable to sync ", ROAM_MERGING);
		close(fd);
		return -1;
	}
	close(fd);
	*taken = 1;
	return roamdir_read(dirfd, ROAM_MERGING, 0, text, len, 0, f);
}

void
openlist_journal_done(int dirfd)
{
	unlinkat(dirfd, ROAM_MERGING, 0);
}
