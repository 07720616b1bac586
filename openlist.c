/* openlist.c: the open-smtp list: "IP:rule<TAB>epoch" lines, vpopmail's format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openlist.h"
#include "roamdir.h"
#include "rules.h"

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
	uint64_t ts = 0;

	memset(e, 0, sizeof *e);
	if (len == 0)
		return 0;
	e->raw = line;
	e->rawlen = len;
	if (!(tab = memchr(line, '\t', len)))
		return -1;
	cut = (size_t)(tab - line);
	/* vpopmail before 5.0 wrote "<TAB><SPACE>epoch"; its atoi skips it. */
	for (i = cut + 1; i < len && line[i] == ' '; i++)
		;
	if (len - i == 0 || len - i > 19)
		return -1;
	for (; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		ts = ts * 10 + (uint64_t)(line[i] - '0');
	}
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

/* The next non-empty line: 1 for an entry, -1 for a malformed line, 0 at
 * the end. */
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
		r = openlist_parse_line(line, n, e);
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

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

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

/*
 * One record of the index, read with a few preads (cdb_seek) rather than
 * a mapping: a single lookup in a large index costs far less that way.
 */
static int
index_get(int fd, const char *key, unsigned klen, unsigned char *buf,
	  unsigned want)
{
	unsigned dlen;

	return cdb_seek(fd, key, klen, &dlen) > 0 && dlen == want &&
	       cdb_bread(fd, buf, (int)want) == 0;
}

/*
 * Finds ip's line through the index, checked against the list it names
 * and against the line itself. Returns the list's descriptor (opened with
 * flags) and where the line's timestamp is, or -1 when the index cannot
 * say.
 */
static int
locate(int dirfd, const char *ip, int flags, uint64_t *tspos, size_t *tslen)
{
	unsigned char stamp[24], val[16];
	struct openentry e;
	struct stat st;
	char line[LINEMAX];
	uint64_t off, len;
	int ifd, fd, ok = 0;

	ifd = openat(dirfd, ROAM_INDEX, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (ifd == -1)
		return -1;
	ok = index_get(ifd, INDEX_STAMP, sizeof INDEX_STAMP - 1, stamp,
		       sizeof stamp) &&
	     index_get(ifd, ip, (unsigned)strlen(ip), val, sizeof val);
	close(ifd);
	if (!ok)
		return -1;
	off = get64(val);
	len = get64(val + 8);
	if (len >= sizeof line)
		return -1;
	fd = openat(dirfd, ROAM_LIST, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_dev != get64(stamp) ||
	    (uint64_t)st.st_ino != get64(stamp + 8) ||
	    (uint64_t)st.st_size != get64(stamp + 16) ||
	    pread(fd, line, len, (off_t)off) != (ssize_t)len ||
	    openlist_parse_line(line, len, &e) != 1 || strcmp(e.ip, ip) != 0) {
		close(fd);
		return -1;
	}
	*tspos = off + (uint64_t)(memchr(line, '\t', len) - (void *)line) + 1;
	*tslen = (size_t)(off + len - *tspos);
	return fd;
}

/* Whether the index shows ip in the list; reads only, takes no lock. */
int
openlist_indexed(int dirfd, const char *ip)
{
	uint64_t tspos;
	size_t tslen;
	int fd = locate(dirfd, ip, O_RDONLY, &tspos, &tslen);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

/*
 * Under the lock: rewrites ip's timestamp in place when the new one has
 * as many digits (true from 2001 to 2286). Returns 1 if done, 0 if the
 * caller must rewrite the list. A crash can only leave the old digits, the
 * new ones, or (across a sector) a mix: a timestamp in between.
 */
int
openlist_refresh(int dirfd, const char *ip, uint64_t ts)
{
	char digits[24];
	uint64_t tspos;
	size_t tslen, n;
	int fd = locate(dirfd, ip, O_RDWR, &tspos, &tslen), r;

	if (fd == -1)
		return 0;
	n = u64_fmt(digits, ts);
	r = n == tslen && pwrite(fd, digits, n, (off_t)tspos) == (ssize_t)n;
	close(fd);
	return r;
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
	fd = openat(dirfd, ROAM_MERGING, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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
	return roamdir_read(dirfd, ROAM_MERGING, 0, text, len, f);
}

void
openlist_journal_done(int dirfd)
{
	unlinkat(dirfd, ROAM_MERGING, 0);
}
