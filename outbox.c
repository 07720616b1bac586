/* SPDX-License-Identifier: ISC */
/* outbox.c: open-smtp.outbox, this host's logins and closes waiting for
 * roamsync to pass them on to the other hosts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digits.h"
#include "outbox.h"
#include "roamdir.h"

/* How many times a writer opens the outbox again when roamsync has just
 * taken it; the last time it writes to what it holds. */
#define APPEND_TRIES 4

enum where { WRITE_HERE, OPEN_AGAIN, NOT_REGULAR, STAT_FAILED };

/*
 * Whether fd, opened by the outbox's name, is still the outbox. roamsync
 * swaps an empty file in (RENAME_EXCHANGE), then takes an exclusive lock
 * on the old one before it reads it. A writer that gets a shared lock and
 * finds the name still on its file writes before roamsync reads; one that
 * finds the lock taken or the name moved opens the new outbox.
 */
static enum where
where_to(int fd, const char *path, int last)
{
	struct stat mine, named;

	if (fstat(fd, &mine) == -1)
		return STAT_FAILED;
	if (!S_ISREG(mine.st_mode))
		return NOT_REGULAR;
	if (last)
		return WRITE_HERE;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK)
		return OPEN_AGAIN;
	if (lstat(path, &named) == -1 || named.st_dev != mine.st_dev ||
	    named.st_ino != mine.st_ino)
		return OPEN_AGAIN;
	return WRITE_HERE;
}

/* One write of the line, synced if asked; fd is closed. */
static enum outbox_status
put(int fd, const char *line, size_t n, int sync, struct fail *f)
{
	ssize_t w = write(fd, line, n);

	if (w != (ssize_t)n || (sync && fsync(fd) == -1)) {
		if (w >= 0 && w != (ssize_t)n)
			errno = EIO;
		FAILSYS(f, "unable to write ", ROAM_OUTBOX);
		close(fd);
		return OUTBOX_FAILED;
	}
	if (close(fd) == -1) {
		FAILSYS(f, "unable to write ", ROAM_OUTBOX);
		return OUTBOX_FAILED;
	}
	return OUTBOX_APPENDED;
}

/*
 * Appends one line with one O_APPEND write, only if the outbox exists
 * (roamsync makes it): otherwise this costs one failed open.
 */
static enum outbox_status
append(const char *dir, const char *line, size_t n, int sync, struct fail *f)
{
	char path[PATH_MAX];
	int len = snprintf(path, sizeof path, "%s/%s", dir, ROAM_OUTBOX);

	if (len < 0 || (size_t)len >= sizeof path) {
		FAIL(f, 111, "unable to open ", ROAM_OUTBOX, ": name too long");
		return OUTBOX_FAILED;
	}
	for (int i = 0; i < APPEND_TRIES; i++) {
		int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW |
					O_NONBLOCK | O_CLOEXEC);
		enum where w;

		if (fd == -1 && errno == ENOENT)
			return OUTBOX_NONE;
		if (fd == -1) {
			FAILSYS(f, "unable to open ", ROAM_OUTBOX);
			return OUTBOX_FAILED;
		}
		w = where_to(fd, path, i == APPEND_TRIES - 1);
		if (w == WRITE_HERE)
			return put(fd, line, n, sync, f);
		if (w == NOT_REGULAR)
			FAIL(f, 111, "refusing to write ", ROAM_OUTBOX,
			     ": not a regular file");
		else if (w == STAT_FAILED)
			FAILSYS(f, "unable to stat ", ROAM_OUTBOX);
		close(fd);
		if (w != OPEN_AGAIN)
			return OUTBOX_FAILED;
	}
	return OUTBOX_NONE; /* not reached */
}

/* The time of an event, by this host's clock, in milliseconds: events
 * of one second on two hosts are ordered. */
uint64_t
outbox_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether a login's account can go in a line: 1 to ACCOUNT_MAX bytes,
 * none a control byte. */
static int
account_fits(const char *a, size_t len)
{
	if (!a || len == 0 || len > ACCOUNT_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f)
			return 0;
	return 1;
}

/* "+IP<TAB>SECONDS.MMM" for a login, then "<TAB>ACCOUNT" if it has one
 * that fits; "-IP..." for a close; and a newline. */
