/* roamdir.c: the roam directory: its files, its writers' lock, dead writers'
 * temps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/tai.h>

#include "atomicfile.h"
#include "roamdir.h"
#include "stamp.h"

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

/*
 * flock(LOCK_EX) for at most ms milliseconds. A repeating timer interrupts
 * the wait, so a signal that arrives before flock() blocks is not lost.
 */
static int
lock_bounded(int fd, unsigned ms)
{
	struct sigaction sa, old;
	struct itimerval it, oldit;
	tain deadline;
	int r, saved;

	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
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
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	it.it_interval.tv_usec = 10000;
	setitimer(ITIMER_REAL, &it, &oldit);
	for (;;) {
		r = flock(fd, LOCK_EX);
		if (r == 0 || errno != EINTR)
			break;
		tain_now_g();
		if (!tain_less(&STAMP, &deadline)) {
			errno = ETIMEDOUT;
			break;
		}
	}
	saved = errno;
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, 0);
	sigaction(SIGALRM, &old, 0);
	errno = saved;
	return r;
}

/*
 * Removes temp files left by writers killed while holding the lock; call
 * it under the lock, before writing.
 */
void
roamdir_sweep(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	roamdir_sweep_old(dirfd);

	if (fd == -1 || !(d = fdopendir(fd))) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (atomicfile_is_temp(de->d_name, ROAM_LIST) ||
		    atomicfile_is_temp(de->d_name, ROAM_CDB) ||
		    atomicfile_is_temp(de->d_name, ROAM_INDEX))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

/* Removes a replaced cdb kept by a writer that did not live to drop it;
 * cheap enough for every writer, under the lock. */
void
roamdir_sweep_old(int dirfd)
{
	unlinkat(dirfd, ROAM_CDB_OLD, 0);
}

/*
 * Opens (creating it 0600, owned like the directory) and locks the lock
 * file; returns its descriptor. 0600 keeps other local users from taking
 * the lock and stalling every writer.
 */
int
roamdir_lock(int dirfd, const char *dir, unsigned ms, struct fail *f)
{
	struct stat st, dst;
	int fd;

	fd = openat(dirfd, ROAM_LOCK,
		    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		fd = openat(dirfd, ROAM_LOCK,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
				O_NONBLOCK | O_CLOEXEC,
			    0600);
		if (fd != -1 && fstat(dirfd, &dst) == 0 &&
		    fchown(fd, dst.st_uid, dst.st_gid) == -1 &&
		    errno != EPERM) {
			FAILSYS(f, "unable to set owner of ", dir, "/",
				ROAM_LOCK);
			close(fd);
			return -1;
		}
		if (fd == -1 && errno == EEXIST)
			fd = openat(dirfd, ROAM_LOCK,
				    O_RDWR | O_NOFOLLOW | O_NONBLOCK |
					O_CLOEXEC);
	}
	if (fd == -1) {
		FAILSYS(f, "unable to open ", dir, "/", ROAM_LOCK);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "unable to lock ", dir, "/", ROAM_LOCK,
		     ": not a regular file");
		close(fd);
		return -1;
	}
	if (lock_bounded(fd, ms) == -1) {
		if (errno == ETIMEDOUT)
			FAIL(f, 111, "unable to lock ", dir, "/", ROAM_LOCK,
			     ": timed out");
		else
			FAILSYS(f, "unable to lock ", dir, "/", ROAM_LOCK);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * For readers: the lock shared, if the lock file exists and may be read;
 * -1 otherwise (nothing has been written yet, or another user's files).
 */
int
roamdir_lock_shared(int dirfd)
{
	struct stat st;
	int fd = openat(dirfd, ROAM_LOCK,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    flock(fd, LOCK_SH) == -1) {
		close(fd);
		return -1;
	}
	return fd;
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
	size_t cap = 0;
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
	for (;;) {
		ssize_t r;

		if (*len == cap) {
			size_t ncap = cap ? 2 * cap : (size_t)st.st_size + 1;
			char *t = realloc(*text, ncap);

			if (!t)
				break;
			*text = t;
			cap = ncap;
		}
		r = read(fd, *text + *len, cap - *len);
		if (r == 0) {
			close(fd);
			return 0;
		}
		if (r == -1 && errno != EINTR)
			break;
		if (r > 0)
			*len += (size_t)r;
	}
	FAILSYS(f, "unable to read ", name);
	close(fd);
	free(*text);
	*text = 0;
	return -1;
}
