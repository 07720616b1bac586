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

/* A login: its list line. Not synced: roamsync also passes on the whole
 * list each time it connects. */
enum outbox_status
outbox_add_login(const char *dir, const struct openentry *e, struct fail *f)
{
	char buf[OPENLIST_LINEMAX];

	return append(dir, buf, openlist_format(buf, e), 0, f);
}

/* A close (clearopensmtp -d): "-IP<TAB>epoch", synced. */
enum outbox_status
outbox_add_close(const char *dir, const char *ip, uint64_t ts, struct fail *f)
{
	char buf[IP_FMTLEN + 24];
	int n = snprintf(buf, sizeof buf, "-%s\t%llu\n", ip,
			 (unsigned long long)ts);

	return append(dir, buf, (size_t)n, 1, f);
}

/* One line without its newline: a login's list line, or a close. */
enum outbox_kind
outbox_parse_line(const char *line, size_t len, struct outbox_event *ev)
{
	struct openentry e;
	const char *tab;

	*ev = (struct outbox_event){0};
	if (len == 0)
		return OUTBOX_EMPTY;
	if (line[0] != '-') {
		if (openlist_parse_line(line, len, &e) != LINE_ENTRY)
			return OUTBOX_BAD;
		memcpy(ev->ip, e.ip, sizeof ev->ip);
		ev->ts = e.ts;
		return OUTBOX_LOGIN;
	}
	if (!(tab = memchr(line, '\t', len)) ||
	    !ip_canonical(ev->ip, line + 1, (size_t)(tab - line) - 1) ||
	    !digits_scan(tab + 1, len - (size_t)(tab - line) - 1, 19,
			 &ev->ts)) {
		*ev = (struct outbox_event){0};
		return OUTBOX_BAD;
	}
	return OUTBOX_CLOSE;
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

/*
 * The lines to push: those of open-smtp.outbox.sending left by a run that
 * did not push them (they go first), or else the outbox's, taken by a
 * swap. *text is NULL when there is nothing; outbox_done once pushed.
 */
int
outbox_take(int dirfd, char **text, size_t *len, struct fail *f)
{
	struct stat st;

	*text = 0;
	*len = 0;
	if (fstatat(dirfd, ROAM_SENDING, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		int r;

		if (errno != ENOENT) {
			FAILSYS(f, "unable to stat ", ROAM_SENDING);
			return -1;
		}
		if ((r = swap(dirfd, f)) <= 0)
			return r;
	}
	wait_writers(dirfd);
	return roamdir_read(dirfd, ROAM_SENDING, 0, text, len, 0, f);
}

/* Once its lines are in the database. */
void
outbox_done(int dirfd)
{
	unlinkat(dirfd, ROAM_SENDING, 0);
}