size_t
outbox_format(char buf[OUTBOX_LINEMAX], enum outbox_kind k, const char *ip,
	      const char *account, size_t alen, uint64_t ms)
{
	int n =
	    snprintf(buf, OUTBOX_LINEMAX, "%c%s\t%llu.%03u",
		     k == OUTBOX_CLOSE ? '-' : '+', ip,
		     (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
	size_t len;

	if (n <= 0 || n >= OUTBOX_LINEMAX - 1)
		return 0;
	len = (size_t)n;
	if (k == OUTBOX_LOGIN && account_fits(account, alen) &&
	    len + 2 + alen <= OUTBOX_LINEMAX) {
		buf[len++] = '\t';
		memcpy(buf + len, account, alen);
		len += alen;
	}
	buf[len++] = '\n';
	return len;
}

/* A login, once answered, with its account if known. Not synced:
 * roamsync also passes on the whole list each time it connects. */
enum outbox_status
outbox_add_login(const char *dir, const char *ip, const char *account,
		 size_t alen, uint64_t ms, struct fail *f)
{
	char buf[OUTBOX_LINEMAX];

	return append(dir, buf,
		      outbox_format(buf, OUTBOX_LOGIN, ip, account, alen, ms),
		      0, f);
}

/* A close (clearopensmtp -d), synced. */
enum outbox_status
outbox_add_close(const char *dir, const char *ip, uint64_t ms, struct fail *f)
{
	char buf[OUTBOX_LINEMAX];

	return append(dir, buf, outbox_format(buf, OUTBOX_CLOSE, ip, 0, 0, ms),
		      1, f);
}

/* "SECONDS" or "SECONDS.MMM" in milliseconds, all of s; a time past
 * UINT64_MAX ms is UINT64_MAX. */
static int
scan_time(const char *s, size_t len, uint64_t *ms)
{
	const char *dot = memchr(s, '.', len);
	size_t whole = dot ? (size_t)(dot - s) : len;
	uint64_t secs, frac = 0;

	if (!digits_scan(s, whole, 19, &secs) ||
	    (dot && !digits_scan(dot + 1, len - whole - 1, 3, &frac)) ||
	    (dot && len - whole - 1 != 3))
		return 0;
	*ms =
	    secs > (UINT64_MAX - frac) / 1000 ? UINT64_MAX : secs * 1000 + frac;
	return 1;
}

/*
 * One line without its newline: "+IP<TAB>time", then "<TAB>ACCOUNT" for
 * a login (ev->account points into the line), or "-IP<TAB>time"; a
 * login's list line, as earlier versions wrote it, in whole seconds. An
 * address that is also a prefix to tcpserver (ip_alone) is refused.
 */
enum outbox_kind
outbox_parse_line(const char *line, size_t len, struct outbox_event *ev)
{
	struct openentry e;
	const char *tab, *end;
	enum outbox_kind k = OUTBOX_BAD;

	*ev = (struct outbox_event){0};
	if (len == 0)
		return OUTBOX_EMPTY;
	if (line[0] != '-' && line[0] != '+') {
		if (openlist_parse_line(line, len, &e) == LINE_ENTRY) {
			memcpy(ev->ip, e.ip, sizeof ev->ip);
			ev->ms =
			    e.ts > UINT64_MAX / 1000 ? UINT64_MAX : e.ts * 1000;
			k = OUTBOX_LOGIN;
		}
	} else if ((tab = memchr(line, '\t', len)) &&
		   ip_canonical(ev->ip, line + 1, (size_t)(tab - line) - 1)) {
		size_t rest = len - (size_t)(tab - line) - 1;

		end = memchr(tab + 1, '\t', rest);
		if (end && line[0] == '+' &&
		    account_fits(end + 1, (size_t)(line + len - end - 1))) {
			ev->account = end + 1;
			ev->alen = (size_t)(line + len - end - 1);
			rest = (size_t)(end - tab - 1);
		}
		if ((!end || ev->account) && scan_time(tab + 1, rest, &ev->ms))
			k = line[0] == '-' ? OUTBOX_CLOSE : OUTBOX_LOGIN;
	}
	if (k == OUTBOX_BAD || !ip_alone(ev->ip)) {
		*ev = (struct outbox_event){0};
		return OUTBOX_BAD;
	}
	return k;
}

/* Makes the outbox (0600, owned like the directory) if it is missing. */
int
outbox_create(int dirfd, struct fail *f)
{
	struct stat dst;
	int fd;

	if (fstat(dirfd, &dst) == -1) {
		FAILSYS(f, "unable to stat the directory");
		return -1;
	}
	fd = roamdir_create(dirfd, ROAM_OUTBOX, O_RDONLY, 0600, &dst);
	if (fd == -1 && errno != EEXIST) {
		FAILSYS(f, "unable to create ", ROAM_OUTBOX);
		return -1;
	}
	if (fd != -1)
		close(fd);
	return 0;
}

/*
 * Swaps an empty file, owned and moded like the outbox, in for the
 * outbox: the name never goes missing, so no writer finds it absent.
 * 1 done, 0 nothing to take.
 */
static int
swap(int dirfd, struct fail *f)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, ROAM_OUTBOX, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT) {
			FAILSYS(f, "unable to stat ", ROAM_OUTBOX);
			return -1;
		}
		return outbox_create(dirfd, f) == -1 ? -1 : 0;
	}
	if (!S_ISREG(st.st_mode)) {
		FAIL(f, 111, "refusing to read ", ROAM_OUTBOX,
		     ": not a regular file");
		return -1;
	}
	if (st.st_size == 0)
		return 0;
	fd = roamdir_create(dirfd, ROAM_SENDING, O_RDONLY, st.st_mode & 07777,
			    &st);
	if (fd == -1) {
		FAILSYS(f, "unable to create ", ROAM_SENDING);
		return -1;
	}
	close(fd);
	if (renameat2(dirfd, ROAM_OUTBOX, dirfd, ROAM_SENDING,
		      RENAME_EXCHANGE) == -1) {
		FAILSYS(f, "unable to swap ", ROAM_OUTBOX);
		unlinkat(dirfd, ROAM_SENDING, 0);
		return -1;
	}
	return 1;
}

