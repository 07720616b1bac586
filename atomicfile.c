/* SPDX-License-Identifier: ISC */
/* atomicfile.c: files replaced whole: temp, write, fsync, rename, dir fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>

#include "atomicfile.h"
#include "roamdir.h"

/*
 * Creates NAME.tmp.PID beside NAME (open for reading too), owned and
 * moded like the NAME it will replace; a new NAME gets the directory's
 * owner and newmode. Callers hold the writers' lock, so an existing temp
 * of that name is a dead writer's.
 */
int
atomicfile_open(struct atomicfile *a, int dirfd, const char *name,
		mode_t newmode, struct fail *f)
{
	struct stat like;
	mode_t mode = newmode;

	*a = (struct atomicfile){.dirfd = dirfd, .fd = -1, .name = name};
	if (fstatat(dirfd, name, &like, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(like.st_mode)) {
			FAIL(f, 111, "refusing to replace ", name,
			     ": not a regular file");
			return -1;
		}
		mode = like.st_mode & 07777;
	} else if (errno != ENOENT || fstat(dirfd, &like) == -1) {
		FAILSYS(f, "unable to stat ", name);
		return -1;
	}
	snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", name, (long)getpid());
	a->fd = roamdir_create(dirfd, a->tmp, O_RDWR, mode, &like);
	if (a->fd == -1 && errno == EEXIST && unlinkat(dirfd, a->tmp, 0) == 0)
		a->fd = roamdir_create(dirfd, a->tmp, O_RDWR, mode, &like);
	if (a->fd == -1) {
		FAILSYS(f, "unable to create ", a->tmp);
		return -1;
	}
	return 0;
}

static void
flush(struct atomicfile *a)
{
	if (!a->err && a->n && allwrite(a->fd, a->buf, a->n) < a->n)
		a->err = errno ? errno : EIO;
	a->n = 0;
}

/* Buffered; the first error is kept and reported by atomicfile_finish. */
void
atomicfile_write(struct atomicfile *a, const char *s, size_t len)
{
	if (len >= sizeof a->buf) {
		flush(a);
		if (!a->err && allwrite(a->fd, s, len) < len)
			a->err = errno ? errno : EIO;
		return;
	}
	if (len > sizeof a->buf - a->n)
		flush(a);
	memcpy(a->buf + a->n, s, len);
	a->n += len;
}

/* Writes out, syncs and closes the temp; on error it is removed. */
int
atomicfile_finish(struct atomicfile *a, struct fail *f)
{
	flush(a);
	if (a->err) {
		errno = a->err;
		FAILSYS(f, "unable to write ", a->tmp);
		atomicfile_abort(a);
		return -1;
	}
	if (!a->nosync && fsync(a->fd) == -1) {
		FAILSYS(f, "unable to sync ", a->tmp);
		atomicfile_abort(a);
		return -1;
	}
	if (close(a->fd) == -1) {
		a->fd = -1;
		FAILSYS(f, "unable to write ", a->tmp);
		unlinkat(a->dirfd, a->tmp, 0);
		return -1;
	}
	a->fd = -1;
	a->ready = 1;
	return 0;
}

/* Renames the finished temp over NAME, then syncs the directory unless a
 * later rename will. */
int
atomicfile_rename(struct atomicfile *a, struct fail *f)
{
	/* Freeing the replaced file's blocks costs about as much as writing
	 * them: held open, it goes at atomicfile_release, after the work that
	 * waits on this one. */
	a->oldfd = openat(a->dirfd, a->name,
			  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	a->hasold = a->oldfd != -1;
	a->ready = 0;
	if (renameat(a->dirfd, a->tmp, a->dirfd, a->name) == -1) {
		FAILSYS(f, "unable to rename ", a->tmp, " to ", a->name);
		unlinkat(a->dirfd, a->tmp, 0);
		return -1;
	}
	if (!a->nosync && !a->nodirsync && fsync(a->dirfd) == -1 &&
	    errno != EINVAL) {
		FAILSYS(f, "unable to sync the directory of ", a->name);
		return -1;
	}
	return 0;
}

/* Removes the temp, open or finished. */
void
atomicfile_abort(struct atomicfile *a)
{
	int saved = errno;

	if (a->fd != -1) {
		close(a->fd);
		a->fd = -1;
		unlinkat(a->dirfd, a->tmp, 0);
	} else if (a->ready) {
		unlinkat(a->dirfd, a->tmp, 0);
	}
	a->ready = 0;
	errno = saved;
}

/* Lets the file the rename replaced go. */
void
atomicfile_release(struct atomicfile *a)
{
	if (a->hasold)
		close(a->oldfd);
	a->hasold = 0;
}

/* Whether a directory entry is a temp file of NAME: NAME.tmp.DIGITS. */
int
atomicfile_is_temp(const char *entry, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (strncmp(entry, name, n) != 0 || strncmp(entry + n, ".tmp.", 5) != 0)
		return 0;
	p = entry + n + 5;
	if (!*p)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}
