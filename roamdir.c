/* SPDX-License-Identifier: ISC */
/* roamdir.c: the roam directory: its files, its writers' lock, file
 * creation and reading. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <unistd.h>

#include <skalibs/tai.h>

#include "atomicfile.h"
#include "roamdir.h"

void
fileid_of(struct fileid *id, const struct stat *st)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
}

/* ROAM_DIR, or the default the build chose. */
const char *
roamdir_path(void)
{
	const char *dir = getenv("ROAM_DIR");

	return dir ? dir : ROAM_DIR_DEFAULT;
}

int
roamdir_open(const char *dir, struct fail *f)
{
	int fd;

	if (!dir || !*dir) {
		FAIL(f, 111, "ROAM_DIR is empty");
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		FAILSYS(f, "unable to open directory ", dir);
	return fd;
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* Interrupts a blocked flock every TICK_US (on: 0 stops it), so that a
 * deadline passed before flock() blocked is seen at the next tick. Not
 * shorter: every waiter wakes at each tick (bench/: a burst's waiters
 * woke 9 times a login at 5 ms). */
#define TICK_US 100000
static void
set_timer(int on)
{
	struct itimerval it = {
	    .it_value = {.tv_usec = on ? TICK_US : 0},
	    .it_interval = {.tv_usec = on ? TICK_US : 0},
	};

	setitimer(ITIMER_REAL, &it, 0);
}

/*
 * flock(op: LOCK_EX or LOCK_SH) for at most ms milliseconds (ETIMEDOUT).
 * A repeating timer interrupts the wait, so that a signal that arrives
 * before flock() blocks is not lost.
 */
static int
lock_bounded(int fd, int op, unsigned ms)
{
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	tain deadline;
	int r, saved;

	if (flock(fd, op | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return -1;
	if (ms == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	tain_now_set_stopwatch_g();
	tain_from_millisecs(&deadline, (int)ms);
	tain_add_g(&deadline, &deadline);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	set_timer(1);
	for (;;) {
		r = flock(fd, op);
		if (r == 0 || errno != EINTR)
			break;
		tain_now_g();
		if (!tain_less(&STAMP, &deadline)) {
			errno = ETIMEDOUT;
			break;
		}
	}
	saved = errno;
	set_timer(0);
	sigaction(SIGALRM, &old, 0);
	errno = saved;
	return r;
}

/*
 * Creates name (O_EXCL, never through a link) with mode, owned as like
 * is. Only root can give a file away; another writer keeps its own ids
 * where the kernel refuses. Returns the descriptor, or -1 with errno.
 */
int
roamdir_create(int dirfd, const char *name, int flags, mode_t mode,
	       const struct stat *like)
{
	struct stat st;
	int fd, saved;

	fd = openat(dirfd, name,
		    flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == 0 &&
	    ((st.st_uid == like->st_uid && st.st_gid == like->st_gid) ||
	     fchown(fd, like->st_uid, like->st_gid) == 0 ||
	     (errno == EPERM && geteuid() != 0)) &&
	    fchmod(fd, mode) == 0)
		return fd;
	saved = errno;
	close(fd);
	unlinkat(dirfd, name, 0);
	errno = saved;
	return -1;
}

/* Opens name, or creates it 0600 owned like the directory. */
int
roamdir_open_or_create(int dirfd, const char *name, int flags)
{
	struct stat dst;
	int fd;

	for (int tries = 0; tries < 2; tries++) {
		fd = openat(dirfd, name,
			    flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd != -1 || errno != ENOENT)
			return fd;
		if (fstat(dirfd, &dst) == -1)
			return -1;
		fd =
		    roamdir_create(dirfd, name, flags | O_NONBLOCK, 0600, &dst);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/*
 * Removes the temp files of names (a NULL-terminated list) left by writers
 * killed while holding the lock that guards them; call it under that
 * lock, before writing.
 */
void
roamdir_sweep(int dirfd, const char *const *names)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd == -1 || !(d = fdopendir(fd))) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		for (const char *const *n = names; *n; n++)
			if (atomicfile_is_temp(de->d_name, *n))
				unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

/*
 * Opens (creating it 0600, owned like the directory) and locks the lock
 * file name, waiting at most ms; returns its descriptor, or -1. 0600 keeps
 * other local users from taking the lock and stalling every writer.
 */
int
roamdir_lock(int dirfd, const char *dir, const char *name, unsigned ms,
	     struct fail *f)
{
	struct stat st;
	int fd = roamdir_open_or_create(dirfd, name, O_RDWR);

	if (fd == -1) {
		FAILSYS(f, "unable to open ", dir, "/", name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "unable to lock ", dir, "/", name,
		     ": not a regular file");
		close(fd);
		return -1;
	}
	if (lock_bounded(fd, LOCK_EX, ms) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		if (errno == ETIMEDOUT)
			FAIL(f, 111, "unable to lock ", dir, "/", name,
			     ": timed out");
		else
			FAILSYS(f, "unable to lock ", dir, "/", name);
		return -1;
	}
	return fd;
}

/* flock(op) for at most ms milliseconds, -1 with ETIMEDOUT after. */
int
roamdir_flock(int fd, int op, unsigned ms)
{
	return lock_bounded(fd, op, ms);
}

/* Reads fd to its end into *text (st_size bytes expected); -1 with errno. */
static int
read_all(int fd, size_t expect, char **text, size_t *len)
{
	size_t cap = 0;

	for (;;) {
		ssize_t r;

		if (*len == cap) {
			size_t ncap = cap ? 2 * cap : expect + 1;
			char *t = realloc(*text, ncap);

			if (!t)
				return -1;
			*text = t;
			cap = ncap;
		}
		r = read(fd, *text + *len, cap - *len);
		if (r == 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
		if (r > 0)
			*len += (size_t)r;
	}
}

/*
 * Reads a whole regular file of the directory; a missing one reads as
 * empty (text NULL). follow says whether a symbolic link may be followed.
 * id, if not NULL, gets the file's identity (all zero if missing).
 */
int
roamdir_read(int dirfd, const char *name, int follow, char **text, size_t *len,
	     struct fileid *id, struct fail *f)
{
	struct stat st;
	int fd;

	*text = 0;
	*len = 0;
	if (id)
		memset(id, 0, sizeof *id);
	fd = openat(dirfd, name,
		    O_RDONLY | O_NONBLOCK | O_CLOEXEC |
			(follow ? 0 : O_NOFOLLOW));
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP && !follow)
			FAIL(f, 111, "refusing to read ", name,
			     ": it is a symbolic link");
		else
			FAILSYS(f, "unable to open ", name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "refusing to read ", name, ": not a regular file");
		close(fd);
		return -1;
	}
	if (id)
		fileid_of(id, &st);
	if (read_all(fd, (size_t)st.st_size, text, len) == -1) {
		FAILSYS(f, "unable to read ", name);
		free(*text);
		*text = 0;
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