/* Waits for the writers that found open-smtp.outbox.sending still named
 * the outbox, and holds their lock: their lines are in it by then. */
static void
wait_writers(int dirfd)
{
	int fd = openat(dirfd, ROAM_SENDING,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1)
		return;
	if (roamdir_flock(fd, LOCK_EX, ROAM_LOCK_MS) == -1)
		log_warn("unable to lock ", ROAM_SENDING,
			 ": reading it anyway: ", strerror(errno));
	close(fd);
}

/* open-smtp.outbox.sending opened for r. */
static int
open_taken(int dirfd, struct outbox_reader *r, struct fail *f)
{
	struct stat st;

	r->fd = openat(dirfd, ROAM_SENDING,
		       O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd == -1) {
		if (errno == ELOOP)
			FAIL(f, 111, "refusing to read ", ROAM_SENDING,
			     ": it is a symbolic link");
		else
			FAILSYS(f, "unable to open ", ROAM_SENDING);
		return -1;
	}
	if (fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "refusing to read ", ROAM_SENDING,
		     ": not a regular file");
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	return 1;
}

/*
 * The lines to push: those of open-smtp.outbox.sending left by a run that
 * did not push them (they go first), or else the outbox's, taken by a
 * swap. 1 and r open to read them with outbox_next, 0 if there is
 * nothing; outbox_done once they are all pushed.
 */
int
outbox_take(int dirfd, struct outbox_reader *r, struct fail *f)
{
	struct stat st;

	r->fd = -1;
	r->eof = r->skip = 0;
	r->pos = r->len = r->lineno = 0;
	if (fstatat(dirfd, ROAM_SENDING, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		int s;

		if (errno != ENOENT) {
			FAILSYS(f, "unable to stat ", ROAM_SENDING);
			return -1;
		}
		if ((s = swap(dirfd, f)) <= 0)
			return s;
	}
	wait_writers(dirfd);
	return open_taken(dirfd, r, f);
}

/* More of the file into r's buffer, after what it holds. */
static int
fill(struct outbox_reader *r, struct fail *f)
{
	ssize_t n;

	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	do
		n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		FAILSYS(f, "unable to read ", ROAM_SENDING);
		return -1;
	}
	r->eof = n == 0;
	r->len += (size_t)n;
	return 0;
}

/*
 * The next line of the taken outbox, without its newline: 1, or 0 at its
 * end. A line longer than the buffer is given cut (it is malformed), and
 * the rest of it skipped.
 */
int
outbox_next(struct outbox_reader *r, const char **line, size_t *len,
	    struct fail *f)
{
	for (;;) {
		char *start = r->buf + r->pos,
		     *nl = memchr(start, '\n', r->len - r->pos);
		size_t n = nl ? (size_t)(nl - start) : r->len - r->pos;
		int skip = r->skip;

		if (nl || (r->eof && n) || n == sizeof r->buf) {
			r->pos += n + (nl ? 1 : 0);
			r->skip = !nl;
			if (skip)
				continue;
			r->lineno++;
			*line = start;
			*len = n;
			return 1;
		}
		if (r->eof)
			return 0;
		if (fill(r, f) == -1)
			return -1;
	}
}

/* Done with the taken outbox; removed once all its lines are in the
 * database (pushed), else kept, to be pushed whole next time. */
void
outbox_done(int dirfd, struct outbox_reader *r, int pushed)
{
	if (r->fd != -1 && pushed)
		unlinkat(dirfd, ROAM_SENDING, 0);
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
}
